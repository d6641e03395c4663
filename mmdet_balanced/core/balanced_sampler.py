"""``BalancedSampler``: balanced sampling in any PyTorch training loop.

A plain ``torch.utils.data.Sampler`` over a dataset whose item ``i`` is image ``i`` of a label
matrix (from a COCO json, an Ultralytics YOLO labels folder, or your own)::

    sampler = BalancedSampler.from_coco("annotations/train.json", lam_scale=0.404)
    loader = DataLoader(dataset, batch_size=8, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in loader: ...

The probabilities are solved once (:func:`solve_balanced_qp`); each epoch draws
``num_samples`` indices from ``seed + epoch``. Under ``torch.distributed`` every rank holds
rank 0's ``p`` and takes a disjoint slice of one global draw (``rank``, ``world_size`` default
to the default group's); pass ``rank=0, world_size=1`` where a wrapper shards batches itself
(Hugging Face accelerate, Lightning's distributed sampler wrapper). ``state_dict()`` /
``load_state_dict()`` resume exactly (epoch and position).
"""

import logging
import warnings
from typing import Optional

import torch

from .qp import solve_balanced_qp
from .readers import coco_class_names, labels_from_coco, labels_from_yolo_dir
from .report import report_solve
from .sampler import ProbabilitySampler, check_draw, share_from_rank0

logger = logging.getLogger("mmdet_balanced")


def solve_class_names(class_names, labels) -> list:
    """``class_names``, or ``class 0``, ``class 1``, ... when none are given."""
    if class_names is None:
        return [f"class {i}" for i in range(labels.shape[1])]
    return list(class_names)


def solve_for_sampler(
    labels,
    owner: str,
    class_names,
    settings: dict,
    draws: int,
    log_info,
    log_warning,
    record_dir=None,
    image_keys=None,
):
    """What every balanced sampler does when it is built, in any framework: solve the QP on
    ``labels`` (presence or box counts) with ``settings``, give every rank rank 0's ``p``, and
    report through the framework's logger (``log_info`` / ``log_warning``: the class table, the
    solver's warnings with class names, the starved-class warning) and, with ``record_dir``
    (rank 0's run folder), ``sampling.json``. ``draws``: draws per epoch, for the table.
    Returns ``(p, info, the logged summary)``."""
    class_names = solve_class_names(class_names, labels)
    if len(class_names) != labels.shape[1]:
        raise ValueError(
            f"{owner}: class_names has {len(class_names)} names for "
            f"{labels.shape[1]} label columns; give one name per class"
        )
    with warnings.catch_warnings(record=True) as caught:  # into the run's log, not stderr
        warnings.simplefilter("always")
        p, info = solve_balanced_qp(
            labels,
            return_info=True,
            class_names=list(class_names),
            **{k: v for k, v in settings.items() if k != "draw"},
        )
    for warning in caught:
        log_warning(f"{owner}: {warning.message}")
    p = share_from_rank0(p)
    keys = image_keys if image_keys is not None else list(range(len(p)))
    summary = report_solve(
        owner,
        list(class_names),
        labels,
        p,
        info,
        draws,
        settings,
        log_info,
        log_warning,
        record_dir,
        keys,
    )
    return p, info, summary


def _distributed():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class BalancedSampler(ProbabilitySampler):
    """Draws dataset indices with the balanced probabilities of ``labels``.

    Args:
        labels: (N, C) presence or box counts, row ``i`` = dataset item ``i``.
        alpha_factor, lam, lam_scale, objective, background_share, maxmin_eps, solver, count:
            the QP (see :func:`mmdet_balanced.solve_balanced_qp`; defaults: the paper's).
        draw: ``"systematic"`` (default) or ``"iid"``.
        num_samples: draws per epoch over all ranks (default N).
        seed: the draws depend only on ``seed + epoch``; the same on every rank.
        rank, world_size: this process's slice (default: torch.distributed's, else 0 / 1).
        round_up: pad the global draw so every rank gets the same count.
        class_names: names for the logged class table.
        image_keys: per-image keys (paths) for ``sampling.json``.
        output_dir: where rank 0 writes ``sampling.json``; None: not written.
    """

    def __init__(
        self,
        labels,
        *,
        alpha_factor: float = 0.5,
        lam: Optional[float] = None,
        lam_scale: Optional[float] = None,
        objective: str = "paper",
        background_share=None,
        maxmin_eps: float = 1e-3,
        solver: str = "auto",
        count: str = "images",
        draw: str = "systematic",
        num_samples: Optional[int] = None,
        seed: int = 0,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        round_up: bool = True,
        class_names=None,
        image_keys=None,
        output_dir: Optional[str] = None,
    ) -> None:
        check_draw(draw)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, the same on every rank; got {seed!r}")
        default_rank, default_world = _distributed()
        rank = default_rank if rank is None else rank
        world_size = default_world if world_size is None else world_size
        owner = type(self).__name__
        settings = dict(
            alpha_factor=alpha_factor,
            lam=lam,
            lam_scale=lam_scale,
            objective=objective,
            background_share=background_share,
            maxmin_eps=maxmin_eps,
            solver=solver,
            count=count,
        )
        class_names = solve_class_names(class_names, labels)
        count_samples = labels.shape[0] if num_samples is None else num_samples
        record_dir = output_dir if output_dir is not None and default_rank == 0 else None
        p, self.solve_info, _ = solve_for_sampler(
            labels,
            owner,
            class_names,
            dict(settings, draw=draw),
            count_samples,
            logger.info,
            logger.warning,
            record_dir,
            list(image_keys) if image_keys is not None else None,
        )
        super().__init__(
            p,
            num_samples=num_samples,
            seed=seed,
            rank=rank,
            world_size=world_size,
            round_up=round_up,
            draw=draw,
        )
        self.class_names = list(class_names)

    @classmethod
    def from_labels(cls, labels, **kwargs) -> "BalancedSampler":
        """The sampler of a label matrix (presence or box counts), row ``i`` = item ``i``."""
        return cls(labels, **kwargs)

    @classmethod
    def from_coco(cls, path_or_dict, order: str = "file", **kwargs) -> "BalancedSampler":
        """The sampler of a COCO json: item ``i`` is the json's ``images[i]`` (``order="file"``)
        or the image with the ``i``-th smallest id (``order="id"``: what
        ``torchvision.datasets.CocoDetection`` indexes); your dataset must index images so."""
        counts, keys = labels_from_coco(path_or_dict, count="instances", order=order)
        kwargs.setdefault("class_names", coco_class_names(path_or_dict))
        kwargs.setdefault("image_keys", keys)
        return cls(counts, **kwargs)

    @classmethod
    def from_yolo_dir(
        cls, labels_dir, num_classes: int, images_dir=None, **kwargs
    ) -> "BalancedSampler":
        """The sampler of an Ultralytics YOLO labels folder: item ``i`` is the ``i``-th image
        of ``images_dir`` sorted by path (:func:`labels_from_yolo_dir`)."""
        counts, images = labels_from_yolo_dir(
            labels_dir, num_classes, images_dir, count="instances"
        )
        kwargs.setdefault("image_keys", images)
        return cls(counts, **kwargs)
