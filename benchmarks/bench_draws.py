"""What one epoch of training sees: ``draw="iid"`` vs ``draw="systematic"``, and
``objective="maxmin"`` at scale.

Part ``epochs`` (default): per real set in ../shared/data/ and the fetal demo (200 images), for
the paper's objective and maxmin: expected max/min class frequency, distinct images per epoch
(share of N) and the median / 95th percentile of the per-epoch max/min class count over
``--epochs`` simulated epochs, drawn by the samplers' own code, for i.i.d. and systematic
draws (uniform DefaultSampler for reference).
Part ``maxmin``: the long-tailed generator of the issue (1-6 labels per image, Zipf 1.1, every
class present) at 118k x 80 and 1.7M x 600, with the paper's lam=500 and with
lam_scale=0.4042: time (best and median of ``--repeats`` solves, the objectives alternated),
maxmin's time over the paper's, iterations and KKT residual of both, and maxmin's feasibility.
Part ``sensitivity``: maxmin's stage 2 at 1.7M x 600 for other sizes of its first working set
(multiples of C + 1 rows ranked by LP reduced gain; 0: the LP support alone) and of its batch
of entering rows: time, Newton steps and KKT residual (the default is 4 and 2,000).

    python benchmarks/bench_draws.py [--part epochs|maxmin|sensitivity|all] [--epochs 200]
                                     [--repeats 5]
                                     [--shared DIR]
"""

import argparse
import time

import numpy as np
from mmengine.logging import MMLogger
from real_data import DEFAULT_SHARED, real_sets
from threadpoolctl import threadpool_limits

from mmdet_balanced import label_matrix, solve_balanced_qp
from mmdet_balanced.core.grouping import group_label_rows
from mmdet_balanced.core.maxmin import (
    FLOOR_MARGIN,
    floor_warm_start,
    maxmin_kkt_residual,
    solve_floor_newton,
    warm_start_groups,
    worst_class_lp,
)
from mmdet_balanced.core.qp import presence_matrix
from mmdet_balanced.study.analysis import Scheme, simulate_epochs, summarize_scheme, uniform_scheme
from mmdet_balanced.study.demo_data import fetal_label_matrix, long_tailed_labels


def epochs_part(shared, epochs):
    sets = {"fetal demo (200)": fetal_label_matrix(200, seed=0)}
    for name, dataset in real_sets(shared).items():
        if dataset is not None:
            sets[name] = label_matrix(dataset)
    print(
        "| set | N | objective | expected max/min | draw | distinct images / N "
        "| per-epoch max/min median | 95th pct |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, labels in sets.items():
        num_images = labels.shape[0]
        uniform = uniform_scheme(num_images)
        sim = simulate_epochs(labels, uniform, epochs)
        summary = summarize_scheme(labels, uniform)
        print(
            f"| {name} | {num_images} | uniform | {summary['max_min_ratio']:.3f} | "
            f"permutation | {sim['simulated_coverage']:.3f} | "
            f"{sim['median_epoch_max_min']:.3f} | {sim['p95_epoch_max_min']:.3f} |"
        )
        for objective in ("paper", "maxmin"):
            p = solve_balanced_qp(labels, lam=500.0, objective=objective)  # as committed
            for draw in ("iid", "systematic"):
                scheme = Scheme(objective, p, num_images, draw)
                summary = summarize_scheme(labels, scheme)
                sim = simulate_epochs(labels, scheme, epochs)
                print(
                    f"| {name} | {num_images} | {objective} | "
                    f"{summary['max_min_ratio']:.3f} | {draw} | "
                    f"{sim['simulated_coverage']:.3f} | {sim['median_epoch_max_min']:.3f} | "
                    f"{sim['p95_epoch_max_min']:.3f} |",
                    flush=True,
                )


#: the paper's lam as written and its scale-free form lam_scale = 500 / 1237 (the default)
LAM_SETTINGS = {"lam=500": {"lam": 500.0}, "lam_scale=0.4042": {"lam_scale": 0.4042}}


def maxmin_part(repeats):
    print(
        "| matrix | unique rows | lam | objective | time s (best / median) | maxmin / paper | "
        "iterations | KKT residual | min f / ((1-eps) t*) | min p N | sum p - 1 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for num_images, num_classes in ((118_000, 80), (1_700_000, 600)):
        labels = long_tailed_labels(
            num_images, num_classes, max_labels=6, exponent=1.1, seed=2, every_class=True
        )
        for setting, lam in LAM_SETTINGS.items():
            maxmin_rows(labels, num_images, num_classes, setting, lam, repeats)


def maxmin_rows(labels, num_images, num_classes, setting, lam, repeats):
    """Paper and maxmin solves alternated ``repeats`` times at one lam setting; two rows."""
    times = {"paper": [], "maxmin": []}
    for _ in range(repeats):  # alternated, so that a slow spell of the machine hits both
        for objective in times:
            start = time.perf_counter()
            p, info = solve_balanced_qp(labels, objective=objective, return_info=True, **lam)
            times[objective].append(time.perf_counter() - start)
            if objective == "paper":
                paper = (p, info)
            else:
                maxmin = (p, info)
    for objective, (p, info) in (("paper", paper), ("maxmin", maxmin)):
        floor = (
            (info.class_frequencies.min() / ((1 - 1e-3) * info.worst_class_bound))
            if objective == "maxmin"
            else float("nan")
        )
        ratio = min(times[objective]) / min(times["paper"])
        print(
            f"| {num_images} x {num_classes} | {info.num_groups} | {setting} | {objective} | "
            f"{min(times[objective]):.2f} / {np.median(times[objective]):.2f} | "
            f"{ratio:.2f} | {info.iterations} | {info.kkt_residual:.1e} | "
            f"{floor:.12f} | {p.min() * num_images:.6f} | {p.sum() - 1:.1e} |",
            flush=True,
        )


def sensitivity_part():
    labels = long_tailed_labels(
        1_700_000, 600, max_labels=6, exponent=1.1, seed=2, every_class=True
    )
    groups = group_label_rows(presence_matrix(labels))
    counts = groups.counts.astype(np.float64)
    alpha, lam = 0.5 / counts.sum(), 500.0
    print(
        "| first working set (x (C + 1)) | rows | batch | stage 2 s | Newton steps | KKT residual |"
    )
    print("|---|---|---|---|---|---|")
    with threadpool_limits(limits=1, user_api="blas"):  # as solve_balanced_qp runs it
        lp = worst_class_lp(groups.rows, counts, 0.5)
        tau = (1 - 1e-3) * lp.t_star + FLOOR_MARGIN
        for per_class, batch in (
            (0, 2000),
            (0, 1000),
            (1, 500),
            (1, 2000),
            (2, 2000),
            (3, 2000),
            (4, 2000),
            (4, 500),
            (6, 2000),
            (8, 2000),
        ):
            start = warm_start_groups(lp, groups.rows.shape[1], per_class)
            seconds = time.perf_counter()
            warm = floor_warm_start(groups.rows, counts, alpha, lam, tau, start, batch=batch)
            result = solve_floor_newton(groups.rows, counts, alpha, lam, tau, warm=warm)
            seconds = time.perf_counter() - seconds
            residual = maxmin_kkt_residual(
                groups.rows, counts, result.q, alpha, lam, tau, result.nu, result.z
            )
            print(
                f"| {per_class} | {len(start)} | {batch} | {seconds:.2f} | "
                f"{result.iterations} | {residual:.1e} |",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--part", choices=["epochs", "maxmin", "sensitivity", "all"], default="epochs"
    )
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="timed solves per objective")
    parser.add_argument("--shared", default=DEFAULT_SHARED)
    args = parser.parse_args()
    MMLogger.get_instance("mmdet_balanced_bench", log_level="WARNING")
    if args.part in ("epochs", "all"):
        epochs_part(args.shared, args.epochs)
    if args.part in ("maxmin", "all"):
        maxmin_part(args.repeats)
    if args.part in ("sensitivity", "all"):
        sensitivity_part()


if __name__ == "__main__":
    main()
