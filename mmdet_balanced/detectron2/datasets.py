"""Registering the project's synthetic fetal demo (``python tools/make_demo_data.py``, COCO
format) in Detectron2's catalogs, for the configs in ``configs/detectron2/``."""
import os

from detectron2.data import DatasetCatalog
from detectron2.data.datasets import register_coco_instances

DEMO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data",
                         "fetal_demo")


def register_fetal_demo(root: str = DEMO_ROOT) -> list:
    """Register ``fetal_demo_train`` / ``fetal_demo_val`` from ``root`` (idempotent; a split
    whose annotation file is missing is skipped). Returns the names now registered."""
    names = []
    for split in ("train", "val"):
        name, ann_file = f"fetal_demo_{split}", os.path.join(root, f"{split}.json")
        if name not in DatasetCatalog.list() and os.path.exists(ann_file):
            register_coco_instances(name, {}, ann_file, os.path.join(root, "images"))
        if name in DatasetCatalog.list():
            names.append(name)
    return names
