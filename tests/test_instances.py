"""count="instances": balancing box counts instead of image presence, exactly, in every
integration."""

import json
import logging
import os.path as osp

import numpy as np
import pytest
import scipy.sparse as sp
from mmengine.logging import MMLogger

from mmdet_balanced import BalancedQPSampler, label_matrix, solve_balanced_qp
from mmdet_balanced.core.grouping import group_label_rows
from mmdet_balanced.core.maxmin import solve_floor_quadprog
from mmdet_balanced.core.qp import instance_weights, kkt_residual
from mmdet_balanced.study.demo_data import FETAL_CLASSES, long_tailed_labels, make_fetal_dataset
from tests.test_mmdet_integration import coco_dataset


def box_counts(num_images=400, num_classes=8, seed=0):
    """Presence from the long-tailed generator, 1 + Geometric boxes per present class."""
    presence = long_tailed_labels(
        num_images, num_classes, max_labels=4, exponent=1.2, seed=seed, every_class=True
    )
    rng = np.random.default_rng(seed)
    counts = presence.copy().astype(np.float64)
    counts.data = rng.geometric(0.45, size=counts.nnz).astype(np.float64)
    return counts


def test_instance_objective_is_exact_and_equals_the_reference_solver():
    counts = box_counts()
    p, info = solve_balanced_qp(counts, count="instances", lam_scale=0.4, return_info=True)
    assert info.count == "instances" and info.kkt_residual <= 1e-10
    reference = solve_balanced_qp(counts, count="instances", lam_scale=0.4, solver="cvxopt")
    assert np.abs(p - reference).max() * counts.shape[0] <= 1e-5
    # the KKT residual of the QP on the normalised count matrix, computed from scratch
    weights, scale = instance_weights(sp.csr_matrix(counts))
    assert scale == pytest.approx(counts.data.mean())
    dense = weights.toarray()
    f = dense.T @ p
    gradient = 2 * dense @ (len(f) * f - f.sum()) + info.lam * p
    free = p > 0.5 / len(p) * (1 + 1e-9)
    assert np.ptp(gradient[free]) * len(p) <= 1e-8  # equal gradient on the free images
    assert gradient[~free].min() >= gradient[free].max() - 1e-8 / len(p)
    # instance frequencies are the expected boxes per draw
    np.testing.assert_allclose(info.instance_frequencies, counts.T @ p)
    np.testing.assert_allclose(info.class_frequencies, (counts > 0).T @ p)


def test_equal_rows_share_p_and_counts_change_it():
    counts = np.array([[1, 0], [1, 0], [3, 0], [0, 1], [0, 1], [1, 1]], dtype=float)
    p = solve_balanced_qp(counts, count="instances", lam=0.5)
    assert p[0] == p[1] and p[3] == p[4]  # identical weighted rows (Proposition 1)
    assert p[2] != p[0]  # the same class, more boxes
    presence = solve_balanced_qp(counts, count="images", lam=0.5)
    assert presence[2] == presence[0]  # presence sees no difference


def test_lam_scale_keeps_its_meaning_whatever_the_count_scale():
    counts = box_counts(seed=1)
    p = solve_balanced_qp(counts, count="instances", lam_scale=0.404)
    doubled = counts.copy()
    doubled.data *= 2  # twice the boxes everywhere: the same balance problem
    np.testing.assert_allclose(
        solve_balanced_qp(doubled, count="instances", lam_scale=0.404), p, rtol=0, atol=1e-14
    )
    ones = (counts > 0).astype(float)
    with pytest.warns(UserWarning, match="labels holds only 0/1 entries"):
        solve_balanced_qp(ones, count="instances")


def test_instance_count_levels_boxes_better_than_presence():
    counts = box_counts(num_images=600, num_classes=10, seed=2)
    _, images = solve_balanced_qp(counts, lam_scale=0.404, return_info=True)
    _, instances = solve_balanced_qp(counts, count="instances", lam_scale=0.404, return_info=True)
    assert instances.instance_max_min_ratio < images.instance_max_min_ratio
    assert images.max_min_ratio < instances.max_min_ratio  # each wins on what it balances


def test_maxmin_on_instance_counts_equals_the_active_set_reference():
    counts = box_counts(num_images=500, num_classes=8, seed=3)
    p, info = solve_balanced_qp(
        counts, count="instances", lam=50.0, objective="maxmin", return_info=True
    )
    weights, _ = instance_weights(sp.csr_matrix(counts))
    groups = group_label_rows(weights)
    tau = (1 - 1e-3) * info.worst_class_bound + 1e-11
    reference = solve_floor_quadprog(groups.rows, groups.counts, 0.5, 50.0, tau)
    assert np.abs(p - reference[groups.inverse]).max() * len(p) <= 1e-6
    assert info.kkt_residual <= 1e-9
    assert (weights.T @ p).min() >= (1 - 1e-3) * info.worst_class_bound


def test_bad_count_is_named():
    with pytest.raises(ValueError, match=r"count='boxes' is not one of \('images', 'instances'\)"):
        solve_balanced_qp([[1, 0], [0, 1]], count="boxes")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """The fetal demo set (one box per class and image) with extra boxes: every 3rd box is
    repeated up to 3 times, so that box counts differ from presence."""
    root = str(tmp_path_factory.mktemp("instances"))
    make_fetal_dataset(root, num_train=60, num_val=20, image_size=32, seed=4)
    path = osp.join(root, "train.json")
    data = json.load(open(path))
    next_id = max(a["id"] for a in data["annotations"]) + 1
    extra = []
    for k, annotation in enumerate(data["annotations"][::3]):
        for _ in range(1 + k % 3):
            extra.append(dict(annotation, id=next_id))
            next_id += 1
    data["annotations"] += extra
    json.dump(data, open(path, "w"))
    return root


def test_mmdetection_reads_box_counts_and_the_sampler_balances_them(data_root, tmp_path):
    data = json.load(open(osp.join(data_root, "train.json")))
    index = {image["id"]: i for i, image in enumerate(data["images"])}
    expected = np.zeros((len(index), len(FETAL_CLASSES)))
    for annotation in data["annotations"]:
        if not annotation.get("iscrowd", 0):
            expected[index[annotation["image_id"]], annotation["category_id"] - 1] += 1
    dataset = coco_dataset(data_root)
    counts = label_matrix(dataset, count="instances")
    np.testing.assert_array_equal(counts.toarray(), expected)
    np.testing.assert_array_equal(label_matrix(dataset).toarray(), expected > 0)
    log_file = tmp_path / "sampler.log"
    MMLogger.get_instance("instances", log_file=str(log_file), log_level=logging.INFO)
    sampler = BalancedQPSampler(dataset, count="instances", lam_scale=0.404, seed=0)
    np.testing.assert_array_equal(
        sampler.probabilities, solve_balanced_qp(expected, count="instances", lam_scale=0.404)
    )
    log = log_file.read_text()
    assert "balanced boxes" in log and "count='instances' balanced" in log
    # count="images" (default) logs both balances too, but solves on presence
    images = BalancedQPSampler(dataset, lam_scale=0.404, seed=0)
    np.testing.assert_array_equal(
        images.probabilities, solve_balanced_qp(expected > 0, lam_scale=0.404)
    )
    assert kkt_residual(expected > 0, images.probabilities, 0.5, 0.404 * len(index)) <= 1e-10


def test_detectron2_and_ultralytics_read_box_counts():
    from mmdet_balanced.detectron2 import labels_from_dataset_dicts
    from mmdet_balanced.ultralytics.labels import labels_from_yolo_dataset

    dicts = [
        dict(
            file_name="a",
            annotations=[dict(category_id=0), dict(category_id=0), dict(category_id=1, iscrowd=1)],
        ),
        dict(file_name="b", annotations=[dict(category_id=1)]),
    ]
    np.testing.assert_array_equal(
        labels_from_dataset_dicts(dicts, 2, count="instances").toarray(), [[2, 0], [0, 1]]
    )
    np.testing.assert_array_equal(labels_from_dataset_dicts(dicts, 2).toarray(), [[1, 0], [0, 1]])

    class YOLOData:
        labels = [dict(cls=np.array([[0.0], [0.0], [1.0]])), dict(cls=np.zeros((0, 1)))]

    np.testing.assert_array_equal(
        labels_from_yolo_dataset(YOLOData(), 2, count="instances").toarray(), [[2, 1], [0, 0]]
    )


def test_irfs_factors_equal_a_hand_computation_in_both_frameworks(data_root):
    """IRFS (Yaman et al. 2023): r_c = max(1, sqrt(t / sqrt(f_img_c f_box_c))), an image its
    largest r_c, 1 without boxes; MMDetection's InstanceBalancedDataset repeats ceil(r_i)."""
    from mmdet_balanced import InstanceBalancedDataset, instance_repeat_factors
    from mmdet_balanced.detectron2 import repeat_factors_from_instance_frequency

    data = json.load(open(osp.join(data_root, "train.json")))
    index = {image["id"]: i for i, image in enumerate(data["images"])}
    counts = np.zeros((len(index), len(FETAL_CLASSES)))
    for annotation in data["annotations"]:
        counts[index[annotation["image_id"]], annotation["category_id"] - 1] += 1
    t = 0.3
    expected = np.ones(len(index))
    for i in range(len(index)):
        for c in np.flatnonzero(counts[i]):
            f_img = (counts[:, c] > 0).mean()
            f_box = counts[:, c].sum() / counts.sum()
            expected[i] = max(expected[i], max(1.0, np.sqrt(t / np.sqrt(f_img * f_box))))
    np.testing.assert_allclose(instance_repeat_factors(counts, t), expected, rtol=1e-12)
    wrapped = InstanceBalancedDataset(dataset=coco_dataset(data_root), oversample_thr=t)
    np.testing.assert_array_equal(
        np.bincount(wrapped.repeat_indices, minlength=len(index)), np.ceil(expected)
    )
    dicts = [
        dict(
            file_name=image["file_name"],
            annotations=[
                dict(category_id=a["category_id"] - 1)
                for a in data["annotations"]
                if a["image_id"] == image["id"]
            ],
        )
        for image in data["images"]
    ]
    np.testing.assert_allclose(
        repeat_factors_from_instance_frequency(dicts, t, len(FETAL_CLASSES)).numpy(),
        expected,
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="threshold=0 must be a positive frequency"):
        instance_repeat_factors(counts, 0)
