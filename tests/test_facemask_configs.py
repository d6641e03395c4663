"""configs/facemask/: every config loads with its documented default data_root, and each model
trains through the real Runner on a tiny generated stand-in of the facemask data (the real
photos in ../shared/data/facemask/ are not needed)."""

import glob
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLASSES = ("with_mask", "without_mask", "mask_weared_incorrect")
CONFIGS = sorted(glob.glob(osp.join(ROOT, "configs", "facemask", "*.py")))


@pytest.fixture(scope="module")
def facemask_like(tmp_path_factory):
    """24 train / 8 val images of 96x72 px in the facemask COCO layout, every class present."""
    root = tmp_path_factory.mktemp("facemask_like")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    for split, count in (("train", 24), ("val", 8)):
        images, annotations = [], []
        for i in range(count):
            name = f"{split}_{i}.jpg"
            Image.fromarray(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)).save(
                root / "images" / name
            )
            images.append(dict(id=i + 1, file_name=name, width=96, height=72))
            for k in range(1 + i % 3):
                x, y = int(rng.integers(0, 60)), int(rng.integers(0, 40))
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=i + 1,
                        category_id=1 + (i + k) % 3,
                        bbox=[x, y, 20, 24],
                        area=480,
                        iscrowd=0,
                    )
                )
        json.dump(
            dict(
                images=images,
                annotations=annotations,
                categories=[dict(id=j + 1, name=n) for j, n in enumerate(CLASSES)],
            ),
            open(root / f"{split}.json", "w"),
        )
    return str(root)


def test_every_method_and_model_is_there_and_reads_the_shared_folder_by_default():
    names = {osp.basename(c) for c in CONFIGS}
    for model in ("yolov3_mobilenetv2", "faster-rcnn_r18_fpn"):
        for method in ("uniform", "oversampling", "balanced", "recommended"):
            assert f"{model}_facemask_{method}.py" in names
    for config in CONFIGS:
        cfg = Config.fromfile(config)
        assert cfg.train_dataloader.dataset.data_root == "../shared/data/facemask/"
        assert tuple(cfg.train_dataloader.dataset.metainfo["classes"]) == CLASSES
        sampler = cfg.train_dataloader.sampler
        if "balanced" in config:
            assert sampler.type == "BalancedQPSampler" and sampler.draw == "iid"
        if "recommended" in config:
            assert sampler.draw == "systematic" and sampler.lam_scale == pytest.approx(0.4042)
        if "oversampling" in config:
            assert sampler.factors == {"mask_weared_incorrect": 3}


@pytest.mark.parametrize(
    "config",
    [
        osp.join(ROOT, "configs", "facemask", "yolov3_mobilenetv2_facemask_recommended.py"),
        osp.join(ROOT, "configs", "facemask", "faster-rcnn_r18_fpn_facemask_oversampling.py"),
    ],
    ids=osp.basename,
)
def test_facemask_config_trains_on_a_tiny_stand_in(config, facemask_like, tmp_path):
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(
        {
            "work_dir": str(tmp_path),
            "train_dataloader.dataset.data_root": facemask_like + "/",
            "val_dataloader.dataset.data_root": facemask_like + "/",
            "test_dataloader.dataset.data_root": facemask_like + "/",
            "train_dataloader.batch_size": 4,
            "train_dataloader.dataset.pipeline.2.scale": (64, 64),
            "train_cfg.max_epochs": 1,
            "train_cfg.val_interval": 1,
            "default_hooks.logger.interval": 1,
        }
    )
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 1 and runner.iter > 0
    log = open(osp.join(runner.log_dir, f"{osp.basename(runner.log_dir)}.log")).read()
    assert "mask_weared_incorrect" in log and "class_ap/AP@0.2/mask_weared_incorrect" in log
