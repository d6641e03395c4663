"""The race on Ultralytics YOLO: which sampler helps a YOLOv8 user? Every arm trains with
Ultralytics' own recipe (its augmentation, optimizer and schedule; only ``epochs``, ``imgsz``
and ``batch`` are set) for the same number of epochs, so the same number of images seen, and
each run's last model is tested once on the held-out split (no checkpoint selection).

    python -m mmdet_balanced.study.yolo_race --data DATA.yaml --arms default,cls_pw,recommended,maxmin \\
        --runs N --epochs E --imgsz 416 --batch B [--jobs K] [--budget-min M] --work-dir DIR

Arms: ``default`` (Ultralytics' shuffled loader), ``cls_pw`` (Ultralytics' class-weighted
loss, the one imbalance option it ships: inverse class frequency to the power ``--cls-pw``),
``recommended`` and ``maxmin`` (``BalancedDetectionTrainer`` with the MMDetection race's
settings). Runs go in rounds (run 0 of every arm, then run 1, ...), each in its own process,
``K`` at once; finished runs are skipped; with ``--budget-min`` no run starts that would end
past the budget (judged from the longest run so far), so one bounded command leaves whole runs.
Each run writes ``test_metrics.json`` as the MMDetection race does (``images_seen``,
``distinct_images_seen``, ``metrics`` with ``class_ap/AP@<iou>/<class>`` at IoU 0.2, 0.4 and
0.5, from Ultralytics' own AP computation), so :func:`~mmdet_balanced.study.race.verdict` reads
it; the race ends with that verdict (``DIR/verdict.md``, ``.csv``, ECDF and per-class figures).
"""

import argparse
import csv
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from .race import (
    FINISHED,
    RECOMMENDED_LAM_SCALE,
    finished_runs,
    verdict_arms,
    write_verdict,
)

IOUS = (0.2, 0.4, 0.5)  # the paper's thresholds and the usual one
OURS = ("recommended", "maxmin")
ARMS = ("default", "cls_pw", "recommended", "maxmin")
MODULE = "mmdet_balanced.study.yolo_race"  # each run's own process: python -m MODULE --one


def arm_setting(arm: str, cls_pw: float) -> str:
    """What ``arm`` trains with, in words (printed and written to ``arms.json``)."""
    return {
        "default": "Ultralytics' DetectionTrainer, shuffled loader",
        "cls_pw": f"Ultralytics' DetectionTrainer, class-weighted loss cls_pw={cls_pw}",
        "recommended": f"BalancedDetectionTrainer, lam_scale {RECOMMENDED_LAM_SCALE}, "
        "systematic draws",
        "maxmin": f"BalancedDetectionTrainer, lam_scale {RECOMMENDED_LAM_SCALE}, "
        "systematic draws, objective='maxmin'",
    }[arm]


def check_arms(text: str) -> list:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ARMS]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(
            f"--arms {text!r}: give distinct names from {list(ARMS)}"
            + (f" (unknown: {unknown})" if unknown else "")
        )
    return names


def check_batch(num_images: int, batch: int) -> None:
    """Every arm must see the same images: Ultralytics' own loader feeds ``num_images`` per
    epoch (a short last batch), the balanced sampler whole batches, so ``batch`` must divide
    the training set."""
    if batch < 1 or num_images % batch:
        divisors = [d for d in range(1, num_images + 1) if num_images % d == 0]
        nearest = sorted(divisors, key=lambda d: (abs(d - batch), d))[:2]
        raise ValueError(
            f"--batch {batch} does not divide the {num_images} training images, so the arms "
            f"would see different numbers of images per epoch; use a divisor, e.g. --batch "
            f"{' or --batch '.join(map(str, sorted(nearest)))}"
        )


def _trainer(arm: str):
    """The trainer class of ``arm``, counting the images its training steps are fed."""
    from ultralytics.models.yolo.detect import DetectionTrainer

    if arm in ("default", "cls_pw"):
        base = DetectionTrainer
    else:
        from ..ultralytics import balanced_trainer

        objective = "maxmin" if arm == "maxmin" else "paper"
        base = balanced_trainer(lam_scale=RECOMMENDED_LAM_SCALE, objective=objective)

    class Counted(base):
        images_fed, files_fed = 0, set()

        def preprocess_batch(self, batch):
            type(self).images_fed += len(batch["im_file"])
            type(self).files_fed.update(batch["im_file"])
            return super().preprocess_batch(batch)

        def read_results_csv(self):
            """results.csv without polars (not on every machine; only the checkpoint's
            ``train_results`` record reads it)."""
            try:
                with open(self.csv, newline="") as handle:
                    rows = list(csv.DictReader(handle))
            except OSError:
                return {}
            return {key.strip(): [row[key] for row in rows] for key in (rows[0] if rows else {})}

    return Counted


def _validator():
    from ultralytics.models.yolo.detect import DetectionValidator

    class PaperIoUValidator(DetectionValidator):
        """Ultralytics' detection AP at IoU 0.2, 0.4, 0.5 (columns 0-2 of ``all_ap``; seven
        more thresholds keep its 10-column summaries working)."""

        def __init__(self, *args, **kwargs):
            import torch

            super().__init__(*args, **kwargs)
            self.iouv = torch.tensor([*IOUS, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85])
            self.niou = self.iouv.numel()

    return PaperIoUValidator


def test_metrics(weights: str, data: str, imgsz: int, batch: int, device) -> dict:
    """``class_ap/AP@<iou>/<class>`` and ``class_ap/mAP@<iou>`` of ``weights`` on ``data``'s
    ``val`` split (the held-out test split of this race), classes with test boxes only."""
    from ultralytics import YOLO

    metrics = YOLO(weights).val(
        validator=_validator(),
        data=data,
        imgsz=imgsz,
        batch=batch,
        device=device,
        plots=False,
        verbose=False,
        save_json=False,
    )
    names = metrics.names
    out = {}
    for column, iou in enumerate(IOUS):
        aps = [float(row[column]) for row in metrics.box.all_ap]
        for index, ap in zip(metrics.box.ap_class_index, aps):
            out[f"class_ap/AP@{iou}/{names[int(index)]}"] = ap
        out[f"class_ap/mAP@{iou}"] = sum(aps) / len(aps) if aps else 0.0
    return out


def train_one(args, arm: str, seed: int, run_dir: str) -> dict:
    """Train ``arm`` with ``seed`` into ``run_dir`` and write its ``test_metrics.json``."""
    from ultralytics import YOLO

    trainer = _trainer(arm)
    began = time.perf_counter()
    model = YOLO(args.model)
    model.train(
        data=args.data,
        trainer=trainer,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        workers=args.workers,
        cache=args.cache,
        device=args.device,
        seed=seed,
        cls_pw=args.cls_pw if arm == "cls_pw" else 0.0,
        project=osp.abspath(run_dir),
        name="train",
        exist_ok=True,
        plots=False,
        val=False,
        verbose=False,
    )
    seconds = time.perf_counter() - began
    last = osp.join(run_dir, "train", "weights", "last.pt")
    record = dict(
        arm=arm,
        setting=arm_setting(arm, args.cls_pw),
        seed=seed,
        model=args.model,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        images_seen=trainer.images_fed,
        distinct_images_seen=len(trainer.files_fed),
        train_seconds=round(seconds, 1),
        metrics=test_metrics(last, args.data, args.imgsz, args.batch, args.device),
    )
    with open(osp.join(run_dir, FINISHED), "w") as handle:
        json.dump(record, handle, indent=1)
    return record


SAME_RACE = ("model", "epochs", "imgsz", "batch", "train_images")  # what runs must share


def earlier_arms(work_dir: str, record: dict, settings: dict) -> dict:
    """The arms an earlier call recorded in ``work_dir/arms.json`` (``{}`` if none), kept so
    that a race split over calls (``--arms`` apart) keeps every arm in one record. A work dir
    whose runs trained another model, budget or training set, or an arm with another setting
    (``--cls-pw``), is refused: its finished runs would be skipped and mixed into the verdict."""
    path = osp.join(work_dir, "arms.json")
    if not osp.exists(path):
        return {}
    with open(path) as handle:
        before = json.load(handle)
    changed = [key for key in SAME_RACE if before.get(key) != record[key]]
    if changed:
        was = " ".join(f"--{k.replace('_', '-')} {before.get(k)}" for k in changed)
        now = " ".join(f"--{k.replace('_', '-')} {record[k]}" for k in changed)
        raise ValueError(
            f"--work-dir {work_dir} holds a race trained with {was}; this call asks for "
            f"{now}. Pass the same options to go on with it, or another --work-dir for a new "
            "race"
        )
    arms = before.get("arms", {})
    for arm, setting in settings.items():
        if arms.get(arm, setting) != setting:
            raise ValueError(
                f"--work-dir {work_dir}: its {arm} arm trained with '{arms[arm]}'; this call "
                f"asks for '{setting}'. Pass the same --cls-pw, or another --work-dir"
            )
    return arms


def _train_labels(data: str):
    """Training image count and per-class image counts of an Ultralytics ``data.yaml``."""
    import numpy as np
    import yaml

    from ..core.readers import labels_from_yolo_dir

    with open(data) as handle:
        spec = yaml.safe_load(handle)
    root = spec.get("path") or osp.dirname(osp.abspath(data))
    images = osp.join(root, spec["train"])
    parts = images.split(os.sep)
    if "images" not in parts:
        raise ValueError(f"--data {data}: train {images} has no 'images' folder in its path")
    index = len(parts) - 1 - parts[::-1].index("images")
    labels = os.sep.join(parts[:index] + ["labels"] + parts[index + 1 :])
    names = spec["names"]
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    presence, _ = labels_from_yolo_dir(labels, num_classes=len(names), images_dir=images)
    counts = np.asarray((presence > 0).sum(axis=0)).ravel().astype(int).tolist()
    return presence.shape[0], dict(zip(names, counts))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="Ultralytics data.yaml (train, val)")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--runs", type=int, default=4, help="runs (seeds 0..N-1) per arm")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--batch", type=int, default=22, help="must divide the train set")
    parser.add_argument("--model", default="yolov8n.yaml", help="from scratch: no download")
    parser.add_argument("--cls-pw", type=float, default=1.0, help="the cls_pw arm's power")
    parser.add_argument("--device", default=None, help="e.g. 0 or cpu (Ultralytics' own)")
    parser.add_argument(
        "--cache", default=None, choices=["ram", "disk"], help="Ultralytics' image cache"
    )
    parser.add_argument("--workers", type=int, default=None, help="loader workers per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (one GPU shared)")
    parser.add_argument(
        "--budget-min",
        type=float,
        default=None,
        help="start no run that would end after this many minutes (longest run so far)",
    )
    parser.add_argument("--work-dir", required=True)
    parser.add_argument(
        "--one", nargs=3, metavar=("ARM", "SEED", "RUN_DIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.jobs < 1 or args.epochs < 1:
        parser.error("--runs, --jobs and --epochs must be >= 1")
    if not 0.0 < args.cls_pw <= 1.0:
        parser.error(
            f"--cls-pw {args.cls_pw}: Ultralytics accepts (0, 1]; 1.0 is full "
            "inverse class frequency, 0.5 its square root"
        )
    if args.workers is None:
        args.workers = max(1, (os.cpu_count() or 2) // args.jobs - 1)
    return args


def run_race(args) -> list:
    """Train the missing runs in rounds; write ``arms.json`` and the verdict. Returns the run
    directories that failed."""
    arms = check_arms(args.arms)
    num_images, class_counts = _train_labels(args.data)
    check_batch(num_images, args.batch)
    settings = {arm: arm_setting(arm, args.cls_pw) for arm in arms}
    record = dict(
        model=args.model,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        images_seen=args.epochs * num_images,
        train_images=num_images,
        class_image_counts=class_counts,
    )
    earlier = earlier_arms(args.work_dir, record, settings)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, "arms.json"), "w") as handle:
        json.dump(dict(record, arms={**earlier, **settings}), handle, indent=1)
    _say(f"[yolo race] {num_images} training images; images per class: {class_counts}")
    for arm, setting in settings.items():
        _say(f"[yolo race] {arm:>12}: {setting}")
    queue = [
        (arm, k, osp.join(args.work_dir, arm, f"run_{k:02d}"))
        for k in range(args.runs)
        for arm in arms
        if not osp.exists(osp.join(args.work_dir, arm, f"run_{k:02d}", FINISHED))
    ]
    _say(
        f"[yolo race] budget: {args.epochs} epochs = {args.epochs * num_images} images seen "
        f"per run; {len(arms) * args.runs - len(queue)} runs finished before, {len(queue)} "
        f"to train ({args.jobs} at once)",
    )
    start, durations, failed, skipped = time.perf_counter(), [], [], []

    def train(item):
        arm, k, run_dir = item
        elapsed = time.perf_counter() - start
        if args.budget_min and durations and elapsed + max(durations) > args.budget_min * 60:
            skipped.append(run_dir)
            return item, None, 0.0
        os.makedirs(run_dir, exist_ok=True)
        _say(f"[yolo race] {arm} run {k} (seed {k}) started -> {run_dir}")
        command = [sys.executable, "-m", MODULE, *_forward(args), "--one", arm, str(k), run_dir]
        began = time.perf_counter()
        with open(osp.join(run_dir, "race.log"), "a") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
        return item, code, time.perf_counter() - began

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in as_completed([pool.submit(train, item) for item in queue]):
            (arm, k, run_dir), code, seconds = future.result()
            if code is None:
                continue
            if code != 0:
                failed.append(run_dir)
                _say(f"[yolo race] {arm} run {k} FAILED (exit {code}; see {run_dir}/race.log)")
                continue
            durations.append(seconds)
            done = len(durations)
            elapsed = time.perf_counter() - start
            eta = elapsed / done * (len(queue) - done - len(failed) - len(skipped))
            _say(
                f"[yolo race] {arm} run {k} done in {seconds:.0f} s; {done}/{len(queue)}, "
                f"elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min",
            )
    if skipped:
        _say(
            f"[yolo race] {len(skipped)} runs not started (--budget-min {args.budget_min}); "
            "rerun the same command to train them",
        )
    ready = [a for a in verdict_arms(args.work_dir, arms) if finished_runs(args.work_dir, a) >= 2]
    if len(ready) >= 2:
        print(write_verdict(args.work_dir, ready))
    return failed


def _say(text: str) -> None:
    """One whole line at once (runs finish on several threads)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _forward(args) -> list:
    """The options a run's own process needs (everything but --one)."""
    out = []
    for name in (
        "data",
        "epochs",
        "imgsz",
        "batch",
        "model",
        "cls_pw",
        "device",
        "cache",
        "workers",
        "work_dir",
    ):
        value = getattr(args, name)
        if value is not None:
            out += [f"--{name.replace('_', '-')}", str(value)]
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.one:
        arm, seed, run_dir = args.one
        record = train_one(args, arm, int(seed), run_dir)
        print(json.dumps({k: v for k, v in record.items() if k != "metrics"}))
        return 0
    try:
        return 1 if run_race(args) else 0
    except ValueError as error:
        print(f"yolo_race: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
