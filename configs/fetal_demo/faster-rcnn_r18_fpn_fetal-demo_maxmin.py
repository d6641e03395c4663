# The recommended setting with objective="maxmin": the rarest class's frequency is maximised
# first, then the paper's objective balances the rest without going below it.
_base_ = "../_base_/faster-rcnn_r18_fpn_fetal-demo.py"
train_dataloader = dict(
    sampler=dict(
        type="BalancedQPSampler",
        alpha_factor=0.5,
        lam_scale=0.4042,
        draw="systematic",
        objective="maxmin",
    )
)
