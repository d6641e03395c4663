# One-stage: MMDetection's YOLOv3 MobileNetV2 (yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py)
# at half width on 128-px images with anchors scaled to match, trained from scratch on the
# bundled fetal demo dataset.
_base_ = [
    "./models/yolov3_mobilenetv2_half.py",
    "mmdet::_base_/schedules/schedule_1x.py",
    "mmdet::_base_/default_runtime.py",
    "./fetal_demo_dataset.py",
]
model = dict(
    bbox_head=dict(
        num_classes=11,
        anchor_generator=dict(
            base_sizes=[
                [(40, 32), (56, 64), (100, 90)],
                [(12, 20), (20, 16), (22, 36)],
                [(4, 5), (6, 10), (10, 8)],
            ]
        ),
    )
)
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.003, momentum=0.9, weight_decay=0.0005),
    clip_grad=dict(max_norm=35, norm_type=2),
)
train_cfg = dict(max_epochs=12, val_interval=4)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type="MultiStepLR", begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=4))
auto_scale_lr = dict(enable=False, base_batch_size=4)
