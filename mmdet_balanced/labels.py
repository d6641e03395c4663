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


def dataset_classes(dataset) -> tuple:
    """The class names of a (possibly wrapped) MMDetection dataset."""
    metainfo = getattr(dataset, "metainfo", None) or {}
    classes = metainfo.get("classes")
    if classes is None:
        raise ValueError(f"{type(dataset).__name__} has no metainfo['classes']; set "
                         "metainfo=dict(classes=(...)) in the dataset config.")
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


def _base_label_rows(dataset):
    if hasattr(dataset, "data_list") or hasattr(dataset, "data_bytes"):
        with _cyclic_gc_paused():
            return [[inst["bbox_label"] for inst in info.get("instances", ())
                     if not inst.get("ignore_flag", 0)] for info in _iter_data_infos(dataset)]
    if hasattr(dataset, "get_cat_ids"):
        return [list(dataset.get_cat_ids(i)) for i in range(len(dataset))]
    raise TypeError(f"cannot read labels from {type(dataset).__name__}: it has neither "
                    "MMEngine's data_list nor get_cat_ids(idx). Build it from mmdet's "
                    "BaseDetDataset, or pass a label matrix to solve_balanced_qp directly.")


def _rows_to_csr(rows, num_classes, name):
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    columns = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
    if columns.size and (columns.min() < 0 or columns.max() >= num_classes):
        bad = int(np.flatnonzero((columns < 0) | (columns >= num_classes))[0])
        image = int(np.searchsorted(np.cumsum(lengths), bad, side="right"))
        raise ValueError(f"{name}: image {image} has bbox_label {int(columns[bad])} outside "
                         f"[0, {num_classes}); the dataset's classes and annotations disagree.")
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    matrix = sp.csr_matrix((np.ones(columns.size), columns, indptr),
                           shape=(len(rows), num_classes))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def label_matrix(dataset) -> sp.csr_matrix:
    """(N, C) 0/1 CSR presence matrix of ``dataset``, rows in dataset index order."""
    if hasattr(dataset, "full_init"):
        dataset.full_init()  # lazily initialised datasets and wrappers; idempotent
    if hasattr(dataset, "datasets") and hasattr(dataset, "cumulative_sizes"):  # ConcatDataset
        parts = [label_matrix(d) for d in dataset.datasets]
        widths = {part.shape[1] for part in parts}
        if len(widths) != 1:
            raise ValueError(f"ConcatDataset members have different class counts {widths}; "
                             "give them the same metainfo classes.")
        return sp.vstack(parts, format="csr")
    if hasattr(dataset, "times") and hasattr(dataset, "dataset"):  # RepeatDataset
        return sp.vstack([label_matrix(dataset.dataset)] * dataset.times, format="csr")
    if hasattr(dataset, "repeat_indices") and hasattr(dataset, "dataset"):  # ClassBalanced
        return label_matrix(dataset.dataset)[np.asarray(dataset.repeat_indices)]
    if hasattr(dataset, "pipeline") and hasattr(dataset, "dataset") and not hasattr(
            dataset, "data_list"):  # MultiImageMixDataset: same indexing as its dataset
        return label_matrix(dataset.dataset)
    rows = _base_label_rows(dataset)
    return _rows_to_csr(rows, len(dataset_classes(dataset)), type(dataset).__name__)
