"""Ultralytics YOLO glue (ultralytics is AGPL-3.0; an optional extra of this package):
:class:`BalancedDetectionTrainer` and :func:`balanced_trainer` for
``YOLO(...).train(trainer=...)``; :func:`labels_from_yolo_dataset`; the loader-shaped
:class:`YOLOBalancedSampler`."""

from .labels import labels_from_yolo_dataset
from .sampler import YOLOBalancedSampler
from .trainer import BalancedDetectionTrainer, balanced_trainer

__all__ = [
    "BalancedDetectionTrainer",
    "balanced_trainer",
    "labels_from_yolo_dataset",
    "YOLOBalancedSampler",
]
