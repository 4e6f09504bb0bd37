"""The approximate (faiss) index: recall against exact search. Needs the ``faiss`` extra."""

from __future__ import annotations

import numpy as np
import pytest

from langchain_benchrouter.core.index import NeighborIndex
from langchain_benchrouter.core.reference import loto_reference_pairs

pytest.importorskip("faiss")


def clustered(n: int, d: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, d))
    labels = rng.integers(0, 40, n)
    X = centres[labels] + rng.normal(scale=0.5, size=(n, d))
    return X.astype(np.float32), labels


def recall(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a, b, strict=True)]))


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_approximate_recall_against_exact(dtype: str) -> None:
    X, _ = clustered(20_000)
    Q = X[:300] + 0.01
    exact = NeighborIndex(X).search(Q, 19)
    ann = NeighborIndex(X, dtype=dtype, approximate=True)  # type: ignore[arg-type]
    assert ann.approximate
    nb = ann.search(Q, 19)
    assert nb.indices.shape == (300, 19) and nb.indices.dtype == np.int64
    assert recall(nb.indices, exact.indices) >= 0.95
    np.testing.assert_allclose(nb.distances[:, 0], exact.distances[:, 0], atol=2e-3)
    full = ann.search(Q, 19, exact=True)  # every list scanned
    assert recall(full.indices, exact.indices) >= 0.99


def test_auto_switches_above_the_threshold() -> None:
    X, _ = clustered(2_000)
    assert NeighborIndex(X, approximate="auto", approximate_above=1_000).approximate
    assert not NeighborIndex(X, approximate="auto", approximate_above=5_000).approximate


def test_masked_search_never_returns_excluded_rows() -> None:
    X, labels = clustered(10_000)
    ann = NeighborIndex(X, approximate=True, nprobe=2)
    inside = labels == 3
    nb = ann.search(X[inside], 19, allowed=~inside)
    assert (nb.indices >= 0).all()
    assert not inside[nb.indices].any()
    exact = NeighborIndex(X).search(X[inside], 19, allowed=~inside)
    assert recall(nb.indices, exact.indices) >= 0.8


def test_approximate_reference_pairs_close_to_exact() -> None:
    X, labels = clustered(12_000)
    task = (labels % 8).astype(np.int64)
    rng = np.random.default_rng(1)
    Y = (rng.random((len(X), 4)) < 0.3 + 0.1 * (labels[:, None] % 5)).astype(np.float32)
    kw = {"n_tasks": 8, "k": 5, "descriptor_neighbors": 19}
    u0, p0 = loto_reference_pairs(X, Y, task, **kw)  # type: ignore[arg-type]
    u1, p1 = loto_reference_pairs(X, Y, task, approximate=True, **kw)  # type: ignore[arg-type]
    np.testing.assert_allclose(u1, u0, atol=5e-3)
    np.testing.assert_allclose(p1, p0, atol=0.03)
