"""Each formula of METHOD.md against small hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from langchain_benchrouter.core.scoring import (
    best_model_on_average,
    gaussian_kernel_smooth,
    per_input_utility,
    predictor_accuracy,
    prob_beats,
    s1,
    s2,
    s3,
    task_descriptor,
)

G = np.array([[0.8, 0.4, 0.6], [0.6, 0.2, 0.4], [0.2, 0.6, 0.6], [1.0, 0.0, 0.4]])


def test_s1_is_mean_predicted_correctness() -> None:
    assert s1(G) == pytest.approx([0.65, 0.3, 0.5])


def test_s2_counts_strictly_above_threshold() -> None:
    assert s2(G) == pytest.approx([0.75, 0.25, 0.5])
    # 0.5 exactly is not "predicted correct"
    assert s2(np.array([[0.5], [0.51]])) == pytest.approx([0.5])
    assert s2(G, threshold=0.7) == pytest.approx([0.5, 0.0, 0.0])


def test_s3_mixes_s2_with_predictor_reliability() -> None:
    # S3 = p*S2 + (1-p)*(1-S2)
    out = s3(np.array([0.75, 0.25, 0.5]), np.array([0.6, 1.0, 0.0]))
    assert out == pytest.approx([0.6 * 0.75 + 0.4 * 0.25, 0.25, 0.5])
    # p = 0.5: no information, S3 = 0.5 whatever S2 is
    assert s3(np.array([0.1, 0.9]), np.array([0.5, 0.5])) == pytest.approx([0.5, 0.5])


def test_predictor_accuracy_skips_missing_labels() -> None:
    g = np.array([[0.9, 0.2], [0.1, 0.8], [0.7, 0.6]])
    y = np.array([[1.0, 0.0], [1.0, np.nan], [0.0, 1.0]])
    # model 0: agree, disagree, disagree -> 1/3; model 1: agree, (skip), agree -> 1
    assert predictor_accuracy(g, y) == pytest.approx([1 / 3, 1.0])
    assert np.isnan(predictor_accuracy(np.array([[0.9]]), np.array([[np.nan]]))[0])


def test_task_descriptor_mean_of_mean_distances() -> None:
    d = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    assert task_descriptor(d) == pytest.approx((0.2 + 0.5) / 2)
    with pytest.raises(ValueError, match="at least one input"):
        task_descriptor(np.zeros((0, 3)))


def test_gaussian_kernel_smoother_by_hand() -> None:
    ref_u = np.array([0.2, 0.5])
    vals = np.array([[0.6, 0.1], [0.9, np.nan]])
    w1 = math.exp(-0.5 * ((0.29 - 0.2) / 0.09) ** 2)
    w2 = math.exp(-0.5 * ((0.29 - 0.5) / 0.09) ** 2)
    out = gaussian_kernel_smooth(0.29, ref_u, vals, 0.09)
    assert out[0] == pytest.approx((w1 * 0.6 + w2 * 0.9) / (w1 + w2))
    assert out[1] == pytest.approx(0.1)  # NaN reference skipped for that model


def test_kernel_smoother_far_task_uses_nearest_reference() -> None:
    # exp(-0.5 * (10/0.09)^2) underflows; relative weights still pick the nearest pair
    out = gaussian_kernel_smooth(10.0, np.array([0.2, 0.5]), np.array([[0.6], [0.9]]), 0.09)
    assert out == pytest.approx([0.9])
    with pytest.raises(ValueError, match="bandwidth"):
        gaussian_kernel_smooth(0.1, np.array([0.2]), np.array([[0.6]]), 0.0)
    with pytest.raises(ValueError, match="two tasks"):
        gaussian_kernel_smooth(0.1, np.zeros(0), np.zeros((0, 1)), 0.09)


def test_prob_beats_small_exact_cases() -> None:
    # C_a ~ Bin(2, .5) (pmf .25 .5 .25), C_b = 0 surely -> P(C_a > C_b) = .75
    assert prob_beats(2, 0.5, 0, 1.0, 2) == pytest.approx(0.75)
    # two fair coins: P(a=1, b=0) = .25
    assert prob_beats(1, 0.5, 1, 0.5, 1) == pytest.approx(0.25)
    # N- part uses 1-p: n_plus=0, p=0.2 -> C = Bin(3, 0.8); vs C_b = 0
    assert prob_beats(0, 0.2, 0, 1.0, 3) == pytest.approx(1 - 0.2**3)


def test_prob_beats_normal_approximation_close_to_exact() -> None:
    import langchain_benchrouter.core.scoring as sc

    exact = prob_beats(2100, 0.6, 2000, 0.62, 4000)
    old = sc.EXACT_LIMIT
    sc.EXACT_LIMIT = 10
    try:
        approx = prob_beats(2100, 0.6, 2000, 0.62, 4000)
    finally:
        sc.EXACT_LIMIT = old
    assert approx == pytest.approx(exact, abs=0.01)


def test_best_model_on_average_skips_missing_tasks() -> None:
    acc = np.array([[0.9, 0.5, np.nan], [0.1, 0.6, 0.95]])
    # means: 0.5, 0.55, 0.95 (one task only, NaN skipped)
    assert best_model_on_average(acc) == 2


def test_per_input_utility_tie_break_cost_and_mask() -> None:
    g = np.array([[0.6, 0.6, 0.2], [0.2, 0.8, 0.9]])
    prior = np.array([0.7, 0.5, 0.1])
    assert per_input_utility(g, prior).argmax(axis=1).tolist() == [0, 2]
    costs = np.array([1.0, 0.1, 10.0])
    u = per_input_utility(g, prior, costs=costs, cost_weight=0.05)
    assert u[1] == pytest.approx([0.2 + 0.007 - 0.05, 0.8 + 0.005 - 0.005, 0.9 + 0.001 - 0.5])
    assert u.argmax(axis=1).tolist() == [1, 1]
    allowed = np.array([False, True, True])
    assert per_input_utility(g, prior, allowed=allowed).argmax(axis=1).tolist() == [1, 2]
    with pytest.raises(ValueError, match="needs a cost"):
        per_input_utility(g, prior, cost_weight=1.0)
