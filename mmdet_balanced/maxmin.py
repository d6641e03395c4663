"""Worst class first (``objective="maxmin"``): lift the rarest class before balancing.

The paper's objective can leave a rare class *below* its uniform frequency when its only images
also hold frequent classes (raising them widens the spread more than it helps). Stage 1 finds
the largest achievable minimum class frequency ``t*`` (an LP, HiGHS); stage 2 minimises the
paper's objective subject to ``f_l >= (1 - eps) t*`` for every class (Clarabel, an interior
point solver that handles the C extra inequalities on the sparse lifted form in seconds at
COCO size; CVXOPT took minutes there). Both run on the Proposition-1 grouped problem.
"""
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog



def worst_class_frequency(rows: sp.csr_matrix, counts: np.ndarray, alpha_factor: float) -> float:
    """``t* = max_p min_l f_l`` subject to ``p >= alpha_factor / N``, ``sum p = 1``."""
    num_groups, num_classes = rows.shape
    counts = counts.astype(np.float64)
    num_images = counts.sum()
    # variables (x = N q per group, t); minimise -t; t - f_l <= 0 with f = U^T (m x) / N.
    A_ub = sp.hstack([-(rows.T @ sp.diags(counts)) / num_images,
                      sp.csr_matrix(np.ones((num_classes, 1)))], format="csr")
    A_eq = sp.csr_matrix(np.append(counts / num_images, 0.0)[None, :])
    bounds = [(alpha_factor, None)] * num_groups + [(None, None)]
    cost = np.zeros(num_groups + 1)
    cost[-1] = -1.0
    result = linprog(cost, A_ub=A_ub, b_ub=np.zeros(num_classes), A_eq=A_eq, b_eq=[1.0],
                     bounds=bounds, method="highs")
    if result.status != 0:
        raise RuntimeError(f"the worst-class LP failed: {result.message}")
    return float(result.x[-1])


def balanced_qp_with_floor(rows, counts, alpha_factor: float, lam: float,
                           min_frequency: float) -> np.ndarray:
    """The paper's QP plus ``f_l >= min_frequency`` for every class; ``q`` per group."""
    import clarabel
    num_groups, num_classes = rows.shape
    counts = counts.astype(np.float64)
    num_images = counts.sum()
    # variables (x = N q, f); 1/2 z^T P z = f^T M f + lam / (2 N^2) sum m x^2.
    balance = num_classes * np.eye(num_classes) - np.ones((num_classes, num_classes))
    P = sp.block_diag([sp.diags(lam * counts / num_images**2), sp.csc_matrix(2 * balance)])
    mass = (rows.T @ sp.diags(counts)) / num_images
    A = sp.vstack([
        sp.hstack([-mass, sp.identity(num_classes)]),                       # f = U^T (m x)/N
        sp.hstack([sp.csr_matrix(counts / num_images), sp.csr_matrix((1, num_classes))]),
        sp.hstack([-sp.identity(num_groups), sp.csr_matrix((num_groups, num_classes))]),
        sp.hstack([sp.csr_matrix((num_classes, num_groups)), -sp.identity(num_classes)]),
    ], format="csc")
    b = np.concatenate([np.zeros(num_classes), [1.0], -alpha_factor * np.ones(num_groups),
                        -min_frequency * np.ones(num_classes)])
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-10
    cones = [clarabel.ZeroConeT(num_classes + 1),
             clarabel.NonnegativeConeT(num_groups + num_classes)]
    solution = clarabel.DefaultSolver(sp.triu(P, format="csc"),
                                      np.zeros(num_groups + num_classes), A, b, cones,
                                      settings).solve()
    if str(solution.status) not in ("Solved", "AlmostSolved"):
        raise RuntimeError(f"the maxmin second stage failed: {solution.status}")
    return np.asarray(solution.x[:num_groups]) / num_images


def solve_maxmin(rows, counts, alpha_factor: float, lam: float, eps: float = 1e-3):
    """Stage 1 + stage 2; returns ``(q per group, t*)``."""
    t_star = worst_class_frequency(rows, counts, alpha_factor)
    q = balanced_qp_with_floor(rows, counts, alpha_factor, lam, (1.0 - eps) * t_star)
    return q, t_star
