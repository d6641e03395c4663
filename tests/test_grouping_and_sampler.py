"""Proposition-1 grouping and the framework-free samplers."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch.utils.data import DataLoader

from mmdet_balanced import InfiniteProbabilitySampler, ProbabilitySampler, solve_balanced_qp
from mmdet_balanced.core.grouping import group_label_rows
from mmdet_balanced.core.sampler import alias_table
from tests.conftest import random_labels


@pytest.mark.parametrize("num_classes, density", [(5, 0.3), (300, 0.05), (40, 0.9)])
def test_grouping_equals_numpy_unique_rows(num_classes, density):
    # (300, 0.05) and (40, 0.9) have rows too long for one 63-bit key: the lexsort path.
    rng = np.random.default_rng(num_classes)
    labels = random_labels(rng, 500, num_classes, density)
    labels = np.vstack([labels, labels[:100], np.zeros((7, num_classes))])
    groups = group_label_rows(sp.csr_matrix(labels))
    unique, counts = np.unique(labels, axis=0, return_counts=True)
    assert groups.num_groups == len(unique)
    np.testing.assert_array_equal(groups.rows.toarray()[groups.inverse], labels)
    assert sorted(groups.counts) == sorted(counts)


def test_empirical_frequencies_match_probabilities(table1_labels):
    p = solve_balanced_qp(table1_labels)
    sampler = ProbabilitySampler(p, seed=3)
    hits = np.zeros(len(p))
    for epoch in range(200):
        sampler.set_epoch(epoch)
        hits += np.bincount(list(sampler), minlength=len(p))
    draws = hits.sum()
    assert draws == 200 * len(p)
    # per-class expected frequency: the quantity the QP balances (3-sigma binomial bound)
    empirical = table1_labels.T @ (hits / draws)
    expected = table1_labels.T @ p
    sigma = np.sqrt(expected * (1 - expected) / draws)
    assert np.all(np.abs(empirical - expected) < 4 * sigma + 1e-12)
    # chi-square over the unique label rows (image groups)
    _, group = np.unique(table1_labels, axis=0, return_inverse=True)
    observed = np.bincount(group.ravel(), weights=hits)
    wanted = np.bincount(group.ravel(), weights=p) * draws
    chi2 = np.sum((observed - wanted) ** 2 / wanted)
    assert chi2 < len(wanted) + 6 * np.sqrt(2 * len(wanted))


def test_draw_is_deterministic_in_seed_plus_epoch():
    p = np.linspace(1, 2, 50)
    a, b = ProbabilitySampler(p, seed=7), ProbabilitySampler(p, seed=7)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    c = ProbabilitySampler(p, seed=8)
    assert list(c) == list(a)  # seed + epoch is what counts, as in DefaultSampler


@pytest.mark.parametrize("draw", ["systematic", "iid"])
@pytest.mark.parametrize("round_up", [True, False])
def test_ranks_interleave_to_the_single_process_draw(round_up, draw):
    p = np.random.default_rng(0).random(103)
    single = list(ProbabilitySampler(p, seed=1, draw=draw))
    ranks = [
        list(ProbabilitySampler(p, seed=1, rank=r, world_size=4, round_up=round_up, draw=draw))
        for r in range(4)
    ]
    interleaved = [ranks[i % 4][i // 4] for i in range(sum(map(len, ranks)))]
    assert interleaved[:103] == single
    if round_up:
        assert {len(r) for r in ranks} == {26}


@pytest.mark.parametrize("draw", ["systematic", "iid"])
def test_infinite_sampler_continues_across_epoch_boundaries(draw):
    p = np.random.default_rng(1).random(30)
    p /= p.sum()
    stream = InfiniteProbabilitySampler(p, seed=5, draw=draw)
    it = iter(stream)
    first = [next(it) for _ in range(75)]
    epochs = [list(ProbabilitySampler(p, seed=5, draw=draw)) for _ in range(1)]
    assert first[:30] == epochs[0]  # the first chunk is the epoch-0 draw of the same seed
    rank1 = iter(InfiniteProbabilitySampler(p, seed=5, rank=1, world_size=3, draw=draw))
    assert [next(rank1) for _ in range(25)] == first[1::3]
    if draw == "systematic":  # every chunk of the stream is a systematic epoch of 30 draws
        for chunk in (first[:30], first[30:60]):
            counts = np.bincount(chunk, minlength=30)
            assert np.all((counts == np.floor(30 * p)) | (counts == np.ceil(30 * p)))


@pytest.mark.parametrize("num_samples", [None, 37, 1000])
def test_systematic_counts_are_floor_or_ceil_with_the_right_mean(num_samples):
    rng = np.random.default_rng(2)
    p = rng.random(50) ** 3 * (rng.random(50) < 0.9)  # skewed, with zeros
    p /= p.sum()
    sampler = ProbabilitySampler(p, num_samples=num_samples, seed=4)
    n = num_samples or len(p)
    epochs = 2000
    total = np.zeros(len(p))
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        indices = list(sampler)
        assert len(indices) == n
        counts = np.bincount(indices, minlength=len(p))
        assert np.all((counts == np.floor(n * p)) | (counts == np.ceil(n * p))), epoch
        total += counts
    # the count is floor + Bernoulli(fraction): mean n p_i, within 5 sigma over the epochs
    fraction = n * p - np.floor(n * p)
    sigma = np.sqrt(fraction * (1 - fraction) / epochs)
    assert np.all(np.abs(total / epochs - n * p) <= 5 * sigma + 1e-12)
    assert np.any(fraction > 0.05) and np.any(sigma > 0)  # the test has rounding to check


def test_systematic_order_is_random_and_independent_of_the_index():
    p = np.full(40, 1 / 40)  # uniform: every epoch is a permutation, as DefaultSampler's
    sampler = ProbabilitySampler(p, seed=0)
    first = list(sampler)
    assert sorted(first) == list(range(40)) and first != sorted(first)
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_systematic_draw_balances_each_epoch_better_than_iid(table1_labels):
    p = solve_balanced_qp(table1_labels)
    expected = table1_labels.T @ p * len(p)
    worst = {}
    for draw in ("systematic", "iid"):
        sampler = ProbabilitySampler(p, seed=0, draw=draw)
        errors = []
        for epoch in range(30):
            sampler.set_epoch(epoch)
            counts = table1_labels.T @ np.bincount(list(sampler), minlength=len(p))
            errors.append(np.abs(counts - expected).max())
        worst[draw] = np.median(errors)
    assert worst["systematic"] < worst["iid"] / 2


def test_the_sampler_holds_the_solved_vector_bit_for_bit():
    # a solver's p sums to 1 up to an ulp; dividing by that float sum again would change the
    # last bit of every entry (what made the suite machine-dependent)
    p = np.full(40, 1 / 40)
    p[:7] *= 1 + 2e-15
    assert p.sum() != 1.0
    np.testing.assert_array_equal(ProbabilitySampler(p).probabilities, p)
    np.testing.assert_allclose(ProbabilitySampler(2 * p).probabilities, p, rtol=1e-15)


def test_works_with_a_plain_pytorch_dataloader():
    data = torch.arange(20.0)
    p = np.where(np.arange(20) < 10, 0.0, 1.0)
    loader = DataLoader(data, batch_size=5, sampler=ProbabilitySampler(p, seed=0))
    drawn = torch.cat(list(loader))
    assert len(drawn) == 20 and drawn.min() >= 10


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(probabilities=[]), "non-empty"),
        (dict(probabilities=[0.5, -0.1]), "non-negative"),
        (dict(probabilities=[1.0], num_samples=0), "num_samples"),
        (dict(probabilities=[1.0], rank=2, world_size=2), "rank"),
        (dict(probabilities=[1.0], draw="poisson"), "draw='poisson' is not one of"),
    ],
)
def test_bad_sampler_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProbabilitySampler(**kwargs)


@pytest.mark.parametrize("seed", range(5))
def test_alias_table_reproduces_the_probabilities_exactly(seed):
    rng = np.random.default_rng(seed)
    p = rng.random(1000) ** 4 * (rng.random(1000) < 0.8)  # skewed, with zeros
    p /= p.sum()
    accept, alias = alias_table(p)
    implied = accept.copy()
    np.add.at(implied, alias, 1.0 - accept)
    np.testing.assert_allclose(implied / len(p), p, atol=1e-13)
