"""Benchmark (a): the structured solver vs the paper's dense CVXOPT formulation, CVXOPT on the
grouped problem, and Clarabel / OSQP on the lifted sparse form; plus (c) one epoch's draw vs
DefaultSampler's permutation. Prints tables (time, peak memory, KKT residual, max |dp| N).

    python benchmarks/bench_solvers.py [--quick]
"""

import argparse
import sys
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from mmdet_balanced import ProbabilitySampler, kkt_residual, solve_balanced_qp
from mmdet_balanced.core.cvxopt_backend import solve_dense_paper_qp
from mmdet_balanced.study.demo_data import fetal_label_matrix, long_tailed_labels

ALPHA, LAM = 0.5, 500.0


def lifted_problem(labels):
    """min f^T M f + lam/2 ||p||^2  s.t. f - E^T p = 0, sum p = 1, p >= alpha: sparse, N + C vars."""
    E = sp.csr_matrix(labels, dtype=np.float64)
    N, C = E.shape
    M = C * np.eye(C) - np.ones((C, C))
    P = sp.block_diag([LAM * sp.identity(N), sp.csc_matrix(2 * M)], format="csc")
    A_eq = sp.vstack(
        [
            sp.hstack([-E.T, sp.identity(C)]),
            sp.hstack([sp.csr_matrix(np.ones((1, N))), sp.csr_matrix((1, C))]),
        ]
    )
    return E, N, C, P, A_eq


def solve_clarabel(labels):
    import clarabel

    E, N, C, P, A_eq = lifted_problem(labels)
    G = sp.hstack([-sp.identity(N), sp.csr_matrix((N, C))])
    A = sp.vstack([A_eq, G], format="csc")
    b = np.concatenate([np.zeros(C), [1.0], -ALPHA / N * np.ones(N)])
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-10
    solver = clarabel.DefaultSolver(
        sp.triu(P, format="csc"),
        np.zeros(N + C),
        A,
        b,
        [clarabel.ZeroConeT(C + 1), clarabel.NonnegativeConeT(N)],
        settings,
    )
    return np.array(solver.solve().x[:N])


def solve_osqp(labels):
    import osqp

    E, N, C, P, A_eq = lifted_problem(labels)
    A = sp.vstack([A_eq, sp.hstack([sp.identity(N), sp.csr_matrix((N, C))])], format="csc")
    low = np.concatenate([np.zeros(C), [1.0], ALPHA / N * np.ones(N)])
    high = np.concatenate([np.zeros(C), [1.0], np.ones(N)])
    problem = osqp.OSQP()
    problem.setup(
        sp.triu(P, format="csc"),
        np.zeros(N + C),
        A,
        low,
        high,
        verbose=False,
        eps_abs=1e-10,
        eps_rel=1e-10,
        max_iter=20000,
        polish=True,
    )
    return np.array(problem.solve().x[:N])


def measure(function, *args):
    tracemalloc.start()
    start = time.perf_counter()
    result = function(*args)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def label_bytes(labels):
    m = sp.csr_matrix(labels, dtype=np.float64)
    return (m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) / 2**20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the slow baselines")
    parser.add_argument("--part", choices=["all", "solvers", "draw"], default="all")
    args = parser.parse_args(argv)
    if args.part != "draw":
        bench_solvers(args)
    if args.part != "solvers":
        bench_draw()


def bench_solvers(args):
    problems = [
        ("Table-1-like", fetal_label_matrix(1237, seed=0), {"dense", "cvxopt", "clarabel", "osqp"}),
        (
            "long-tail 10k x 80",
            long_tailed_labels(10_000, 80),
            {"cvxopt", "clarabel", "osqp"} | (set() if args.quick else {"dense"}),
        ),
        (
            "COCO-size 118k x 80",
            long_tailed_labels(118_000, 80),
            set() if args.quick else {"cvxopt", "clarabel"},
        ),
        ("LVIS-size 100k x 1203", long_tailed_labels(100_000, 1203), set()),
        ("OpenImages-size 1.7M x 600", long_tailed_labels(1_700_000, 600), set()),
    ]
    backends = {
        "dense": ("paper dense CVXOPT", lambda E: solve_dense_paper_qp(E, ALPHA, LAM)),
        "cvxopt": ("CVXOPT grouped", lambda E: solve_balanced_qp(E, ALPHA, LAM, "cvxopt")),
        "clarabel": ("Clarabel lifted", solve_clarabel),
        "osqp": ("OSQP lifted", solve_osqp),
    }
    print(
        f"{'problem':<28} {'solver':<20} {'time s':>9} {'peak MiB':>9} {'labels MiB':>10} "
        f"{'KKT resid':>10} {'max|dp|N':>10}"
    )
    for name, labels, extra in problems:
        with threadpool_limits(limits=1, user_api="blas"):
            (p, info), seconds, peak = measure(
                lambda E: solve_balanced_qp(E, ALPHA, LAM, return_info=True), labels
            )
        print(
            f"{name:<28} {'ours (newton)':<20} {seconds:>9.3f} {peak:>9.1f} "
            f"{label_bytes(labels):>10.1f} {info.kkt_residual:>10.1e} {0.0:>10.1e}",
            flush=True,
        )
        for key in ("dense", "cvxopt", "clarabel", "osqp"):
            if key not in extra:
                continue
            title, function = backends[key]
            with threadpool_limits(limits=1, user_api="blas"):
                q, seconds, peak = measure(function, labels)
            q = np.maximum(q, 0) / np.maximum(q, 0).sum()
            print(
                f"{'':<28} {title:<20} {seconds:>9.3f} {peak:>9.1f} {'':>10} "
                f"{kkt_residual(labels, q, ALPHA, LAM):>10.1e} "
                f"{np.abs(q - p).max() * len(p):>10.1e}",
                flush=True,
            )


def bench_draw():
    from mmengine.dataset import DefaultSampler

    print(
        "\n(c) one epoch's indices: ProbabilitySampler (systematic and alias i.i.d. draws) vs "
        "MMEngine's DefaultSampler (permutation), best of 5, single process"
    )
    print(f"{'N':>10} {'draw':>11} {'ours ms':>9} {'DefaultSampler ms':>18} {'ratio':>6}")
    for size in (118_000, 1_700_000):
        default = DefaultSampler(range(size), seed=0)
        base = min(timed(lambda: list(iter(default))) for _ in range(5))
        for draw in ("systematic", "iid"):
            sampler = ProbabilitySampler(np.random.default_rng(0).random(size), seed=0, draw=draw)
            ours = min(timed(lambda: list(iter(sampler))) for _ in range(5))
            print(
                f"{size:>10} {draw:>11} {ours * 1e3:>9.1f} {base * 1e3:>18.1f} {ours / base:>6.2f}"
            )


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
