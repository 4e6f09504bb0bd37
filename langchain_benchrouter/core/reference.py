"""Reference pairs of the OOD confidence model: leave-one-task-out (u(d), p_true(d, m)).

For each benchmark task d, the correctness predictor is fitted on the other tasks; u(d)
is d's task descriptor against those tasks and p_true(d, m) the fraction of d's inputs
where 1[g_m(x) > threshold] equals the true label.

With the kNN predictor nothing has to be refitted per task: one neighbour index over the
whole benchmark answers every task's search with that task's rows masked out
(``allowed=``), and the label prior of "the other tasks" is the benchmark total minus
the task's own counts. The result is the same as building a fresh index on the other
tasks for every task (see ``tests/unit_tests/test_reference.py``), without T index
builds and T copies of the embeddings; the matrix products still cost N^2 d for exact
search, which is why large benchmarks use the approximate index
(``approximate="auto"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core.index import (
    DEFAULT_APPROXIMATE_ABOVE,
    Approximate,
    IndexDtype,
    NeighborIndex,
)
from langchain_benchrouter.core.predictors import masked_neighbor_mean
from langchain_benchrouter.core.scoring import predictor_accuracy, task_descriptor

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
    index: NeighborIndex | None = None,
    index_dtype: IndexDtype = "float32",
    approximate: Approximate = False,
    approximate_above: int = DEFAULT_APPROXIMATE_ABOVE,
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
        index: a :class:`NeighborIndex` over exactly the rows of ``X`` (e.g. the router's
            own), reused instead of building one; the options below are then ignored.
        index_dtype: storage precision of the index built here.
        approximate: ``False``, ``True`` or ``"auto"``, as in :class:`NeighborIndex`.
        approximate_above: size threshold of ``approximate="auto"``.

    Returns:
        ``(ref_u, ref_p)``: (T',) descriptors and (T', M) true predictor accuracies of the
        T' tasks that have inputs and a non-empty complement (all tasks, normally; none
        when the benchmark has a single task).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(30, 4)).astype(np.float32)
        >>> Y = (rng.random((30, 2)) < 0.5).astype(np.float32)
        >>> u, p = loto_reference_pairs(
        ...     X, Y, np.repeat(np.arange(3), 10), n_tasks=3, k=5, descriptor_neighbors=19
        ... )
        >>> u.shape, p.shape
        ((3,), (3, 2))
    """
    m = Y.shape[1]
    ref_u = np.full(n_tasks, np.nan)
    ref_p = np.full((n_tasks, m), np.nan)
    if n_tasks < 2:
        return ref_u[:0], ref_p[:0]
    if index is not None and index.size != X.shape[0]:
        msg = f"the index holds {index.size} rows but X has {X.shape[0]}"
        raise ValueError(msg)
    n_search = max(k, descriptor_neighbors)
    in_task = task_index >= 0
    counts = np.bincount(task_index[in_task], minlength=n_tasks)
    known = ~np.isnan(Y)
    # Per-model label counts of all task rows: a task's complement is total minus the task.
    total_known = known[in_task].sum(axis=0, dtype=np.float64)
    Y0 = np.where(known, Y, 0.0)
    total_sum = Y0[in_task].sum(axis=0, dtype=np.float64)
    for d in range(n_tasks):
        if counts[d] == 0 or counts[d] == in_task.sum():
            continue
        if index is None:
            index = NeighborIndex(
                X,
                dtype=index_dtype,
                approximate=approximate,
                approximate_above=approximate_above,
            )
        inside = task_index == d
        rest = in_task & ~inside
        nb = index.search(X[inside], n_search, allowed=rest)
        if predictor_factory is None:
            rest_known = total_known - known[inside].sum(axis=0, dtype=np.float64)
            rest_sum = total_sum - Y0[inside].sum(axis=0, dtype=np.float64)
            prior = np.divide(
                rest_sum, rest_known, out=np.full(m, 0.5), where=rest_known > 0
            ).astype(np.float32)
            g = masked_neighbor_mean(Y, nb.indices[:, :k], prior)
        else:
            g = predictor_factory().fit(X[rest], Y[rest]).predict_proba(X[inside])
        ref_u[d] = task_descriptor(nb.distances[:, :descriptor_neighbors])
        ref_p[d] = predictor_accuracy(g, Y[inside], correctness_threshold)
    keep = ~np.isnan(ref_u)
    return ref_u[keep], ref_p[keep]
