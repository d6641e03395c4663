"""Train N runs of one config with distinct seeds, evaluating each on the test split
(``tools/train_repeats.py`` is a wrapper of :func:`main`).

    python tools/train_repeats.py CONFIG --runs N --work-dir DIR [--seed-base 0]
        [--cfg-options k=v ...] [--jobs K [--gpus 0,1,...]] [--launcher pytorch --nproc N]

Run k (seed = seed-base + k) trains into ``DIR/run_kk/`` exactly as ``tools/train.py`` would,
then ``runner.test()`` writes its metrics to ``DIR/run_kk/test_metrics.json``. A run with that
file is finished and skipped; a run directory without it (interrupted) resumes from its last
checkpoint. Each run is a fresh process. ``--nproc G --launcher pytorch`` starts each run with
``torch.distributed.run --nproc_per_node=G``, as MMDetection's ``tools/dist_train.sh`` does.

``--jobs K`` runs K seeds at once, each in its own process with its share of the CPU threads
(``OMP_NUM_THREADS`` = cores // K unless ``--threads`` says otherwise) and, with ``--gpus``, one
GPU each (``CUDA_VISIBLE_DEVICES``, round robin: several jobs may share a GPU). With K > 1 each
run's output goes to ``DIR/run_kk/train_repeats.log``. Progress: runs done / total, elapsed,
ETA from the runs finished in this invocation.

A run whose config has :class:`ImagesSeenHook` writes ``images_seen`` and
``distinct_images_seen`` (what training fed, summed over ranks) as top-level keys of its
``test_metrics.json``.
"""

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

FINISHED = "test_metrics.json"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config")
    parser.add_argument("--runs", type=int, required=True, help="number of runs in the series")
    parser.add_argument("--work-dir", required=True, help="the series' directory")
    parser.add_argument("--seed-base", type=int, default=0, help="run k uses seed-base + k")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        default=[],
        help="config overrides (key=value), passed to every run",
    )
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none")
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="processes per run with --launcher pytorch (GPUs per node)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once (processes)")
    parser.add_argument("--threads", type=int, help="CPU threads per run (default: cores // jobs)")
    parser.add_argument("--gpus", help="comma-separated GPU ids shared round robin by the jobs")
    parser.add_argument("--single-run", help=argparse.SUPPRESS)  # internal: one run's dir
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.single_run is None and args.runs < 1:
        parser.error(f"--runs must be >= 1; got {args.runs}")
    if args.nproc > 1 and args.launcher != "pytorch":
        parser.error("--nproc > 1 needs --launcher pytorch")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1; got {args.jobs}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1; got {args.threads}")
    if args.gpus is not None and not all(g.strip().isdigit() for g in args.gpus.split(",")):
        parser.error(f"--gpus must be comma-separated GPU ids such as 0,1; got {args.gpus!r}")
    return args


def run_one(args):
    """Train and test one run in this process (rank 0 writes the metrics file)."""
    from mmengine.dist import get_rank
    from mmengine.runner import Runner

    from ..mmdetection.images_seen import ImagesSeenHook
    from ..mmdetection.train import build_config
    from ..mmdetection.train import parse_args as train_args

    run_dir = args.single_run
    options = [*args.cfg_options, f"randomness.seed={args.seed}"]
    train_argv = [
        args.config,
        "--work-dir",
        run_dir,
        "--launcher",
        args.launcher,
        "--cfg-options",
        *options,
    ]
    if osp.exists(osp.join(run_dir, "last_checkpoint")):
        train_argv.append("--resume")  # an interrupted run continues where it stopped
    cfg = build_config(train_args(train_argv))
    runner = Runner.from_cfg(cfg)
    runner.train()
    seen = [hook.totals() for hook in runner.hooks if isinstance(hook, ImagesSeenHook)]
    metrics = runner.test()
    if get_rank() == 0:
        record = dict(
            config=args.config,
            seed=args.seed,
            cfg_options=args.cfg_options,
            **(seen[0] if seen else {}),
            metrics={k: float(v) for k, v in metrics.items()},
        )
        partial = osp.join(run_dir, FINISHED + ".part")
        with open(partial, "w") as handle:
            json.dump(record, handle, indent=1)
        os.replace(partial, osp.join(run_dir, FINISHED))  # appears only when complete


def run_command(args, k, run_dir):
    launcher = [sys.executable]
    if args.launcher == "pytorch":
        launcher += [
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={args.nproc}",
            f"--master_port={29500 + k % 1000}",
        ]
    command = [
        *launcher,
        "-m",
        "mmdet_balanced.study.repeats",
        args.config,
        "--runs",
        str(args.runs),
        "--work-dir",
        args.work_dir,
        "--single-run",
        run_dir,
        "--seed",
        str(args.seed_base + k),
        "--launcher",
        args.launcher,
    ]
    if args.cfg_options:
        command += ["--cfg-options", *args.cfg_options]
    return command


def run_environment(args, slot):
    """Threads (and GPU) of the job in ``slot``: the cores divided between the jobs."""
    env = dict(os.environ)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    if args.jobs > 1 or args.threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if args.gpus is not None:
        gpus = [g.strip() for g in args.gpus.split(",")]
        env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    return env


def main(argv=None):
    args = parse_args(argv)
    if args.single_run is not None:
        return run_one(args)
    os.makedirs(args.work_dir, exist_ok=True)
    pending = []
    for k in range(args.runs):
        run_dir = osp.join(args.work_dir, f"run_{k:02d}")
        if osp.exists(osp.join(run_dir, FINISHED)):
            print(f"[train_repeats] {run_dir}: finished, skipped", flush=True)
        else:
            pending.append((k, run_dir))
    start = time.perf_counter()
    done, failed = args.runs - len(pending), []
    free_slots = list(range(args.jobs))

    def train(k, run_dir):
        slot = free_slots.pop(0)
        try:
            os.makedirs(run_dir, exist_ok=True)
            print(
                f"[train_repeats] run {k + 1}/{args.runs} (seed {args.seed_base + k}) -> {run_dir}",
                flush=True,
            )
            run_start = time.perf_counter()
            command, env = run_command(args, k, run_dir), run_environment(args, slot)
            if args.jobs == 1:
                code = subprocess.run(command, env=env).returncode
            else:
                with open(osp.join(run_dir, "train_repeats.log"), "a") as log:
                    code = subprocess.run(
                        command, env=env, stdout=log, stderr=subprocess.STDOUT
                    ).returncode
            return k, run_dir, code, time.perf_counter() - run_start
        finally:
            free_slots.append(slot)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(train, k, run_dir) for k, run_dir in pending]
        finished_here = 0
        for future in as_completed(futures):
            k, run_dir, code, seconds = future.result()
            if code != 0:
                failed.append(run_dir)
                print(
                    f"[train_repeats] {run_dir} FAILED (exit {code}); rerun to resume it",
                    flush=True,
                )
                continue
            done, finished_here = done + 1, finished_here + 1
            elapsed = time.perf_counter() - start
            remaining = len(pending) - finished_here - len(failed)
            eta = elapsed / finished_here * remaining
            print(
                f"[train_repeats] {run_dir} done in {seconds:.0f} s; {done}/{args.runs} runs "
                f"done, elapsed {elapsed:.0f} s, ETA {eta:.0f} s",
                flush=True,
            )
    if failed:
        print(f"[train_repeats] {len(failed)} run(s) failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
