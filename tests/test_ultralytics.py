"""Ultralytics YOLO (offline: tests/conftest.py sets YOLO_OFFLINE and YOLO_CONFIG_DIR): YOLOv8n (from its yaml, no weights) trained on tiny generated YOLO data
through ``model.train(trainer=...)``, counting the images fed to each training step; resume;
no network attempt; bad input."""

import socket

import numpy as np
import pytest
import ultralytics  # noqa: F401  (installed by tools/setup_env.sh: a missing one is a failure)

from mmdet_balanced import solve_balanced_qp
from mmdet_balanced.study.demo_data import coco_to_yolo, make_fetal_dataset


@pytest.fixture
def no_network(monkeypatch):
    """Fail on any attempt to reach a non-loopback address (DNS included)."""
    attempts = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(address)
            raise OSError(f"test: network attempt to {address}")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1", None):
            attempts.append(host)
            raise socket.gaierror(f"test: DNS lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    assert attempts == [], f"network attempts during the test: {attempts}"


@pytest.fixture(scope="module")
def data_yaml(tmp_path_factory):
    coco = str(tmp_path_factory.mktemp("coco"))
    make_fetal_dataset(coco, num_train=24, num_val=20, image_size=64, seed=8)
    return coco_to_yolo(coco, str(tmp_path_factory.mktemp("yolo")))


def recording(trainer_class):
    """``trainer_class`` that records the image files of every batch in the training step."""

    class Recording(trainer_class):
        fed = []

        def preprocess_batch(self, batch):
            type(self).fed.append((self.epoch, list(batch["im_file"])))
            return super().preprocess_batch(batch)

    Recording.fed = []
    return Recording


def train(data_yaml, project, trainer, epochs=2, model="yolov8n.yaml", **extra):
    from ultralytics import YOLO

    args = dict(
        data=data_yaml,
        epochs=epochs,
        imgsz=64,
        batch=4,
        workers=0,
        device="cpu",
        amp=False,
        plots=False,
        val=False,
        project=str(project),
        name="run",
        exist_ok=True,
        seed=0,
        deterministic=True,
        verbose=False,
    )
    args.update(extra)
    return YOLO(model).train(trainer=trainer, **args)


def per_epoch(fed):
    epochs = {}
    for epoch, files in fed:
        epochs.setdefault(epoch, []).extend(files)
    return [epochs[e] for e in sorted(epochs)]


def test_yolo_trains_on_the_balanced_probabilities(data_yaml, tmp_path, no_network):
    import json

    from mmdet_balanced.ultralytics import balanced_trainer, labels_from_yolo_dataset

    trainer = recording(balanced_trainer(lam_scale=0.404))
    train(data_yaml, tmp_path, trainer, epochs=2)
    record = json.load(open(tmp_path / "run" / "sampling.json"))
    files = [image["key"] for image in record["images"]]
    p = np.array([image["p"] for image in record["images"]])

    from ultralytics.cfg import get_cfg
    from ultralytics.data.build import build_yolo_dataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(data_yaml)
    dataset = build_yolo_dataset(get_cfg(overrides=dict(imgsz=64)), data["train"], 4, data)
    assert list(dataset.im_files) == files
    expected = solve_balanced_qp(
        labels_from_yolo_dataset(dataset, len(data["names"])), lam_scale=0.404
    )
    np.testing.assert_array_equal(p, expected)
    assert "balanced" in (tmp_path / "run" / "class_draws.txt").read_text()

    epochs = per_epoch(trainer.fed)
    assert len(epochs) == 2
    index = {f: i for i, f in enumerate(files)}
    n = len(files)  # 24 images, batch 4: 6 batches of 4 per epoch
    for fed in epochs:
        counts = np.bincount([index[f] for f in fed], minlength=n)
        assert counts.sum() == n
        assert np.all(counts >= np.floor(n * p) - 1e-9) and np.all(counts <= np.ceil(n * p) + 1e-9)
    rare = [i for i, f in enumerate(files) if p[i] * n > 1.5]  # images the QP lifts
    assert rare and all(
        np.bincount([index[f] for f in epochs[0]], minlength=n)[i] >= 1 for i in rare
    )
    with_workers = recording(balanced_trainer(lam_scale=0.404))
    train(data_yaml, tmp_path / "workers", with_workers, epochs=2, workers=2)
    assert per_epoch(with_workers.fed) == epochs  # the sampler runs in the main process


class Interrupted(Exception):
    pass


def test_resume_continues_the_balanced_sequence(data_yaml, tmp_path, no_network):
    from ultralytics import YOLO

    from mmdet_balanced.ultralytics import balanced_trainer

    full = recording(balanced_trainer(lam_scale=0.404))
    train(data_yaml, tmp_path / "full", full, epochs=3)

    cut = recording(balanced_trainer(lam_scale=0.404))

    class Stopping(cut):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.add_callback("on_train_epoch_start", self.stop_at_two)

        @staticmethod
        def stop_at_two(trainer):
            if trainer.epoch == 2:
                raise Interrupted  # as a killed job: last.pt holds epoch 1

    with pytest.raises(Interrupted):
        train(data_yaml, tmp_path / "cut", Stopping, epochs=3)
    last = tmp_path / "cut" / "run" / "weights" / "last.pt"
    YOLO(str(last)).train(resume=True, trainer=cut)
    assert per_epoch(cut.fed) == per_epoch(full.fed)  # epochs 0, 1, then 2 after the resume


def test_settings_survive_pickling_as_ddp_does(no_network):
    import cloudpickle

    from mmdet_balanced.ultralytics import BalancedDetectionTrainer, balanced_trainer

    trainer = balanced_trainer(lam_scale=0.404, objective="maxmin", draw="iid")
    clone = cloudpickle.loads(cloudpickle.dumps(trainer))  # DDP pickles type(trainer)
    assert issubclass(clone, BalancedDetectionTrainer)
    assert clone.balanced_settings == dict(
        BalancedDetectionTrainer.balanced_settings, lam_scale=0.404, objective="maxmin", draw="iid"
    )
    with pytest.raises(TypeError, match="unknown settings \\['lamda'\\]"):
        balanced_trainer(lamda=3)
    with pytest.raises(ValueError, match="draw='poisson'"):
        balanced_trainer(draw="poisson")


def test_rank_slices_interleave_to_one_stream():
    from mmdet_balanced.ultralytics import YOLOBalancedSampler

    p = np.random.default_rng(0).dirichlet(np.ones(23))
    single = YOLOBalancedSampler(p, batch_size=3, seed=4)
    ranks = [YOLOBalancedSampler(p, batch_size=3, seed=4, rank=r, world_size=2) for r in (0, 1)]
    assert len(ranks[0]) == 12 and ranks[0].epoch_size == 24  # 4 batches of 3 on each rank
    streams = [iter(r) for r in ranks]
    slices = [[next(s) for _ in range(48)] for s in streams]
    joint = YOLOBalancedSampler(p, batch_size=6, seed=4)  # the same 24 draws per epoch
    interleaved = [slices[i % 2][i // 2] for i in range(96)]
    flat = iter(joint)
    assert interleaved == [next(flat) for _ in range(96)]
    ranks[1].set_epoch(2)  # resume at epoch 2: that epoch's chunk, rank 1's positions
    assert [next(iter(ranks[1])) for _ in range(1)] == [interleaved[2 * 24 + 1]]
    assert len(single) == 23


def test_rect_is_refused(data_yaml, tmp_path, no_network):
    from mmdet_balanced.ultralytics import BalancedDetectionTrainer

    with pytest.raises(ValueError, match="rect=True cannot be combined"):
        train(data_yaml, tmp_path, BalancedDetectionTrainer, epochs=1, rect=True)


def test_analyze_sampling_reads_a_data_yaml(data_yaml, tmp_path, no_network):
    import importlib.util
    import json
    import os.path as osp

    path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), "tools", "analyze_sampling.py")
    spec = importlib.util.spec_from_file_location("analyze_sampling", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert (
        tool.main(
            [
                data_yaml,
                "--out-dir",
                str(tmp_path),
                "--sim-epochs",
                "10",
                "--cfg-options",
                "lam_scale=0.404",
            ]
        )
        == 0
    )
    summary = json.load(open(tmp_path / "summary.json"))
    assert summary["balanced_settings"] == {"lam_scale": 0.404}
    assert summary["classes"][0] == "head" and len(summary["classes"]) == 11
    rows = {row["sampler"]: row for row in summary["samplers"]}
    assert rows["balanced"]["max_min_ratio"] < rows["uniform"]["max_min_ratio"]


def test_each_epoch_is_its_chunk_through_prefetch_and_the_mosaic_close_rebuild(
    data_yaml, tmp_path, no_network
):
    """2 loader workers prefetch into the next epoch; close_mosaic=1 rebuilds the loader
    before the last epoch: every epoch still trains on exactly its chunk of the stream."""
    import json

    from mmdet_balanced.ultralytics import YOLOBalancedSampler, balanced_trainer

    trainer = recording(balanced_trainer(lam_scale=0.404))
    train(data_yaml, tmp_path, trainer, epochs=3, workers=2, close_mosaic=1)
    record = json.load(open(tmp_path / "run" / "sampling.json"))
    files = [image["key"] for image in record["images"]]
    p = np.array([image["p"] for image in record["images"]])
    sampler = YOLOBalancedSampler(p, batch_size=4, seed=0)
    stream = iter(sampler)
    chunks = [[files[next(stream)] for _ in range(sampler.epoch_size)] for _ in range(3)]
    assert per_epoch(trainer.fed) == chunks
