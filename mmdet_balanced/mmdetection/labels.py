"""The N x C presence matrix of an MMDetection dataset, read from its annotations.

One pass over the annotations the dataset already holds (serialized or not), in dataset index
order, without building per-image deep copies; dataset wrappers (ConcatDataset, RepeatDataset,
ClassBalancedDataset, MultiImageMixDataset) are followed to their inner datasets. Instances with
``ignore_flag = 1`` do not count: MMDetection does not train on them. Images without boxes are
rows of zeros.
"""

import contextlib
import gc
import itertools
import pickle

import numpy as np
import scipy.sparse as sp

from ..core.qp import presence_from_columns


def dataset_classes(dataset) -> tuple:
    """The class names of a (possibly wrapped) MMDetection dataset."""
    metainfo = getattr(dataset, "metainfo", None) or {}
    classes = metainfo.get("classes")
    if classes is None:
        raise ValueError(
            f"{type(dataset).__name__} has no metainfo['classes']; set "
            "metainfo=dict(classes=(...)) in the dataset config."
        )
    return tuple(classes)


def _iter_data_infos(dataset):
    """Yield each image's raw data info, without the deep copy of ``get_data_info``."""
    if getattr(dataset, "serialize_data", False):
        buffer = memoryview(dataset.data_bytes)
        start = 0
        for end in dataset.data_address.tolist():
            yield pickle.loads(buffer[start:end])
            start = end
    else:
        yield from dataset.data_list


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Unpickling ~1e5 small dicts triggers many cyclic-GC passes over all live objects (35% of
    the time measured at 118k images); the infos are acyclic, so reference counting frees them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _base_per_image(dataset, read_info, read_index):
    """Per-image values of an unwrapped dataset, in index order."""
    if hasattr(dataset, "data_list") or hasattr(dataset, "data_bytes"):
        return [read_info(info) for info in _iter_data_infos(dataset)]
    if hasattr(dataset, "get_cat_ids"):
        return [read_index(dataset, i) for i in range(len(dataset))]
    raise TypeError(
        f"cannot read annotations from {type(dataset).__name__}: it has neither "
        "MMEngine's data_list nor get_cat_ids(idx). Build it from mmdet's "
        "BaseDetDataset, or pass a label matrix to solve_balanced_qp directly."
    )


def per_image(dataset, read_info, read_index, distinct: bool = False) -> list:
    """``read_info(data_info)`` for every image of ``dataset`` in index order, following
    ConcatDataset, RepeatDataset, ClassBalancedDataset and MultiImageMixDataset to the
    datasets they wrap (``read_index(dataset, i)`` serves datasets with only get_cat_ids).
    ``distinct``: each image once, without the copies of RepeatDataset / ClassBalancedDataset."""
    if hasattr(dataset, "full_init"):
        dataset.full_init()  # lazily initialised datasets and wrappers; idempotent
    if hasattr(dataset, "datasets") and hasattr(dataset, "cumulative_sizes"):  # ConcatDataset
        return [v for d in dataset.datasets for v in per_image(d, read_info, read_index, distinct)]
    if hasattr(dataset, "times") and hasattr(dataset, "dataset"):  # RepeatDataset
        inner = per_image(dataset.dataset, read_info, read_index, distinct)
        return inner if distinct else inner * dataset.times
    if hasattr(dataset, "repeat_indices") and hasattr(dataset, "dataset"):  # ClassBalanced
        inner = per_image(dataset.dataset, read_info, read_index, distinct)
        return inner if distinct else [inner[i] for i in dataset.repeat_indices]
    if (
        hasattr(dataset, "pipeline")
        and hasattr(dataset, "dataset")
        and not hasattr(dataset, "data_list")
    ):  # MultiImageMixDataset: same indexing as its dataset
        return per_image(dataset.dataset, read_info, read_index, distinct)
    return _base_per_image(dataset, read_info, read_index)


def _labels(info):
    return [
        inst["bbox_label"] for inst in info.get("instances", ()) if not inst.get("ignore_flag", 0)
    ]


def _labels_and_key(info):
    return _labels(info), info.get("img_path") or info.get("img_id")


def read_annotations(dataset, with_image_keys: bool = False, count: str = "images"):
    """One pass over ``dataset``: its (N, C) matrix (presence, or box counts with
    ``count="instances"``) and, if asked, each image's path (or id), as
    ``(matrix, keys or None)``."""
    name = type(dataset).__name__
    with _cyclic_gc_paused():
        if not with_image_keys:
            rows = per_image(dataset, _labels, lambda d, i: list(d.get_cat_ids(i)))
            return _rows_to_csr(rows, len(dataset_classes(dataset)), name, count), None
        pairs = per_image(dataset, _labels_and_key, lambda d, i: (list(d.get_cat_ids(i)), i))
        return (
            _rows_to_csr(
                [labels for labels, _ in pairs], len(dataset_classes(dataset)), name, count
            ),
            [key for _, key in pairs],
        )


def label_matrix(dataset, count: str = "images") -> sp.csr_matrix:
    """(N, C) CSR matrix of ``dataset``, rows in dataset index order: 0/1 presence
    (``count="images"``) or the number of (non-ignored) boxes of each class
    (``count="instances"``)."""
    return read_annotations(dataset, count=count)[0]


def distinct_label_matrix(dataset, count: str = "images") -> sp.csr_matrix:
    """The matrix (presence, or box counts with ``count="instances"``) of the distinct images
    ``dataset`` holds: the copies made by RepeatDataset and ClassBalancedDataset are counted
    once (statistics of the data, not of the dataset's indexing)."""
    with _cyclic_gc_paused():
        rows = per_image(dataset, _labels, lambda d, i: list(d.get_cat_ids(i)), distinct=True)
    return _rows_to_csr(rows, len(dataset_classes(dataset)), type(dataset).__name__, count)


def _rows_to_csr(rows, num_classes, name, count="images"):
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    columns = np.fromiter(
        itertools.chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum())
    )
    if columns.size and (columns.min() < 0 or columns.max() >= num_classes):
        bad = int(np.flatnonzero((columns < 0) | (columns >= num_classes))[0])
        image = int(np.searchsorted(np.cumsum(lengths), bad, side="right"))
        raise ValueError(
            f"{name}: image {image} has bbox_label {int(columns[bad])} outside "
            f"[0, {num_classes}); the dataset's classes and annotations disagree "
            "(check metainfo['classes'] of every wrapped dataset)."
        )
    return presence_from_columns(lengths, columns, num_classes, count=count)
