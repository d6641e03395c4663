"""The N x C presence matrix of Detectron2 dataset dicts (no Detectron2 import).

Detectron2's training dicts list their boxes under ``annotations``, each with a contiguous
``category_id`` in ``[0, num_classes)`` (what ``DatasetMapper`` feeds the model). Crowd
(``iscrowd = 1``) and ignored (``ignore = 1``) boxes do not count: the mapper drops crowd boxes
from training. Images without boxes are rows of zeros and stay sampleable.
"""

from typing import Optional

import numpy as np
import scipy.sparse as sp

from ..core.qp import presence_from_columns


def _describe(record, index):
    name = record.get("file_name", record.get("image_id")) if isinstance(record, dict) else None
    return f"dataset_dicts[{index}]" + (f" ({name})" if name is not None else "")


def labels_from_dataset_dicts(
    dataset_dicts, num_classes: Optional[int] = None, count: str = "images"
) -> sp.csr_matrix:
    """(N, C) CSR matrix of ``dataset_dicts`` (a list of Detectron2 dataset dicts, or any
    sequence of them, e.g. ``DatasetFromList``), rows in dataset order: 0/1 presence, or the
    number of (non-crowd) boxes of each class with ``count="instances"``.

    Args:
        dataset_dicts: what ``DatasetCatalog.get(name)`` or ``get_detection_dataset_dicts``
            returns.
        num_classes: C; default: the largest ``category_id`` + 1.
        count: ``"images"`` (presence) or ``"instances"`` (box counts).
    """
    if isinstance(dataset_dicts, (str, bytes)) or not hasattr(dataset_dicts, "__len__"):
        raise TypeError(
            "dataset_dicts must be a list of Detectron2 dataset dicts (e.g. "
            "DatasetCatalog.get(name) or get_detection_dataset_dicts(names)); got "
            f"{type(dataset_dicts).__name__}"
        )
    if len(dataset_dicts) == 0:
        raise ValueError("dataset_dicts is empty: there is no training image to sample")
    if num_classes is not None and (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 1
    ):
        raise ValueError(
            f"num_classes must be a positive int (the model's number of classes); "
            f"got {num_classes!r}"
        )
    rows = []
    for index in range(len(dataset_dicts)):
        record = dataset_dicts[index]
        if not isinstance(record, dict) or "annotations" not in record:
            raise ValueError(
                f"{_describe(record, index)} has no 'annotations': Detectron2 training dicts "
                "list their boxes under 'annotations' (an empty list for an image without "
                "boxes); pass the training split's dicts, not a test split's or mapped ones."
            )
        ids = []
        for box in record["annotations"]:
            if box.get("iscrowd", 0) or box.get("ignore", 0):
                continue
            category = box.get("category_id")
            if (
                isinstance(category, bool)
                or not isinstance(category, (int, np.integer))
                or (category < 0 or (num_classes is not None and category >= num_classes))
            ):
                bound = num_classes if num_classes is not None else "num_classes"
                raise ValueError(
                    f"{_describe(record, index)} has category_id {category!r} outside "
                    f"[0, {bound}): Detectron2 trains on contiguous ids; map the dataset's ids "
                    "with metadata thing_dataset_id_to_contiguous_id (register_coco_instances "
                    "does) or pass the model's num_classes."
                )
            ids.append(int(category))
        rows.append(sorted(ids))
    columns = np.fromiter((c for row in rows for c in row), dtype=np.int64)
    if num_classes is None:
        if columns.size == 0:
            raise ValueError(
                "no image of dataset_dicts has a (non-crowd) box, so there is "
                "nothing to balance; check the dataset or use TrainingSampler"
            )
        num_classes = int(columns.max()) + 1
    return presence_from_columns([len(row) for row in rows], columns, num_classes, count=count)
