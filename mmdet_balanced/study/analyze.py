"""See what balanced sampling does to a config's training set, before spending GPU time.

    python tools/analyze_sampling.py CONFIG --out-dir DIR [--cfg-options k=v ...] [--register MODULE]
        [--oversample NAME=K ...] [--rfs-thr 0.1] [--hierarchy FILE.json]
        [--sweep [--alphas 0 0.25 0.5 0.75 1] [--lams 0 50 500 5000] [--epochs 5] [--seed 0]]

CONFIG: an MMDetection config, a Detectron2 config (yacs ``.yaml`` or LazyConfig ``.py``), the
name of a dataset registered in Detectron2's ``DatasetCatalog`` (``--register MODULE`` imports
the module that registers it), an Ultralytics ``data.yaml``, or a plain COCO ``.json`` (for
the last two, balanced settings as --cfg-options lam_scale=0.404 ...; no framework needed for
a COCO json). Builds the training dataset exactly as training would
(annotations only, no image decoded), reads the presence matrix once and compares, side by
side: uniform sampling, balanced sampling
(the config's alpha_factor / lam / objective, or the paper's), balanced with
objective='maxmin', the paper's oversampling (--oversample, or the config's factors),
MMDetection's ClassAwareSampler, repeat-factor sampling (ClassBalancedDataset's rule with
threshold --rfs-thr), instance-aware repeat factors (IRFS, --irfs-thr), balanced sampling with
the other count (count='instances' or 'images') and, for Detectron2, RepeatFactorTrainingSampler's rule (fractional
repeats rounded stochastically each epoch; the config's REPEAT_THRESHOLD when it selects that
sampler, else --rfs-thr). For each: expected draws per epoch containing each class and expected
boxes per epoch of each class, max/min ratio and CV of each, share of images drawn less than uniformly and the smallest p*N, expected
distinct images per epoch, background mass. Writes summary.{csv,json}, class_draws.csv and a
bar chart like the paper's Figure 2 (class_draws.png). --sweep adds a grid over alpha_factor and
lam with simulated epochs (sweep.{csv,json}, sweep_heatmaps.png). Epochs are simulated with the
config's draw (draw='systematic' unless the sampler says 'iid'), as the sampler draws them.
"""

import argparse
import csv
import json
import os
import os.path as osp
import sys
import time

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from mmdet_balanced.mmdetection.labels import dataset_classes, distinct_label_matrix
from mmdet_balanced.mmdetection.samplers import oversampling_repeats
from mmdet_balanced.study.analysis import (
    balanced_scheme,
    class_aware_scheme,
    image_repeat_factors,
    irfs_repeats,
    repeat_factor_repeats,
    repeat_scheme,
    simulate_epochs,
    stochastic_repeat_scheme,
    summarize_scheme,
    sweep,
    uniform_scheme,
)
from mmdet_balanced.study.demo_data import FETAL_CLASSES, HIERARCHY

BALANCED_TYPES = ("BalancedQPSampler", "InfiniteBalancedQPSampler")
SOLVE_KEYS = (
    "alpha_factor",
    "lam",
    "lam_scale",
    "objective",
    "background_share",
    "maxmin_eps",
    "solver",
    "count",
)
SUMMARY_KEYS = (
    "max_min_ratio",
    "cv",
    "box_max_min_ratio",
    "box_cv",
    "share_below_uniform",
    "min_p_times_n",
    "distinct_images_per_epoch",
    "coverage",
    "background_mass",
    "labels_per_draw",
)
SIMULATED_KEYS = ("median_epoch_max_min", "p95_epoch_max_min", "simulated_coverage")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        help="config overrides KEY=VALUE (Detectron2: yacs or LazyConfig keys)",
    )
    parser.add_argument(
        "--register",
        action="append",
        metavar="MODULE",
        help="Detectron2: import MODULE first (it registers datasets)",
    )
    parser.add_argument(
        "--oversample",
        nargs="+",
        metavar="NAME=K",
        help="oversampling factors (default: the config's OversamplingSampler "
        "factors, else the paper's cerebellum=2 heart=5 if those exist)",
    )
    parser.add_argument(
        "--rfs-thr",
        type=float,
        default=0.1,
        help="repeat-factor threshold t (classes in < t of the images repeat)",
    )
    parser.add_argument(
        "--irfs-thr",
        type=float,
        default=0.1,
        help="instance-aware repeat-factor (IRFS) threshold t on sqrt(f_img * f_box)",
    )
    parser.add_argument("--hierarchy", help="JSON {class: main class} to group the chart's bars")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--alphas", nargs="+", type=float, default=[0, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--lams", nargs="+", type=float, default=[0, 5, 50, 500, 5000, 50000])
    parser.add_argument("--epochs", type=int, default=5, help="simulated epochs per grid point")
    parser.add_argument(
        "--sim-epochs",
        type=int,
        default=100,
        help="simulated epochs per sampler for the per-epoch balance columns",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def build_training_dataset(cfg):
    """The training dataset as the Runner builds it (annotations only)."""
    from mmdet.registry import DATASETS

    init_default_scope(cfg.get("default_scope", "mmdet"))
    return DATASETS.build(cfg.train_dataloader.dataset)


def mmdet_source(args):
    """Labels, class names and the sampler settings of an MMDetection config."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset = build_training_dataset(cfg)
    sampler_cfg = cfg.train_dataloader.get("sampler", {})
    sampler = dict(
        balanced=sampler_cfg.get("type") in BALANCED_TYPES,
        settings={k: sampler_cfg[k] for k in SOLVE_KEYS if k in sampler_cfg},
        draw=sampler_cfg.get("draw", "systematic"),
        num_samples=sampler_cfg.get("num_samples"),
        factors=(
            dict(sampler_cfg["factors"])
            if sampler_cfg.get("type") == "OversamplingSampler"
            else None
        ),
    )
    labels = distinct_label_matrix(dataset, count="instances")
    if len(dataset) != labels.shape[0]:  # RepeatDataset / ClassBalancedDataset copies
        print(
            f"note: the training dataset ({type(dataset).__name__}) has {len(dataset)} "
            f"indices for {labels.shape[0]} distinct images; the tables count distinct "
            "images (an epoch of the wrapper is several passes over them)"
        )
    return labels, list(dataset_classes(dataset)), sampler, []


def is_ultralytics_source(path):
    """An Ultralytics data.yaml: top-level ``names`` and ``train``, no Detectron2 ``MODEL``."""
    if not (osp.isfile(path) and path.endswith((".yaml", ".yml"))):
        return False
    import yaml

    with open(path) as handle:
        content = yaml.safe_load(handle)
    return (
        isinstance(content, dict)
        and {"names", "train"} <= set(content)
        and ("MODEL" not in content)
    )


def ultralytics_source(args):
    """Labels and class names of an Ultralytics data.yaml's train split, as YOLO training
    builds it (label cache included); balanced settings from --cfg-options (e.g.
    lam_scale=0.404 draw=iid), as ``balanced_trainer(**settings)`` takes them."""
    from ultralytics.cfg import get_cfg
    from ultralytics.data.build import build_yolo_dataset
    from ultralytics.data.utils import check_det_dataset

    from mmdet_balanced.ultralytics import labels_from_yolo_dataset

    options = dict(args.cfg_options or {})
    unknown = sorted(set(options) - set(SOLVE_KEYS) - {"draw"})
    if unknown:
        raise SystemExit(
            f"--cfg-options {unknown}: for a data.yaml they are the balanced "
            f"settings {list(SOLVE_KEYS) + ['draw']}"
        )
    data = check_det_dataset(args.config)
    dataset = build_yolo_dataset(get_cfg(overrides=dict(imgsz=64)), data["train"], 16, data)
    names = [data["names"][i] for i in range(len(data["names"]))]
    sampler = dict(
        balanced=True,
        settings={k: v for k, v in options.items() if k != "draw"},
        draw=options.get("draw", "systematic"),
        num_samples=None,
        factors=None,
    )
    return labels_from_yolo_dataset(dataset, len(names), count="instances"), names, sampler, []


def is_coco_json_source(path):
    """A plain COCO json (no framework config)."""
    return osp.isfile(path) and path.endswith(".json")


def coco_json_source(args):
    """Labels and class names of a plain COCO json (images in file order); balanced settings
    from --cfg-options (e.g. lam_scale=0.404 draw=iid count=instances)."""
    from mmdet_balanced import coco_class_names, labels_from_coco

    options = dict(args.cfg_options or {})
    unknown = sorted(set(options) - set(SOLVE_KEYS) - {"draw"})
    if unknown:
        raise SystemExit(
            f"--cfg-options {unknown}: for a COCO json they are the balanced "
            f"settings {list(SOLVE_KEYS) + ['draw']}"
        )
    sampler = dict(
        balanced=True,
        settings={k: v for k, v in options.items() if k != "draw"},
        draw=options.get("draw", "systematic"),
        num_samples=None,
        factors=None,
    )
    counts, _ = labels_from_coco(args.config, count="instances")
    return counts, coco_class_names(args.config), sampler, []


def is_detectron2_source(path):
    if not osp.exists(path):
        return True  # a registered dataset name
    if path.endswith((".yaml", ".yml")):
        return True
    with open(path) as handle:
        return "detectron2" in handle.read()  # a LazyConfig imports from detectron2


def detectron2_source(args):
    """Labels, class names and sampler settings of a Detectron2 yacs config, LazyConfig or
    registered dataset name; with Detectron2's repeat-factor rule as an extra scheme."""
    from detectron2.data import get_detection_dataset_dicts

    from mmdet_balanced.detectron2 import SAMPLER_NAME, labels_from_dataset_dicts
    from mmdet_balanced.detectron2.config import (
        balanced_settings_from_config,
        num_classes_from_config,
        thing_classes,
        train_dataset_dicts,
    )
    from mmdet_balanced.detectron2.datasets import import_registration, register_fetal_demo

    for module in args.register or []:
        import_registration(module)
    register_fetal_demo()
    options = args.cfg_options or {}
    sampler = dict(balanced=False, settings={}, draw="systematic", num_samples=None, factors=None)
    threshold, root_sqrt, num_classes = args.rfs_thr, True, None
    if not osp.exists(args.config):  # a dataset name
        names = [args.config]
        dicts = get_detection_dataset_dicts(names)
    elif args.config.endswith((".yaml", ".yml")):
        from detectron2.config import get_cfg

        from mmdet_balanced.detectron2 import add_balanced_config

        cfg = add_balanced_config(get_cfg())
        cfg.merge_from_file(args.config)
        cfg.merge_from_list([item for pair in options.items() for item in pair])
        names = list(cfg.DATASETS.TRAIN)
        dicts = train_dataset_dicts(cfg)
        num_classes = num_classes_from_config(cfg)
        if cfg.DATALOADER.SAMPLER_TRAIN == SAMPLER_NAME:
            settings = balanced_settings_from_config(cfg)
            sampler.update(
                balanced=True,
                draw=settings.pop("draw"),
                num_samples=settings.pop("num_samples"),
                settings=settings,
            )
        if cfg.DATALOADER.SAMPLER_TRAIN == "RepeatFactorTrainingSampler":
            threshold, root_sqrt = cfg.DATALOADER.REPEAT_THRESHOLD, cfg.DATALOADER.REPEAT_SQRT
    else:  # LazyConfig
        from detectron2.config import LazyConfig, instantiate

        cfg = LazyConfig.load(args.config)
        cfg = LazyConfig.apply_overrides(cfg, [f"{k}={v}" for k, v in options.items()])
        train = cfg.dataloader.train
        names = train.dataset.get("names", [])
        names = [names] if isinstance(names, str) else list(names)
        dicts = instantiate(train.dataset)
        node = train.get("sampler") or {}
        target = node.get("_target_", "")
        num_classes = cfg.get("model", {}).get("num_classes")
        if "BalancedTrainingSampler" in getattr(target, "__name__", str(target)):
            sampler.update(
                balanced=True,
                draw=node.get("draw", "systematic"),
                num_samples=node.get("num_samples"),
                settings={k: node[k] for k in SOLVE_KEYS if k in node},
            )
            num_classes = node.get("num_classes", num_classes)
    labels = labels_from_dataset_dicts(dicts, num_classes, count="instances")
    classes = thing_classes(names, labels.shape[1]) or [
        f"class {i}" for i in range(labels.shape[1])
    ]
    extra = [
        stochastic_repeat_scheme(
            "d2_repeat_factor", image_repeat_factors(labels, threshold, root_sqrt)
        )
    ]
    return labels, list(classes), sampler, extra


def schemes_for(labels, classes, sampler, extra, args):
    settings = sampler["settings"] if sampler["balanced"] else {}
    draw = dict(
        draw=sampler["draw"] if sampler["balanced"] else "systematic",
        num_samples=sampler["num_samples"] if sampler["balanced"] else None,
    )
    schemes = [
        uniform_scheme(labels.shape[0]),
        balanced_scheme(labels, **draw, **settings),
        balanced_scheme(labels, name="maxmin", **draw, **dict(settings, objective="maxmin")),
    ]
    other = "images" if settings.get("count") == "instances" else "instances"
    schemes.append(balanced_scheme(labels, name=other, **draw, **dict(settings, count=other)))
    factors = None
    if args.oversample:
        factors = {k: int(v) for k, v in (item.split("=") for item in args.oversample)}
    elif sampler["factors"]:
        factors = sampler["factors"]
    elif {"cerebellum", "heart"} <= set(classes):
        factors = dict(cerebellum=2, heart=5)
    if factors:
        schemes.append(
            repeat_scheme("oversampling", oversampling_repeats(labels, classes, factors))
        )
    schemes.append(class_aware_scheme(labels))
    schemes.append(repeat_scheme("repeat_factor", repeat_factor_repeats(labels, args.rfs_thr)))
    schemes.append(repeat_scheme("irfs", irfs_repeats(labels, args.irfs_thr)))
    return schemes + extra, settings, factors


def print_table(rows, keys, title):
    print(f"\n{title}")
    widths = [max(len(k), 12) for k in keys]
    print(f"{'sampler':<18}" + "".join(f"{k:>{w + 2}}" for k, w in zip(keys, widths)))
    for row in rows:
        print(
            f"{row['sampler']:<18}" + "".join(f"{row[k]:>{w + 2}.4g}" for k, w in zip(keys, widths))
        )


def ordered_classes(classes, hierarchy):
    """Main classes, each followed by its sub-classes; the rest after."""
    order = []
    for name in classes:
        if name in order or hierarchy.get(name):
            continue
        order.append(name)
        order += [sub for sub in classes if hierarchy.get(sub) == name]
    return order + [c for c in classes if c not in order]


def plot_class_draws(summaries, classes, hierarchy, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = ordered_classes(classes, hierarchy)
    index = [classes.index(c) for c in order]
    width = 0.8 / len(summaries)
    figure, axis = plt.subplots(figsize=(max(8, 0.7 * len(classes) + 3), 4.5))
    x = np.arange(len(order))
    for k, summary in enumerate(summaries):
        draws = np.asarray(summary["class_draws"])[index]
        axis.bar(
            x + (k - (len(summaries) - 1) / 2) * width,
            draws,
            width,
            label=f"{summary['sampler']} (max/min {summary['max_min_ratio']:.2f})",
        )
    labels = [("   " if hierarchy.get(c) else "") + c for c in order]
    axis.set_xticks(x, labels, rotation=60, ha="right", fontsize=8)
    for tick, name in zip(axis.get_xticklabels(), order):
        tick.set_fontweight("normal" if hierarchy.get(name) else "bold")
    axis.set_ylabel("expected draws per epoch containing the class")
    axis.set_title(
        "Expected class frequencies per sampler (bold: main classes, followed by their sub-classes)"
        if hierarchy
        else "Expected class frequencies per sampler"
    )
    axis.legend(fontsize=8)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def plot_sweep(records, alphas, lams, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    lams = sorted(lams)
    panels = (
        ("max_min_ratio", "expected max/min class frequency", True),
        ("simulated_max_min_ratio", "simulated max/min class count per epoch", True),
        ("coverage", "distinct images per epoch / N", False),
    )
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for axis, (key, title, log) in zip(axes, panels):
        grid = np.array(
            [
                [
                    next(r[key] for r in records if r["alpha_factor"] == a and r["lam"] == lam)
                    for lam in lams
                ]
                for a in alphas
            ]
        )
        image = axis.imshow(
            grid, origin="lower", aspect="auto", cmap="viridis", norm=LogNorm() if log else None
        )
        bright = image.norm(grid) > 0.6  # dark text on the light end of viridis
        for i in range(len(alphas)):
            for j in range(len(lams)):
                axis.text(
                    j,
                    i,
                    f"{grid[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="black" if bright[i, j] else "white",
                )
        axis.set_xticks(range(len(lams)), [f"{lam:g}" for lam in lams])
        axis.set_yticks(range(len(alphas)), [f"{a:g}" for a in alphas])
        axis.set_xlabel("lam")
        axis.set_ylabel("alpha_factor")
        axis.set_title(title, fontsize=10)
        figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def write_csv(path, rows, keys):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    os.makedirs(args.out_dir, exist_ok=True)
    source = (
        coco_json_source
        if is_coco_json_source(args.config)
        else ultralytics_source
        if is_ultralytics_source(args.config)
        else detectron2_source
        if is_detectron2_source(args.config)
        else mmdet_source
    )
    labels, classes, sampler, extra = source(args)
    print(
        f"{args.config}: training set of {labels.shape[0]} images, {len(classes)} classes "
        f"({time.perf_counter() - start:.1f} s to build and read)"
    )
    if args.hierarchy:
        with open(args.hierarchy) as handle:
            hierarchy = json.load(handle)
    else:
        hierarchy = HIERARCHY if set(classes) == set(FETAL_CLASSES) else {}

    schemes, settings, factors = schemes_for(labels, classes, sampler, extra, args)
    summaries = [
        dict(
            summarize_scheme(labels, scheme),
            **simulate_epochs(labels, scheme, args.sim_epochs, args.seed),
        )
        for scheme in schemes
    ]
    print(
        f"balanced settings: {settings or 'the paper defaults'}, draw={schemes[1].draw}; "
        f"oversampling factors: {factors}; repeat-factor threshold: {args.rfs_thr}"
    )
    print_table(summaries, SUMMARY_KEYS, "Per sampler (one epoch, expected)")
    print_table(
        summaries,
        SIMULATED_KEYS,
        f"Per sampler ({args.sim_epochs} simulated epochs of its real draw)",
    )
    uniform = summaries[0]["class_draws"]
    for summary in summaries[1:3]:  # balanced and maxmin
        mean = np.mean(uniform)
        starved = [
            c
            for c, u, b in zip(classes, uniform, summary["class_draws"])
            if u < mean and b < u * (1 - 1e-9)
        ]
        if not starved:
            continue
        if summary["sampler"] == "maxmin" or settings.get("objective") == "maxmin":
            print(
                f"WARNING: with {summary['sampler']} (objective='maxmin'), classes {starved} are rarer than average yet drawn "
                "LESS than under uniform sampling: maxmin only guarantees the worst class its "
                "best frequency, and these sit above it. A smaller lam (or lam_scale) or "
                "alpha_factor gives the QP room to lift them."
            )
        else:
            print(
                f"WARNING: with {summary['sampler']}, classes {starved} are rarer than average "
                "yet drawn LESS than under uniform sampling; objective='maxmin' lifts the "
                "worst class first (see the maxmin column)."
            )
    if summaries[1]["background_mass"] > summaries[0]["background_mass"] * 1.05:
        print(
            f"WARNING: balanced sampling puts {summaries[1]['background_mass']:.1%} of the "
            f"draws on images without boxes (uniform: {summaries[0]['background_mass']:.1%}); "
            "background_share='uniform' keeps their share."
        )
    print("\nExpected draws per epoch containing each class")
    print(f"{'class':<18}" + "".join(f"{s['sampler']:>18}" for s in summaries))
    class_rows = []
    for i, name in enumerate(classes):
        print(f"{name:<18}" + "".join(f"{s['class_draws'][i]:>18.1f}" for s in summaries))
        class_rows.append({"class": name, **{s["sampler"]: s["class_draws"][i] for s in summaries}})
    print("\nExpected boxes per epoch of each class (what the detector's loss sees)")
    print(f"{'class':<18}" + "".join(f"{s['sampler']:>18}" for s in summaries))
    for i, name in enumerate(classes):
        print(f"{name:<18}" + "".join(f"{s['class_boxes'][i]:>18.1f}" for s in summaries))
        class_rows[i].update({f"{s['sampler']} boxes": s["class_boxes"][i] for s in summaries})
    write_csv(
        osp.join(args.out_dir, "summary.csv"),
        summaries,
        ("sampler", "draw", "draws_per_epoch", *SUMMARY_KEYS, *SIMULATED_KEYS),
    )
    write_csv(
        osp.join(args.out_dir, "class_draws.csv"),
        class_rows,
        [
            "class",
            *[s["sampler"] for s in summaries],
            *[f"{s['sampler']} boxes" for s in summaries],
        ],
    )
    with open(osp.join(args.out_dir, "summary.json"), "w") as handle:
        json.dump(
            dict(
                config=args.config,
                num_images=labels.shape[0],
                classes=classes,
                balanced_settings=settings,
                oversampling_factors=factors,
                rfs_thr=args.rfs_thr,
                irfs_thr=args.irfs_thr,
                samplers=summaries,
            ),
            handle,
            indent=1,
        )
    plot_class_draws(summaries, classes, hierarchy, osp.join(args.out_dir, "class_draws.png"))
    print(f"\nwrote summary.csv, summary.json, class_draws.csv, class_draws.png to {args.out_dir}")

    if args.sweep:
        total = len(args.alphas) * len(args.lams)
        sweep_start = time.perf_counter()

        def progress(done, total):
            if done == total or done % max(1, total // 10) == 0:
                elapsed = time.perf_counter() - sweep_start
                print(
                    f"[sweep] {done}/{total} points, {elapsed:.1f} s, eta "
                    f"{elapsed / done * (total - done):.1f} s",
                    flush=True,
                )

        records = sweep(
            labels, args.alphas, args.lams, args.epochs, args.seed, progress, draw=schemes[1].draw
        )
        keys = (
            "alpha_factor",
            "lam",
            "max_min_ratio",
            "simulated_max_min_ratio",
            "cv",
            "coverage",
            "simulated_coverage",
            "min_p_times_n",
        )
        print(f"\n{'alpha_factor':>12}{'lam':>10}" + "".join(f"{k:>24}" for k in keys[2:]))
        for r in records:
            print(
                f"{r['alpha_factor']:>12g}{r['lam']:>10g}"
                + "".join(f"{r[k]:>24.4g}" for k in keys[2:])
            )
        write_csv(osp.join(args.out_dir, "sweep.csv"), records, keys)
        with open(osp.join(args.out_dir, "sweep.json"), "w") as handle:
            json.dump(records, handle, indent=1)
        plot_sweep(records, args.alphas, args.lams, osp.join(args.out_dir, "sweep_heatmaps.png"))
        print(
            f"wrote sweep.csv, sweep.json, sweep_heatmaps.png ({total} points, "
            f"{args.epochs} simulated epochs each) to {args.out_dir}"
        )
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
