"""The real annotation sets under ../shared/data/ as MMDetection datasets (no images needed)."""

import json
import os.path as osp

from mmdet.datasets import CocoDataset
from mmengine.dataset import ConcatDataset

DEFAULT_SHARED = osp.normpath(osp.join(osp.dirname(__file__), "..", "..", "shared", "data"))


def coco(ann_file, classes=None):
    """A CocoDataset over ``ann_file`` with the file's own categories as classes."""
    if classes is None:
        with open(ann_file) as handle:
            classes = tuple(c["name"] for c in json.load(handle)["categories"])
    return CocoDataset(
        ann_file=ann_file,
        data_root="",
        data_prefix=dict(img=""),
        pipeline=[],
        metainfo=dict(classes=classes),
        filter_cfg=dict(filter_empty_gt=False),
    )


def real_sets(shared=DEFAULT_SHARED):
    """{name: dataset} for VOC07 train, VOC07 trainval, VOC07+12 trainval, FPUS23, BCCD
    trainval, facemask train; a set whose files are missing maps to None."""
    voc = osp.join(shared, "voc")
    files = {
        "VOC07 train": [osp.join(voc, "pascal_train2007.json")],
        "VOC07 trainval": [osp.join(voc, f"pascal_{s}2007.json") for s in ("train", "val")],
        "VOC07+12 trainval": [
            osp.join(voc, f"pascal_{s}{y}.json") for y in ("2007", "2012") for s in ("train", "val")
        ],
        "FPUS23": [osp.join(shared, "fpus23", "fpus23_coco.json")],
        "BCCD trainval": [osp.join(shared, "bccd", "bccd_trainval.coco.json")],
        "facemask train": [osp.join(shared, "facemask", "train.json")],
    }
    sets = {}
    for name, paths in files.items():
        if not all(osp.exists(p) for p in paths):
            sets[name] = None
            continue
        parts = [coco(p) for p in paths]
        sets[name] = parts[0] if len(parts) == 1 else ConcatDataset(parts)
    return sets
