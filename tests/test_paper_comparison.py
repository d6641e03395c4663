"""The paper's comparison: oversampling baseline, per-class AP metric, repeated runs, KS tool."""

import csv
import io
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from mmdet.structures import DetDataSample
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData
from scipy.stats import ks_2samp, mannwhitneyu

from mmdet_balanced import ClassAPMetric, OversamplingSampler
from mmdet_balanced.mmdetection.samplers import oversampling_repeats
from mmdet_balanced.study.demo_data import make_fetal_dataset
from tests.test_mmdet_integration import coco_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_oversampling_takes_the_largest_factor():
    labels = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 0]]))
    repeats = oversampling_repeats(labels, ("a", "b", "c"), dict(b=2, c=5))
    np.testing.assert_array_equal(repeats, [1, 2, 5, 1])
    with pytest.raises(ValueError, match=r"unknown classes \['hart'\]"):
        oversampling_repeats(labels, ("a", "b", "c"), dict(hart=5))
    with pytest.raises(ValueError, match=r"factors\['b'\] must be an integer >= 1"):
        oversampling_repeats(labels, ("a", "b", "c"), dict(b=1.5))
    with pytest.raises(TypeError, match="factors must be a non-empty dict"):
        oversampling_repeats(labels, ("a", "b", "c"), ["b"])


def test_oversampling_side_effect_on_main_anatomies(tmp_path):
    """The paper's finding: duplicating cerebellum and heart images also raises head and
    abdomen (their main anatomies), visible in the sampler's logged frequencies."""
    make_fetal_dataset(str(tmp_path), num_train=300, num_val=20, image_size=32, seed=1)
    dataset = coco_dataset(str(tmp_path))
    log_file = tmp_path / "sampler.log"
    MMLogger.get_instance("oversampling_test", log_file=str(log_file))
    sampler = OversamplingSampler(dataset, factors=dict(cerebellum=2, heart=5), seed=0)
    lines = {
        line.split()[0]: line.split()
        for line in log_file.read_text().splitlines()
        if line.split() and line.split()[0] in ("head", "abdomen", "femur", "heart")
    }
    uniform, oversampled = ({k: float(v[i]) for k, v in lines.items()} for i in (1, 2))
    assert oversampled["head"] > uniform["head"] and oversampled["abdomen"] > uniform["abdomen"]
    assert oversampled["heart"] == 5 * uniform["heart"]
    assert oversampled["femur"] == uniform["femur"]  # no chosen class inside a femur view
    drawn = np.bincount(list(sampler), minlength=len(dataset))
    np.testing.assert_array_equal(drawn, sampler.repeats)  # each image exactly r_i times


def sample(boxes, labels, scores=None):
    data = DetDataSample()
    gt = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32), labels=torch.tensor(labels))
    data.gt_instances = gt
    data.ignored_instances = InstanceData(
        bboxes=torch.zeros((0, 4)), labels=torch.zeros(0, dtype=torch.long)
    )
    if scores is not None:
        data.pred_instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            labels=torch.tensor(labels),
            scores=torch.tensor(scores),
        )
    return data.to_dict()


def test_class_ap_metric_reports_every_class_at_each_threshold():
    metric = ClassAPMetric(iou_thrs=[0.2, 0.4])
    metric.dataset_meta = dict(classes=("a", "b", "c"))
    perfect = sample([[0, 0, 10, 10], [20, 20, 40, 40]], [0, 1], [0.9, 0.8])
    missed = sample([[0, 0, 10, 10], [20, 20, 40, 40]], [0, 1], None)
    missed["pred_instances"] = dict(
        bboxes=torch.tensor([[0.0, 0, 10, 10]]),
        labels=torch.tensor([0]),
        scores=torch.tensor([0.9]),
    )
    metric.process({}, [perfect, missed])
    result = metric.evaluate(2)
    assert result["class_ap/AP@0.2/a"] == pytest.approx(1.0)
    assert result["class_ap/AP@0.4/b"] == pytest.approx(0.5)  # found in 1 image of 2
    assert "class_ap/AP@0.2/c" not in result  # no ground truth: not reported
    assert result["class_ap/mAP@0.2"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="iou_thrs"):
        ClassAPMetric(iou_thrs=[1.5])


@pytest.fixture(scope="module")
def repeated_runs(tmp_path_factory):
    """Two series of 2 tiny YOLOv3 runs each, trained and tested by tools/train_repeats.py."""
    root = tmp_path_factory.mktemp("repeats")
    data = root / "data"
    make_fetal_dataset(str(data), num_train=24, num_val=20, image_size=64, seed=0)
    options = [
        f"train_dataloader.dataset.data_root={data}/",
        f"val_dataloader.dataset.data_root={data}/",
        f"test_dataloader.dataset.data_root={data}/",
        "train_dataloader.batch_size=4",
        "train_cfg.max_epochs=1",
        "train_cfg.val_interval=1",
        "default_hooks.logger.interval=1",
    ]
    series = {}
    # uniform: sequential, 1 thread per run; uniform_parallel: the same seeds 2 at a time
    for name, method, jobs in (
        ("uniform", "uniform", []),
        ("balanced", "balanced", []),
        ("uniform_parallel", "uniform", ["--jobs", "2"]),
    ):
        config = osp.join(
            ROOT, "configs", "fetal_demo", f"yolov3_mobilenetv2_fetal-demo_{method}.py"
        )
        work_dir = root / name
        subprocess.run(
            [
                sys.executable,
                osp.join(ROOT, "tools", "train_repeats.py"),
                config,
                "--runs",
                "2",
                "--work-dir",
                str(work_dir),
                "--threads",
                "1",
                *jobs,
                "--cfg-options",
                *options,
            ],
            check=True,
            cwd=ROOT,
        )
        series[name] = work_dir
    return series


def test_parallel_runs_give_the_sequential_metrics(repeated_runs):
    for k in (0, 1):
        sequential = json.load(
            open(repeated_runs["uniform"] / f"run_{k:02d}" / "test_metrics.json")
        )["metrics"]
        parallel = json.load(
            open(repeated_runs["uniform_parallel"] / f"run_{k:02d}" / "test_metrics.json")
        )["metrics"]
        assert parallel.keys() == sequential.keys()
        for key in sequential:  # same seed, same threads: the same training, bit for bit
            assert parallel[key] == sequential[key], key
        log = open(repeated_runs["uniform_parallel"] / f"run_{k:02d}" / "train_repeats.log").read()
        assert "Epoch(test)" in log  # each job's output went to its own log


def test_train_repeats_writes_seeded_runs_and_skips_finished_ones(repeated_runs):
    work_dir = repeated_runs["balanced"]
    records = [json.load(open(work_dir / f"run_{k:02d}" / "test_metrics.json")) for k in (0, 1)]
    assert [r["seed"] for r in records] == [0, 1]
    assert "class_ap/AP@0.2/heart" in records[0]["metrics"]
    before = (work_dir / "run_00" / "test_metrics.json").stat().st_mtime_ns
    out = subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, "tools", "train_repeats.py"),
            "configs/fetal_demo/yolov3_mobilenetv2_fetal-demo_balanced.py",
            "--runs",
            "2",
            "--work-dir",
            str(work_dir),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    assert out.count("finished, skipped") == 2
    assert (work_dir / "run_00" / "test_metrics.json").stat().st_mtime_ns == before


def test_compare_runs_statistics_equal_numpy_and_scipy(repeated_runs, tmp_path):
    broken = tmp_path / "balanced_extra" / "run_09"
    broken.mkdir(parents=True)  # a run that never wrote metrics: reported, not counted
    command = [
        sys.executable,
        osp.join(ROOT, "tools", "compare_runs.py"),
        "--group",
        f"uniform={repeated_runs['uniform']}",
        "--group",
        f"balanced={repeated_runs['balanced']}",
        "--group",
        f"balanced={tmp_path / 'balanced_extra'}",
        "--format",
        "csv",
        "--plot",
        str(tmp_path / "ecdf.png"),
    ]
    result = subprocess.run(command, check=True, cwd=ROOT, capture_output=True, text=True)
    assert f"left out {broken}" in result.stderr
    rows = {row["metric"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    values = {
        m: [
            json.load(open(repeated_runs[m] / f"run_{k:02d}" / "test_metrics.json"))["metrics"]
            for k in (0, 1)
        ]
        for m in ("uniform", "balanced")
    }
    for metric in ("class_ap/mAP@0.2", "class_ap/AP@0.4/head"):
        for group in ("uniform", "balanced"):
            numbers = np.array([run[metric] for run in values[group]])
            assert float(rows[metric][f"{group} mean"]) == pytest.approx(numbers.mean())
            assert float(rows[metric][f"{group} std"]) == pytest.approx(
                numbers.std(ddof=1), nan_ok=True
            )
            assert float(rows[metric][f"{group} best"]) == pytest.approx(numbers.max())
            assert int(rows[metric][f"{group} n"]) == 2
        a = np.array([r[metric] for r in values["uniform"]])
        b = np.array([r[metric] for r in values["balanced"]])
        reference = ks_2samp(a, b)
        assert float(rows[metric]["KS D uniform-balanced"]) == pytest.approx(reference.statistic)
        assert float(rows[metric]["KS p uniform-balanced"]) == pytest.approx(reference.pvalue)
        mw = mannwhitneyu(b, a, alternative="two-sided")
        assert float(rows[metric]["MW U uniform-balanced"]) == pytest.approx(mw.statistic)
        assert float(rows[metric]["MW p uniform-balanced"]) == pytest.approx(mw.pvalue)
        assert float(rows[metric]["diff uniform-balanced"]) == pytest.approx(b.mean() - a.mean())
        rng = np.random.default_rng(0)  # the documented bootstrap: seed 0, 10000 resamples
        means_a = a[rng.integers(0, a.size, size=(10000, a.size))].mean(axis=1)
        means_b = b[rng.integers(0, b.size, size=(10000, b.size))].mean(axis=1)
        low, high = np.percentile(means_b - means_a, [2.5, 97.5])
        assert float(rows[metric]["CI low uniform-balanced"]) == pytest.approx(low)
        assert float(rows[metric]["CI high uniform-balanced"]) == pytest.approx(high)
        delta = np.mean([np.sign(y - x) for x in a for y in b])
        assert float(rows[metric]["Cliff d uniform-balanced"]) == pytest.approx(delta)
    # Holm over every test in the table, for each of KS and Mann-Whitney
    for label in ("KS p", "MW p"):
        raw = np.array([float(r[f"{label} uniform-balanced"]) for r in rows.values()])
        adjusted = np.array([float(r[f"{label} Holm uniform-balanced"]) for r in rows.values()])
        order = np.argsort(raw, kind="stable")
        expected = np.empty_like(raw)
        running = 0.0
        for rank, index in enumerate(order):
            running = max(running, min(1.0, (len(raw) - rank) * raw[index]))
            expected[index] = running
        np.testing.assert_allclose(adjusted, expected)
    assert (tmp_path / "ecdf.png").stat().st_size > 10_000


def test_holm_and_cliffs_delta_on_known_values():
    from mmdet_balanced.study.compare import cliffs_delta, holm

    # Holm (1979): p = 0.01, 0.04, 0.03, 0.005 over m = 4 -> 0.03, 0.06, 0.06, 0.02
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, np.nan, 0.9]), [1.0, np.nan, 1.0])
    assert cliffs_delta([1, 2], [3, 4]) == 1.0 and cliffs_delta([1, 2], [1, 2]) == 0.0


def test_spread_comparison_finds_the_wider_group():
    """The paper's third claim is a lower spread across runs: the spread comparison must see a
    tenfold wider group, and see none between a group and its shifted copy."""
    from scipy.stats import levene

    from mmdet_balanced.study.compare import compare_spread

    rng = np.random.default_rng(0)
    tight = 0.5 + 0.01 * rng.standard_normal(11)
    wide = 0.5 + 0.1 * rng.standard_normal(11)
    result = compare_spread(tight, wide)
    assert result["std_a"] == pytest.approx(np.std(tight, ddof=1))
    assert result["std_difference"] == pytest.approx(np.std(wide, ddof=1) - np.std(tight, ddof=1))
    assert 0 < result["std_ci_low"] < result["std_difference"] < result["std_ci_high"]
    assert result["bf_p"] == pytest.approx(levene(tight, wide, center="median").pvalue)
    assert result["bf_p"] < 0.01
    shifted = compare_spread(tight, tight + 1.0)
    assert shifted["std_difference"] == pytest.approx(0, abs=1e-12) and shifted["bf_p"] > 0.9
    assert compare_spread([0.0, 0.0, 0.0], [1.0, 1.0])["bf_p"] == 1.0  # no spread anywhere
    # two runs each: every distance to the median is equal, Levene's W is x/0; no p-value
    assert np.isnan(compare_spread([0.094, 0.104], [0.114, 0.128])["bf_p"])
    assert compare_spread([0.094, 0.104, 0.1], [0.114, 0.128])["bf_p"] > 0.05


def test_spread_table_claims_nothing_at_two_runs_per_arm():
    """A verdict written at two runs per arm (a race in progress) lists each arm's spread but
    no Brown-Forsythe p-value and nothing in bold: the test is undefined there."""
    from mmdet_balanced.study.compare import Group
    from mmdet_balanced.study.race import spread_lines

    groups = []
    for name, values in (("uniform", [0.094, 0.104]), ("maxmin", [0.114, 0.128])):
        group = Group(name)
        group.runs = {f"{name}/run_{k}": {"class_ap/mAP@0.5": v} for k, v in enumerate(values)}
        groups.append(group)
    lines = spread_lines(groups, ["class_ap/mAP@0.5"], [("uniform", "maxmin")])
    row = next(line for line in lines if line.startswith("| mAP@0.5 | maxmin vs uniform |"))
    assert "0.007 → 0.010" in row and "n/a (needs 3 runs in an arm)" in row and "**" not in row
    assert "Holm over these 0 tests" in "\n".join(lines)


def test_compare_runs_markdown_names_every_test(repeated_runs, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, "tools", "compare_runs.py"),
            "--group",
            f"uniform={repeated_runs['uniform']}",
            "--group",
            f"balanced={repeated_runs['balanced']}",
            "--baseline",
            "uniform",
            "--metrics",
            "mAP",
            "--format",
            "markdown",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "| class_ap/mAP@0.2 | balanced vs uniform |" in result.stdout
    assert "KS p (Holm)" in result.stdout and "MW p (Holm)" in result.stdout


def test_compare_runs_reads_validation_scalars(repeated_runs):
    from mmdet_balanced.study.compare import read_run

    run = str(repeated_runs["uniform"] / "run_00")
    val = read_run(run, source="val", select="last")
    test = read_run(run, source="test")
    assert val.keys() == test.keys()  # the same metric keys, from scalars.json this time
    assert read_run(run, source="val", select="best") == val  # a single evaluation
