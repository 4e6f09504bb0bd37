"""Correctness predictors: masked shared-neighbour kNN and the multi-output MLP."""

from __future__ import annotations

import numpy as np
import pytest

from langchain_benchrouter.core.index import NeighborIndex
from langchain_benchrouter.core.predictors import (
    KNNCorrectnessPredictor,
    MLPCorrectnessPredictor,
    masked_neighbor_mean,
)
from langchain_benchrouter.errors import NotFittedError


def _unit(rows: list[list[float]]) -> np.ndarray:
    x = np.array(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


X = _unit([[1, 0], [0.9, 0.1], [0.8, 0.2], [0, 1], [0.1, 0.9]])
Y = np.array(
    [[1, 0, np.nan], [1, np.nan, np.nan], [0, 0, np.nan], [0, 1, 1], [0, 1, 0]], dtype=np.float32
)


def test_neighbor_index_is_cosine_and_clamps_n() -> None:
    index = NeighborIndex(X)
    nb = index.search(_unit([[1, 0.05]]), 3)
    assert nb.indices.tolist() == [[0, 1, 2]]
    assert np.all(np.diff(nb.distances[0]) >= 0)
    q = _unit([[1, 0.05]])[0]
    assert nb.distances[0, 0] == pytest.approx(1 - float(q @ X[0]), abs=1e-6)
    assert index.search(X[:1], 50).indices.shape == (1, 5)


def test_masked_neighbor_mean_by_hand() -> None:
    prior = np.array([0.4, 0.5, 0.5], dtype=np.float32)
    out = masked_neighbor_mean(Y, np.array([[0, 1, 2]]), prior)
    # model 0: (1+1+0)/3; model 1: labels 0 and 0 (one missing) -> 0; model 2: all missing -> prior
    assert out[0] == pytest.approx([2 / 3, 0.0, 0.5])


def test_knn_predictor_shares_one_search_and_masks() -> None:
    knn = KNNCorrectnessPredictor(k=3).fit(X, Y)
    # prior = column means over known labels
    assert knn.prior_ == pytest.approx([0.4, 0.5, 0.5])
    proba = knn.predict_proba(_unit([[1, 0.05], [0.05, 1]]))
    assert proba.shape == (2, 3)
    assert proba[0] == pytest.approx([2 / 3, 0.0, 0.5])
    # second query: neighbours 3, 4, 2 -> model0 0, model1 (1+1+0)/3, model2 (1+0)/2
    assert proba[1] == pytest.approx([0.0, 2 / 3, 0.5])
    nb = knn.index_.search(_unit([[0.05, 1]]), 10)
    assert knn.predict_from_neighbors(nb) == pytest.approx(proba[1:])


def test_knn_rejects_bad_input() -> None:
    with pytest.raises(NotFittedError):
        KNNCorrectnessPredictor().predict_proba(X)
    with pytest.raises(ValueError, match="same n"):
        KNNCorrectnessPredictor().fit(X, Y[:2])
    with pytest.raises(ValueError, match="k must be"):
        KNNCorrectnessPredictor(k=0).fit(X, Y)


def test_mlp_learns_a_separable_rule_and_roundtrips_state() -> None:
    rng = np.random.default_rng(0)
    Xr = rng.normal(size=(400, 8)).astype(np.float32)
    Yr = np.stack([(Xr[:, 0] > 0), (Xr[:, 1] > 0)], axis=1).astype(np.float32)
    Yr[::3, 1] = np.nan  # missing labels are masked, not learned as 0
    mlp = MLPCorrectnessPredictor(epochs=30).fit(Xr, Yr)
    proba = mlp.predict_proba(Xr)
    assert proba.shape == (400, 2)
    acc0 = ((proba[:, 0] > 0.5) == (Yr[:, 0] == 1)).mean()
    assert acc0 > 0.9
    params, arrays = mlp.get_state()
    again = MLPCorrectnessPredictor.from_state(params, arrays, Xr, Yr)
    assert np.array_equal(again.predict_proba(Xr), proba)
    with pytest.raises(NotFittedError):
        MLPCorrectnessPredictor().predict_proba(Xr)
