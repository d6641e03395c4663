# Face Mask Detection (real photos, CC0; 682 train / 171 val images, COCO JSON), read from
# ../shared/data/facemask/ by default; point data_root at your copy with
#   --cfg-options train_dataloader.dataset.data_root=DIR/ val_dataloader.dataset.data_root=DIR/
#   test_dataloader.dataset.data_root=DIR/
# Classes by training images: with_mask 615, without_mask 231, mask_weared_incorrect 75.
# There is no separate test split: the val split serves as test set, as in the study.
custom_imports = dict(imports=["mmdet_balanced"], allow_failed_imports=False)

dataset_type = "CocoDataset"
data_root = "../shared/data/facemask/"
classes = ("with_mask", "without_mask", "mask_weared_incorrect")
metainfo = dict(classes=classes)
image_scale = (256, 256)
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
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type="DefaultSampler", shuffle=True),
    batch_sampler=dict(type="AspectRatioBatchSampler"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file="train.json",
        data_prefix=dict(img="images/"),
        filter_cfg=dict(filter_empty_gt=False, min_size=2),
        pipeline=train_pipeline,
        backend_args=backend_args,
    ),
)
val_dataloader = dict(
    batch_size=8,
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
# The paper's metric: VOC-style mAP and per-class AP at IoU 0.2 and 0.4.
val_evaluator = dict(type="ClassAPMetric", iou_thrs=[0.2, 0.4])
test_evaluator = val_evaluator
