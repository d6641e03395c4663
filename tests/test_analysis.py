"""tools/analyze_sampling.py and the sampler models it compares, against MMDetection's own."""

import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmdet.datasets.samplers import ClassAwareSampler
from mmengine.dataset import ClassBalancedDataset

from mmdet_balanced import label_matrix
from mmdet_balanced.study.analysis import class_aware_scheme, repeat_factor_repeats
from mmdet_balanced.study.demo_data import make_fetal_dataset
from tests.test_mmdet_integration import coco_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    make_fetal_dataset(str(root), num_train=120, num_val=20, image_size=32, seed=3)
    return str(root)


@pytest.mark.parametrize("threshold", [0.05, 0.2, 0.5])
def test_repeat_factor_rule_matches_class_balanced_dataset(demo_root, threshold):
    dataset = coco_dataset(demo_root)
    wrapped = ClassBalancedDataset(coco_dataset(demo_root), oversample_thr=threshold)
    expected = np.bincount(wrapped.repeat_indices, minlength=len(dataset))
    np.testing.assert_array_equal(repeat_factor_repeats(label_matrix(dataset), threshold), expected)


def test_class_aware_model_matches_the_real_sampler(demo_root):
    dataset = coco_dataset(demo_root)
    sampler = ClassAwareSampler(dataset, seed=0)
    counts = np.zeros(len(dataset))
    for epoch in range(60):
        sampler.set_epoch(epoch)
        counts += np.bincount(list(sampler), minlength=len(dataset))
    labels = label_matrix(dataset)
    expected = labels.T @ class_aware_scheme(labels).p
    empirical = labels.T @ (counts / counts.sum())
    np.testing.assert_allclose(empirical, expected, rtol=0.08)


def test_analyze_sampling_tool_end_to_end(demo_root, tmp_path):
    config = osp.join(ROOT, "configs", "fetal_demo", "yolov3_mobilenetv2_fetal-demo_balanced.py")
    result = subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, "tools", "analyze_sampling.py"),
            config,
            "--out-dir",
            str(tmp_path),
            "--cfg-options",
            f"train_dataloader.dataset.data_root={demo_root}/",
            "train_dataloader.sampler.lam=50.0",
            "--sweep",
            "--alphas",
            "0",
            "0.5",
            "1",
            "--lams",
            "0",
            "50",
            "500",
            "--epochs",
            "2",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "[sweep] 9/9 points" in result.stdout
    summary = json.load(open(tmp_path / "summary.json"))
    by_name = {s["sampler"]: s for s in summary["samplers"]}
    assert set(by_name) == {
        "uniform",
        "balanced",
        "maxmin",
        "instances",
        "oversampling",
        "class_aware",
        "repeat_factor",
        "irfs",
    }
    for row in by_name.values():  # both balances for every sampler
        assert {"box_max_min_ratio", "box_cv", "class_boxes"} <= set(row)
    assert "Expected boxes per epoch of each class" in result.stdout
    assert summary["balanced_settings"] == {"alpha_factor": 0.5, "lam": 50.0}
    assert by_name["balanced"]["max_min_ratio"] < by_name["uniform"]["max_min_ratio"]
    assert by_name["uniform"]["coverage"] == 1.0 and by_name["balanced"]["coverage"] < 1.0
    # the config's draw (this paper config says "iid") is what coverage and simulation describe
    assert by_name["balanced"]["draw"] == "iid" and by_name["uniform"]["draw"] == "fixed"
    assert by_name["balanced"]["coverage"] == pytest.approx(
        by_name["balanced"]["simulated_coverage"], abs=0.05
    )
    assert by_name["balanced"]["median_epoch_max_min"] < by_name["uniform"]["median_epoch_max_min"]
    for line in result.stdout.splitlines():  # advice never points at the setting in use
        if line.startswith("WARNING: with maxmin"):
            assert "objective='maxmin' lifts" not in line
    assert by_name["balanced"]["min_p_times_n"] == pytest.approx(0.5)
    heart = summary["classes"].index("heart")
    assert (
        by_name["oversampling"]["class_draws"][heart]
        == 5 * by_name["uniform"]["class_draws"][heart]
    )
    sweep = json.load(open(tmp_path / "sweep.json"))
    assert len(sweep) == 9
    uniform_point = next(r for r in sweep if r["alpha_factor"] == 1)
    assert uniform_point["max_min_ratio"] == pytest.approx(by_name["uniform"]["max_min_ratio"])
    for name in ("class_draws.png", "sweep_heatmaps.png", "summary.csv", "class_draws.csv"):
        assert (tmp_path / name).stat().st_size > 0


def test_analyze_sampling_counts_distinct_images_of_a_repeated_dataset(demo_root, tmp_path):
    from mmengine.config import Config

    cfg = Config.fromfile(
        osp.join(ROOT, "configs", "fetal_demo", "yolov3_mobilenetv2_fetal-demo_balanced.py")
    )
    cfg.train_dataloader.dataset.data_root = demo_root + "/"
    cfg.train_dataloader.dataset = dict(
        type="RepeatDataset", times=10, dataset=cfg.train_dataloader.dataset
    )
    config = str(tmp_path / "repeated.py")
    cfg.dump(config)
    result = subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, "tools", "analyze_sampling.py"),
            config,
            "--out-dir",
            str(tmp_path / "out"),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "RepeatDataset) has 1200 indices for 120 distinct images" in result.stdout
    summary = json.load(open(tmp_path / "out" / "summary.json"))
    assert summary["num_images"] == 120
    by_name = {s["sampler"]: s for s in summary["samplers"]}
    assert by_name["uniform"]["coverage"] == 1.0  # every distinct image, not a tenth of them
