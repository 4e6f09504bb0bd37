"""Tests of the calibrated predictors, ECE and the empirical-Bayes selection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from langchain_benchrouter import Benchmark, Router
from langchain_benchrouter.core.calibration import (
    CalibrationState,
    beta_binomial_mean,
    expected_calibration_error,
    fit_calibration,
    neighbor_task_prior,
    one_standard_error_choice,
    select_with_margin,
    shrunk_knn,
)
from langchain_benchrouter.core.index import NeighborIndex


def test_beta_binomial_hand_computed() -> None:
    # 7 of 10 correct, prior 0.4 with strength 5: (7 + 2) / 15 = 0.6
    out = beta_binomial_mean(np.array([7.0]), np.array([10.0]), np.array([0.4]), 5.0)
    assert out.tolist() == pytest.approx([0.6])
    # strength 0: the raw rate, and the prior where there is no label
    raw = beta_binomial_mean(np.array([3.0, 0.0]), np.array([4.0, 0.0]), np.array([0.1, 0.9]), 0)
    assert raw.tolist() == pytest.approx([0.75, 0.9])


def test_shrunk_knn_masks_missing_and_uses_row_prior() -> None:
    y = np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 1.0]])
    prior = np.array([[0.5, 0.0]])
    g = shrunk_knn(y, np.array([[0, 1, 2]]), prior, 1.0)
    # model 0: (2 + 0.5) / (3 + 1); model 1: (2 + 0) / (2 + 1)
    np.testing.assert_allclose(g, [[2.5 / 4, 2 / 3]])


def test_neighbor_task_prior_falls_back_for_untasked_rows() -> None:
    ta = np.array([[0.2, np.nan], [0.8, 0.4]])
    prior = neighbor_task_prior(
        np.array([[0, 1, 2]]), np.array([0, 1, -1]), ta, np.array([0.5, 0.6])
    )
    np.testing.assert_allclose(prior, [[(0.2 + 0.8 + 0.5) / 3, (0.6 + 0.4 + 0.6) / 3]])


def test_ece_tiny_example() -> None:
    g = np.array([[0.95], [0.95], [0.15], [0.15]])
    y = np.array([[1.0], [1.0], [1.0], [0.0]])
    # bin 9: |0.95 - 1| (2 inputs), bin 1: |0.15 - 0.5| (2 inputs)
    assert expected_calibration_error(g, y) == pytest.approx((2 * 0.05 + 2 * 0.35) / 4)
    assert np.isnan(expected_calibration_error(g, np.full((4, 1), np.nan)))


def test_select_with_margin_keeps_bma_under_margin() -> None:
    est = np.array([0.60, 0.64, 0.70])
    assert select_with_margin(est, 0, 0.05, None) == (2, 2)
    assert select_with_margin(est, 0, 0.12, None) == (0, 2)
    allowed = np.array([True, True, False])
    assert select_with_margin(est, 0, 0.0, allowed) == (1, 1)


def test_one_standard_error_rule_resists_one_lucky_fold() -> None:
    # Candidate 0 (switch models) wins big on one inner task and loses a little on two;
    # candidate 1 (keep the best model on average) is steady. The plain argmax of the mean
    # picks 0; the 1-SE rule keeps the conservative 1, since 0's edge is within one SE.
    lucky = np.array([[0.9, 0.5], [0.48, 0.5], [0.48, 0.5], [0.5, 0.5]])
    assert int(np.argmax(lucky.mean(axis=0))) == 0
    assert one_standard_error_choice(lucky) == 1
    # A consistent gain on every fold is beyond one SE: the better candidate stays chosen.
    steady = np.array([[0.6, 0.5], [0.62, 0.5], [0.58, 0.5], [0.61, 0.5]])
    assert one_standard_error_choice(steady) == 0
    # One fold: no standard error, the best mean (ties to the conservative end).
    assert one_standard_error_choice(np.array([[0.7, 0.7, 0.6]])) == 1
    with pytest.raises(ValueError, match="folds, candidates"):
        one_standard_error_choice(np.array([0.5, 0.6]))


def _toy(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ti = np.repeat(np.arange(4), 40)
    X = rng.normal(size=(160, 6)).astype(np.float32) + ti[:, None].astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = (rng.random((160, 3)) < np.array([0.3, 0.5, 0.7])).astype(np.float32)
    ta = np.stack([Y[ti == t].mean(0) for t in range(4)]).astype(np.float64)
    return X, Y, ti, ta


def test_fit_calibration_never_sees_rows_outside_the_fit() -> None:
    # The harness fits on the training tasks only: the tuned state is a function of the
    # rows passed in, so the held-out task (task 3 here) cannot influence it.
    X, Y, ti, ta = _toy()
    train = ti < 3
    state = fit_calibration(X[train], Y[train], ti[train], ta[:3], NeighborIndex(X[train]))
    Y2 = Y.copy()
    Y2[~train] = 1.0 - Y2[~train]  # scramble the held-out task's labels
    again = fit_calibration(X[train], Y2[train], ti[train], ta[:3], NeighborIndex(X[train]))
    assert state == again
    # and the inner folds really are leave-one-task-out: changing one inner task's
    # labels can change the result (the tuning does read the training tasks)
    assert state.task_k in (10, 30, 100)
    assert CalibrationState.from_json(state.to_json()) == state


def test_router_default_methods_and_save_load(tmp_path: object) -> None:
    bench = Benchmark.bundled().select_tasks(["gsm8k", "mbpp", "mmlu"])
    router = Router(embedder="hashing").fit(bench)
    texts = ["What is 12 * 12?", "Write a function that reverses a list."]
    sel = router.select_model(texts)
    assert sel.method == "eb_select"
    assert set(sel.estimate) == set(router.model_names)
    assert sel.scores == sel.estimate
    assert router.select_model(texts, method="s3").method == "s3"
    routes = router.route(texts)
    paper = router.route(texts, method="knn")
    assert routes.proba.shape == paper.proba.shape
    path = router.save(tmp_path / "r")  # type: ignore[operator]
    loaded = Router.load(path)
    assert loaded.calibration_ == router.calibration_
    assert loaded.select_model(texts).model == sel.model
    assert list(loaded.route(texts)) == list(routes)


def test_eb_select_pools_labels() -> None:
    bench = Benchmark.bundled().select_tasks(["gsm8k", "mbpp", "mmlu"])
    router = Router(embedder="hashing").fit(bench)
    texts = ["What is 12 * 12?", "Compute 3 + 4."]
    m = len(router.model_names)
    worst = int(np.argmin(router.model_prior_))
    scores = np.zeros((40, m))
    scores[:, worst] = 1.0  # the worst model on average is perfect on the user's task
    router.add_labeled([f"What is {i} + {i}?" for i in range(40)], scores)
    sel = router.select_model(texts, method="eb_select")
    a0 = router.calibration_.a0
    est = sel.estimate[router.model_names[worst]]
    assert est > 40 / (40 + a0) - 1e-9  # posterior mean >= its labelled share
    assert router.select_model(texts, method="calibrated").estimate != sel.estimate


def test_task_tuning_samples_large_benchmarks(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain_benchrouter.core.calibration as cal
    from langchain_benchrouter.core.index import NeighborIndex

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = (rng.random((300, 3)) < 0.6).astype(np.float32)
    ti = np.repeat(np.arange(3), 100)
    ta = np.stack([Y[ti == t].mean(0) for t in range(3)]).astype(np.float64)
    full = cal.fit_calibration(X, Y, ti, ta, NeighborIndex(X))
    searched: list[int] = []
    real_search = NeighborIndex.search

    def counting(self: NeighborIndex, q: np.ndarray, n: int, **kw: object) -> object:
        searched.append(q.shape[0])
        return real_search(self, q, n, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(cal, "TASK_TUNING_ROWS", 60)
    monkeypatch.setattr(NeighborIndex, "search", counting)
    sampled = cal.fit_calibration(X, Y, ti, ta, NeighborIndex(X))
    # three task folds of 20 sampled inputs each (60 * 100 / 300), then the per-input tuning
    assert searched[:3] == [20, 20, 20]
    assert sampled.task_k in cal.TASK_K_GRID and sampled.delta in cal.DELTA_GRID
    assert full.route_k == sampled.route_k  # the per-input tuning is unaffected


def _cluster_bench(
    shift_new: float = 0.0, c_on_task0: bool = True
) -> tuple[Router, list[str], Any]:
    """Three tasks as clusters (60 inputs each) and 30 held-out inputs of task 0.

    ``shift_new`` moves the held-out inputs along a dimension no task uses: a "sibling"
    of task 0 rather than task 0 itself. ``c_on_task0=False`` leaves model c unscored on
    task 0.
    """
    from conftest import TableEmbedder

    rng = np.random.default_rng(0)
    table: dict[str, np.ndarray] = {}
    rows: list[dict[str, object]] = []
    for t in range(3):
        for i in range(60):
            v = np.zeros(6)
            v[t] = 1.0
            v += rng.normal(scale=0.2, size=6)
            table[f"t{t} {i}"] = v / np.linalg.norm(v)
            rows.append(
                {
                    "task": f"task{t}",
                    "text": f"t{t} {i}",
                    "a": float(t == 0 and rng.random() < 0.9),
                    "b": float(rng.random() < 0.5),
                    "c": float(rng.random() < 0.6) if c_on_task0 or t else None,
                }
            )
    new = []
    for i in range(30):
        v = np.zeros(6)
        v[0], v[5] = 1.0, shift_new
        v += rng.normal(scale=0.2, size=6)
        table[f"new {i}"] = v / np.linalg.norm(v)
        new.append(f"new {i}")
    emb = TableEmbedder(table)
    router = Router(embedder=emb, cache_dir=False).fit(Benchmark.from_records(rows))
    return router, new, emb


def test_select_model_knows_a_benchmark_task_from_its_sibling() -> None:
    router, new, _ = _cluster_bench()
    same = router.select_model(new)
    assert same.likely_task == "task0" and same.familiar
    assert "two-sample p" in same.why and "accuracy on that task" in same.why
    # Task 0 itself: its estimate is the benchmark's measured accuracy on task 0.
    own = router.task_accuracy_[router.task_names_.index("task0")]
    assert [same.estimate[m] for m in router.model_names_] == pytest.approx(own.tolist())
    sibling = router.select_model(new, method="calibrated")
    assert sibling.familiar  # the same inputs: the same answer for both calibrated methods
    assert sibling.estimate == same.estimate
    shifted, new_shifted, _ = _cluster_bench(shift_new=0.8)
    far = shifted.select_model(new_shifted)
    assert far.likely_task == "task0" and not far.familiar
    assert "two-sample" not in far.why
    # A sibling only: the kNN estimate, which is not task 0's table row.
    far_own = shifted.task_accuracy_[shifted.task_names_.index("task0")]
    assert [far.estimate[m] for m in shifted.model_names_] != pytest.approx(far_own.tolist())
    assert far.to_dict()["familiar"] is False and far.to_dict()["likely_task"] == "task0"


def test_a_familiar_task_without_a_models_scores_falls_back_to_its_mean_accuracy() -> None:
    router, new, _ = _cluster_bench(c_on_task0=False)
    sel = router.select_model(new)
    assert sel.familiar and sel.likely_task == "task0"
    c = router.model_names_.index("c")
    assert np.isnan(router.task_accuracy_[0, c])
    assert sel.estimate["c"] == pytest.approx(float(router.model_prior_[c]))
    assert all(np.isfinite(v) for v in sel.estimate.values())
    # c's overall mean beats b's accuracy measured on task 0, yet c has no evidence there.
    assert sel.estimate["c"] > sel.estimate["b"]
    assert router.select_model(new, models=["b", "c"]).model == "b"
    assert router.select_model(new, models=["c"]).model == "c"  # the only one allowed


def test_route_names_the_task_each_input_resembles(clustered_data: Any) -> None:
    rows, emb = clustered_data
    router = Router(embedder=emb, cache_dir=False).fit(Benchmark.from_records(rows))
    texts = [f"new{t} {i}" for t in range(3) for i in range(3)]
    routes = router.route(texts)
    assert routes.tasks == [f"task{t}" for t in range(3) for _ in range(3)]
    assert routes.task_proba is not None and (routes.task_proba > 0.5).all()
    d = routes.decision(0)
    assert d["task"] == "task0" and 0.5 < d["task_proba"] <= 1.0
    # the paper's kNN route names the task too; the probabilities differ
    paper = router.route(texts, method="knn")
    assert paper.tasks == routes.tasks
    assert not np.allclose(paper.proba, routes.proba)


def test_route_prior_counts_the_users_labelled_inputs_as_a_task(clustered_data: Any) -> None:
    rows, emb = clustered_data
    router = Router(embedder=emb, cache_dir=False).fit(Benchmark.from_records(rows))
    texts = [f"new2 {i}" for i in range(10)]
    before, routed_before = router.predict_calibrated(texts), list(router.route(texts))
    assert "b" not in routed_before  # b is never right on task 2 of the benchmark
    # On the user's own inputs (near task 2), model b turns out always right.
    router.add_labeled(texts, {"a": [0.0] * 10, "b": [1.0] * 10, "c": [0.0] * 10})
    after, routes = router.predict_calibrated(texts), router.route(texts)
    assert (after[:, 1] > before[:, 1]).all()
    assert set(routes.tasks) <= {"task2", "(labelled inputs)"}
    assert "b" in routes


def test_predict_calibrated_rejects_an_unknown_level(clustered_data: Any) -> None:
    from langchain_benchrouter.errors import RoutingInputError

    rows, emb = clustered_data
    router = Router(embedder=emb, cache_dir=False).fit(Benchmark.from_records(rows))
    with pytest.raises(RoutingInputError, match="level must be 'task' or 'route'"):
        router.predict_calibrated(["new0 0"], level="input")  # type: ignore[arg-type]
