"""The plugin inside real MMDetection: registry, label extraction, and Runner training runs."""

import json
import os.path as osp

import numpy as np
import pytest
import scipy.sparse as sp
from mmdet.datasets import CocoDataset
from mmdet.registry import DATA_SAMPLERS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.dataset import ClassBalancedDataset, ConcatDataset, RepeatDataset
from mmengine.runner import Runner

import mmdet_balanced
from mmdet_balanced import BalancedQPSampler, label_matrix, solve_balanced_qp
from mmdet_balanced.study.demo_data import FETAL_CLASSES, make_fetal_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
register_all_modules()


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("fetal_demo")
    make_fetal_dataset(str(out), num_train=40, num_val=20, image_size=64, seed=0)
    return str(out)


def coco_dataset(data_root, **kwargs):
    return CocoDataset(
        data_root=data_root,
        ann_file="train.json",
        data_prefix=dict(img="images/"),
        metainfo=dict(classes=FETAL_CLASSES),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=[],
        **kwargs,
    )


def presence_from_json(path):
    data = json.load(open(path))
    index = {image["id"]: i for i, image in enumerate(data["images"])}
    expected = np.zeros((len(index), len(FETAL_CLASSES)))
    for ann in data["annotations"]:
        expected[index[ann["image_id"]], ann["category_id"] - 1] = 1
    return expected


def test_registered_in_mmdet_data_samplers():
    assert DATA_SAMPLERS.get("BalancedQPSampler") is BalancedQPSampler
    assert "label_matrix" in mmdet_balanced.__all__


@pytest.mark.parametrize("serialize", [True, False])
def test_label_matrix_reads_the_annotations(demo_data, serialize):
    dataset = coco_dataset(demo_data, serialize_data=serialize)
    labels = label_matrix(dataset)
    assert sp.isspmatrix_csr(labels) and labels.shape == (40, len(FETAL_CLASSES))
    np.testing.assert_array_equal(
        labels.toarray(), presence_from_json(osp.join(demo_data, "train.json"))
    )


def test_label_matrix_follows_filter_cfg(demo_data, tmp_path):
    data = json.load(open(osp.join(demo_data, "train.json")))
    emptied = {image["id"] for image in data["images"][:5]}  # 5 images without boxes
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] not in emptied]
    json.dump(data, open(tmp_path / "partial.json", "w"))

    def dataset(filter_empty_gt):
        return CocoDataset(
            data_root=demo_data,
            ann_file=str(tmp_path / "partial.json"),
            data_prefix=dict(img="images/"),
            metainfo=dict(classes=FETAL_CLASSES),
            pipeline=[],
            filter_cfg=dict(filter_empty_gt=filter_empty_gt),
        )

    everything = label_matrix(dataset(False)).toarray()
    assert everything.shape[0] == 40 and (everything[:5] == 0).all()
    kept = dataset(True)
    assert len(kept) == 35
    np.testing.assert_array_equal(label_matrix(kept).toarray(), everything[5:])


def test_label_matrix_through_wrappers(demo_data):
    base = label_matrix(coco_dataset(demo_data)).toarray()
    concat = ConcatDataset([coco_dataset(demo_data), coco_dataset(demo_data)])
    np.testing.assert_array_equal(label_matrix(concat).toarray(), np.vstack([base, base]))
    repeat = RepeatDataset(coco_dataset(demo_data), times=3)
    np.testing.assert_array_equal(label_matrix(repeat).toarray(), np.vstack([base] * 3))
    balanced = ClassBalancedDataset(coco_dataset(demo_data), oversample_thr=0.3)
    np.testing.assert_array_equal(label_matrix(balanced).toarray(), base[balanced.repeat_indices])
    lazy = coco_dataset(demo_data, lazy_init=True)
    np.testing.assert_array_equal(label_matrix(lazy).toarray(), base)


def test_sampler_from_config_holds_the_qp_solution(demo_data):
    dataset = coco_dataset(demo_data)
    sampler = DATA_SAMPLERS.build(
        dict(type="BalancedQPSampler", alpha_factor=0.5, lam=50.0),
        default_args=dict(dataset=dataset, seed=0),
    )
    expected = solve_balanced_qp(label_matrix(dataset), alpha_factor=0.5, lam=50.0)
    np.testing.assert_array_equal(sampler.probabilities, expected)
    assert len(sampler) == len(dataset) and len(list(sampler)) == len(dataset)


def tiny_config(name, data_root, work_dir, **overrides):
    cfg = Config.fromfile(osp.join(ROOT, "configs", "fetal_demo", name))
    cfg.merge_from_dict(
        {
            "work_dir": work_dir,
            "train_dataloader.dataset.data_root": data_root,
            "val_dataloader.dataset.data_root": data_root,
            "test_dataloader.dataset.data_root": data_root,
            "train_dataloader.batch_size": 2,
            "train_dataloader.sampler.num_samples": 6,  # 3 iterations per epoch
            "train_cfg.max_epochs": 2,
            "train_cfg.val_interval": 100,
            "default_hooks.logger.interval": 1,
            "default_hooks.checkpoint.interval": 100,
            **overrides,
        }
    )
    return cfg


@pytest.mark.parametrize(
    "config",
    ["yolov3_mobilenetv2_fetal-demo_balanced.py", "faster-rcnn_r18_fpn_fetal-demo_balanced.py"],
)
def test_runner_trains_with_the_balanced_sampler(config, demo_data, tmp_path):
    cfg = tiny_config(config, demo_data, str(tmp_path))
    runner = Runner.from_cfg(cfg)
    sampler = runner.train_dataloader.batch_sampler.sampler
    assert isinstance(sampler, BalancedQPSampler)
    assert type(runner.train_dataloader.batch_sampler).__name__ == "AspectRatioBatchSampler"
    # the config's setting, the paper's (lam=500.0, not the default lam_scale)
    expected = solve_balanced_qp(label_matrix(runner.train_dataloader.dataset), lam=500.0)
    np.testing.assert_array_equal(sampler.probabilities, expected)
    runner.train()
    assert runner.iter == 6 and runner.epoch == 2
    assert sampler.epoch == 1  # the loop moved the sampler to the second epoch's draw
    log = open(osp.join(runner.log_dir, f"{osp.basename(runner.log_dir)}.log")).read()
    assert "BalancedQPSampler: 40 images, 11 classes" in log and "max/min" in log
    assert "loss" in log
    record = json.load(open(osp.join(runner.log_dir, "sampling.json")))
    assert record["classes"] == list(FETAL_CLASSES) and record["num_images"] == 40
    np.testing.assert_allclose([image["p"] for image in record["images"]], expected)
    assert record["images"][0]["key"].endswith(".png")
