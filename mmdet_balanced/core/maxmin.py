"""Worst class first (``objective="maxmin"``): lift the rarest class before balancing.

The paper's objective can leave a rare class *below* its uniform frequency when its only images
also hold frequent classes (raising them widens the spread more than it helps). Stage 1 finds
the largest achievable minimum class frequency ``t*`` (an LP); stage 2 minimises the paper's
objective subject to ``f_l >= tau = (1 - eps) t*`` for every class. Both run on the
Proposition-1 grouped problem (K unique rows ``U``, multiplicities ``m``).

Stage 1 by column generation: with ``q = alpha + r`` the LP is ``max t`` over ``w = m r >= 0``,
``sum w = 1 - alpha N``, ``alpha n + U^T w >= t`` (``n``: images per class). It has only C + 1
rows, so an optimal ``w`` uses at most C + 1 groups: HiGHS solves it over a few thousand groups
(those holding the rarest classes; interior point, then primal simplex from its basis) and
pricing (one sparse product ``U y`` with the class duals) adds the groups that would improve it
most, each round warm-started from the last basis, until none would: the answer is the LP
optimum over all K groups.

Stage 2 extends the structured dual Newton solver of :mod:`dual_newton`: the C floor
constraints add C sign-constrained multipliers ``z >= 0``; with ``v`` the balance multipliers
(``sum v = 0``) the dual is

    max  -v.v / (4C) + sum_k m_k phi(s_k) + nu + tau sum z,   s = U (v + z) + nu,
    phi(s) = -s^2 / (2 lam) if s >= lam alpha else lam alpha^2 / 2 - s alpha,

and ``q_k = max(alpha, s_k / lam)``. A primal-dual active set over the classes decides which
floors hold with equality; for each such set the dual (those ``z`` free in sign, the others
0) is solved by the paper solver's Newton method with a dense (C + 2) system (the ``z`` block
eliminated exactly, see :func:`_floor_newton_step`).

Near t* the floored QP is almost an LP vertex (about as many rows above alpha as classes on
their floor), which that Newton method finds only in hundreds of short steps from the paper's
solution. :func:`floor_warm_start` finds the structure first, by column generation over the
rows with an interior point on the restricted problem, starting from the rows the LP prices
best (:func:`warm_start_groups`); the Newton method started there finishes in a few steps,
exactly.
"""

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .dual_newton import (
    ActiveGram,
    _dual_value,
    _exact_step,
    image_gradient,
    solve_dual_newton,
)


@dataclass
class WorstClassLP:
    """``t* = max_p min_l f_l`` subject to ``p >= alpha``, ``sum p = 1``, exact over all
    groups, with what stage 2 starts from."""

    t_star: float  # the largest achievable minimum class frequency
    support: np.ndarray  # groups the LP solution lifts above alpha (at most C + 1)
    gain: np.ndarray  # each group's reduced gain U_k y - price at the optimum (<= 0)


def _lp_columns(rows: sp.csr_matrix, groups: np.ndarray, num_classes: int):
    """HiGHS column data of groups ``w_k``: minus its row of ``E`` (1 per class for presence, the
    weights for instance counts) in the class rows, +1 in the budget row."""
    sub = rows[groups]
    lengths = np.diff(sub.indptr) + 1
    ends = np.cumsum(lengths)
    index = np.empty(ends[-1], dtype=np.int32)
    value = np.ones(ends[-1])
    is_budget = np.zeros(ends[-1], dtype=bool)
    is_budget[ends - 1] = True
    index[~is_budget], value[~is_budget] = sub.indices, -sub.data
    index[is_budget] = num_classes
    return (ends - lengths).astype(np.int32), index, value


def lp_start_groups(rows: sp.csr_matrix, counts: np.ndarray, per_class: int) -> np.ndarray:
    """The worst-class LP's first columns: each class's group with the fewest labels (it lifts
    that class most purely, so the first LP is feasible for every class) and the
    ``per_class * (C + 1)`` groups with the largest ``sum_l n_l^(-1/2)`` over their classes
    (``n_l``: images of class l), i.e. the groups that hold rare classes. At 1.7M x 600 they
    hold 89% of the optimum's support (``n^-1``: 60%, ``mean - n``: 32%), so pricing adds few
    groups afterwards."""
    num_groups, num_classes = rows.shape
    labels_per_row = np.diff(rows.indptr).astype(np.int64)
    row_of_entry = np.repeat(np.arange(num_groups, dtype=np.int64), labels_per_row)
    fewest = np.full(num_classes, np.iinfo(np.int64).max)
    np.minimum.at(fewest, rows.indices, labels_per_row[row_of_entry] * num_groups + row_of_entry)
    purest = fewest % num_groups
    size = per_class * (num_classes + 1)
    if size >= num_groups:
        return np.arange(num_groups, dtype=np.int64)
    images = np.asarray(rows.astype(bool).T @ counts).ravel()
    score = np.asarray(rows.astype(bool) @ (1.0 / np.sqrt(np.maximum(images, 1.0)))).ravel()
    return np.union1d(purest, np.argpartition(-score, size)[:size])


def worst_class_lp(
    rows: sp.csr_matrix,
    counts: np.ndarray,
    alpha_factor: float,
    max_rounds: int = 100,
    per_round: int = 300,
    start_per_class: int = 12,
) -> WorstClassLP:
    """The worst-class LP by column generation over the groups: the first LP over
    :func:`lp_start_groups` by HiGHS's interior point (with crossover, which leaves a basis),
    then each round's LP warm-started from the last basis (primal simplex: added columns keep
    the basis primal feasible), ``per_round`` groups with the best reduced gain entering per
    round. 1.7M x 600: 0.45 s (the primal simplex from one group per class took 0.9-1.2 s in
    13 rounds; 1,200 per round from scratch with SciPy's dual simplex: 2.3 s)."""
    import highspy

    try:  # highspy.Highs adds only callbacks and a banner printed to stdout on creation
        from highspy._core import _Highs
    except ImportError:
        _Highs = highspy.Highs
    rows = sp.csr_matrix(rows)
    num_groups, num_classes = rows.shape
    counts = counts.astype(np.float64)
    num_images = counts.sum()
    alpha = alpha_factor / num_images
    budget = 1.0 - alpha * num_images
    base = alpha * np.asarray(rows.T @ counts).ravel()  # every image at the floor
    if budget <= 1e-15:
        empty = np.zeros(0, dtype=np.int64)
        return WorstClassLP(float(base.min()), empty, np.zeros(num_groups))
    chosen = lp_start_groups(rows, counts, start_per_class)
    in_model = np.zeros(num_groups, dtype=bool)
    in_model[chosen] = True
    # rows: t - (U_S^T w)_l <= base_l for each class, sum w = budget; columns: t, then w_S.
    lp = _Highs()
    lp.setOptionValue("output_flag", False)
    lp.setOptionValue("threads", 1)  # no pool thread: a fork (DataLoader, DDP) would inherit it
    lp.setOptionValue("presolve", "off")
    lp.setOptionValue("solver", "ipm")  # the first, largest LP: interior point + crossover
    lp.setOptionValue("simplex_strategy", 4)  # later rounds: primal, from the last basis
    lp.setOptionValue("ipm_optimality_tolerance", 1e-6)  # crossover makes the vertex exact
    inf = highspy.kHighsInf
    no_entries = np.zeros(0, dtype=np.int32)
    lp.addRows(
        num_classes + 1,
        np.append(np.full(num_classes, -inf), budget),
        np.append(base, budget),
        0,
        no_entries,
        no_entries,
        np.zeros(0),
    )
    lp.addCols(
        1,
        np.array([-1.0]),
        np.array([-inf]),
        np.array([inf]),
        num_classes,
        np.zeros(1, dtype=np.int32),
        np.arange(num_classes, dtype=np.int32),
        np.ones(num_classes),
    )

    def add(groups):
        starts, index, value = _lp_columns(rows, groups, num_classes)
        size = len(groups)
        lp.addCols(
            size,
            np.zeros(size),
            np.zeros(size),
            np.full(size, inf),
            len(index),
            starts,
            index,
            value,
        )

    add(chosen)
    chosen = list(chosen)
    for _ in range(max_rounds):
        lp.run()
        lp.setOptionValue("solver", "simplex")
        if lp.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(
                f"the worst-class LP failed: {lp.modelStatusToString(lp.getModelStatus())}"
            )
        solution = lp.getSolution()
        row_dual = np.asarray(solution.row_dual)
        class_duals = -row_dual[:num_classes]  # >= 0, sum 1
        price = -row_dual[num_classes]  # value of one unit of budget
        gain = np.asarray(rows @ class_duals).ravel() - price  # > 0: the group would improve t
        improving = np.flatnonzero((gain > 1e-12 * max(1.0, abs(price))) & ~in_model)
        if improving.size == 0:
            x = np.asarray(solution.col_value)
            columns = np.asarray(chosen, dtype=np.int64)
            return WorstClassLP(float(x[0]), np.sort(columns[x[1:] > 0]), gain)
        best = improving[np.argsort(-gain[improving])[:per_round]]
        add(best)
        in_model[best] = True
        chosen.extend(best)
    raise RuntimeError(
        f"the worst-class LP did not converge in {max_rounds} rounds of column "
        "generation; use objective='paper' or report the dataset"
    )


@dataclass
class FloorNewtonResult:
    q: np.ndarray  # probability of each unique row
    v: np.ndarray  # balance multipliers (sum zero)
    z: np.ndarray  # floor multipliers (>= 0)
    nu: float
    iterations: int
    dual_residual: float
    converged: bool


def _floor_dual(rows, counts, v, floor_classes, z, nu, lam, alpha, tau, held):
    """``s``, ``q`` and the dual value at ``(v, z on floor_classes, nu)``. ``held``: the
    :class:`_HeldRows` outside ``rows``, at the floor (their terms are linear)."""
    w = v.copy()
    w[floor_classes] += z
    s = rows @ w + nu
    value = _dual_value(s, v, nu, counts, lam, alpha, len(v)) + tau * z.sum() + held.value(w, nu)
    return s, np.maximum(alpha, s / lam), value


@dataclass
class _HeldRows:
    """Rows held at the floor outside the working rows: their dual terms
    ``m (lam alpha^2 / 2 - s alpha)`` are linear in ``(w, nu)``, summed exactly through their
    class mass ``U_held^T m_held`` and image count."""

    mass: np.ndarray
    count: float
    lam: float
    alpha: float

    def value(self, w, nu):
        a = self.alpha
        return self.count * self.lam * a * a / 2.0 - a * (self.mass @ w + self.count * nu)

    def slope(self, d_w, d_nu):
        return -self.alpha * (self.mass @ d_w + self.count * d_nu)


def _floor_newton_step(gram, column, weight_sum, floor_classes, grad_v, grad_z, grad_nu):
    """The Newton step in ``(v, z, nu)`` (with ``sum v`` kept at 0) from a (C + 2) system.

    In ``w = v + z`` (z on the held classes) the dual's Hessian has the rows' part ``gram`` in
    ``w`` only and a diagonal ``z`` block, which eliminates exactly: the held classes' rows
    become ``(gram dw)_l + column_l dnu = grad_z_l``, the others keep ``dw_l / (2C)``, and the
    multiplier ``mu`` of ``sum dv = 0`` gives ``dv_l = -2C (grad_z_l - grad_v_l + mu)`` on the
    held classes. Half the size of the (C + |held| + 2) system, an eighth of its work."""
    num_classes = len(grad_v)
    free = np.ones(num_classes)
    free[floor_classes] = 0.0
    n = num_classes + 2  # (dw, dnu, mu)
    kkt = np.zeros((n, n))
    kkt[:num_classes, :num_classes] = gram + np.diag(free / (2.0 * num_classes))
    kkt[:num_classes, num_classes] = kkt[num_classes, :num_classes] = column
    kkt[num_classes, num_classes] = weight_sum
    kkt[: n - 1, : n - 1] += np.eye(n - 1) * 1e-15 * (1.0 + np.abs(kkt[: n - 1, : n - 1]).max())
    kkt[:num_classes, n - 1] = kkt[n - 1, :num_classes] = free
    kkt[n - 1, n - 1] = -2.0 * num_classes * len(floor_classes)
    rhs = np.concatenate(
        [free * grad_v, [grad_nu, 2.0 * num_classes * (grad_z - grad_v[floor_classes]).sum()]]
    )
    rhs[floor_classes] = grad_z
    # symmetric indefinite: LAPACK's Bunch-Kaufman LDL^T, half the work of LU (5 vs 10 ms at C=600)
    _, _, step, info = scipy.linalg.lapack.dsysv(kkt, rhs)
    if info != 0:  # singular
        step = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    d_w, d_nu, mu = step[:num_classes], step[num_classes], step[n - 1]
    d_v = d_w.copy()
    d_v[floor_classes] = -2.0 * num_classes * (grad_z - grad_v[floor_classes] + mu)
    return d_v, d_w[floor_classes] - d_v[floor_classes], d_nu


#: A Newton step that shrinks an already acceptable gradient (<= ACCEPTABLE_RESIDUAL x tol) by
#: less than this factor is in the rounding regime: more steps only reshuffle the rounding.
STAGNATION_FACTOR = 0.1
ACCEPTABLE_RESIDUAL = 1e3


def _rounding_bound(residual, previous, tol):
    """Whether the last step left a gradient residual that floating point no longer lets
    Newton shrink: within the accepted level and not reduced tenfold. Near the solution
    Newton's steps shrink it quadratically; at 1.7M x 600 with lam = 500 the gradient summed
    over 815k rows stalls near 1e-12 and further steps raised the KKT residual from 9e-11 to
    7e-10 while taking 0.2 s."""
    return residual <= ACCEPTABLE_RESIDUAL * tol and residual > STAGNATION_FACTOR * previous


def _newton_with_floor_set(
    rows, rows_t, counts, alpha, lam, tau, floor_classes, v, z, nu, tol, max_iter, held
):
    """Semismooth Newton on the dual with ``f_l = tau`` imposed on ``floor_classes`` (their
    multipliers ``z`` free in sign): the paper solver's method (Armijo full step, else the exact
    maximiser along the step) with |floor_classes| more variables. ``held``: the rows outside
    ``rows`` (:class:`_HeldRows`)."""
    num_classes = rows.shape[1]
    hessian_pieces = ActiveGram(rows, rows_t, counts, lam, alpha)
    s, q, value = _floor_dual(rows, counts, v, floor_classes, z, nu, lam, alpha, tau, held)

    def gradient(q, v):
        mass = rows_t @ (counts * q) + alpha * held.mass
        grad_v = -v / (2.0 * num_classes) - mass
        grad_v -= grad_v.mean()
        grad_z = tau - mass[floor_classes]
        grad_nu = 1.0 - counts @ q - alpha * held.count
        return (
            grad_v,
            grad_z,
            grad_nu,
            max(np.abs(grad_v).max(), np.abs(grad_z).max(initial=0.0), abs(grad_nu)),
        )

    residual, iteration, previous = np.inf, 0, None
    for iteration in range(1, max_iter + 1):
        grad_v, grad_z, grad_nu, residual = gradient(q, v)
        if residual <= tol:
            return v, z, nu, s, q, iteration - 1, residual
        if previous is not None and _rounding_bound(residual, previous[-1], tol):
            if previous[-1] < residual:
                return (*previous[:-1], iteration - 2, previous[-1])
            return v, z, nu, s, q, iteration - 1, residual
        previous = (v, z, nu, s, q, residual)
        gram, column, weight_sum = hessian_pieces(s)
        d_v, d_z, d_nu = _floor_newton_step(
            gram, column, weight_sum, floor_classes, grad_v, grad_z, grad_nu
        )
        slope = grad_v @ d_v + grad_z @ d_z + grad_nu * d_nu
        t = 1.0
        s_new, q_new, value_new = _floor_dual(
            rows, counts, v + d_v, floor_classes, z + d_z, nu + d_nu, lam, alpha, tau, held
        )
        if value_new < value + 1e-4 * slope:
            d_w = d_v.copy()
            d_w[floor_classes] += d_z
            t = _exact_step(
                s,
                rows @ d_w + d_nu,
                v,
                d_v,
                d_nu + tau * d_z.sum(),
                counts,
                lam,
                alpha,
                num_classes,
                held.slope(d_w, d_nu),
            )
            s_new, q_new, value_new = _floor_dual(
                rows,
                counts,
                v + t * d_v,
                floor_classes,
                z + t * d_z,
                nu + t * d_nu,
                lam,
                alpha,
                tau,
                held,
            )
        if value_new <= value and gradient(q_new, v + t * d_v)[3] >= residual:
            return v, z, nu, s, q, iteration, residual  # no more progress in floating point
        # (a step that leaves the flat dual value unchanged in floating point but shrinks the
        # gradient is progress too: from a warm start near the optimum that is the usual case)
        v, z, nu, s, q, value = v + t * d_v, z + t * d_z, nu + t * d_nu, s_new, q_new, value_new
    return v, z, nu, s, q, max_iter, residual


def _floor_rounds(
    rows, counts, alpha, lam, tau, v, z, nu, floor_classes, tol, max_iter, max_rounds, held
):
    """The active set over the classes (see :func:`solve_floor_newton`) on ``rows``, the rows
    outside held at the floor. Returns ``(v, z, nu, floor_classes, q, steps, residual)``."""
    rows_t = rows.T  # a CSC view: its products need no transposed copy of the rows
    total, residual = 0, np.inf
    q = None
    for _ in range(max_rounds):
        if len(floor_classes) == 0:
            break
        v, z, nu, s, q, iterations, residual = _newton_with_floor_set(
            rows, rows_t, counts, alpha, lam, tau, floor_classes, v, z, nu, tol, max_iter, held
        )
        total += iterations
        mass = rows_t @ (counts * q) + alpha * held.mass
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
    return v, z, nu, floor_classes, q, total, residual


def solve_floor_newton(
    rows: sp.csr_matrix,
    counts: np.ndarray,
    alpha: float,
    lam: float,
    tau: float,
    tol: float = 1e-13,
    max_iter: int = 300,
    max_rounds: int = 60,
    warm=None,
) -> FloorNewtonResult:
    """The grouped paper QP with ``f_l >= tau`` for every class; ``lam > 0``.

    Active set over the classes: starting from the paper's solution, the classes below ``tau``
    are held at ``tau`` (their multiplier free in sign), the dual is solved by Newton, classes
    whose multiplier turns negative are released and classes that fell below ``tau`` are
    added, until the set no longer changes: then ``z >= 0``, every ``f_l >= tau`` and the
    Newton system's stationarity is that of the inequality-constrained problem. ``warm``:
    ``(v, z, nu, floor_classes[, working rows])`` to start from instead (see
    :func:`floor_warm_start`); with working rows, the Newton runs over them first (the others
    held at the floor) and the last run over every row certifies the answer.
    """
    rows = sp.csr_matrix(rows)
    num_classes = rows.shape[1]
    counts = counts.astype(np.float64)
    none_held = _HeldRows(np.zeros(num_classes), 0.0, lam, alpha)
    working = None
    if warm is None:
        paper = solve_dual_newton(rows, counts, alpha, lam)
        v, nu = paper.y.copy(), float(paper.nu)
        mass = rows.T @ (counts * paper.q)
        floor_classes = np.flatnonzero(mass < tau)
        z = np.zeros(len(floor_classes))
        total, residual, q = paper.iterations, paper.dual_residual, paper.q
    else:
        v, z_all, nu, floor_classes = warm[:4]
        working = warm[4] if len(warm) > 4 else None
        v, nu, floor_classes = v - v.mean(), float(nu), np.asarray(floor_classes)
        z = z_all[floor_classes].copy()  # free in sign inside the set, as in the rounds below
        total, residual, q = 0, np.inf, None
    args = (tol, max_iter, max_rounds)
    if working is not None:
        # Newton over the working rows (the rest held at the floor) while the rows outside
        # that its solution lifts join, as in solve_dual_newton; the run below certifies.
        floor_mass = rows.T @ counts
        working = np.sort(np.asarray(working, dtype=np.int64))
        while True:
            held = _HeldRows(
                floor_mass - rows[working].T @ counts[working],
                counts.sum() - counts[working].sum(),
                lam,
                alpha,
            )
            v, z, nu, floor_classes, _, steps, residual = _floor_rounds(
                rows[working],
                counts[working],
                alpha,
                lam,
                tau,
                v,
                z,
                nu,
                floor_classes,
                *args,
                held,
            )
            total += steps
            w = v.copy()
            w[floor_classes] += z
            s = rows @ w + nu
            s[working] = -np.inf
            outside = np.flatnonzero(s > lam * alpha)
            if len(outside) == 0:
                break
            if len(outside) > len(working):
                outside = outside[np.argpartition(-s[outside], len(working))[: len(working)]]
            working = np.union1d(working, outside)
    v, z, nu, floor_classes, q_last, steps, last = _floor_rounds(
        rows, counts, alpha, lam, tau, v, z, nu, floor_classes, *args, none_held
    )
    total += steps
    if q_last is not None:
        q, residual = q_last, last
    elif q is None:  # no class held: the multipliers give q directly
        q = np.maximum(alpha, (rows @ v + nu) / lam)
    z_all = np.zeros(num_classes)
    z_all[floor_classes] = z
    converged = residual <= ACCEPTABLE_RESIDUAL * tol and z_all.min(initial=0.0) >= 0
    return FloorNewtonResult(q, v, z_all, nu, total, residual, converged)


#: Clarabel's static KKT regularisation for the restricted solve (its default: 1e-8).
STATIC_REGULARIZATION = 1e-10


def restricted_floor_qp(
    rows, counts, working, alpha: float, lam: float, tau: float, tol: float = 1e-10
):
    """The floored QP with only the ``working`` groups free (the others at alpha), by Clarabel
    in a sparse form: variables ``(x = N q_S, f, d, mean)`` with ``f = f_fixed + A x``,
    ``d = f - mean``, objective ``C ||d||^2 + lam/2 sum m q^2`` (= the paper's).

    Returns ``(q, free groups, held classes)``. The interior point is accurate to ~1e-9; the
    structure is read by complementarity (a bound holds where its multiplier exceeds its
    slack), not by a threshold on ``q``: near t* many groups sit within 1e-6 of alpha without
    being on it, and a misread structure makes the multiplier fit and the pricing wrong
    (1.7M x 600: 5,196 groups priced in instead of the 2 that belong)."""
    import clarabel

    num_groups, num_classes = rows.shape
    num_images = counts.sum()
    fixed = np.ones(num_groups, dtype=bool)
    fixed[working] = False
    f_fixed = np.asarray(rows.T @ (counts * fixed * alpha)).ravel()  # no copy of the rows
    lift = (rows[working].T @ sp.diags(counts[working] / num_images)).tocsc()
    size, c = len(working), num_classes
    zeros = lambda r, k: sp.csr_matrix((r, k))  # noqa: E731
    eye, ones = sp.eye(c), np.ones((c, 1))
    hessian = sp.diags(
        np.concatenate(
            [lam * counts[working] / num_images**2, np.zeros(c), np.full(c, 2.0 * c), [0.0]]
        )
    ).tocsc()
    equalities = sp.vstack(
        [
            sp.hstack([lift, -eye, zeros(c, c), zeros(c, 1)]),  # f = f_fixed + A x
            sp.hstack([zeros(1, size), sp.csr_matrix(ones.T / c), zeros(1, c), -sp.eye(1)]),
            sp.hstack([zeros(c, size), eye, -eye, sp.csr_matrix(-ones)]),  # d = f - mean
            sp.hstack([sp.csr_matrix(counts[working][None, :] / num_images), zeros(1, 2 * c + 1)]),
        ]
    )
    bounds = sp.vstack(
        [
            sp.hstack([-sp.eye(size), zeros(size, 2 * c + 1)]),  # x >= N alpha
            sp.hstack([zeros(c, size), -eye, zeros(c, c + 1)]),
        ]
    )  # f >= tau
    rhs = np.concatenate(
        [
            -f_fixed,
            [0.0],
            np.zeros(c),
            [1.0 - alpha * counts[fixed].sum()],
            np.full(size, -alpha * num_images),
            np.full(c, -tau),
        ]
    )
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tol
    # QDLDL, single-threaded: 15% faster here than the default faer with its thread pool
    # (1.7M x 600, lam = 500: 0.80 s vs 0.95 s for the same 54 iterations)
    settings.direct_solve_method = "qdldl"
    settings.max_threads = 1
    # The x block's curvature lam m / N^2 is ~1e-10 at lam = 500, N = 1.7M; the default static
    # regularisation (1e-8) swamps it and costs 54 iterations instead of 33.
    settings.static_regularization_constant = STATIC_REGULARIZATION
    solution = clarabel.DefaultSolver(
        hessian,
        np.zeros(size + 2 * c + 1),
        sp.vstack([equalities, bounds]).tocsc(),
        rhs,
        [clarabel.ZeroConeT(2 * c + 2), clarabel.NonnegativeConeT(size + c)],
        settings,
    ).solve()
    if str(solution.status) not in ("Solved", "AlmostSolved"):
        raise RuntimeError(f"restricted floored QP: {solution.status}")
    q = np.full(num_groups, alpha)
    q[working] = np.asarray(solution.x)[:size] / num_images
    slack, dual = np.asarray(solution.s)[2 * c + 2 :], np.asarray(solution.z)[2 * c + 2 :]
    free = np.asarray(working)[slack[:size] > dual[:size]]
    held = np.flatnonzero(dual[size:] > slack[size:])
    return q, free, held


def floor_warm_start(
    rows,
    counts,
    alpha: float,
    lam: float,
    tau: float,
    start,
    batch: int = 2000,
    max_rounds: int = 15,
    ipm_tol: float = 1e-10,
):
    """A start for :func:`solve_floor_newton` at the optimum's structure, by column generation
    over the groups: the floored QP restricted to a working set (``start``; it must contain
    the LP's support, which makes the restriction feasible) by an interior point, and the
    groups outside whose reduced gradient ``g - nu - U z`` is negative (they would rise above
    alpha) added, until none is.

    Near t* only about as many groups are free as classes are held (a near-LP vertex), which
    the dual Newton alone finds slowly (hundreds of short steps), and even a few groups
    missing from its start cost it tens of steps. Only the start depends on this: the Newton
    finish is exact from any start, so ``max_rounds`` bounds the time spent here. The fit
    needs an accurate restricted solve: with ``ipm_tol=1e-8`` the stationarity misfit of the
    fitted multipliers is 60-900 times larger (1.7M x 600) and the finish takes 3 times as
    many steps.
    Returns ``(v, z, nu, held classes, working rows)``: the multipliers fitted to the last
    restricted solution, and the rows it was solved over (the Newton finish starts on them)."""
    counts = counts.astype(np.float64)
    working = np.unique(np.asarray(start, dtype=np.int64))
    outside = np.ones(len(counts), dtype=bool)
    for _ in range(max_rounds):
        q, free, held = restricted_floor_qp(rows, counts, working, alpha, lam, tau, ipm_tol)
        v, z, nu = fit_floor_multipliers(rows, counts, q, lam, free, held)
        reduced = image_gradient(rows, counts, q, lam) - nu - np.asarray(rows @ z).ravel()
        outside[:] = True
        outside[working] = False
        entering = np.flatnonzero(outside & (reduced < -1e-7 * (1.0 + abs(nu))))
        if entering.size == 0:
            break
        order = np.argsort(reduced[entering], kind="stable")
        working = np.union1d(working, entering[order[:batch]])
    return v, z, nu, held, working


def fit_floor_multipliers(rows, counts, q, lam: float, free, held):
    """Multipliers consistent with a near-optimal ``q`` whose ``free`` groups (above alpha)
    and ``held`` classes (on the floor) are known: ``v = -2C (f - mean f)`` (the balance
    term's), then ``(z, nu)`` by least squares on the stationarity ``lam q_k = (U (v + z))_k +
    nu`` of the free groups. The dual Newton started there sees the groups above alpha exactly
    where ``q`` has them (the interior point's own duals reproduce them only to its ~1e-9, and
    near t* many groups sit that close to the floor). Returns ``(v, z, nu)``."""
    num_classes = rows.shape[1]
    f = np.asarray(rows.T @ (counts * q)).ravel()
    v = -2.0 * num_classes * (f - f.mean())
    design = sp.hstack([rows[free][:, held], sp.csr_matrix(np.ones((len(free), 1)))]).toarray()
    # minimum-norm least squares by complete orthogonal factorisation (gelsy): 16 ms vs 56 ms
    # for NumPy's SVD-based solver at 543 x 543
    fitted = scipy.linalg.lstsq(
        design, lam * q[free] - rows[free] @ v, lapack_driver="gelsy", check_finite=False
    )[0]
    z = np.zeros(num_classes)
    z[held] = fitted[:-1]
    return v, z, float(fitted[-1])


def maxmin_kkt_residual(
    rows, counts, q, alpha: float, lam: float, tau: float, nu: float, z: np.ndarray
) -> float:
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
    parts = [
        np.abs(reduced[free]).max(initial=0.0),
        max(0.0, -reduced[~free].min(initial=0.0)),
        max(0.0, -z.min(initial=0.0)),
        np.abs(z * (f - tau)).max(initial=0.0),
        num_images * max(0.0, alpha - q.min()),
        abs(counts @ q - 1.0),
        max(0.0, tau - f.min()),
    ]
    return float(max(parts))


def solve_floor_quadprog(
    rows, counts, alpha_factor: float, lam: float, min_frequency: float
) -> np.ndarray:
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
    hessian = 2.0 * mass.T @ balance @ mass + np.diag(lam * counts / num_images**2)
    constraints = np.vstack([counts[None, :] / num_images, np.eye(num_groups), mass]).T
    bounds = np.concatenate(
        [[1.0], np.full(num_groups, alpha_factor), np.full(num_classes, min_frequency)]
    )
    x = quadprog.solve_qp(hessian, np.zeros(num_groups), constraints, bounds, meq=1)[0]
    return x / num_images


#: How far above ``(1 - eps) t*`` the class floor is imposed (absolute frequency).
FLOOR_MARGIN = 1e-11


#: Size of the first working set of stage 2, in multiples of C + 1 (the LP support's bound).
START_GROUPS_PER_CLASS = 4


def warm_start_groups(
    lp: WorstClassLP, num_classes: int, per_class: int = START_GROUPS_PER_CLASS
) -> np.ndarray:
    """Stage 2's first working set: the groups with the best LP reduced gain (the support,
    gain 0, first). Near t* the floored QP's free groups are almost all among them (1.7M x
    600: all 544 among the 2,404 best; the LP's own 3,058 columns miss 13), so one restricted
    solve usually finds the structure."""
    size = per_class * (num_classes + 1)
    if size >= len(lp.gain):
        return np.arange(len(lp.gain), dtype=np.int64)
    best = np.argpartition(-lp.gain, size)[:size]  # the set is what counts, not its order
    return np.union1d(lp.support, best)


def solve_maxmin(rows, counts, alpha_factor: float, lam: float, eps: float = 1e-3):
    """Stage 1 + stage 2; returns ``(FloorNewtonResult, t*, tau)``, tau the imposed floor."""
    lp = worst_class_lp(rows, counts, alpha_factor)
    t_star = lp.t_star
    # Imposed a hair above (1 - eps) t* (within the slack) so that the answer, exact to the
    # solver's ~1e-13, still satisfies f_l >= (1 - eps) t* itself.
    tau = (1.0 - eps) * t_star + min(0.5 * eps * t_star, FLOOR_MARGIN)
    alpha = alpha_factor / counts.sum()
    warm = None
    if lp.support.size:  # else every image sits at alpha (alpha_factor = 1): nothing to lift
        start = warm_start_groups(lp, rows.shape[1])
        try:
            warm = floor_warm_start(rows, counts, alpha, lam, tau, start)
        except (RuntimeError, np.linalg.LinAlgError):
            warm = None  # the cold start below is exact too, only slower
    result = solve_floor_newton(rows, counts, alpha, lam, tau, warm=warm)
    if warm is not None and not result.converged:
        result = solve_floor_newton(rows, counts, alpha, lam, tau)
    return result, t_star, tau
