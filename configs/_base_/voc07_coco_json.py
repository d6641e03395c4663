# PASCAL VOC 2007 trainval/test as COCO-format annotations (pascal_{train,val,test}2007.json,
# e.g. ../shared/data/voc/ next to this repository; images under data_root + "JPEGImages/").
_base_ = "mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py"
custom_imports = dict(imports=["mmdet_balanced"], allow_failed_imports=False)

data_root = "../shared/data/voc/"
classes = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
voc_split = dict(
    type="CocoDataset",
    data_root=data_root,
    metainfo=dict(classes=classes),
    data_prefix=dict(img="JPEGImages/"),
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline={{_base_.train_pipeline}},
)
train_dataloader = dict(
    sampler=dict(
        _delete_=True, type="BalancedQPSampler", alpha_factor=0.5, lam_scale=500.0 / 1237.0
    ),
    dataset=dict(
        _delete_=True,
        type="ConcatDataset",
        datasets=[
            dict(voc_split, ann_file="pascal_train2007.json"),
            dict(voc_split, ann_file="pascal_val2007.json"),
        ],
    ),
)
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file="pascal_test2007.json",
        data_prefix=dict(img="JPEGImages/"),
    )
)
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type="ClassAPMetric", iou_thrs=[0.2, 0.4])
test_evaluator = val_evaluator
model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))
