"""What a sampler does to a dataset, before any training: expected class frequencies, spread,
image coverage, for balanced sampling and the samplers it is compared with; and sweeps of
(alpha_factor, lam). Plain numpy/scipy on the presence matrix.
"""

import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..core.grouping import group_label_rows
from ..core.qp import (
    count_matrix,
    newton_on_groups,
    only_uniform_feasible,
    presence_matrix,
    renormalise,
    solve_balanced_qp,
)
from ..core.repeat_factors import (
    image_repeat_factors,  # noqa: F401  (re-exported)
    instance_repeat_factors,
)
from ..core.report import frequency_spread
from ..core.sampler import ProbabilitySampler, check_draw


@dataclass
class Scheme:
    """A sampling scheme as seen by one epoch: per-image probability of a draw, draws per
    epoch, and how an epoch is drawn: ``"fixed"`` (each image a fixed number of times,
    shuffled: DefaultSampler, oversampling), ``"systematic"`` (floor or ceil of ``n p_i``
    times), ``"iid"`` (with replacement) or ``"stochastic_round"`` (image ``i`` floor(r_i)
    times plus one more with probability frac(r_i), for fractional repeat factors ``r``:
    Detectron2's RepeatFactorTrainingSampler; ``draws`` is then the expected epoch length)."""

    name: str
    p: np.ndarray
    draws: int
    draw: str
    repeats: np.ndarray = None  # "stochastic_round": the fractional repeat factors


def uniform_scheme(num_images):
    return Scheme("uniform", np.full(num_images, 1.0 / num_images), num_images, draw="fixed")


def repeat_scheme(name, repeats):
    repeats = np.asarray(repeats, dtype=np.float64)
    return Scheme(name, repeats / repeats.sum(), int(repeats.sum()), draw="fixed")


def expected_distinct_images(scheme: Scheme) -> float:
    """Expected number of distinct images in one epoch of ``scheme``."""
    if scheme.draw == "iid":
        return float(np.sum(-np.expm1(scheme.draws * np.log1p(-np.minimum(scheme.p, 1 - 1e-16)))))
    if scheme.draw == "systematic":  # P(count >= 1) = min(1, n p_i)
        return float(np.minimum(1.0, scheme.draws * scheme.p).sum())
    if scheme.draw == "stochastic_round":
        return float(np.minimum(1.0, scheme.repeats).sum())
    return float(np.count_nonzero(scheme.p))


def epoch_draws(scheme: Scheme, seed: int = 0):
    """``epoch -> indices`` of ``scheme`` as the project's samplers draw them (``"fixed"``:
    every image its expected number of times; its class counts do not depend on the order).
    The sampler (and its alias table) is built once for all epochs."""
    if scheme.draw == "fixed":
        fixed = np.repeat(np.arange(len(scheme.p)), np.rint(scheme.p * scheme.draws).astype(int))
        return lambda epoch: fixed
    if scheme.draw == "stochastic_round":
        whole, fraction = np.floor(scheme.repeats), scheme.repeats - np.floor(scheme.repeats)
        items = np.arange(len(scheme.p))

        def stochastic(epoch):
            rng = np.random.default_rng([seed, epoch])
            return np.repeat(items, (whole + (rng.random(len(items)) < fraction)).astype(int))

        return stochastic
    sampler = ProbabilitySampler(scheme.p, num_samples=scheme.draws, seed=seed, draw=scheme.draw)
    return lambda epoch: sampler.global_indices(epoch).numpy()


def simulate_epochs(labels, scheme: Scheme, epochs: int = 100, seed: int = 0) -> dict:
    """Per-epoch balance and coverage over ``epochs`` simulated epochs of the real draw: the
    median and 95th percentile of the per-epoch max/min class-count ratio (over classes
    present in the data) and the mean share of distinct images."""
    presence = presence_matrix(labels)
    present = np.asarray(presence.sum(axis=0)).ravel() > 0
    num_images = presence.shape[0]
    draw = epoch_draws(scheme, seed)
    ratios, coverage = [], []
    for epoch in range(epochs):
        hits = np.bincount(draw(epoch), minlength=num_images)
        counts = np.asarray(presence.T @ hits).ravel()[present]
        ratios.append(counts.max() / max(counts.min(), 1))
        coverage.append(np.count_nonzero(hits) / num_images)
    return dict(
        median_epoch_max_min=float(np.median(ratios)),
        p95_epoch_max_min=float(np.percentile(ratios, 95)),
        simulated_coverage=float(np.mean(coverage)),
    )


def class_aware_scheme(labels):
    """MMDetection's ClassAwareSampler: a uniformly chosen class, then a uniformly chosen image
    of it (drawn without replacement within each class cycle; taken as i.i.d. here)."""
    labels = presence_matrix(labels)
    per_class = np.asarray(labels.sum(axis=0)).ravel()
    present = per_class > 0
    weights = np.where(present, 1.0 / np.maximum(per_class, 1), 0.0) / present.sum()
    p = np.asarray(labels @ weights).ravel()
    return Scheme("class_aware", p / p.sum(), labels.shape[0], draw="iid")


def repeat_factor_repeats(labels, threshold: float) -> np.ndarray:
    """MMDetection's ClassBalancedDataset: :func:`image_repeat_factors` with the square root,
    background images repeating by the background's own fraction, rounded up."""
    labels = presence_matrix(labels)
    image_factor = image_repeat_factors(labels, threshold)
    background = np.diff(labels.indptr) == 0
    if background.any():
        image_factor[background] = max(1.0, math.sqrt(threshold / background.mean()))
    return np.ceil(image_factor).astype(np.int64)


def stochastic_repeat_scheme(name, repeats) -> Scheme:
    """Fractional repeat factors rounded stochastically each epoch (expected count r_i)."""
    repeats = np.asarray(repeats, dtype=np.float64)
    total = repeats.sum()
    return Scheme(
        name, repeats / total, int(round(total)), draw="stochastic_round", repeats=repeats
    )


def summarize_scheme(labels, scheme: Scheme) -> dict:
    """Expected per-class draws per epoch, their spread, and image coverage; with box counts
    in ``labels`` also the expected boxes of each class per epoch and their spread."""
    counts = count_matrix(labels)
    labels = presence_matrix(counts)
    num_images = labels.shape[0]
    f = np.asarray(labels.T @ scheme.p).ravel()
    spread = frequency_spread(f)
    scaled = scheme.p * num_images
    background = np.diff(labels.indptr) == 0
    distinct = expected_distinct_images(scheme)
    return dict(
        sampler=scheme.name,
        draw=scheme.draw,
        draws_per_epoch=scheme.draws,
        class_draws=(
            f * (scheme.draws if scheme.repeats is None else scheme.repeats.sum())
        ).tolist(),  # expected, not rounded
        max_min_ratio=spread["max_min_ratio"],
        cv=spread["cv"],
        share_below_uniform=float(np.mean(scaled < 1 - 1e-9)),
        min_p_times_n=float(scaled.min()),
        distinct_images_per_epoch=distinct,
        coverage=distinct / num_images,
        background_mass=float(scheme.p[background].sum()),
        labels_per_draw=float(np.diff(labels.indptr) @ scheme.p),
        **_box_summary(counts, scheme, f > 0),
    )


def _box_summary(counts, scheme: Scheme, counted) -> dict:
    """Expected boxes of each class per epoch, with their max/min ratio and CV."""
    boxes = np.asarray(counts.T @ scheme.p).ravel() * (
        scheme.draws if scheme.repeats is None else scheme.repeats.sum()
    )
    spread = frequency_spread(boxes, counted=counted)
    return dict(
        class_boxes=boxes.tolist(), box_max_min_ratio=spread["max_min_ratio"], box_cv=spread["cv"]
    )


def irfs_repeats(counts, threshold: float) -> np.ndarray:
    """MMDetection's ``InstanceBalancedDataset``: IRFS factors rounded up."""
    return np.ceil(instance_repeat_factors(counts, threshold)).astype(np.int64)


def sweep(
    labels,
    alpha_factors,
    lams,
    epochs: int = 5,
    seed: int = 0,
    progress=None,
    draw: str = "systematic",
):
    """Balanced sampling over a grid: for each (alpha_factor, lam), the exact expected spread
    and, from ``epochs`` simulated epochs of N draws with the sampler's ``draw`` (seeded), the
    empirical max/min class-count ratio and the share of distinct images drawn. The grouping is
    computed once and each lam warm-starts from the previous one of its row."""
    check_draw(draw)
    presence = presence_matrix(labels)
    presence = presence[:, np.asarray(presence.sum(axis=0)).ravel() > 0]
    num_images = presence.shape[0]
    groups = group_label_rows(presence)
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
            scheme = Scheme("balanced", p, num_images, draw=draw)
            summary = summarize_scheme(presence, scheme)
            simulated = simulate_epochs(presence, scheme, epochs, seed)
            records.append(
                dict(
                    alpha_factor=alpha_factor,
                    lam=lam,
                    draw=draw,
                    max_min_ratio=summary["max_min_ratio"],
                    cv=summary["cv"],
                    coverage=summary["coverage"],
                    min_p_times_n=summary["min_p_times_n"],
                    simulated_max_min_ratio=simulated["median_epoch_max_min"],
                    simulated_coverage=simulated["simulated_coverage"],
                )
            )
            if progress is not None:
                progress(a_index * len(lams) + l_index + 1, total)
    return records


def balanced_scheme(
    labels, name="balanced", draw="systematic", num_samples=None, **solve_kwargs
) -> Scheme:
    p = solve_balanced_qp(labels, **solve_kwargs)
    return Scheme(name, p, num_samples or len(p), draw=check_draw(draw))
