"""Instance-aware repeat factors (IRFS) for Detectron2's ``RepeatFactorTrainingSampler``: the
peer of its ``repeat_factors_from_category_frequency`` (RFS), which counts images only::

    factors = repeat_factors_from_instance_frequency(dataset_dicts, repeat_thresh=0.3)
    sampler = RepeatFactorTrainingSampler(factors)

or ``DATALOADER.SAMPLER_TRAIN "InstanceRepeatFactorTrainingSampler"`` with
``DATALOADER.REPEAT_THRESHOLD`` in a yacs config (:func:`build_balanced_train_loader`)."""

from typing import Optional

import torch

from ..core.repeat_factors import instance_repeat_factors
from .labels import labels_from_dataset_dicts

IRFS_SAMPLER_NAME = "InstanceRepeatFactorTrainingSampler"


def repeat_factors_from_instance_frequency(
    dataset_dicts, repeat_thresh: float, num_classes: Optional[int] = None
) -> torch.Tensor:
    """Per-image IRFS factors ``max_c max(1, sqrt(t / sqrt(f_img_c * f_box_c)))`` (1 for an
    image without boxes), as the float tensor ``RepeatFactorTrainingSampler`` takes; crowd and
    ignored boxes are not counted."""
    counts = labels_from_dataset_dicts(dataset_dicts, num_classes, count="instances")
    return torch.tensor(instance_repeat_factors(counts, repeat_thresh), dtype=torch.float32)
