"""What a balanced sampler reports, in every framework: the class tables of its log, the
starved-class warning and the per-run record (``sampling.json``); :func:`report_solve` does
all three, through the framework's logger."""

import json
import os

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


def solve_summary(owner: str, class_names, labels, info, draws: int, settings: dict) -> str:
    """What a balanced sampler logs when it is built: the solve, the background mass and the
    expected draws per epoch containing each class, uniform vs balanced."""
    shown = {k: v for k, v in settings.items() if k not in ("lam", "lam_scale")}
    text = ", ".join([f"{k}={v}" for k, v in shown.items()] + _lam_texts(info, labels))
    columns = {
        "uniform": info.uniform_class_frequencies * labels.shape[0],
        "balanced": info.class_frequencies * draws,
    }
    if _has_instances(info):  # box counts known: the boxes each epoch feeds too
        columns.update(
            {
                "uniform boxes": info.uniform_instance_frequencies * labels.shape[0],
                "balanced boxes": info.instance_frequencies * draws,
            }
        )
    table = format_frequency_table(class_names, columns)
    return (
        f"{owner}: {labels.shape[0]} images, {labels.shape[1]} classes; {info.num_groups} "
        f"unique label rows; {text}; solver {info.solver} ({info.iterations} iterations, "
        f"KKT residual {info.kkt_residual:.1e}, {info.seconds:.2f} s); background images "
        f"hold {info.background_mass:.1%} of the probability. Expected draws per epoch "
        f"containing each class{' and boxes of it' if _has_instances(info) else ''} "
        f"(count={getattr(info, 'count', 'images')!r} balanced):\n{table}"
    )


def _has_instances(info) -> bool:
    boxes = getattr(info, "instance_frequencies", None)
    return boxes is not None and not np.allclose(boxes, info.class_frequencies)


def _lam_texts(info, labels):
    lam = getattr(info, "lam", None)
    return [] if lam is None else [info.lam_text(labels.shape[0])]


def starved_message(owner: str, class_names, info):
    """The warning for rare classes that end below their uniform frequency (None if none)."""
    if not info.starved_classes:
        return None
    names = [class_names[i] for i in info.starved_classes]
    advice = (
        "objective='maxmin' lifts the worst class first"
        if info.worst_class_bound is None
        else "raise lam (lam_scale) or alpha_factor to spread p further"
    )
    return (
        f"{owner}: classes {names} are rarer than average but end BELOW their uniform "
        f"frequency: their images also hold frequent classes. {advice}."
    )


def report_solve(
    owner: str,
    class_names,
    labels,
    p,
    info,
    draws: int,
    settings: dict,
    log_info,
    log_warning,
    record_dir=None,
    image_keys=None,
) -> str:
    """Log the solve summary (:func:`solve_summary`) with ``log_info`` and the starved-class
    warning, if any, with ``log_warning``; with a ``record_dir`` (rank 0's run folder) also
    write ``sampling.json`` there. Returns the summary."""
    summary = solve_summary(owner, class_names, labels, info, draws, settings)
    log_info(summary)
    warning = starved_message(owner, class_names, info)
    if warning:
        log_warning(warning)
    if record_dir is not None:
        path = write_sampling_record(record_dir, owner, settings, class_names, image_keys, p, info)
        log_info(f"{owner}: per-image probabilities and class frequencies written to {path}")
    return summary


#: The per-run record every integration writes beside its logs.
RECORD_FILE = "sampling.json"


def write_sampling_record(
    directory: str, owner: str, settings: dict, class_names, image_keys, p, info
) -> str:
    """Write :func:`sampling_record` to ``directory/sampling.json``; returns the path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, RECORD_FILE)
    with open(path, "w") as handle:
        json.dump(sampling_record(owner, settings, class_names, image_keys, p, info), handle)
    return path


def sampling_record(owner: str, settings: dict, class_names, image_keys, p, info) -> dict:
    """The per-run record (``sampling.json``): per-image p with the image's key (path), the
    class frequencies and the solver report."""
    return dict(
        sampler=owner,
        settings=dict(settings),
        lam=getattr(info, "lam", None),
        lam_source=getattr(info, "lam_source", None),
        count=getattr(info, "count", "images"),
        instance_frequencies=_listed(getattr(info, "instance_frequencies", None)),
        uniform_instance_frequencies=_listed(getattr(info, "uniform_instance_frequencies", None)),
        instance_max_min_ratio=getattr(info, "instance_max_min_ratio", None),
        num_images=len(p),
        classes=list(class_names),
        solver=info.solver,
        kkt_residual=info.kkt_residual,
        seconds=info.seconds,
        uniform_class_frequencies=info.uniform_class_frequencies.tolist(),
        class_frequencies=info.class_frequencies.tolist(),
        max_min_ratio=info.max_min_ratio,
        coefficient_of_variation=info.coefficient_of_variation,
        background_mass=info.background_mass,
        starved_classes=[class_names[i] for i in info.starved_classes],
        images=[dict(key=str(k), p=float(v)) for k, v in zip(image_keys, p)],
    )


def _listed(values):
    return None if values is None else np.asarray(values).tolist()
