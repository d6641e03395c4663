"""What a sampler does to a dataset, before any training: expected class frequencies, spread,
image coverage, for balanced sampling and the samplers it is compared with; and sweeps of
(alpha_factor, lam). Plain numpy/scipy on the presence matrix.
"""
import math
from dataclasses import dataclass

import numpy as np

from threadpoolctl import threadpool_limits

from .grouping import group_label_rows
from .qp import (newton_on_groups, only_uniform_feasible, presence_matrix, renormalise,
                 solve_balanced_qp)
from .report import frequency_spread
from .sampler import alias_table


@dataclass
class Scheme:
    """A sampling scheme as seen by one epoch: per-image probability of a draw, draws per
    epoch, and whether draws are i.i.d. (else each image appears a fixed number of times)."""
    name: str
    p: np.ndarray
    draws: int
    iid: bool


def uniform_scheme(num_images):
    return Scheme("uniform", np.full(num_images, 1.0 / num_images), num_images, iid=False)


def repeat_scheme(name, repeats):
    repeats = np.asarray(repeats, dtype=np.float64)
    return Scheme(name, repeats / repeats.sum(), int(repeats.sum()), iid=False)


def class_aware_scheme(labels):
    """MMDetection's ClassAwareSampler: a uniformly chosen class, then a uniformly chosen image
    of it (drawn without replacement within each class cycle; taken as i.i.d. here)."""
    labels = presence_matrix(labels)
    per_class = np.asarray(labels.sum(axis=0)).ravel()
    present = per_class > 0
    weights = np.where(present, 1.0 / np.maximum(per_class, 1), 0.0) / present.sum()
    p = np.asarray(labels @ weights).ravel()
    return Scheme("class_aware", p / p.sum(), labels.shape[0], iid=True)


def repeat_factor_repeats(labels, threshold: float) -> np.ndarray:
    """ClassBalancedDataset's rule (LVIS repeat-factor sampling): class c repeats
    ``max(1, sqrt(t / f_c))`` with f_c its image fraction; an image takes the largest factor of
    its classes (background images: of the background's own fraction), rounded up."""
    labels = presence_matrix(labels)
    num_images = labels.shape[0]
    fraction = np.asarray(labels.sum(axis=0)).ravel() / num_images
    with np.errstate(divide="ignore"):
        factor = np.maximum(1.0, np.sqrt(threshold / fraction))
    rows = labels.multiply(factor[None, :]).tocsr()
    image_factor = np.asarray(rows.max(axis=1).todense()).ravel()
    background = np.diff(labels.indptr) == 0
    if background.any():
        image_factor[background] = max(1.0, math.sqrt(threshold / background.mean()))
    return np.ceil(np.maximum(image_factor, 1.0)).astype(np.int64)


def summarize_scheme(labels, scheme: Scheme) -> dict:
    """Expected per-class draws per epoch, their spread, and image coverage."""
    labels = presence_matrix(labels)
    num_images = labels.shape[0]
    f = np.asarray(labels.T @ scheme.p).ravel()
    spread = frequency_spread(f)
    scaled = scheme.p * num_images
    background = np.diff(labels.indptr) == 0
    if scheme.iid:
        distinct = float(np.sum(-np.expm1(scheme.draws * np.log1p(-np.minimum(scheme.p,
                                                                             1 - 1e-16)))))
    else:
        distinct = float(np.count_nonzero(scheme.p))
    return dict(
        sampler=scheme.name,
        draws_per_epoch=scheme.draws,
        class_draws=(f * scheme.draws).tolist(),
        max_min_ratio=spread["max_min_ratio"],
        cv=spread["cv"],
        share_below_uniform=float(np.mean(scaled < 1 - 1e-9)),
        min_p_times_n=float(scaled.min()),
        distinct_images_per_epoch=distinct,
        coverage=distinct / num_images,
        background_mass=float(scheme.p[background].sum()),
        labels_per_draw=float(np.diff(labels.indptr) @ scheme.p),
    )


def sweep(labels, alpha_factors, lams, epochs: int = 5, seed: int = 0, progress=None):
    """Balanced sampling over a grid: for each (alpha_factor, lam), the exact expected spread
    and, from ``epochs`` simulated epochs of N i.i.d. draws (seeded), the empirical max/min
    class-count ratio and the share of distinct images drawn. The grouping is computed once and
    each lam warm-starts from the previous one of its row."""
    presence = presence_matrix(labels)
    presence = presence[:, np.asarray(presence.sum(axis=0)).ravel() > 0]
    num_images = presence.shape[0]
    groups = group_label_rows(presence)
    rng = np.random.default_rng(seed)
    records = []
    total = len(alpha_factors) * len(lams)
    for a_index, alpha_factor in enumerate(alpha_factors):
        warm = None
        for l_index, lam in enumerate(sorted(lams, reverse=True)):
            if only_uniform_feasible(alpha_factor):
                p = np.full(num_images, 1.0 / num_images)
            else:
                with threadpool_limits(limits=1, user_api="blas"):
                    warm = newton_on_groups(groups, alpha_factor, lam, warm)
                p = renormalise(warm.q[groups.inverse], alpha_factor / num_images)
            summary = summarize_scheme(presence, Scheme("balanced", p, num_images, iid=True))
            accept, alias = alias_table(p)
            ratios, coverage = [], []
            for _ in range(epochs):
                candidate = rng.integers(num_images, size=num_images)
                keep = rng.random(num_images) < accept[candidate]
                drawn = np.where(keep, candidate, alias[candidate])
                counts = np.asarray(presence.T @ np.bincount(drawn, minlength=num_images))
                counts = counts.ravel()
                ratios.append(counts.max() / max(counts.min(), 1))
                coverage.append(np.unique(drawn).size / num_images)
            records.append(dict(alpha_factor=alpha_factor, lam=lam,
                                max_min_ratio=summary["max_min_ratio"], cv=summary["cv"],
                                coverage=summary["coverage"],
                                min_p_times_n=summary["min_p_times_n"],
                                simulated_max_min_ratio=float(np.mean(ratios)),
                                simulated_coverage=float(np.mean(coverage))))
            if progress is not None:
                progress(a_index * len(lams) + l_index + 1, total)
    return records


def balanced_scheme(labels, name="balanced", **solve_kwargs) -> Scheme:
    p = solve_balanced_qp(labels, **solve_kwargs)
    return Scheme(name, p, len(p), iid=True)
