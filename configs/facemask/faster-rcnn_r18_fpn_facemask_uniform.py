# Uniform sampling baseline: MMEngine's DefaultSampler (each image once per epoch, shuffled).
_base_ = "../_base_/faster-rcnn_r18_fpn_facemask.py"
train_dataloader = dict(sampler=dict(_delete_=True, type="DefaultSampler", shuffle=True))
