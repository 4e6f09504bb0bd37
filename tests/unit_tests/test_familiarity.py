"""The nearest-neighbour two-sample test behind "is this task a benchmark task?"."""

from __future__ import annotations

import numpy as np

from langchain_benchrouter.core.familiarity import (
    FAMILIAR_PVALUE,
    MIN_INPUTS,
    same_distribution_pvalue,
)


def test_same_distribution_is_rarely_rejected() -> None:
    # Under the null the p-value is about uniform: at the 5% level, few of 40 pairs reject.
    rejected = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        a, b = rng.normal(size=(60, 8)), rng.normal(size=(90, 8))
        rejected += same_distribution_pvalue(a, b, seed=seed) < FAMILIAR_PVALUE
    assert rejected <= 6


def test_a_shifted_sibling_is_told_apart() -> None:
    # The same topic with a systematic difference (a "sibling task"): always rejected.
    rng = np.random.default_rng(1)
    base = rng.normal(size=(200, 8))
    a = base[:100] + 0.1 * rng.normal(size=(100, 8))
    b = base[100:] + 0.1 * rng.normal(size=(100, 8))
    b[:, 0] += 1.0
    assert same_distribution_pvalue(a, b) < 0.01
    assert same_distribution_pvalue(a, base[100:]) > FAMILIAR_PVALUE


def test_small_samples_are_never_familiar_and_answers_are_reproducible() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(MIN_INPUTS - 1, 4))
    assert same_distribution_pvalue(a, rng.normal(size=(100, 4))) == 0.0
    b, c = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    assert same_distribution_pvalue(b, c) == same_distribution_pvalue(b, c)
