"""``BalancedTrainer``: Detectron2's ``DefaultTrainer`` with the balanced train loader."""

from detectron2.engine import DefaultTrainer

from .config import build_balanced_train_loader


class BalancedTrainer(DefaultTrainer):
    """A ``DefaultTrainer`` whose train loader honours
    ``cfg.DATALOADER.SAMPLER_TRAIN = "BalancedQPSampler"`` (see :func:`add_balanced_config`).

    On resume the balanced stream continues where the checkpointed run was (iterations done x
    ``SOLVER.IMS_PER_BATCH`` global positions on), instead of restarting as Detectron2's
    samplers do. With ``ASPECT_RATIO_GROUPING`` the images that waited in an aspect-ratio
    bucket at the checkpoint are not replayed.
    """

    @classmethod
    def build_train_loader(cls, cfg):
        return build_balanced_train_loader(cfg)

    def resume_or_load(self, resume=True):
        super().resume_or_load(resume=resume)
        sampler = getattr(self._trainer.data_loader, "balanced_sampler", None)
        if sampler is not None:
            sampler.set_start(self.start_iter * self.cfg.SOLVER.IMS_PER_BATCH)
