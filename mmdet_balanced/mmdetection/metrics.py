"""The paper's evaluation: VOC-style AP per class at several IoU thresholds, as scalar keys.

MMDetection's ``VOCMetric`` prints per-class AP in a table but logs only the mAP. The paper
compares samplers on the AP of every class at IoU 0.2 and 0.4, so ``ClassAPMetric`` returns
``mAP@0.2``, ``AP@0.2/<class>``, ... (prefixed ``class_ap/``, whatever the sampler) as separate
scalars: they land in
MMEngine's ``vis_data/scalars.json`` and test-result files, where ``tools/compare_runs.py``
reads them.
"""

from collections import OrderedDict

import numpy as np
from mmdet.evaluation import VOCMetric
from mmdet.evaluation.functional import eval_map
from mmdet.registry import METRICS
from mmengine.logging import MMLogger


@METRICS.register_module()
class ClassAPMetric(VOCMetric):
    """mAP and per-class AP at each IoU threshold (default 0.2 and 0.4, as in the paper).

    Args:
        iou_thrs: IoU thresholds.
        eval_mode: ``"area"`` (VOC2010+ AP, default) or ``"11points"`` (VOC2007).
        prefix: key prefix in the logs (default ``"class_ap"``; runs written before 0.3
            used ``"balanced"``, which ``compare_runs.py`` still reads).
    """

    default_prefix = "class_ap"

    def __init__(self, iou_thrs=(0.2, 0.4), eval_mode: str = "area", **kwargs) -> None:
        iou_thrs = [iou_thrs] if isinstance(iou_thrs, float) else list(iou_thrs)
        for thr in iou_thrs:
            if not 0.0 < thr < 1.0:
                raise ValueError(f"iou_thrs must lie in (0, 1); got {thr!r}")
        super().__init__(iou_thrs=iou_thrs, metric="mAP", eval_mode=eval_mode, **kwargs)

    def compute_metrics(self, results: list) -> dict:
        logger = MMLogger.get_current_instance()
        gts, preds = zip(*results)
        classes = self.dataset_meta["classes"]
        metrics = OrderedDict()
        mean_aps = []
        for thr in self.iou_thrs:
            mean_ap, per_class = eval_map(
                list(preds),
                list(gts),
                iou_thr=thr,
                dataset=list(classes),
                logger="silent",
                eval_mode=self.eval_mode,
            )
            mean_aps.append(mean_ap)
            metrics[f"mAP@{thr:g}"] = float(mean_ap)
            absent = []
            for name, result in zip(classes, per_class):
                if result["num_gts"] == 0:
                    absent.append(name)
                    continue
                metrics[f"AP@{thr:g}/{name}"] = float(result["ap"])
            if absent:
                logger.warning(
                    f"ClassAPMetric: classes {absent} have no ground truth in the "
                    "evaluation split; their AP is not reported."
                )
        metrics["mAP"] = float(np.mean(mean_aps))
        metrics.move_to_end("mAP", last=False)
        return metrics
