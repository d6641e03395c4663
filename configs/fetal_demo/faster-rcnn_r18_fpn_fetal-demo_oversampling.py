# The paper's oversampling baseline: images with a cerebellum twice, images with a heart 5 times.
_base_ = "../_base_/faster-rcnn_r18_fpn_fetal-demo.py"
train_dataloader = dict(
    sampler=dict(_delete_=True, type="OversamplingSampler", factors=dict(cerebellum=2, heart=5))
)
