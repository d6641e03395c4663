# MMDetection's YOLOv3 MobileNetV2 (yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py) at half width,
# trained from scratch (no pretrained download); the dataset's config sets num_classes and
# anchors scaled to its image size.
data_preprocessor = dict(
    type="DetDataPreprocessor",
    mean=[0, 0, 0],
    std=[255.0, 255.0, 255.0],
    bgr_to_rgb=True,
    pad_size_divisor=32,
)
model = dict(
    type="YOLOV3",
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type="MobileNetV2",
        widen_factor=0.5,
        out_indices=(2, 4, 6),
        act_cfg=dict(type="LeakyReLU", negative_slope=0.1),
        init_cfg=None,
    ),
    neck=dict(
        type="YOLOV3Neck", num_scales=3, in_channels=[160, 48, 16], out_channels=[48, 48, 48]
    ),
    bbox_head=dict(
        type="YOLOV3Head",
        num_classes=80,  # set by the dataset's config
        in_channels=[48, 48, 48],
        out_channels=[48, 48, 48],
        anchor_generator=dict(
            type="YOLOAnchorGenerator",
            base_sizes=[
                [(40, 32), (56, 64), (100, 90)],
                [(12, 20), (20, 16), (22, 36)],
                [(4, 5), (6, 10), (10, 8)],
            ],
            strides=[32, 16, 8],
        ),
        bbox_coder=dict(type="YOLOBBoxCoder"),
        featmap_strides=[32, 16, 8],
        loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0, reduction="sum"),
        loss_conf=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0, reduction="sum"),
        loss_xy=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=2.0, reduction="sum"),
        loss_wh=dict(type="MSELoss", loss_weight=2.0, reduction="sum"),
    ),
    train_cfg=dict(
        assigner=dict(type="GridAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0)
    ),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        conf_thr=0.005,
        nms=dict(type="nms", iou_threshold=0.45),
        max_per_img=100,
    ),
)
