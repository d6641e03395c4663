"""LazyConfig: RetinaNet, ResNet-18 FPN from scratch, with the balanced sampler, for Detectron2's
own ``tools/lazyconfig_train_net.py`` (unchanged)::

    python tools/make_demo_data.py
    python DETECTRON2/tools/lazyconfig_train_net.py \\
        --config-file configs/detectron2/retinanet_R_18_FPN_balanced_lazy.py

Your data: ``dataloader.train.dataset.names=my_train model.num_classes=C``.
"""

from detectron2.model_zoo import get_config

# The config's namespace: LazyConfig reads dataloader, lr_multiplier, optimizer, train (and
# model, below) from this module's globals.
from .fetal_demo_balanced_lazy_common import (
    dataloader,
    lr_multiplier,
    optimizer,
    resnet18_from_scratch,
    train,
)

model = get_config("common/models/retinanet.py").model
resnet18_from_scratch(model.backbone.bottom_up)
model.backbone.top_block.in_channels = 512  # res5 of a ResNet-18
model.anchor_generator.sizes = [
    [x, x * 2 ** (1.0 / 3), x * 2 ** (2.0 / 3)] for x in [8, 16, 32, 64, 128]
]
model.num_classes = 11
dataloader.train.sampler.num_classes = "${model.num_classes}"
train.output_dir = "work_dirs/detectron2_retinanet_R_18_FPN_balanced_lazy"
