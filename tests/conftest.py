import os
import os.path as osp
import shutil
import tempfile

import numpy as np
import pytest


def _offline_ultralytics():
    """Ultralytics reads these at import: no DNS probe (YOLO_OFFLINE), settings and a font in a
    private config dir (it fetches Arial.ttf otherwise; any TTF will do)."""
    import matplotlib

    config_dir = tempfile.mkdtemp(prefix="yolo_config_")
    os.makedirs(osp.join(config_dir, "Ultralytics"))
    shutil.copy(
        osp.join(osp.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf", "DejaVuSans.ttf"),
        osp.join(config_dir, "Ultralytics", "Arial.ttf"),
    )
    os.environ.update(YOLO_OFFLINE="1", YOLO_CONFIG_DIR=config_dir)


_offline_ultralytics()

from mmdet_balanced.study.demo_data import fetal_label_matrix


@pytest.fixture(scope="session")
def table1_labels():
    """The paper-like Table-1 presence matrix (N = 1237, 11 classes)."""
    return fetal_label_matrix(1237, seed=0)


def random_labels(rng, num_images, num_classes, density=0.3):
    labels = (rng.random((num_images, num_classes)) < density).astype(float)
    labels[rng.integers(num_images, size=num_classes), np.arange(num_classes)] = 1.0
    return labels
