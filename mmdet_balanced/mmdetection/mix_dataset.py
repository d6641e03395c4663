"""Mosaic / MixUp partners drawn with the balanced probabilities.

MMDetection's ``MultiImageMixDataset`` takes the main image from the sampler, but each mixing
transform (``Mosaic``, ``MixUp``, ...) picks its extra images itself, uniformly
(``transform.get_indexes``). With balanced sampling, 3 of a mosaic's 4 tiles would then undo
the balance. ``BalancedMultiImageMixDataset`` draws those extra images from the same balanced
probabilities (alias method, Python's ``random``, which MMEngine seeds per worker).
"""

import functools
import random
from typing import Optional

from mmdet.datasets import MultiImageMixDataset
from mmdet.registry import DATASETS

from ..core.qp import solve_balanced_qp
from ..core.sampler import alias_table
from .labels import label_matrix


@DATASETS.register_module()
class BalancedMultiImageMixDataset(MultiImageMixDataset):
    """``MultiImageMixDataset`` whose mixing partners follow the balanced probabilities.

    Args:
        dataset, pipeline, skip_type_keys, max_refetch, lazy_init: as ``MultiImageMixDataset``.
        alpha_factor, lam, lam_scale, objective, background_share, count: the QP's settings (see
            :func:`mmdet_balanced.solve_balanced_qp`); use the sampler's.
    """

    def __init__(
        self,
        dataset,
        pipeline,
        skip_type_keys=None,
        max_refetch: int = 15,
        lazy_init: bool = False,
        alpha_factor: float = 0.5,
        lam: Optional[float] = None,
        lam_scale=None,
        objective: str = "paper",
        background_share=None,
        count: str = "images",
    ) -> None:
        self._solve_kwargs = dict(
            alpha_factor=alpha_factor,
            lam=lam,
            lam_scale=lam_scale,
            objective=objective,
            background_share=background_share,
            count=count,
        )
        self.partner_probabilities = None
        super().__init__(dataset, pipeline, skip_type_keys, max_refetch, lazy_init)
        for transform in self.pipeline:
            if hasattr(transform, "get_indexes"):
                transform.get_indexes = functools.partial(
                    self._balanced_indexes, transform.get_indexes
                )

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        self.partner_probabilities = solve_balanced_qp(
            label_matrix(self.dataset, count=self._solve_kwargs["count"]), **self._solve_kwargs
        )
        self._accept, self._alias = alias_table(self.partner_probabilities)

    def _draw(self) -> int:
        index = min(int(random.random() * len(self._accept)), len(self._accept) - 1)
        return index if random.random() < self._accept[index] else int(self._alias[index])

    def _balanced_indexes(self, uniform_get_indexes, dataset):
        """As many partners as the transform asks for (its own draw gives the count)."""
        self.full_init()
        uniform = uniform_get_indexes(dataset)
        if isinstance(uniform, (list, tuple)):
            return [self._draw() for _ in uniform]
        return self._draw()
