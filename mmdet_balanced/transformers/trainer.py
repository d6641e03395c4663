"""``BalancedTrainer``: the Hugging Face ``Trainer`` with balanced sampling of training images.

    trainer = BalancedTrainer(model=model, args=args, train_dataset=train_dataset,
                              data_collator=collate, balanced_labels="train.json",
                              balanced_settings=dict(lam_scale=0.404))

``balanced_labels``: a COCO json (path or dict) whose ``images`` are the dataset's items in order,
or an (N, C) label matrix (presence or box counts) with row ``i`` = item ``i``. The sampler
draws one global stream seeded by ``args.seed``; accelerate shards its batches over the
processes (DDP), so every rank holds rank 0's ``p`` and feeds a disjoint part of the stream.
Each epoch is the draw of ``seed + epoch`` (the Trainer calls ``set_epoch``), so resuming from
a Trainer checkpoint (``train(resume_from_checkpoint=...)``, which skips the batches already
trained in that epoch) feeds the images the uninterrupted run would have.
"""

from typing import Optional

from transformers import Trainer

from ..core.balanced_sampler import BalancedSampler


class BalancedSamplerMixin:
    """Put before your ``Trainer`` subclass (``class MyTrainer(BalancedSamplerMixin,
    MyTrainerBase)``): its train sampler becomes the balanced one. Keyword arguments
    ``balanced_labels`` (COCO json or label matrix) and ``balanced_settings`` (the sampler's:
    ``lam_scale``, ``count``, ``objective``, ``draw``, ...)."""

    def __init__(
        self, *args, balanced_labels=None, balanced_settings: Optional[dict] = None, **kwargs
    ):
        if balanced_labels is None:
            raise ValueError(
                f"{type(self).__name__} needs balanced_labels: the COCO json of the "
                "training set (its images in the dataset's order) or an (N, C) "
                "label matrix with row i = train_dataset[i]"
            )
        settings = dict(balanced_settings or {})
        reserved = sorted({"seed", "rank", "world_size", "output_dir"} & set(settings))
        if reserved:
            raise ValueError(
                f"balanced_settings {reserved} are set by the Trainer (seed from "
                "args.seed, output_dir from args.output_dir, ranks by accelerate)"
            )
        self.balanced_labels, self.balanced_settings = balanced_labels, settings
        self.balanced_sampler = None
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if self.balanced_sampler is None:
            self.balanced_sampler = self._build_balanced_sampler()
        if dataset is not None and len(dataset) != len(self.balanced_sampler.probabilities):
            raise ValueError(
                f"balanced_labels describe {len(self.balanced_sampler.probabilities)}"
                f" images but train_dataset has {len(dataset)} items; they must be "
                "the same images in the same order"
            )
        return self.balanced_sampler

    def _build_balanced_sampler(self) -> BalancedSampler:
        # the global stream (world_size 1): accelerate gives each process its batches of it
        common = dict(
            self.balanced_settings,
            seed=int(self.args.seed),
            rank=0,
            world_size=1,
            output_dir=self.args.output_dir if self.is_world_process_zero() else None,
        )
        labels = self.balanced_labels
        if isinstance(labels, (str, dict)) or hasattr(labels, "__fspath__"):
            return BalancedSampler.from_coco(labels, **common)
        return BalancedSampler.from_labels(labels, **common)


class BalancedTrainer(BalancedSamplerMixin, Trainer):
    """A ``transformers.Trainer`` whose train sampler is :class:`BalancedSampler` (see the
    module docstring); every other behaviour is the Trainer's."""
