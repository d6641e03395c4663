"""CVXOPT backends: the reference solve of the grouped problem, and the paper's dense form.

``solve_grouped_cvxopt`` is the reference behind ``solve_balanced_qp(solver="cvxopt")``: the
Proposition-1 grouped problem in a lifted sparse form (variables ``x = N q`` and ``f``), so no
N x N (or K x K) matrix is ever formed. ``solve_dense_paper_qp`` is the paper's formulation as
published (dense N x N ``E M E^T``); it exists only to check the other two on small problems.
"""

import numpy as np
import scipy.sparse as sp

#: (gap tolerance, feasibility tolerance), tightest first. The objective is very flat in p
#: (lam/N^2 against O(1) balance terms), so CVXOPT needs gap tolerances near machine precision
#: to pin p down to ~1e-7 (in N * p); when it breaks down there (division by zero, sqrt of a
#: negative), it is retried one rung looser.
_TOLERANCES = ((1e-15, 1e-13), (1e-13, 1e-12), (1e-11, 1e-11), (1e-9, 1e-9), (1e-7, 1e-7))


def _spmatrix(matrix):
    import cvxopt

    coo = sp.coo_matrix(matrix)
    return cvxopt.spmatrix(
        coo.data.astype(float).tolist(), coo.row.tolist(), coo.col.tolist(), size=coo.shape
    )


def _run_qp(P, q, G, h, A, b, options, tolerances=_TOLERANCES):
    import cvxopt
    from cvxopt import solvers

    for gap_tol, feas_tol in tolerances:
        settings = dict(
            abstol=gap_tol, reltol=gap_tol, feastol=feas_tol, maxiters=400, show_progress=False
        )
        try:
            result = solvers.qp(
                P,
                cvxopt.matrix(q),
                G,
                cvxopt.matrix(h),
                A,
                cvxopt.matrix(b),
                options=dict(settings, **(options or {})),
            )
        except (ArithmeticError, ValueError):
            continue
        if result["status"] == "optimal":
            return np.array(result["x"]).ravel(), result
    raise RuntimeError(
        "CVXOPT did not reach an optimal solution at tolerances "
        f"{tolerances}; use solver='newton' (the structured solver)."
    )


def solve_grouped_cvxopt(
    rows: sp.csr_matrix,
    counts: np.ndarray,
    alpha_factor: float,
    lam: float,
    options=None,
    min_frequency=None,
):
    """Solve the grouped QP with CVXOPT; returns ``(q, cvxopt_result)``, ``q`` per unique row.
    ``min_frequency``: also ``f_l >= min_frequency`` for every class (the maxmin second stage;
    the reference for its structured solver)."""
    num_groups, num_classes = rows.shape
    counts = counts.astype(np.float64)
    num_images = counts.sum()
    # f^T M f = ||w||^2 with w = sqrt(C) (I - 11^T/C) f, so z = (x, w) with x = N q has the
    # positive definite objective 1/2 z^T P z = ||w||^2 + lam/(2 N^2) sum m x^2.
    centring = sp.identity(num_classes) - np.ones((num_classes, num_classes)) / num_classes
    to_w = np.sqrt(num_classes) * (centring @ (rows.T @ sp.diags(counts)).toarray()) / num_images
    P = sp.block_diag([sp.diags(lam * counts / num_images**2), 2.0 * sp.identity(num_classes)])
    G = sp.hstack([-sp.identity(num_groups), sp.csr_matrix((num_groups, num_classes))])
    h = -alpha_factor * np.ones(num_groups)
    if min_frequency is not None:  # -f <= -min_frequency, f = U^T (m x) / N
        G = sp.vstack(
            [
                G,
                sp.hstack(
                    [
                        -(rows.T @ sp.diags(counts)) / num_images,
                        sp.csr_matrix((num_classes, num_classes)),
                    ]
                ),
            ]
        )
        h = np.concatenate([h, -min_frequency * np.ones(num_classes)])
    A = sp.vstack(
        [
            sp.hstack([sp.csr_matrix(-to_w), sp.identity(num_classes)]),
            sp.hstack([sp.csr_matrix(counts), sp.csr_matrix((1, num_classes))]),
        ]
    )
    b = np.concatenate([np.zeros(num_classes), [num_images]])
    z, result = _run_qp(
        _spmatrix(P), np.zeros(num_groups + num_classes), _spmatrix(G), h, _spmatrix(A), b, options
    )
    return z[:num_groups] / num_images, result


def solve_dense_paper_qp(presence, alpha_factor: float, lam: float, options=None):
    """The paper's dense formulation (N x N); for checking on small problems only."""
    import cvxopt

    dense = np.asarray(sp.csr_matrix(presence).toarray() != 0, dtype=np.float64)
    num_images, num_classes = dense.shape
    balance = num_classes * np.eye(num_classes) - np.ones((num_classes, num_classes))
    P = 2.0 * dense @ balance @ dense.T + lam * np.eye(num_images)
    G = cvxopt.spmatrix(-1.0, range(num_images), range(num_images))
    A = cvxopt.matrix(np.ones((1, num_images)))
    # Dense N x N KKT solves cost O(N^3) per iteration: stop at 1e-11 (enough for ~1e-10 in
    # N * p on the paper-size problem) rather than the grouped solver's near-machine precision.
    p, _ = _run_qp(
        cvxopt.matrix(P),
        np.zeros(num_images),
        G,
        -alpha_factor / num_images * np.ones(num_images),
        A,
        np.ones(1),
        options,
        tolerances=_TOLERANCES[2:],
    )
    return p
