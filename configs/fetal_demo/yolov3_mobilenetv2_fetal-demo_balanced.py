# Balanced sampling (Olivier & Raynaud): alpha = 0.5/N, lambda = 500, as in the paper.
_base_ = "../_base_/yolov3_mobilenetv2_fetal-demo.py"
train_dataloader = dict(sampler=dict(type="BalancedQPSampler", alpha_factor=0.5, lam=500.0))
