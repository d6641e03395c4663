"""The balanced-sampling QP of Olivier & Raynaud: public API, input validation, diagnostics.

    minimize   1/2 sum_{l,k} (f_l - f_k)^2 + lam/2 ||p||^2,   f = E^T p
    subject to p_i >= alpha = alpha_factor / N,   sum_i p_i = 1

Plain numpy/scipy (and cvxopt for the reference backend): no MMDetection import here.
"""

import numbers
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .cvxopt_backend import solve_grouped_cvxopt
from .dual_newton import image_gradient, solve_dual_newton
from .grouping import LabelGroups, group_label_rows
from .maxmin import maxmin_kkt_residual, solve_maxmin
from .report import frequency_spread

SOLVERS = ("auto", "newton", "cvxopt")
OBJECTIVES = ("paper", "maxmin")
COUNTS = ("images", "instances")
#: The paper's lam = 500 at N = 1237, as a scale-free ``lam_scale`` (lam = lam_scale * N); the
#: default when neither ``lam`` nor ``lam_scale`` is set (the races in docs/studies.md).
PAPER_LAM_SCALE = 500.0 / 1237.0
#: The paper's lam as written (tuned at N = 1237); ``lam=PAPER_LAM`` reproduces the paper.
PAPER_LAM = 500.0
#: ``lam = 0`` is solved as the limit lam -> 0+, at this multiple of N * C (the balance term's
#: curvature scale): its objective is then within ~1e-9 of the minimum.
ZERO_LAM_SCALE = 1e-8


@dataclass
class SolveInfo:
    """How a solve went; ``kkt_residual`` is solver-independent (see :func:`kkt_residual`)."""

    solver: str
    iterations: int
    kkt_residual: float
    objective: float
    class_frequencies: np.ndarray  # expected f_l = P(a draw contains class l), all classes
    uniform_class_frequencies: np.ndarray  # the same under uniform sampling
    max_min_ratio: float  # over the kept classes
    coefficient_of_variation: float  # std / mean of f over the kept classes
    num_groups: int  # unique label rows (Proposition 1)
    seconds: float
    dropped_classes: list = field(default_factory=list)
    background_mass: float = 0.0  # total probability of images with no kept class
    starved_classes: list = field(default_factory=list)  # rarer than average under uniform
    #                                       sampling, yet below their uniform frequency here
    worst_class_bound: float = None  # objective="maxmin": the LP's max-min frequency t*
    count: str = "images"  # what E counts: "images" (presence) or "instances"
    instance_frequencies: np.ndarray = None  # expected boxes of class l per draw, all classes
    uniform_instance_frequencies: np.ndarray = None  # the same under uniform sampling
    instance_max_min_ratio: float = None  # max/min of instance_frequencies over kept classes
    instance_scale: float = 1.0  # count="instances": E = box counts / this (the mean
    #                                       count of a present class in an image)
    lam: float = None  # the lam solved with (from lam, lam_scale or default)
    lam_source: str = "lam"  # "lam", "lam_scale" or "default" (PAPER_LAM_SCALE x N)

    def lam_text(self, num_images: int) -> str:
        """The lambda used and where it came from, e.g. ``lam=275.6 (lam_scale=0.4042 x N=682)``."""
        if self.lam_source == "lam_scale":
            return f"lam={self.lam:.6g} (lam_scale={self.lam / num_images:.6g} x N={num_images})"
        if self.lam_source == "default":
            return (
                f"lam={self.lam:.6g} (the default lam_scale={PAPER_LAM_SCALE:.4g} x N={num_images}, "
                "the paper's 500 at N = 1237; neither lam nor lam_scale set)"
            )
        return f"lam={self.lam:.6g} (set as lam)"


def resolve_lam(lam, lam_scale, num_images: int):
    """The lambda to solve with and its source: ``lam`` as given, ``lam_scale * N``, or
    ``PAPER_LAM_SCALE * N`` (the paper's 500 at its N = 1237) when neither is set. Setting both
    is an error: one would be silently unused."""
    if lam is not None and lam_scale is not None:
        raise ValueError(
            f"lam={lam!r} and lam_scale={lam_scale!r} are both set, but only one "
            "can be used: keep lam_scale (scale-free, lam = lam_scale * N) or lam "
            "(absolute), and remove the other (in a config that inherits one of them from its base, "
            "set it to None or replace the sampler dict with _delete_=True)."
        )
    if lam_scale is not None:
        scale = _check_real(
            "lam_scale",
            lam_scale,
            0.0,
            np.inf,
            "it must be finite and >= 0 (the paper's is 500 / 1237 = 0.404)",
        )
        return scale * num_images, "lam_scale"
    if lam is None:
        return PAPER_LAM_SCALE * num_images, "default"
    return _check_real(
        "lam", lam, 0.0, np.inf, "it must be finite and >= 0 (the paper uses 500 for N = 1237)"
    ), "lam"


def presence_from_columns(
    lengths, columns, num_classes: int, count: str = "images"
) -> sp.csr_matrix:
    """(N, C) CSR matrix from the class ids of every image's boxes laid end to end
    (``columns``, validated to lie in ``[0, C)`` by the caller) and their number per image
    (``lengths``): 0/1 presence (``count="images"``: repeats count once) or box counts
    (``count="instances"``). What every framework's label reader builds."""
    if count not in COUNTS:
        raise ValueError(f"count={count!r} is not one of {COUNTS}")
    lengths = np.asarray(lengths, dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    matrix = sp.csr_matrix(
        (np.ones(len(columns)), np.asarray(columns, dtype=np.int64), indptr),
        shape=(len(lengths), int(num_classes)),
    )
    matrix.sum_duplicates()
    if count == "images":
        matrix.data[:] = 1.0
    return matrix


def count_matrix(labels) -> sp.csr_matrix:
    """Validate ``labels`` ((N, C) array-like or scipy sparse: 0/1 presence or box counts) and
    return it as float64 CSR in canonical form without explicit zeros."""
    if sp.issparse(labels):
        matrix = sp.csr_matrix(labels, dtype=np.float64)
    else:
        try:
            array = np.asarray(labels, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"labels must be a numeric (N, C) array or a scipy sparse matrix; "
                f"got {type(labels).__name__}: {error}"
            ) from None
        if array.ndim != 2:
            raise ValueError(
                f"labels must be 2-D (images x classes); got shape {array.shape}. "
                "Reshape a single image's labels with labels.reshape(1, -1)."
            )
        matrix = sp.csr_matrix(array)
    if matrix.shape[0] == 0:
        raise ValueError(
            "labels has no rows: the dataset is empty, there is nothing to sample. "
            "Check the dataset's ann_file and filter_cfg."
        )
    if matrix.shape[1] == 0:
        raise ValueError(
            "labels has no columns: the dataset declares no classes (metainfo['classes'])."
        )
    if not np.all(np.isfinite(matrix.data)):
        raise ValueError("labels contains NaN or infinite values; use 0/1 presence or counts.")
    if np.any(matrix.data < 0):
        raise ValueError("labels contains negative values; use 0/1 presence or box counts.")
    if not matrix.has_canonical_format or not np.all(matrix.data != 0):
        matrix = matrix.copy()  # never modify the caller's arrays
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
    return matrix


def presence_matrix(labels) -> sp.csr_matrix:
    """Validate ``labels`` ((N, C) array-like or scipy sparse) and return its 0/1 CSR pattern."""
    matrix = count_matrix(labels)
    if matrix.dtype == np.float64 and np.all(matrix.data == 1.0):
        return matrix  # already a 0/1 pattern: used read-only, no copy
    # The 0/1 pattern, sharing the (read-only here) index arrays of ``matrix``.
    return sp.csr_matrix((np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape)


def _check_real(name, value, low, high, hint):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__} {value!r}")
    if not (np.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name}={value!r} is out of range: {hint}")
    return float(value)


def class_frequencies(presence, p) -> np.ndarray:
    """Expected frequency of each class, ``f = E^T p``: P(a drawn image contains class l)."""
    return np.asarray(presence_matrix(presence).T @ np.asarray(p, dtype=np.float64)).ravel()


def balanced_objective(presence, p, lam: float) -> float:
    """The paper's objective ``1/2 sum_{l,k}(f_l - f_k)^2 + lam/2 ||p||^2``."""
    p = np.asarray(p, dtype=np.float64)
    return _objective_from_frequencies(np.asarray(sp.csr_matrix(presence).T @ p).ravel(), p, lam)


def _objective_from_frequencies(f, p, lam: float) -> float:
    f = np.asarray(f).ravel()
    return float(len(f) * (f @ f) - f.sum() ** 2 + 0.5 * lam * (p @ p))


def _project_capped_simplex(z, counts, alpha):
    """Project onto {q >= alpha, sum counts*q = 1}: q = max(alpha, z - tau).

    ``tau`` is the root of the decreasing, convex, piecewise-linear ``g(tau) =
    sum m max(alpha, z - tau) - 1``. Newton from the all-above root (left of it, as
    ``g >= 0`` there) climbs monotonically and stops when the rows above the floor repeat:
    a few O(K) steps instead of a sort."""
    num_images = counts.sum()
    if alpha * num_images >= 1.0 - 1e-12:  # the feasible set is the uniform vector alone
        return np.full_like(z, 1.0 / num_images)
    breaks = z - alpha
    mass_z = counts * z
    tau = (mass_z.sum() - 1.0) / num_images
    above = None
    for _ in range(len(z) + 1):
        now = breaks > tau
        if above is not None and np.array_equal(now, above):
            break
        above = now
        mass_above = counts @ above
        if mass_above == 0:
            break
        tau_next = (mass_z @ above - (1.0 - alpha * (num_images - mass_above))) / mass_above
        if tau_next <= tau:
            break
        tau = tau_next
    return np.maximum(alpha, z - tau)


def _group_kkt_residual(rows, counts, q, alpha, lam):
    num_images = counts.sum()
    gradient = image_gradient(rows, counts, q, lam)
    step = 1.0 / num_images
    return float(
        num_images * np.abs(q - _project_capped_simplex(q - step * gradient, counts, alpha)).max()
    )


def kkt_residual(labels, p, alpha_factor: float, lam: float) -> float:
    """Solver-independent optimality measure: ``N * ||p - Proj(p - grad / N)||_inf``.

    ``Proj`` is the projection onto ``{p >= alpha, sum p = 1}``; the value is 0 exactly at the
    optimum and measures errors of ``N p`` and of the gradient (both O(1)).
    """
    presence = presence_matrix(labels)
    presence = presence[:, np.asarray(presence.sum(axis=0)).ravel() > 0]
    p = np.asarray(p, dtype=np.float64)
    return _group_kkt_residual(presence, np.ones(len(p)), p, alpha_factor / len(p), lam)


def _resolve_background_share(background_share, num_background, num_images, alpha):
    """The fixed total probability of background images (None: the paper's formulation)."""
    if background_share == "uniform":  # the share uniform sampling gives them
        background_share = num_background / num_images if num_background else None
    if background_share is None:
        return None
    share = _check_real(
        "background_share",
        background_share,
        0.0,
        1.0,
        "it must be None, 'uniform' or a probability in [0, 1)",
    )
    if share >= 1.0:
        raise ValueError("background_share=1 leaves nothing for the labelled images; use < 1")
    if num_background == 0:
        if share > 0:
            raise ValueError(
                f"background_share={share} but no image is a background image "
                "(every image has a kept class); use None"
            )
        return None
    if share / num_background < alpha * (1 - 1e-12):
        raise ValueError(
            f"background_share={share} gives each of the {num_background} "
            f"background images {share / num_background:.3g}, below the floor "
            f"alpha = alpha_factor / N = {alpha:.3g}; raise background_share to "
            f">= {alpha * num_background:.4g} or lower alpha_factor"
        )
    return share


def instance_weights(counts: sp.csr_matrix):
    """``count="instances"``'s matrix: box counts divided by their mean over the present
    (image, class) pairs, so its entries average 1 where a class is present, as the 0/1
    presence matrix's do; the balance term then keeps its scale against ``lam`` and
    ``lam_scale`` means a comparable spread of ``p`` on the same data. Returns it and the
    scale."""
    scale = float(counts.data.mean()) if counts.nnz else 1.0
    weights = counts.copy()
    weights.data = weights.data / scale
    return weights, scale


def solve_balanced_qp(
    labels,
    alpha_factor: float = 0.5,
    lam=None,
    solver: str = "auto",
    return_info: bool = False,
    *,
    lam_scale=None,
    objective: str = "paper",
    background_share=None,
    maxmin_eps: float = 1e-3,
    class_names=None,
    count: str = "images",
):
    """Balanced sampling probabilities of Olivier & Raynaud.

    Args:
        labels: (N, C) presence matrix (array-like or scipy sparse); any nonzero is "present".
        alpha_factor: the floor ``p_i >= alpha_factor / N``, in [0, 1] (paper: 0.5). At 1 only
            the uniform vector is feasible.
        lam: weight of ``lam/2 ||p||^2``, >= 0 (paper: 500 for N = 1237; when neither ``lam``
            nor ``lam_scale`` is set, ``PAPER_LAM_SCALE * N``, the same weight at any N).
            ``lam = 0`` has many
            minimisers; the returned one approximates the limit lam -> 0+ (the minimum-norm
            minimiser): it is solved at ``lam = 1e-8 * N * C``, far below the balance term's
            curvature, and its objective is within ~1e-9 of the minimum.
        solver: ``"newton"`` (structured dual Newton, exact, the default behind ``"auto"``)
            or ``"cvxopt"`` (the paper's solver on the grouped problem; the reference).
        return_info: also return a :class:`SolveInfo`.
        lam_scale: scale-free alternative to ``lam``: ``lam = lam_scale * N``. Replicating
            every image k times multiplies the lam that gives the same ``N p`` by k, so a
            ``lam_scale`` carries across dataset sizes; the paper's setting is
            ``PAPER_LAM_SCALE = 500 / 1237`` (the default). Setting both ``lam`` and ``lam_scale`` is an
            error; :class:`SolveInfo` reports the lambda used (``lam``, ``lam_source``).
        objective: ``"paper"`` (default) or ``"maxmin"``: first maximise the smallest class
            frequency (LP), then minimise the paper's objective keeping every class at
            ``>= (1 - maxmin_eps)`` times that optimum, so no rare class is starved.
        background_share: ``None`` (paper), a probability, or ``"uniform"`` (their share under
            uniform sampling): the total probability fixed for images with no (kept) class,
            spread evenly among them; the QP balances the labelled images with the rest.
        maxmin_eps: slack of the ``"maxmin"`` second stage, in [0, 1).
        class_names: the C class names, used in warnings (default: class indices).
        count: what ``E[i, l]`` counts: ``"images"`` (default, the paper: 1 if class ``l`` is
            in image ``i``) or ``"instances"`` (its number of boxes; ``labels`` must then hold
            counts, e.g. ``label_matrix(dataset, count="instances")``), divided by the mean
            count of a present class (see :func:`instance_weights`) so that ``lam`` /
            ``lam_scale`` keep their meaning. ``f`` is then the expected boxes per draw.

    Returns:
        ``p``, float64 of shape (N,), summing to 1; images with identical label rows get equal
        probability. Classes present in no image are dropped from the balance with a warning.
    """
    start = time.perf_counter()
    alpha_factor = _check_real(
        "alpha_factor",
        alpha_factor,
        0.0,
        1.0,
        "it must lie in [0, 1] (the paper uses 0.5; the floor is "
        "alpha_factor / N and above 1 no probability vector is feasible)",
    )
    if solver not in SOLVERS:
        raise ValueError(f"solver={solver!r} is not one of {SOLVERS}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r} is not one of {OBJECTIVES}")
    maxmin_eps = _check_real(
        "maxmin_eps", maxmin_eps, 0.0, 1.0 - 1e-12, "it must lie in [0, 1) (1e-3 is a good default)"
    )
    if count not in COUNTS:
        raise ValueError(
            f"count={count!r} is not one of {COUNTS}: 'images' (presence, the "
            "paper) or 'instances' (box counts)"
        )
    counts = count_matrix(labels)
    presence = presence_matrix(counts)
    num_images, num_classes = presence.shape
    lam, lam_source = resolve_lam(lam, lam_scale, num_images)
    weights, scale = presence, 1.0
    if count == "instances":
        if counts.nnz and np.all(counts.data == 1.0):
            warnings.warn(
                "count='instances' but labels holds only 0/1 entries, so it balances "
                "image presence; pass box counts (e.g. label_matrix(dataset, "
                "count='instances')).",
                stacklevel=2,
            )
        weights, scale = instance_weights(counts)

    images_per_class = np.asarray(presence.sum(axis=0)).ravel()
    kept = np.flatnonzero(images_per_class > 0)
    dropped = np.flatnonzero(images_per_class == 0).tolist()
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(
            f"class_names has {len(class_names)} names but labels has "
            f"{num_classes} columns; pass one name per class"
        )
    if dropped:
        named = dropped if class_names is None else [class_names[i] for i in dropped]
        warnings.warn(
            f"classes {named} appear in no image of labels and are left out of the "
            f"balance (their expected frequency is 0 whatever p is); remove them from "
            f"the dataset's classes or check its annotations.",
            stacklevel=2,
        )
    balanced = weights[:, kept] if dropped else weights
    background = np.diff(balanced.indptr) == 0
    num_background = int(background.sum())
    alpha = alpha_factor / num_images
    share = _resolve_background_share(background_share, num_background, num_images, alpha)

    # The solved problem: all images (paper), or the labelled ones with total 1 - share.
    target = np.ones(num_images, dtype=bool) if share is None else ~background
    total = 1.0 if share is None else 1.0 - share
    num_target = int(target.sum())
    sub_alpha_factor = alpha_factor if share is None else alpha * num_target / total
    if sub_alpha_factor > 1.0 + 1e-12:
        raise ValueError(
            f"background_share={share} leaves {total:.3g} for {num_target} "
            f"labelled images, below their floor alpha = {alpha:.3g} each; lower "
            f"background_share or alpha_factor"
        )
    if count == "instances":  # grouped on the box counts (integer codes, no sort of values)
        raw = counts[:, kept] if dropped else counts
        groups = group_label_rows(raw[target] if share is not None else raw)
        groups.rows = groups.rows / scale  # the same floats as weights' entries
    else:
        groups = group_label_rows(balanced[target] if share is not None else balanced)
    with threadpool_limits(limits=1, user_api="blas"):
        q, iterations, used, worst_bound, floor = _solve_groups(
            groups, min(sub_alpha_factor, 1.0), lam, solver, objective, maxmin_eps
        )
    p = np.empty(num_images)
    p[target] = total * q[groups.inverse]
    if share is not None:
        p[background] = share / num_background
    p = renormalise(p, alpha)
    if not return_info:
        return p

    f_all = np.asarray(presence.T @ p).ravel()
    uniform = images_per_class / num_images
    boxes_all = f_all if counts is presence else np.asarray(counts.T @ p).ravel()
    uniform_boxes = np.asarray(counts.sum(axis=0)).ravel() / num_images
    # "starved" and the spread are judged on what the objective balances
    f_kept = (f_all if count == "images" else boxes_all)[kept]
    reference = (uniform if count == "images" else uniform_boxes)[kept]
    rare = reference < reference.mean()
    spread = (
        frequency_spread(f_all, counted=images_per_class > 0)
        if len(kept)
        else {"max_min_ratio": 1.0, "cv": 0.0}
    )
    box_spread = (
        frequency_spread(boxes_all, counted=images_per_class > 0)
        if len(kept)
        else {"max_min_ratio": 1.0, "cv": 0.0}
    )
    group_alpha = min(sub_alpha_factor, 1.0) / num_target
    if floor is None:
        residual = _group_kkt_residual(
            groups.rows, groups.counts.astype(float), q / (groups.counts @ q), group_alpha, lam
        )
    else:  # objective="maxmin": the floored QP's own optimality conditions
        tau, nu, z = floor
        residual = maxmin_kkt_residual(
            groups.rows,
            groups.counts,
            q / (groups.counts @ q),
            group_alpha,
            effective_lam(lam, groups),
            tau,
            nu,
            z,
        )
    info = SolveInfo(
        solver=used,
        iterations=iterations,
        kkt_residual=residual,
        objective=_objective_from_frequencies(
            f_all[kept] if weights is presence else balanced.T @ p, p, lam
        ),
        class_frequencies=f_all,
        uniform_class_frequencies=uniform,
        max_min_ratio=spread["max_min_ratio"],
        coefficient_of_variation=spread["cv"],
        num_groups=groups.num_groups,
        seconds=time.perf_counter() - start,
        dropped_classes=dropped,
        background_mass=float(p[background].sum()),
        starved_classes=kept[rare & (f_kept < reference * (1 - 1e-9))].tolist(),
        worst_class_bound=worst_bound,
        count=count,
        instance_frequencies=boxes_all,
        uniform_instance_frequencies=uniform_boxes,
        instance_max_min_ratio=box_spread["max_min_ratio"],
        instance_scale=scale,
        lam=lam,
        lam_source=lam_source,
    )
    return p, info


def renormalise(p, alpha):
    """Make ``sum(p) = 1`` exactly without pushing any entry below the floor ``alpha``: an
    excess is taken from the entries above the floor in proportion to their slack."""
    excess = p.sum() - 1.0
    if excess <= 0:
        return p / p.sum()  # scaling up keeps every entry above the floor
    slack = p - alpha
    if slack.sum() <= excess:  # alpha * N ~ 1: the uniform vector is the only feasible one
        return np.full_like(p, 1.0 / len(p))
    return p - excess * slack / slack.sum()


def only_uniform_feasible(alpha_factor: float) -> bool:
    """``alpha_factor = 1`` (up to rounding) leaves the uniform vector as the only solution."""
    return alpha_factor >= 1.0 - 1e-12


def effective_lam(lam: float, groups: LabelGroups) -> float:
    """``lam``, or for ``lam = 0`` the tiny one at which the lam -> 0+ limit is solved."""
    return lam if lam > 0 else ZERO_LAM_SCALE * groups.counts.sum() * groups.rows.shape[1]


def newton_on_groups(groups: LabelGroups, alpha_factor: float, lam: float, warm=None):
    """The structured solver on grouped rows (``lam = 0``: the lam -> 0+ limit, see
    ``ZERO_LAM_SCALE``); ``warm`` is a previous result to start from (sweeps)."""
    num_images = groups.counts.sum()
    tol = 1e-14 if lam > 0 else 1e-11
    lam = effective_lam(lam, groups)
    return solve_dual_newton(
        groups.rows,
        groups.counts,
        alpha_factor / num_images,
        lam,
        y0=None if warm is None else warm.y,
        nu0=None if warm is None else warm.nu,
        tol=tol,
    )


def _solve_groups(groups: LabelGroups, alpha_factor, lam, solver, objective, maxmin_eps):
    """Probability per unique row; returns ``(q, iterations, solver_name, worst_bound, floor)``
    (``floor``: objective="maxmin"'s class floor tau and its multipliers (nu, z), else None)."""
    counts = groups.counts
    num_images = counts.sum()
    alpha = alpha_factor / num_images
    if only_uniform_feasible(alpha_factor) or groups.rows.shape[1] == 0:
        # Only the uniform vector is feasible, or no class to balance (min ||p|| is uniform).
        return np.full(groups.num_groups, 1.0 / num_images), 0, "closed-form", None, None
    if objective == "maxmin":
        if solver == "cvxopt":
            raise ValueError(
                "solver='cvxopt' solves objective='paper' only; use solver='auto' "
                "with objective='maxmin'"
            )
        result, worst, tau = solve_maxmin(
            groups.rows, counts, alpha_factor, effective_lam(lam, groups), maxmin_eps
        )
        _warn_unless_converged(result, "objective='paper' to compare")
        return result.q, result.iterations, "lp+newton", worst, (tau, result.nu, result.z)
    if solver == "cvxopt":
        q, result = solve_grouped_cvxopt(groups.rows, counts, alpha_factor, lam)
        return np.maximum(q, alpha), int(result["iterations"]), "cvxopt", None, None
    result = newton_on_groups(groups, alpha_factor, lam)
    _warn_unless_converged(result, "solver='cvxopt' to cross-check")
    return result.q, result.iterations, "newton", None, None


def _warn_unless_converged(result, hint):
    if not result.converged:
        warnings.warn(
            f"the Newton solver stopped after {result.iterations} iterations with "
            f"dual residual {result.dual_residual:.2e}; the probabilities are usable "
            f"but not exact. Try {hint}.",
            stacklevel=4,
        )
