auto_scale_lr = dict(base_batch_size=4, enable=False)
backend_args = None
classes = (
    'head',
    'abdomen',
    'femur',
    'falx',
    'cerebellum',
    'thalamus',
    'CSP',
    'umbilical vein',
    'stomach',
    'spine',
    'heart',
)
custom_hooks = [
    dict(type='ImagesSeenHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'mmdet_balanced',
    ])
data_preprocessor = dict(
    bgr_to_rgb=True,
    mean=[
        0,
        0,
        0,
    ],
    pad_size_divisor=32,
    std=[
        255.0,
        255.0,
        255.0,
    ],
    type='DetDataPreprocessor')
data_root = 'data/fetal_demo/'
dataset_type = 'CocoDataset'
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False,
        interval=120,
        max_keep_ckpts=1,
        save_last=True,
        type='CheckpointHook'),
    logger=dict(interval=50, type='LoggerHook'),
    param_scheduler=dict(_scope_='mmdet', type='ParamSchedulerHook'),
    sampler_seed=dict(_scope_='mmdet', type='DistSamplerSeedHook'),
    timer=dict(_scope_='mmdet', type='IterTimerHook'),
    visualization=dict(_scope_='mmdet', type='DetVisualizationHook'))
default_scope = 'mmdet'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
image_scale = (
    128,
    128,
)
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False, type='LogProcessor', window_size=50)
max_epochs = 24
metainfo = dict(
    classes=(
        'head',
        'abdomen',
        'femur',
        'falx',
        'cerebellum',
        'thalamus',
        'CSP',
        'umbilical vein',
        'stomach',
        'spine',
        'heart',
    ))
model = dict(
    backbone=dict(
        act_cfg=dict(negative_slope=0.1, type='LeakyReLU'),
        init_cfg=None,
        out_indices=(
            2,
            4,
            6,
        ),
        type='MobileNetV2',
        widen_factor=0.5),
    bbox_head=dict(
        anchor_generator=dict(
            base_sizes=[
                [
                    (
                        40,
                        32,
                    ),
                    (
                        56,
                        64,
                    ),
                    (
                        100,
                        90,
                    ),
                ],
                [
                    (
                        12,
                        20,
                    ),
                    (
                        20,
                        16,
                    ),
                    (
                        22,
                        36,
                    ),
                ],
                [
                    (
                        4,
                        5,
                    ),
                    (
                        6,
                        10,
                    ),
                    (
                        10,
                        8,
                    ),
                ],
            ],
            strides=[
                32,
                16,
                8,
            ],
            type='YOLOAnchorGenerator'),
        bbox_coder=dict(type='YOLOBBoxCoder'),
        featmap_strides=[
            32,
            16,
            8,
        ],
        in_channels=[
            48,
            48,
            48,
        ],
        loss_cls=dict(
            loss_weight=1.0,
            reduction='sum',
            type='CrossEntropyLoss',
            use_sigmoid=True),
        loss_conf=dict(
            loss_weight=1.0,
            reduction='sum',
            type='CrossEntropyLoss',
            use_sigmoid=True),
        loss_wh=dict(loss_weight=2.0, reduction='sum', type='MSELoss'),
        loss_xy=dict(
            loss_weight=2.0,
            reduction='sum',
            type='CrossEntropyLoss',
            use_sigmoid=True),
        num_classes=11,
        out_channels=[
            48,
            48,
            48,
        ],
        type='YOLOV3Head'),
    data_preprocessor=dict(
        bgr_to_rgb=True,
        mean=[
            0,
            0,
            0,
        ],
        pad_size_divisor=32,
        std=[
            255.0,
            255.0,
            255.0,
        ],
        type='DetDataPreprocessor'),
    neck=dict(
        in_channels=[
            160,
            48,
            16,
        ],
        num_scales=3,
        out_channels=[
            48,
            48,
            48,
        ],
        type='YOLOV3Neck'),
    test_cfg=dict(
        conf_thr=0.005,
        max_per_img=100,
        min_bbox_size=0,
        nms=dict(iou_threshold=0.45, type='nms'),
        nms_pre=1000,
        score_thr=0.05),
    train_cfg=dict(
        assigner=dict(
            min_pos_iou=0,
            neg_iou_thr=0.5,
            pos_iou_thr=0.5,
            type='GridAssigner')),
    type='YOLOV3')
optim_wrapper = dict(
    _scope_='mmdet',
    clip_grad=dict(max_norm=35, norm_type=2),
    optimizer=dict(lr=0.003, momentum=0.9, type='SGD', weight_decay=0.0005),
    type='OptimWrapper')
param_scheduler = [
    dict(
        begin=0, by_epoch=False, end=100, start_factor=0.0001,
        type='LinearLR'),
    dict(
        begin=0,
        by_epoch=False,
        end=1200,
        gamma=0.1,
        milestones=[
            950,
            1100,
        ],
        type='MultiStepLR'),
]
resume = False
test_cfg = dict(_scope_='mmdet', type='TestLoop')
test_dataloader = dict(
    batch_size=4,
    dataset=dict(
        ann_file='val.json',
        backend_args=None,
        data_prefix=dict(img='images/'),
        data_root='data/fetal_demo/',
        metainfo=dict(
            classes=(
                'head',
                'abdomen',
                'femur',
                'falx',
                'cerebellum',
                'thalamus',
                'CSP',
                'umbilical vein',
                'stomach',
                'spine',
                'heart',
            )),
        pipeline=[
            dict(backend_args=None, type='LoadImageFromFile'),
            dict(keep_ratio=True, scale=(
                128,
                128,
            ), type='Resize'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(
                meta_keys=(
                    'img_id',
                    'img_path',
                    'ori_shape',
                    'img_shape',
                    'scale_factor',
                ),
                type='PackDetInputs'),
        ],
        test_mode=True,
        type='CocoDataset'),
    drop_last=False,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test_evaluator = dict(
    iou_thrs=[
        0.2,
        0.4,
        0.5,
    ], type='ClassAPMetric')
test_pipeline = [
    dict(backend_args=None, type='LoadImageFromFile'),
    dict(keep_ratio=True, scale=(
        128,
        128,
    ), type='Resize'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        meta_keys=(
            'img_id',
            'img_path',
            'ori_shape',
            'img_shape',
            'scale_factor',
        ),
        type='PackDetInputs'),
]
train_cfg = dict(max_iters=1200, type='IterBasedTrainLoop')
train_dataloader = dict(
    batch_sampler=dict(drop_last=True, type='AspectRatioBatchSampler'),
    batch_size=4,
    dataset=dict(
        ann_file='train.json',
        backend_args=None,
        data_prefix=dict(img='images/'),
        data_root='data/fetal_demo/',
        filter_cfg=dict(filter_empty_gt=False, min_size=4),
        metainfo=dict(
            classes=(
                'head',
                'abdomen',
                'femur',
                'falx',
                'cerebellum',
                'thalamus',
                'CSP',
                'umbilical vein',
                'stomach',
                'spine',
                'heart',
            )),
        pipeline=[
            dict(backend_args=None, type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(
                mean=[
                    0,
                    0,
                    0,
                ],
                ratio_range=(
                    1,
                    2,
                ),
                to_rgb=True,
                type='Expand'),
            dict(
                min_crop_size=0.3,
                min_ious=(
                    0.4,
                    0.5,
                    0.6,
                    0.7,
                    0.8,
                    0.9,
                ),
                type='MinIoURandomCrop'),
            dict(keep_ratio=True, scale=(
                128,
                128,
            ), type='Resize'),
            dict(prob=0.5, type='RandomFlip'),
            dict(type='PhotoMetricDistortion'),
            dict(type='PackDetInputs'),
        ],
        type='CocoDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(
        alpha_factor=0.5,
        draw='iid',
        lam_scale=0.4042,
        type='BalancedQPSampler'))
train_pipeline = [
    dict(backend_args=None, type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(mean=[
        0,
        0,
        0,
    ], ratio_range=(
        1,
        2,
    ), to_rgb=True, type='Expand'),
    dict(
        min_crop_size=0.3,
        min_ious=(
            0.4,
            0.5,
            0.6,
            0.7,
            0.8,
            0.9,
        ),
        type='MinIoURandomCrop'),
    dict(keep_ratio=True, scale=(
        128,
        128,
    ), type='Resize'),
    dict(prob=0.5, type='RandomFlip'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackDetInputs'),
]
val_cfg = None
val_dataloader = None
val_evaluator = None
vis_backends = [
    dict(_scope_='mmdet', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmdet',
    name='visualizer',
    type='DetLocalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
