"""The race (tools/race.py): arm rules, the images-seen budget, and a real tiny race of every
arm through MMEngine's Runner, resumed, with its verdict."""

import json
import os.path as osp
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from mmengine.config import Config

from mmdet_balanced.study.compare import read_run
from mmdet_balanced.study.demo_data import make_fetal_dataset
from mmdet_balanced.study.race import (
    ARM_RULES,
    DatasetStats,
    arm_config,
    budget_iterations,
    check_arms,
    paper_oversampling_factors,
    parse_budgets,
    rfs_threshold,
    twin_arms,
)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
FACEMASK = DatasetStats(
    ("with_mask", "without_mask", "mask_weared_incorrect"),
    np.array([615, 231, 75]),
    682,
    np.sqrt(np.array([615, 231, 75]) / 682 * np.array([2577, 555, 93]) / 3225),
)


def test_paper_oversampling_rule_on_the_facemask_counts():
    # median 231, rare below 115.5: only mask_weared_incorrect, to the level of 231 -> x3
    assert paper_oversampling_factors(FACEMASK) == {"mask_weared_incorrect": 3}
    # two rare classes at different distances from the first non-rare one (100 images)
    stats = DatasetStats(("a", "b", "c", "d", "e"), np.array([400, 300, 100, 40, 10]), 500)
    assert paper_oversampling_factors(stats) == {"d": 2, "e": 10}
    level = DatasetStats(("a", "b"), np.array([100, 90]), 120)
    assert paper_oversampling_factors(level) == {}


def test_irfs_arm_uses_the_instance_aware_rule():
    arm = ARM_RULES["irfs"](FACEMASK)
    frequency = FACEMASK.instance_frequency
    t = float(np.median(frequency))
    assert arm.dataset_wrapper == dict(type="InstanceBalancedDataset", oversample_thr=t)
    # by hand: sqrt(t / sqrt(f_img f_box)) for the rarest, 1 for the most frequent
    rare = np.sqrt(75 / 682 * 93 / 3225)
    assert arm.facts["class_factors"]["mask_weared_incorrect"] == pytest.approx(
        np.sqrt(t / rare), abs=1e-3
    )
    assert arm.facts["class_factors"]["with_mask"] == 1.0


def test_repeat_arms_state_mmengines_whole_repeats_and_flag_twins():
    # MMEngine rounds each image's factor up: RFS 1.755 -> 2, IRFS 2.071 -> 3, which is the
    # paper's oversampling x3 on these counts (the two arms then draw the same images)
    arms = {name: ARM_RULES[name](FACEMASK) for name in ("uniform", "oversampling", "rfs", "irfs")}
    assert arms["rfs"].facts["class_repeats"] == {
        "with_mask": 1,
        "without_mask": 1,
        "mask_weared_incorrect": 2,
    }
    assert arms["irfs"].facts["class_repeats"]["mask_weared_incorrect"] == 3
    assert twin_arms(arms, FACEMASK) == {"irfs": "oversampling"}
    # a set where no class is rare: oversampling and RFS both repeat nothing, like uniform
    level = DatasetStats(("a", "b"), np.array([100, 100]), 120, np.array([0.5, 0.5]), 3)
    arms = {name: ARM_RULES[name](level) for name in ("uniform", "oversampling", "rfs", "irfs")}
    assert twin_arms(arms, level) == {
        "oversampling": "uniform",
        "rfs": "uniform",
        "irfs": "uniform",
    }


def test_instances_arm_is_the_recommended_arm_without_repeated_boxes():
    names = ("recommended", "maxmin", "instances")
    arms = {name: ARM_RULES[name](FACEMASK) for name in names}
    # facemask photos hold many faces of one class; the fetal demo one box per class and image
    assert twin_arms(arms, replace(FACEMASK, max_boxes_per_class=5)) == {}
    one_box = replace(FACEMASK, max_boxes_per_class=1)
    assert twin_arms(arms, one_box) == {"instances": "recommended"}


def test_rfs_threshold_repeats_the_classes_below_the_median():
    t = rfs_threshold(FACEMASK)
    assert t == pytest.approx(231 / 682)
    arm = ARM_RULES["rfs"](FACEMASK)
    factors = arm.facts["class_factors"]
    assert factors["with_mask"] == 1.0 and factors["without_mask"] == 1.0
    assert factors["mask_weared_incorrect"] == pytest.approx(np.sqrt(231 / 75), abs=1e-3)
    assert arm.dataset_wrapper == dict(type="ClassBalancedDataset", oversample_thr=t)


def test_budget_errors_name_the_setting_and_the_nearest_valid_values():
    assert budget_iterations(800, 8, 2) == 50
    with pytest.raises(ValueError, match=r"not a multiple .* nearest valid values are 800 and 816"):
        budget_iterations(810, 8, 2)
    with pytest.raises(ValueError, match=r"smaller than one batch per rank .* at least 16"):
        budget_iterations(10, 8, 2)
    assert parse_budgets("10ep,2000", 682, 8) == [6816, 2000]
    with pytest.raises(ValueError, match="--images-seen takes image counts or epochs"):
        parse_budgets("lots", 682, 8)
    with pytest.raises(ValueError, match=r"unknown arm\(s\) \['rsf'\]"):
        check_arms(["uniform", "rsf"])


def test_arm_config_maps_the_schedule_onto_the_budget():
    cfg = Config.fromfile(osp.join(ROOT, "configs", "race", "yolov3_mobilenetv2_facemask.py"))
    max_iters = 1000
    arms = {name: arm_config(cfg, rule(FACEMASK), max_iters) for name, rule in ARM_RULES.items()}
    for name, arm_cfg in arms.items():
        assert arm_cfg.train_cfg == dict(type="IterBasedTrainLoop", max_iters=max_iters)
        warmup, steps = arm_cfg.param_scheduler
        assert warmup["end"] == 200 and not warmup["by_epoch"]  # iterations stay iterations
        assert steps["milestones"] == [800, 925] and not steps["by_epoch"]  # 32/40, 37/40
        assert arm_cfg.train_dataloader.batch_sampler.drop_last is True  # full batches only
        assert arm_cfg.val_dataloader is None  # no validation, no checkpoint selection
        assert arm_cfg.test_evaluator.iou_thrs == [0.2, 0.4, 0.5]
        assert dict(type="ImagesSeenHook") in arm_cfg.custom_hooks
        # the arm changes the sampler (and for rfs the dataset wrapper), nothing else
        assert arm_cfg.train_dataloader.dataset.get("pipeline") == (
            cfg.train_dataloader.dataset.pipeline if name not in ("rfs", "irfs") else None
        )
    assert arms["uniform"].train_dataloader.sampler == dict(type="DefaultSampler", shuffle=True)
    assert arms["oversampling"].train_dataloader.sampler.factors == {"mask_weared_incorrect": 3}
    assert arms["rfs"].train_dataloader.dataset.type == "ClassBalancedDataset"
    assert arms["classaware"].train_dataloader.sampler.type == "ClassAwareSampler"
    assert arms["balanced"].train_dataloader.sampler.lam == 500.0
    assert arms["balanced"].train_dataloader.sampler.draw == "iid"
    assert arms["recommended"].train_dataloader.sampler.draw == "systematic"
    assert arms["recommended_iid"].train_dataloader.sampler.draw == "iid"
    assert arms["maxmin"].train_dataloader.sampler.objective == "maxmin"
    assert arms["instances"].train_dataloader.sampler.count == "instances"
    assert arms["irfs"].train_dataloader.dataset.type == "InstanceBalancedDataset"
    assert cfg.train_cfg.type == "EpochBasedTrainLoop"  # the user's config is left alone


@pytest.fixture(scope="module")
def tiny_race(tmp_path_factory):
    """Every arm, 2 runs each, 24 images seen per run on a 30-image fetal demo set."""
    root = tmp_path_factory.mktemp("race")
    data = root / "data"
    make_fetal_dataset(str(data), num_train=30, num_val=20, image_size=64, seed=0)
    options = [
        f"{split}_dataloader.dataset.data_root={data}/" for split in ("train", "val", "test")
    ]
    options += [
        "train_dataloader.batch_size=4",
        "train_dataloader.dataset.pipeline.2.scale=(64,64)",
        "test_dataloader.dataset.pipeline.1.scale=(64,64)",
    ]
    command = [
        sys.executable,
        osp.join(ROOT, "tools", "race.py"),
        osp.join(ROOT, "configs", "fetal_demo", "yolov3_mobilenetv2_fetal-demo_uniform.py"),
        "--arms",
        ",".join(ARM_RULES),
        "--runs",
        "2",
        "--images-seen",
        "24",
        "--jobs",
        "2",
        "--threads",
        "1",
        "--work-dir",
        str(root / "race"),
        "--cfg-options",
        *options,
    ]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return root / "race", command, first.stdout


def test_every_arm_trains_on_exactly_the_budget(tiny_race):
    work_dir, _, out = tiny_race
    arms = json.load(open(work_dir / "arms.json"))
    assert arms["images_seen"] == 24 and arms["max_iters"] == 6
    assert set(arms["arms"]) == set(ARM_RULES)
    # the fetal demo holds one box per class and image: box counts are presence there
    assert arms["arms"]["instances"]["same_draws_as"] == "recommended"
    assert "[race] note: instances draws the same images as recommended" in out
    for name in ARM_RULES:
        assert f"[race] {name:>16}:" in out  # each arm's setting printed
        for k in (0, 1):
            record = json.load(open(work_dir / name / f"run_{k:02d}" / "test_metrics.json"))
            assert record["images_seen"] == 24, name  # 6 iterations x 4, whatever the epoch
            assert 1 <= record["distinct_images_seen"] <= 24
            assert record["seed"] == k
            assert "class_ap/mAP@0.5" in record["metrics"]
    assert "ETA" in out


def test_race_skips_finished_runs_and_writes_the_verdict(tiny_race):
    work_dir, command, _ = tiny_race
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert (
        f"{2 * len(ARM_RULES)}/{2 * len(ARM_RULES)} runs finished before; 0 to train"
        in again.stdout
    )
    verdict = (work_dir / "verdict.md").read_text()
    for peer in (
        "uniform",
        "oversampling",
        "rfs",
        "irfs",
        "classaware",
        "balanced",
        "recommended_iid",
    ):
        for ours in ("recommended", "maxmin", "instances"):
            assert f"| mAP@0.5 | {ours} vs {peer} |" in verdict
    assert "| worst_AP@0.5 |" in verdict and "Holm" in verdict
    spread = verdict[verdict.index("Run-to-run spread") :]
    assert "Brown-Forsythe" in spread and "| mAP@0.5 | maxmin vs uniform |" in spread
    assert (work_dir / "verdict_ecdf.png").stat().st_size > 10_000
    assert (work_dir / "verdict_classes.png").stat().st_size > 10_000


def test_split_race_keeps_every_arm_and_refuses_another_budget(tiny_race, tmp_path):
    """A race split over calls (``--arms`` apart, one work dir) records every arm in one
    arms.json; a call with another budget in that work dir fails before training, naming
    the budget that dir holds."""
    _, command, _ = tiny_race
    split = tmp_path / "split"

    def call(arms, images="24"):
        argv = list(command)
        argv[argv.index("--arms") + 1] = arms
        argv[argv.index("--images-seen") + 1] = images
        argv[argv.index("--work-dir") + 1] = str(split)
        return subprocess.run(argv + ["--dry-run"], cwd=ROOT, capture_output=True, text=True)

    assert call("uniform,rfs").returncode == 0
    assert call("recommended,maxmin").returncode == 0
    arms = json.load(open(split / "arms.json"))
    assert list(arms["arms"]) == ["uniform", "rfs", "recommended", "maxmin"]
    other = call("uniform", images="48")
    assert other.returncode == 2
    assert "holds a race of 24 images seen" in other.stderr
    assert "--images-seen 24" in other.stderr
    assert list(json.load(open(split / "arms.json"))["arms"]) == list(arms["arms"])


def test_class_figure_puts_the_rarest_class_first(tmp_path):
    """The per-class AP figure: the mAP panel, then one panel per class ordered by training
    image count (rarest first, the count in the title), whatever the metric keys' order."""
    from mmdet_balanced.study.compare import load_group
    from mmdet_balanced.study.race import plot_class_ap

    for arm, value in (("uniform", 0.1), ("maxmin", 0.2)):
        for k in range(2):
            run = tmp_path / arm / f"run_{k:02d}"
            run.mkdir(parents=True)
            metrics = {
                "class_ap/mAP@0.5": value,
                "class_ap/AP@0.5/car": value + k,
                "class_ap/AP@0.5/bike": value / 2,
                "class_ap/AP@0.5/truck": value / 3,
            }
            (run / "test_metrics.json").write_text(json.dumps(dict(metrics=metrics)))
    groups = [load_group(a, [str(tmp_path / a)], source="test") for a in ("uniform", "maxmin")]
    path = tmp_path / "classes.png"
    titles = plot_class_ap(groups, str(path), {"car": 50, "bike": 3, "truck": 7})
    assert titles == ["mAP@0.5", "bike (3 images)", "truck (7 images)", "car (50 images)"]
    assert path.stat().st_size > 10_000


def test_race_refuses_bad_input_before_training(tmp_path):
    config = osp.join(ROOT, "configs", "fetal_demo", "yolov3_mobilenetv2_fetal-demo_uniform.py")
    bad_arm = subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, "tools", "race.py"),
            config,
            "--arms",
            "uniform,rsf",
            "--runs",
            "1",
            "--images-seen",
            "24",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad_arm.returncode == 2 and "unknown arm(s) ['rsf']" in bad_arm.stderr


def test_old_metric_names_are_read_under_the_new_prefix(tmp_path):
    run = tmp_path / "run_00"
    run.mkdir()
    (run / "test_metrics.json").write_text(
        json.dumps(dict(metrics={"balanced/mAP@0.2": 0.5, "balanced/AP@0.2/a": 0.25}))
    )
    assert read_run(str(run)) == {"class_ap/mAP@0.2": 0.5, "class_ap/AP@0.2/a": 0.25}


def test_collect_copies_what_a_study_commits(tiny_race, tmp_path):
    from mmdet_balanced.study.race import collect

    work_dir, _, _ = tiny_race
    out = tmp_path / "study"
    assert collect(str(work_dir), str(out)) > 0
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert "arms.json" in files and "verdict.md" in files and "uniform/config.py" in files
    assert "uniform/run_00/test_metrics.json" in files and "uniform/run_01/race.log" in files
    assert not any(f.endswith(".pth") or "vis_data" in f for f in files)


def test_interim_verdict_waits_for_two_runs_in_every_arm(tiny_race, tmp_path):
    """A race cut short by a session's end commits a verdict once every arm has two finished
    runs, and none before (an arm with one run has no spread to test)."""
    from mmdet_balanced.study.race import interim_verdict

    work_dir, _, _ = tiny_race
    partial = tmp_path / "race"
    shutil.copytree(work_dir, partial, ignore=shutil.ignore_patterns("*.pth", "verdict*"))
    arms = ["uniform", "recommended", "maxmin"]
    (partial / "maxmin" / "run_01" / "test_metrics.json").unlink()  # still training
    assert not interim_verdict(str(partial), arms)
    assert not (partial / "verdict.md").exists()
    shutil.copy(work_dir / "maxmin" / "run_01" / "test_metrics.json", partial / "maxmin" / "run_01")
    assert interim_verdict(str(partial), arms)
    text = (partial / "verdict.md").read_text()
    assert all(f"{name} n=2" in text.splitlines()[0] for name in arms)
    assert "| mAP@0.5 | recommended vs uniform |" in text


def test_verdict_of_a_split_race_covers_every_calls_arms(tiny_race, tmp_path):
    """A call that trained some of a race's arms writes the verdict of every arm in its work
    dir with two finished runs (the other calls' arms too), not of its own arms alone."""
    from mmdet_balanced.study.race import interim_verdict, verdict_arms

    work_dir, _, _ = tiny_race
    split = tmp_path / "race"
    shutil.copytree(work_dir, split, ignore=shutil.ignore_patterns("*.pth", "verdict*"))
    (split / "recommended" / "run_01" / "test_metrics.json").unlink()  # another call's, training
    mine = ["maxmin", "uniform"]
    expected = [name for name in ARM_RULES if name != "recommended"]  # arms.json's order
    assert verdict_arms(str(split), mine) == expected
    assert interim_verdict(str(split), mine)
    title = (split / "verdict.md").read_text().splitlines()[0]
    assert "irfs n=2" in title and "maxmin n=2" in title and "recommended n=" not in title
    # this call's own arms are always in it, even before other calls record theirs
    (split / "arms.json").unlink()
    assert verdict_arms(str(split), mine) == mine


def test_learning_curve_keeps_every_budget_in_its_work_dir(tmp_path):
    """One csv row per finished run, a budget found on disk but not asked for included (an
    earlier, longer curve's runs), runs in progress left out; the figure is written."""
    from mmdet_balanced.study.race import learning_curve

    def finished(images, k, value):
        run = tmp_path / f"images_{images}" / "uniform" / f"run_{k:02d}"
        run.mkdir(parents=True)
        metrics = {"class_ap/mAP@0.5": value, "class_ap/AP@0.5/rare": value / 10}
        record = dict(seed=k, images_seen=images, distinct_images_seen=8, metrics=metrics)
        (run / "test_metrics.json").write_text(json.dumps(record))

    for k in range(3):
        finished(80, k, 0.1 + 0.01 * k)
    finished(160, 0, 0.3)
    (tmp_path / "images_160" / "uniform" / "run_01").mkdir()  # in progress: no metrics yet
    rows = learning_curve(str(tmp_path), [80], num_images=8)
    assert sorted((r["images_seen"], r["run"]) for r in rows) == [
        (80, "run_00"),
        (80, "run_01"),
        (80, "run_02"),
        (160, "run_00"),
    ]
    assert {r["epochs"] for r in rows} == {10.0, 20.0}
    lines = (tmp_path / "learning_curve.csv").read_text().splitlines()
    assert len(lines) == 5 and "mAP@0.5" in lines[0]
    assert (tmp_path / "learning_curve.png").stat().st_size > 0
