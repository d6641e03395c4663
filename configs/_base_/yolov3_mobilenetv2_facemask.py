# One-stage: MMDetection's YOLOv3 MobileNetV2 at half width, trained from scratch on the face
# mask photos at 256 px (anchors for faces of 6-120 px, median ~15 px at this size).
_base_ = [
    "mmdet::_base_/schedules/schedule_1x.py",
    "mmdet::_base_/default_runtime.py",
    "./facemask_dataset.py",
]
data_preprocessor = dict(type="DetDataPreprocessor", mean=[0, 0, 0], std=[255.0, 255.0, 255.0],
                         bgr_to_rgb=True, pad_size_divisor=32)
model = dict(
    type="YOLOV3",
    data_preprocessor=data_preprocessor,
    backbone=dict(type="MobileNetV2", widen_factor=0.5, out_indices=(2, 4, 6),
                  act_cfg=dict(type="LeakyReLU", negative_slope=0.1), init_cfg=None),
    neck=dict(type="YOLOV3Neck", num_scales=3, in_channels=[160, 48, 16],
              out_channels=[48, 48, 48]),
    bbox_head=dict(
        type="YOLOV3Head",
        num_classes=3,
        in_channels=[48, 48, 48],
        out_channels=[48, 48, 48],
        anchor_generator=dict(
            type="YOLOAnchorGenerator",
            base_sizes=[[(48, 52), (72, 78), (120, 130)],
                        [(20, 22), (28, 30), (38, 42)],
                        [(6, 7), (9, 10), (13, 14)]],
            strides=[32, 16, 8]),
        bbox_coder=dict(type="YOLOBBoxCoder"),
        featmap_strides=[32, 16, 8],
        loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0,
                      reduction="sum"),
        loss_conf=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0,
                       reduction="sum"),
        loss_xy=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=2.0,
                     reduction="sum"),
        loss_wh=dict(type="MSELoss", loss_weight=2.0, reduction="sum")),
    train_cfg=dict(assigner=dict(type="GridAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5,
                                 min_pos_iou=0)),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, conf_thr=0.005,
                  nms=dict(type="nms", iou_threshold=0.45), max_per_img=100))
optim_wrapper = dict(type="OptimWrapper",
                     optimizer=dict(type="SGD", lr=0.003, momentum=0.9, weight_decay=0.0005),
                     clip_grad=dict(max_norm=35, norm_type=2))
train_cfg = dict(max_epochs=12, val_interval=12)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type="MultiStepLR", begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=4, max_keep_ckpts=1))
auto_scale_lr = dict(enable=False, base_batch_size=8)
