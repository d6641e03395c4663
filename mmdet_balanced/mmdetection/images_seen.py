"""Count what training actually fed the model: images seen (with repeats) and distinct images.

A fair comparison of samplers gives every arm the same number of images seen; an arm that
repeats images (oversampling, repeat factors, balanced draws) sees fewer distinct ones. The hook
measures both from the batches themselves, so the figures hold whatever the sampler, batch
sampler or dataset wrapper did. Resume-safe (kept in the checkpoint) and summed over ranks.

    custom_hooks = [dict(type="ImagesSeenHook")]

After training, ``hook.totals()`` (and ``work_dir/images_seen.json`` on rank 0) hold
``images_seen`` and ``distinct_images_seen``.
"""

import json
import os.path as osp

from mmdet.registry import HOOKS
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook

RECORD = "images_seen.json"


def _image_key(sample):
    meta = sample.metainfo if hasattr(sample, "metainfo") else sample
    return str(meta.get("img_path") or meta.get("img_id"))


@HOOKS.register_module()
class ImagesSeenHook(Hook):
    """Images fed to training (with repeats) and distinct images, over all ranks."""

    # before CheckpointHook (VERY_LOW): a checkpoint saved after an iteration must include
    # that iteration's batch, or a resumed run counts one batch short
    priority = "LOW"

    def __init__(self) -> None:
        self.seen = 0  # this rank's images, repeats included
        self.keys = set()  # this rank's distinct image paths (or ids)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        samples = (data_batch or {}).get("data_samples") or ()
        self.seen += len(samples)
        self.keys.update(_image_key(sample) for sample in samples)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault("meta", {})["images_seen"] = dict(
            seen=self.seen, keys=sorted(self.keys)
        )

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get("meta", {}).get("images_seen")
        if state is not None:
            self.seen, self.keys = int(state["seen"]), set(state["keys"])

    def totals(self) -> dict:
        """``images_seen`` and ``distinct_images_seen`` summed over ranks (a collective call)."""
        gathered = all_gather_object((self.seen, self.keys))
        return dict(
            images_seen=int(sum(seen for seen, _ in gathered)),
            distinct_images_seen=len(set().union(*(keys for _, keys in gathered))),
        )

    def after_train(self, runner) -> None:
        totals = self.totals()
        if get_dist_info()[0] == 0:
            with open(osp.join(runner.work_dir, RECORD), "w") as handle:
                json.dump(totals, handle, indent=1)
        runner.logger.info(
            f"ImagesSeenHook: {totals['images_seen']} images seen, "
            f"{totals['distinct_images_seen']} distinct"
        )
