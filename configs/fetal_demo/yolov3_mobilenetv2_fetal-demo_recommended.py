# The project's recommended balanced setting: the paper's regularisation made scale-free
# (lam = 0.404 * N, i.e. the paper's 500 at N = 1237) and low-variance systematic draws (each
# image floor or ceil of N p_i times per epoch).
_base_ = "../_base_/yolov3_mobilenetv2_fetal-demo.py"
train_dataloader = dict(
    sampler=dict(type="BalancedQPSampler", alpha_factor=0.5, lam_scale=0.4042, draw="systematic")
)
