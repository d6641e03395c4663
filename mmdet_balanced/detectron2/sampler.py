"""``BalancedTrainingSampler``: Detectron2's ``TrainingSampler`` with balanced probabilities.

One infinite stream of indices drawn from the balanced ``p`` (systematic or i.i.d. chunks of
``num_samples``), seeded by a seed shared by every rank; rank ``r`` yields the stream positions
``r, r + world_size, ...``, as ``TrainingSampler`` does, so interleaving the ranks gives the
single-process stream. Every rank holds rank 0's ``p``. Like every Detectron2 sampler it is
iterated, not sharded, by ``build_detection_train_loader``'s workers (``ToIterableDataset``
shards the rank's stream among them).
"""

import logging
from typing import Optional

from detectron2.utils import comm

from ..core.balanced_sampler import solve_class_names, solve_for_sampler
from ..core.sampler import InfiniteProbabilitySampler, check_draw
from .labels import labels_from_dataset_dicts

#: Detectron2's loggers are configured under "detectron2" (``setup_logger``); this one is below.
logger = logging.getLogger("detectron2.mmdet_balanced")


class BalancedTrainingSampler(InfiniteProbabilitySampler):
    """Infinite sampler drawing training images with the balanced probabilities.

    Args:
        dataset_dicts: the training dataset dicts, in the order the loader indexes them
            (what ``get_detection_dataset_dicts(cfg.DATASETS.TRAIN, ...)`` returns).
        num_classes: C; default: the largest ``category_id`` + 1.
        seed: the stream's seed, the same on every rank; ``None``: ``comm.shared_random_seed()``.
        alpha_factor, lam, lam_scale, objective, background_share, maxmin_eps, solver, count:
            the QP, as in :func:`mmdet_balanced.solve_balanced_qp` (defaults: the paper's;
            ``count="instances"`` balances box counts instead of image presence).
        draw: ``"systematic"`` (default: each image floor or ceil of ``n p_i`` times per chunk
            of ``n = num_samples`` draws) or ``"iid"`` (with replacement, as in the paper).
        num_samples: chunk length (default: the number of images).
        class_names: names for the logged table (default ``class 0``, ``class 1``, ...).
        output_dir: where rank 0 writes ``sampling.json`` (per-image p, class frequencies).
        total_batch_size: images per iteration over all ranks. Given (LazyConfig:
            ``"${..total_batch_size}"``), the stream continues on resume: when first iterated
            inside a Detectron2 training loop it starts at the loop's iteration x
            ``total_batch_size`` (the images the run fed before its checkpoint), not at 0, also
            with Detectron2's own ``lazyconfig_train_net.py``. ``set_start`` overrides it.
    """

    def __init__(
        self,
        dataset_dicts,
        num_classes: Optional[int] = None,
        seed: Optional[int] = None,
        alpha_factor: float = 0.5,
        lam: Optional[float] = None,
        lam_scale: Optional[float] = None,
        objective: str = "paper",
        background_share=None,
        maxmin_eps: float = 1e-3,
        solver: str = "auto",
        draw: str = "systematic",
        num_samples: Optional[int] = None,
        class_names=None,
        output_dir: Optional[str] = None,
        total_batch_size: Optional[int] = None,
        count: str = "images",
    ) -> None:
        check_draw(draw)  # bad input fails before the solve
        owner = type(self).__name__
        if total_batch_size is not None and (
            isinstance(total_batch_size, bool)
            or not isinstance(total_batch_size, int)
            or total_batch_size < 1
        ):
            raise ValueError(
                f"total_batch_size must be a positive int (images per iteration "
                f"over all ranks); got {total_batch_size!r}"
            )
        self.total_batch_size, self._start_set = total_batch_size, False
        labels = labels_from_dataset_dicts(dataset_dicts, num_classes, count="instances")
        if labels.nnz == 0:
            raise ValueError(
                f"{owner}: no training image has a (non-crowd) box of the "
                f"{labels.shape[1]} classes, so there is nothing to balance; "
                "check DATASETS.TRAIN or use TrainingSampler"
            )
        settings = dict(
            alpha_factor=alpha_factor,
            lam=lam,
            solver=solver,
            lam_scale=lam_scale,
            objective=objective,
            background_share=background_share,
            maxmin_eps=maxmin_eps,
            count=count,
            draw=draw,
        )
        record_dir = output_dir if output_dir and comm.is_main_process() else None
        keys = (
            [dataset_dicts[i].get("file_name", i) for i in range(len(dataset_dicts))]
            if record_dir
            else None
        )
        p, self.solve_info, _ = solve_for_sampler(
            labels,
            owner,
            class_names,
            settings,
            num_samples or labels.shape[0],
            logger.info,
            logger.warning,
            record_dir,
            keys,
        )
        super().__init__(
            p,
            num_samples=num_samples,
            seed=comm.shared_random_seed() if seed is None else int(seed),
            rank=comm.get_rank(),
            world_size=comm.get_world_size(),
            draw=draw,
        )
        self.class_names = list(solve_class_names(class_names, labels))

    def set_start(self, position: int) -> None:
        super().set_start(position)
        self._start_set = True

    def __iter__(self):
        if self.total_batch_size is not None and not self._start_set:
            iteration = _training_iteration()
            if iteration:  # a resumed loop: continue where the checkpointed run was
                super().set_start(iteration * self.total_batch_size)
        return super().__iter__()


def _training_iteration() -> Optional[int]:
    """The iteration of the Detectron2 training loop this runs in (its EventStorage), else None.
    A loader's iterator is first made in the loop's first step, when the storage holds the
    loop's start iteration (the checkpoint's + 1 on resume)."""
    from detectron2.utils.events import get_event_storage, has_event_storage

    return int(get_event_storage().iter) if has_event_storage() else None
