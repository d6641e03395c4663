"""Read per-run metrics from MMEngine work_dirs and compare groups of runs.

A run directory holds ``test_metrics.json`` (written by ``tools/train_repeats.py``) and/or
MMEngine's ``<timestamp>/vis_data/scalars.json``; a group is a directory of runs or a glob.
Per group: mean, sample std, best, n. Per pair of groups: the paper's two-sample
Kolmogorov-Smirnov test, Mann-Whitney U, a seeded bootstrap 95% confidence interval of the
difference of means, Cliff's delta (effect size), and both p-values Holm-adjusted over every
test of the table, so that thresholds x classes x methods do not make significance by chance.
The paper's third claim, a lower spread across runs, has its own comparison
(:func:`compare_spread`: difference of run-to-run std with a bootstrap CI, Brown-Forsythe test).
"""

import glob
import json
import math
import os.path as osp
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.stats import ks_2samp, levene, mannwhitneyu

TEST_FILE = "test_metrics.json"
OLD_PREFIX, PREFIX = "balanced/", "class_ap/"  # ClassAPMetric's prefix before / since 0.3


def _neutral(name: str) -> str:
    """A metric name under ClassAPMetric's current prefix (runs before 0.3 wrote ``balanced/``)."""
    return PREFIX + name[len(OLD_PREFIX) :] if name.startswith(OLD_PREFIX) else name


@dataclass
class Group:
    name: str
    runs: dict = field(default_factory=dict)  # run path -> {metric: value}
    skipped: dict = field(default_factory=dict)  # run path -> why it was left out


def _is_run(path):
    return osp.isfile(osp.join(path, TEST_FILE)) or bool(
        glob.glob(osp.join(path, "*", "vis_data", "scalars.json"))
    )


def find_runs(spec: str):
    """Run directories named by ``spec``: a run, a directory of runs, or a glob of either."""
    paths = sorted(glob.glob(spec)) if glob.has_magic(spec) else [spec]
    runs = []
    for path in paths:
        if not osp.isdir(path):
            continue
        if _is_run(path):
            runs.append(path)
        else:
            runs += [
                sub
                for sub in sorted(glob.glob(osp.join(path, "*")))
                if osp.isdir(sub) and (_is_run(sub) or osp.basename(sub).startswith("run_"))
            ]
    return runs


def _evaluations(scalars_path):
    """The validation records of a scalars.json (lines with metric keys, not training logs)."""
    records = []
    with open(scalars_path) as handle:
        for line in handle:
            line = line.strip()
            if line:
                record = json.loads(line)
                if any("/" in key for key in record):  # e.g. class_ap/mAP, coco/bbox_mAP
                    records.append(record)
    return records


def read_run(path: str, select: str = "last", source: str = "auto", best_key: str = None) -> dict:
    """Metrics of one run. ``source``: ``test`` (test_metrics.json), ``val`` (the latest
    timestamp's scalars.json; ``select`` = ``last`` evaluation or ``best`` by ``best_key``),
    or ``auto`` (test when present). Raises ValueError saying what is missing."""
    test_file = osp.join(path, TEST_FILE)
    if source in ("auto", "test") and osp.isfile(test_file):
        with open(test_file) as handle:
            return {_neutral(k): float(v) for k, v in json.load(handle)["metrics"].items()}
    if source == "test":
        raise ValueError(f"no {TEST_FILE}")
    stamps = sorted(glob.glob(osp.join(path, "*", "vis_data", "scalars.json")))
    if not stamps:
        raise ValueError("no test_metrics.json and no <timestamp>/vis_data/scalars.json")
    records = _evaluations(stamps[-1])
    if not records:
        raise ValueError(f"{stamps[-1]} has no evaluation records")
    if select == "last":
        record = records[-1]
    else:
        key = best_key or next((k for k in records[-1] if k.endswith("mAP")), None)
        if key is None or not all(key in r for r in records):
            raise ValueError(f"cannot pick the best evaluation: key {key!r} missing")
        record = max(records, key=lambda r: r[key])
    return {
        _neutral(k): float(v) for k, v in record.items() if "/" in k and isinstance(v, (int, float))
    }


def load_group(name: str, specs, **read_kwargs) -> Group:
    group = Group(name)
    for spec in specs:
        runs = find_runs(spec)
        if not runs:
            group.skipped[spec] = "matches no run directory"
        for run in runs:
            try:
                group.runs[run] = read_run(run, **read_kwargs)
            except (ValueError, OSError, json.JSONDecodeError) as error:
                group.skipped[run] = str(error)
    return group


def _bootstrap_difference(a, b, statistic, resamples: int, seed: int, level: float):
    """Percentile bootstrap CI of ``statistic(b) - statistic(a)`` (``statistic`` reduces each
    row of resamples): each group resampled with replacement, from ``default_rng(seed)``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    stat_a = statistic(a[rng.integers(0, a.size, size=(resamples, a.size))])
    stat_b = statistic(b[rng.integers(0, b.size, size=(resamples, b.size))])
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(stat_b - stat_a, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_mean_difference(a, b, resamples: int = 10000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap CI of ``mean(b) - mean(a)``: each group resampled with replacement,
    ``resamples`` times, from ``numpy.random.default_rng(seed)``."""
    return _bootstrap_difference(a, b, lambda x: x.mean(axis=1), resamples, seed, level)


def cliffs_delta(a, b) -> float:
    """P(b > a) - P(b < a) over all pairs: the effect size that goes with Mann-Whitney U
    (-1..1; |d| < 0.15 negligible, < 0.33 small, < 0.47 medium, else large)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    signs = np.sign(b[:, None] - a[None, :])
    return float(signs.mean())


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN entries are left out)."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = order.size
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def compare_pair(a, b, seed: int = 0, resamples: int = 10000) -> dict:
    """Every test of one metric between groups ``a`` and ``b`` (differences are b - a)."""
    ks = ks_2samp(a, b)
    mw = mannwhitneyu(b, a, alternative="two-sided")
    low, high = bootstrap_mean_difference(a, b, resamples, seed)
    return dict(
        difference=float(np.mean(b) - np.mean(a)),
        ci_low=low,
        ci_high=high,
        ks_d=float(ks.statistic),
        ks_p=float(ks.pvalue),
        mw_u=float(mw.statistic),
        mw_p=float(mw.pvalue),
        cliffs_delta=cliffs_delta(a, b),
    )


def compare_spread(a, b, seed: int = 0, resamples: int = 10000, level: float = 0.95) -> dict:
    """Run-to-run spread of ``b`` against ``a``: ``std(b) - std(a)`` (sample std) with a
    percentile bootstrap CI (each group resampled with replacement), and the Brown-Forsythe
    test of equal spread (Levene's test about the median, robust to a few odd runs). Its
    ``bf_p`` is NaN where the test is undefined: each group's distances to its median all equal
    (two runs per group), so there is no within-group variation to weigh the groups against."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    low, high = _bootstrap_difference(a, b, lambda x: x.std(axis=1, ddof=1), resamples, seed, level)
    constant = np.ptp(a) == 0 and np.ptp(b) == 0  # no spread at all: equal spread
    undefined = all(x.size <= 2 or np.ptp(np.abs(x - np.median(x))) == 0 for x in (a, b))
    return dict(
        std_a=float(a.std(ddof=1)),
        std_b=float(b.std(ddof=1)),
        std_difference=float(b.std(ddof=1) - a.std(ddof=1)),
        std_ci_low=low,
        std_ci_high=high,
        bf_p=1.0
        if constant
        else float("nan")
        if undefined
        else float(levene(a, b, center="median").pvalue),
    )


def summarize(
    groups, metrics=None, baseline=None, seed: int = 0, resamples: int = 10000, pairs=None
):
    """Per-group statistics and pairwise tests for each metric.

    Returns ``(stats, tests)``: stats rows ``(metric, group, mean, std, best, count)`` with the
    sample std (ddof=1; NaN for one run); tests: one dict per (metric, pair) with ``metric``,
    ``a``, ``b`` and :func:`compare_pair`'s entries, plus ``ks_p_holm`` and ``mw_p_holm``
    (Holm over all tests returned), for groups with at least 2 runs each. ``pairs``: the
    ``(a, b)`` group names to test (default: each group against ``baseline``, else every pair).
    """
    if metrics is None:
        metrics = []
        for group in groups:
            for values in group.runs.values():
                metrics += [k for k in values if k not in metrics]
    stats, tests = [], []
    for metric in metrics:
        samples = {}
        for group in groups:
            values = np.array([v[metric] for v in group.runs.values() if metric in v])
            samples[group.name] = values
            if values.size:
                stats.append(
                    (
                        metric,
                        group.name,
                        float(values.mean()),
                        float(values.std(ddof=1)) if values.size > 1 else float("nan"),
                        float(values.max()),
                        int(values.size),
                    )
                )
        names = [g.name for g in groups]
        tested = (
            pairs
            if pairs is not None
            else [(baseline, n) for n in names if n != baseline]
            if baseline
            else list(combinations(names, 2))
        )
        for a, b in tested:
            if a not in samples or b not in samples:
                continue
            if samples[a].size >= 2 and samples[b].size >= 2:
                tests.append(
                    dict(
                        metric=metric,
                        a=a,
                        b=b,
                        **compare_pair(samples[a], samples[b], seed, resamples),
                    )
                )
    for key in ("ks_p", "mw_p"):
        for test, adjusted in zip(tests, holm([t[key] for t in tests])):
            test[f"{key}_holm"] = float(adjusted)
    return stats, tests


def plot_ecdfs(groups, metrics, path):
    """One panel per metric: the empirical CDF of the per-run values of each group (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(4, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for axis, metric in zip(axes.flat, metrics):
        for group in groups:
            values = np.sort([v[metric] for v in group.runs.values() if metric in v])
            if values.size:
                axis.step(
                    np.concatenate([[values[0]], values]),
                    np.arange(values.size + 1) / values.size,
                    where="post",
                    label=f"{group.name} (n={values.size})",
                )
        axis.set_title(metric, fontsize=9)
        axis.set_ylim(0, 1.05)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(metrics) :]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=8)
    figure.suptitle("ECDF of the per-run values")
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(path, dpi=110)
    plt.close(figure)
