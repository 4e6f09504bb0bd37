"""Is the metric's gain real, or would any grouping of the tasks do as well?

Leave-one-task-out, the task-level choice of ``select_model(metric=...)`` for a task the
benchmark does not contain: the random-effects estimate of each model's accuracy from
the other tasks (:func:`~langchain_benchrouter.core.metric_prior.metric_estimate`), a switch
away from the best model on average (BMA) when the estimated gain is positive; with N
labelled inputs (10 seeded draws; the rest of the task scores the choice) the conjugate
update (:func:`~langchain_benchrouter.core.metric_prior.metric_posterior`). A task whose
metric no other task shares keeps BMA here (the router would fall back to the inputs'
kNN estimate, which on these benchmarks keeps BMA too).

It prints the mean over tasks of the chosen model's true accuracy with the real metrics,
then the same with the metrics shuffled across tasks (``--shuffles`` permutations,
group sizes kept): if the real metrics' number sits in the bulk of the shuffled ones,
the gain is the estimator's luck, not what the metric says.

Labels only, no embeddings: it runs in seconds.

    .venv/bin/python benchmarks/metric_prior_check.py ../shared/data/llmrouter
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter import Benchmark
from langchain_benchrouter.core.calibration import select_with_margin
from langchain_benchrouter.core.metric_prior import metric_estimate, metric_posterior

F64 = NDArray[np.float64]


def _loto(
    bench: Benchmark, metrics: Sequence[str | None], labeled: int, draws: int, seed: int
) -> float:
    """Mean over tasks of the chosen model's accuracy on the task's unlabelled inputs."""
    acc = bench.task_accuracy()
    y = bench.labels.astype(np.float64)
    scores = bench.scores.astype(np.float64)
    rng = np.random.default_rng(seed)
    per_task = []
    for t in range(bench.n_tasks):
        train = [u for u in range(bench.n_tasks) if u != t]
        table = acc[train]
        bma = int(np.argmax(np.nanmean(table, axis=0)))
        metric = metrics[t]
        shared = metric is not None and metric in [metrics[u] for u in train]
        prior = (
            metric_estimate(table, [metrics[u] for u in train], metric, bma)
            if shared and metric is not None
            else None
        )
        rows = np.flatnonzero(bench.task_index == t)
        runs = []
        for _ in range(draws if labeled else 1):
            perm = rng.permutation(rows)
            lab, keep = perm[:labeled], perm[labeled:]
            truth = np.nanmean(scores[keep], axis=0)
            if prior is None:
                chosen = bma
            else:
                est = metric_posterior(prior, y[lab]) if labeled else prior.accuracy
                chosen = select_with_margin(est, bma, 0.0, None)[0]  # as the router does
            runs.append(float(truth[chosen]))
        per_task.append(float(np.mean(runs)))
    return float(np.mean(per_task))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", help="benchmark directory or file")
    parser.add_argument("--labeled", type=int, default=20, help="labelled inputs (default 20)")
    parser.add_argument("--draws", type=int, default=10, help="draws of the labels")
    parser.add_argument("--shuffles", type=int, default=200, help="metric permutations")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    bench = Benchmark.load(args.data)
    metrics = bench.task_metrics
    if not any(m is not None for m in metrics):
        print(f"{bench.name}: no task names a metric; nothing to check")
        return
    acc = bench.task_accuracy()
    bma = float(
        np.mean(
            [
                acc[t, int(np.argmax(np.nanmean(np.delete(acc, t, 0), 0)))]
                for t in range(bench.n_tasks)
            ]
        )
    )
    named = dict(zip(bench.task_names, metrics, strict=True))
    print(f"{bench.name}: {bench.n_tasks} tasks, metrics {named}")
    print(f"BMA (leave-one-task-out) {bma:.4f}")
    rng = np.random.default_rng(args.seed)
    for n in (0, args.labeled):
        real = _loto(bench, metrics, n, args.draws, args.seed)
        shuffled = np.array(
            [
                _loto(
                    bench, list(rng.permutation(np.array(metrics, dtype=object))), n, 1, args.seed
                )
                for _ in range(args.shuffles)
            ]
        )
        share = float(np.mean(shuffled >= real - 1e-12))
        print(
            f"N = {n:2d}: real metrics {real:.4f}; shuffled metrics mean {shuffled.mean():.4f},"
            f" 95th percentile {np.quantile(shuffled, 0.95):.4f}, max {shuffled.max():.4f};"
            f" share of shuffles >= real {share:.3f} ({args.shuffles} shuffles"
            + (", 1 draw each" if n else "")
            + ")"
        )


if __name__ == "__main__":
    main()
