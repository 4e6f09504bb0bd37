"""Evaluation harness: leave-one-task-out end to end on a small slice of the bundled data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.core.scoring import predictor_accuracy
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.evaluation.harness import (
    DEFAULT_ROUTE_METHOD,
    METHODS,
    TASK_METHODS,
    EvaluationResult,
    aiq,
    evaluate,
    leave_one_task_out,
    pareto_hull,
)

# task_best_train needs training rows of the test task: random-split only; labels_best
# needs labelled inputs of the test task.
LOTO_METHODS = [m for m in METHODS if m not in ("task_best_train", "labels_best")]
LOTO_TASK_METHODS = [m for m in TASK_METHODS if m not in ("task_best_train", "labels_best")]

TASKS = ["gsm8k", "mbpp", "mmlu", "commonsense_qa", "human_eval"]
PER_TASK = 40


def small_bench() -> Benchmark:
    """The first PER_TASK inputs of five bundled tasks (9 models, known prices)."""
    full = Benchmark.bundled().select_tasks(TASKS)
    rows = np.concatenate(
        [np.flatnonzero(full.task_index == t)[:PER_TASK] for t in range(full.n_tasks)]
    )
    return full.subset(np.sort(rows))


@pytest.fixture(scope="module")
def bench() -> Benchmark:
    return small_bench()


@pytest.fixture(scope="module")
def result(bench: Benchmark) -> EvaluationResult:
    return evaluate(bench, embedder="hashing", cache_dir=False)


def _task_acc(bench: Benchmark, task: str) -> dict[str, float]:
    held = bench.select_tasks([task])
    return dict(zip(held.models, held.task_accuracy()[0].tolist(), strict=True))


def test_json_schema(result: EvaluationResult, bench: Benchmark, tmp_path: Path) -> None:
    path = result.save_json(tmp_path / "out" / "r.json")
    data = json.loads(path.read_text())
    assert data["dataset"] == result.dataset
    assert data["embedder"] == "hashing-256"
    assert data["config"]["protocol"] == "loto"
    assert list(data["methods"]) == list(LOTO_METHODS)
    assert data["default_method"] == "eb_select"
    assert set(data["methods"][data["default_method"]]) == set(data["methods"]["s3"])
    for summary in data["methods"].values():
        assert set(summary) == {"accuracy", "oracle_ratio", "bma_rate", "mean_cost", "ece"}
        assert 0.0 <= summary["accuracy"] <= 1.0
        assert 0.0 <= summary["bma_rate"] <= 1.0
        assert isinstance(summary["mean_cost"], float)  # every bundled model has a price
    assert data["methods"]["oracle"]["oracle_ratio"] == 1.0
    assert sorted(t["task"] for t in data["tasks"]) == sorted(TASKS)
    for task in data["tasks"]:
        assert task["n"] == PER_TASK
        assert set(task["selected"]) == set(LOTO_METHODS)
        assert set(task["accuracy"]) == set(LOTO_METHODS)
        models = [m for m in task["selected"].values() if m is not None]
        assert set(models) <= set(bench.models)
        assert task["selected"]["random"] is None
    assert data["cost_curve"]["aiq"] is not None


def test_oracle_bounds_every_task_level_method(result: EvaluationResult, bench: Benchmark) -> None:
    for task in result.tasks:
        acc = _task_acc(bench, task.task)
        assert task.accuracy["oracle"] == pytest.approx(max(acc.values()))
        for method in LOTO_TASK_METHODS:
            assert task.accuracy[method] <= task.accuracy["oracle"] + 1e-12, (task.task, method)
            if task.selected[method] is not None:  # accuracy is the chosen model's true one
                assert task.accuracy[method] == pytest.approx(acc[task.selected[method]])
        assert 0.0 <= task.accuracy["per_instance"] <= 1.0


def test_bma_is_best_model_on_average_of_the_other_tasks(
    result: EvaluationResult, bench: Benchmark
) -> None:
    for task in result.tasks:
        others = bench.drop_tasks([task.task]).task_accuracy()
        expected = bench.models[int(np.argmax(np.nanmean(others, axis=0)))]
        assert task.selected["bma"] == expected
    # The summary is the mean over held-out tasks of that model's accuracy on the task.
    expected_mean = np.mean([_task_acc(bench, t.task)[t.selected["bma"]] for t in result.tasks])
    assert result.methods["bma"].accuracy == pytest.approx(expected_mean)
    assert result.methods["bma"].bma_rate == 1.0


def test_random_is_mean_over_models(result: EvaluationResult, bench: Benchmark) -> None:
    for task in result.tasks:
        assert task.accuracy["random"] == pytest.approx(
            np.mean(list(_task_acc(bench, task.task).values()))
        )
    oracle = result.methods["oracle"].accuracy
    assert result.methods["s3"].oracle_ratio == pytest.approx(
        result.methods["s3"].accuracy / oracle
    )


def test_s3_true_p_uses_the_true_predictor_accuracy(
    bench: Benchmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = {t: bench.select_tasks([t]) for t in bench.task_names}
    checked: list[str] = []
    original = Router.select_model

    def spy(self: Router, texts: Sequence[str], **kw: Any) -> Any:
        sel = original(self, texts, **kw)
        if kw.get("p") is not None:
            task = next(t for t, h in held.items() if h.texts == list(texts))
            true_p = predictor_accuracy(self.predict_proba(texts), held[task].labels)
            assert np.allclose(kw["p"], true_p)
            assert kw["method"] == "s3"
            # The estimate differs from the truth, so the override really matters.
            estimated = original(self, texts, method="s3").p
            assert not np.allclose(list(estimated.values()), true_p)
            checked.append(task)
        return sel

    monkeypatch.setattr(Router, "select_model", spy)
    res = evaluate(bench, embedder="hashing", cache_dir=False, cost_curve=False)
    assert checked == bench.task_names
    for task in res.tasks:
        assert 0.0 < task.p_true < 1.0


def test_the_held_out_tasks_metric_reaches_the_calibrated_methods(
    bench: Benchmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = {t: bench.select_tasks([t]) for t in bench.task_names}
    metric_of = dict(zip(bench.task_names, bench.task_metrics, strict=True))
    calls: dict[str, set[str | None]] = {t: set() for t in held}
    original = Router.select_model

    def spy(self: Router, texts: Sequence[str], **kw: Any) -> Any:
        task = next(t for t, h in held.items() if h.texts == list(texts))
        if kw.get("method") in ("calibrated", "eb_select"):
            calls[task].add(kw.get("metric"))
        return original(self, texts, **kw)

    monkeypatch.setattr(Router, "select_model", spy)
    res = evaluate(bench, embedder="hashing", cache_dir=False, cost_curve=False)
    # mbpp and human_eval share code_eval, mmlu and commonsense_qa em_mc; gsm8k's
    # metric is no other task's: the inputs alone
    for task in ("mbpp", "human_eval", "mmlu", "commonsense_qa"):
        assert calls[task] == {metric_of[task], None}, task  # None: eb_select_text
    assert calls["gsm8k"] == {None}
    by_task = {t.task: t for t in res.tasks}
    assert by_task["gsm8k"].selected["eb_select"] == by_task["gsm8k"].selected["eb_select_text"]
    # human_eval held out: mbpp, the one other code_eval task, speaks for it
    train = bench.drop_tasks(["human_eval"])
    router = Router(embedder="hashing", cache_dir=False).fit(train)
    sel = router.select_model(held["human_eval"].texts, metric="code_eval")
    assert by_task["human_eval"].selected["eb_select"] == sel.model


def test_few_shot_sweep_scores_the_unlabelled_rest(bench: Benchmark) -> None:
    kw: dict[str, Any] = {"embedder": "hashing", "cache_dir": False, "cost_curve": False}
    bench = bench.select_tasks(TASKS[:3])
    res = evaluate(bench, labeled_per_task=[0, 10], repeats=2, seed=3, **kw)
    assert [s.labeled_per_task for s in res.sweeps] == [0, 10]
    assert [s.repeats for s in res.sweeps] == [1, 2]
    few = res.sweeps[1]
    assert all(t.n == PER_TASK - 10 for t in few.tasks)
    assert "labels_best" in few.methods and "labels_best" not in res.sweeps[0].methods
    for task in few.tasks:
        for method in [*LOTO_TASK_METHODS, "labels_best"]:
            assert task.accuracy[method] <= task.accuracy["oracle"] + 1e-12
    # Deterministic given the seed; another seed draws other labelled inputs.
    again = evaluate(bench, labeled_per_task=[0, 10], repeats=2, seed=3, **kw)
    assert again.to_json()["sweeps"] == res.to_json()["sweeps"]
    other = evaluate(bench, labeled_per_task=[10], repeats=1, seed=4, **kw)
    assert other.to_json()["methods"] != res.to_json()["sweeps"][1]["methods"]


def test_precomputed_embeddings_skip_the_embedder(bench: Benchmark) -> None:
    X = Router(embedder="hashing").fit(bench).embeddings_

    class Refuses:
        name = "hashing-256"

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            raise AssertionError("embedded although embeddings were given")

    res = evaluate(bench, embedder=Refuses(), embeddings=X, cache_dir=False, cost_curve=False)
    ref = evaluate(bench, embedder="hashing", cache_dir=False, cost_curve=False)
    assert res.to_json()["methods"] == ref.to_json()["methods"]


def test_bad_arguments(bench: Benchmark) -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate(bench, embedder="hashing", protocol="nope")
    with pytest.raises(ValueError, match="leaves no input"):
        evaluate(bench, embedder="hashing", labeled_per_task=[PER_TASK])
    with pytest.raises(ValueError, match="at least three tasks"):
        leave_one_task_out(bench.select_tasks(["gsm8k", "mbpp"]))


def test_cost_curve_and_aiq(result: EvaluationResult) -> None:
    curve = result.cost_curve
    assert curve is not None
    # No cost weight: plain per-input routing; the largest: close to the cheapest model.
    assert curve.quality[0] == pytest.approx(result.methods[DEFAULT_ROUTE_METHOD].accuracy)
    assert curve.cost[-1] <= curve.cost[0]
    assert curve.cost[-1] == pytest.approx(min(curve.model_cost.values()), abs=0.05)
    assert 0.0 < curve.aiq <= 1.0 and 0.0 < curve.models_aiq <= 1.0


def test_pareto_hull_and_aiq_on_known_points() -> None:
    # Dominated (2, 0.4) and under-the-hull (3, 0.55) points are dropped.
    assert pareto_hull([1, 2, 3, 4], [0.2, 0.4, 0.55, 1.0]) == ([1.0, 4.0], [0.2, 1.0])
    assert pareto_hull([1, 2], [0.5, 0.5]) == ([1.0], [0.5])
    # Linear from (0, 0.5) to (1, 1): mean 0.75; a single point at the cheap end: flat.
    assert aiq([0.0, 1.0], [0.5, 1.0], 0.0, 1.0) == pytest.approx(0.75)
    assert aiq([0.0], [0.6], 0.0, 2.0) == pytest.approx(0.6)
    # Nothing reachable below cost 1: zero on [0, 1), 0.8 on [1, 2].
    assert aiq([1.0], [0.8], 0.0, 2.0) == pytest.approx(0.4)


def test_plots_are_png(result: EvaluationResult, tmp_path: Path) -> None:
    from langchain_benchrouter.evaluation.plots import write_plots

    paths = write_plots(result, tmp_path, prefix="x_")
    names = sorted(p.name for p in paths)
    assert names == ["x_accuracy_by_method.png", "x_cost_quality.png", "x_per_task.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_search_memo_changes_nothing(bench: Benchmark, monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain_benchrouter.evaluation.harness as ev

    sub = bench.select_tasks(TASKS[:3])
    kw: dict[str, Any] = {
        "embedder": "hashing",
        "cache_dir": False,
        "labeled_per_task": [0, 5],
        "repeats": 1,
    }
    fast = evaluate(sub, **kw).to_json()
    monkeypatch.setattr(ev, "MEMO_SEARCH", False)
    slow = evaluate(sub, **kw).to_json()
    assert fast["sweeps"] == slow["sweeps"]
    assert fast["cost_curve"] == slow["cost_curve"]
