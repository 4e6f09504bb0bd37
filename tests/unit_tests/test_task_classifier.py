"""The task classifier: sklearn's posterior reproduced from stored arrays, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from langchain_benchrouter.core.task_classifier import TaskClassifier


def _blobs(n_tasks: int, per: int = 30, dim: int = 6, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    ti = np.repeat(np.arange(n_tasks), per)
    X = rng.normal(size=(ti.size, dim)) + 3.0 * np.eye(dim)[ti % dim]
    return X.astype(np.float32), ti


@pytest.mark.parametrize("n_tasks", [2, 4])
def test_posterior_equals_sklearn_predict_proba(n_tasks: int) -> None:
    X, ti = _blobs(n_tasks)
    clf = TaskClassifier().fit(X, ti, n_tasks=n_tasks)
    ref = LogisticRegression(C=1.0, max_iter=1000).fit(X.astype(np.float64), ti)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-9)
    assert (clf.predict_proba(X).argmax(axis=1) == ti).mean() > 0.8


def test_absent_tasks_get_probability_zero_and_user_rows_are_ignored() -> None:
    X, ti = _blobs(3)
    ti = ti.copy()
    ti[ti == 1] = -1  # task 1 has no rows (e.g. user-labelled inputs only)
    p = TaskClassifier().fit(X, ti, n_tasks=3).predict_proba(X)
    assert np.all(p[:, 1] == 0.0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_one_task_is_certain() -> None:
    X, _ = _blobs(1)
    p = TaskClassifier().fit(X, np.zeros(len(X), np.int64), n_tasks=2).predict_proba(X[:3])
    assert p.tolist() == [[1.0, 0.0]] * 3


def test_large_benchmarks_are_sampled_per_task() -> None:
    X, ti = _blobs(3, per=100)
    small = TaskClassifier(max_rows=60).fit(X, ti, n_tasks=3)
    full = TaskClassifier().fit(X, ti, n_tasks=3)
    assert not np.allclose(small.coef_, full.coef_)  # really trained on fewer rows
    assert (small.predict_proba(X).argmax(axis=1) == ti).mean() > 0.8


def test_bad_inputs_and_states_are_rejected() -> None:
    X, ti = _blobs(2)
    with pytest.raises(ValueError, match="at least one input with a task"):
        TaskClassifier().fit(X, np.full(len(X), -1), n_tasks=2)
    with pytest.raises(ValueError, match="out of range"):
        TaskClassifier().fit(X, ti, n_tasks=1)
    state = TaskClassifier().fit(X, ti, n_tasks=2).get_state()
    again = TaskClassifier.from_state(state, n_tasks=2, dim=X.shape[1])
    np.testing.assert_array_equal(again.coef_, state["task_clf_coef"])
    with pytest.raises(ValueError, match="shapes"):
        TaskClassifier.from_state(state, n_tasks=3, dim=X.shape[1])
    nan = {**state, "task_clf_coef": np.full_like(state["task_clf_coef"], np.nan)}
    with pytest.raises(ValueError, match="non-finite"):
        TaskClassifier.from_state(nan, n_tasks=2, dim=X.shape[1])
    dead = {**state, "task_clf_intercept": np.full(2, -np.inf)}
    with pytest.raises(ValueError, match="no task a finite logit"):
        TaskClassifier.from_state(dead, n_tasks=2, dim=X.shape[1])
