"""Repeat-factor rules (no framework import): how often an image is repeated per epoch so that
rare classes are seen more, as in LVIS's repeat factor sampling (RFS) and its instance-aware
variant (IRFS, Yaman et al. 2023). The MMDetection and Detectron2 glue apply them."""

import numpy as np

from .qp import count_matrix, presence_matrix


def image_repeat_factors(labels, threshold: float, sqrt: bool = True) -> np.ndarray:
    """The LVIS repeat-factor rule both frameworks use: class c repeats ``r_c = max(1, t / f_c)``
    (its square root if ``sqrt``), f_c its image fraction; an image takes the largest r_c of
    its classes, 1 without boxes. As they are: Detectron2's ``RepeatFactorTrainingSampler``
    (fractional, rounded stochastically each epoch)."""
    labels = presence_matrix(labels)
    fraction = np.asarray(labels.sum(axis=0)).ravel() / labels.shape[0]
    return _per_image(labels, class_repeat_factors(fraction, threshold, sqrt))


def class_repeat_factors(frequency, threshold: float, sqrt: bool = True) -> np.ndarray:
    """The LVIS class rule ``r_c = max(1, t / f_c)`` (its square root if ``sqrt``) for each
    class frequency ``f_c``; a class with ``f_c = 0`` gets ``inf`` (it has no image to
    repeat). RFS passes image fractions, IRFS ``sqrt(f_img_c * f_box_c)``."""
    with np.errstate(divide="ignore"):
        ratio = threshold / np.asarray(frequency, dtype=float)
    return np.maximum(1.0, np.sqrt(ratio) if sqrt else ratio)


def instance_class_frequency(counts) -> np.ndarray:
    """IRFS's class frequency ``sqrt(f_img_c * f_box_c)``: the geometric mean of the share of
    images holding class c and the share of all (counted) boxes that are of class c."""
    counts = count_matrix(counts)
    images = np.asarray((counts > 0).sum(axis=0)).ravel() / counts.shape[0]
    boxes = np.asarray(counts.sum(axis=0)).ravel()
    return np.sqrt(images * boxes / max(boxes.sum(), 1.0))


def instance_repeat_factors(counts, threshold: float) -> np.ndarray:
    """Instance-aware repeat factors (IRFS, Yaman et al. 2023): class c repeats
    ``r_c = max(1, sqrt(t / sqrt(f_img_c * f_box_c)))`` (:func:`instance_class_frequency`);
    an image takes the largest r_c of its classes, 1 without boxes. ``counts``: (N, C) box
    counts per image and class."""
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(
            f"threshold={threshold!r} must be a positive frequency (e.g. the "
            "median class frequency; LVIS uses 0.001)"
        )
    counts = count_matrix(counts)
    factor = class_repeat_factors(instance_class_frequency(counts), threshold)
    return _per_image(presence_matrix(counts), factor)


def _per_image(presence, class_factor) -> np.ndarray:
    """Each image's largest class factor (1 for an image without boxes)."""
    image_factor = np.asarray(
        presence.multiply(class_factor[None, :]).tocsr().max(axis=1).todense()
    ).ravel()
    return np.maximum(image_factor, 1.0)
