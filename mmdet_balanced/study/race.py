"""The race: which sampler helps on *this* data? Train every arm on exactly the same number of
images seen, several seeds each, test on the held-out split, and compare with statistics.

    python tools/race.py CONFIG --arms uniform,oversampling,rfs,classaware,balanced,recommended,maxmin \\
        --runs N --images-seen M [--jobs K] [--work-dir DIR] [--cfg-options k=v ...]

``CONFIG`` is an ordinary MMDetection config (epoch- or iteration-based). Each arm is generated
from it by changing the train sampler (or wrapping the train dataset) and nothing else; the
schedule becomes iteration-based with ``M / (batch x ranks)`` iterations, the config's own
LR steps mapped onto the budget in proportion. So arms that lengthen the epoch (oversampling,
repeat factors) get fewer epochs, not more images. Batches are always full (``drop_last``),
and :class:`~mmdet_balanced.mmdetection.images_seen.ImagesSeenHook` writes what training really
fed (``images_seen``, ``distinct_images_seen``) into each run's ``test_metrics.json``. No
validation during training and no checkpoint selection: each run's last model is tested once.

Several budgets (``--images-seen 10ep,20ep,40ep,80ep``: epochs' worth of the train set, or
image counts) make a learning curve: one race per budget in ``DIR/images_<M>/`` and
``DIR/learning_curve.{csv,png}``.

Resumable: finished runs are skipped and interrupted ones resume from their last checkpoint.
Runs are trained in rounds (run 0 of every arm, then run 1, ...), so a race stopped early still
has every arm.
"""

import argparse
import copy
import csv
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from ..core.repeat_factors import class_repeat_factors
from .compare import compare_spread, holm, load_group, plot_ecdfs, summarize

FINISHED = "test_metrics.json"
OURS = ("recommended", "maxmin", "instances")  # compared with every other arm
DEFAULT_ARMS = ("uniform", "oversampling", "rfs", "classaware", "balanced", "recommended", "maxmin")
RECOMMENDED_LAM_SCALE = 0.4042  # the paper's lam = 500 at N = 1237, as a share of N


@dataclass
class DatasetStats:
    """What the arm rules read from the training set: class names, the number of distinct
    images holding each class, of images in all, and (for IRFS) each class's
    ``sqrt(f_img * f_box)``, and the most boxes of one class in one image."""

    classes: tuple
    image_counts: np.ndarray
    num_images: int
    instance_frequency: Optional[np.ndarray] = None
    max_boxes_per_class: int = 0  # the most boxes of one class in one image (1: presence only)


@dataclass
class Arm:
    """One arm: its train sampler, an optional dataset wrapper, and the rule in words."""

    name: str
    sampler: dict
    setting: str
    dataset_wrapper: Optional[dict] = None
    facts: dict = field(default_factory=dict)


ARM_RULES: dict = {}


def register_arm(name: str):
    """Decorator adding ``rule(stats) -> Arm`` to the arms ``--arms`` accepts."""

    def add(rule: Callable[[DatasetStats], Arm]):
        ARM_RULES[name] = rule
        return rule

    return add


def paper_oversampling_factors(stats: DatasetStats) -> dict:
    """The paper's oversampling rule, stated: a class is rare when it is in fewer than half as
    many images as the median class; each rare class's images are repeated
    ``round(n_next / n_c)`` times, ``n_next`` being the image count of the least frequent class
    that is not rare (its level)."""
    counts = np.asarray(stats.image_counts, dtype=float)
    present = counts > 0
    if not present.any():
        raise ValueError("no class has a box in the training set; nothing to oversample")
    median = float(np.median(counts[present]))
    rare = present & (counts < median / 2)
    if not rare.any():
        return {}
    level = float(counts[present & ~rare].min())
    return {stats.classes[c]: max(1, int(round(level / counts[c]))) for c in np.flatnonzero(rare)}


def rfs_threshold(stats: DatasetStats) -> float:
    """RFS's ``oversample_thr``, stated: the median class image frequency, so the classes below
    the median repeat (the rarest by ``sqrt(t / f_min)``). LVIS's 0.001 repeats nothing on a
    set whose rarest class is in more than 0.1% of the images."""
    frequencies = np.asarray(stats.image_counts, dtype=float) / max(stats.num_images, 1)
    return float(np.median(frequencies[frequencies > 0]))


def _class_repeats(threshold: float, frequency, classes):
    """The LVIS rule's class factors (:func:`class_repeat_factors`, rounded to 3 digits, for
    display) and the whole repeats MMEngine's ``ClassBalancedDataset`` gives each class's
    images: it rounds every image's factor up (``math.ceil``), so 1.755 repeats an image twice
    (a class without images: 1)."""
    exact = {
        name: float(factor)
        for name, factor, f in zip(classes, class_repeat_factors(frequency, threshold), frequency)
        if f > 0
    }
    factors = {name: round(f, 3) for name, f in exact.items()}
    repeats = {name: int(np.ceil(exact.get(name, 1.0))) for name in classes}
    return factors, repeats


def twin_arms(arms: dict, stats: DatasetStats) -> dict:
    """``{arm: earlier arm}`` for arms that draw the same images as an earlier one on this
    training set: repeat arms (uniform, oversampling, rfs, irfs) that repeat every image alike
    after rounding, and sampler arms whose settings differ only by ``count`` where no image
    holds two boxes of one class (box counts are then the presence matrix). Such twins train
    alike, which a reader of the verdict should know."""
    seen, twins = {}, {}
    for name, arm in arms.items():
        if "class_repeats" in arm.facts:
            key = ("repeats", tuple(sorted(arm.facts["class_repeats"].items())))
        else:
            sampler = dict(arm.sampler)
            if stats.max_boxes_per_class <= 1:
                sampler.pop("count", None)
            key = ("sampler", repr(sorted(sampler.items())), repr(arm.dataset_wrapper))
        if key in seen:
            twins[name] = seen[key]
        else:
            seen[key] = name
    return twins


def _balanced(name, setting, **kwargs):
    return Arm(name, dict(type="BalancedQPSampler", alpha_factor=0.5, **kwargs), setting)


@register_arm("uniform")
def _uniform(stats):
    return Arm(
        "uniform",
        dict(type="DefaultSampler", shuffle=True),
        "MMEngine's DefaultSampler: every image once per epoch, shuffled",
        facts=dict(class_repeats={name: 1 for name in stats.classes}),
    )


@register_arm("oversampling")
def _oversampling(stats):
    factors = paper_oversampling_factors(stats)
    if not factors:
        return Arm(
            "oversampling",
            dict(type="DefaultSampler", shuffle=True),
            "the paper's oversampling: no class is rare by its rule (every class in at "
            "least half as many images as the median class), so every image once",
            facts=dict(factors={}, class_repeats={name: 1 for name in stats.classes}),
        )
    return Arm(
        "oversampling",
        dict(type="OversamplingSampler", factors=factors),
        f"the paper's oversampling: images of each rare class (< half the median class's "
        f"image count) repeated to the level of the next class, factors {factors}",
        facts=dict(
            factors=factors,
            class_repeats={name: factors.get(name, 1) for name in stats.classes},
        ),
    )


@register_arm("rfs")
def _rfs(stats):
    threshold = rfs_threshold(stats)
    frequencies = np.asarray(stats.image_counts, dtype=float) / max(stats.num_images, 1)
    factors, repeats = _class_repeats(threshold, frequencies, stats.classes)
    return Arm(
        "rfs",
        dict(type="DefaultSampler", shuffle=True),
        f"repeat factor sampling (MMEngine's ClassBalancedDataset), oversample_thr = the "
        f"median class image frequency = {threshold:.4f}; class factors {factors}, rounded "
        f"up by MMEngine to whole repeats {repeats}",
        dataset_wrapper=dict(type="ClassBalancedDataset", oversample_thr=threshold),
        facts=dict(oversample_thr=threshold, class_factors=factors, class_repeats=repeats),
    )


@register_arm("irfs")
def _irfs(stats):
    if stats.instance_frequency is None:
        raise ValueError("the irfs arm needs box counts (DatasetStats.instance_frequency)")
    frequency = np.asarray(stats.instance_frequency, dtype=float)
    threshold = float(np.median(frequency[frequency > 0]))
    factors, repeats = _class_repeats(threshold, frequency, stats.classes)
    return Arm(
        "irfs",
        dict(type="DefaultSampler", shuffle=True),
        f"instance-aware repeat factors (IRFS, InstanceBalancedDataset), oversample_thr "
        f"= the median class sqrt(f_img f_box) = {threshold:.4f}; class factors "
        f"{factors}, rounded up by MMEngine to whole repeats {repeats}",
        dataset_wrapper=dict(type="InstanceBalancedDataset", oversample_thr=threshold),
        facts=dict(oversample_thr=threshold, class_factors=factors, class_repeats=repeats),
    )


@register_arm("classaware")
def _classaware(stats):
    return Arm(
        "classaware",
        dict(type="ClassAwareSampler", num_sample_class=1),
        "MMDetection's ClassAwareSampler (a class uniformly, then an image of it)",
    )


@register_arm("balanced")
def _paper(stats):
    return _balanced(
        "balanced",
        "the paper: BalancedQPSampler, alpha_factor 0.5, lam 500, i.i.d. draws",
        lam=500.0,
        draw="iid",
    )


@register_arm("recommended")
def _recommended(stats):
    return _balanced(
        "recommended",
        f"BalancedQPSampler, lam_scale {RECOMMENDED_LAM_SCALE} (lam = 0.4042 N), systematic draws",
        lam_scale=RECOMMENDED_LAM_SCALE,
        draw="systematic",
    )


@register_arm("recommended_iid")
def _recommended_iid(stats):
    return _balanced(
        "recommended_iid",
        f"BalancedQPSampler, lam_scale {RECOMMENDED_LAM_SCALE}, i.i.d. draws",
        lam_scale=RECOMMENDED_LAM_SCALE,
        draw="iid",
    )


@register_arm("maxmin")
def _maxmin(stats):
    return _balanced(
        "maxmin",
        f"BalancedQPSampler, lam_scale {RECOMMENDED_LAM_SCALE}, "
        "systematic draws, objective='maxmin'",
        lam_scale=RECOMMENDED_LAM_SCALE,
        draw="systematic",
        objective="maxmin",
    )


@register_arm("instances")
def _instances(stats):
    return _balanced(
        "instances",
        f"BalancedQPSampler, count='instances' (box counts), "
        f"lam_scale {RECOMMENDED_LAM_SCALE}, systematic draws",
        lam_scale=RECOMMENDED_LAM_SCALE,
        draw="systematic",
        count="instances",
    )


def check_arms(names) -> list:
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in ARM_RULES]
    if unknown:
        raise ValueError(f"--arms: unknown arm(s) {unknown}; known arms are {sorted(ARM_RULES)}")
    if not names:
        raise ValueError(f"--arms is empty; give some of {sorted(ARM_RULES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"--arms names an arm twice: {names}")
    return names


def budget_iterations(images_seen: int, batch_size: int, world_size: int = 1) -> int:
    """Iterations that feed exactly ``images_seen`` images at ``batch_size`` per rank."""
    global_batch = batch_size * world_size
    if images_seen < global_batch:
        raise ValueError(
            f"--images-seen {images_seen} is smaller than one batch per rank "
            f"(batch_size {batch_size} x {world_size} ranks); use at least "
            f"{global_batch}"
        )
    if images_seen % global_batch:
        low = images_seen // global_batch * global_batch
        raise ValueError(
            f"--images-seen {images_seen} is not a multiple of the global batch "
            f"({batch_size} x {world_size} ranks = {global_batch}); the nearest "
            f"valid values are {low} and {low + global_batch}"
        )
    return images_seen // global_batch


def parse_budgets(text: str, num_images: int, global_batch: int) -> list:
    """``"10ep,20ep"`` (epochs' worth of distinct training images, rounded down to a multiple
    of the global batch) or image counts (which must be multiples)."""
    budgets = []
    for item in (t.strip() for t in str(text).split(",")):
        if not item:
            continue
        if item.endswith("ep"):
            images = int(float(item[:-2]) * num_images) // global_batch * global_batch
            if images < global_batch:
                raise ValueError(
                    f"--images-seen {item}: {item[:-2]} epochs of {num_images} "
                    f"images is less than one global batch ({global_batch})"
                )
            budgets.append(images)
        else:
            try:
                budgets.append(int(item))
            except ValueError:
                raise ValueError(
                    f"--images-seen takes image counts or epochs such as 20ep, "
                    f"comma-separated; got {item!r}"
                ) from None
    if not budgets:
        raise ValueError("--images-seen is empty")
    return budgets


def _scheduler_on_budget(scheduler: dict, scale: float, max_iters: int) -> dict:
    """One param scheduler with its points (begin, end, milestones, T_max) in iterations."""
    scheduler = copy.deepcopy(dict(scheduler))
    by_epoch = scheduler.pop("by_epoch", True)
    scheduler.pop("convert_to_iter_based", None)
    factor = scale if by_epoch else 1.0
    for key in ("begin", "end", "T_max"):
        if key in scheduler and scheduler[key] is not None and scheduler[key] < 1e9:
            scheduler[key] = min(max_iters, int(round(scheduler[key] * factor)))
    if "milestones" in scheduler:
        scheduler["milestones"] = [
            min(max_iters, int(round(m * factor))) for m in scheduler["milestones"]
        ]
    scheduler["by_epoch"] = False
    return scheduler


def arm_config(cfg, arm: Arm, max_iters: int):
    """``cfg`` (an MMEngine Config, not modified) turned into ``arm`` at ``max_iters``."""
    cfg = copy.deepcopy(cfg)
    loader = cfg.train_dataloader
    loader.sampler = dict(arm.sampler)
    if arm.dataset_wrapper is not None:
        loader.dataset = dict(arm.dataset_wrapper, dataset=loader.dataset)
    if loader.get("batch_sampler") is not None:
        loader.batch_sampler = dict(loader.batch_sampler, drop_last=True)
    else:
        loader.drop_last = True
    train_cfg = cfg.get("train_cfg") or {}
    if "max_epochs" in train_cfg:  # epoch points -> iterations, in proportion
        scale = max_iters / train_cfg["max_epochs"]
    else:
        scale = max_iters / train_cfg.get("max_iters", max_iters)
    schedulers = cfg.get("param_scheduler") or []
    schedulers = [schedulers] if isinstance(schedulers, dict) else schedulers
    iter_scale = 1.0 if "max_epochs" in train_cfg else scale
    cfg.param_scheduler = [
        _scheduler_on_budget(s, scale if s.get("by_epoch", True) else iter_scale, max_iters)
        for s in schedulers
    ]
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters)
    cfg.val_dataloader, cfg.val_cfg, cfg.val_evaluator = None, None, None
    hooks = cfg.get("default_hooks") or {}
    hooks["checkpoint"] = dict(
        type="CheckpointHook",
        by_epoch=False,
        max_keep_ckpts=1,
        interval=max(50, -(-max_iters // 10)),
        save_last=True,
    )
    hooks["logger"] = dict(type="LoggerHook", interval=50)
    cfg.default_hooks = hooks
    cfg.log_processor = dict(type="LogProcessor", window_size=50, by_epoch=False)
    custom = [h for h in cfg.get("custom_hooks") or [] if h.get("type") != "ImagesSeenHook"]
    cfg.custom_hooks = custom + [dict(type="ImagesSeenHook")]
    evaluator = cfg.get("test_evaluator")
    if isinstance(evaluator, dict) and evaluator.get("type") == "ClassAPMetric":
        thresholds = sorted(set(evaluator.get("iou_thrs", (0.2, 0.4))) | {0.5})
        cfg.test_evaluator = dict(evaluator, iou_thrs=thresholds)
    imports = list((cfg.get("custom_imports") or {}).get("imports", []))
    if "mmdet_balanced" not in imports:
        cfg.custom_imports = dict(imports=imports + ["mmdet_balanced"], allow_failed_imports=False)
    return cfg


def dataset_stats(cfg) -> DatasetStats:
    """Class names and per-class image counts of the config's training set (distinct images:
    RepeatDataset copies are not counted)."""
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope

    import mmdet_balanced  # noqa: F401  (registers the plugin's components)

    from ..core.repeat_factors import instance_class_frequency
    from ..mmdetection.labels import dataset_classes, distinct_label_matrix

    init_default_scope(cfg.get("default_scope", "mmdet"))
    dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    boxes = distinct_label_matrix(dataset, count="instances")
    counts = np.asarray((boxes > 0).sum(axis=0)).ravel()
    return DatasetStats(
        dataset_classes(dataset),
        counts,
        boxes.shape[0],
        instance_class_frequency(boxes) if boxes.nnz else None,
        int(boxes.max()) if boxes.nnz else 0,
    )


def _world_size(args) -> int:
    return args.nproc if args.launcher == "pytorch" else 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", help="an MMDetection config (the arms are generated from it)")
    parser.add_argument(
        "--arms",
        default=",".join(DEFAULT_ARMS),
        help=f"comma-separated arms (default {','.join(DEFAULT_ARMS)})",
    )
    parser.add_argument("--runs", type=int, required=True, help="runs (seeds) per arm")
    parser.add_argument(
        "--images-seen",
        required=True,
        help="images each run trains on (iterations x batch x ranks), or "
        "epochs' worth such as 40ep; several (comma-separated) make a "
        "learning curve",
    )
    parser.add_argument("--work-dir", help="default work_dirs/race/<config name>")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once")
    parser.add_argument("--threads", type=int, help="CPU threads per run (default cores//jobs)")
    parser.add_argument("--gpus", help="comma-separated GPU ids shared round robin by the jobs")
    parser.add_argument("--seed-base", type=int, default=0, help="run k uses seed-base + k")
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none")
    parser.add_argument("--nproc", type=int, default=1, help="ranks per run (--launcher pytorch)")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        default=[],
        help="config overrides (key=value) applied before the arms",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="write the arms' configs and arms.json, train nothing",
    )
    parser.add_argument(
        "--collect-to",
        metavar="DIR",
        help="after each finished run and at the end, copy the results worth committing "
        "(settings, configs, finished runs' metrics and logs, tables, figures; no "
        "checkpoints) to DIR",
    )
    args = parser.parse_args(argv)
    try:
        args.arms = check_arms(args.arms.split(","))
    except ValueError as error:
        parser.error(str(error))
    for name in ("runs", "jobs", "nproc"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1; got {getattr(args, name)}")
    if args.nproc > 1 and args.launcher != "pytorch":
        parser.error("--nproc > 1 needs --launcher pytorch")
    return args


def load_config(path, cfg_options):
    from mmengine.config import Config, DictAction

    cfg = Config.fromfile(path)
    if cfg_options:
        action = DictAction(option_strings=[], dest="cfg_options")
        namespace = argparse.Namespace()
        action(None, namespace, cfg_options)
        cfg.merge_from_dict(namespace.cfg_options)
    return cfg


def earlier_arms(work_dir: str, images_seen: int, batch: int, ranks: int, num_images: int):
    """The arms an earlier call recorded in ``work_dir/arms.json`` (``{}`` if none), so that
    a race split over several calls (one per core or machine, ``--arms`` apart) keeps every
    arm's setting in one record. A work dir whose runs trained on another budget or training
    set is refused: its finished runs would be skipped and mixed into the verdict."""
    path = osp.join(work_dir, "arms.json")
    if not osp.exists(path):
        return {}
    with open(path) as handle:
        record = json.load(handle)
    before = (record.get("images_seen"), record.get("batch_size"), record.get("ranks"))
    if before != (images_seen, batch, ranks):
        raise ValueError(
            f"--work-dir {work_dir} holds a race of {before[0]} images seen (batch "
            f"{before[1]} x {before[2]} rank(s)); this call asks for {images_seen} (batch "
            f"{batch} x {ranks}). Pass --images-seen {before[0]} with the same batch and "
            "ranks to go on with it, or another --work-dir for a new budget"
        )
    if record.get("train_images", num_images) != num_images:
        raise ValueError(
            f"--work-dir {work_dir} holds a race on {record['train_images']} training images; "
            f"this config has {num_images}. Use another --work-dir for another training set"
        )
    return record.get("arms", {})


def prepare(args, images_seen: int, work_dir: str, cfg, stats) -> dict:
    """Write each arm's config and ``arms.json`` (arms recorded there by earlier calls kept);
    return ``{arm: config path}``."""
    batch = cfg.train_dataloader.batch_size
    max_iters = budget_iterations(images_seen, batch, _world_size(args))
    recorded = earlier_arms(work_dir, images_seen, batch, _world_size(args), stats.num_images)
    os.makedirs(work_dir, exist_ok=True)
    record, paths = {}, {}
    arms = {name: ARM_RULES[name](stats) for name in args.arms}
    twins = twin_arms(arms, stats)
    for name, arm in arms.items():
        arm_cfg = arm_config(cfg, arm, max_iters)
        path = osp.join(work_dir, name, "config.py")
        os.makedirs(osp.dirname(path), exist_ok=True)
        arm_cfg.dump(path)
        paths[name] = path
        record[name] = dict(asdict(arm), config=path, same_draws_as=twins.get(name))
        print(f"[race] {name:>16}: {arm.setting}", flush=True)
    for name, earlier in twins.items():
        why = (
            f"whole repeats {arms[name].facts['class_repeats']}"
            if "class_repeats" in arms[name].facts
            else "no image holds two boxes of one class, so box counts are presence"
        )
        print(
            f"[race] note: {name} draws the same images as {earlier} on this training set "
            f"({why}); expect the two arms to train alike",
            flush=True,
        )
    record = dict(
        config=args.config,
        cfg_options=args.cfg_options,
        images_seen=images_seen,
        batch_size=batch,
        ranks=_world_size(args),
        max_iters=max_iters,
        train_images=stats.num_images,
        epochs_equivalent=images_seen / stats.num_images,
        class_image_counts=dict(zip(stats.classes, map(int, stats.image_counts))),
        arms={**{k: v for k, v in recorded.items() if k not in record}, **record},
    )
    with open(osp.join(work_dir, "arms.json"), "w") as handle:
        json.dump(record, handle, indent=1)
    print(
        f"[race] budget: {images_seen} images seen = {max_iters} iterations x {batch} x "
        f"{_world_size(args)} rank(s) ({images_seen / stats.num_images:.1f} epochs of "
        f"{stats.num_images} images); arms written to {work_dir}/arms.json",
        flush=True,
    )
    return paths


def _run_args(args, config_path, arm_dir):
    from .repeats import parse_args as repeats_args

    argv = [
        config_path,
        "--runs",
        str(args.runs),
        "--work-dir",
        arm_dir,
        "--seed-base",
        str(args.seed_base),
        "--jobs",
        str(args.jobs),
        "--launcher",
        args.launcher,
        "--nproc",
        str(args.nproc),
    ]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    if args.gpus:
        argv += ["--gpus", args.gpus]
    return repeats_args(argv)


def train_all(args, plan, on_finished=None) -> list:
    """Train the pending runs of ``plan`` (``[(label, config, arm_dir)]``) in rounds; return
    the runs that failed. Prints one line per run with elapsed time and ETA; calls
    ``on_finished()`` after each run that finished (e.g. to copy it into a study)."""
    from .repeats import run_command, run_environment

    queue = []
    for k in range(args.runs):
        for label, config_path, arm_dir in plan:
            run_dir = osp.join(arm_dir, f"run_{k:02d}")
            if not osp.exists(osp.join(run_dir, FINISHED)):
                queue.append((k, label, config_path, arm_dir, run_dir))
    total = len(plan) * args.runs
    print(
        f"[race] {total - len(queue)}/{total} runs finished before; {len(queue)} to train "
        f"({args.jobs} at once)",
        flush=True,
    )
    start, finished, failed = time.perf_counter(), 0, []
    slots = list(range(args.jobs))

    def train(item):
        k, label, config_path, arm_dir, run_dir = item
        slot = slots.pop(0)
        try:
            run_args = _run_args(args, config_path, arm_dir)
            os.makedirs(run_dir, exist_ok=True)
            resumed = osp.exists(osp.join(run_dir, "last_checkpoint"))
            print(
                f"[race] {label} run {k} (seed {args.seed_base + k}) "
                f"{'resumed' if resumed else 'started'} -> {run_dir}",
                flush=True,
            )
            began = time.perf_counter()
            with open(osp.join(run_dir, "race.log"), "a") as log:
                code = subprocess.run(
                    run_command(run_args, k, run_dir),
                    env=run_environment(run_args, slot),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ).returncode
            return item, code, time.perf_counter() - began
        finally:
            slots.append(slot)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(train, item) for item in queue]
        for future in as_completed(futures):
            (k, label, _, _, run_dir), code, seconds = future.result()
            if code != 0:
                failed.append(run_dir)
                print(
                    f"[race] {label} run {k} FAILED (exit {code}; see {run_dir}/race.log); "
                    "rerun the same command to resume it",
                    flush=True,
                )
                continue
            finished += 1
            if on_finished is not None:
                on_finished()
            elapsed = time.perf_counter() - start
            left = len(queue) - finished - len(failed)
            print(
                f"[race] {label} run {k} done in {seconds:.0f} s; {finished}/{len(queue)} "
                f"this session, elapsed {elapsed / 60:.1f} min, ETA "
                f"{elapsed / finished * left / 60:.1f} min",
                flush=True,
            )
    return failed


def add_worst_class(group, prefix="class_ap/"):
    """Per run: the worst class's AP at each IoU threshold (``worst_AP@<thr>``)."""
    for metrics in group.runs.values():
        by_thr = {}
        for key, value in metrics.items():
            if key.startswith(prefix + "AP@"):
                thr = key[len(prefix) + 3 :].split("/", 1)[0]
                by_thr.setdefault(thr, []).append(value)
        for thr, values in by_thr.items():
            metrics[f"{prefix}worst_AP@{thr}"] = float(min(values))


def spread_lines(groups, metrics, pairs, seed: int = 0) -> list:
    """The verdict's run-to-run spread table (the paper's claim of a lower spread across runs):
    per pair, on the mAPs and the worst class's AP@0.5, each arm's std, the difference with a
    bootstrap 95% CI and the Brown-Forsythe test, Holm over this table."""
    chosen = [m for m in metrics if "/mAP@" in m or m.endswith("/worst_AP@0.5")]
    samples = {
        (g.name, m): np.array([v[m] for v in g.runs.values() if m in v])
        for g in groups
        for m in chosen
    }
    rows = []
    for metric in chosen:
        for a, b in pairs:
            if min(samples[(a, metric)].size, samples[(b, metric)].size) >= 2:
                spread = compare_spread(samples[(a, metric)], samples[(b, metric)], seed)
                rows.append(dict(metric=metric, a=a, b=b, **spread))
    if not rows:
        return []
    tested = [r for r in rows if r["bf_p"] == r["bf_p"]]  # NaN: undefined at two runs each
    for row, adjusted in zip(tested, holm([r["bf_p"] for r in tested])):
        row["bf_p_holm"] = float(adjusted)
    lines = [
        "",
        "Run-to-run spread (sample std of the per-run values; difference = second arm - first "
        f"arm, bootstrap 95% CI; Brown-Forsythe test, Holm over these {len(tested)} tests; "
        "p < 0.05 after Holm in bold):",
        "",
        "| metric | arms | std (first → second) | difference [95% CI] | Brown-Forsythe p (Holm) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        bold = "**" if r.get("bf_p_holm", 1.0) < 0.05 else ""
        p = (
            f"{r['bf_p']:.3g} ({r['bf_p_holm']:.3g})"
            if "bf_p_holm" in r
            else "n/a (needs 3 runs in an arm)"
        )
        lines.append(
            f"| {r['metric'].replace('class_ap/', '')} | {r['b']} vs {r['a']} | "
            f"{r['std_a']:.3f} → {r['std_b']:.3f} | {bold}{r['std_difference']:+.3f}{bold} "
            f"[{r['std_ci_low']:+.3f}, {r['std_ci_high']:+.3f}] | {p} |"
        )
    return lines


def verdict(work_dir: str, arms, out_md=None, out_csv=None, plot=None, plot_classes=None):
    """Ours (:data:`OURS`: recommended, maxmin, instances) against every other arm, every
    metric: means and run-to-run std, difference with bootstrap 95% CI, KS, Mann-Whitney,
    Cliff's delta, Holm over the whole family, and the run-to-run spread (:func:`spread_lines`);
    ``plot`` the ECDFs, ``plot_classes`` the per-class AP figure (:func:`plot_class_ap`).
    Returns the markdown text and its headline (the mAP and worst-class rows)."""
    groups = [load_group(name, [osp.join(work_dir, name)], source="test") for name in arms]
    groups = [g for g in groups if g.runs]
    for group in groups:
        add_worst_class(group)
    names = [g.name for g in groups]
    ours = [n for n in OURS if n in names]
    pairs = [(peer, mine) for mine in ours for peer in names if peer not in OURS]
    pairs += [(a, b) for i, a in enumerate(ours) for b in ours[i + 1 :]]
    metrics = sorted(
        {
            k
            for g in groups
            for v in g.runs.values()
            for k in v
            if k.startswith("class_ap/") and k != "class_ap/mAP"
        }
    )
    stats, tests = summarize(groups, metrics=metrics, pairs=pairs)
    table = {(m, g): (mean, std, n) for m, g, mean, std, _, n in stats}
    lines = [
        f"# Race verdict ({', '.join(f'{g.name} n={len(g.runs)}' for g in groups)})",
        "",
        "Per arm: mean ± run-to-run std (sample std) of the test metrics.",
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for metric in metrics:
        cells = []
        for name in names:
            mean, std, n = table.get((metric, name), (float("nan"),) * 3)
            cells.append(f"{mean:.3f} ± {std:.3f}" if n == n else "")
        lines.append(f"| {metric.replace('class_ap/', '')} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Tests (difference = second arm - first arm; Holm over all "
        f"{len(tests)} tests of this table; p < 0.05 after Holm in bold):",
        "",
        "| metric | arms | difference [95% CI] | KS p (Holm) | MW p (Holm) | Cliff's δ |",
        "|---|---|---|---|---|---|",
    ]
    for t in tests:
        bold = "**" if min(t["ks_p_holm"], t["mw_p_holm"]) < 0.05 else ""
        lines.append(
            f"| {t['metric'].replace('class_ap/', '')} | {t['b']} vs {t['a']} | "
            f"{bold}{t['difference']:+.3f}{bold} [{t['ci_low']:+.3f}, "
            f"{t['ci_high']:+.3f}] | {t['ks_p']:.3g} ({t['ks_p_holm']:.3g}) | "
            f"{t['mw_p']:.3g} ({t['mw_p_holm']:.3g}) | {t['cliffs_delta']:+.2f} |"
        )
    lines += spread_lines(groups, metrics, pairs)
    text = "\n".join(lines) + "\n"
    headline = (
        "\n".join(
            line
            for line in lines
            if not line.startswith("| ")
            or line.startswith(("| metric", "|---"))
            or "| mAP@0.5 |" in line
            or "| worst_AP@0.5 |" in line
            or line.split(" | ")[0][2:] in ("mAP@0.2", "mAP@0.4", "mAP@0.5", "worst_AP@0.5")
        )
        + "\n"
    )
    if out_md:
        with open(out_md, "w") as handle:
            handle.write(text)
    if out_csv and tests:
        with open(out_csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(tests[0]))
            writer.writeheader()
            writer.writerows(tests)
    if plot and groups:
        plot_ecdfs(
            groups,
            [m for m in metrics if "/mAP@" in m or "/worst_AP@0.5" in m] or metrics[:4],
            plot,
        )
    if plot_classes and groups:
        arms_json = osp.join(work_dir, "arms.json")
        counts = None
        if osp.exists(arms_json):
            with open(arms_json) as handle:
                counts = json.load(handle).get("class_image_counts")
        plot_class_ap(groups, plot_classes, counts)
    return text, headline


def plot_class_ap(groups, path, class_counts=None, iou="0.5", prefix="class_ap/"):
    """One small panel per class (rarest first, with its training image count) and one for
    the mAP: each arm's per-run test AP as dots and its mean as a bar, on the panel's own
    scale. Where a sampler lifts the rare classes and what it costs the common ones, at a
    glance (the verdict's table has the numbers). Returns the panels' titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    head = f"{prefix}AP@{iou}/"
    classes = sorted(
        {k[len(head) :] for g in groups for v in g.runs.values() for k in v if k.startswith(head)}
    )
    counts = class_counts or {}
    classes.sort(key=lambda c: (counts.get(c, float("inf")), c))
    panels = [(f"{prefix}mAP@{iou}", f"mAP@{iou}")] + [
        (head + c, f"{c} ({counts[c]} images)" if c in counts else c) for c in classes
    ]
    columns = min(4, int(np.ceil(np.sqrt(len(panels)))))
    rows = -(-len(panels) // columns)
    width = max(3.0, 0.45 * len(groups) + 0.8)
    figure, axes = plt.subplots(
        rows, columns, figsize=(width * columns, 2.6 * rows + 0.5), squeeze=False
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    jitter = np.random.default_rng(0)
    for axis, (metric, title) in zip(axes.flat, panels):
        for x, group in enumerate(groups):
            values = np.array([v[metric] for v in group.runs.values() if metric in v])
            if not values.size:
                continue
            color = colors[x % len(colors)]
            axis.bar(x, values.mean(), width=0.7, color=color, alpha=0.35)
            axis.scatter(x + jitter.uniform(-0.2, 0.2, values.size), values, s=9, color=color)
        axis.set_title(title, fontsize=9)
        axis.set_xticks(range(len(groups)), [g.name for g in groups], rotation=60, fontsize=7)
        axis.tick_params(axis="y", labelsize=7)
        axis.grid(axis="y", alpha=0.3)
    for axis in list(axes.flat)[len(panels) :]:
        axis.axis("off")
    runs = ", ".join(f"{g.name} {len(g.runs)}" for g in groups)
    figure.suptitle(
        f"Test AP@{iou} per class, rarest first (bar: mean; dots: runs)\nruns: {runs}", fontsize=10
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return [title for _, title in panels]


def finished_runs(work_dir: str, arm: str) -> int:
    """How many runs of ``arm`` in ``work_dir`` have their ``test_metrics.json``."""
    return len(glob.glob(osp.join(work_dir, arm, "run_*", FINISHED)))


def verdict_arms(work_dir: str, arms, min_runs: int = 2) -> list:
    """The arms a verdict covers: ``arms`` (this call's) and, in a race split over several
    calls (``--arms`` apart, one work dir), every other arm ``arms.json`` records that has
    ``min_runs`` finished runs, in the record's order: each call's verdict is the whole
    race's so far, not only its own arms'."""
    path = osp.join(work_dir, "arms.json")
    recorded = []
    if osp.exists(path):
        with open(path) as handle:
            recorded = list(json.load(handle).get("arms", {}))
    order = recorded + [name for name in arms if name not in recorded]
    return [name for name in order if name in arms or finished_runs(work_dir, name) >= min_runs]


def interim_verdict(work_dir: str, arms, min_runs: int = 2) -> bool:
    """The verdict of a race in progress, once every arm of this call has ``min_runs``
    finished runs (its title says how many each has; a split race's other arms join it as
    :func:`verdict_arms` says): a race spans sessions, and what is committed between them
    should say where it stands. Returns whether it was written."""
    if min((finished_runs(work_dir, name) for name in arms), default=0) < min_runs:
        return False
    write_verdict(work_dir, verdict_arms(work_dir, arms, min_runs))
    return True


def write_verdict(work_dir: str, arms) -> str:
    """:func:`verdict` into ``work_dir``: ``verdict.md``, ``verdict.csv``, ``verdict_ecdf.png``,
    ``verdict_classes.png``. Returns its headline."""
    return verdict(
        work_dir,
        arms,
        osp.join(work_dir, "verdict.md"),
        osp.join(work_dir, "verdict.csv"),
        osp.join(work_dir, "verdict_ecdf.png"),
        osp.join(work_dir, "verdict_classes.png"),
    )[1]


def learning_curve(work_dir: str, budgets, num_images: int, arm: str = "uniform"):
    """``learning_curve.csv`` (one row per run) and ``learning_curve.png`` (mean ± std of the
    test mAP@0.5 and of the rarest class's AP@0.5 against images seen), over ``budgets`` and
    any other budget already in ``work_dir`` (an earlier, longer curve's runs stay on it)."""
    rows = []
    found = [
        int(name[len("images_") :])
        for name in os.listdir(work_dir)
        if name.startswith("images_") and name[len("images_") :].isdigit()
    ]
    for images in sorted(set(budgets) | set(found)):
        group = load_group(arm, [osp.join(work_dir, f"images_{images}", arm)], source="test")
        for run, metrics in sorted(group.runs.items()):
            with open(osp.join(run, FINISHED)) as handle:
                record = json.load(handle)
            rows.append(
                dict(
                    images_seen=images,
                    epochs=images / num_images,
                    run=osp.basename(run),
                    distinct_images_seen=record.get("distinct_images_seen"),
                    **{k.replace("class_ap/", ""): v for k, v in metrics.items()},
                )
            )
    if not rows:
        return rows
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with open(osp.join(work_dir, "learning_curve.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ap_keys = [k for k in keys if k.startswith("AP@0.5/")]
    rarest = (
        min(ap_keys, key=lambda k: np.mean([r[k] for r in rows if k in r])) if ap_keys else None
    )
    figure, axis = plt.subplots(figsize=(6, 4))
    for key, label in (
        ("mAP@0.5", "test mAP@0.5"),
        (rarest, f"{rarest} (rarest class)" if rarest else None),
    ):
        if key is None:
            continue
        xs = sorted({r["images_seen"] for r in rows if key in r})
        values = [[r[key] for r in rows if r["images_seen"] == x and key in r] for x in xs]
        means = np.array([np.mean(v) for v in values])
        stds = np.array([np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in values])
        axis.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=label)
        for x, v in zip(xs, values):
            axis.scatter([x] * len(v), v, s=8, alpha=0.4, color=axis.lines[-1].get_color())
    from matplotlib.ticker import NullFormatter

    budgets_seen = sorted({r["images_seen"] for r in rows})
    axis.set_xscale("log")
    axis.set_xticks(budgets_seen, [str(b) for b in budgets_seen])  # one tick per budget
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_xlabel(f"images seen (epochs of {num_images} images on the top axis)")
    axis.set_ylabel("AP")
    top = axis.secondary_xaxis(
        "top", functions=(lambda x: x / num_images, lambda e: e * num_images)
    )
    top.set_xticks(
        [b / num_images for b in budgets_seen],
        [f"{round(b / num_images, 1):g}" for b in budgets_seen],
    )
    top.xaxis.set_minor_formatter(NullFormatter())
    top.set_xlabel("epochs")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(f"Learning curve ({arm}, mean ± std over runs)", fontsize=10)
    figure.tight_layout()
    figure.savefig(osp.join(work_dir, "learning_curve.png"), dpi=110)
    plt.close(figure)
    return rows


#: What a study commits of a race's work dir (no checkpoints, no per-iteration logs).
KEPT = (
    "arms.json",
    "config.py",
    FINISHED,
    "race.log",
    "images_seen.json",
    "learning_curve.csv",
    "learning_curve.png",
    "verdict.md",
    "verdict.csv",
    "verdict_ecdf.png",
    "verdict_classes.png",
)


def collect(work_dir: str, out_dir: str) -> int:
    """Copy the race's small results (:data:`KEPT`: settings, configs, finished runs' metrics
    and logs, tables, figures) from ``work_dir`` to ``out_dir``, keeping the layout; only
    finished runs' files are copied. Returns the number of files copied."""
    import shutil

    copied = 0
    for root, dirs, names in os.walk(work_dir):
        finished = FINISHED in names
        arm_dir = any(d.startswith("run_") for d in dirs)
        for name in names:
            if name not in KEPT or (name in ("race.log", "images_seen.json") and not finished):
                continue
            if name == "config.py" and not arm_dir:  # the runs' own copies of the arm's
                continue
            target = osp.join(out_dir, osp.relpath(osp.join(root, name), work_dir))
            os.makedirs(osp.dirname(target), exist_ok=True)
            shutil.copyfile(osp.join(root, name), target)
            copied += 1
    return copied


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    work_dir = args.work_dir or osp.join(
        "work_dirs", "race", osp.splitext(osp.basename(args.config))[0]
    )
    stats = dataset_stats(cfg)
    global_batch = cfg.train_dataloader.batch_size * _world_size(args)
    try:
        budgets = parse_budgets(args.images_seen, stats.num_images, global_batch)
        for images in budgets:
            budget_iterations(images, cfg.train_dataloader.batch_size, _world_size(args))
    except ValueError as error:
        print(f"race: {error}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{n} {int(c)}" for n, c in zip(stats.classes, stats.image_counts))
    print(
        f"[race] {args.config}: {stats.num_images} training images; images per class: {counts}",
        flush=True,
    )
    curve = len(budgets) > 1
    plan = []
    for images in budgets:
        budget_dir = osp.join(work_dir, f"images_{images}") if curve else work_dir
        try:
            paths = prepare(args, images, budget_dir, cfg, stats)
        except ValueError as error:
            print(f"race: {error}", file=sys.stderr)
            return 2
        label = (lambda name: f"{name}@{images}") if curve else (lambda name: name)
        plan += [(label(name), path, osp.join(budget_dir, name)) for name, path in paths.items()]
    if args.dry_run:
        return 0

    def on_finished():  # with --collect-to, a finished run is copied at once (and the curve
        # or the interim verdict redrawn): a session may end mid-race
        if curve:
            learning_curve(work_dir, budgets, stats.num_images, args.arms[0])
        else:
            interim_verdict(work_dir, args.arms)
        collect(work_dir, args.collect_to)

    failed = train_all(args, plan, on_finished if args.collect_to else None)
    if curve:
        rows = learning_curve(work_dir, budgets, stats.num_images, args.arms[0])
        print(
            f"[race] learning curve: {len(rows)} runs in {work_dir}/learning_curve.csv and "
            "learning_curve.png",
            flush=True,
        )
    else:
        arms = verdict_arms(work_dir, args.arms)
        if arms != list(args.arms):
            print(f"[race] verdict over this work dir's arms: {', '.join(arms)}", flush=True)
        print(write_verdict(work_dir, arms))
        print(
            f"[race] verdict (every metric and class): {work_dir}/verdict.md, verdict.csv, "
            "verdict_ecdf.png, verdict_classes.png (AP per class)"
        )
    if args.collect_to:
        print(f"[race] {collect(work_dir, args.collect_to)} files copied to {args.collect_to}")
    if failed:
        print(f"[race] {len(failed)} run(s) failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
