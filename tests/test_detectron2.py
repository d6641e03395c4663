"""Detectron2: the balanced sampler trained through real Detectron2 (yacs + BalancedTrainer via
tools/train_detectron2.py, LazyConfig via Detectron2's own tools/lazyconfig_train_net.py),
2-process gloo training, resume, and bad input."""

import importlib.util
import json
import os
import os.path as osp
import socket
import sys

import numpy as np
import pytest
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog
from detectron2.data.datasets import register_coco_instances
from detectron2.engine import default_argument_parser, launch

from mmdet_balanced import solve_balanced_qp
from mmdet_balanced.detectron2 import (
    BalancedTrainer,
    BalancedTrainingSampler,
    build_balanced_train_loader,
    labels_from_dataset_dicts,
)
from mmdet_balanced.study.demo_data import FETAL_CLASSES, make_fetal_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, "configs", "detectron2")
#: Detectron2's own script: the set-up keeps it in .venv/share/detectron2/tools (its wheel
#: has no tools/); $DETECTRON2_TOOLS overrides.
LAZY_TRAIN_NET = osp.join(
    os.environ.get("DETECTRON2_TOOLS", osp.join(sys.prefix, "share", "detectron2", "tools")),
    "lazyconfig_train_net.py",
)
TRAIN = "balanced_d2_test_train"
NUM_CLASSES = len(FETAL_CLASSES)


def load_tool(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_detectron2 = load_tool(osp.join(ROOT, "tools", "train_detectron2.py"), "train_detectron2")


def register_tiny(root):
    """A 24-image fetal-like COCO set (64 px) registered as TRAIN; idempotent per process."""
    if TRAIN not in DatasetCatalog.list():
        register_coco_instances(TRAIN, {}, osp.join(root, "train.json"), osp.join(root, "images"))
    return DatasetCatalog.get(TRAIN)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("d2_data"))
    make_fetal_dataset(root, num_train=24, num_val=20, image_size=64, seed=5)
    return root


def tiny_opts(output_dir, max_iter=3, workers=0, extra=()):
    """Options that make a config in configs/detectron2/ a few CPU iterations on 64 px images."""
    return [
        "DATASETS.TRAIN",
        f"('{TRAIN}',)",
        "DATASETS.TEST",
        "()",
        "MODEL.DEVICE",
        "cpu",
        "MODEL.ROI_HEADS.NUM_CLASSES",
        str(len(FETAL_CLASSES)),
        "MODEL.RETINANET.NUM_CLASSES",
        str(len(FETAL_CLASSES)),
        "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE",
        "32",
        "MODEL.RPN.POST_NMS_TOPK_TRAIN",
        "64",
        "INPUT.MIN_SIZE_TRAIN",
        "(64,)",
        "INPUT.MAX_SIZE_TRAIN",
        "64",
        "SOLVER.IMS_PER_BATCH",
        "2",
        "SOLVER.BASE_LR",
        "0.001",
        "SOLVER.WARMUP_ITERS",
        "0",
        "SOLVER.STEPS",
        "()",
        "SOLVER.MAX_ITER",
        str(max_iter),
        "SOLVER.CHECKPOINT_PERIOD",
        "2",
        "TEST.EVAL_PERIOD",
        "0",
        "DATALOADER.NUM_WORKERS",
        str(workers),
        "DATALOADER.ASPECT_RATIO_GROUPING",
        "False",
        "SEED",
        "7",
        "OUTPUT_DIR",
        str(output_dir),
        *extra,
    ]


class RecordingTrainer(train_detectron2.Trainer):
    """Records the image ids of every batch the model is fed (in its forward, not the loader)."""

    fed = None
    sampler = None

    @classmethod
    def build_train_loader(cls, cfg):
        loader = super().build_train_loader(cfg)
        cls.sampler = loader.balanced_sampler
        return loader

    @classmethod
    def build_model(cls, cfg):
        model = super().build_model(cfg)
        model.register_forward_pre_hook(
            lambda module, args: cls.fed.append([d["image_id"] for d in args[0]])
        )
        return model


def train_with_tool(config, output_dir, monkeypatch, resume=False, **kwargs):
    RecordingTrainer.fed = []
    monkeypatch.setattr(train_detectron2, "Trainer", RecordingTrainer)
    args = train_detectron2.parser().parse_args(
        ["--config-file", osp.join(CONFIGS, config)]
        + (["--resume"] if resume else [])
        + tiny_opts(output_dir, **kwargs)
    )
    train_detectron2.main(args)
    return RecordingTrainer.fed


def stream(sampler, count):
    iterator = iter(sampler)
    return [next(iterator) for _ in range(count)]


def test_labels_from_dataset_dicts_counts_trained_boxes_only():
    dicts = [
        dict(
            file_name="a",
            annotations=[dict(category_id=0), dict(category_id=2), dict(category_id=2)],
        ),
        dict(file_name="b", annotations=[dict(category_id=1, iscrowd=1)]),
        dict(file_name="c", annotations=[]),
        dict(file_name="d", annotations=[dict(category_id=1), dict(category_id=3, ignore=1)]),
    ]
    labels = labels_from_dataset_dicts(dicts)
    assert labels.shape == (4, 3)  # largest counted id + 1
    np.testing.assert_array_equal(labels.toarray(), [[1, 0, 1], [0, 0, 0], [0, 0, 0], [0, 1, 0]])
    assert labels_from_dataset_dicts(dicts, num_classes=5).shape == (4, 5)


@pytest.mark.parametrize(
    "dicts, num_classes, message",
    [
        ([dict(file_name="x.jpg")], None, r"dataset_dicts\[0\] \(x.jpg\) has no 'annotations'"),
        (
            [dict(file_name="y.jpg", annotations=[dict(category_id=4)])],
            3,
            r"category_id 4 outside \[0, 3\).*thing_dataset_id_to_contiguous_id",
        ),
        ([dict(annotations=[dict(category_id=-1)])], None, r"category_id -1 outside"),
        ([dict(annotations=[])], None, "nothing to balance"),
        ([], None, "empty"),
    ],
)
def test_bad_dataset_dicts_are_refused_with_the_fix(dicts, num_classes, message):
    with pytest.raises(ValueError, match=message):
        labels_from_dataset_dicts(dicts, num_classes)


def test_the_balanced_sampler_name_without_add_balanced_config_says_the_fix(data_root):
    register_tiny(data_root)
    cfg = get_cfg()
    cfg.DATASETS.TRAIN = (TRAIN,)
    cfg.DATALOADER.SAMPLER_TRAIN = "BalancedQPSampler"
    with pytest.raises(KeyError, match=r"add_balanced_config\(cfg\)"):
        build_balanced_train_loader(cfg)
    with pytest.raises(ValueError, match="draw='poisson'"):
        BalancedTrainingSampler(DatasetCatalog.get(TRAIN), draw="poisson")


def test_sampler_holds_the_solve_and_its_stream_follows_it(data_root):
    dicts = register_tiny(data_root)
    sampler = BalancedTrainingSampler(
        dicts, num_classes=len(FETAL_CLASSES), seed=3, lam_scale=0.404
    )
    expected = solve_balanced_qp(
        labels_from_dataset_dicts(dicts, len(FETAL_CLASSES)), lam_scale=0.404
    )
    assert sampler.probabilities.tobytes() == expected.tobytes()
    n, chunks = len(dicts), 400
    drawn = np.asarray(stream(sampler, n * chunks)).reshape(chunks, n)
    counts = np.stack([np.bincount(chunk, minlength=n) for chunk in drawn])
    assert np.all(counts >= np.floor(n * expected) - 1e-9)  # systematic: floor/ceil per chunk
    assert np.all(counts <= np.ceil(n * expected) + 1e-9)
    np.testing.assert_allclose(counts.mean(axis=0), n * expected, atol=0.08)
    assert stream(sampler, 50) == stream(
        BalancedTrainingSampler(dicts, seed=3, lam_scale=0.404, num_classes=NUM_CLASSES), 50
    )


@pytest.mark.parametrize(
    "config", ["faster_rcnn_R_18_FPN_balanced.yaml", "retinanet_R_18_FPN_balanced.yaml"]
)
def test_balanced_trainer_trains_and_feeds_the_sampler_stream(
    config, data_root, tmp_path, monkeypatch
):
    dicts = register_tiny(data_root)
    assert issubclass(train_detectron2.Trainer, BalancedTrainer)
    fed = train_with_tool(config, tmp_path, monkeypatch, max_iter=3)
    record = json.load(open(tmp_path / "sampling.json"))
    expected = solve_balanced_qp(
        labels_from_dataset_dicts(dicts, len(FETAL_CLASSES)), lam_scale=0.404
    )
    np.testing.assert_array_equal([image["p"] for image in record["images"]], expected)
    assert record["classes"] == list(FETAL_CLASSES)  # names from MetadataCatalog
    metrics = [json.loads(line) for line in open(tmp_path / "metrics.json")]
    assert metrics[-1]["iteration"] == 2 and np.isfinite(metrics[-1]["total_loss"])
    single = BalancedTrainingSampler(dicts, num_classes=len(FETAL_CLASSES), seed=7, lam_scale=0.404)
    ids = [dicts[i]["image_id"] for i in stream(single, 6)]
    assert fed == [ids[0:2], ids[2:4], ids[4:6]]  # what the model saw is the balanced stream


def test_resume_continues_the_balanced_stream(data_root, tmp_path, monkeypatch):
    register_tiny(data_root)
    config = "faster_rcnn_R_18_FPN_balanced.yaml"
    uninterrupted = train_with_tool(config, tmp_path / "full", monkeypatch, max_iter=4)
    first = train_with_tool(config, tmp_path / "cut", monkeypatch, max_iter=2)
    resumed = train_with_tool(config, tmp_path / "cut", monkeypatch, max_iter=4, resume=True)
    assert first == uninterrupted[:2]
    assert resumed == uninterrupted[2:]  # not a restart of the stream


def ddp_worker(data_root, output_dir):
    """One rank of 2 gloo processes: the real train loader of tools/train_detectron2.py's config
    (2 loader workers; SEED -1: the sampler's seed is a random one shared by the ranks), its
    first 4 batches. (Detectron2's DefaultTrainer cannot wrap a CPU model in DDP: it passes
    device_ids=[local_rank].)"""
    register_tiny(data_root)
    args = train_detectron2.parser().parse_args(
        ["--config-file", osp.join(CONFIGS, "retinanet_R_18_FPN_balanced.yaml")]
        + tiny_opts(output_dir, workers=2, extra=["SEED", "-1"])
    )
    loader = build_balanced_train_loader(train_detectron2.setup(args))
    sampler = loader.balanced_sampler
    batches = iter(loader)
    fed = [[d["image_id"] for d in next(batches)] for _ in range(4)]
    with open(osp.join(output_dir, f"rank{sampler.rank}.json"), "w") as handle:
        json.dump(
            dict(
                fed=fed,
                seed=sampler.seed,
                world=sampler.world_size,
                p=sampler.probabilities.tolist(),
                indices=stream(sampler, 20),
            ),
            handle,
        )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_take_disjoint_slices_of_one_stream(data_root, tmp_path):
    launch(
        ddp_worker, 2, dist_url=f"tcp://127.0.0.1:{free_port()}", args=(data_root, str(tmp_path))
    )
    ranks = [json.load(open(tmp_path / f"rank{r}.json")) for r in range(2)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["seed"] == ranks[1]["seed"] and ranks[0]["p"] == ranks[1]["p"]
    dicts = register_tiny(data_root)
    single = stream(
        BalancedTrainingSampler(
            dicts, num_classes=NUM_CLASSES, seed=ranks[0]["seed"], lam_scale=0.404
        ),
        40,
    )
    interleaved = [ranks[i % 2]["indices"][i // 2] for i in range(40)]
    assert interleaved == single
    # what each rank's loader yields (1 image per rank and step, 2 workers): its slice, in order
    ids = [dicts[i]["image_id"] for i in single]
    assert ranks[0]["fed"] == [[ids[0]], [ids[2]], [ids[4]], [ids[6]]]
    assert ranks[1]["fed"] == [[ids[1]], [ids[3]], [ids[5]], [ids[7]]]


def lazy_train_net():
    assert osp.exists(LAZY_TRAIN_NET), (
        f"{LAZY_TRAIN_NET} is missing: tools/setup_env.sh copies Detectron2's tools there"
    )
    return load_tool(LAZY_TRAIN_NET, "lazyconfig_train_net")


@pytest.mark.parametrize(
    "config, classes_key",
    [
        ("retinanet_R_18_FPN_balanced_lazy.py", "model.num_classes"),
        ("faster_rcnn_R_18_FPN_balanced_lazy.py", "model.roi_heads.num_classes"),
    ],
)
def test_lazyconfig_train_net_trains_with_the_balanced_sampler(
    config, classes_key, data_root, tmp_path
):
    tool = lazy_train_net()
    dicts = register_tiny(data_root)
    config = osp.join(CONFIGS, config)
    args = default_argument_parser().parse_args(
        [
            "--config-file",
            config,
            f"dataloader.train.dataset.names={TRAIN}",
            f"{classes_key}={NUM_CLASSES}",
            "train.device=cpu",
            "train.max_iter=2",
            "train.eval_period=0",
            "train.checkpointer.period=100",
            "dataloader.train.total_batch_size=2",
            "dataloader.train.num_workers=0",
            f"train.output_dir={tmp_path}",
            "dataloader.train.sampler.seed=5",
            "dataloader.train.mapper.augmentations.0.short_edge_length=64",
            "dataloader.train.mapper.augmentations.0.max_size=64",
            f"dataloader.test.dataset.names={TRAIN}",
            "dataloader.test.num_workers=0",
            "dataloader.test.mapper.augmentations.0.short_edge_length=64",
            "dataloader.test.mapper.augmentations.0.max_size=64",
        ]
    )
    tool.main(args)  # trains, then evaluates (COCOEvaluator) at the end
    record = json.load(open(tmp_path / "sampling.json"))
    expected = solve_balanced_qp(labels_from_dataset_dicts(dicts, NUM_CLASSES), lam_scale=0.404)
    np.testing.assert_array_equal([image["p"] for image in record["images"]], expected)
    metrics = [json.loads(line) for line in open(tmp_path / "metrics.json")]
    losses = [m for m in metrics if "total_loss" in m]
    assert losses[-1]["iteration"] == 1 and np.isfinite(losses[-1]["total_loss"])
    assert any("bbox/AP" in m for m in metrics)  # do_test ran COCOEvaluator at the end


analyze_sampling = load_tool(osp.join(ROOT, "tools", "analyze_sampling.py"), "analyze_sampling")


@pytest.mark.parametrize("source", ["yacs", "lazy", "name"])
def test_analyze_sampling_reads_detectron2_configs_and_datasets(source, data_root, tmp_path):
    dicts = register_tiny(data_root)
    config = {
        "yacs": osp.join(CONFIGS, "faster_rcnn_R_18_FPN_balanced.yaml"),
        "lazy": osp.join(CONFIGS, "retinanet_R_18_FPN_balanced_lazy.py"),
        "name": TRAIN,
    }[source]
    options = {
        "yacs": ["--cfg-options", f"DATASETS.TRAIN=('{TRAIN}',)"],
        "lazy": ["--cfg-options", f"dataloader.train.dataset.names={TRAIN}"],
        "name": [],
    }[source]
    assert (
        analyze_sampling.main([config, "--out-dir", str(tmp_path), "--sim-epochs", "20", *options])
        == 0
    )
    summary = json.load(open(tmp_path / "summary.json"))
    assert summary["classes"] == list(FETAL_CLASSES)
    rows = {row["sampler"]: row for row in summary["samplers"]}
    labels = labels_from_dataset_dicts(dicts, NUM_CLASSES)
    settings = {} if source == "name" else dict(lam_scale=0.404)  # the config's settings
    assert summary["balanced_settings"].get("lam_scale") == settings.get("lam_scale")
    expected = np.asarray(labels.T @ solve_balanced_qp(labels, **settings)).ravel() * len(dicts)
    np.testing.assert_allclose(rows["balanced"]["class_draws"], expected, rtol=1e-9)
    # Detectron2's rule: r_c = max(1, sqrt(t / f_c)), t = --rfs-thr 0.1; an image its max
    fraction = np.asarray(labels.sum(axis=0)).ravel() / len(dicts)
    factor = np.maximum(1, np.sqrt(0.1 / fraction))
    repeats = np.maximum(labels.multiply(factor).max(axis=1).toarray().ravel(), 1)
    np.testing.assert_allclose(
        rows["d2_repeat_factor"]["class_draws"], labels.T @ repeats, rtol=1e-9
    )
    assert rows["d2_repeat_factor"]["draw"] == "stochastic_round"


def test_model_zoo_config_trains_with_the_readme_keys_and_register_file(data_root, tmp_path):
    """A user's first try: Detectron2's own model-zoo Faster R-CNN R-50 FPN, the README's keys
    (sampler, lam_scale, CPU, from-scratch BN), datasets registered by a .py file given as a
    path (no PYTHONPATH), run from another directory."""
    import subprocess

    from detectron2 import model_zoo

    register = tmp_path / "my_datasets.py"
    register.write_text(
        "from detectron2.data.datasets import register_coco_instances\n"
        f"register_coco_instances('my_train', {{}}, {osp.join(data_root, 'train.json')!r}, "
        f"{osp.join(data_root, 'images')!r})\n"
    )
    out = tmp_path / "out"
    command = [
        sys.executable,
        osp.join(ROOT, "tools", "train_detectron2.py"),
        "--register",
        str(register),
        "--config-file",
        model_zoo.get_config_file("COCO-Detection/faster_rcnn_R_50_FPN_1x.yaml"),
        "DATALOADER.SAMPLER_TRAIN",
        "BalancedQPSampler",
        "DATALOADER.BALANCED.LAM_SCALE",
        "0.404",
        "DATASETS.TRAIN",
        "('my_train',)",
        "DATASETS.TEST",
        "()",
        "MODEL.ROI_HEADS.NUM_CLASSES",
        str(NUM_CLASSES),
        "MODEL.DEVICE",
        "cpu",
        "MODEL.WEIGHTS",
        "",
        "MODEL.RESNETS.NORM",
        "BN",
        "INPUT.MIN_SIZE_TRAIN",
        "(64,)",
        "INPUT.MAX_SIZE_TRAIN",
        "64",
        "SOLVER.IMS_PER_BATCH",
        "2",
        "SOLVER.MAX_ITER",
        "2",
        "SOLVER.WARMUP_ITERS",
        "0",
        "SOLVER.STEPS",
        "()",
        "DATALOADER.NUM_WORKERS",
        "0",
        "OUTPUT_DIR",
        str(out),
    ]
    result = subprocess.run(command, cwd=str(tmp_path.parent), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.load(open(out / "sampling.json"))
    assert record["lam_source"] == "lam_scale"
    assert record["lam"] == pytest.approx(0.404 * record["num_images"])


def test_register_takes_a_module_name_from_the_current_directory(tmp_path, monkeypatch):
    from mmdet_balanced.detectron2.datasets import import_registration

    (tmp_path / "my_registrations.py").write_text("REGISTERED = 'yes'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert import_registration("my_registrations").REGISTERED == "yes"
    with pytest.raises(ModuleNotFoundError, match=r"--register my_registratons: no module"):
        import_registration("my_registratons")
    with pytest.raises(FileNotFoundError, match=r"--register missing.py: no such file"):
        import_registration("missing.py")


def test_lazyconfig_resume_continues_the_balanced_stream(data_root, tmp_path, monkeypatch):
    """Detectron2's own lazyconfig_train_net.py, interrupted after 2 iterations and resumed:
    the images fed after the resume are those the uninterrupted run fed."""
    from detectron2.modeling.meta_arch import RetinaNet

    tool = lazy_train_net()
    register_tiny(data_root)
    fed, forward = [], RetinaNet.forward

    def recording_forward(self, batched_inputs):
        if self.training:
            fed.append([d["image_id"] for d in batched_inputs])
        return forward(self, batched_inputs)

    monkeypatch.setattr(RetinaNet, "forward", recording_forward)
    monkeypatch.setattr(tool, "do_test", lambda cfg, model: {})  # training only

    def run(output_dir, max_iter, resume=False):
        fed.clear()
        tool.main(
            default_argument_parser().parse_args(
                ["--config-file", osp.join(CONFIGS, "retinanet_R_18_FPN_balanced_lazy.py")]
                + (["--resume"] if resume else [])
                + [
                    f"dataloader.train.dataset.names={TRAIN}",
                    f"model.num_classes={NUM_CLASSES}",
                    "train.device=cpu",
                    f"train.max_iter={max_iter}",
                    "train.eval_period=0",
                    "train.checkpointer.period=2",
                    "dataloader.train.total_batch_size=2",
                    "dataloader.train.num_workers=0",
                    f"train.output_dir={output_dir}",
                    "dataloader.train.sampler.seed=5",
                    "dataloader.train.mapper.augmentations.0.short_edge_length=64",
                    "dataloader.train.mapper.augmentations.0.max_size=64",
                ]
            )
        )
        return list(fed)

    uninterrupted = run(tmp_path / "full", 4)
    first = run(tmp_path / "cut", 2)
    resumed = run(tmp_path / "cut", 4, resume=True)
    assert len(uninterrupted) == 4 and first == uninterrupted[:2]
    assert resumed == uninterrupted[2:]  # not a restart of the stream
