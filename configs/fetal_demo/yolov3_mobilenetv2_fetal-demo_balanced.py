# Balanced sampling as in the paper (Olivier & Raynaud): alpha = 0.5/N, lambda = 500, i.i.d.
# draws with replacement.
_base_ = "../_base_/yolov3_mobilenetv2_fetal-demo.py"
train_dataloader = dict(
    sampler=dict(type="BalancedQPSampler", alpha_factor=0.5, lam=500.0, draw="iid")
)
