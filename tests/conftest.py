import numpy as np
import pytest

from mmdet_balanced.study.demo_data import fetal_label_matrix


@pytest.fixture(scope="session")
def table1_labels():
    """The paper-like Table-1 presence matrix (N = 1237, 11 classes)."""
    return fetal_label_matrix(1237, seed=0)


def random_labels(rng, num_images, num_classes, density=0.3):
    labels = (rng.random((num_images, num_classes)) < density).astype(float)
    labels[rng.integers(num_images, size=num_classes), np.arange(num_classes)] = 1.0
    return labels
