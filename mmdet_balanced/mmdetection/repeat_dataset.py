"""``InstanceBalancedDataset``: instance-aware repeat factor sampling (IRFS, Yaman et al. 2023)
as a dataset wrapper, the peer of MMEngine's ``ClassBalancedDataset`` (RFS)::

    train_dataloader = dict(dataset=dict(type="InstanceBalancedDataset", oversample_thr=0.3,
                                         dataset=dict(type="CocoDataset", ...)))

Class c repeats ``max(1, sqrt(t / sqrt(f_img_c * f_box_c)))`` times (``f_img_c``: share of
images holding c, ``f_box_c``: share of all non-ignored boxes that are c); an image takes the
largest factor of its classes (1 without boxes), rounded up as ``ClassBalancedDataset`` does.
"""

from mmdet.registry import DATASETS
from mmengine.dataset import ClassBalancedDataset

from ..core.repeat_factors import instance_repeat_factors
from .labels import label_matrix


@DATASETS.register_module()
class InstanceBalancedDataset(ClassBalancedDataset):
    """``ClassBalancedDataset`` with IRFS's instance-aware repeat factors.

    Args:
        dataset, lazy_init: as ``ClassBalancedDataset``.
        oversample_thr: IRFS's threshold ``t`` on ``sqrt(f_img * f_box)``.
    """

    def _get_repeat_factors(self, dataset, repeat_thr: float) -> list:
        counts = label_matrix(dataset, count="instances")
        return instance_repeat_factors(counts, repeat_thr).tolist()
