"""Detectron2 glue: the balanced sampler as a Detectron2 training sampler.

- :func:`labels_from_dataset_dicts`: the presence matrix of Detectron2 dataset dicts;
- :class:`BalancedTrainingSampler`: an infinite, rank-aware sampler like ``TrainingSampler``
  (use it directly, or in a LazyConfig: ``dataloader.train.sampler =
  L(BalancedTrainingSampler)(dataset_dicts="${..dataset}", ...)``);
- :func:`add_balanced_config` + ``cfg.DATALOADER.SAMPLER_TRAIN = "BalancedQPSampler"``, honoured
  by :func:`build_balanced_train_loader` and :class:`BalancedTrainer` (yacs configs,
  ``tools/train_detectron2.py``);
- :func:`repeat_factors_from_instance_frequency` (IRFS) for ``RepeatFactorTrainingSampler``, or
  ``SAMPLER_TRAIN = "InstanceRepeatFactorTrainingSampler"``.
"""

from .config import (
    SAMPLER_NAME,
    add_balanced_config,
    balanced_sampler_from_config,
    build_balanced_train_loader,
)
from .labels import labels_from_dataset_dicts
from .repeat_factors import IRFS_SAMPLER_NAME, repeat_factors_from_instance_frequency
from .sampler import BalancedTrainingSampler
from .trainer import BalancedTrainer

__all__ = [
    "labels_from_dataset_dicts",
    "BalancedTrainingSampler",
    "add_balanced_config",
    "build_balanced_train_loader",
    "balanced_sampler_from_config",
    "BalancedTrainer",
    "SAMPLER_NAME",
    "IRFS_SAMPLER_NAME",
    "repeat_factors_from_instance_frequency",
]
