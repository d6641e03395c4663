# One-stage: MMDetection's YOLOv3 MobileNetV2 at half width, trained from scratch on the face
# mask photos at 256 px (anchors for faces of 6-120 px, median ~15 px at this size).
_base_ = [
    "./models/yolov3_mobilenetv2_half.py",
    "mmdet::_base_/schedules/schedule_1x.py",
    "mmdet::_base_/default_runtime.py",
    "./facemask_dataset.py",
]
model = dict(
    bbox_head=dict(
        num_classes=3,
        anchor_generator=dict(
            base_sizes=[
                [(48, 52), (72, 78), (120, 130)],
                [(20, 22), (28, 30), (38, 42)],
                [(6, 7), (9, 10), (13, 14)],
            ]
        ),
    )
)
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.003, momentum=0.9, weight_decay=0.0005),
    clip_grad=dict(max_norm=35, norm_type=2),
)
train_cfg = dict(max_epochs=12, val_interval=12)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type="MultiStepLR", begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=4, max_keep_ckpts=1))
auto_scale_lr = dict(enable=False, base_batch_size=8)
