"""Worst class first (``objective="maxmin"``): lift the rarest class before balancing.

The paper's objective can leave a rare class *below* its uniform frequency when its only images
also hold frequent classes (raising them widens the spread more than it helps). Stage 1 finds
the largest achievable minimum class frequency ``t*`` (an LP); stage 2 minimises the paper's
objective subject to ``f_l >= tau = (1 - eps) t*`` for every class. Both run on the
Proposition-1 grouped problem (K unique rows ``U``, multiplicities ``m``).

Stage 1 by column generation: with ``q = alpha + r`` the LP is ``max t`` over ``w = m r >= 0``,
``sum w = 1 - alpha N``, ``alpha n + U^T w >= t`` (``n``: images per class). It has only C + 1
rows, so an optimal ``w`` uses at most C + 1 groups: HiGHS solves it over a few hundred groups
and pricing (one sparse product ``U y`` with the class duals) adds any group that would improve
it, until none does: the answer is the LP optimum over all K groups.

Stage 2 extends the structured dual Newton solver of :mod:`dual_newton`: the C floor
constraints add C sign-constrained multipliers ``z >= 0``; with ``v`` the balance multipliers
(``sum v = 0``) the dual is

    max  -v.v / (4C) + sum_k m_k phi(s_k) + nu + tau sum z,   s = U (v + z) + nu,
    phi(s) = -s^2 / (2 lam) if s >= lam alpha else lam alpha^2 / 2 - s alpha,

and ``q_k = max(alpha, s_k / lam)``. A primal-dual active set over the classes decides which
floors hold with equality; for each such set the dual (those ``z`` free in sign, the others
0) is solved by the paper solver's Newton method with a dense (C + |set| + 2) system.
"""
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .dual_newton import (_dual_value, _exact_step, active_gram, image_gradient,
                          solve_dual_newton)


def worst_class_frequency(rows: sp.csr_matrix, counts: np.ndarray, alpha_factor: float,
                          max_rounds: int = 100) -> float:
    """``t* = max_p min_l f_l`` subject to ``p >= alpha_factor / N``, ``sum p = 1`` (exact LP
    optimum over all groups, by column generation)."""
    rows = sp.csr_matrix(rows)
    num_groups, num_classes = rows.shape
    counts = counts.astype(np.float64)
    num_images = counts.sum()
    alpha = alpha_factor / num_images
    budget = 1.0 - alpha * num_images
    base = alpha * np.asarray(rows.T @ counts).ravel()  # every image at the floor
    if budget <= 1e-15:
        return float(base.min())
    # Start: for each class, its group with the fewest labels (lifts it most purely).
    labels_per_row = np.diff(rows.indptr)
    columns = sp.csc_matrix(rows)
    start = []
    for l in range(num_classes):
        members = columns.indices[columns.indptr[l]:columns.indptr[l + 1]]
        start.append(members[np.argmin(labels_per_row[members])])
    chosen = np.unique(np.asarray(start, dtype=np.int64))
    for _ in range(max_rounds):
        sub = rows[chosen]
        # variables (w_S, t): minimise -t; t - (base + U_S^T w)_l <= 0; sum w = budget.
        A_ub = sp.hstack([-sub.T, sp.csr_matrix(np.ones((num_classes, 1)))], format="csr")
        A_eq = sp.csr_matrix(np.append(np.ones(len(chosen)), 0.0)[None, :])
        cost = np.zeros(len(chosen) + 1)
        cost[-1] = -1.0
        result = linprog(cost, A_ub=A_ub, b_ub=base, A_eq=A_eq, b_eq=[budget],
                         bounds=[(0, None)] * len(chosen) + [(None, None)], method="highs-ds")
        if result.status != 0:
            raise RuntimeError(f"the worst-class LP failed: {result.message}")
        class_duals = -np.asarray(result.ineqlin.marginals)  # >= 0, sum 1
        price = -float(result.eqlin.marginals[0])             # value of one unit of budget
        gain = np.asarray(rows @ class_duals).ravel() - price  # > 0: the group would improve t
        gain[chosen] = -np.inf
        scale = max(1.0, abs(price))
        improving = np.flatnonzero(gain > 1e-12 * scale)
        if improving.size == 0:
            return float(result.x[-1])
        best = improving[np.argsort(-gain[improving])[:max(2 * num_classes, 50)]]
        chosen = np.union1d(chosen, best)
    raise RuntimeError(f"the worst-class LP did not converge in {max_rounds} rounds of column "
                       "generation; use objective='paper' or report the dataset")


@dataclass
class FloorNewtonResult:
    q: np.ndarray          # probability of each unique row
    v: np.ndarray          # balance multipliers (sum zero)
    z: np.ndarray          # floor multipliers (>= 0)
    nu: float
    iterations: int
    dual_residual: float
    converged: bool


def _floor_dual(rows, counts, v, floor_classes, z, nu, lam, alpha, tau, num_classes):
    """``s``, ``q`` and the dual value at ``(v, z on floor_classes, nu)``."""
    w = v.copy()
    w[floor_classes] += z
    s = rows @ w + nu
    value = _dual_value(s, v, nu, counts, lam, alpha, num_classes) + tau * z.sum()
    return s, np.maximum(alpha, s / lam), value


def _newton_with_floor_set(rows, rows_t, counts, alpha, lam, tau, floor_classes, v, z, nu,
                           tol, max_iter):
    """Semismooth Newton on the dual with ``f_l = tau`` imposed on ``floor_classes`` (their
    multipliers ``z`` free in sign): the paper solver's method (Armijo full step, else the exact
    maximiser along the step) with |floor_classes| more variables."""
    num_classes = rows.shape[1]
    size = len(floor_classes)
    s, q, value = _floor_dual(rows, counts, v, floor_classes, z, nu, lam, alpha, tau,
                              num_classes)
    residual, iteration = np.inf, 0
    for iteration in range(1, max_iter + 1):
        mass = rows_t @ (counts * q)
        grad_v = -v / (2.0 * num_classes) - mass
        grad_v -= grad_v.mean()
        grad_z = tau - mass[floor_classes]
        grad_nu = 1.0 - counts @ q
        residual = max(np.abs(grad_v).max(), np.abs(grad_z).max(initial=0.0), abs(grad_nu))
        if residual <= tol:
            return v, z, nu, s, q, iteration - 1, residual
        gram, column, weight_sum = active_gram(rows, rows_t, counts, s, lam, alpha)
        n = num_classes + size + 1                        # (v, z, nu)
        kkt = np.zeros((n + 1, n + 1))
        kkt[:num_classes, :num_classes] = gram + np.eye(num_classes) / (2.0 * num_classes)
        kkt[:num_classes, num_classes:n - 1] = gram[:, floor_classes]
        kkt[num_classes:n - 1, :num_classes] = gram[floor_classes, :]
        kkt[num_classes:n - 1, num_classes:n - 1] = gram[np.ix_(floor_classes, floor_classes)]
        kkt[n - 1, :num_classes] = kkt[:num_classes, n - 1] = column
        kkt[n - 1, num_classes:n - 1] = kkt[num_classes:n - 1, n - 1] = column[floor_classes]
        kkt[n - 1, n - 1] = weight_sum
        kkt[:n, :n] += np.eye(n) * 1e-15 * (1.0 + np.abs(kkt[:n, :n]).max())
        kkt[:num_classes, n] = kkt[n, :num_classes] = 1.0  # sum(v) stays 0
        rhs = np.concatenate([grad_v, grad_z, [grad_nu, 0.0]])
        try:
            step = np.linalg.solve(kkt, rhs)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
        d_v, d_z, d_nu = step[:num_classes], step[num_classes:n - 1], step[n - 1]
        slope = grad_v @ d_v + grad_z @ d_z + grad_nu * d_nu
        t = 1.0
        s_new, q_new, value_new = _floor_dual(rows, counts, v + d_v, floor_classes, z + d_z,
                                              nu + d_nu, lam, alpha, tau, num_classes)
        if value_new < value + 1e-4 * slope:
            d_w = d_v.copy()
            d_w[floor_classes] += d_z
            t = _exact_step(s, rows @ d_w + d_nu, v, d_v, d_nu + tau * d_z.sum(), counts, lam,
                            alpha, num_classes)
            s_new, q_new, value_new = _floor_dual(rows, counts, v + t * d_v, floor_classes,
                                                  z + t * d_z, nu + t * d_nu, lam, alpha, tau,
                                                  num_classes)
        if value_new <= value:  # no more progress in floating point
            return v, z, nu, s, q, iteration, residual
        v, z, nu, s, q, value = v + t * d_v, z + t * d_z, nu + t * d_nu, s_new, q_new, value_new
    return v, z, nu, s, q, max_iter, residual


def solve_floor_newton(rows: sp.csr_matrix, counts: np.ndarray, alpha: float, lam: float,
                       tau: float, tol: float = 1e-13, max_iter: int = 300,
                       max_rounds: int = 60) -> FloorNewtonResult:
    """The grouped paper QP with ``f_l >= tau`` for every class; ``lam > 0``.

    Active set over the classes: starting from the paper's solution, the classes below ``tau``
    are held at ``tau`` (their multiplier free in sign), the dual is solved by Newton, classes
    whose multiplier turns negative are released and classes that fell below ``tau`` are
    added, until the set no longer changes: then ``z >= 0``, every ``f_l >= tau`` and the
    Newton system's stationarity is that of the inequality-constrained problem.
    """
    rows = sp.csr_matrix(rows)
    num_classes = rows.shape[1]
    counts = counts.astype(np.float64)
    rows_t = rows.T.tocsr()
    paper = solve_dual_newton(rows, counts, alpha, lam)
    v, nu = paper.y.copy(), float(paper.nu)
    mass = rows_t @ (counts * paper.q)
    floor_classes = np.flatnonzero(mass < tau)
    z = np.zeros(len(floor_classes))
    total, residual, q = paper.iterations, paper.dual_residual, paper.q
    for _ in range(max_rounds):
        if len(floor_classes) == 0:
            break
        v, z, nu, s, q, iterations, residual = _newton_with_floor_set(
            rows, rows_t, counts, alpha, lam, tau, floor_classes, v, z, nu, tol, max_iter)
        total += iterations
        mass = rows_t @ (counts * q)
        released = z < 0
        below = np.setdiff1d(np.flatnonzero(mass < tau * (1.0 - 1e-12)), floor_classes)
        if not released.any() and below.size == 0:
            break
        v[floor_classes[released]] += z[released]  # keep v + z where it was
        v -= v.mean()
        floor_classes = np.concatenate([floor_classes[~released], below])
        z = np.concatenate([z[~released], np.zeros(below.size)])
        order = np.argsort(floor_classes)
        floor_classes, z = floor_classes[order], z[order]
    z_all = np.zeros(num_classes)
    z_all[floor_classes] = z
    converged = residual <= 1e3 * tol and z_all.min(initial=0.0) >= 0
    return FloorNewtonResult(q, v, z_all, nu, total, residual, converged)


def maxmin_kkt_residual(rows, counts, q, alpha: float, lam: float, tau: float, nu: float,
                        z: np.ndarray) -> float:
    """Optimality certificate of the floored QP, in gradient units: the KKT conditions checked
    on the primal ``q`` with multipliers ``nu`` (``sum p = 1``) and ``z`` (``f_l >= tau``).

    Near t* the multipliers are not unique (nearly an LP vertex), so they cannot be read off
    ``q`` alone; any that satisfy the conditions prove ``q`` optimal (the problem is convex).
    The residual is the largest of: the stationarity misfit ``g - nu - U z`` (``g`` the
    per-image gradient) at the groups above ``alpha``, its negative part at the groups on the
    floor, ``-z``, the complementarity ``z_l (f_l - tau)``, and the primal infeasibility
    (``N p`` below ``N alpha``, ``sum p - 1``, ``tau - f_l``).
    """
    rows = sp.csr_matrix(rows)
    counts = np.asarray(counts, dtype=np.float64)
    num_images = counts.sum()
    z = np.asarray(z, dtype=np.float64)
    f = np.asarray(rows.T @ (counts * q)).ravel()
    gradient = image_gradient(rows, counts, q, lam)
    reduced = gradient - nu - np.asarray(rows @ z).ravel()
    free = q > alpha * (1.0 + 1e-9) + 1e-9 / num_images
    parts = [np.abs(reduced[free]).max(initial=0.0),
             max(0.0, -reduced[~free].min(initial=0.0)),
             max(0.0, -z.min(initial=0.0)),
             np.abs(z * (f - tau)).max(initial=0.0),
             num_images * max(0.0, alpha - q.min()),
             abs(counts @ q - 1.0),
             max(0.0, tau - f.min())]
    return float(max(parts))


def solve_floor_quadprog(rows, counts, alpha_factor: float, lam: float,
                         min_frequency: float) -> np.ndarray:
    """Reference solver (tests, small problems): the grouped QP with ``f_l >= min_frequency``
    as a dense K x K problem in ``x = N q``, by quadprog's exact dual active-set method
    (Goldfarb-Idnani). Interior-point solvers (Clarabel, CVXOPT) stop ~1e-3 away in ``N p``
    on this flat objective; an active-set method lands on the optimum's structure."""
    import quadprog
    rows = sp.csr_matrix(rows)
    num_groups, num_classes = rows.shape
    counts = np.asarray(counts, dtype=np.float64)
    num_images = counts.sum()
    mass = (rows.T @ sp.diags(counts)).toarray() / num_images  # f = mass @ x
    balance = num_classes * np.eye(num_classes) - np.ones((num_classes, num_classes))
    hessian = 2.0 * mass.T @ balance @ mass + np.diag(lam * counts / num_images ** 2)
    constraints = np.vstack([counts[None, :] / num_images, np.eye(num_groups), mass]).T
    bounds = np.concatenate([[1.0], np.full(num_groups, alpha_factor),
                             np.full(num_classes, min_frequency)])
    x = quadprog.solve_qp(hessian, np.zeros(num_groups), constraints, bounds, meq=1)[0]
    return x / num_images


#: How far above ``(1 - eps) t*`` the class floor is imposed (absolute frequency).
FLOOR_MARGIN = 1e-11


def solve_maxmin(rows, counts, alpha_factor: float, lam: float, eps: float = 1e-3):
    """Stage 1 + stage 2; returns ``(FloorNewtonResult, t*, tau)``, tau the imposed floor."""
    t_star = worst_class_frequency(rows, counts, alpha_factor)
    # Imposed a hair above (1 - eps) t* (within the slack) so that the answer, exact to the
    # solver's ~1e-13, still satisfies f_l >= (1 - eps) t* itself.
    tau = (1.0 - eps) * t_star + min(0.5 * eps * t_star, FLOOR_MARGIN)
    alpha = alpha_factor / counts.sum()
    return solve_floor_newton(rows, counts, alpha, lam, tau), t_star, tau
