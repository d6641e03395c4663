"""mmdet_balanced: balanced sampling (Olivier & Raynaud) for MMDetection 3.x.

The solver (:func:`solve_balanced_qp`) and the samplers in :mod:`mmdet_balanced.sampler` need
only numpy, scipy, cvxopt and torch. When MMDetection is installed, importing this package
(e.g. via ``custom_imports = dict(imports=["mmdet_balanced"])``) also registers
``BalancedQPSampler`` and the other MMDetection components.
"""
import importlib.util

from .labels import label_matrix
from .qp import (SolveInfo, balanced_objective, class_frequencies, kkt_residual,
                 solve_balanced_qp)
from .sampler import InfiniteProbabilitySampler, ProbabilitySampler, RepeatSampler

__version__ = "0.1.0"
__all__ = ["solve_balanced_qp", "label_matrix", "balanced_objective", "class_frequencies", "kkt_residual",
           "SolveInfo", "ProbabilitySampler", "InfiniteProbabilitySampler", "RepeatSampler"]

if importlib.util.find_spec("mmdet") is not None:
    from .compat import allow_mmengine_checkpoints
    from .metrics import ClassAPMetric
    from .mix_dataset import BalancedMultiImageMixDataset
    from .mmdet_samplers import (BalancedQPSampler, InfiniteBalancedQPSampler,
                                 OversamplingSampler)
    allow_mmengine_checkpoints()
    __all__ += ["BalancedQPSampler", "InfiniteBalancedQPSampler", "OversamplingSampler",
                "ClassAPMetric", "BalancedMultiImageMixDataset"]
