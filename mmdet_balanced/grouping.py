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
        rows: ``(K, C)`` CSR 0/1 matrix of the unique label rows.
        counts: ``(K,)`` number of images having each unique row.
        inverse: ``(N,)`` index of each image's row in ``rows``.
    """

    rows: sp.csr_matrix
    counts: np.ndarray
    inverse: np.ndarray

    @property
    def num_groups(self) -> int:
        return self.rows.shape[0]


def group_label_rows(presence: sp.csr_matrix) -> LabelGroups:
    """Group the rows of a 0/1 CSR matrix into unique rows with multiplicities."""
    presence = sp.csr_matrix(presence)
    presence.sum_duplicates()
    presence.sort_indices()
    num_images, num_classes = presence.shape
    row_nnz = np.diff(presence.indptr)
    max_nnz = int(row_nnz.max()) if num_images else 0
    if max_nnz == 0:  # every image is a background image: one group
        return LabelGroups(
            rows=sp.csr_matrix((1, num_classes), dtype=np.float64),
            counts=np.array([num_images], dtype=np.int64),
            inverse=np.zeros(num_images, dtype=np.int64))

    # Row r's j-th label (or the pad value num_classes) in column j of a (N, max_nnz) table.
    padded = np.full((num_images, max_nnz), num_classes, dtype=np.int64)
    position = np.arange(presence.nnz) - np.repeat(presence.indptr[:-1], row_nnz)
    padded[np.repeat(np.arange(num_images), row_nnz), position] = presence.indices

    # Pack as many padded columns as fit exactly into each 63-bit key.
    bits = max(1, int(num_classes).bit_length())
    per_key = max(1, 63 // bits)
    keys = []
    for start in range(0, max_nnz, per_key):
        key = np.zeros(num_images, dtype=np.int64)
        for column in range(start, min(start + per_key, max_nnz)):
            key = (key << bits) | padded[:, column]
        keys.append(key)

    if len(keys) == 1:
        _, first, inverse, counts = np.unique(
            keys[0], return_index=True, return_inverse=True, return_counts=True)
    else:
        order = np.lexsort(keys[::-1])
        stacked = np.stack([k[order] for k in keys], axis=1)
        is_new = np.ones(num_images, dtype=bool)
        is_new[1:] = np.any(stacked[1:] != stacked[:-1], axis=1)
        group_of_sorted = np.cumsum(is_new) - 1
        inverse = np.empty(num_images, dtype=np.int64)
        inverse[order] = group_of_sorted
        first = order[is_new]
        counts = np.bincount(group_of_sorted)
    rows = presence[first]
    rows.data[:] = 1.0
    return LabelGroups(rows=rows.astype(np.float64), counts=counts.astype(np.int64),
                       inverse=inverse.ravel().astype(np.int64))
