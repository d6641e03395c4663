"""Property-based checks of the QP, mosaic partners, and every bad input's message."""

import random
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from mmdet.datasets import CocoDataset
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmdet_balanced import (
    BalancedMultiImageMixDataset,
    BalancedQPSampler,
    balanced_objective,
    label_matrix,
    solve_balanced_qp,
)
from mmdet_balanced.study.demo_data import FETAL_CLASSES, make_fetal_dataset
from tests.test_mmdet_integration import tiny_config

label_matrices = st.integers(1, 8).flatmap(
    lambda c: arrays(np.int8, st.tuples(st.integers(1, 60), st.just(c)), elements=st.integers(0, 1))
)


@settings(max_examples=150, deadline=None)
@given(
    labels=label_matrices,
    alpha_factor=st.floats(0, 1),
    lam=st.sampled_from([0.0, 1e-3, 1.0, 50.0, 500.0, 1e5]),
)
def test_qp_properties(labels, alpha_factor, lam):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes present in no image are dropped, warned
        p = solve_balanced_qp(labels, alpha_factor=alpha_factor, lam=lam)
    n = len(p)
    assert abs(p.sum() - 1) < 1e-12
    assert p.min() >= alpha_factor / n * (1 - 1e-9) - 1e-15
    _, group = np.unique(labels, axis=0, return_inverse=True)
    for g in np.unique(group):
        assert np.ptp(p[group.ravel() == g]) == 0.0  # Proposition 1, exactly
    kept = labels[:, labels.sum(axis=0) > 0]
    uniform = np.full(n, 1.0 / n)
    assert balanced_objective(kept, p, lam) <= balanced_objective(kept, uniform, lam) + 1e-9


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("errors")
    make_fetal_dataset(str(root), num_train=40, num_val=20, image_size=64, seed=6)
    return str(root)


def test_mosaic_partners_follow_the_balanced_probabilities(data_root):
    mosaic = dict(type="Mosaic", img_scale=(64, 64), pad_val=114.0)
    dataset = BalancedMultiImageMixDataset(
        dataset=dict(
            type="CocoDataset",
            data_root=data_root,
            ann_file="train.json",
            data_prefix=dict(img="images/"),
            metainfo=dict(classes=FETAL_CLASSES),
            filter_cfg=dict(filter_empty_gt=False),
            pipeline=[dict(type="LoadImageFromFile"), dict(type="LoadAnnotations", with_bbox=True)],
        ),
        pipeline=[mosaic, dict(type="PackDetInputs")],
        lam=50.0,
    )
    p = dataset.partner_probabilities
    np.testing.assert_array_equal(p, solve_balanced_qp(label_matrix(dataset.dataset), lam=50.0))
    random.seed(0)
    counts = np.zeros(len(p))
    for _ in range(20000):
        for index in dataset.pipeline[0].get_indexes(dataset.dataset):
            counts[index] += 1
    assert counts.sum() == 60000  # Mosaic still asks for 3 partners
    labels = label_matrix(dataset.dataset)
    np.testing.assert_allclose(labels.T @ (counts / counts.sum()), labels.T @ p, rtol=0.05)
    item = dataset[0]  # a real mosaic is built from balanced partners
    assert item["inputs"].shape[-2:] == (128, 128)
    sampler = BalancedQPSampler(dataset, seed=0, lam=50.0)  # the sampler sees through it
    np.testing.assert_array_equal(sampler.probabilities, p)


class NoLabels(Dataset):
    def __len__(self):
        return 3

    def __getitem__(self, index):
        return index


def test_dataset_without_label_access_is_explained():
    with pytest.raises(TypeError, match="neither MMEngine's data_list nor get_cat_ids"):
        label_matrix(NoLabels())


def test_dataset_without_any_box_stops_the_sampler(data_root):
    wrong = CocoDataset(  # class names that match no category in the annotation file
        data_root=data_root,
        ann_file="train.json",
        data_prefix=dict(img="images/"),
        metainfo=dict(classes=("kidney", "liver")),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=[],
    )
    with pytest.raises(ValueError, match="metainfo\\['classes'\\] matches the category names"):
        BalancedQPSampler(wrong, seed=0)


@pytest.mark.parametrize(
    "option, value, error, message",
    [
        ("alpha_factor", 2.0, ValueError, "alpha_factor=2.0 is out of range"),
        ("alpha_factor", "0.5", TypeError, "alpha_factor must be a real number"),
        ("lam", "500", TypeError, "lam must be a real number"),
        ("objective", "minmax", ValueError, "objective='minmax' is not one of"),
        ("num_samples", 0, ValueError, "num_samples must be a positive int"),
    ],
)
def test_bad_sampler_settings_stop_before_training(
    data_root, tmp_path, option, value, error, message
):
    cfg = tiny_config("yolov3_mobilenetv2_fetal-demo_balanced.py", data_root, str(tmp_path))
    cfg.train_dataloader.sampler[option] = value
    with pytest.raises(error, match=message):  # while the dataloader is built: no step taken
        Runner.from_cfg(cfg).train()
    assert not list(tmp_path.glob("*/vis_data/scalars.json"))


def test_unknown_oversampling_class_in_a_config(data_root, tmp_path):
    cfg = tiny_config("yolov3_mobilenetv2_fetal-demo_oversampling.py", data_root, str(tmp_path))
    cfg.train_dataloader.sampler = dict(type="OversamplingSampler", factors=dict(hart=5))
    with pytest.raises(ValueError, match=r"unknown classes \['hart'\]"):
        Runner.from_cfg(cfg).train()
