# The bundled synthetic fetal-ultrasound-like dataset (paper's Table 1 class structure),
# written by `python tools/make_demo_data.py` to data/fetal_demo/ (COCO format).
custom_imports = dict(imports=["mmdet_balanced"], allow_failed_imports=False)

dataset_type = "CocoDataset"
data_root = "data/fetal_demo/"
classes = (
    "head",
    "abdomen",
    "femur",
    "falx",
    "cerebellum",
    "thalamus",
    "CSP",
    "umbilical vein",
    "stomach",
    "spine",
    "heart",
)
metainfo = dict(classes=classes)
image_scale = (128, 128)
backend_args = None

train_pipeline = [
    dict(type="LoadImageFromFile", backend_args=backend_args),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile", backend_args=backend_args),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(
        type="PackDetInputs",
        meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor"),
    ),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    # The one entry that turns balanced sampling on (paper: alpha = 0.5/N, lambda = 500).
    sampler=dict(type="BalancedQPSampler", alpha_factor=0.5),  # lam: 0.404 N (the default)
    batch_sampler=dict(type="AspectRatioBatchSampler"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file="train.json",
        data_prefix=dict(img="images/"),
        filter_cfg=dict(filter_empty_gt=False, min_size=4),
        pipeline=train_pipeline,
        backend_args=backend_args,
    ),
)
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file="val.json",
        data_prefix=dict(img="images/"),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args,
    ),
)
test_dataloader = val_dataloader
# The paper's metric: VOC-style mAP and per-class AP at IoU 0.2 and 0.4, logged as scalars.
val_evaluator = dict(type="ClassAPMetric", iou_thrs=[0.2, 0.4])
test_evaluator = val_evaluator
