"""The fast leave-one-task-out reference pairs equal the simple per-task computation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.neighbors import NearestNeighbors

from langchain_benchrouter import Benchmark
from langchain_benchrouter.core.embeddings import HashingEmbedder
from langchain_benchrouter.core.index import NeighborIndex
from langchain_benchrouter.core.predictors import KNNCorrectnessPredictor, MLPCorrectnessPredictor
from langchain_benchrouter.core.reference import loto_reference_pairs
from langchain_benchrouter.core.scoring import predictor_accuracy, task_descriptor

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def simple_loto(
    X: NDArray[np.float32],
    Y: NDArray[np.float32],
    task_index: NDArray[np.int64],
    *,
    n_tasks: int,
    k: int,
    descriptor_neighbors: int,
    correctness_threshold: float = 0.5,
    predictor_factory: Callable[[], MLPCorrectnessPredictor] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The previous implementation: a fresh scikit-learn brute index on the other tasks."""
    m = Y.shape[1]
    ref_u = np.full(n_tasks, np.nan)
    ref_p = np.full((n_tasks, m), np.nan)
    n_search = max(k, descriptor_neighbors)
    for d in range(n_tasks if n_tasks >= 2 else 0):
        inside = task_index == d
        rest = ~inside & (task_index >= 0)
        if not inside.any() or not rest.any():
            continue
        X_rest, Y_rest = X[rest], Y[rest]
        nn = NearestNeighbors(metric="cosine", algorithm="brute").fit(X_rest)
        n = min(n_search, len(X_rest))
        dist, idx = nn.kneighbors(X[inside], n_neighbors=n)
        dist = np.clip(dist, 0.0, 2.0).astype(np.float32)
        if predictor_factory is None:
            pred = KNNCorrectnessPredictor(k=k).fit(X_rest, Y_rest, index=NeighborIndex(X_rest))
            from langchain_benchrouter.core.predictors import masked_neighbor_mean

            g = masked_neighbor_mean(Y_rest, idx[:, :k].astype(np.int64), pred.prior_)
        else:
            g = predictor_factory().fit(X_rest, Y_rest).predict_proba(X[inside])
        ref_u[d] = task_descriptor(dist[:, :descriptor_neighbors])
        ref_p[d] = predictor_accuracy(g, Y[inside], correctness_threshold)
    keep = ~np.isnan(ref_u)
    return ref_u[keep], ref_p[keep]


def synthetic(
    n_tasks: int = 6, per_task: int = 80, dim: int = 16, m: int = 5, seed: int = 0
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_tasks, dim))
    task = np.repeat(np.arange(n_tasks), per_task)
    rng.shuffle(task)  # tasks interleaved, not contiguous
    X = (centers[task] + rng.normal(scale=0.8, size=(len(task), dim))).astype(np.float32)
    Y = (rng.random((len(task), m)) < 0.3 + 0.1 * (task[:, None] % 4)).astype(np.float32)
    Y[rng.random(Y.shape) < 0.1] = np.nan
    return X, Y, task.astype(np.int64)


def assert_same(
    fast: tuple[NDArray[np.float64], NDArray[np.float64]],
    slow: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> None:
    np.testing.assert_array_equal(fast[1], slow[1])
    # Same neighbours, distances from a different (but equally float32) matrix product.
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize(("k", "K"), [(5, 19), (3, 4), (7, 2)])
def test_fast_path_equals_simple_path(k: int, K: int, dtype: str) -> None:
    X, Y, task = synthetic()
    fast = loto_reference_pairs(
        X,
        Y,
        task,
        n_tasks=6,
        k=k,
        descriptor_neighbors=K,
        index_dtype=dtype,  # type: ignore[arg-type]
    )
    slow = simple_loto(X, Y, task, n_tasks=6, k=k, descriptor_neighbors=K)
    if dtype == "float32":
        assert_same(fast, slow)
    else:  # float16 storage: near-identical, a near-tie may flip
        np.testing.assert_allclose(fast[0], slow[0], atol=2e-3)
        np.testing.assert_allclose(fast[1], slow[1], atol=0.05)


def test_reusing_an_index_gives_the_same_pairs() -> None:
    X, Y, task = synthetic(seed=1)
    own = loto_reference_pairs(X, Y, task, n_tasks=6, k=5, descriptor_neighbors=19)
    shared = loto_reference_pairs(
        X, Y, task, n_tasks=6, k=5, descriptor_neighbors=19, index=NeighborIndex(X)
    )
    assert_same(own, shared)
    with pytest.raises(ValueError, match="rows"):
        loto_reference_pairs(
            X, Y, task, n_tasks=6, k=5, descriptor_neighbors=19, index=NeighborIndex(X[:10])
        )


def test_rows_outside_every_task_are_never_neighbours() -> None:
    X, Y, task = synthetic(seed=2)
    task = task.copy()
    task[:50] = -1  # e.g. labelled user inputs
    fast = loto_reference_pairs(X, Y, task, n_tasks=6, k=5, descriptor_neighbors=19)
    slow = simple_loto(X, Y, task, n_tasks=6, k=5, descriptor_neighbors=19)
    assert_same(fast, slow)


def test_small_complements_and_empty_tasks() -> None:
    X, Y, task = synthetic(n_tasks=3, per_task=30, seed=3)
    task = task.copy()
    task[task == 2] = 0  # task 2 has no rows; tasks 0 and 1 remain
    keep = np.flatnonzero(task == 0)[:40].tolist() + np.flatnonzero(task == 1)[:3].tolist()
    X, Y, task = X[keep], Y[keep], task[keep]  # task 0's complement: 3 rows < K
    fast = loto_reference_pairs(X, Y, task, n_tasks=3, k=5, descriptor_neighbors=19)
    slow = simple_loto(X, Y, task, n_tasks=3, k=5, descriptor_neighbors=19)
    assert fast[0].shape == (2,)
    assert_same(fast, slow)


def test_single_task_gives_no_pairs() -> None:
    X, Y, task = synthetic(n_tasks=1)
    u, p = loto_reference_pairs(X, Y, task, n_tasks=1, k=5, descriptor_neighbors=19)
    assert u.shape == (0,) and p.shape == (0, Y.shape[1])


def test_mlp_factory_path_matches() -> None:
    X, Y, task = synthetic(n_tasks=3, per_task=40, seed=4)

    def factory() -> MLPCorrectnessPredictor:
        return MLPCorrectnessPredictor(hidden=(8, 8), epochs=2)

    fast = loto_reference_pairs(
        X, Y, task, n_tasks=3, k=5, descriptor_neighbors=19, predictor_factory=factory
    )
    slow = simple_loto(
        X, Y, task, n_tasks=3, k=5, descriptor_neighbors=19, predictor_factory=factory
    )
    assert_same(fast, slow)


def tie_free(texts: list[str]) -> NDArray[np.float32]:
    """Hashing embeddings plus a little noise: exact distance ties (which both paths break
    arbitrarily, as scikit-learn does) become strict orderings."""
    X = HashingEmbedder().embed(texts)
    noise = np.random.default_rng(0).normal(scale=1e-2, size=X.shape)
    return (X + noise).astype(np.float32)


def test_bundled_benchmark_matches_the_simple_path() -> None:
    bench = Benchmark.bundled()
    X = tie_free(bench.texts)
    Y = bench.labels.astype(np.float32)
    kw = {"n_tasks": bench.n_tasks, "k": 5, "descriptor_neighbors": 19}
    assert_same(
        loto_reference_pairs(X, Y, bench.task_index, **kw),  # type: ignore[arg-type]
        simple_loto(X, Y, bench.task_index, **kw),  # type: ignore[arg-type]
    )


def test_shared_mmlu_pro_matches_the_simple_path() -> None:
    bench = Benchmark.load(SHARED / "mmlu_pro" / "instances.jsonl.gz")
    X = tie_free(bench.texts)
    Y = bench.labels.astype(np.float32)
    kw = {"n_tasks": bench.n_tasks, "k": 5, "descriptor_neighbors": 19}
    assert_same(
        loto_reference_pairs(X, Y, bench.task_index, **kw),  # type: ignore[arg-type]
        simple_loto(X, Y, bench.task_index, **kw),  # type: ignore[arg-type]
    )
