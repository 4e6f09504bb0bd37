"""NeighborIndex: exact search equals scikit-learn's, float16 storage, masks, approximate."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from langchain_benchrouter.core import index as index_mod
from langchain_benchrouter.core.index import NeighborIndex, Neighbors, _top_candidates


def data(n: int = 3000, d: int = 24, q: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, d))
    X = centres[rng.integers(0, 12, n)] + rng.normal(scale=0.7, size=(n, d))
    Q = centres[rng.integers(0, 12, q)] + rng.normal(scale=0.7, size=(q, d))
    return X.astype(np.float32), Q.astype(np.float32)


def sklearn_search(X: np.ndarray, Q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    nn = NearestNeighbors(metric="cosine", algorithm="brute").fit(X)
    dist, idx = nn.kneighbors(Q, n_neighbors=n)
    return np.clip(dist, 0, 2).astype(np.float32), idx


@pytest.mark.parametrize("n_neighbors", [1, 5, 19, 200])
def test_exact_search_equals_sklearn(n_neighbors: int) -> None:
    X, Q = data()
    nb = NeighborIndex(X).search(Q, n_neighbors)
    dist, idx = sklearn_search(X, Q, n_neighbors)
    assert nb.indices.dtype == np.int64 and nb.distances.dtype == np.float32
    np.testing.assert_allclose(nb.distances, dist, atol=1e-6)
    # Rows whose similarities differ by less than the snapping grid are ties, ordered by
    # row index; sklearn orders them by float round-off. Nothing else may differ.
    swapped = nb.indices != idx
    assert swapped.mean() < 0.01
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    q_rows = np.nonzero(swapped)[0]
    ours = np.einsum("ij,ij->i", Qn[q_rows].astype(np.float64), Xn[nb.indices[swapped]])
    theirs = np.einsum("ij,ij->i", Qn[q_rows].astype(np.float64), Xn[idx[swapped]])
    assert np.all(np.abs(ours - theirs) <= 2 * index_mod._SIM_GRID)


def test_blocked_search_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    X, Q = data(n=5000)
    whole = NeighborIndex(X).search(Q, 19)
    monkeypatch.setattr(index_mod, "_MAX_ROW_BLOCK", 777)
    monkeypatch.setattr(index_mod, "_SIM_BLOCK_ELEMENTS", 777 * 7)
    blocked = NeighborIndex(X).search(Q, 19)
    np.testing.assert_array_equal(blocked.indices, whole.indices)
    np.testing.assert_allclose(blocked.distances, whole.distances, atol=1e-6)


def test_top_candidates_finds_the_largest_entries() -> None:
    rng = np.random.default_rng(1)
    sim = rng.normal(size=(40, 5003)).astype(np.float32)
    for n in (1, 7, 19, 150):
        got = np.sort(np.take_along_axis(sim, _top_candidates(sim, n), axis=1), axis=1)
        want = np.sort(sim, axis=1)[:, -n:]
        np.testing.assert_array_equal(got, want)


def test_ties_are_broken_by_row_index() -> None:
    X = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
    nb = NeighborIndex(X).search(np.array([[1, 0]], np.float32), 3)
    assert nb.indices.tolist() == [[0, 1, 3]]


def test_a_query_alone_and_in_a_batch_gets_the_same_neighbours() -> None:
    # 60 rows orthogonal to the query up to float round-off (a true tie at distance 1),
    # which a lone query (matrix-vector product) and a batch (matrix product) sum in a
    # different order; the k-th neighbour falls inside the tie.
    rng = np.random.default_rng(3)
    d = 64
    q = rng.normal(size=d)
    q /= np.linalg.norm(q)
    V = rng.normal(size=(60, d))
    V -= np.outer(V @ q, q)
    near = q + rng.normal(scale=0.3, size=(5, d))
    X = np.vstack([near, V, rng.normal(size=(200, d))]).astype(np.float32)
    index = NeighborIndex(X)
    others = rng.normal(size=(6, d)).astype(np.float32)
    alone = index.search(q[None, :].astype(np.float32), 20)
    for batch in (np.vstack([q, others[0]]), np.vstack([others, q])):
        together = index.search(batch.astype(np.float32), 20)
        row = 0 if batch.shape[0] == 2 else batch.shape[0] - 1
        np.testing.assert_array_equal(together.indices[row], alone.indices[0])
        np.testing.assert_array_equal(together.distances[row], alone.distances[0])


def test_float16_storage_halves_memory_and_keeps_neighbours() -> None:
    X, Q = data()
    f32, f16 = NeighborIndex(X), NeighborIndex(X, dtype="float16")
    assert f16.nbytes * 2 == f32.nbytes == X.nbytes
    a, b = f32.search(Q, 19), f16.search(Q, 19)
    np.testing.assert_allclose(a.distances, b.distances, atol=2e-3)
    overlap = np.mean(
        [len(set(x) & set(y)) / 19 for x, y in zip(a.indices, b.indices, strict=True)]
    )
    assert overlap > 0.97


def test_allowed_mask_equals_an_index_of_the_allowed_rows() -> None:
    X, Q = data()
    allowed = np.random.default_rng(2).random(len(X)) < 0.3
    nb = NeighborIndex(X).search(Q, 19, allowed=allowed)
    _, idx = sklearn_search(X[allowed], Q, 19)
    np.testing.assert_array_equal(nb.indices, np.flatnonzero(allowed)[idx])


def test_clamps_to_the_eligible_rows_and_validates() -> None:
    X, Q = data(n=30)
    index = NeighborIndex(X)
    assert index.search(Q, 100).indices.shape == (len(Q), 30)
    allowed = np.zeros(30, bool)
    allowed[[3, 9]] = True
    assert sorted(index.search(Q[:1], 19, allowed=allowed).indices[0].tolist()) == [3, 9]
    assert index.search(Q[:0], 5).indices.shape == (0, 5)
    with pytest.raises(ValueError, match="allowed"):
        index.search(Q, 5, allowed=np.zeros(30, bool))
    with pytest.raises(ValueError, match="allowed"):
        index.search(Q, 5, allowed=np.ones(3, bool))
    with pytest.raises(ValueError, match="shape"):
        index.search(Q[:, :3], 5)
    with pytest.raises(ValueError, match="non-empty"):
        NeighborIndex(np.zeros((0, 4), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        NeighborIndex(X, dtype="int8")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="approximate"):
        NeighborIndex(X, approximate="yes")  # type: ignore[arg-type]


def test_zero_vectors_are_at_distance_one() -> None:
    X = np.array([[0, 0], [1, 0]], dtype=np.float32)
    nb = NeighborIndex(X).search(np.array([[0, 1]], np.float32), 2)
    np.testing.assert_allclose(nb.distances, [[1.0, 1.0]])


def test_auto_stays_exact_below_the_threshold() -> None:
    X, _ = data(n=100)
    assert not NeighborIndex(X, approximate="auto", approximate_above=101).approximate


def test_auto_without_faiss_warns_and_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_mod, "faiss_available", lambda: False)
    X, _ = data(n=200)
    with pytest.warns(RuntimeWarning, match="faiss"):
        index = NeighborIndex(X, approximate="auto", approximate_above=100)
    assert not index.approximate
    with pytest.raises(ImportError, match="faiss"):
        NeighborIndex(X, approximate=True)


def test_neighbors_head() -> None:
    nb = Neighbors(np.zeros((2, 5), np.float32), np.arange(10).reshape(2, 5))
    assert nb.head(2).indices.tolist() == [[0, 1], [5, 6]]
