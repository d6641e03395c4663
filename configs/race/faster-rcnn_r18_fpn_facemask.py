# The race's two-stage model on face masks: MMDetection's Faster R-CNN R-50 FPN 1x recipe
# (its augmentation: Resize + RandomFlip; its schedule's shape: SGD lr 0.02 x batch/16, linear
# warm-up, LR x0.1 at epochs 8 and 11 of 12) shrunk to fit a CPU: ResNet-18 with a 64-channel
# FPN from scratch (no pretrained download; BN trained), 256 px, batch 8.
# Cost measured here: 3.1 s per iteration at one thread (53 min per 12 epochs' worth of images).
# tools/race.py replaces the sampler and turns the schedule into iterations of the race's budget
# (the LR steps at the same fractions); trained alone it is an ordinary uniform-sampling config:
#   python tools/train.py configs/race/faster-rcnn_r18_fpn_facemask.py
_base_ = "../_base_/faster-rcnn_r18_fpn_facemask.py"

train_dataloader = dict(sampler=dict(_delete_=True, type="DefaultSampler", shuffle=True))
# mAP and per-class AP at IoU 0.2 and 0.4 (the paper's) and 0.5 (the usual VOC threshold)
val_evaluator = dict(type="ClassAPMetric", iou_thrs=[0.2, 0.4, 0.5])
test_evaluator = val_evaluator
