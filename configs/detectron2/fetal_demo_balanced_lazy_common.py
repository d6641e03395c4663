"""LazyConfig parts shared by the *_lazy.py models: the fetal demo (128 px) with the balanced
sampler, SGD, the 1x schedule shape over 1000 iterations."""

import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.model_zoo import get_config

from mmdet_balanced.detectron2 import BalancedTrainingSampler
from mmdet_balanced.detectron2.datasets import register_fetal_demo

register_fetal_demo()  # fetal_demo_train / _val, after python tools/make_demo_data.py

dataloader = get_config("common/data/coco.py").dataloader
dataloader.train.dataset.names = "fetal_demo_train"
dataloader.train.mapper.use_instance_mask = False
dataloader.train.mapper.augmentations = [
    L(T.ResizeShortestEdge)(short_edge_length=128, max_size=128),
    L(T.RandomFlip)(horizontal=True),
]
dataloader.train.total_batch_size = 8
dataloader.train.num_workers = 2
# The sampler gets the loader's own dataset node (${..dataset}): the same dicts, same order;
# and its total_batch_size, so that a resumed run continues the stream. Each model file sets
# num_classes to its model's.
dataloader.train.sampler = L(BalancedTrainingSampler)(
    dataset_dicts="${..dataset}",
    alpha_factor=0.5,
    lam_scale=0.404,
    draw="systematic",
    output_dir="${train.output_dir}",
    total_batch_size="${..total_batch_size}",
)
dataloader.test.dataset.names = "fetal_demo_val"
dataloader.test.mapper.augmentations = [
    L(T.ResizeShortestEdge)(short_edge_length=128, max_size=128)
]
dataloader.test.num_workers = 2

optimizer = get_config("common/optim.py").SGD
optimizer.lr = 0.005
lr_multiplier = get_config("common/coco_schedule.py").lr_multiplier_1x
train = get_config("common/train.py").train
train.init_checkpoint = ""
train.max_iter = 1000
train.eval_period = 500
train.checkpointer.period = 500


def resnet18_from_scratch(bottom_up):
    """A ResNet-18 with trainable BN (frozen BN of an untrained ResNet gives NaN losses)."""
    bottom_up.stages.depth = 18
    del bottom_up.stages.stride_in_1x1  # BasicBlock has no 1x1 conv
    bottom_up.stages.norm = "BN"
    bottom_up.stem.norm = "BN"
