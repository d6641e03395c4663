"""LazyConfig: RetinaNet, ResNet-18 FPN from scratch, with the balanced sampler, for Detectron2's
own ``tools/lazyconfig_train_net.py`` (unchanged)::

    python tools/make_demo_data.py        # the fetal demo, registered below
    python DETECTRON2/tools/lazyconfig_train_net.py \\
        --config-file configs/detectron2/retinanet_R_18_FPN_balanced_lazy.py

Your data: ``dataloader.train.dataset.names=my_train model.num_classes=C``. The sampler gets
the same dataset dicts as the loader (``${..dataset}``: the loader's dataset node).
"""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.model_zoo import get_config

from mmdet_balanced.detectron2 import BalancedTrainingSampler
from mmdet_balanced.detectron2.datasets import register_fetal_demo

register_fetal_demo()

model = get_config("common/models/retinanet.py").model
model.backbone.bottom_up.stages.depth = 18
del model.backbone.bottom_up.stages.stride_in_1x1  # BasicBlock has no 1x1 conv
model.backbone.bottom_up.stages.norm = "BN"      # frozen BN of an untrained ResNet gives NaN
model.backbone.bottom_up.stem.norm = "BN"
model.backbone.top_block.in_channels = 512       # res5 of a ResNet-18
model.anchor_generator.sizes = [[x, x * 2 ** (1.0 / 3), x * 2 ** (2.0 / 3)]
                                for x in [8, 16, 32, 64, 128]]
model.num_classes = 11

dataloader = get_config("common/data/coco.py").dataloader
dataloader.train.dataset.names = "fetal_demo_train"
dataloader.train.mapper.use_instance_mask = False
dataloader.train.mapper.augmentations = [
    L(T.ResizeShortestEdge)(short_edge_length=128, max_size=128),
    L(T.RandomFlip)(horizontal=True)]
dataloader.train.total_batch_size = 8
dataloader.train.num_workers = 2
dataloader.train.sampler = L(BalancedTrainingSampler)(
    dataset_dicts="${..dataset}", num_classes="${model.num_classes}",
    alpha_factor=0.5, lam_scale=0.404, draw="systematic", output_dir="${train.output_dir}")
dataloader.test.dataset.names = "fetal_demo_val"
dataloader.test.mapper.augmentations = [L(T.ResizeShortestEdge)(short_edge_length=128,
                                                                 max_size=128)]
dataloader.test.num_workers = 2

optimizer = get_config("common/optim.py").SGD
optimizer.lr = 0.005
lr_multiplier = get_config("common/coco_schedule.py").lr_multiplier_1x
train = get_config("common/train.py").train
train.init_checkpoint = ""
train.max_iter = 1000
train.eval_period = 500
train.checkpointer.period = 500
train.output_dir = "work_dirs/detectron2_retinanet_R_18_FPN_balanced_lazy"
