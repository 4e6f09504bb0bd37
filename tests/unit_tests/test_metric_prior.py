"""The metric's random-effects estimate, and select_model(metric=...) end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_benchrouter import Benchmark, Router
from langchain_benchrouter.core.artifact import read_manifest_json, replace_manifest
from langchain_benchrouter.core.metric_prior import (
    metric_estimate,
    metric_posterior,
    random_effects,
)
from langchain_benchrouter.errors import ArtifactError, RoutingInputError


def test_random_effects_hand_computed() -> None:
    # Groups a = (1, 0.8), b = (0.2, 0): within MS = 4 * 0.01 / 2 = 0.02; between MS =
    # 2 * 0.4**2 * 2 / 1 = 0.64; n0 = (4 - 8 / 4) / 1 = 2; tau2 = (0.64 - 0.02) / 2 = 0.31.
    values = np.array([1.0, 0.8, 0.2, 0.0])
    shrunk = random_effects(values, ["a", "a", "b", "b"], "a")
    w = 2 * 0.31 / (2 * 0.31 + 0.02)
    assert shrunk.weight == pytest.approx(w)
    assert shrunk.mean == pytest.approx(0.5 + w * (0.9 - 0.5))
    assert shrunk.variance == pytest.approx(0.02 + (1 - w) * 0.31)
    # a new group: the overall mean, with the between-group spread added
    new = random_effects(values, ["a", "a", "b", "b"], "c")
    assert (new.mean, new.weight) == (pytest.approx(0.5), 0.0)
    assert new.variance == pytest.approx(0.02 + 0.31)


def test_random_effects_without_evidence_is_the_plain_mean() -> None:
    values = np.array([1.0, 0.0, 1.0, 0.0])
    # groups no different from each other: tau2 = 0
    flat = random_effects(values, ["a", "b", "b", "a"], "a")
    assert (flat.mean, flat.weight) == (pytest.approx(0.5), 0.0)
    # no group with two tasks: agreement within a metric cannot be measured
    alone = random_effects(values, ["a", "b", "c", "d"], "a")
    assert alone.weight == 0.0 and alone.variance == pytest.approx(values.var(ddof=1))
    # one group only: nothing to contrast
    assert random_effects(values, ["a"] * 4, "a").weight == 0.0
    assert np.isnan(random_effects(np.array([]), [], "a").mean)


def test_metric_estimate_follows_agreeing_tasks_and_shrinks_disagreeing_ones() -> None:
    # Model 0 is best on average and on "mc"; model 1 wins both "math" tasks; on the two
    # "code" tasks model 2 wins one and loses the other.
    acc = np.array(
        [
            [0.9, 0.5, 0.5],  # mc
            [0.8, 0.4, 0.4],  # mc
            [0.7, 0.3, 0.4],  # mc
            [0.3, 0.7, 0.3],  # math
            [0.4, 0.7, 0.4],  # math
            [0.6, 0.5, 0.9],  # code
            [0.6, 0.5, 0.2],  # code
        ]
    )
    metrics = ["mc", "mc", "mc", "math", "math", "code", "code"]
    math = metric_estimate(acc, metrics, "math", bma=0)
    assert math.n_tasks == 2 and int(np.argmax(math.accuracy)) == 1
    assert 0.5 < math.weight[1] <= 1.0 and math.weight[0] == 0.0
    mc = metric_estimate(acc, metrics, "mc", bma=0)
    assert int(np.argmax(mc.accuracy)) == 0
    code = metric_estimate(acc, metrics, "code", bma=0)
    # model 2's two code tasks disagree: its code estimate stays below model 0's
    assert code.accuracy[2] < code.accuracy[0]
    assert np.all((code.accuracy >= 0.0) & (code.accuracy <= 1.0))


def test_metric_estimate_handles_unscored_models() -> None:
    acc = np.array([[0.9, np.nan, 0.1], [0.8, np.nan, 0.2], [0.3, 0.9, 0.9], [0.2, 0.8, 0.8]])
    metrics = ["mc", "mc", "math", None]
    est = metric_estimate(acc, metrics, "math", bma=0)
    assert np.isfinite(est.accuracy).all()
    assert est.n_tasks == 1
    # a model never scored anywhere gets gain -1: never preferred
    acc2 = np.array([[0.9, np.nan], [0.8, np.nan]])
    est2 = metric_estimate(acc2, ["mc", "mc"], "mc", bma=0)
    assert est2.accuracy[1] == 0.0 and est2.accuracy[0] > 0


# --------------------------------------------------------------------------- router


def _metric_bench() -> tuple[Router, list[str]]:
    """Four cluster tasks: two scored "mc" (model a wins), two "math" (model b wins);
    plus 30 inputs of a new task far from all four (never familiar)."""
    from conftest import TableEmbedder

    rng = np.random.default_rng(0)
    table: dict[str, np.ndarray] = {}
    rows: list[dict[str, object]] = []
    for t in range(4):
        kind = "mc" if t < 2 else "math"
        for i in range(50):
            v = np.zeros(8)
            v[t] = 1.0
            v += rng.normal(scale=0.2, size=8)
            table[f"t{t} {i}"] = v / np.linalg.norm(v)
            good, bad = (0.85, 0.35)
            rows.append(
                {
                    "task": f"task{t}",
                    "text": f"t{t} {i}",
                    "metric": kind,
                    "a": float(rng.random() < (good if kind == "mc" else bad + 0.2)),
                    "b": float(rng.random() < (bad if kind == "mc" else good)),
                    "c": float(rng.random() < 0.5),
                }
            )
    new = []
    for i in range(30):
        v = np.zeros(8)
        v[6] = 1.0
        v += rng.normal(scale=0.2, size=8)
        table[f"new {i}"] = v / np.linalg.norm(v)
        new.append(f"new {i}")
    router = Router(embedder=TableEmbedder(table), cache_dir=False).fit(
        Benchmark.from_records(rows)
    )
    return router, new


@pytest.fixture(scope="module")
def metric_router() -> tuple[Router, list[str]]:
    return _metric_bench()


def test_select_model_uses_the_tasks_of_the_metric(metric_router: Any) -> None:
    router, new = metric_router
    assert router.metrics == ["math", "mc"]
    assert router.best_model_on_average == "a"
    sel = router.select_model(new, metric="math")
    assert not sel.familiar and not sel.abstained
    assert sel.model == "b" and sel.metric == "math" and sel.metric_tasks == 2
    expected = metric_estimate(router.task_accuracy_, router.task_metrics_, "math", router.bma_)
    assert [sel.estimate[m] for m in router.model_names_] == pytest.approx(
        expected.accuracy.tolist()
    )
    assert "2 benchmark task(s) scored by 'math'" in sel.why
    assert sel.to_dict()["metric"] == "math" and sel.to_dict()["metric_tasks"] == 2
    assert router.select_model(new, metric="mc").model == "a"
    assert router.select_model(new, metric="math", method="calibrated").model == "b"
    assert router.select_model(new, metric="math", models=["a", "c"]).model in ("a", "c")
    plain = router.select_model(new)
    assert plain.metric is None and plain.metric_tasks == 0


def test_metric_posterior_weighs_labels_by_the_priors_spread() -> None:
    acc = np.array([[0.9, 0.5], [0.8, 0.4], [0.3, 0.7], [0.4, 0.7], [0.6, 0.6]])
    metrics = ["mc", "mc", "math", "math", None]
    prior = metric_estimate(acc, metrics, "math", bma=0)
    assert prior.gain[1] > 0 and prior.gain[0] == 0.0
    # no labels: the prior itself
    np.testing.assert_allclose(metric_posterior(prior, np.empty((0, 2))), prior.accuracy)
    # hand-computed normal update of the gain with 10 paired differences of -1
    y = np.array([[1.0, 0.0]] * 10)
    post = metric_posterior(prior, y)
    var = 12 / 12 - (10 / 12) ** 2  # one pseudo-pair won, one lost: 1 up, 11 down
    pv = prior.gain_var[1]
    gain = (prior.gain[1] / pv + 10 * -1.0 / var) / (1 / pv + 10 / var)
    p = 11 / 12
    level = (prior.level / prior.level_var + 10 * 1.0 / (p * (1 - p))) / (
        1 / prior.level_var + 10 / (p * (1 - p))
    )
    assert post[0] == pytest.approx(np.clip(level, 0, 1))
    assert post[1] == pytest.approx(np.clip(level + gain, 0, 1))
    assert post[1] - post[0] < prior.gain[1]  # the labels pull the gain down...
    many = metric_posterior(prior, np.array([[1.0, 0.0]] * 2000))
    assert many[0] > many[1]  # ...and enough of them overturn the prior
    # a missing label leaves that model's gain at its prior
    missing = metric_posterior(prior, np.array([[0.0, np.nan]] * 10))
    assert missing[1] - missing[0] == pytest.approx(prior.gain[1])


def test_labels_update_the_metric_estimate(metric_router: Any) -> None:
    import copy

    router, new = metric_router
    labelled = copy.copy(router).add_labeled(
        new[:20], {"a": [0.0] * 20, "b": [0.0] * 20, "c": [1.0] * 20}
    )
    sel = labelled.select_model(new[20:], metric="math")
    assert "conjugate normal update of the metric's estimate" in sel.why
    prior = metric_estimate(router.task_accuracy_, router.task_metrics_, "math", router.bma_)
    expected = metric_posterior(prior, labelled.labels_[labelled.task_index_ < 0])
    assert [sel.estimate[m] for m in router.model_names_] == pytest.approx(expected.tolist())
    before = router.select_model(new[20:], metric="math").estimate
    # gains over the bma (a, never right on the labels): c's grows, b's (tied with a on
    # the labels) shrinks toward 0
    gain, gain_before = ({m: e[m] - e["a"] for m in "bc"} for e in (sel.estimate, before))
    assert gain["c"] > gain_before["c"] and 0 < gain["b"] < gain_before["b"]
    assert sel.metric == "math"


def test_bad_metrics_are_refused(metric_router: Any, clustered_data: Any) -> None:
    router, new = metric_router
    with pytest.raises(RoutingInputError, match=r"metric 'MATH'.*known metrics: \['math', 'mc'\]"):
        router.select_model(new, metric="MATH")
    with pytest.raises(RoutingInputError, match="calibrated methods"):
        router.select_model(new, metric="math", method="s3")
    with pytest.raises(RoutingInputError, match="non-empty string"):
        router.select_model(new, metric="  ")
    with pytest.raises(RoutingInputError, match="non-empty string"):
        router.select_model(new, metric=3)  # type: ignore[arg-type]
    rows, emb = clustered_data
    plain = Router(embedder=emb, cache_dir=False).fit(Benchmark.from_records(rows))
    with pytest.raises(RoutingInputError, match="names none"):
        plain.select_model(["new0 0"], metric="math")


def test_task_metrics_survive_save_and_load(metric_router: Any, tmp_path: Path) -> None:
    router, new = metric_router
    path = router.save(tmp_path / "r")
    again = Router.load(path, embedder=router.embedder_)
    assert again.task_metrics_ == router.task_metrics_
    assert again.select_model(new, metric="math").to_dict() == (
        router.select_model(new, metric="math").to_dict()
    )
    meta = read_manifest_json(path)
    meta["task_metrics"] = ["math"]  # one name for four tasks
    replace_manifest(path, meta)
    with pytest.raises(ArtifactError, match="task_metrics"):
        Router.load(path, embedder=router.embedder_)
    meta["task_metrics"] = ["mc", "mc", "", "math"]
    replace_manifest(path, meta)
    with pytest.raises(ArtifactError, match="task_metrics"):
        Router.load(path, embedder=router.embedder_)
    del meta["task_metrics"]  # an artifact from before the metrics: none known
    replace_manifest(path, meta)
    old = Router.load(path, embedder=router.embedder_)
    assert old.metrics == []
    with pytest.raises(RoutingInputError, match="names none"):
        old.select_model(new, metric="math")


def test_for_task_passes_the_metric(metric_router: Any) -> None:
    from test_runnable_support import FakeChat

    from langchain_benchrouter.langchain.runnable import RoutedChatModel

    router, new = metric_router
    models = {m: FakeChat(label=m) for m in router.model_names}
    llm = RoutedChatModel(router=router, models=models)
    pinned = llm.for_task(new, metric="math")
    assert pinned.selection is not None and pinned.selection.model == "b"
    assert pinned.selection == router.select_model(new, metric="math")
    out = pinned.invoke("anything")
    assert out.response_metadata["benchrouter"]["model"] == "b"
    with pytest.raises(RoutingInputError, match="metric 'nope'"):
        llm.for_task(new, metric="nope")


def test_runnable_task_metric_drives_per_task_selection(metric_router: Any) -> None:
    from test_runnable_support import FakeChat

    from langchain_benchrouter.langchain.runnable import RoutedChatModel

    router, new = metric_router
    models = {m: FakeChat(label=m) for m in router.model_names}
    llm = RoutedChatModel(router=router, models=models, mode="per_task", task_metric="math")
    outs = llm.batch(new[:10])
    picked = {o.response_metadata["benchrouter"]["model"] for o in outs}
    assert picked == {router.select_model(new[:10], metric="math").model} == {"b"}
    assert outs[0].response_metadata["benchrouter"]["metric"] == "math"
    pinned = llm.for_task(new)  # for_task defaults to the runnable's task_metric
    assert pinned.selection == router.select_model(new, metric="math")
    assert llm.for_task(new, metric="mc").selection == router.select_model(new, metric="mc")
    # the paper's scores take no metric: the runnable's default does not reach them...
    assert llm.for_task(new, method="s3").selection == router.select_model(new, method="s3")
    with pytest.raises(RoutingInputError, match="calibrated methods"):
        llm.for_task(new, method="s3", metric="math")  # ...an explicit one is an error
    plain = RoutedChatModel(router=router, models=models, mode="per_task")
    assert plain.for_task(new).selection == router.select_model(new)
    with pytest.raises(RoutingInputError, match=r"task_metric 'nope'.*known"):
        RoutedChatModel(router=router, models=models, task_metric="nope")
