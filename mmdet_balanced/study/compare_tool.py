"""Compare groups of training runs (as the paper's Tables 2 and 3): mean / std / best / count
per metric and group, and between groups the paper's two-sample Kolmogorov-Smirnov test,
Mann-Whitney U, a bootstrap 95% CI of the difference of means, Cliff's delta, and Holm-adjusted
p-values over every test of the table.

    python tools/compare_runs.py --group uniform=work_dirs/uniform \\
        --group balanced=work_dirs/balanced [--group oversampling='work_dirs/over*/run_*'] \\
        [--baseline uniform] [--select last|best] [--source auto|test|val] \\
        [--metrics REGEX] [--format table|markdown|csv|latex] [--out FILE] [--plot ecdf.png]
        [--seed 0] [--resamples 10000]

Each group is a directory of runs (e.g. made by tools/train_repeats.py) or a glob; a run's
metrics come from its test_metrics.json, else from the latest <timestamp>/vis_data/scalars.json
(the last or best evaluation). Runs whose metrics are missing or unreadable are listed and left
out. Statistics: sample std (ddof=1); between groups of at least 2 runs each (every pair, or
each group against --baseline): KS (scipy.stats.ks_2samp) and Mann-Whitney U
(scipy.stats.mannwhitneyu), both two-sided; the difference of means (second minus first group)
with a percentile bootstrap 95% CI (--resamples, seeded by --seed); Cliff's delta
(P(second > first) - P(second < first)); and Holm's adjustment of the KS and of the
Mann-Whitney p-values over all tests in the output. csv is one wide row per metric;
table / markdown / latex print a per-group table and a long table of the tests.
"""

import argparse
import csv
import io
import math
import re
import sys

from mmdet_balanced.study.compare import load_group, plot_ecdfs, summarize


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--group",
        action="append",
        required=True,
        metavar="NAME=PATH",
        help="a group of runs: a directory of runs or a glob (repeatable)",
    )
    parser.add_argument("--baseline", help="compare each group against this one only")
    parser.add_argument(
        "--select",
        choices=["last", "best"],
        default="last",
        help="which validation evaluation of scalars.json (default: last)",
    )
    parser.add_argument("--best-key", help="metric that defines --select best (default: *mAP)")
    parser.add_argument(
        "--source",
        choices=["auto", "test", "val"],
        default="auto",
        help="test_metrics.json, scalars.json, or test when present (default)",
    )
    parser.add_argument("--metrics", default=".", help="regex selecting metric keys")
    parser.add_argument("--format", choices=["table", "markdown", "csv", "latex"], default="table")
    parser.add_argument("--out", help="also write the output to this file")
    parser.add_argument("--plot", help="write ECDFs of the per-run values per metric (PNG)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples")
    args = parser.parse_args(argv)
    groups = {}
    for item in args.group:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            parser.error(f"--group takes NAME=PATH; got {item!r}")
        groups.setdefault(name, []).append(path)
    if len(groups) < 2:
        parser.error("give at least two --group NAME=PATH to compare")
    if args.baseline and args.baseline not in groups:
        parser.error(f"--baseline {args.baseline!r} is not one of the groups {list(groups)}")
    args.groups = groups
    return args


PAIR_COLUMNS = (
    ("KS D", "ks_d"),
    ("KS p", "ks_p"),
    ("KS p Holm", "ks_p_holm"),
    ("MW U", "mw_u"),
    ("MW p", "mw_p"),
    ("MW p Holm", "mw_p_holm"),
    ("diff", "difference"),
    ("CI low", "ci_low"),
    ("CI high", "ci_high"),
    ("Cliff d", "cliffs_delta"),
)


def build_rows(groups, stats, tests, metrics):
    """One wide row per metric: every group's statistics, then every pair's tests."""
    names = [g.name for g in groups]
    pairs = sorted(
        {(t["a"], t["b"]) for t in tests}, key=lambda p: (names.index(p[0]), names.index(p[1]))
    )
    header = ["metric"]
    for name in names:
        header += [f"{name} mean", f"{name} std", f"{name} best", f"{name} n"]
    for a, b in pairs:
        header += [f"{label} {a}-{b}" for label, _ in PAIR_COLUMNS]
    by_key = {(m, g): (mean, std, best, n) for m, g, mean, std, best, n in stats}
    by_pair = {(t["metric"], t["a"], t["b"]): t for t in tests}
    rows = []
    for metric in metrics:
        row = [metric]
        for name in names:
            row += list(by_key.get((metric, name), (math.nan, math.nan, math.nan, 0)))
        for a, b in pairs:
            test = by_pair.get((metric, a, b))
            row += [test[key] if test else math.nan for _, key in PAIR_COLUMNS]
        rows.append(row)
    return header, rows


def build_readable_tables(groups, stats, tests, metrics):
    """(header, rows) of the per-group table and of the long tests table."""
    names = [g.name for g in groups]
    by_key = {(m, g): (mean, std, best, n) for m, g, mean, std, best, n in stats}
    group_rows = []
    for metric in metrics:
        row = [metric]
        for name in names:
            mean, std, best, n = by_key.get((metric, name), (math.nan,) * 3 + (0,))
            row.append(
                "-"
                if n == 0
                else f"{mean:.3f} ± {'-' if math.isnan(std) else f'{std:.3f}'} ({best:.3f}) n={n}"
            )
        group_rows.append(row)
    test_rows = [
        [
            t["metric"],
            f"{t['b']} vs {t['a']}",
            f"{t['difference']:+.3f} [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]",
            f"{t['ks_d']:.2f}",
            f"{t['ks_p']:.3g} ({t['ks_p_holm']:.3g})",
            f"{t['mw_p']:.3g} ({t['mw_p_holm']:.3g})",
            f"{t['cliffs_delta']:+.2f}",
        ]
        for t in tests
    ]
    return (
        (["metric", *[f"{n}: mean ± std (best) n" for n in names]], group_rows),
        (
            [
                "metric",
                "comparison",
                "Δ mean [95% CI]",
                "KS D",
                "KS p (Holm)",
                "MW p (Holm)",
                "Cliff's δ",
            ],
            test_rows,
        ),
    )


def cell(value):
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return "-" if math.isnan(value) else f"{value:.4f}"


def render(header, rows, fmt):
    text_rows = [[cell(v) for v in row] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows([[v if isinstance(v, str) else repr(v) for v in row] for row in rows])
        return buffer.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in text_rows]
        return "\n".join(lines) + "\n"
    if fmt == "latex":

        def esc(s):
            return re.sub(r"([_&%#$])", r"\\\1", s)

        lines = [
            r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
            r"\hline",
            " & ".join(esc(h) for h in header) + r" \\",
            r"\hline",
        ]
        lines += [" & ".join(esc(v) for v in r) + r" \\" for r in text_rows]
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) for i, h in enumerate(header)]
    lines = [
        "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths)))
    ]
    lines += [
        "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
        for r in text_rows
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    groups = [
        load_group(name, specs, select=args.select, source=args.source, best_key=args.best_key)
        for name, specs in args.groups.items()
    ]
    notes = []
    for group in groups:
        for run, why in group.skipped.items():
            notes.append(f"left out {run} (group {group.name}): {why}")
        if len(group.runs) < 2:
            notes.append(
                f"group {group.name} has {len(group.runs)} run(s): statistics shown, "
                "no KS test (it needs at least 2 runs per group)"
            )
    pattern = re.compile(args.metrics)
    metrics = []
    for group in groups:
        for values in group.runs.values():
            metrics += [k for k in values if k not in metrics and pattern.search(k)]
    if not metrics:
        print("\n".join(notes), file=sys.stderr)
        print(
            "no metric to compare: no readable run matched, or --metrics selects none",
            file=sys.stderr,
        )
        return 1
    stats, tests = summarize(
        groups, metrics, args.baseline, seed=args.seed, resamples=args.resamples
    )
    if args.format == "csv":
        output = render(*build_rows(groups, stats, tests, metrics), "csv")
    else:
        per_group, per_test = build_readable_tables(groups, stats, tests, metrics)
        output = render(*per_group, args.format)
        if tests:
            output += "\n" + render(*per_test, args.format)
    sys.stdout.write(output)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(output)
    if args.plot:
        plot_ecdfs(groups, metrics, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
