# Two-stage: MMDetection's Faster R-CNN (R-50 FPN) shrunk to ResNet-18, trained from scratch
# (no pretrained download) on the face mask photos at 256 px; small anchors for small faces.
_base_ = [
    "mmdet::_base_/models/faster-rcnn_r50_fpn.py",
    "mmdet::_base_/schedules/schedule_1x.py",
    "mmdet::_base_/default_runtime.py",
    "./facemask_dataset.py",
]
model = dict(
    backbone=dict(
        depth=18, init_cfg=None, norm_cfg=dict(type="BN", requires_grad=True), norm_eval=False
    ),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[3], strides=[4, 8, 16, 32, 64]),
    ),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=3),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=0.01))
train_cfg = dict(max_epochs=12, val_interval=12)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type="MultiStepLR", begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=4, max_keep_ckpts=1))
auto_scale_lr = dict(enable=False, base_batch_size=8)
