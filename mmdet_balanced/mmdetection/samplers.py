"""MMDetection glue: registered samplers that draw training images with balanced probabilities,
and the paper's oversampling baseline.

Turned on by one config entry (with ``custom_imports = dict(imports=["mmdet_balanced"])``)::

    train_dataloader = dict(sampler=dict(type="BalancedQPSampler", alpha_factor=0.5, lam=500.0))

The probabilities are computed once, when the sampler is built, from the dataset's annotations.
"""

import logging
import os.path as osp
from typing import Optional

import numpy as np
from mmdet.registry import DATA_SAMPLERS
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import MMLogger, print_log

from ..core.balanced_sampler import solve_for_sampler
from ..core.report import format_frequency_table
from ..core.sampler import (
    InfiniteProbabilitySampler,
    ProbabilitySampler,
    RepeatSampler,
    check_draw,
)
from .class_check import check_classes
from .labels import dataset_classes, label_matrix, read_annotations


def _log_frequencies(owner, dataset, labels, columns, header):
    """Log the expected draws per epoch containing each class (``columns``: name -> counts)."""
    table = format_frequency_table(dataset_classes(dataset), columns)
    print_log(
        f"{owner}: {labels.shape[0]} images, {labels.shape[1]} classes; {header}. "
        f"Expected draws per epoch containing each class:\n{table}",
        logger="current",
    )


def _record_dir():
    """``work_dir/<timestamp>/`` (the run's log folder) on rank 0, where ``sampling.json`` goes;
    None when no log file is open (e.g. the sampler is built outside a Runner)."""
    log_file = getattr(MMLogger.get_current_instance(), "log_file", None)
    if get_dist_info()[0] != 0 or not log_file:
        return None
    return osp.dirname(log_file)


def balanced_probabilities(
    dataset,
    owner: str,
    num_samples: Optional[int] = None,
    allow_empty_classes: bool = False,
    **solve_kwargs,
):
    """Check the classes, solve the QP for ``dataset``, make every rank hold rank 0's vector,
    log the effect."""
    record_dir = _record_dir()
    # box counts: count="instances" balances them; either way the log shows both balances
    labels, image_keys = read_annotations(
        dataset, with_image_keys=record_dir is not None, count="instances"
    )
    if labels.nnz == 0:
        raise ValueError(
            f"{owner}: no image of the training dataset has a (non-ignored) box of its "
            f"{labels.shape[1]} classes, so there is nothing to balance. Check that "
            "metainfo['classes'] matches the category names in ann_file, or use "
            "DefaultSampler."
        )
    check_classes(dataset, labels, owner, allow_empty_classes)
    p, info, _ = solve_for_sampler(
        labels,
        owner,
        dataset_classes(dataset),
        solve_kwargs,
        num_samples or labels.shape[0],
        lambda text: print_log(text, logger="current"),
        lambda text: print_log(text, logger="current", level=logging.WARNING),
        record_dir,
        image_keys,
    )
    return p, info


def _check_shuffle(owner, shuffle):
    """``shuffle=True`` comes with configs that inherit ``DefaultSampler`` / ``InfiniteSampler``
    settings; balanced draws are shuffled anyway. ``shuffle=False`` cannot be honoured."""
    if shuffle is not True:
        raise ValueError(
            f"{owner}: shuffle={shuffle!r} cannot be honoured: balanced draws are random by "
            "construction (each epoch draws images by their probabilities, in a shuffled "
            "order). Remove shuffle or set shuffle=True; for a fixed order use "
            "DefaultSampler(shuffle=False)."
        )


def _init_balanced(
    sampler,
    base,
    dataset,
    seed,
    num_samples,
    solve_kwargs,
    shuffle,
    allow_empty_classes,
    **base_kwargs,
):
    """Solve for ``dataset`` and initialise ``sampler`` as its framework-free ``base``."""
    owner = type(sampler).__name__
    _check_shuffle(owner, shuffle)
    check_draw(base_kwargs["draw"])  # bad input fails before the solve
    rank, world_size = get_dist_info()
    probabilities, sampler.solve_info = balanced_probabilities(
        dataset, owner, num_samples, allow_empty_classes, **solve_kwargs
    )
    base.__init__(
        sampler,
        probabilities,
        num_samples=num_samples,
        seed=sync_random_seed() if seed is None else seed,
        rank=rank,
        world_size=world_size,
        **base_kwargs,
    )
    sampler.dataset = dataset


@DATA_SAMPLERS.register_module()
class BalancedQPSampler(ProbabilitySampler):
    """Epoch-based sampler drawing images with the balanced probabilities.

    Args:
        dataset: the training dataset (any MMDetection dataset or wrapper).
        seed: shared random seed; ``None`` synchronises a random one across ranks.
        alpha_factor, lam, solver, lam_scale, objective, background_share, maxmin_eps, count:
            see :func:`mmdet_balanced.solve_balanced_qp` (defaults: the paper's formulation;
            ``count="instances"`` balances box counts instead of image presence).
        num_samples: draws per epoch over all ranks (default: dataset length).
        round_up: pad so that every rank gets the same number of indices.
        draw: ``"systematic"`` (default: each image floor or ceil of ``n p_i`` times per
            epoch of ``n`` draws, random order) or ``"iid"`` (with replacement, as the paper).
        shuffle: accepted as ``True`` (what a config inherits from ``DefaultSampler``;
            balanced draws are shuffled); ``False`` is an error.
        allow_empty_classes: train even when a configured class has no box (it is then left
            out of the balance); by default that is an error naming the class.
    """

    def __init__(
        self,
        dataset,
        seed: Optional[int] = None,
        alpha_factor: float = 0.5,
        lam: Optional[float] = None,
        solver: str = "auto",
        num_samples: Optional[int] = None,
        round_up: bool = True,
        lam_scale: Optional[float] = None,
        objective: str = "paper",
        background_share=None,
        maxmin_eps: float = 1e-3,
        draw: str = "systematic",
        shuffle: bool = True,
        allow_empty_classes: bool = False,
        count: str = "images",
    ) -> None:
        _init_balanced(
            self,
            ProbabilitySampler,
            dataset,
            seed,
            num_samples,
            dict(
                alpha_factor=alpha_factor,
                lam=lam,
                solver=solver,
                lam_scale=lam_scale,
                objective=objective,
                background_share=background_share,
                maxmin_eps=maxmin_eps,
                count=count,
            ),
            shuffle,
            allow_empty_classes,
            round_up=round_up,
            draw=draw,
        )


@DATA_SAMPLERS.register_module()
class InfiniteBalancedQPSampler(InfiniteProbabilitySampler):
    """Iteration-based variant (as ``InfiniteSampler`` is to ``DefaultSampler``); same
    arguments as :class:`BalancedQPSampler` but ``round_up``."""

    def __init__(
        self,
        dataset,
        seed: Optional[int] = None,
        alpha_factor: float = 0.5,
        lam: Optional[float] = None,
        solver: str = "auto",
        num_samples: Optional[int] = None,
        lam_scale: Optional[float] = None,
        objective: str = "paper",
        background_share=None,
        maxmin_eps: float = 1e-3,
        draw: str = "systematic",
        shuffle: bool = True,
        allow_empty_classes: bool = False,
        count: str = "images",
    ) -> None:
        _init_balanced(
            self,
            InfiniteProbabilitySampler,
            dataset,
            seed,
            num_samples,
            dict(
                alpha_factor=alpha_factor,
                lam=lam,
                solver=solver,
                lam_scale=lam_scale,
                objective=objective,
                background_share=background_share,
                maxmin_eps=maxmin_eps,
                count=count,
            ),
            shuffle,
            allow_empty_classes,
            draw=draw,
        )


def oversampling_repeats(labels, class_names, factors: dict) -> np.ndarray:
    """Per-image repeat count: the largest factor among the chosen classes it contains, else 1."""
    if not isinstance(factors, dict) or not factors:
        raise TypeError(
            "factors must be a non-empty dict {class name: integer factor}, "
            f"e.g. dict(cerebellum=2, heart=5); got {factors!r}"
        )
    unknown = sorted(set(factors) - set(class_names))
    if unknown:
        raise ValueError(
            f"factors names unknown classes {unknown}; the dataset's classes are "
            f"{list(class_names)}"
        )
    repeats = np.ones(labels.shape[0], dtype=np.int64)
    for name, factor in factors.items():
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise ValueError(
                f"factors[{name!r}] must be an integer >= 1 (how many copies of "
                f"each image containing it); got {factor!r}"
            )
        has_class = labels[:, list(class_names).index(name)].toarray().ravel() > 0
        repeats[has_class] = np.maximum(repeats[has_class], factor)
    return repeats


@DATA_SAMPLERS.register_module()
class OversamplingSampler(RepeatSampler):
    """The paper's oversampling baseline: every image containing a chosen class appears that
    class's factor times per epoch (the largest factor if it has several), shuffled.

    Args:
        dataset: the training dataset.
        factors: ``{class name: integer factor}``, e.g. ``dict(cerebellum=2, heart=5)``.
        seed, shuffle, round_up: as for MMEngine's ``DefaultSampler``.
    """

    def __init__(
        self,
        dataset,
        factors: dict,
        seed: Optional[int] = None,
        shuffle: bool = True,
        round_up: bool = True,
    ) -> None:
        labels = label_matrix(dataset)
        classes = dataset_classes(dataset)
        repeats = oversampling_repeats(labels, classes, factors)
        rank, world_size = get_dist_info()
        super().__init__(
            repeats,
            seed=sync_random_seed() if seed is None else seed,
            rank=rank,
            world_size=world_size,
            shuffle=shuffle,
            round_up=round_up,
        )
        self.dataset = dataset
        uniform_draws = np.asarray(labels.sum(axis=0)).ravel()
        oversampled_draws = np.asarray(labels.T @ repeats).ravel()
        _log_frequencies(
            type(self).__name__,
            dataset,
            labels,
            {"uniform": uniform_draws, "oversampled": oversampled_draws},
            f"factors={factors}, {repeats.sum()} draws per epoch",
        )
