"""Check a config's classes against its annotations before anything is solved or trained.

A ``metainfo.classes`` entry that misspells a category name trains without error in
MMDetection: the misspelt class simply has no box, and the sampler would balance a class that
does not exist. :func:`check_classes` names the classes that disagree, in the run's log, and
fails when a configured class has no box at all (unless ``allow_empty_classes=True``).
"""

import json
import logging
import os.path as osp
from collections import Counter

import numpy as np
from mmengine.logging import print_log

from .labels import dataset_classes


def _base_datasets(dataset):
    """The unwrapped datasets behind ConcatDataset / RepeatDataset / ClassBalancedDataset /
    MultiImageMixDataset."""
    if hasattr(dataset, "datasets"):
        return [b for d in dataset.datasets for b in _base_datasets(d)]
    if hasattr(dataset, "dataset") and not hasattr(dataset, "data_list"):
        return _base_datasets(dataset.dataset)
    return [dataset]


def coco_category_boxes(ann_file: str) -> Counter:
    """Boxes per category name in a COCO json (crowd boxes not counted)."""
    with open(ann_file) as handle:
        data = json.load(handle)
    names = {c["id"]: c["name"] for c in data.get("categories", [])}
    counts = Counter({name: 0 for name in names.values()})
    for annotation in data.get("annotations", []):
        if not annotation.get("iscrowd", 0) and annotation.get("category_id") in names:
            counts[names[annotation["category_id"]]] += 1
    return counts


def check_classes(dataset, labels, owner: str, allow_empty_classes: bool = False) -> None:
    """Log (MMEngine's current logger) the configured classes that the annotation files do not
    name and the annotated categories (with boxes) that the config leaves out; raise if a
    configured class has no box in the training set or is not a category of the annotation
    file, unless ``allow_empty_classes``."""
    classes = list(dataset_classes(dataset))
    boxes = np.asarray((labels > 0).sum(axis=0)).ravel()
    empty = [name for name, count in zip(classes, boxes) if count == 0]
    file_boxes = Counter()
    for base in _base_datasets(dataset):
        ann_file = getattr(base, "ann_file", None)
        if ann_file and str(ann_file).endswith(".json") and osp.isfile(ann_file):
            try:
                file_boxes.update(coco_category_boxes(ann_file))
            except (OSError, ValueError, KeyError, TypeError):
                pass  # not a COCO json: only the empty-class check below applies
    problems, unnamed = [], []
    if file_boxes:
        unnamed = [name for name in classes if name not in file_boxes]
        left_out = sorted(
            name for name, count in file_boxes.items() if count > 0 and name not in classes
        )
        if unnamed:
            problems.append(
                f"configured classes {unnamed} are not categories of the annotation "
                f"file(s) (their categories: {sorted(file_boxes)}); MMDetection then "
                "numbers the categories it did find in order, so the labels of the "
                "classes after them shift"
            )
        if left_out:
            problems.append(
                f"annotated categories {left_out} have boxes but are not in the "
                "config's classes, so their boxes are not trained on"
            )
    if empty:
        problems.append(f"classes {empty} have no box in the training set")
    if not problems:
        return
    message = (
        f"{owner}: the config's metainfo['classes'] and the annotations disagree: "
        + "; ".join(problems)
        + ". Check the spelling of metainfo=dict(classes=(...)) "
        "against the category names of ann_file."
    )
    print_log(message, logger="current", level=logging.WARNING)
    if (empty or unnamed) and not allow_empty_classes:
        raise ValueError(
            message + " A class without boxes cannot be balanced; fix the names, "
            "or pass allow_empty_classes=True to the sampler to train anyway "
            "(the classes without boxes are then left out of the balance)."
        )
