"""Paper objective vs objective='maxmin' vs background_share vs ClassAwareSampler vs repeat-factor
sampling on the real annotations in ../shared/data/ (VOC07, VOC07+12, FPUS23, BCCD), and on the
constructed example where the paper's QP starves a rare class. Prints max/min and CV of the
expected class frequencies, min p*N, distinct images per epoch (as a share of N), background
mass, labels per draw, and the solve time.

    python benchmarks/bench_objectives.py [--shared ../shared/data] [--rfs-thr 0.1]
"""

import argparse
import time

import numpy as np
import scipy.sparse as sp
from mmengine.logging import MMLogger
from real_data import DEFAULT_SHARED, real_sets

from mmdet_balanced import label_matrix
from mmdet_balanced.core.qp import solve_balanced_qp
from mmdet_balanced.study.analysis import (
    Scheme,
    class_aware_scheme,
    repeat_factor_repeats,
    repeat_scheme,
    summarize_scheme,
)
from mmdet_balanced.study.demo_data import starved_class_example


def rows_for(name, labels, rfs_thr):
    variants = {
        "paper": {},
        "maxmin": dict(objective="maxmin"),
        "paper+bg uniform": dict(background_share="uniform"),
        "maxmin+bg uniform": dict(objective="maxmin", background_share="uniform"),
    }
    has_background = bool(np.any(sp.csr_matrix(labels).getnnz(axis=1) == 0))
    rows = []
    for variant, kwargs in variants.items():
        if "bg" in variant and not has_background:
            continue
        start = time.perf_counter()
        p = solve_balanced_qp(labels, **kwargs)
        seconds = time.perf_counter() - start
        rows.append(
            (variant, summarize_scheme(labels, Scheme(variant, p, len(p), "systematic")), seconds)
        )
    rows.append(("class_aware", summarize_scheme(labels, class_aware_scheme(labels)), None))
    rows.append(
        (
            f"rfs t={rfs_thr:g}",
            summarize_scheme(labels, repeat_scheme("rfs", repeat_factor_repeats(labels, rfs_thr))),
            None,
        )
    )
    print(f"\n{name}: {labels.shape[0]} images, {labels.shape[1]} classes")
    print(
        f"{'sampler':<18} {'max/min':>8} {'CV':>6} {'min pN':>7} {'distinct/N':>10} "
        f"{'bg mass':>8} {'labels/draw':>11} {'solve s':>8}"
    )
    for variant, s, seconds in rows:
        print(
            f"{variant:<18} {s['max_min_ratio']:>8.3f} {s['cv']:>6.3f} "
            f"{s['min_p_times_n']:>7.3f} {s['coverage']:>10.3f} {s['background_mass']:>8.3f} "
            f"{s['labels_per_draw']:>11.3f} "
            f"{'' if seconds is None else f'{seconds:.2f}':>8}",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=DEFAULT_SHARED)
    parser.add_argument("--rfs-thr", type=float, default=0.1)
    args = parser.parse_args(argv)
    MMLogger.get_instance("mmengine", log_level="WARNING")
    rows_for(
        "constructed starved-class example (paper: class 39 ends below uniform)",
        starved_class_example(),
        args.rfs_thr,
    )
    for name, dataset in real_sets(args.shared).items():
        if dataset is None:
            print(f"\n{name}: not found under {args.shared}")
            continue
        rows_for(name, label_matrix(dataset), args.rfs_thr)


if __name__ == "__main__":
    main()
