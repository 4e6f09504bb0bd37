"""How much can zero-shot task selection gain over the best model on average (BMA)?

For each held-out task t of a benchmark (leave-one-task-out), a family of zero-shot
estimators of every model's accuracy on t is scored, each with a margin rule "leave BMA
only if the estimate beats it by more than delta". Three numbers per family (mean over
tasks of the chosen model's true accuracy):

* ``best fixed``: the best (parameters, delta) over the grid, chosen by looking at the
  held-out tasks themselves: an optimistic ceiling, not a method.
* ``nested``: parameters and delta chosen by leave-one-task-out *inside* the other tasks
  (argmax of the inner mean), as the router does.
* ``nested 1-SE``: the same with the one-standard-error rule (the router's default).

Families: ``knn`` (beta-binomial kNN shrunk toward the neighbours' task accuracy, the
calibrated task-level predictor), ``taskw`` (the accuracy vector of the benchmark tasks
weighted by the tasks of the k nearest neighbours, shrunk toward the mean by lambda).

It also prints the within-task correlation between the kNN-predicted and the true
difference "model m minus BMA" per input: near 0 means the embeddings carry no per-input
signal about which of two models wins on an unseen task.

    .venv/bin/python benchmarks/zero_shot_ceiling.py ../shared/data/llmrouter
    .venv/bin/python benchmarks/zero_shot_ceiling.py ../shared/data/mmlu_pro
    .venv/bin/python benchmarks/zero_shot_ceiling.py ../shared/data/llmrouter --embedder PATH

The embeddings come from the offline MiniLM (or ``--embedder``, a model directory) through
the embedding cache (``$BENCHROUTER_CACHE_DIR``): the first run on a dataset embeds it
(minutes).
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable

import numpy as np
from _common import embedded_benchmark
from numpy.typing import NDArray

from langchain_benchrouter.core.calibration import one_standard_error_choice

DELTAS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 1.0)
KMAX = 500
Estimator = Callable[[int, frozenset[int], tuple[float, ...]], NDArray[np.float64]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data")
    ap.add_argument("--embedder", default=None, help="a model path; default: the offline MiniLM")
    args = ap.parse_args()
    bench, X = embedded_benchmark(args.data, args.embedder)
    Y = bench.labels.astype(np.float64)
    ti = bench.task_index
    T = bench.n_tasks
    A = np.nan_to_num(bench.task_accuracy())
    rows = [np.flatnonzero(ti == t) for t in range(T)]
    # Each input's nearest neighbours in the *other* tasks, nearest first (masked later).
    order = {}
    for t in range(T):
        sim = X[rows[t]] @ X.T
        sim[:, rows[t]] = -np.inf
        order[t] = np.argsort(-sim, axis=1)[:, : KMAX + max(len(r) for r in rows)]

    def neighbours(t: int, excluded: frozenset[int], k: int) -> NDArray[np.intp]:
        idx = order[t]
        ok = ~np.isin(ti[idx], list(excluded))
        keep = np.argsort(~ok, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(idx, keep, axis=1)

    def tasks_in(t: int, excluded: frozenset[int]) -> list[int]:
        return [d for d in range(T) if d != t and d not in excluded]

    def knn(t: int, excluded: frozenset[int], p: tuple[float, ...]) -> NDArray[np.float64]:
        k, a = int(p[0]), p[1]
        idx = neighbours(t, excluded, k)
        prior = A[ti[idx]].mean(axis=1)
        g = (np.nansum(Y[idx], axis=1) + a * prior) / ((~np.isnan(Y[idx])).sum(axis=1) + a)
        out: NDArray[np.float64] = g.mean(axis=0)
        return out

    def taskw(t: int, excluded: frozenset[int], p: tuple[float, ...]) -> NDArray[np.float64]:
        k, lam = int(p[0]), p[1]
        mu = A[tasks_in(t, excluded)].mean(axis=0)
        w = np.bincount(ti[neighbours(t, excluded, k)].ravel(), minlength=T).astype(float)
        out: NDArray[np.float64] = mu + lam * ((w / w.sum()) @ (A - mu))
        return out

    families: dict[str, tuple[Estimator, list[tuple[float, ...]]]] = {
        "knn": (knn, list(itertools.product((10, 30, 100), (1.0, 5.0, 20.0)))),
        "taskw": (taskw, list(itertools.product((10, 30, 100, 200, 500), (0.25, 0.5, 1.0)))),
    }

    def bma(tasks: list[int]) -> int:
        return int(np.argmax(A[tasks].mean(axis=0)))

    def pick(est: NDArray[np.float64], b: int, delta: float) -> int:
        c = int(np.argmax(est))
        return c if est[c] - est[b] > delta else b

    bma_acc = np.mean([A[t, bma(tasks_in(t, frozenset()))] for t in range(T)])
    oracle = A.max(axis=1).mean()
    print(f"{bench.name}: BMA {bma_acc:.4f}, per-task oracle {oracle:.4f}")
    print(f"{'family':8s} {'best fixed':>11s} {'nested':>8s} {'nested 1-SE':>12s}")
    for name, (est, grid) in families.items():
        cells = [(p, d) for p in grid for d in DELTAS]
        fixed = np.zeros(len(cells))
        nested = {"argmax": 0.0, "1se": 0.0}
        for t in range(T):
            outer = tasks_in(t, frozenset())
            ests = {p: est(t, frozenset(), p) for p in grid}
            b = bma(outer)
            fixed += [A[t, pick(ests[p], b, d)] / T for p, d in cells]
            inner = np.array(
                [
                    [
                        A[d, pick(e, bma(tasks_in(d, frozenset({t}))), delta)]
                        for e in (est(d, frozenset({t}), p) for p in grid)
                        for delta in DELTAS
                    ]
                    for d in outer
                ]
            )
            mean = np.round(inner.mean(axis=0), 12)
            choice = {
                "argmax": int(len(mean) - 1 - np.argmax(mean[::-1])),
                "1se": one_standard_error_choice(inner),
            }
            for rule, c in choice.items():
                p, d = cells[c]
                nested[rule] += A[t, pick(ests[p], b, d)] / T
        print(f"{name:8s} {fixed.max():11.4f} {nested['argmax']:8.4f} {nested['1se']:12.4f}")

    corr = []
    for t in range(T):
        b = bma(tasks_in(t, frozenset()))
        idx = neighbours(t, frozenset(), 30)
        prior = A[ti[idx]].mean(axis=1)
        g = (np.nansum(Y[idx], axis=1) + 5 * prior) / ((~np.isnan(Y[idx])).sum(axis=1) + 5)
        pred, true = g - g[:, [b]], Y[rows[t]] - Y[rows[t]][:, [b]]
        for m in range(bench.n_models):
            ok = ~np.isnan(true[:, m])
            if m != b and ok.sum() > 2 and pred[ok, m].std() > 0 and true[ok, m].std() > 0:
                corr.append(np.corrcoef(pred[ok, m], true[ok, m])[0, 1])
    print(
        f"within-task correlation of predicted and true (model - BMA) per input: "
        f"mean {np.mean(corr):+.3f} over {len(corr)} (task, model) pairs"
    )


if __name__ == "__main__":
    main()
