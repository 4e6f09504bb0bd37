"""Feedback into the router: feedback_to_labels, add_labeled with save/load, effect of N labels."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import ExperimentError
from langchain_benchrouter.experiments.experiment import Experiment
from langchain_benchrouter.experiments.exposure_log import (
    Exposure,
    Feedback,
    SQLiteExposureLog,
    unit_hash,
)
from langchain_benchrouter.experiments.report import feedback_to_labels

Data = tuple[list[dict[str, Any]], Any]


def chat(reply: str) -> FakeListChatModel:
    return FakeListChatModel(responses=[reply] * 1000)


def test_feedback_becomes_labels(tmp_path: Path) -> None:
    exp = Experiment(
        name="fb",
        arms={"a": chat("A"), "b": chat("B")},
        arm_models={"a": "model-a", "b": "model-b"},
        log=tmp_path / "ab.sqlite",
    )
    prompts = [f"prompt {i}" for i in range(12)]
    for p in prompts:
        exp.invoke(p)
        exp.invoke(p)  # the same prompt twice: same arm, two runs
    log = exp.exposure_log
    assert log is not None
    for i, p in enumerate(prompts[:10]):
        runs = log.runs_for_unit("fb", unit_hash("fb", p))
        exp.record_feedback(1.0, run_id=runs[0])
        exp.record_feedback(0.0 if i % 2 else 1.0, run_id=runs[1])
    labels = exp.feedback_labels([*prompts[:8], "an unknown prompt"])
    assert labels.inputs == prompts[:8]
    assert labels.skipped == 4  # the scored runs of prompts 8 and 9, whose text was not given
    assert set(labels.model_scores) <= {"model-a", "model-b"}
    for j, p in enumerate(labels.inputs):
        arm = exp.arm_for_key(p)
        mine = labels.model_scores[f"model-{arm}"][j]
        assert mine == (0.5 if j % 2 else 1.0)  # two runs averaged
        other = "model-b" if arm == "a" else "model-a"
        if other in labels.model_scores:
            assert labels.model_scores[other][j] is None
    # a {run_id: text} mapping works for experiments keyed by user ids
    first_run = log.exposures("fb")[0].run_id
    by_run = feedback_to_labels(tmp_path / "ab.sqlite", "fb", {first_run: "my text"})
    assert by_run.inputs == ["my text"] and len(by_run) == 1
    # since= keeps only newer feedback
    cutoff = time.time() + 1
    assert len(feedback_to_labels(log, "fb", prompts, since=cutoff)) == 0
    with pytest.raises(ExperimentError, match="one string"):
        feedback_to_labels(log, "fb", "prompt 0")


def test_out_of_range_scores_are_refused(tmp_path: Path) -> None:
    log = SQLiteExposureLog(tmp_path / "ab.sqlite")
    log.log_exposures([Exposure("x", "a", "h", run_id="r", model="m")])
    log.log_feedback([Feedback("r", 4.0)])
    with pytest.raises(ExperimentError, match=r"outside \[0, 1\]"):
        feedback_to_labels(log, "x", {"r": "t"})


def test_feedback_labels_go_into_the_router_and_survive_save_load(
    tmp_path: Path, clustered_data: Data
) -> None:
    rows, embedder = clustered_data
    router = Router(k=3, embedder=embedder, cache_dir=False).fit(Benchmark.from_records(rows))
    n_before = router.embeddings_.shape[0]
    exp = Experiment(
        name="fb",
        arms={"c": chat("C"), "outsider": chat("?")},
        arm_models={"c": "c", "outsider": "gpt-unknown"},
        log=tmp_path / "ab.sqlite",
    )
    texts = [f"new2 {i}" for i in range(10)]
    for t in texts:
        exp.invoke(t)
        exp.record_feedback(1.0, key=t)
    labels = exp.feedback_labels(texts, router=router)  # one call: convert and add
    n_c = sum(exp.arm_for_key(t) == "c" for t in texts)
    assert 0 < n_c < len(texts)
    assert len(labels) == n_c and labels.skipped == len(texts) - n_c  # unknown model skipped
    assert list(labels.model_scores) == ["c"]
    assert router.embeddings_.shape[0] == n_before + n_c
    # labelled inputs: model c right (1), the others missing (NaN); task index -1
    assert np.all(router.labels_[n_before:, router.model_names.index("c")] == 1.0)
    assert np.isnan(router.labels_[n_before:, 0]).all()
    assert (router.task_index_[n_before:] == -1).all()
    queries = [f"new{t} {i}" for t in range(3) for i in range(10)]
    before_save = router.route(queries)
    router.save(tmp_path / "router")
    loaded = Router.load(tmp_path / "router", embedder=embedder)
    assert loaded.embeddings_.shape[0] == n_before + n_c
    np.testing.assert_array_equal(loaded.labels_, router.labels_)
    np.testing.assert_array_equal(loaded.task_index_, router.task_index_)
    after_load = loaded.route(queries)
    assert list(after_load) == list(before_save)
    np.testing.assert_allclose(after_load.proba, before_save.proba)


def test_add_labeled_changes_routing_and_round_trips(tmp_path: Path, clustered_data: Data) -> None:
    rows, embedder = clustered_data
    router = Router(k=3, embedder=embedder, cache_dir=False).fit(Benchmark.from_records(rows))
    q = ["new2 0", "new2 1", "new2 2"]
    # the paper's kNN (k=3): on cluster 2 only the generalist c is ever right
    assert set(router.route(q, method="knn")) == {"c"}
    before = router.route(q).proba  # the default, calibrated (shrunk, larger k) predictor
    # the user labelled these very inputs (three times each: all k=3 neighbours): a is right
    router.add_labeled(q * 3, {"a": [1.0] * 9, "c": [0.0] * 9})
    routes = router.route(q, method="knn")
    assert set(routes) == {"a"}
    np.testing.assert_allclose(routes.proba[:, [0, 2]], [[1.0, 0.0]] * 3)  # b: not labelled
    after = router.route(q).proba
    assert (after[:, 0] > before[:, 0]).all() and (after[:, 2] < before[:, 2]).all()
    router.save(tmp_path / "r")
    again = Router.load(tmp_path / "r", embedder=embedder)
    assert set(again.route(q, method="knn")) == {"a"}
    np.testing.assert_allclose(again.route(q).proba, after)


def _per_input_accuracy(
    router: Router, texts: list[str], scores: np.ndarray, models: list[str]
) -> float:
    """The evaluation harness's per-input metric: mean true score of the routed model."""
    cols = [models.index(m) for m in router.route(texts)]
    return float(np.nanmean(scores[np.arange(len(cols)), cols]))


def test_routing_quality_rises_with_the_number_of_labels() -> None:
    bench = Benchmark.bundled()
    task = "math"  # held out: the router never saw it
    train, held = bench.drop_tasks([task]), bench.select_tasks([task])
    base = Router(embedder="hashing").fit(train)
    assert base.model_names == held.models
    sizes = (0, 50, 200)
    results: dict[int, list[float]] = {n: [] for n in sizes}
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(held.n_inputs)
        test, pool = order[:150], order[150:]
        texts = [held.texts[i] for i in test]
        for n in sizes:
            router = copy.deepcopy(base)
            if n:
                idx = pool[:n]
                router.add_labeled([held.texts[i] for i in idx], held.scores[idx])
            results[n].append(_per_input_accuracy(router, texts, held.scores[test], held.models))
    mean = {n: float(np.mean(v)) for n, v in results.items()}
    assert mean[0] < mean[50] < mean[200], mean
    assert mean[200] - mean[0] > 0.05, mean  # about 0.32 -> 0.41 with the hashing embedder
