"""The N x C presence matrix of an Ultralytics YOLO dataset (no Ultralytics import): per image
``dataset.labels[i]["cls"]`` (one class id per box, shape (k, 1)); images without boxes are rows
of zeros."""

import numpy as np
import scipy.sparse as sp

from ..core.qp import presence_from_columns


def labels_from_yolo_dataset(dataset, num_classes: int, count: str = "images") -> sp.csr_matrix:
    """(N, C) CSR matrix of a ``YOLODataset`` (its ``labels`` list, in index order): 0/1
    presence, or box counts with ``count="instances"``."""
    records = getattr(dataset, "labels", None)
    if records is None:
        raise TypeError(
            f"{type(dataset).__name__} has no 'labels' list: pass the YOLODataset "
            "that the train loader indexes"
        )
    rows = []
    for index, record in enumerate(records):
        ids = np.sort(np.asarray(record.get("cls", []), dtype=np.float64).ravel())
        if ids.size and (ids.min() < 0 or ids.max() >= num_classes or np.any(ids % 1)):
            raise ValueError(
                f"image {index} ({record.get('im_file')}) has class id "
                f"{ids[(ids < 0) | (ids >= num_classes) | (ids % 1 != 0)][0]:g} "
                f"outside [0, {num_classes}): data.yaml's 'names' and the label "
                "files disagree"
            )
        rows.append(ids.astype(np.int64))
    columns = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    return presence_from_columns([len(r) for r in rows], columns, num_classes, count=count)
