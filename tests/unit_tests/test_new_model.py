"""A new model from a few evaluations: the latent estimator, anchors, Router.add_model."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import langchain_benchrouter.core.router as router_module
from langchain_benchrouter import Benchmark, Router
from langchain_benchrouter.cli import main
from langchain_benchrouter.core._grow import absorb_labeled
from langchain_benchrouter.core.artifact import read_artifact
from langchain_benchrouter.core.new_model import LatentCorrectnessModel, fit_latent
from langchain_benchrouter.errors import ArtifactError, RoutingInputError

NEW = "qwen2.5-7b-instruct"
OTHERS = ["gemma-2-9b-it", "llama-3.1-8b-instruct", "mistral-7b-instruct-v0.3", "codegemma-7b"]


# The synthetic matrices have strong rank-2 structure (unit-variance item factors), so the
# tests fit with a light penalty (alpha=1); the default (20) suits the real benchmarks,
# whose items have few, noisy labels (docs/new-models.md).
def _synthetic(
    seed: int,
    sizes: tuple[int, ...] = (300, 150, 40, 30, 20),
    n_models: int = 12,
    task_scale: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli draws of a rank-2 logit matrix plus per-(model, task) skills."""
    rng = np.random.default_rng(seed)
    ti = np.repeat(np.arange(len(sizes)), sizes)
    n = ti.size
    a, theta = rng.normal(size=(n, 2)), rng.normal(scale=1.5, size=(n_models, 2))
    skill = rng.normal(scale=task_scale, size=(n_models, len(sizes)))
    logit = rng.normal(size=n)[:, None] + a @ theta.T + skill.T[ti]
    return (rng.random((n, n_models)) < 1 / (1 + np.exp(-logit))).astype(float), ti


def _task_mae(est: LatentCorrectnessModel, truth: np.ndarray, ti: np.ndarray, rows: Any) -> float:
    fit = est.estimate(rows, truth[rows])
    true_acc = np.array([truth[ti == t].mean() for t in range(ti.max() + 1)])
    return float(np.abs(fit.task_accuracy - true_acc).mean())


def test_estimator_beats_the_column_mean_on_held_out_entries() -> None:
    Y, ti = _synthetic(0, n_models=30)  # a benchmark of many models, like mmlu_pro's 29
    wins = 0
    for new in range(3):
        est = LatentCorrectnessModel(n_factors=2, alpha=1.0).fit(np.delete(Y, new, axis=1), ti)
        rows = est.choose_anchors(40, strategy="random", seed=new)
        fit = est.estimate(rows, Y[rows, new])
        rest = np.setdiff1d(np.arange(Y.shape[0]), rows)
        brier = float(np.mean((fit.proba[rest] - Y[rest, new]) ** 2))
        mean_only = float(np.mean((Y[rows, new].mean() - Y[rest, new]) ** 2))
        assert fit.proba.min() >= 0.0 and fit.proba.max() <= 1.0
        assert np.all(fit.proba[rows] == Y[rows, new])  # anchors keep their measured label
        assert np.all(fit.proba_sd[rows] == 0.0) and np.all(fit.proba_sd[rest] > 0.0)
        wins += brier < 0.85 * mean_only
    assert wins == 3


def test_library_anchors_beat_random_anchors() -> None:
    Y, ti = _synthetic(1, task_scale=1.5)
    library, random = [], []
    for new in range(4):
        est = LatentCorrectnessModel(n_factors=2, alpha=1.0).fit(np.delete(Y, new, axis=1), ti)
        library.append(_task_mae(est, Y[:, new], ti, est.choose_anchors(25, seed=0)))
        random.append(
            np.mean(
                [
                    _task_mae(est, Y[:, new], ti, est.choose_anchors(25, strategy="random", seed=s))
                    for s in range(5)
                ]
            )
        )
    assert np.mean(library) < np.mean(random)


def test_estimator_rejects_bad_input() -> None:
    Y, ti = _synthetic(2, sizes=(30, 20), n_models=4)
    with pytest.raises(ValueError, match="n_factors"):
        LatentCorrectnessModel(n_factors=-1).fit(Y, ti)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        LatentCorrectnessModel().fit(Y * 2, ti)
    est = LatentCorrectnessModel(n_factors=1).fit(Y, ti)
    with pytest.raises(RoutingInputError, match="budget must be >= 1"):
        est.choose_anchors(0)
    with pytest.raises(RoutingInputError, match="unknown anchor strategy"):
        est.choose_anchors(3, strategy="best")  # type: ignore[arg-type]
    with pytest.raises(RoutingInputError, match="no NaN"):
        est.estimate([0, 1], [1.0, float("nan")])
    info = est.choose_anchors(5, strategy="information")
    assert np.unique(info).size == 5


# ---------------------------------------------------------------------- the router face


@pytest.fixture(scope="module")
def bench() -> Benchmark:
    return Benchmark.bundled().sample(20, seed=0).select_models([*OTHERS, NEW])


@pytest.fixture(scope="module")
def base(bench: Benchmark) -> Router:
    return Router(embedder="hashing").fit(bench.select_models(OTHERS))


def _fresh(base: Router) -> Router:
    out = copy.copy(base)
    out.model_info_ = {m: dict(v) for m, v in base.model_info_.items()}
    if base.lexical_ is not None:
        out.lexical_ = copy.deepcopy(base.lexical_)
    return out


@pytest.fixture
def grown(base: Router, bench: Benchmark) -> Router:
    router = _fresh(base)
    anchors = router.anchor_inputs(budget=30, benchmark=bench)
    truth = bench.select_models(NEW).scores[:, 0]
    position = {t: i for i, t in enumerate(bench.texts)}
    scores = {a.text: float(truth[position[a.text]]) for a in anchors if a.text is not None}
    assert len(scores) == 30
    return router.add_model(NEW, scores, model_info={"size": "7B"})


def test_add_model_end_to_end(grown: Router, bench: Benchmark) -> None:
    j = grown.model_names.index(NEW)
    record = grown.model_info_[NEW]["estimated"]
    assert record["budget"] == 50 and record["anchors"] == 30
    assert grown.model_info_[NEW]["size"] == "7B"
    col = grown.labels_[:, j]
    anchors = np.asarray(record["anchor_rows"])
    assert set(np.unique(col[anchors])) <= {0.0, 1.0}
    soft = np.delete(col, anchors)
    assert np.all((soft >= 0) & (soft <= 1)) and np.mean((soft > 0) & (soft < 1)) > 0.9
    # The estimated column routes like a measured one.
    routes = grown.route(bench.texts[:40])
    assert routes.proba.shape == (40, 5) and np.isfinite(routes.proba[:, j]).all()
    sel = grown.select_model(bench.texts[:20])
    assert NEW in sel.estimate
    # Its per-task accuracies are estimates near the truth (4 other models, 30 anchors).
    truth = bench.select_models(NEW).task_accuracy()[:, 0]
    assert np.abs(grown.task_accuracy_[:, j] - truth).mean() < 0.25
    assert 0 < record["accuracy_sd"] < 0.2


def test_anchor_inputs_records(base: Router, bench: Benchmark) -> None:
    anchors = base.anchor_inputs(budget=7, benchmark=bench)
    assert len({a.row for a in anchors}) == 7
    for a in anchors:
        assert a.text is not None
        assert bench.task_names[bench.task_index[bench.texts.index(a.text)]] == a.task
    assert all(a.text is None for a in base.anchor_inputs(budget=3))


def test_add_model_accepts_rows_and_a_reused_estimator(base: Router, bench: Benchmark) -> None:
    router = _fresh(base)
    est = fit_latent(router)
    rows = [a.row for a in router.anchor_inputs(budget=12, estimator=est)]
    router.add_model(NEW, dict.fromkeys(rows, 1.0), estimator=est, budget=12)
    assert router.model_info_[NEW]["estimated"]["anchors"] == 12
    # An estimator of another router (other rows) is refused.
    small = Router(embedder="hashing", lexical=False).fit(bench.subset(np.arange(60)))
    with pytest.raises(RoutingInputError, match="refit it"):
        small.add_model("x", {0: 1.0}, estimator=est)


def test_add_models_replaces_estimated_cells(grown: Router, bench: Benchmark) -> None:
    j = grown.model_names.index(NEW)
    truth = bench.select_models(NEW)
    before = grown.labels_[:, j].copy()
    part = truth.subset(np.arange(50))
    grown.add_models(part, models=[NEW])
    rows = np.asarray(grown.model_info_[NEW]["estimated"]["measured_rows"])
    assert rows.size >= 50
    n = grown.labels_.shape[0]
    assert n == before.size  # every input was already held: replaced, not appended
    measured = grown.labels_[:, j]
    changed = np.flatnonzero(measured != before)
    assert changed.size > 0
    assert set(np.unique(measured[rows])) <= {0.0, 1.0}


def test_add_labeled_replaces_estimated_cells(grown: Router, bench: Benchmark) -> None:
    j = grown.model_names.index(NEW)
    record = grown.model_info_[NEW]["estimated"]
    soft_rows = [r for r in range(grown.labels_.shape[0]) if r not in record["measured_rows"]]
    target = soft_rows[0]
    # The router's row `target` is a benchmark input; find its text by its embedding.
    X = grown.embedder_.embed(bench.texts)
    text = bench.texts[int(np.argmin(1 - X @ grown.embeddings_[target].astype(np.float32)))]
    old = float(grown.labels_[target, j])
    assert 0 < old < 1
    n_before = grown.labels_.shape[0]
    grown.add_labeled([text], {NEW: [1.0]})  # replaces the estimate of that input
    assert grown.labels_[target, j] == 1.0
    assert grown.labels_.shape[0] == n_before + 1  # and the labelled input joins as usual
    assert absorb_labeled(grown, n_before + 1) == 0  # nothing left to absorb
    assert target in grown.model_info_[NEW]["estimated"]["measured_rows"]


def test_selection_reports_estimated_models(grown: Router, bench: Benchmark) -> None:
    sel = grown.select_model(bench.texts[:20])
    assert set(sel.estimated_models) == {NEW}
    assert sel.estimated_models[NEW]["budget"] == grown.model_info_[NEW]["estimated"]["budget"]


def test_save_load_keeps_the_estimated_column(grown: Router, tmp_path: Path) -> None:
    path = grown.save(tmp_path / "r")
    loaded = Router.load(path)
    j = loaded.model_names.index(NEW)
    np.testing.assert_array_equal(loaded.labels_, grown.labels_)
    assert loaded.model_info_[NEW]["estimated"] == grown.model_info_[NEW]["estimated"]
    assert loaded.route(["What is 2 + 2?"]).proba.shape == (1, 5)
    assert 0 < float(loaded.labels_[:, j].max()) <= 1


@pytest.mark.parametrize("column", ["estimated", "measured"])
def test_load_refuses_tampered_soft_labels(
    grown: Router, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, column: str
) -> None:
    path = grown.save(tmp_path / "r")
    manifest, arrays = read_artifact(path)
    labels = arrays["labels"].copy()
    j = grown.model_names.index(NEW if column == "estimated" else OTHERS[0])
    labels[0, j] = 1.5 if column == "estimated" else 0.5  # soft labels: estimated columns only
    monkeypatch.setattr(
        router_module, "read_artifact", lambda p: (manifest, {**arrays, "labels": labels})
    )
    with pytest.raises(ArtifactError, match="labels"):
        Router.load(path)


def test_add_model_bad_arguments(base: Router) -> None:
    router = _fresh(base)
    with pytest.raises(RoutingInputError, match="budget must be >= 1"):
        router.add_model(NEW, {0: 1.0}, budget=0)
    with pytest.raises(RoutingInputError, match="not one of the router's"):
        router.add_model(NEW, {10**6: 1.0})
    with pytest.raises(RoutingInputError, match="not benchmark inputs the router holds"):
        router.add_model(NEW, {"a question no benchmark ever asked, zq": 1.0})
    with pytest.raises(RoutingInputError, match="no NaN"):
        router.add_model(NEW, {0: float("nan")})
    with pytest.raises(RoutingInputError, match="in \\[0, 1\\]"):
        router.add_model(NEW, {0: 2.0})
    with pytest.raises(RoutingInputError, match="anchor_inputs"):
        router.add_model(NEW)
    with pytest.raises(RoutingInputError, match="already routes"):
        router.add_model(OTHERS[0], {0: 1.0})
    with pytest.raises(RoutingInputError, match="budget must be >= 1"):
        router.anchor_inputs(budget=0)
    assert NEW not in router.model_names  # nothing was added by the failures


def test_cli_budget_needs_the_new_model_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "bundled", "--embedder", "hashing", "--budget", "10,50"])
    assert code == 2
    assert "--budget is only valid with --protocol new-model" in capsys.readouterr().err
    assert main(["evaluate", "bundled", "--protocol", "new-model", "--budget", "0"]) == 2


def test_cli_new_model_protocol_writes_json_and_plot(bench: Benchmark, tmp_path: Path) -> None:
    data = bench.select_models(["gemma-2-9b-it", "llama-3.1-8b-instruct", NEW]).sample(8)
    data.save(tmp_path / "small.jsonl.gz")
    out = tmp_path / "out.json"
    args = ["evaluate", str(tmp_path / "small.jsonl.gz"), "--protocol", "new-model"]
    args += ["--budget", "5,10", "--repeats", "2", "--embedder", "hashing", "--json", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())["new_model"]
    entry = result["budgets"]["10"]
    for key in ("task_accuracy_mae", "auroc", "auroc_full", "routing_accuracy"):
        assert key in entry and key in entry["random"]
    assert entry["routing_accuracy_full"] is not None
    assert entry["random"]["routing_accuracy_se"] >= 0
    assert sorted(result["models"]) == sorted(data.models)
    assert out.with_suffix(".png").stat().st_size > 10_000
