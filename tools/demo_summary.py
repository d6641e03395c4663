"""The last lines of tools/demo.sh: what balanced sampling did and what training reached.

    python tools/demo_summary.py WORK_DIR [--epochs N]

Reads WORK_DIR/<timestamp>/sampling.json (written by the sampler when training starts) and the
last evaluation in WORK_DIR/<timestamp>/vis_data/scalars.json; prints, per class, the expected
draws per epoch under uniform and balanced sampling and the AP reached at IoU 0.2 / 0.4; then
the paths of the figure, the log and sampling.json, and the next steps.
"""

import argparse
import glob
import json
import os.path as osp
import sys

from mmdet_balanced.study.compare import read_run


def latest(pattern):
    paths = sorted(glob.glob(pattern))
    return paths[-1] if paths else None


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("work_dir")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    record_path = latest(osp.join(args.work_dir, "*", "sampling.json"))
    if record_path is None:
        print(
            f"demo_summary: no <timestamp>/sampling.json under {args.work_dir}: did "
            "training start?",
            file=sys.stderr,
        )
        return 1
    record = json.load(open(record_path))
    try:  # the last validation of the latest run, as compare_runs reads it
        metrics = read_run(args.work_dir, source="val", select="last")
    except ValueError as error:
        print(f"demo_summary: no evaluation to report ({error})", file=sys.stderr)
        metrics = {}
    n = record["num_images"]
    print(
        f"      {'class':<16}{'draws/epoch uniform':>21}{'balanced':>10}{'AP@0.2':>9}{'AP@0.4':>9}"
    )
    rare_zero = []
    uniform_draws = [u * n for u in record["uniform_class_frequencies"]]
    mean_uniform = sum(uniform_draws) / len(uniform_draws)
    for name, u, b in zip(record["classes"], uniform_draws, record["class_frequencies"]):
        ap2 = metrics.get(f"class_ap/AP@0.2/{name}", float("nan"))
        ap4 = metrics.get(f"class_ap/AP@0.4/{name}", float("nan"))
        print(f"      {name:<16}{u:>21.1f}{b * n:>10.1f}{ap2:>9.3f}{ap4:>9.3f}")
        if u < mean_uniform and not ap2 > 0.01:
            rare_zero.append(name)
    print(
        f"      {'max/min':<16}{max(uniform_draws) / min(uniform_draws):>21.2f}"
        f"{record['max_min_ratio']:>10.2f}"
        f"{metrics.get('class_ap/mAP@0.2', float('nan')):>9.3f}"
        f"{metrics.get('class_ap/mAP@0.4', float('nan')):>9.3f}   (last row: mAP)"
    )
    if rare_zero:
        print(
            f"      Rare classes still near AP 0 ({', '.join(rare_zero)}): one short run of a "
            f"tiny model{f' ({args.epochs} epochs)' if args.epochs else ''} says nothing "
            "about rare-class AP; the comparison studies do (docs/studies.md)."
        )
    print(
        "      These AP figures are one run's (seed 0, one thread, AVX2 kernels: the same on "
        "any x86-64 machine); over seeds they move a lot (README)."
    )
    analysis = osp.join(args.work_dir, "analysis")
    print(
        f"      figure      {osp.join(analysis, 'class_draws.png')} (per-class draws, "
        "every sampler)"
    )
    print(f"      summary     {osp.join(analysis, 'summary.csv')}")
    log = latest(osp.join(osp.dirname(record_path), "*.log"))
    print(f"      log         {log}")
    print(f"      per image   {record_path} (p of every image, with its path)")
    print(
        "      next: python tools/analyze_sampling.py YOUR_CONFIG --out-dir analysis/  "
        "(what it does to your data)"
    )
    print(
        "            bash tools/paper_experiment.sh 5  (uniform vs oversampling vs balanced, "
        "with statistics)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
