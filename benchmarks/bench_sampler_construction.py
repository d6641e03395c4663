"""Benchmark (b): building BalancedQPSampler vs MMDetection's ClassAwareSampler on a COCO-size
dataset (118k images, 80 classes, generated annotations, a real serialized CocoDataset); and
(d): label extraction and solve on the real annotations in ../shared/data/ when present.

    python benchmarks/bench_sampler_construction.py [--num-images 118000] [--shared ../shared/data]
"""

import argparse
import json
import os.path as osp
import tempfile
import time

import numpy as np
from mmdet.datasets.samplers import ClassAwareSampler
from mmengine.logging import MMLogger
from real_data import DEFAULT_SHARED, coco, real_sets

from mmdet_balanced import BalancedQPSampler, label_matrix, solve_balanced_qp
from mmdet_balanced.study.demo_data import long_tailed_labels


def write_coco(path, num_images, num_classes, seed=0):
    labels = long_tailed_labels(num_images, num_classes, seed=seed).tocsr()
    images = [
        {"id": i + 1, "file_name": f"{i:07d}.jpg", "width": 640, "height": 480}
        for i in range(num_images)
    ]
    annotations, ann_id = [], 0
    for i in range(num_images):
        for c in labels.indices[labels.indptr[i] : labels.indptr[i + 1]]:
            ann_id += 1
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": i + 1,
                    "category_id": int(c) + 1,
                    "bbox": [10.0, 20.0, 100.0, 80.0],
                    "area": 8000.0,
                    "iscrowd": 0,
                }
            )
    categories = [{"id": c + 1, "name": f"class{c:03d}"} for c in range(num_classes)]
    with open(path, "w") as handle:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, handle)
    return tuple(c["name"] for c in categories)


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def construction(num_images):
    with tempfile.TemporaryDirectory() as tmp:
        ann_file = osp.join(tmp, "coco_size.json")
        classes, seconds = timed(lambda: write_coco(ann_file, num_images, 80))
        dataset, load = timed(lambda: coco(ann_file, classes))
    print(
        f"(b) COCO-size dataset: {len(dataset)} images, 80 classes "
        f"(generated in {seconds:.1f} s, CocoDataset loaded in {load:.1f} s, serialized)"
    )
    builders = {
        "ClassAwareSampler": lambda: ClassAwareSampler(dataset, seed=0),
        "BalancedQPSampler": lambda: BalancedQPSampler(dataset, seed=0, lam=500.0),
    }
    times = {name: [] for name in builders}
    for _ in range(7):  # alternate, so that machine noise hits both alike
        for name, build in builders.items():
            times[name].append(timed(build)[1])
    print(f"{'sampler':<22} {'median s':>9} {'min s':>7} {'max s':>7}  (7 alternating builds)")
    for name, values in times.items():
        print(f"{name:<22} {np.median(values):>9.3f} {min(values):>7.3f} {max(values):>7.3f}")
    labels, read = timed(lambda: label_matrix(dataset))
    _, solve = timed(lambda: solve_balanced_qp(labels, lam=500.0))
    print(f"  of which label_matrix {read:.3f} s, solve_balanced_qp {solve:.3f} s")


def real_annotations(shared):
    print("\n(d) real annotations (alpha_factor=0.5, lam=500)")
    print(
        f"{'dataset':<20} {'images':>7} {'C':>3} {'K':>5} {'read s':>7} {'solve s':>8} "
        f"{'KKT':>8} {'max/min unif':>12} {'max/min bal':>11} {'min pN':>7} {'bg mass':>8}"
    )
    for name, dataset in real_sets(shared).items():
        if dataset is None:
            print(f"{name:<20} (not found under {shared})")
            continue
        labels, read = timed(lambda: label_matrix(dataset))
        (p, info), solve = timed(lambda: solve_balanced_qp(labels, lam=500.0, return_info=True))
        uniform = info.uniform_class_frequencies
        print(
            f"{name:<20} {labels.shape[0]:>7} {labels.shape[1]:>3} {info.num_groups:>5} "
            f"{read:>7.2f} {solve:>8.3f} {info.kkt_residual:>8.1e} "
            f"{uniform.max() / uniform.min():>12.2f} {info.max_min_ratio:>11.2f} "
            f"{p.min() * len(p):>7.2f} {info.background_mass:>8.3f}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-images", type=int, default=118_000)
    parser.add_argument("--shared", default=DEFAULT_SHARED)
    args = parser.parse_args(argv)
    MMLogger.get_instance("mmengine", log_level="WARNING")  # keep the samplers' tables quiet
    construction(args.num_images)
    real_annotations(args.shared)


if __name__ == "__main__":
    main()
