"""Which benchmark task does an input look like? A logistic regression on its embedding.

The per-input calibrated router shrinks each model's kNN estimate toward the model's
accuracy on the tasks the input resembles. Counting the tasks of the k nearest neighbours
(:func:`~langchain_benchrouter.core.calibration.neighbor_task_prior`) is noisy with small k;
a multinomial logistic regression over all benchmark inputs separates the tasks better
(measured on the random 80/20 split of both shared datasets, docs/results.md), and its
posterior P(task | x) weights the per-task accuracies into the prior.

scikit-learn fits it; prediction is a plain softmax of the stored coefficients, so a saved
router needs no pickle (and no scikit-learn object) to predict.

Example:
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], dtype=np.float32)
    >>> clf = TaskClassifier().fit(X, np.array([0, 0, 1, 1]), n_tasks=2)
    >>> clf.predict_proba(np.array([[1.0, 0.0]], dtype=np.float32)).argmax(axis=1).tolist()
    [0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["TASK_CLASSIFIER_C", "TASK_CLASSIFIER_ROWS", "TaskClassifier"]

F64 = NDArray[np.float64]

#: Inverse regularisation strength of the logistic regression (scikit-learn's default).
TASK_CLASSIFIER_C = 1.0
#: At most this many benchmark inputs train it (a seeded sample, per task in proportion to
#: its size): enough to tell tasks apart, and it bounds the fit time on large benchmarks.
TASK_CLASSIFIER_ROWS = 20_000


class TaskClassifier:
    """P(task | embedding): multinomial logistic regression over the benchmark's tasks.

    Args:
        C: inverse regularisation strength.
        max_rows: train on a seeded, task-stratified sample above this many inputs.
        seed: seed of that sample.

    Example:
        >>> import numpy as np
        >>> X = np.eye(3, dtype=np.float32)[[0, 0, 1, 1, 2, 2]]
        >>> clf = TaskClassifier().fit(X, np.array([0, 0, 1, 1, 2, 2]), n_tasks=3)
        >>> clf.predict_proba(X[:1]).shape
        (1, 3)
    """

    def __init__(
        self, C: float = TASK_CLASSIFIER_C, *, max_rows: int = TASK_CLASSIFIER_ROWS, seed: int = 0
    ) -> None:
        self.C = C
        self.max_rows = max_rows
        self.seed = seed

    def fit(
        self, X: NDArray[Any], task_index: NDArray[np.int64], *, n_tasks: int
    ) -> TaskClassifier:
        """Fit on the rows with a task (``task_index >= 0``); returns self.

        With a single task present the posterior is that task everywhere.

        Raises:
            ValueError: no row has a task, or a task index is out of range.
        """
        ti = np.asarray(task_index, dtype=np.int64)
        rows = np.flatnonzero(ti >= 0)
        if rows.size == 0:
            msg = "the task classifier needs at least one input with a task"
            raise ValueError(msg)
        if int(ti[rows].max()) >= n_tasks:
            msg = f"task index {int(ti[rows].max())} out of range for {n_tasks} tasks"
            raise ValueError(msg)
        if rows.size > self.max_rows:
            rng = np.random.default_rng(self.seed)
            keep = []
            for t in np.unique(ti[rows]):
                members = rows[ti[rows] == t]
                quota = max(1, round(self.max_rows * members.size / rows.size))
                keep.append(rng.choice(members, size=min(quota, members.size), replace=False))
            rows = np.sort(np.concatenate(keep))
        present = np.unique(ti[rows])
        dim = X.shape[1]
        coef = np.zeros((n_tasks, dim))
        # Tasks absent from the training rows get a logit of -inf (probability 0).
        intercept = np.full(n_tasks, -np.inf)
        if present.size == 1:
            intercept[present[0]] = 0.0
        else:
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=self.C, max_iter=1000)
            lr.fit(np.asarray(X[rows], dtype=np.float64), ti[rows])
            w, b = np.asarray(lr.coef_), np.asarray(lr.intercept_)
            if present.size == 2:  # binary: one logit z for the second class = softmax of (0, z)
                w = np.vstack([np.zeros_like(w[0]), w[0]])
                b = np.array([0.0, b[0]])
            coef[present], intercept[present] = w, b
        self.coef_: F64 = coef
        self.intercept_: F64 = intercept
        return self

    def predict_proba(self, X: NDArray[Any]) -> F64:
        """(n, n_tasks) posterior over the benchmark's tasks."""
        z = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        out: F64 = p / p.sum(axis=1, keepdims=True)
        return out

    def get_state(self) -> dict[str, NDArray[Any]]:
        """The arrays that reproduce the classifier (for the saved artifact)."""
        return {"task_clf_coef": self.coef_, "task_clf_intercept": self.intercept_}

    @classmethod
    def from_state(
        cls, arrays: dict[str, NDArray[Any]], *, n_tasks: int, dim: int
    ) -> TaskClassifier:
        """Rebuild from :meth:`get_state` arrays, checking shapes and values.

        Raises:
            ValueError: missing arrays, wrong shapes, NaN or +inf values.
        """
        coef = np.asarray(arrays["task_clf_coef"], dtype=np.float64)
        intercept = np.asarray(arrays["task_clf_intercept"], dtype=np.float64)
        if coef.shape != (n_tasks, dim) or intercept.shape != (n_tasks,):
            msg = (
                f"task classifier shapes {coef.shape} and {intercept.shape}, "
                f"expected ({n_tasks}, {dim}) and ({n_tasks},)"
            )
            raise ValueError(msg)
        if not np.isfinite(coef).all() or np.isnan(intercept).any() or (intercept == np.inf).any():
            msg = "task classifier holds non-finite coefficients"
            raise ValueError(msg)
        if not np.isfinite(intercept).any():
            msg = "task classifier gives no task a finite logit"
            raise ValueError(msg)
        clf = cls()
        clf.coef_, clf.intercept_ = coef, intercept
        return clf
