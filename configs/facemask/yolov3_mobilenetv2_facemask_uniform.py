# Uniform sampling baseline: MMEngine's DefaultSampler (each image once per epoch, shuffled).
_base_ = "../_base_/yolov3_mobilenetv2_facemask.py"
train_dataloader = dict(sampler=dict(_delete_=True, type="DefaultSampler", shuffle=True))
