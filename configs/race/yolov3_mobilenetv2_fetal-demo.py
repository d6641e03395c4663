# The race's fetal demo model (the bundled synthetic set, 200 train / 60 test images, the
# paper's 11 classes), trained with MMDetection's own YOLOv3 recipe shrunk to fit a CPU: the
# augmentation of yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py (Expand 1-2x, MinIoURandomCrop,
# Resize, RandomFlip, PhotoMetricDistortion) at the demo's 128 px, its schedule's shape (SGD lr
# 0.003, momentum 0.9, wd 5e-4, grad clip 35, linear warm-up, LR x0.1 at 80% and 93% of
# training), half-width MobileNetV2 from scratch at batch 4.
# tools/race.py replaces the sampler and turns the schedule into iterations of the race's budget
# (the LR steps at the same fractions); trained alone it is an ordinary uniform-sampling config:
#   python tools/train.py configs/race/yolov3_mobilenetv2_fetal-demo.py
_base_ = "../_base_/yolov3_mobilenetv2_fetal-demo.py"

image_scale = (128, 128)
train_pipeline = [
    dict(type="LoadImageFromFile", backend_args=None),
    dict(type="LoadAnnotations", with_bbox=True),
    # mean and to_rgb as the model's data_preprocessor (mean 0, BGR -> RGB)
    dict(type="Expand", mean=[0, 0, 0], to_rgb=True, ratio_range=(1, 2)),
    dict(type="MinIoURandomCrop", min_ious=(0.4, 0.5, 0.6, 0.7, 0.8, 0.9), min_crop_size=0.3),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion"),
    dict(type="PackDetInputs"),
]
train_dataloader = dict(
    sampler=dict(_delete_=True, type="DefaultSampler", shuffle=True),
    dataset=dict(pipeline=train_pipeline),
)
# mAP and per-class AP at IoU 0.2 and 0.4 (the paper's) and 0.5 (the usual VOC threshold)
val_evaluator = dict(type="ClassAPMetric", iou_thrs=[0.2, 0.4, 0.5])
test_evaluator = val_evaluator

max_epochs = 24
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-4, by_epoch=False, begin=0, end=100),
    dict(
        type="MultiStepLR", by_epoch=True, begin=0, end=max_epochs, milestones=[19, 22], gamma=0.1
    ),
]
