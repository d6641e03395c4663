"""Plain-text tables of per-class expected frequencies (used by the samplers' logs and tools)."""
import numpy as np


def frequency_spread(frequencies, counted=None) -> dict:
    """Max/min ratio and coefficient of variation of class frequencies over the ``counted``
    classes (a boolean mask; default: those with a nonzero frequency)."""
    f = np.asarray(frequencies, dtype=np.float64)
    f = f[f > 0 if counted is None else counted]
    if f.size == 0:
        return {"max_min_ratio": float("nan"), "cv": float("nan")}
    return {"max_min_ratio": float(f.max() / f.min()), "cv": float(f.std() / f.mean())}


def format_frequency_table(class_names, columns: dict) -> str:
    """Table of the expected number of draws per epoch containing each class (one column per
    sampling scheme: its f times its epoch length), with each column's max/min ratio and CV."""
    names = [str(n) for n in class_names]
    width = max([len("class")] + [len(n) for n in names])
    heads = list(columns)
    col_w = [max(10, len(h)) for h in heads]
    lines = [f"{'class':<{width}}  " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, col_w))]
    for i, name in enumerate(names):
        cells = [f"{columns[h][i]:>{w}.1f}" for h, w in zip(heads, col_w)]
        lines.append(f"{name:<{width}}  " + "  ".join(cells))
    for key, label in (("max_min_ratio", "max/min"), ("cv", "CV")):
        cells = [f"{frequency_spread(columns[h])[key]:>{w}.3f}" for h, w in zip(heads, col_w)]
        lines.append(f"{label:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)
