# The paper's oversampling rule: duplicate the images of the rare class until its frequency is
# comparable to the others'. mask_weared_incorrect is in 75 training images, without_mask in
# 231: factor 3 brings it to 225 draws per epoch, level with without_mask (a factor of 8 would
# chase with_mask's 615, but 76 of the 97 rare-class images also hold with_mask, so with_mask
# would rise with it). Each such image appears 3 times per epoch, shuffled.
_base_ = "../_base_/yolov3_mobilenetv2_facemask.py"
train_dataloader = dict(
    sampler=dict(_delete_=True, type="OversamplingSampler", factors=dict(mask_weared_incorrect=3))
)
