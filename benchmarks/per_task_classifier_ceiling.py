"""In distribution: can a classifier fitted inside each task beat the task's best model?

Random 80/20 splits (``Benchmark.random_split``, seeds 0..4), as ``benchrouter evaluate
--protocol random-split``. For each task and model, a scikit-learn logistic regression
on the embeddings of the task's training inputs predicts each test input's
correctness; an input leaves the task's best model on training labels
(``task_best_train``) for the argmax of the predictions only if its predicted
correctness beats that model's by more than a margin. Printed: the mean over tasks of
the routed accuracy minus ``task_best_train``'s, per seed and averaged, for every
(C, margin) of a small grid. The grid is scored on the test splits, so its best cell
is an optimistic ceiling, not a method.

    .venv/bin/python benchmarks/per_task_classifier_ceiling.py ../shared/data/llmrouter
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence

import numpy as np
from _common import embedded_benchmark, print_seed_gains
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

CS = (0.01, 0.1, 1.0)
MARGINS = (0.0, 0.05, 0.1, 0.2)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", help="benchmark directory or file")
    parser.add_argument("--seeds", type=int, default=5, help="split seeds 0..N-1 (default 5)")
    parser.add_argument("--embedder", default=None, help="a model path (default: MiniLM)")
    args = parser.parse_args(argv)
    bench, X = embedded_benchmark(args.data, args.embedder)
    labels = bench.labels.astype(np.float64)
    scores = bench.scores.astype(np.float64)
    row = {(bench.tasks[i], bench.instance_ids[i]): i for i in range(bench.n_inputs)}
    gains: dict[tuple[float, float], list[float]] = {}
    for seed in range(args.seeds):
        train, test = bench.random_split(0.2, seed)
        rows_tr = np.array([row[k] for k in zip(train.tasks, train.instance_ids, strict=True)])
        rows_te = np.array([row[k] for k in zip(test.tasks, test.instance_ids, strict=True)])
        for c in CS:
            per_margin: dict[float, list[float]] = {m: [] for m in MARGINS}
            for t in range(bench.n_tasks):
                a = rows_tr[bench.task_index[rows_tr] == t]
                b = rows_te[bench.task_index[rows_te] == t]
                best = int(np.nanargmax(np.nanmean(scores[a], axis=0)))
                proba = np.zeros((b.size, bench.n_models))
                for m in range(bench.n_models):
                    known = ~np.isnan(labels[a, m])
                    y = labels[a[known], m]
                    if y.size == 0 or y.min() == y.max():
                        proba[:, m] = y[0] if y.size else 0.0
                        continue
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        clf = LogisticRegression(C=c, max_iter=300).fit(X[a[known]], y)
                    proba[:, m] = clf.predict_proba(X[b])[:, 1]
                top = proba.argmax(axis=1)
                lead = proba[np.arange(b.size), top] - proba[:, best]
                base = float(np.nanmean(scores[b, best]))
                for margin in MARGINS:
                    chosen = np.where(lead > margin, top, best)
                    per_margin[margin].append(float(np.nanmean(scores[b, chosen])) - base)
            for margin, diffs in per_margin.items():
                gains.setdefault((c, margin), []).append(float(np.mean(diffs)))
    labelled = {f"C = {c:<5g} margin {margin:<4g}": g for (c, margin), g in gains.items()}
    print_seed_gains(bench.name, labelled)


if __name__ == "__main__":
    main()
