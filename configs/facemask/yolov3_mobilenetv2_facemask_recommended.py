# The project's recommended setting: lam scale-free (0.404 * N, the paper's 500 at N = 1237)
# and systematic draws (each image floor or ceil of N p_i times per epoch).
_base_ = "../_base_/yolov3_mobilenetv2_facemask.py"
train_dataloader = dict(
    sampler=dict(
        _delete_=True,
        type="BalancedQPSampler",
        alpha_factor=0.5,
        lam_scale=0.4042,
        draw="systematic",
    )
)
