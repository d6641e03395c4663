"""count="instances" vs count="images": solve time and exactness at scale.

    python benchmarks/bench_instances.py [--sizes 118000x80 1700000x600] [--repeats 3]

The long-tailed generator of the other benchmarks (Zipf 1.1, 1-6 labels per image, every class
present) gives the presence; each present (image, class) pair gets 1 + Geometric(0.45) boxes
(mean ~2.2, a long right tail, as in detection sets). For each size: the paper objective and
maxmin with both counts, the best of --repeats solves, the KKT residual and the ratio
instances / images. Target: instances within 1.5x of images, KKT <= 1e-10.
"""

import argparse
import sys
import time

import numpy as np

from mmdet_balanced import solve_balanced_qp
from mmdet_balanced.study.demo_data import long_tailed_labels


def box_counts(num_images, num_classes, seed=2):
    presence = long_tailed_labels(
        num_images, num_classes, max_labels=6, exponent=1.1, seed=seed, every_class=True
    )
    counts = presence.copy()
    counts.data = np.random.default_rng(seed).geometric(0.45, size=counts.nnz).astype(float)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["118000x80", "1700000x600"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(
        "| size | objective | count | seconds (best) | KKT residual | unique rows | "
        "instances / images |"
    )
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        num_images, num_classes = (int(v) for v in size.split("x"))
        counts = box_counts(num_images, num_classes)
        for objective in ("paper", "maxmin"):
            seconds = {}
            for count in ("images", "instances"):
                best, info = np.inf, None
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    _, info = solve_balanced_qp(
                        counts,
                        count=count,
                        objective=objective,
                        lam_scale=500 / 1237,
                        return_info=True,
                    )
                    best = min(best, time.perf_counter() - start)
                seconds[count] = best
                ratio = (
                    f"{seconds['instances'] / seconds['images']:.2f}x"
                    if count == "instances"
                    else ""
                )
                print(
                    f"| {num_images} x {num_classes} | {objective} | {count} | {best:.2f} | "
                    f"{info.kkt_residual:.1e} | {info.num_groups} | {ratio} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
