"""Structured solver: semismooth Newton on the (C+1)-variable dual of the balanced QP.

Grouped primal (K unique label rows ``U``, multiplicities ``m``, one probability ``q_k`` per row):

    min  f^T M f + lam/2 sum_k m_k q_k^2,   f = U^T (m * q),   M = C I - 1 1^T
    s.t. q_k >= alpha,  sum_k m_k q_k = 1

``f^T M f`` equals the paper's ``1/2 sum_{l,k} (f_l - f_k)^2``. ``M`` has rank C - 1, so the
Lagrange dual has one variable per class (``y``, constrained to ``sum(y) = 0``) and one for
``sum p = 1`` (``nu``); the primal is recovered as ``q_k = max(alpha, (U y + nu)_k / lam)``.
The dual is concave and piecewise quadratic: Newton steps with the generalised Hessian of the
active rows (a dense (C+1)x(C+1) system) and an exact line search where the full step fails
converge in a handful of iterations to machine precision. Most rows end at the floor, so the
Newton runs first over working rows (the rest held at the floor, whose terms are linear in
``(y, nu)`` and kept exactly through ``U^T m``), grown by the rows its solution lifts, and a
last run over every row certifies the answer (:func:`solve_dual_newton`).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class NewtonResult:
    q: np.ndarray  # probability of each unique row
    y: np.ndarray  # class multipliers (sum zero)
    nu: float  # multiplier of sum p = 1
    iterations: int
    dual_residual: float  # max |gradient of the dual| at the end
    converged: bool
    rounds: int = 0  # working-row rounds before the final Newton on every row


def _dual_value(s, y, nu, counts, lam, alpha, num_classes):
    active = s >= lam * alpha
    phi = np.where(active, -s * s / (2.0 * lam), lam * alpha * alpha / 2.0 - s * alpha)
    return -(y @ y) / (4.0 * num_classes) + counts @ phi + nu


def _gram_over(rows, rows_t, counts, picked, lam):
    """``(U^T W U, U^T W 1, sum W)`` over the rows ``picked`` (indices, or None for all),
    ``W = diag(m / lam)``."""
    num_classes = rows.shape[1]
    if picked is not None and len(picked) == 0:
        return np.zeros((num_classes, num_classes)), np.zeros(num_classes), 0.0
    if picked is None:
        weight = counts / lam
        weighted = sp.diags(weight) @ rows
        return (rows_t @ weighted).toarray(), weighted.sum(axis=0).A1, weight.sum()
    sub = rows[picked]
    weight = counts[picked] / lam
    weighted = sp.diags(weight) @ sub
    return (sub.T.tocsr() @ weighted).toarray(), weighted.sum(axis=0).A1, weight.sum()


def active_gram(rows, rows_t, counts, s, lam, alpha):
    """The generalised Hessian's pieces over the rows above the floor (``s > lam alpha``):
    ``(U^T W U, U^T W 1, sum W)`` with ``W = diag(m / lam)`` on those rows. Near the optimum
    few rows are above the floor (34k of 815k at 1.7M x 600), so when fewer than half are, the
    product runs over those rows only (same sums, same order of terms per entry)."""
    above = s > lam * alpha
    if 2 * np.count_nonzero(above) < len(s):
        return _gram_over(rows, rows_t, counts, np.flatnonzero(above), lam)
    weight = counts * above / lam
    weighted = sp.diags(weight) @ rows
    return (rows_t @ weighted).toarray(), weighted.sum(axis=0).A1, weight.sum()


class ActiveGram:
    """:func:`active_gram` across Newton iterations: the weights ``m / lam`` do not change,
    only which rows are above the floor, so once the active set settles the pieces are
    updated by the rows that entered and left (a few hundred) instead of rebuilt over all
    active rows (tens of thousands). Rebuilt whenever that is cheaper, and every
    ``rebuild_every`` updates so rounding cannot accumulate."""

    def __init__(self, rows, rows_t, counts, lam, alpha, rebuild_every: int = 8):
        self.rows, self.rows_t, self.counts = rows, rows_t, counts
        self.lam, self.alpha, self.rebuild_every = lam, alpha, rebuild_every
        self.above = None
        self.pieces = None
        self.updates = 0

    def __call__(self, s):
        above = s > self.lam * self.alpha
        if self.above is not None and self.updates < self.rebuild_every:
            changed = np.flatnonzero(above != self.above)
            if len(changed) < np.count_nonzero(above):
                entered = changed[above[changed]]
                left = changed[~above[changed]]
                plus = _gram_over(self.rows, self.rows_t, self.counts, entered, self.lam)
                minus = _gram_over(self.rows, self.rows_t, self.counts, left, self.lam)
                self.pieces = tuple(a + b - c for a, b, c in zip(self.pieces, plus, minus))
                self.above, self.updates = above, self.updates + 1
                return self.pieces
        self.pieces = active_gram(self.rows, self.rows_t, self.counts, s, self.lam, self.alpha)
        self.above, self.updates = above, 0
        return self.pieces


def image_gradient(rows, counts, q, lam):
    """Gradient of the paper's objective with respect to one image's probability, per group:
    ``2 U (C f - sum f) + lam q`` with ``f = U^T (m q)``."""
    f = rows.T @ (counts * q)
    return 2.0 * np.asarray(rows @ (rows.shape[1] * f - f.sum())).ravel() + lam * q


def _exact_step(s, ds, y, d_y, d_nu, counts, lam, alpha, num_classes, held_slope=0.0):
    """Maximiser over t >= 0 of the dual along (d_y, d_nu): root of its decreasing derivative
    ``D'(t) = a + b t``, whose coefficients change where a row enters or leaves the active set.
    Only the (few) active rows and the rows that cross are gathered: O(K) work is one pass.
    ``held_slope``: the derivative's part from rows held at the floor outside ``s`` (working
    rows), ``-alpha (U_held^T m_held . d_y + N_held d_nu)``."""
    floor = lam * alpha
    active = s > floor
    on = np.flatnonzero(active)
    mass_ds = counts * ds
    a = (
        -(y @ d_y) / (2.0 * num_classes)
        + d_nu
        - alpha * mass_ds.sum()
        - (s[on] / lam - alpha) @ mass_ds[on]
        + held_slope
    )
    b = -(d_y @ d_y) / (2.0 * num_classes) - (mass_ds[on] @ ds[on]) / lam
    crossing = np.flatnonzero(np.where(active, ds < 0, ds > 0))  # moving towards the kink
    breaks = (floor - s[crossing]) / ds[crossing]
    crossing, breaks = crossing[breaks > 0], breaks[breaks > 0]
    # The root usually lies near t = 1, before most breaks: sort only the breaks up to a limit
    # (exact, as their sorted order is a prefix of the full one) and widen it if the root may
    # lie beyond (at the final Newton over every row, hundreds of thousands of rows cross).
    limit = 2.0
    while True:
        near = np.flatnonzero(breaks <= limit) if np.isfinite(limit) else np.arange(len(breaks))
        order = near[np.argsort(breaks[near])]
        t_break, picked = breaks[order], crossing[order]
        m, s_c, ds_c = counts[picked], s[picked], ds[picked]
        sign = np.where(ds_c > 0, 1.0, -1.0)  # +1: enters the active set
        delta_a = sign * (m * alpha * ds_c - m * s_c * ds_c / lam)
        delta_b = -sign * m * ds_c**2 / lam
        a_before = a + np.concatenate([[0.0], np.cumsum(delta_a)])
        b_before = b + np.concatenate([[0.0], np.cumsum(delta_b)])
        slope_at_break = a_before[:-1] + b_before[:-1] * t_break
        ends = np.flatnonzero(slope_at_break <= 0)
        j = ends[0] if ends.size else len(t_break)
        if ends.size or len(near) == len(breaks):
            if b_before[j] >= 0:
                return t_break[j - 1] if j > 0 else 0.0
            return max(0.0, -a_before[j] / b_before[j])
        if b_before[j] < 0 and -a_before[j] / b_before[j] <= limit:
            return max(0.0, -a_before[j] / b_before[j])  # before every break beyond the limit
        limit = limit * 16.0 if limit < 1e6 else np.inf


class _DualPoint:
    """The dual at ``(y, nu)``, touching the K rows once (``s = U y + nu``): the rest runs over
    the rows above the floor (``on``; few near the optimum) and over the classes, because the
    rows at the floor contribute terms linear in ``(y, nu)`` through ``floor_mass = U^T m``."""

    def __init__(self, rows, counts, floor_mass, num_images, y, nu, lam, alpha):
        self.y, self.nu, self.num_images = y, nu, num_images
        self.s = rows @ y
        self.s += nu
        self.on = np.flatnonzero(self.s > lam * alpha)
        self.excess = self.s[self.on] / lam - alpha  # q - alpha on the rows above the floor
        self.mass_on = counts[self.on]
        num_classes = len(y)
        # sum_k m_k phi_k: every row's floor branch (lam a^2 / 2 - s a) summed through
        # floor_mass, plus the active rows' correction -(s - lam a)^2 / (2 lam)
        self.value = (
            -(y @ y) / (4.0 * num_classes)
            + num_images * lam * alpha * alpha / 2.0
            - alpha * (floor_mass @ y + nu * num_images)
            - lam / 2.0 * (self.mass_on @ (self.excess * self.excess))
            + nu
        )

    def gradient(self, rows, floor_mass, alpha):
        """``(grad_y, grad_nu)``, ``grad_y`` projected onto ``sum(y) = 0``."""
        lifted = self.mass_on * self.excess
        if 2 * len(self.on) < rows.shape[0]:
            f = rows[self.on].T @ lifted
        else:
            full = np.zeros(rows.shape[0])
            full[self.on] = lifted
            f = rows.T @ full
        f = alpha * floor_mass + f
        grad_y = -self.y / (2.0 * len(self.y)) - f
        grad_y -= grad_y.mean()
        return grad_y, 1.0 - alpha * self.num_images - lifted.sum()

    def q(self, num_groups, lam, alpha):
        """The primal ``q = max(alpha, s / lam)``."""
        q = np.full(num_groups, alpha)
        q[self.on] = self.s[self.on] / lam
        return q


def solve_dual_newton(
    rows: sp.csr_matrix,
    counts: np.ndarray,
    alpha: float,
    lam: float,
    y0=None,
    nu0=None,
    tol: float = 1e-14,
    max_iter: int = 200,
    screen: bool = True,
) -> NewtonResult:
    """Solve the grouped balanced QP for ``lam > 0`` by semismooth Newton on its dual.

    ``tol`` bounds the dual gradient, i.e. the error of ``f`` and of ``sum p`` (both O(1)).
    ``screen`` (default) first solves over working rows, the others held at the floor, and
    adds the rows that solution lifts above the floor until none is: at the optimum most rows
    sit at the floor (34k of 815k at 1.7M x 600, 621 with lam = 500), so the Newton steps
    and Hessians run over a few thousand rows and each round costs one product ``U y``
    over all of them. The last Newton run, over every row, certifies the result.
    """
    num_groups, num_classes = rows.shape
    counts = counts.astype(np.float64)
    num_images = counts.sum()
    y = np.zeros(num_classes) if y0 is None else np.array(y0, dtype=np.float64)
    nu = lam / num_images if nu0 is None else float(nu0)  # y = 0: the uniform vector
    floor_mass = rows.T @ counts  # U^T m: every class's images
    rounds, steps = 0, 0
    if screen and num_groups > 8 * (num_classes + 1):
        # Working rows: the others are held at the floor (their terms stay exact through
        # floor_mass); rows that the working solution lifts above the floor join, at most
        # as many as are already working, until none does.
        # First working rows: the 4 (C + 1) with the highest s at the start (from y = 0, the
        # rows whose classes are rarest: s ranks them by U (mean - U^T m)), and any lifted.
        size = 4 * (num_classes + 1)
        score = rows @ (floor_mass.mean() - floor_mass if y0 is None else y)
        working = np.argpartition(-score, size)[:size]
        if y0 is not None:
            working = np.union1d(working, np.flatnonzero(score + nu > lam * alpha))
        working = np.sort(working)
        while True:
            rounds += 1
            part = _newton(
                rows[working],
                counts[working],
                floor_mass,
                num_images,
                alpha,
                lam,
                y,
                nu,
                tol,
                max_iter,
            )
            y, nu, steps = part.y, part.nu, steps + part.iterations
            s = rows @ y
            s += nu
            s[working] = -np.inf
            outside = np.flatnonzero(s > lam * alpha)
            if len(outside) == 0:
                break
            if len(outside) > len(working):
                outside = outside[np.argpartition(-s[outside], len(working))[: len(working)]]
            working = np.union1d(working, outside)
    result = _newton(rows, counts, floor_mass, num_images, alpha, lam, y, nu, tol, max_iter)
    result.rounds, result.iterations = rounds, result.iterations + steps
    return result


def _smaller_gradient(point, residual, rows, floor_mass, alpha):
    grad_y, grad_nu = point.gradient(rows, floor_mass, alpha)
    return max(np.abs(grad_y).max(initial=0.0), abs(grad_nu)) < 0.5 * residual


def _newton(rows, counts, floor_mass, num_images, alpha, lam, y, nu, tol, max_iter):
    """Newton on the dual over ``rows`` (all rows, or working rows with the rest at the floor:
    ``floor_mass`` and ``num_images`` are always the whole problem's)."""
    num_groups, num_classes = rows.shape
    rows_t = rows.T.tocsr()
    hessian_pieces = ActiveGram(rows, rows_t, counts, lam, alpha)
    # rows held at the floor outside ``rows`` (working rows): their images and classes
    held_count = num_images - counts.sum()
    held_mass = floor_mass - rows_t @ counts if held_count > 0 else np.zeros(num_classes)

    def point(y, nu):
        return _DualPoint(rows, counts, floor_mass, num_images, y, nu, lam, alpha)

    here = point(y, nu)
    residual = np.inf
    for iteration in range(1, max_iter + 1):
        grad_y, grad_nu = here.gradient(rows, floor_mass, alpha)
        residual = max(np.abs(grad_y).max(initial=0.0), abs(grad_nu))
        if residual <= tol:
            return NewtonResult(
                here.q(num_groups, lam, alpha), y, nu, iteration - 1, residual, True
            )

        # Negated generalised Hessian (positive definite on sum(y)=0) over (y, nu).
        gram, column, weight_sum = hessian_pieces(here.s)
        hess = np.zeros((num_classes + 1, num_classes + 1))
        hess[:num_classes, :num_classes] = gram
        hess[:num_classes, :num_classes] += np.eye(num_classes) / (2.0 * num_classes)
        hess[num_classes, :num_classes] = hess[:num_classes, num_classes] = column
        hess[num_classes, num_classes] = weight_sum + 1e-15 * (1.0 + np.abs(hess).max())
        # Equality-constrained step keeping sum(y) = 0.
        kkt = np.zeros((num_classes + 2, num_classes + 2))
        kkt[:-1, :-1] = hess
        kkt[:num_classes, -1] = kkt[-1, :num_classes] = 1.0
        rhs = np.concatenate([grad_y, [grad_nu, 0.0]])
        try:
            step = np.linalg.solve(kkt, rhs)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
        d_y, d_nu = step[:num_classes], step[num_classes]
        slope = grad_y @ d_y + grad_nu * d_nu

        # Full step if it passes Armijo's test (the usual case), else the exact maximiser
        # of the dual along the step (it is piecewise quadratic: an O(K log K) search).
        trial = point(y + d_y, nu + d_nu)
        if trial.value < here.value + 1e-4 * slope:
            held_slope = -alpha * (held_mass @ d_y + held_count * d_nu)
            t = _exact_step(
                here.s,
                rows @ d_y + d_nu,
                y,
                d_y,
                d_nu,
                counts,
                lam,
                alpha,
                num_classes,
                held_slope,
            )
            trial = point(y + t * d_y, nu + t * d_nu)
        if trial.value <= here.value and not _smaller_gradient(
            trial, residual, rows, floor_mass, alpha
        ):
            # no more progress in floating point: the value's rounding (eps |value|) can hide
            # the last quadratic step, so a step that shrinks the gradient still counts
            q = here.q(num_groups, lam, alpha)
            return NewtonResult(q, y, nu, iteration, residual, residual <= 1e3 * tol)
        here, y, nu = trial, trial.y, trial.nu
    grad_y, grad_nu = here.gradient(rows, floor_mass, alpha)
    residual = max(np.abs(grad_y).max(initial=0.0), abs(grad_nu))
    q = here.q(num_groups, lam, alpha)
    return NewtonResult(q, y, nu, max_iter, residual, residual <= 1e3 * tol)
