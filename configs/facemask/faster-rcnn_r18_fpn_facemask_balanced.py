# Balanced sampling as in the paper: alpha = 0.5/N, lambda = 500, i.i.d. draws.
_base_ = "../_base_/faster-rcnn_r18_fpn_facemask.py"
train_dataloader = dict(
    sampler=dict(_delete_=True, type="BalancedQPSampler", alpha_factor=0.5, lam=500.0, draw="iid")
)
