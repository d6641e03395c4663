"""Framework-free readers of detection annotations into the (N, C) label matrix: a COCO json
and an Ultralytics YOLO labels folder. Both return ``(matrix, image keys)`` with the rows in
the order of the keys; images without boxes are rows of zeros (they stay sampleable); bad input
stops with an error naming the file, line or id and the fix, never a silent drop."""

import json
import os
import os.path as osp

import numpy as np

from .qp import presence_from_columns


def _load_coco(path_or_dict):
    if isinstance(path_or_dict, dict):
        return path_or_dict, "the COCO dict"
    path = os.fspath(path_or_dict)
    try:
        with open(path) as handle:
            return json.load(handle), path
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}); give a COCO annotation file"
        ) from None


def labels_from_coco(path_or_dict, count: str = "images", order: str = "file"):
    """The label matrix of a COCO detection json (a path or the loaded dict).

    Classes are the ``categories`` in file order (column ``k`` = the k-th category, whatever
    its id; :func:`coco_class_names` gives their names), images the ``images`` in file order
    (keys: their ``file_name``). Boxes with ``iscrowd`` or ``ignore`` set are not counted.
    ``count``: ``"images"`` (0/1 presence) or ``"instances"`` (box counts). ``order``:
    ``"file"`` (rows in the order of ``images``) or ``"id"`` (ascending image id, the order of
    ``torchvision.datasets.CocoDetection`` and pycocotools' ``getImgIds``). Returns
    ``(matrix, keys)``.
    """
    if order not in ("file", "id"):
        raise ValueError(
            f"order={order!r} is not 'file' (the json's image order) or 'id' "
            "(ascending image ids, as torchvision's CocoDetection)"
        )
    data, source = _load_coco(path_or_dict)
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise ValueError(
                f"{source} has no '{key}' list: a COCO detection file holds "
                "'images', 'annotations' and 'categories' (an image without boxes "
                "simply has no annotation)"
            )
    images, categories = data["images"], data["categories"]
    if not images:
        raise ValueError(
            f"{source} lists no images: the training set is empty, there is nothing to sample"
        )
    if not categories:
        raise ValueError(f"{source} lists no categories: nothing to balance")
    if order == "id":
        try:
            images = sorted(images, key=lambda image: image["id"])
        except TypeError:
            raise ValueError(
                f"{source}: image ids of mixed types cannot be sorted; use order='file'"
            ) from None
    row_of = {}
    for position, image in enumerate(images):
        if image["id"] in row_of:
            raise ValueError(
                f"{source}: image id {image['id']!r} appears twice in 'images' "
                f"(entries {row_of[image['id']]} and {position}); image ids must "
                "be unique"
            )
        row_of[image["id"]] = position
    column_of = {}
    for position, category in enumerate(categories):
        if category["id"] in column_of:
            raise ValueError(
                f"{source}: category id {category['id']!r} appears twice in "
                "'categories'; category ids must be unique"
            )
        column_of[category["id"]] = position
    rows, columns = [], []
    for annotation in data["annotations"]:
        if annotation.get("iscrowd", 0) or annotation.get("ignore", 0):
            continue
        image_id, category_id = annotation.get("image_id"), annotation.get("category_id")
        if image_id not in row_of:
            raise ValueError(
                f"{source}: annotation {annotation.get('id')!r} refers to image "
                f"id {image_id!r}, which is not in 'images'; fix the annotation "
                "or add the image"
            )
        if category_id not in column_of:
            raise ValueError(
                f"{source}: annotation {annotation.get('id')!r} has category_id "
                f"{category_id!r}, which is not in 'categories' (ids "
                f"{sorted(column_of)}); fix the annotation or add the category"
            )
        rows.append(row_of[image_id])
        columns.append(column_of[category_id])
    order = np.argsort(np.asarray(rows, dtype=np.int64), kind="stable")
    lengths = np.bincount(np.asarray(rows, dtype=np.int64), minlength=len(images))
    matrix = presence_from_columns(
        lengths, np.asarray(columns, dtype=np.int64)[order], len(categories), count=count
    )
    return matrix, [image.get("file_name", image["id"]) for image in images]


def coco_class_names(path_or_dict) -> list:
    """The class names of a COCO json, in the column order of :func:`labels_from_coco`."""
    data, source = _load_coco(path_or_dict)
    if not data.get("categories"):
        raise ValueError(f"{source} has no 'categories' list")
    return [category.get("name", str(category["id"])) for category in data["categories"]]


IMAGE_SUFFIXES = (
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".dng",
    ".mpo",
    ".pfm",
    ".heic",
)


def labels_from_yolo_dir(labels_dir, num_classes: int, images_dir=None, count: str = "images"):
    """The label matrix of an Ultralytics YOLO layout: one ``<stem>.txt`` per image in
    ``labels_dir`` (lines ``class x y w h``, or more fields for segments). Images come from
    ``images_dir`` (default: ``labels_dir`` with its last ``labels`` folder replaced by
    ``images``, as Ultralytics does), sorted by path; an image without a label file (or with an
    empty one) has no boxes. Returns ``(matrix, image paths)``."""
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or (num_classes < 1)
    ):
        raise ValueError(
            f"num_classes must be a positive int (the length of data.yaml's "
            f"'names'); got {num_classes!r}"
        )
    labels_dir = osp.abspath(os.fspath(labels_dir))
    if not osp.isdir(labels_dir):
        raise FileNotFoundError(f"labels_dir {labels_dir} is not a folder")
    if images_dir is None:
        parts = labels_dir.split(os.sep)
        if "labels" not in parts:
            raise ValueError(
                f"labels_dir {labels_dir} has no 'labels' folder in its path; pass "
                "images_dir (the folder of the images these labels describe)"
            )
        index = len(parts) - 1 - parts[::-1].index("labels")
        images_dir = os.sep.join(parts[:index] + ["images"] + parts[index + 1 :])
    images_dir = os.fspath(images_dir)
    if not osp.isdir(images_dir):
        raise FileNotFoundError(
            f"images_dir {images_dir} is not a folder (the images the labels describe)"
        )
    images = sorted(
        osp.join(root, name)
        for root, _, names in os.walk(images_dir)
        for name in names
        if name.lower().endswith(IMAGE_SUFFIXES)
    )
    if not images:
        raise ValueError(f"images_dir {images_dir} holds no images: the training set is empty")
    lengths, columns = [], []
    for image in images:
        relative = osp.splitext(osp.relpath(image, images_dir))[0] + ".txt"
        label_file = osp.join(labels_dir, relative)
        classes = []
        if osp.isfile(label_file):
            with open(label_file) as handle:
                for number, line in enumerate(handle, 1):
                    fields = line.split()
                    if not fields:
                        continue
                    if len(fields) < 5:
                        raise ValueError(
                            f"{label_file}, line {number}: {len(fields)} fields; a "
                            "YOLO label line is 'class x_center y_center width "
                            "height' (5 fields, or more for a segment)"
                        )
                    try:
                        value = float(fields[0])
                    except ValueError:
                        value = float("nan")
                    if not (value.is_integer() and 0 <= value < num_classes):
                        raise ValueError(
                            f"{label_file}, line {number}: class id {fields[0]!r} "
                            f"is not an integer in [0, {num_classes}); check "
                            "data.yaml's 'names' and num_classes"
                        )
                    classes.append(int(value))
        lengths.append(len(classes))
        columns.extend(classes)
    matrix = presence_from_columns(
        lengths, np.asarray(columns, dtype=np.int64), num_classes, count=count
    )
    return matrix, images
