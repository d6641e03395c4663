"""Hugging Face transformers glue: :class:`BalancedTrainer` (a ``transformers.Trainer`` whose
train sampler is :class:`~mmdet_balanced.BalancedSampler`) and :class:`BalancedSamplerMixin`
for your own ``Trainer`` subclass. Imported explicitly (``transformers`` is an optional extra:
``pip install mmdet-balanced[transformers]``)."""

from .trainer import BalancedSamplerMixin, BalancedTrainer

__all__ = ["BalancedTrainer", "BalancedSamplerMixin"]
