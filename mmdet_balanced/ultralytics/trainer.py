"""``BalancedDetectionTrainer``: Ultralytics' ``DetectionTrainer`` drawing training images with
the balanced probabilities, and ``balanced_trainer(**settings)`` for non-default settings::

    from ultralytics import YOLO
    from mmdet_balanced.ultralytics import balanced_trainer
    YOLO("yolov8n.yaml").train(data="data.yaml", trainer=balanced_trainer(lam_scale=0.404))

The probabilities are solved when the train loader is built, from the training dataset's
labels (after Ultralytics' own label checks and cache). Settings are class attributes of the
returned class, so they survive DDP (which re-creates the trainer from its pickled class).
"""

import os

import torch
from ultralytics.data.build import InfiniteDataLoader, seed_worker
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.utils import LOGGER, RANK
from ultralytics.utils.torch_utils import torch_distributed_zero_first

from ..core.balanced_sampler import solve_for_sampler
from ..core.sampler import check_draw
from .labels import labels_from_yolo_dataset
from .sampler import YOLOBalancedSampler

DEFAULTS = dict(
    alpha_factor=0.5,
    lam=None,
    lam_scale=None,
    objective="paper",
    background_share=None,
    maxmin_eps=1e-3,
    solver="auto",
    draw="systematic",
    count="images",
)
TABLE_FILE = "class_draws.txt"


class BalancedDetectionTrainer(DetectionTrainer):
    """A ``DetectionTrainer`` whose train loader draws with the balanced probabilities (QP and
    draw settings: ``balanced_settings``, see :func:`balanced_trainer`). Validation loaders are
    Ultralytics' own. ``rect=True`` is refused: it groups batches by aspect ratio in dataset
    order and cannot take a sampler."""

    balanced_settings = dict(DEFAULTS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_callback("on_train_epoch_start", _start_epoch_chunk)
        self.train_sampler = None

    def get_dataloader(self, dataset_path, batch_size=16, rank=0, mode="train"):
        if mode != "train":
            return super().get_dataloader(dataset_path, batch_size, rank, mode)
        if self.args.rect:
            raise ValueError(
                "rect=True cannot be combined with balanced sampling: Ultralytics "
                "then batches images by aspect ratio in dataset order, with no "
                "sampler; train with rect=False (the default)"
            )
        with torch_distributed_zero_first(rank):
            dataset = self.build_dataset(dataset_path, mode, batch_size)
        distributed = rank != -1 and self.world_size > 1
        self.train_sampler = YOLOBalancedSampler(
            self.balanced_probabilities(dataset),
            batch_size=min(batch_size, len(dataset)),
            seed=self.args.seed,
            rank=max(RANK, 0) if distributed else 0,
            world_size=self.world_size if distributed else 1,
            draw=self.balanced_settings.get("draw", "systematic"),
            drop_last=bool(self.args.compile),
        )
        return self._loader(dataset, self.train_sampler)

    def _loader(self, dataset, sampler):
        """``build_dataloader``'s loader, with the balanced sampler in place of shuffling."""
        cuda = self.device.type == "cuda"
        workers = min(
            os.cpu_count() // max(torch.cuda.device_count() if cuda else 1, 1),
            self.args.workers,
            sampler.batches_per_epoch if sampler.batches_per_epoch > 1 else 0,
        )
        generator = torch.Generator()
        generator.manual_seed(6148914691236517205 + RANK + self.args.seed)
        return InfiniteDataLoader(
            dataset=dataset,
            batch_size=sampler.batch_size,
            shuffle=False,
            num_workers=workers,
            sampler=sampler,
            prefetch_factor=4 if workers > 0 else None,
            pin_memory=cuda,
            collate_fn=getattr(dataset, "collate_fn", None),
            worker_init_fn=seed_worker,
            generator=generator,
            drop_last=False,
        )

    def balanced_probabilities(self, dataset):
        """Solve the QP on the dataset's labels (every rank solves; rank 0's vector is
        shared), log the class table and write it with ``sampling.json`` to save_dir."""
        owner = type(self).__name__
        settings = {k: v for k, v in self.balanced_settings.items() if k != "draw"}
        names = [self.data["names"][i] for i in range(len(self.data["names"]))]
        labels = labels_from_yolo_dataset(dataset, len(names), count="instances")
        if labels.nnz == 0:
            raise ValueError(
                f"{owner}: no training image has a box, so there is nothing to "
                "balance; check data.yaml's train split"
            )
        main = RANK in {-1, 0}
        p, self.solve_info, summary = solve_for_sampler(
            labels,
            owner,
            names,
            dict(settings, draw=self.balanced_settings.get("draw")),
            len(dataset.labels),
            LOGGER.info,
            LOGGER.warning,
            str(self.save_dir) if main else None,
            dataset.im_files if main else None,
        )
        if main:
            with open(os.path.join(self.save_dir, TABLE_FILE), "w") as handle:
                handle.write(summary + "\n")
        return p


def _start_epoch_chunk(trainer):
    """Before each epoch: a loader iterator created from now on (the first one, or the one
    rebuilt when mosaic closes) starts at this epoch's chunk; resume lands where it left."""
    if trainer.train_sampler is not None:
        trainer.train_sampler.set_epoch(trainer.epoch)


def balanced_trainer(**settings):
    """A ``BalancedDetectionTrainer`` subclass carrying ``settings`` (``alpha_factor``, ``lam``,
    ``lam_scale``, ``objective``, ``background_share``, ``maxmin_eps``, ``solver``, ``draw``,
    ``count`` ("images" or "instances");
    the rest keep the paper's defaults), for ``model.train(trainer=...)``."""
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise TypeError(
            f"balanced_trainer() got unknown settings {unknown}; known: {sorted(DEFAULTS)}"
        )
    check_draw(settings.get("draw", "systematic"))
    merged = dict(DEFAULTS, **settings)
    text = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    return type(
        "BalancedDetectionTrainer",
        (BalancedDetectionTrainer,),
        {"balanced_settings": merged, "__doc__": f"BalancedDetectionTrainer({text})"},
    )
