"""Synthetic, ultrasound-like detection data with the class structure of the paper's Table 1.

Main anatomies (head, abdomen, femur) are exclusive views; sub-anatomies lie inside their main
anatomy (head: falx cerebri, cerebellum, thalamus, CSP; abdomen: umbilical vein, stomach, spine,
heart). Spine is in more images than abdomen in the paper, so the extra spines make up
spine-only views. Per-class image counts scale with ``num_images`` from the paper's N = 1237.
"""

import json
import os
import os.path as osp

import numpy as np

FETAL_CLASSES = (
    "head",
    "abdomen",
    "femur",
    "falx",
    "cerebellum",
    "thalamus",
    "CSP",
    "umbilical vein",
    "stomach",
    "spine",
    "heart",
)
#: Images containing each class in the paper's Table 1 (N = 1237).
PAPER_TABLE1 = {
    "head": 579,
    "abdomen": 327,
    "femur": 303,
    "falx": 523,
    "thalamus": 408,
    "spine": 349,
    "CSP": 284,
    "stomach": 279,
    "umbilical vein": 239,
    "cerebellum": 114,
    "heart": 36,
}
PAPER_NUM_IMAGES = 1237
#: Main anatomy of each sub-anatomy (used to group classes in plots).
HIERARCHY = {
    "falx": "head",
    "cerebellum": "head",
    "thalamus": "head",
    "CSP": "head",
    "umbilical vein": "abdomen",
    "stomach": "abdomen",
    "spine": "abdomen",
    "heart": "abdomen",
}


def fetal_label_matrix(num_images: int = PAPER_NUM_IMAGES, seed: int = 0) -> np.ndarray:
    """(N, 11) 0/1 presence matrix with the paper's per-class frequencies and nesting."""
    if num_images < 20:
        raise ValueError(f"num_images={num_images} is too small to hold every class; use >= 20")
    rng = np.random.default_rng(seed)
    column = {name: i for i, name in enumerate(FETAL_CLASSES)}
    count = {
        name: max(1, round(n * num_images / PAPER_NUM_IMAGES)) for name, n in PAPER_TABLE1.items()
    }
    labels = np.zeros((num_images, len(FETAL_CLASSES)), dtype=np.uint8)
    order = rng.permutation(num_images)
    views, start = {}, 0
    for main in ("head", "abdomen", "femur"):
        views[main] = order[start : start + count[main]]
        labels[views[main], column[main]] = 1
        start += count[main]
    others = order[start:]  # neither head, abdomen nor femur
    for sub, main in HIERARCHY.items():
        hosts = views[main]
        n_inside = min(count[sub], len(hosts))
        if sub == "spine":  # the spines beyond the abdomen count are spine-only views
            n_extra = min(len(others), count[sub] - min(count[sub], len(hosts) - 1))
            n_inside = count[sub] - n_extra
            labels[others[:n_extra], column[sub]] = 1
        labels[rng.choice(hosts, size=n_inside, replace=False), column[sub]] = 1
    return labels


# Each class is drawn as (shape, intensity): rings, filled ellipses, bars and dot rows, so that
# a small detector can tell them apart on speckle noise.
_STYLE = {
    "head": ("ring", 230),
    "abdomen": ("ring", 170),
    "femur": ("bar", 250),
    "falx": ("line", 255),
    "cerebellum": ("disk", 60),
    "thalamus": ("disk", 120),
    "CSP": ("box", 20),
    "umbilical vein": ("line", 40),
    "stomach": ("disk", 10),
    "spine": ("dots", 255),
    "heart": ("disk", 200),
}


def _draw(image, kind, value, box):
    import cv2

    x0, y0, x1, y1 = (int(v) for v in box)
    center, axes = (
        ((x0 + x1) // 2, (y0 + y1) // 2),
        (max(1, (x1 - x0) // 2), max(1, (y1 - y0) // 2)),
    )
    if kind == "ring":
        cv2.ellipse(image, center, axes, 0, 0, 360, value, thickness=max(2, axes[0] // 8))
    elif kind == "disk":
        cv2.ellipse(image, center, axes, 0, 0, 360, value, thickness=-1)
    elif kind == "bar":
        cv2.rectangle(image, (x0, center[1] - 2), (x1, center[1] + 2), value, thickness=-1)
    elif kind == "line":
        cv2.line(image, (x0, y0), (x1, y1), value, thickness=2)
    elif kind == "box":
        cv2.rectangle(image, (x0, y0), (x1, y1), value, thickness=-1)
    elif kind == "dots":
        for x in np.linspace(x0 + 2, x1 - 2, 5):
            cv2.circle(image, (int(x), center[1]), 2, value, thickness=-1)


def _boxes_for(row, rng, size):
    """One box per present class: main anatomy first, sub-anatomies inside it."""
    boxes = {}
    frame = (0.0, 0.0, float(size), float(size))
    mains = [c for c in ("head", "abdomen", "femur") if row[FETAL_CLASSES.index(c)]]
    for main in mains:
        w, h = rng.uniform(0.45, 0.8, size=2) * size
        if main == "femur":
            h = rng.uniform(0.1, 0.2) * size
        x0, y0 = rng.uniform(0, size - w), rng.uniform(0, size - h)
        boxes[main] = (x0, y0, x0 + w, y0 + h)
    for name in FETAL_CLASSES:
        if not row[FETAL_CLASSES.index(name)] or name in boxes:
            continue
        x0, y0, x1, y1 = boxes.get(HIERARCHY.get(name), frame)
        w, h = rng.uniform(0.15, 0.3, size=2) * min(x1 - x0, y1 - y0) + 4
        bx, by = rng.uniform(x0, max(x0, x1 - w)), rng.uniform(y0, max(y0, y1 - h))
        boxes[name] = (bx, by, min(bx + w, size - 1.0), min(by + h, size - 1.0))
    return boxes


def make_fetal_dataset(
    out_dir: str, num_train: int = 200, num_val: int = 60, image_size: int = 128, seed: int = 0
) -> dict:
    """Write a COCO-format ultrasound-like dataset: ``images/``, ``train.json``, ``val.json``.

    Both splits follow the paper's Table 1 class frequencies (scaled). Returns the paths.
    """
    import cv2

    if image_size < 32:
        raise ValueError(f"image_size={image_size} is too small; use >= 32 pixels")
    os.makedirs(osp.join(out_dir, "images"), exist_ok=True)
    rng = np.random.default_rng(seed)
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(FETAL_CLASSES)]
    paths, image_id, ann_id = {}, 0, 0
    for split, count in (("train", num_train), ("val", num_val)):
        labels = fetal_label_matrix(count, seed=seed + (0 if split == "train" else 1))
        images, annotations = [], []
        for row in labels:
            image_id += 1
            image = rng.gamma(2.0, 20.0, size=(image_size, image_size)).clip(0, 255)
            image = image.astype(np.uint8)
            boxes = _boxes_for(row, rng, image_size)
            for name, box in boxes.items():  # main anatomies first: sub-anatomies on top
                _draw(image, *_STYLE[name], box)
                ann_id += 1
                x0, y0, x1, y1 = box
                annotations.append(
                    {
                        "id": ann_id,
                        "image_id": image_id,
                        "iscrowd": 0,
                        "category_id": FETAL_CLASSES.index(name) + 1,
                        "bbox": [x0, y0, x1 - x0, y1 - y0],
                        "area": (x1 - x0) * (y1 - y0),
                    }
                )
            file_name = f"{split}_{image_id:06d}.png"
            cv2.imwrite(osp.join(out_dir, "images", file_name), image)
            images.append(
                {"id": image_id, "file_name": file_name, "width": image_size, "height": image_size}
            )
        paths[split] = osp.join(out_dir, f"{split}.json")
        with open(paths[split], "w") as handle:
            json.dump(
                {"images": images, "annotations": annotations, "categories": categories}, handle
            )
    return paths


def long_tailed_labels(
    num_images: int,
    num_classes: int,
    max_labels: int = 3,
    exponent: float = 1.0,
    seed: int = 0,
    every_class: bool = False,
):
    """Sparse (N, C) presence matrix with 1..max_labels classes per image drawn from a Zipf-like
    class distribution (class l has weight 1 / (l + 1)^exponent): a long-tailed label set
    like LVIS or OpenImages, generated in O(nnz). ``every_class``: the first C drawn labels are
    replaced by 0..C-1 so that every class is present (the benchmarks' COCO-size case is
    ``long_tailed_labels(118_000, 80, max_labels=6, exponent=1.1, seed=2, every_class=True)``)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    per_image = rng.integers(1, max_labels + 1, size=num_images)
    weights = 1.0 / np.arange(1, num_classes + 1) ** exponent
    columns = rng.choice(num_classes, size=int(per_image.sum()), p=weights / weights.sum())
    if every_class:
        columns[:num_classes] = np.arange(num_classes)
    indptr = np.concatenate([[0], np.cumsum(per_image)])
    matrix = sp.csr_matrix(
        (np.ones(columns.size), columns, indptr), shape=(num_images, num_classes)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def starved_class_example(num_images: int = 1500, num_classes: int = 40, seed: int = 0):
    """Long-tailed labels where the last class is in exactly one image, together with the two
    most frequent classes: the paper's objective leaves that class below its uniform frequency
    (see ``objective="maxmin"``)."""
    labels = long_tailed_labels(num_images, num_classes, seed=seed).toarray()
    rare = num_classes - 1
    labels[:, rare] = 0
    most_frequent = np.argsort(-labels.sum(axis=0))[:2]
    labels[0] = 0
    labels[0, most_frequent] = labels[0, rare] = 1
    return labels


def coco_to_yolo(coco_dir: str, out_dir: str, splits=("train", "val")) -> str:
    """The fetal demo (or any COCO set written by :func:`make_fetal_dataset`) in Ultralytics'
    YOLO layout: ``images/<split>/``, ``labels/<split>/*.txt`` (``class cx cy w h``,
    normalised) and ``data.yaml``. Returns the path of ``data.yaml``."""
    import shutil

    names = None
    for split in splits:
        with open(osp.join(coco_dir, f"{split}.json")) as handle:
            coco = json.load(handle)
        categories = sorted(coco["categories"], key=lambda c: c["id"])
        names = [c["name"] for c in categories]
        column = {c["id"]: k for k, c in enumerate(categories)}
        boxes = {}
        for ann in coco["annotations"]:
            boxes.setdefault(ann["image_id"], []).append(ann)
        for folder in ("images", "labels"):
            os.makedirs(osp.join(out_dir, folder, split), exist_ok=True)
        for image in coco["images"]:
            shutil.copy(
                osp.join(coco_dir, "images", image["file_name"]),
                osp.join(out_dir, "images", split, image["file_name"]),
            )
            width, height = image["width"], image["height"]
            lines = [
                f"{column[a['category_id']]} {(a['bbox'][0] + a['bbox'][2] / 2) / width:.6f} "
                f"{(a['bbox'][1] + a['bbox'][3] / 2) / height:.6f} "
                f"{a['bbox'][2] / width:.6f} {a['bbox'][3] / height:.6f}"
                for a in boxes.get(image["id"], [])
                if not a.get("iscrowd", 0)
            ]
            stem = osp.splitext(image["file_name"])[0]
            with open(osp.join(out_dir, "labels", split, stem + ".txt"), "w") as handle:
                handle.write("\n".join(lines) + ("\n" if lines else ""))
    path = osp.join(out_dir, "data.yaml")
    with open(path, "w") as handle:
        handle.write(f"path: {osp.abspath(out_dir)}\n")
        for split in splits:
            handle.write(f"{split}: images/{split}\n")
        handle.write("names:\n" + "".join(f"  {k}: {n}\n" for k, n in enumerate(names)))
    return path
