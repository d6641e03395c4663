"""The YOLO race (``mmdet_balanced.study.yolo_race``): real Ultralytics training of YOLOv8n on
tiny generated data, one run per arm in its own process; equal images seen across arms, the
class-weighted arm really weighted, test AP at the paper's IoUs; bad input refused before any
training."""

import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import ultralytics  # noqa: F401  (installed by tools/setup_env.sh: a missing one is a failure)

from mmdet_balanced.study import yolo_race
from mmdet_balanced.study.demo_data import coco_to_yolo, make_fetal_dataset

NUM_TRAIN = 24
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# what the GPU machine's image (tools/gpu_race_yolov8.sh) lacks; Ultralytics itself needs polars
ABSENT_ON_THE_GPU_IMAGE = ("mmengine", "mmdet", "mmcv", "detectron2", "fvcore", "polars")
HIDE = f"""import importlib.machinery, sys
class Hidden(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in {ABSENT_ON_THE_GPU_IMAGE!r}:
            return None
        return super().find_spec(name, path, target)
sys.meta_path[:] = [Hidden if f is importlib.machinery.PathFinder else f for f in sys.meta_path]
"""


@pytest.fixture(scope="module")
def data_yaml(tmp_path_factory):
    coco = str(tmp_path_factory.mktemp("coco"))
    make_fetal_dataset(coco, num_train=NUM_TRAIN, num_val=20, image_size=64, seed=8)
    return coco_to_yolo(coco, str(tmp_path_factory.mktemp("yolo")))


def race_args(data_yaml, work_dir, **changes):
    options = dict(
        data=data_yaml,
        arms="default,cls_pw,recommended",
        runs=1,
        epochs=1,
        imgsz=64,
        batch=8,
        device="cpu",
        workers=0,
        work_dir=str(work_dir),
    )
    options.update(changes)
    return [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]


def test_every_arm_sees_the_same_images_and_is_tested_at_the_papers_ious(data_yaml, tmp_path):
    assert yolo_race.main(race_args(data_yaml, tmp_path)) == 0
    with open(tmp_path / "arms.json") as handle:
        arms = json.load(handle)
    assert list(arms["arms"]) == ["default", "cls_pw", "recommended"]
    assert arms["train_images"] == NUM_TRAIN
    images_per_class = {}  # from the label files themselves
    for path in glob.glob(osp.join(osp.dirname(data_yaml), "labels", "train", "*.txt")):
        for cls in {int(line.split()[0]) for line in open(path) if line.strip()}:
            images_per_class[cls] = images_per_class.get(cls, 0) + 1
    names = list(arms["class_image_counts"])
    assert {names.index(n): c for n, c in arms["class_image_counts"].items() if c} == (
        images_per_class
    )
    records = {}
    for arm in arms["arms"]:
        with open(tmp_path / arm / "run_00" / "test_metrics.json") as handle:
            records[arm] = json.load(handle)
    # one epoch of the train set, whatever the sampler
    assert {r["images_seen"] for r in records.values()} == {NUM_TRAIN}
    assert records["default"]["distinct_images_seen"] == NUM_TRAIN  # a shuffle sees them all
    assert records["recommended"]["distinct_images_seen"] <= NUM_TRAIN
    for record in records.values():
        metrics = record["metrics"]
        for iou in yolo_race.IOUS:
            per_class = [k for k in metrics if k.startswith(f"class_ap/AP@{iou}/")]
            assert per_class, f"no per-class AP at IoU {iou}"
            assert 0.0 <= metrics[f"class_ap/mAP@{iou}"] <= 1.0
            assert all(0.0 <= metrics[k] <= 1.0 for k in per_class)
    # Ultralytics weighted the loss only in the cls_pw arm, with the power asked for
    logs = {arm: open(tmp_path / arm / "run_00" / "race.log").read() for arm in records}
    assert "Class weights:" in logs["cls_pw"] and "cls_pw=1.0" in logs["cls_pw"]
    assert "Class weights:" not in logs["default"]
    assert "lam_scale=0.4042" in logs["recommended"]
    # a second call trains nothing: finished runs are skipped
    before = {p: osp.getmtime(p) for p in glob.glob(str(tmp_path / "*" / "run_00" / "*.json"))}
    assert yolo_race.main(race_args(data_yaml, tmp_path)) == 0
    assert before == {p: osp.getmtime(p) for p in before}
    # a call for one arm (a race split over calls) keeps the other arms' record
    assert yolo_race.main(race_args(data_yaml, tmp_path, arms="default")) == 0
    with open(tmp_path / "arms.json") as handle:
        assert json.load(handle)["arms"] == arms["arms"]
    assert before == {p: osp.getmtime(p) for p in before}


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(epochs=2), "trained with --epochs 1; this call asks for --epochs 2"),
        (dict(imgsz=96, batch=6), "--imgsz 64 --batch 8; this call asks for --imgsz 96 --batch 6"),
        (
            dict(cls_pw=0.5),
            "its cls_pw arm trained with 'Ultralytics' DetectionTrainer, class-weighted loss cls_pw=1.0'; this call asks for '",
        ),
    ],
)
def test_another_race_in_the_same_work_dir_is_refused(data_yaml, tmp_path, capsys, change, message):
    # the record an earlier call of race_args(...) leaves, with one finished run
    settings = {arm: yolo_race.arm_setting(arm, 1.0) for arm in ("default", "cls_pw")}
    record = dict(model="yolov8n.yaml", epochs=1, imgsz=64, batch=8, train_images=NUM_TRAIN)
    (tmp_path / "arms.json").write_text(json.dumps(dict(record, arms=settings)))
    finished = tmp_path / "default" / "run_00"
    finished.mkdir(parents=True)
    (finished / "test_metrics.json").write_text("{}")
    assert yolo_race.main(race_args(data_yaml, tmp_path, **change)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "cls_pw").exists()  # nothing trained
    assert json.loads((tmp_path / "arms.json").read_text())["arms"] == settings


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(batch=7), "--batch 7 does not divide the 24 training images"),
        (dict(batch=7), "--batch 6 or --batch 8"),
        (dict(arms="default,rfs"), "unknown: ['rfs']"),
    ],
)
def test_bad_input_is_refused_before_training(data_yaml, tmp_path, capsys, change, message):
    assert yolo_race.main(race_args(data_yaml, tmp_path, **change)) == 2
    assert message in capsys.readouterr().err
    assert not glob.glob(str(tmp_path / "*" / "run_*"))


def test_the_command_line_runs_it(data_yaml, tmp_path, capsys):
    from mmdet_balanced import cli

    assert cli.main(["yolo-race", *race_args(data_yaml, tmp_path, batch=5)]) == 2
    assert "--batch 5 does not divide" in capsys.readouterr().err


def test_the_gpu_route_runs_without_the_mmdetection_stack_and_polars(data_yaml, tmp_path):
    """The GPU machine has torch and gets Ultralytics' wheel, not MMEngine, MMDetection, MMCV,
    Detectron2 or polars: the race (our trainer, its run processes, the test) works there."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE)  # run processes inherit PYTHONPATH
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(hide), REPO]))
    code = (
        "import importlib.util, sys\n"
        f"assert not any(importlib.util.find_spec(m) for m in {ABSENT_ON_THE_GPU_IMAGE!r})\n"
        "from mmdet_balanced.study import yolo_race\n"
        "sys.exit(yolo_race.main(sys.argv[1:]))"
    )
    args = race_args(data_yaml, tmp_path / "race", arms="recommended")
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with open(tmp_path / "race" / "recommended" / "run_00" / "test_metrics.json") as handle:
        record = json.load(handle)
    assert record["images_seen"] == NUM_TRAIN
    assert 0.0 <= record["metrics"]["class_ap/mAP@0.5"] <= 1.0
    log = open(tmp_path / "race" / "recommended" / "run_00" / "race.log").read()
    assert "No module named" not in log
