"""Router.add_models: a fitted router grows new model columns without refitting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from langchain_benchrouter import Benchmark, Router
from langchain_benchrouter.errors import BenchmarkFormatError, RoutingInputError

NEW = "llama-3.3-nemotron-super-49b-v1"


@pytest.fixture(scope="module")
def small() -> Benchmark:
    bench = Benchmark.bundled()
    rows = np.concatenate(
        [np.flatnonzero(bench.task_index == t)[:60] for t in range(bench.n_tasks)]
    )
    return bench.subset(rows)


@pytest.fixture(scope="module")
def old_models(small: Benchmark) -> list[str]:
    return [m for m in small.models if m != NEW]


def test_added_column_equals_a_full_fit(small: Benchmark, old_models: list[str]) -> None:
    grown = Router(embedder="hashing").fit(small.select_models(old_models))
    full = Router(embedder="hashing").fit(small.select_models([*old_models, NEW]))
    before = grown.embeddings_.shape
    grown.add_models(small.select_models(NEW))
    assert grown.model_names == full.model_names
    assert grown.embeddings_.shape == before  # every input recognised: nothing appended
    np.testing.assert_array_equal(grown.labels_, full.labels_)
    np.testing.assert_allclose(grown.task_accuracy_, full.task_accuracy_)
    np.testing.assert_allclose(grown.ref_p_, full.ref_p_)
    np.testing.assert_allclose(grown.ref_u_, full.ref_u_)
    assert grown.best_model_on_average == full.best_model_on_average
    assert grown.lexical_ is not None and grown.lexical_.coef_.shape[1] == len(full.model_names)
    # the kNN predictions of every model, the new one included, are a full fit's
    texts = small.texts[::37]
    np.testing.assert_allclose(grown.predict_proba(texts), full.predict_proba(texts), atol=1e-6)


def test_partial_evaluation_and_unseen_inputs(small: Benchmark, old_models: list[str]) -> None:
    router = Router(embedder="hashing", lexical=False).fit(small.select_models(old_models))
    n_before = router.embeddings_.shape[0]
    # the user's model, evaluated on 10 inputs of each task plus two new inputs of a
    # task the router knows and one of a task it does not
    rows = np.concatenate(
        [np.flatnonzero(small.task_index == t)[:10] for t in range(small.n_tasks)]
    )
    mine = small.select_models(NEW).subset(rows).rename_models({NEW: "my-model"})
    extra = Benchmark(
        texts=["Compute 12 * 13 step by step.", "Add 5 and 7.", "Summarise this memo."],
        tasks=["gsm8k", "gsm8k", "memos"],
        scores=[[1.0], [0.0], [1.0]],
        models=["my-model"],
        model_info={"my-model": {"cost_per_call": 0.002}},
    )
    router.add_models(Benchmark.merge(mine, extra))
    assert router.model_names[-1] == "my-model"
    assert router.embeddings_.shape[0] == n_before + 3
    assert router.task_index_[-3:].tolist() == [router.task_names_.index("gsm8k")] * 2 + [-1]
    col = router.labels_[:, -1]
    assert int((~np.isnan(col)).sum()) == 10 * small.n_tasks + 3
    assert np.isnan(router.labels_[-3:, :-1]).all()  # old models: not evaluated there
    gsm = router.task_names_.index("gsm8k")
    sample = mine.scores[mine.task_index == mine.task_names.index("gsm8k"), 0]
    expected = (sample.sum() + 1.0) / (sample.size + 2)
    assert router.task_accuracy_[gsm, -1] == pytest.approx(expected)
    assert router.model_info_["my-model"]["cost_per_call"] == 0.002
    # the bundled models are priced per token only: units are not mixed ("my-model"
    # is a renamed bundled column and keeps its per-token prices)
    assert router.model_costs()["my-model"] == small.model_cost(NEW)
    assert router.model_costs()[old_models[0]] == small.model_cost(old_models[0])
    proba = router.predict_proba(["Add 5 and 7."])
    assert proba.shape == (1, len(router.model_names)) and np.isfinite(proba).all()


def test_grown_router_saves_and_loads(
    tmp_path: Path, small: Benchmark, old_models: list[str]
) -> None:
    router = Router(embedder="hashing").fit(small.select_models(old_models))
    router.add_models(small.select_models(NEW))
    loaded = Router.load(router.save(tmp_path / "r"))
    assert loaded.model_names == router.model_names
    texts = small.texts[::41]
    assert list(loaded.route(texts)) == list(router.route(texts))
    np.testing.assert_allclose(loaded.ref_p_, router.ref_p_)


def test_add_models_refuses_bad_input(small: Benchmark, old_models: list[str]) -> None:
    router = Router(embedder="hashing", lexical=False).fit(small.select_models(old_models))
    with pytest.raises(RoutingInputError, match="no model the router lacks"):
        router.add_models(small.select_models(old_models[:2]))
    with pytest.raises(RoutingInputError, match="already routes"):
        router.add_models(small, models=[old_models[0]])
    with pytest.raises(RoutingInputError, match="not in benchmark"):
        router.add_models(small, models=["nobody"])
    with pytest.raises(BenchmarkFormatError, match="expects a Benchmark"):
        router.add_models({"x": [1.0]})  # type: ignore[arg-type]
    assert router.model_names == old_models  # nothing changed


def test_costs_per_call_when_every_model_has_one() -> None:
    from langchain_benchrouter.core._routing import cost_table as _cost_table

    per_call = _cost_table([{"cost_per_call": 0.01, "input_price": 5.0}, {"cost_per_call": 0.002}])
    assert per_call.tolist() == [0.01, 0.002]
    mixed = _cost_table([{"cost_per_call": 0.01, "input_price": 5.0}, {"input_price": 1.0}])
    assert mixed.tolist() == [5.0, 1.0]
    unpriced_ok = _cost_table([{"cost_per_call": 0.01}, {}])
    assert unpriced_ok[0] == 0.01 and np.isnan(unpriced_ok[1])
