"""In distribution: do the words of an input say which model wins it, where embeddings don't?

Random 80/20 splits (``Benchmark.random_split``, seeds 0..4), as ``benchrouter evaluate
--protocol random-split``. One classifier per model, pooled over the tasks, fitted on
the training rows with the task as one-hot features, predicts each test input's
correctness; an input leaves its task's best model on training labels
(``task_best_train``) for the argmax of the predictions only if that beats the best
model's prediction by more than a margin. Families (``--families``, comma-separated):

* ``emb_lr_C``: scikit-learn logistic regression on the MiniLM embeddings;
* ``emb_mlp_WD``: the library's MLP predictor (weight decay WD) on the embeddings;
* ``emb_hgb``: scikit-learn histogram gradient boosting on the embeddings (slow);
* ``tfidf_lr_C``: logistic regression on TF-IDF word uni- and bigrams (the features of
  the shipped lexical correction, :mod:`langchain_benchrouter.core.lexical`).

Printed: the mean over tasks of the routed accuracy minus ``task_best_train``'s, per
seed and averaged, for every (family, margin). The grid is scored on the test splits,
so its best cell is an optimistic ceiling, not a method (the shipped correction tunes
its penalty and margin on training rows only: ``benchrouter evaluate``).

    .venv/bin/python benchmarks/lexical_ceiling.py ../shared/data/llmrouter
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from _common import embedded_benchmark, print_seed_gains
from sklearn.exceptions import ConvergenceWarning

from langchain_benchrouter.core.predictors import MLPCorrectnessPredictor

MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
DEFAULT_FAMILIES = "emb_lr_0.1,emb_lr_1,emb_mlp_0.001,emb_mlp_0.1,tfidf_lr_1,tfidf_lr_3,tfidf_lr_10"


def _features(family: str, X: np.ndarray, T: np.ndarray, texts: np.ndarray, a: Any, b: Any) -> Any:
    from scipy.sparse import csr_matrix, hstack

    if family.startswith("tfidf"):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50_000)
        train = hstack([vec.fit_transform(texts[a]), csr_matrix(T[a])]).tocsr()
        return train, hstack([vec.transform(texts[b]), csr_matrix(T[b])]).tocsr()
    return np.hstack([X[a], T[a]]), np.hstack([X[b], T[b]])


def _predict(family: str, train: Any, test: Any, labels: np.ndarray) -> np.ndarray:
    """(test rows, M) predicted correctness of each model."""
    if family.startswith("emb_mlp"):
        wd = float(family.rsplit("_", 1)[1])
        mlp = MLPCorrectnessPredictor(epochs=30, weight_decay=wd, dropout=0.3)
        mlp.fit(train.astype(np.float32), labels.astype(np.float32))
        return mlp.predict_proba(test.astype(np.float32)).astype(np.float64)
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    out = np.zeros((test.shape[0], labels.shape[1]))
    for m in range(labels.shape[1]):
        known = ~np.isnan(labels[:, m])
        y = labels[known, m]
        if y.size == 0 or y.min() == y.max():
            out[:, m] = y[0] if y.size else 0.0
            continue
        clf: Any
        if family == "emb_hgb":
            clf = HistGradientBoostingClassifier(
                learning_rate=0.05, max_iter=200, max_leaf_nodes=15, l2_regularization=1.0,
                early_stopping=True, validation_fraction=0.15, random_state=0,
            )  # fmt: skip
        else:
            clf = LogisticRegression(C=float(family.rsplit("_", 1)[1]), max_iter=500)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(train[known], y)
        out[:, m] = clf.predict_proba(test)[:, 1]
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", help="benchmark directory or file")
    parser.add_argument("--seeds", type=int, default=5, help="split seeds 0..N-1 (default 5)")
    parser.add_argument("--families", default=DEFAULT_FAMILIES, help="comma-separated")
    args = parser.parse_args(argv)
    bench, X = embedded_benchmark(args.data, None)
    labels = bench.labels.astype(np.float64)
    scores = bench.scores.astype(np.float64)
    T = np.eye(bench.n_tasks, dtype=np.float32)[bench.task_index]
    texts = np.asarray(bench.texts, dtype=object)
    row = {(bench.tasks[i], bench.instance_ids[i]): i for i in range(bench.n_inputs)}
    gains: dict[tuple[str, float], list[float]] = {}
    for seed in range(args.seeds):
        train, test = bench.random_split(0.2, seed)
        a = np.array([row[k] for k in zip(train.tasks, train.instance_ids, strict=True)])
        b = np.array([row[k] for k in zip(test.tasks, test.instance_ids, strict=True)])
        for family in args.families.split(","):
            feats_a, feats_b = _features(family, X, T, texts, a, b)
            P = _predict(family, feats_a, feats_b, labels[a])
            for margin in MARGINS:
                per_task = []
                for t in range(bench.n_tasks):
                    in_t = bench.task_index[b] == t
                    rows, p = b[in_t], P[in_t]
                    rows_tr = a[bench.task_index[a] == t]
                    best = int(np.nanargmax(np.nanmean(scores[rows_tr], axis=0)))
                    top = p.argmax(axis=1)
                    lead = p[np.arange(rows.size), top] - p[:, best]
                    chosen = np.where(lead > margin, top, best)
                    routed = np.nanmean(scores[rows, chosen])
                    per_task.append(float(routed - np.nanmean(scores[rows, best])))
                gains.setdefault((family, margin), []).append(float(np.mean(per_task)))
    labelled = {f"{family:14s} margin {margin:<4g}": g for (family, margin), g in gains.items()}
    print_seed_gains(bench.name, labelled)


if __name__ == "__main__":
    main()
