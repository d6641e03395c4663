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

Near t* the floored QP is almost an LP vertex (about as many rows above alpha as classes on
their floor), which that Newton method finds only in hundreds of short steps from the paper's
solution. :func:`floor_warm_start` finds the structure first, by column generation over the
rows with an interior point on the restricted problem; the Newton method started there
finishes in a few steps, exactly.
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
    return worst_class_lp(rows, counts, alpha_factor, max_rounds)[0]


def worst_class_lp(rows: sp.csr_matrix, counts: np.ndarray, alpha_factor: float,
                   max_rounds: int = 100):
    """``(t*, support)``: the worst-class LP optimum and the groups its solution lifts above
    alpha (at most C + 1; with them alone every class reaches t*)."""
    rows = sp.csr_matrix(rows)
    num_groups, num_classes = rows.shape
    counts = counts.astype(np.float64)
    num_images = counts.sum()
    alpha = alpha_factor / num_images
    budget = 1.0 - alpha * num_images
    base = alpha * np.asarray(rows.T @ counts).ravel()  # every image at the floor
    if budget <= 1e-15:
        return float(base.min()), np.zeros(0, dtype=np.int64)
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
            return float(result.x[-1]), chosen[result.x[:-1] > 0]
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
    def gradient(q, v):
        mass = rows_t @ (counts * q)
        grad_v = -v / (2.0 * num_classes) - mass
        grad_v -= grad_v.mean()
        grad_z = tau - mass[floor_classes]
        grad_nu = 1.0 - counts @ q
        return grad_v, grad_z, grad_nu, max(np.abs(grad_v).max(), np.abs(grad_z).max(initial=0.0),
                                            abs(grad_nu))

    residual, iteration = np.inf, 0
    for iteration in range(1, max_iter + 1):
        grad_v, grad_z, grad_nu, residual = gradient(q, v)
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
        if value_new <= value and gradient(q_new, v + t * d_v)[3] >= residual:
            return v, z, nu, s, q, iteration, residual  # no more progress in floating point
        # (a step that leaves the flat dual value unchanged in floating point but shrinks the
        # gradient is progress too: from a warm start near the optimum that is the usual case)
        v, z, nu, s, q, value = v + t * d_v, z + t * d_z, nu + t * d_nu, s_new, q_new, value_new
    return v, z, nu, s, q, max_iter, residual


def solve_floor_newton(rows: sp.csr_matrix, counts: np.ndarray, alpha: float, lam: float,
                       tau: float, tol: float = 1e-13, max_iter: int = 300,
                       max_rounds: int = 60, warm=None) -> FloorNewtonResult:
    """The grouped paper QP with ``f_l >= tau`` for every class; ``lam > 0``.

    Active set over the classes: starting from the paper's solution, the classes below ``tau``
    are held at ``tau`` (their multiplier free in sign), the dual is solved by Newton, classes
    whose multiplier turns negative are released and classes that fell below ``tau`` are
    added, until the set no longer changes: then ``z >= 0``, every ``f_l >= tau`` and the
    Newton system's stationarity is that of the inequality-constrained problem. ``warm``:
    ``(v, z, nu, floor_classes)`` to start from instead (see :func:`floor_warm_start`).
    """
    rows = sp.csr_matrix(rows)
    num_classes = rows.shape[1]
    counts = counts.astype(np.float64)
    rows_t = rows.T.tocsr()
    if warm is None:
        paper = solve_dual_newton(rows, counts, alpha, lam)
        v, nu = paper.y.copy(), float(paper.nu)
        mass = rows_t @ (counts * paper.q)
        floor_classes = np.flatnonzero(mass < tau)
        z = np.zeros(len(floor_classes))
        total, residual, q = paper.iterations, paper.dual_residual, paper.q
    else:
        v, z_all, nu, floor_classes = warm
        v, nu, floor_classes = v - v.mean(), float(nu), np.asarray(floor_classes)
        z = z_all[floor_classes].copy()  # free in sign inside the set, as in the rounds below
        w = v.copy()
        w[floor_classes] += z
        q = np.maximum(alpha, (rows @ w + nu) / lam)
        total, residual = 0, np.inf
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


def restricted_floor_qp(rows, counts, working, alpha: float, lam: float, tau: float,
                        tol: float = 1e-10) -> np.ndarray:
    """The floored QP with only the ``working`` groups free (the others at alpha), by Clarabel
    in a sparse form: variables ``(x = N q_S, f, d, mean)`` with ``f = f_fixed + A x``,
    ``d = f - mean``, objective ``C ||d||^2 + lam/2 sum m q^2`` (= the paper's). Interior
    point: accurate to ~1e-9, enough to find the optimum's structure."""
    import clarabel
    num_groups, num_classes = rows.shape
    num_images = counts.sum()
    fixed = np.ones(num_groups, dtype=bool)
    fixed[working] = False
    f_fixed = np.asarray(rows[fixed].T @ (counts[fixed] * alpha)).ravel()
    lift = (rows[working].T @ sp.diags(counts[working] / num_images)).tocsc()
    size, c = len(working), num_classes
    zeros = lambda r, k: sp.csr_matrix((r, k))  # noqa: E731
    eye, ones = sp.eye(c), np.ones((c, 1))
    hessian = sp.diags(np.concatenate([lam * counts[working] / num_images ** 2, np.zeros(c),
                                       np.full(c, 2.0 * c), [0.0]])).tocsc()
    equalities = sp.vstack([
        sp.hstack([lift, -eye, zeros(c, c), zeros(c, 1)]),                      # f = f_fixed + A x
        sp.hstack([zeros(1, size), sp.csr_matrix(ones.T / c), zeros(1, c), -sp.eye(1)]),
        sp.hstack([zeros(c, size), eye, -eye, sp.csr_matrix(-ones)]),          # d = f - mean
        sp.hstack([sp.csr_matrix(counts[working][None, :] / num_images), zeros(1, 2 * c + 1)])])
    bounds = sp.vstack([sp.hstack([-sp.eye(size), zeros(size, 2 * c + 1)]),      # x >= N alpha
                        sp.hstack([zeros(c, size), -eye, zeros(c, c + 1)])])     # f >= tau
    rhs = np.concatenate([-f_fixed, [0.0], np.zeros(c),
                          [1.0 - alpha * counts[fixed].sum()],
                          np.full(size, -alpha * num_images), np.full(c, -tau)])
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tol
    solution = clarabel.DefaultSolver(
        hessian, np.zeros(size + 2 * c + 1), sp.vstack([equalities, bounds]).tocsc(), rhs,
        [clarabel.ZeroConeT(2 * c + 2), clarabel.NonnegativeConeT(size + c)], settings).solve()
    if str(solution.status) not in ("Solved", "AlmostSolved"):
        raise RuntimeError(f"restricted floored QP: {solution.status}")
    q = np.full(num_groups, alpha)
    q[working] = np.asarray(solution.x)[:size] / num_images
    return q


def floor_warm_start(rows, counts, alpha: float, lam: float, tau: float, support,
                     batch: int = 2000, max_rounds: int = 15, ipm_tol: float = 1e-10):
    """A start for :func:`solve_floor_newton` near the optimum's structure, by column
    generation over the groups: the floored QP restricted to a working set (from the LP's
    support, which makes it feasible) by an interior point, and the groups outside whose
    reduced gradient ``g - nu - U z`` is negative (they would rise above alpha) added, until
    none is. Near t* only about as many groups are free as classes are held
    (a near-LP vertex), which the dual Newton alone finds slowly (hundreds of short steps).
    Only the start depends on it: the Newton finish is exact from any start, so ``max_rounds``
    bounds the time spent here. The fit needs an accurate restricted solve: with
    ``ipm_tol=1e-8`` rows near the floors are misclassified, the multipliers go wrong and the
    pricing admits rows that do not belong (1.7M x 600: 154 s instead of 4.8 s).
    Returns ``(v, z, nu, held classes)`` fitted to the last restricted ``q``."""
    counts = counts.astype(np.float64)
    working = np.unique(np.asarray(support, dtype=np.int64))
    outside = np.ones(len(counts), dtype=bool)
    for _ in range(max_rounds):
        q = restricted_floor_qp(rows, counts, working, alpha, lam, tau, ipm_tol)
        v, z, nu, held = fit_floor_multipliers(rows, counts, q, alpha, lam, tau)
        reduced = image_gradient(rows, counts, q, lam) - nu - np.asarray(rows @ z).ravel()
        outside[:] = True
        outside[working] = False
        entering = np.flatnonzero(outside & (reduced < -1e-7 * (1.0 + abs(nu))))
        if entering.size == 0:
            break
        working = np.union1d(working, entering[np.argsort(reduced[entering])[:batch]])
    return v, z, nu, held


def fit_floor_multipliers(rows, counts, q, alpha: float, lam: float, tau: float,
                          rel: float = 1e-6):
    """Multipliers consistent with a near-optimal ``q``: ``v = -2C (f - mean f)`` (the balance
    term's), then ``(z, nu)`` by least squares on the stationarity ``lam q_k = (U (v + z))_k +
    nu`` of the groups above alpha, ``z`` on the classes within ``rel`` of the floor. The dual
    Newton started there sees the groups above alpha exactly where ``q`` has them (the
    interior point's own duals reproduce them only to its ~1e-9, and near t* many groups sit
    that close to the floor; they also price less reliably). Returns ``(v, z, nu, held classes)``."""
    num_classes = rows.shape[1]
    f = np.asarray(rows.T @ (counts * q)).ravel()
    v = -2.0 * num_classes * (f - f.mean())
    held = np.flatnonzero(f < tau * (1.0 + rel))
    free = np.flatnonzero(q > alpha * (1.0 + rel))
    design = sp.hstack([rows[free][:, held], sp.csr_matrix(np.ones((len(free), 1)))]).toarray()
    fitted = np.linalg.lstsq(design, lam * q[free] - rows[free] @ v, rcond=None)[0]
    z = np.zeros(num_classes)
    z[held] = fitted[:-1]
    return v, z, float(fitted[-1]), held


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
    t_star, support = worst_class_lp(rows, counts, alpha_factor)
    # Imposed a hair above (1 - eps) t* (within the slack) so that the answer, exact to the
    # solver's ~1e-13, still satisfies f_l >= (1 - eps) t* itself.
    tau = (1.0 - eps) * t_star + min(0.5 * eps * t_star, FLOOR_MARGIN)
    alpha = alpha_factor / counts.sum()
    warm = None
    if support.size:  # else every image sits at alpha (alpha_factor = 1): nothing to lift
        try:
            warm = floor_warm_start(rows, counts, alpha, lam, tau, support)
        except (RuntimeError, np.linalg.LinAlgError):
            warm = None  # the cold start below is exact too, only slower
    result = solve_floor_newton(rows, counts, alpha, lam, tau, warm=warm)
    if warm is not None and not result.converged:
        result = solve_floor_newton(rows, counts, alpha, lam, tau)
    return result, t_star, tau
