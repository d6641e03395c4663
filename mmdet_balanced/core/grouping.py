"""Proposition 1 of Olivier & Raynaud: images with identical label rows share one probability.

The QP is therefore solved over the K unique rows of the presence matrix, each weighted by
its multiplicity. Grouping works on the sparse structure directly (never densifies ``E``):
each row's sorted column indices are packed into exact 64-bit keys, then sorted.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class LabelGroups:
    """Unique label rows of a presence matrix.

    Attributes:
        rows: ``(K, C)`` CSR matrix of the unique label rows (0/1, or the rows' weights).
        counts: ``(K,)`` number of images having each unique row.
        inverse: ``(N,)`` index of each image's row in ``rows``.
    """

    rows: sp.csr_matrix
    counts: np.ndarray
    inverse: np.ndarray

    @property
    def num_groups(self) -> int:
        return len(self.counts)


def group_label_rows(matrix: sp.csr_matrix) -> LabelGroups:
    """Group the rows of a CSR matrix (0/1 presence, or weights such as box counts) into
    unique rows with multiplicities: rows are equal when their columns and values are."""
    if not isinstance(matrix, sp.csr_matrix):  # a CSR matrix keeps its checked format flag
        matrix = sp.csr_matrix(matrix)
    if not matrix.has_canonical_format:
        matrix = matrix.copy()  # sorted, duplicate-free indices; the caller's stay as given
        matrix.sum_duplicates()
    if matrix.nnz == 0 or np.all(matrix.data == 1.0):
        return _group_patterns(matrix)
    # Weighted rows: each (column, value) pair becomes a column of its own, so that equal
    # patterns of the expanded 0/1 matrix are exactly equal weighted rows.
    values, codes = np.unique(matrix.data, return_inverse=True)
    expanded = sp.csr_matrix(
        (np.ones(matrix.nnz), matrix.indices.astype(np.int64) * len(values) + codes, matrix.indptr),
        shape=(matrix.shape[0], matrix.shape[1] * len(values)),
    )
    groups = _group_patterns(expanded, keep_rows=False)
    first = np.empty(len(groups.counts), dtype=np.int64)
    first[groups.inverse[::-1]] = np.arange(matrix.shape[0])[::-1]  # first image of each
    return LabelGroups(
        rows=matrix[first].astype(np.float64), counts=groups.counts, inverse=groups.inverse
    )


def _group_patterns(presence: sp.csr_matrix, keep_rows: bool = True) -> LabelGroups:
    """Unique 0/1 patterns of a canonical CSR matrix (``rows`` None unless ``keep_rows``)."""
    num_images, num_classes = presence.shape
    row_nnz = np.diff(presence.indptr)
    max_nnz = int(row_nnz.max()) if num_images else 0
    if max_nnz == 0:  # every image is a background image: one group
        return LabelGroups(
            rows=sp.csr_matrix((1, num_classes), dtype=np.float64),
            counts=np.array([num_images], dtype=np.int64),
            inverse=np.zeros(num_images, dtype=np.int64),
        )

    # Key of row r: its sorted labels, padded with num_classes, packed as many per 63-bit key
    # as fit exactly. Built one label position at a time (no N x max_nnz table).
    bits = max(1, int(num_classes).bit_length())
    per_key = max(1, 63 // bits)
    starts = presence.indptr[:-1]
    keys = []
    for first_position in range(0, max_nnz, per_key):
        key = np.zeros(num_images, dtype=np.int64)
        for position in range(first_position, min(first_position + per_key, max_nnz)):
            has_label = row_nnz > position
            label = np.full(num_images, num_classes, dtype=np.int64)
            label[has_label] = presence.indices[starts[has_label] + position]
            key <<= bits
            key |= label
        keys.append(key)

    # Ties (equal rows) may come in any order: they get one group whatever it is.
    order = np.argsort(keys[0]) if len(keys) == 1 else np.lexsort(keys[::-1])
    is_new = np.zeros(num_images, dtype=bool)
    is_new[0] = True
    for key in keys:
        ordered = key[order]
        is_new[1:] |= ordered[1:] != ordered[:-1]
        del ordered
    del keys
    group_of_sorted = np.cumsum(is_new) - 1
    inverse = np.empty(num_images, dtype=np.int64)
    inverse[order] = group_of_sorted
    first = order[is_new]
    counts = np.diff(np.append(np.flatnonzero(is_new), num_images))
    rows = None
    if keep_rows:
        rows = presence[first].astype(np.float64, copy=False)
        if not np.all(rows.data == 1.0):
            rows.data[:] = 1.0
    return LabelGroups(rows=rows, counts=counts.astype(np.int64), inverse=inverse)
