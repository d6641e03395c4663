"""Balanced sampling in any PyTorch loop: the framework-free readers (COCO, YOLO folder) with
their errors, BalancedSampler under ranks, torchvision's detector in a plain loop (the shipped
example), and a LightningDataModule."""

import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmdet_balanced import (
    BalancedSampler,
    labels_from_coco,
    labels_from_yolo_dir,
    solve_balanced_qp,
)
from mmdet_balanced.study.demo_data import make_fetal_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def coco(images=(1, 2, 3), annotations=(), categories=((7, "a"), (3, "b"))):
    return dict(
        images=[dict(id=i, file_name=f"{i}.jpg") for i in images],
        annotations=[
            dict(id=k, image_id=i, category_id=c, **extra)
            for k, (i, c, extra) in enumerate(annotations)
        ],
        categories=[dict(id=c, name=n) for c, n in categories],
    )


def test_labels_from_coco_maps_categories_in_file_order_and_skips_crowd():
    data = coco(
        annotations=[
            (1, 3, {}),
            (1, 3, {}),
            (1, 7, {}),
            (2, 7, dict(iscrowd=1)),
            (3, 7, dict(ignore=1)),
        ]
    )
    presence, keys = labels_from_coco(data)
    np.testing.assert_array_equal(presence.toarray(), [[1, 1], [0, 0], [0, 0]])
    counts, _ = labels_from_coco(data, count="instances")
    np.testing.assert_array_equal(counts.toarray(), [[1, 2], [0, 0], [0, 0]])
    assert keys == ["1.jpg", "2.jpg", "3.jpg"]  # images without boxes kept, as zero rows
    shuffled = coco(images=(3, 1, 2), annotations=[(1, 3, {})])
    assert labels_from_coco(shuffled, order="id")[1] == ["1.jpg", "2.jpg", "3.jpg"]


@pytest.mark.parametrize(
    "data, message",
    [
        (coco(images=(1, 1)), r"image id 1 appears twice"),
        (coco(annotations=[(9, 3, {})]), r"refers to image id 9, which is not in 'images'"),
        (coco(annotations=[(1, 5, {})]), r"category_id 5, which is not in 'categories'"),
        ({k: v for k, v in coco().items() if k != "annotations"}, r"has no 'annotations' list"),
        (coco(images=()), r"lists no images: the training set is empty"),
    ],
)
def test_bad_coco_is_named(data, message):
    with pytest.raises(ValueError, match=message):
        labels_from_coco(data)


def test_labels_from_yolo_dir_and_its_errors(tmp_path):
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (tmp_path / "images" / "train" / f"{name}.jpg").write_bytes(b"")
    (tmp_path / "labels" / "train" / "a.txt").write_text(
        "0 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.1 0.1\n1 0.3 0.3 0.1 0.1\n"
    )
    (tmp_path / "labels" / "train" / "c.txt").write_text("\n")  # empty: no boxes
    counts, images = labels_from_yolo_dir(tmp_path / "labels" / "train", 2, count="instances")
    np.testing.assert_array_equal(counts.toarray(), [[1, 2], [0, 0], [0, 0]])  # b: no file
    assert [osp.basename(i) for i in images] == ["a.jpg", "b.jpg", "c.jpg"]
    (tmp_path / "labels" / "train" / "b.txt").write_text("0 0.5 0.5 0.1 0.1\n2 0.5 0.5 0.1 0.1\n")
    with pytest.raises(
        ValueError,
        match=r"b.txt, line 2: class id '2' is not an integer in "
        r"\[0, 2\)",
    ):
        labels_from_yolo_dir(tmp_path / "labels" / "train", 2)
    (tmp_path / "labels" / "train" / "b.txt").write_text("0 0.5 0.5\n")
    with pytest.raises(ValueError, match=r"b.txt, line 1: 3 fields"):
        labels_from_yolo_dir(tmp_path / "labels" / "train", 2)


def test_ranks_take_disjoint_slices_of_one_draw():
    labels = np.array([[1, 0], [0, 1], [1, 1], [1, 0], [0, 1], [1, 0], [0, 0]])
    ranks = [
        BalancedSampler.from_labels(labels, lam_scale=0.404, seed=3, rank=r, world_size=2)
        for r in (0, 1)
    ]
    single = BalancedSampler.from_labels(labels, lam_scale=0.404, seed=3, rank=0, world_size=1)
    for epoch in (0, 1):
        for sampler in (*ranks, single):
            sampler.set_epoch(epoch)
        mine = [list(s) for s in ranks]
        interleaved = [i for pair in zip(*mine) for i in pair]
        assert interleaved[: len(labels)] == list(single)  # one global draw, sliced
    np.testing.assert_array_equal(single.probabilities, solve_balanced_qp(labels, lam_scale=0.404))


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("any_loop"))
    make_fetal_dataset(root, num_train=24, num_val=20, image_size=64, seed=8)
    return root


def load_example():
    path = osp.join(ROOT, "examples", "torchvision_detection.py")
    spec = importlib.util.spec_from_file_location("torchvision_detection", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_torchvision_example_trains_on_the_balanced_stream_and_resumes(coco_root, tmp_path):
    example = load_example()
    common = [
        "--coco",
        osp.join(coco_root, "train.json"),
        "--images",
        osp.join(coco_root, "images"),
        "--batch-size",
        "4",
        "--image-size",
        "96",
    ]
    full = example.main(common + ["--iterations", "8", "--out-dir", str(tmp_path / "full")])
    first = example.main(common + ["--iterations", "3", "--out-dir", str(tmp_path / "cut")])
    resumed = example.main(
        common + ["--iterations", "8", "--out-dir", str(tmp_path / "cut"), "--resume"]
    )
    assert first == full[:3] and resumed == full[3:]  # across the epoch boundary at 6
    ids = sorted(
        image["id"] for image in json.load(open(osp.join(coco_root, "train.json")))["images"]
    )
    sampler = BalancedSampler.from_coco(
        osp.join(coco_root, "train.json"), order="id", lam_scale=0.404
    )
    assert [i for batch in full[:6] for i in batch] == [ids[k] for k in sampler]


def test_lightning_datamodule_feeds_the_stream_and_resumes_at_epochs(coco_root, tmp_path):
    lightning = pytest.importorskip("lightning")
    labels, _ = labels_from_coco(osp.join(coco_root, "train.json"))
    features = torch.randn(labels.shape[0], 3)

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return labels.shape[0]

        def __getitem__(self, index):
            return index, features[index]

    class BalancedData(lightning.LightningDataModule):
        def train_dataloader(self):
            self.sampler = BalancedSampler.from_coco(
                osp.join(coco_root, "train.json"), lam_scale=0.404, seed=5
            )
            return torch.utils.data.DataLoader(Images(), batch_size=4, sampler=self.sampler)

    class Model(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer, self.fed = torch.nn.Linear(3, 1), []

        def training_step(self, batch, batch_index):
            ids, x = batch
            self.fed.append(ids.tolist())
            return self.layer(x).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def fit(epochs, out, resume=None):
        model, data = Model(), BalancedData()
        trainer = lightning.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            devices=1,
            use_distributed_sampler=False,
            logger=False,
            enable_progress_bar=False,
            default_root_dir=str(out),
            enable_model_summary=False,
        )
        trainer.fit(model, data, ckpt_path=resume)
        return model.fed, data.sampler, trainer

    full, sampler, _ = fit(3, tmp_path / "full")
    assert [i for b in full[:6] for i in b] == sampler.global_indices(0).tolist()
    assert [i for b in full[6:12] for i in b] == sampler.global_indices(1).tolist()
    _, _, trainer = fit(2, tmp_path / "cut")
    checkpoint = trainer.checkpoint_callback.best_model_path  # the end of epoch 1
    resumed, _, _ = fit(3, tmp_path / "cut", resume=checkpoint)
    assert resumed == full[12:]  # epoch 2, as the uninterrupted run drew it


def test_analyze_sampling_reads_a_plain_coco_json(coco_root, tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, "tools", "analyze_sampling.py"),
            osp.join(coco_root, "train.json"),
            "--out-dir",
            str(tmp_path),
            "--sim-epochs",
            "5",
            "--cfg-options",
            "lam_scale=0.404",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.load(open(tmp_path / "summary.json"))
    labels, _ = labels_from_coco(osp.join(coco_root, "train.json"))
    assert summary["num_images"] == labels.shape[0] and summary["classes"][0] == "head"
    balanced = {s["sampler"]: s for s in summary["samplers"]}["balanced"]
    expected = labels.T @ solve_balanced_qp(labels, lam_scale=0.404) * labels.shape[0]
    np.testing.assert_allclose(balanced["class_draws"], expected, rtol=1e-9)
    assert (tmp_path / "class_draws.png").exists()


def test_console_entry_point_runs_the_tools(coco_root, tmp_path):
    import shutil
    import subprocess
    import sys

    command = shutil.which("mmdet-balanced", path=osp.dirname(sys.executable))
    assert command, "pip install -e . installs the mmdet-balanced console script"
    assert "analyze" in subprocess.run([command, "--help"], capture_output=True, text=True).stdout
    result = subprocess.run(
        [
            command,
            "analyze",
            osp.join(coco_root, "train.json"),
            "--out-dir",
            str(tmp_path),
            "--sim-epochs",
            "5",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "summary.json").exists()
    bad = subprocess.run([command, "analyse"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown command 'analyse'" in bad.stderr
