"""Proposition 1 of Olivier & Raynaud: images with identical label rows share one probability.

The QP is therefore solved over the K unique rows of the presence matrix, each weighted by
its multiplicity. Grouping works on the sparse structure directly (never densifies ``E``):
each row's sorted column indices (then its values' codes) are packed into exact 64-bit keys,
then sorted.
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
    if matrix.nnz == 0:  # every image is a background image: one group
        return LabelGroups(
            rows=sp.csr_matrix((1, matrix.shape[1]), dtype=np.float64),
            counts=np.array([matrix.shape[0]], dtype=np.int64),
            inverse=np.zeros(matrix.shape[0], dtype=np.int64),
        )
    codes, num_values = _value_codes(matrix.data)
    inverse, counts, first = _group_by_packed_keys(matrix, codes, num_values)
    rows = matrix[first].astype(np.float64, copy=False)
    return LabelGroups(rows=rows, counts=counts, inverse=inverse)


def _value_codes(data):
    """Integer codes of the entries' values (0/1 presence: all 0; integer weights such as
    box counts: themselves, no sort) and how many codes there can be."""
    if np.all(data == 1.0):
        return np.zeros(len(data), dtype=np.int64), 1
    if data.min() >= 0 and data.max() < 2**20 and np.array_equal(data, np.rint(data)):
        codes = data.astype(np.int64)
        return codes, int(codes.max()) + 1
    values, codes = np.unique(data, return_inverse=True)
    return codes.astype(np.int64), len(values)


def _group_by_packed_keys(matrix, codes, num_values):
    """Exact grouping by sorting packed keys: 0/1 patterns first, then (pattern, packed
    value codes)."""
    column_bits = max(1, int(matrix.shape[1]).bit_length())
    if num_values == 1:
        pattern_keys = _packed_keys(matrix.indices, matrix.indptr, column_bits, matrix.shape[1])
        return _group_keys(pattern_keys, matrix.shape[0])
    value_bits = max(1, (num_values - 1).bit_length())
    pattern_keys, code_keys = _packed_keys(
        [matrix.indices, codes], matrix.indptr, [column_bits, value_bits], [matrix.shape[1], 0]
    )
    pattern_of_row, pattern_counts, _, by_pattern = _group_keys(
        pattern_keys, matrix.shape[0], return_order=True
    )
    code_bits = value_bits * int(np.diff(matrix.indptr).max())
    if len(code_keys) == 1 and int(len(pattern_counts)).bit_length() + code_bits <= 63:
        # one exact key, already sorted by pattern: a stable sort (runs) finishes the job
        return _group_keys(
            [(pattern_of_row << code_bits) | code_keys[0]], matrix.shape[0], by_pattern
        )
    return _group_keys([pattern_of_row] + code_keys, matrix.shape[0])


def _packed_keys(entries, indptr, bits, pad):
    """Every row's entries (CSR order) packed ``63 // bits`` to a 64-bit key, shorter rows
    padded with ``pad``; exact (no hashing). ``entries``, ``bits`` and ``pad`` may be lists
    (several arrays of the same layout, one list of keys each, sharing the position masks)."""
    several = isinstance(entries, list)
    entries, bits, pad = (entries, bits, pad) if several else ([entries], [bits], [pad])
    num_rows = len(indptr) - 1
    row_nnz = np.diff(indptr)
    max_nnz = int(row_nnz.max(initial=0))
    per_key = [max(1, 63 // b) for b in bits]
    starts = indptr[:-1]
    keys = [[] for _ in entries]
    for position in range(max(max_nnz, 1)):
        has_entry = row_nnz > position
        where = starts[has_entry] + position
        for array, b, p, step, out in zip(entries, bits, pad, per_key, keys):
            if position % step == 0:
                out.append(np.zeros(num_rows, dtype=np.int64))
            if position >= max_nnz:
                continue
            entry = np.full(num_rows, p, dtype=np.int64)
            entry[has_entry] = array[where]
            out[-1] <<= b
            out[-1] |= entry
    return keys if several else keys[0]


def _group_keys(keys, num_rows, nearly_sorted_by=None, return_order=False):
    """``(inverse, counts, first)`` of the rows grouped by equal keys (a list of int64
    arrays, compared lexicographically); ``nearly_sorted_by``: an order in which the (single)
    key is sorted but for short runs, which a stable sort then fixes in near-linear time."""
    # Ties (equal rows) may come in any order: they get one group whatever it is.
    if nearly_sorted_by is not None:
        hint = nearly_sorted_by
        order = hint[np.argsort(keys[0][hint], kind="stable")]
    else:
        order = np.argsort(keys[0]) if len(keys) == 1 else np.lexsort(keys[::-1])
    is_new = np.zeros(num_rows, dtype=bool)
    is_new[0] = True
    for key in keys:
        ordered = key[order]
        is_new[1:] |= ordered[1:] != ordered[:-1]
        del ordered
    group_of_sorted = np.cumsum(is_new) - 1
    inverse = np.empty(num_rows, dtype=np.int64)
    inverse[order] = group_of_sorted
    counts = np.diff(np.append(np.flatnonzero(is_new), num_rows)).astype(np.int64)
    if return_order:
        return inverse, counts, order[is_new], order
    return inverse, counts, order[is_new]
