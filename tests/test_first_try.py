"""A user's first try: the README's lines on MMDetection's own official configs, wrong class
names caught before training, the lambda used reported as used."""

import json
import logging
import os.path as osp

import mmdet
import pytest
from mmdet.datasets import CocoDataset
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mmdet_balanced import BalancedQPSampler, solve_balanced_qp
from mmdet_balanced.study.demo_data import FETAL_CLASSES, make_fetal_dataset
from tests.test_mmdet_integration import coco_dataset

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), ".mim", "configs")
# What the README tells a user to add to their config (the section "Use it in your config").
README_LINES = dict(
    custom_imports=dict(imports=["mmdet_balanced"], allow_failed_imports=False),
    train_dataloader=dict(
        sampler=dict(type="BalancedQPSampler", alpha_factor=0.5, lam_scale=0.404)
    ),
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("first_try")
    make_fetal_dataset(str(root), num_train=24, num_val=20, image_size=64, seed=0)
    return str(root)


def _innermost(dataset_cfg):
    while "dataset" in dataset_cfg:  # RepeatDataset & co.
        dataset_cfg = dataset_cfg["dataset"]
    return dataset_cfg


def _small(pipeline):
    for transform in pipeline:
        if transform["type"] in ("Resize", "RandomResize"):
            transform["scale"] = (96, 96)
        if transform["type"] == "Expand":
            transform["ratio_range"] = (1, 1.2)


def point_at_tiny_data(cfg, data_root, work_dir):
    """What every user does to an official config: their data, classes, no download, and (for
    the test) a few iterations on small images."""
    dataset = _innermost(cfg.train_dataloader.dataset)
    dataset.update(
        data_root=data_root + "/",
        ann_file="train.json",
        data_prefix=dict(img="images/"),
        metainfo=dict(classes=FETAL_CLASSES),
    )
    _small(dataset.pipeline)
    head = cfg.model.get("roi_head", {}).get("bbox_head") or cfg.model.bbox_head
    head.num_classes = len(FETAL_CLASSES)
    cfg.model.backbone.init_cfg = None  # offline: no ImageNet download
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=2)
    cfg.param_scheduler = []
    cfg.val_dataloader, cfg.val_cfg, cfg.val_evaluator = None, None, None
    cfg.test_dataloader, cfg.test_cfg, cfg.test_evaluator = None, None, None
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=1000)
    cfg.work_dir = str(work_dir)


@pytest.mark.parametrize(
    "config",
    [
        "yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py",
        "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
    ],
)
def test_readme_lines_train_an_official_mmdetection_config(config, data_root, tmp_path):
    cfg = Config.fromfile(osp.join(MMDET_CONFIGS, config))
    assert cfg.train_dataloader.sampler == dict(type="DefaultSampler", shuffle=True)
    cfg.merge_from_dict(README_LINES)  # merges into DefaultSampler(shuffle=True), as a user's
    assert cfg.train_dataloader.sampler.shuffle is True
    point_at_tiny_data(cfg, data_root, tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    sampler = runner.train_dataloader.batch_sampler.sampler
    assert isinstance(sampler, BalancedQPSampler)
    record = json.load(open(osp.join(runner.log_dir, "sampling.json")))
    assert record["lam_source"] == "lam_scale"
    assert record["lam"] == pytest.approx(0.404 * record["num_images"])


def test_shuffle_false_is_refused_with_the_reason(data_root):
    with pytest.raises(ValueError, match=r"shuffle=False cannot be honoured.*DefaultSampler"):
        BalancedQPSampler(coco_dataset(data_root), shuffle=False)


def _misspelt(data_root, classes):
    return CocoDataset(
        data_root=data_root,
        ann_file="train.json",
        data_prefix=dict(img="images/"),
        metainfo=dict(classes=classes),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=[],
    )


def test_misspelt_class_names_fail_with_the_names_in_the_log(data_root, tmp_path):
    classes = tuple(
        "hart" if c == "heart" else "femurr" if c == "femur" else c for c in FETAL_CLASSES
    )
    log_file = tmp_path / "run.log"
    MMLogger.get_instance("misspelt", log_file=str(log_file))
    with pytest.raises(
        ValueError, match=r"classes \['femurr', 'hart'\] are not categories"
    ) as error:
        BalancedQPSampler(_misspelt(data_root, classes), lam_scale=0.404)
    assert "allow_empty_classes=True" in str(error.value)
    log = log_file.read_text()
    assert "configured classes ['femurr', 'hart'] are not categories" in log
    assert "labels of the classes after them shift" in log
    assert "annotated categories ['femur', 'heart'] have boxes" in log
    # opted out: trains, still says so by name in the log
    sampler = BalancedQPSampler(
        _misspelt(data_root, classes), lam_scale=0.404, allow_empty_classes=True
    )
    assert sampler.solve_info.class_frequencies[classes.index("hart")] == 0.0
    assert log_file.read_text().count("'hart'") >= 2

    # a category present in the file with no box at all is named too
    empty = tuple(FETAL_CLASSES) + ("placenta",)
    with pytest.raises(ValueError, match=r"configured classes \['placenta'\] are not categories"):
        BalancedQPSampler(_misspelt(data_root, empty))


def test_the_lambda_used_is_the_one_reported(data_root, tmp_path, caplog):
    labels = [[1, 0], [0, 1], [1, 1]]
    _, info = solve_balanced_qp(labels, lam_scale=0.5, return_info=True)
    assert (info.lam, info.lam_source) == (1.5, "lam_scale")
    _, info = solve_balanced_qp(labels, return_info=True)
    assert (info.lam, info.lam_source) == (3 * 500.0 / 1237.0, "default")  # the paper's lam_scale
    assert info.lam_text(3) == (
        f"lam={1500 / 1237:.6g} (the default lam_scale=0.4042 x N=3, the paper's 500 at "
        "N = 1237; neither lam nor lam_scale set)"
    )
    _, info = solve_balanced_qp(labels, lam=2.0, return_info=True)
    assert (info.lam, info.lam_source) == (2.0, "lam")
    with pytest.raises(ValueError, match=r"lam=-1 and lam_scale=0.404 are both set"):
        solve_balanced_qp(labels, lam=-1, lam_scale=0.404)
    with pytest.raises(ValueError, match=r"lam=-1 is out of range"):
        solve_balanced_qp(labels, lam=-1)
    log_file = tmp_path / "lam.log"
    MMLogger.get_instance("lam_log", log_file=str(log_file), log_level=logging.INFO)
    sampler = BalancedQPSampler(coco_dataset(data_root), lam_scale=0.404)
    n = len(sampler.probabilities)
    assert f"lam={0.404 * n:.6g} (lam_scale=0.404 x N={n})" in log_file.read_text()
    assert "lam=500" not in log_file.read_text()
