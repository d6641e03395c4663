"""Stress: a 2-rank gloo run that builds the balanced samplers and exits, repeated under CPU load.

    python benchmarks/stress_exit.py [--runs 200] [--no-load] [--objective paper|maxmin|both]

Each run is ``torch.distributed.run --nproc_per_node=2`` of this file's worker: it joins the
default gloo process group, builds ``BalancedQPSampler`` and ``InfiniteBalancedQPSampler`` on a
small generated COCO set (the solve runs on rank 0 and its ``p`` is shared), draws 3 epochs and
exits. A fault at interpreter exit (a solver, BLAS/OpenMP or gloo thread alive at exit or
inherited across fork) shows as a non-zero exit code. While the runs go, ``--load`` processes
(default: one per core) spin the CPU. Prints progress, then every failure with its stderr tail,
and ``failures: K of N``.
"""

import argparse
import multiprocessing
import os
import os.path as osp
import socket
import subprocess
import sys
import tempfile
import time


def worker(data_root, objective):
    import torch.distributed as dist
    from mmdet.datasets import CocoDataset

    from mmdet_balanced import BalancedQPSampler, InfiniteBalancedQPSampler
    from mmdet_balanced.study.demo_data import FETAL_CLASSES

    dist.init_process_group("gloo")
    dataset = CocoDataset(
        data_root=data_root,
        ann_file="train.json",
        data_prefix=dict(img="images/"),
        metainfo=dict(classes=FETAL_CLASSES),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=[],
    )
    epoch_sampler = BalancedQPSampler(dataset, seed=0, lam_scale=0.404, objective=objective)
    infinite = InfiniteBalancedQPSampler(dataset, seed=0, lam_scale=0.404, objective=objective)
    for epoch in range(3):
        epoch_sampler.set_epoch(epoch)
        assert len(list(epoch_sampler)) > 0
    stream = iter(infinite)
    for _ in range(3 * len(dataset)):
        next(stream)
    dist.barrier()
    dist.destroy_process_group()


def spin():
    while True:
        pass


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--load",
        type=int,
        default=os.cpu_count() or 1,
        help="CPU-spinning processes during the runs (default: one per core)",
    )
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument(
        "--objective",
        choices=["paper", "maxmin", "both"],
        default="both",
        help="the QP's objective in the workers (both: alternate)",
    )
    parser.add_argument(
        "--worker", nargs=2, metavar=("DATA_ROOT", "OBJECTIVE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    from mmdet_balanced.study.demo_data import make_fetal_dataset

    data_root = tempfile.mkdtemp(prefix="stress_exit_")
    make_fetal_dataset(data_root, num_train=120, num_val=20, image_size=32, seed=0)
    spinners = (
        []
        if args.no_load
        else [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.load)]
    )
    for process in spinners:
        process.start()
    failures, start = [], time.perf_counter()
    try:
        for k in range(args.runs):
            objective = ("paper", "maxmin")[k % 2] if args.objective == "both" else args.objective
            command = [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nproc_per_node=2",
                f"--master_port={free_port()}",
                osp.abspath(__file__),
                "--worker",
                data_root,
                objective,
            ]
            result = subprocess.run(
                command, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1")
            )
            if result.returncode != 0:
                failures.append((k, objective, result.returncode, result.stderr[-2000:]))
            if (k + 1) % 10 == 0 or k + 1 == args.runs:
                elapsed = time.perf_counter() - start
                print(
                    f"[stress_exit] {k + 1}/{args.runs} runs, {len(failures)} failed, "
                    f"{elapsed:.0f} s, ETA {elapsed / (k + 1) * (args.runs - k - 1):.0f} s",
                    flush=True,
                )
    finally:
        for process in spinners:
            process.terminate()
    for k, objective, code, stderr in failures:
        print(f"\n--- run {k} (objective={objective}) exit {code}:\n{stderr}")
    print(
        f"failures: {len(failures)} of {args.runs} (load: "
        f"{0 if args.no_load else args.load} spinning processes)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
