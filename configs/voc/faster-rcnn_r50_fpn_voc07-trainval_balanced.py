# PASCAL VOC 2007 trainval (train + val merged), Faster R-CNN R-50 FPN, balanced sampling with
# the paper's alpha and its lambda made scale-free (lam = lam_scale * N; 500 at N = 1237).
_base_ = "../_base_/voc07_coco_json.py"
