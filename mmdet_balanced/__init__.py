"""mmdet_balanced: balanced sampling (Olivier & Raynaud) for MMDetection 3.x, Detectron2 and
Ultralytics YOLO.

Layout: :mod:`mmdet_balanced.core` holds the QP, its solvers and the framework-free samplers
(numpy, scipy, torch); each framework has its own thin glue: :mod:`mmdet_balanced.mmdetection`
(registered when MMDetection is installed, e.g. via
``custom_imports = dict(imports=["mmdet_balanced"])``), :mod:`mmdet_balanced.detectron2` and
:mod:`mmdet_balanced.ultralytics` (imported explicitly); :mod:`mmdet_balanced.study` holds the
analysis, run comparison and demo-data code.
"""

import importlib.util

from .core.balanced_sampler import BalancedSampler
from .core.qp import (
    SolveInfo,
    balanced_objective,
    class_frequencies,
    kkt_residual,
    solve_balanced_qp,
)
from .core.readers import coco_class_names, labels_from_coco, labels_from_yolo_dir
from .core.repeat_factors import image_repeat_factors, instance_repeat_factors
from .core.sampler import InfiniteProbabilitySampler, ProbabilitySampler, RepeatSampler
from .mmdetection.labels import label_matrix

__version__ = "0.3.0"
__all__ = [
    "solve_balanced_qp",
    "label_matrix",
    "balanced_objective",
    "class_frequencies",
    "kkt_residual",
    "SolveInfo",
    "ProbabilitySampler",
    "InfiniteProbabilitySampler",
    "RepeatSampler",
    "image_repeat_factors",
    "instance_repeat_factors",
    "labels_from_coco",
    "coco_class_names",
    "labels_from_yolo_dir",
    "BalancedSampler",
]

if importlib.util.find_spec("mmdet") is not None:
    from .mmdetection import register_all_modules

    globals().update(register_all_modules())
    __all__ += [
        "BalancedQPSampler",
        "InfiniteBalancedQPSampler",
        "OversamplingSampler",
        "ClassAPMetric",
        "BalancedMultiImageMixDataset",
        "ImagesSeenHook",
        "InstanceBalancedDataset",
    ]
