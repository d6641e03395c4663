"""MMDetection glue: registered samplers that draw training images with balanced probabilities.

Turned on by one config entry (with ``custom_imports = dict(imports=["mmdet_balanced"])``)::

    train_dataloader = dict(sampler=dict(type="BalancedQPSampler", alpha_factor=0.5, lam=500.0))

The probabilities are computed once, when the sampler is built, from the dataset's annotations.
"""
from typing import Optional

from mmengine.dist import broadcast_object_list, get_dist_info, sync_random_seed
from mmengine.logging import print_log

from mmdet.registry import DATA_SAMPLERS

from .labels import dataset_classes, label_matrix
from .qp import solve_balanced_qp
from .report import format_frequency_table
from .sampler import InfiniteProbabilitySampler, ProbabilitySampler


def balanced_probabilities(dataset, alpha_factor: float, lam: float, solver: str, owner: str):
    """Solve the QP for ``dataset``, make every rank hold rank 0's vector, log the effect."""
    labels = label_matrix(dataset)
    if labels.nnz == 0:
        raise ValueError(
            f"{owner}: no image of the training dataset has a (non-ignored) box of its "
            f"{labels.shape[1]} classes, so there is nothing to balance. Check that "
            "metainfo['classes'] matches the category names in ann_file, or use "
            "DefaultSampler.")
    p, info = solve_balanced_qp(labels, alpha_factor=alpha_factor, lam=lam, solver=solver,
                                return_info=True)
    rank, world_size = get_dist_info()
    if world_size > 1:  # bit-identical on every rank, whatever each rank's BLAS did
        shared = [p]
        broadcast_object_list(shared, src=0)
        p = shared[0]
    table = format_frequency_table(
        dataset_classes(dataset),
        {"uniform": info.uniform_class_frequencies, "balanced": info.class_frequencies},
        num_images=len(p))
    print_log(f"{owner}: {len(p)} images, {labels.shape[1]} classes, {info.num_groups} unique "
              f"label rows; alpha_factor={alpha_factor}, lam={lam}; solver {info.solver} "
              f"({info.iterations} iterations, KKT residual {info.kkt_residual:.1e}, "
              f"{info.seconds:.2f} s). Expected images per epoch containing each class:\n"
              f"{table}", logger="current")
    return p, info


@DATA_SAMPLERS.register_module()
class BalancedQPSampler(ProbabilitySampler):
    """Epoch-based sampler drawing images i.i.d. with the balanced probabilities.

    Args:
        dataset: the training dataset (any MMDetection dataset or wrapper).
        seed: shared random seed; ``None`` synchronises a random one across ranks.
        alpha_factor, lam, solver: see :func:`mmdet_balanced.solve_balanced_qp`.
        num_samples: draws per epoch over all ranks (default: dataset length).
        round_up: pad so that every rank gets the same number of indices.
    """

    def __init__(self, dataset, seed: Optional[int] = None, alpha_factor: float = 0.5,
                 lam: float = 500.0, solver: str = "auto", num_samples: Optional[int] = None,
                 round_up: bool = True) -> None:
        rank, world_size = get_dist_info()
        probabilities, self.solve_info = balanced_probabilities(
            dataset, alpha_factor, lam, solver, type(self).__name__)
        super().__init__(probabilities, num_samples=num_samples,
                         seed=sync_random_seed() if seed is None else seed,
                         rank=rank, world_size=world_size, round_up=round_up)
        self.dataset = dataset


@DATA_SAMPLERS.register_module()
class InfiniteBalancedQPSampler(InfiniteProbabilitySampler):
    """Iteration-based variant (as ``InfiniteSampler`` is to ``DefaultSampler``)."""

    def __init__(self, dataset, seed: Optional[int] = None, alpha_factor: float = 0.5,
                 lam: float = 500.0, solver: str = "auto",
                 num_samples: Optional[int] = None) -> None:
        rank, world_size = get_dist_info()
        probabilities, self.solve_info = balanced_probabilities(
            dataset, alpha_factor, lam, solver, type(self).__name__)
        super().__init__(probabilities, num_samples=num_samples,
                         seed=sync_random_seed() if seed is None else seed,
                         rank=rank, world_size=world_size)
        self.dataset = dataset
