"""Reference pairs of the OOD confidence model: leave-one-task-out (u(d), p_true(d, m)).

For each benchmark task d, the correctness predictor is fitted on the other tasks; u(d)
is d's task descriptor against those tasks and p_true(d, m) the fraction of d's inputs
where 1[g_m(x) > threshold] equals the true label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.index import NeighborIndex
from langchain_benchrouter.predictors import KNNCorrectnessPredictor, masked_neighbor_mean
from langchain_benchrouter.scoring import predictor_accuracy, task_descriptor

__all__ = ["loto_reference_pairs"]


class _Predictor(Protocol):
    def fit(self, X: NDArray[np.float32], Y: NDArray[np.float32]) -> _Predictor: ...
    def predict_proba(self, Q: NDArray[np.float32]) -> NDArray[np.float32]: ...


def loto_reference_pairs(
    X: NDArray[np.float32],
    Y: NDArray[np.float32],
    task_index: NDArray[np.int64],
    *,
    n_tasks: int,
    k: int,
    descriptor_neighbors: int,
    correctness_threshold: float = 0.5,
    predictor_factory: Callable[[], _Predictor] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Leave-one-task-out reference pairs.

    Args:
        X: (n, d) benchmark embeddings.
        Y: (n, M) labels, NaN where missing.
        task_index: (n,) task of each input (rows with index -1 belong to no task).
        n_tasks: number of benchmark tasks.
        k: neighbours of the kNN predictor.
        descriptor_neighbors: K of the task descriptor u.
        correctness_threshold: g above this counts as predicted correct.
        predictor_factory: builds an unfitted non-kNN predictor (e.g. the MLP); ``None``
            uses the shared-neighbour kNN.

    Returns:
        ``(ref_u, ref_p)``: (T',) descriptors and (T', M) true predictor accuracies of the
        T' tasks that have inputs and a non-empty complement (all tasks, normally; none
        when the benchmark has a single task).
    """
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
        index = NeighborIndex(X_rest)
        nb = index.search(X[inside], n_search)
        if predictor_factory is None:
            prior = KNNCorrectnessPredictor(k=k).fit(X_rest, Y_rest, index=index).prior_
            g = masked_neighbor_mean(Y_rest, nb.indices[:, :k], prior)
        else:
            g = predictor_factory().fit(X_rest, Y_rest).predict_proba(X[inside])
        ref_u[d] = task_descriptor(nb.distances[:, :descriptor_neighbors])
        ref_p[d] = predictor_accuracy(g, Y[inside], correctness_threshold)
    keep = ~np.isnan(ref_u)
    return ref_u[keep], ref_p[keep]
