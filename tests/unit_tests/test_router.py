"""Router: fit, reference pairs, S1/S2/S3 selection, shrinkage, per-input routing, edge cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.core.scoring import prob_beats
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import (
    BenchmarkFormatError,
    NotFittedError,
    RoutingInputError,
    UnknownModelError,
)

Data = tuple[list[dict[str, Any]], Any]


def _fit(data: Data, **kw: Any) -> tuple[Router, Benchmark]:
    rows, emb = data
    bench = Benchmark.from_records(rows)
    return Router(embedder=emb, cache_dir=False, **kw).fit(bench), bench


def _brute_knn_mean(X: np.ndarray, Y: np.ndarray, Q: np.ndarray, k: int) -> np.ndarray:
    """Independent reference: full cosine similarity, argsort, masked mean."""
    sim = Q @ X.T
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    g = Y[idx]
    return np.nanmean(g, axis=1)


def test_fit_learns_models_tasks_and_bma(clustered_data: Data) -> None:
    router, bench = _fit(clustered_data)
    assert router.model_names == ["a", "b", "c"]
    assert router.best_model_on_average == "c"
    assert router.embeddings_.shape == (60, 8)
    assert router.ref_u_.shape == (3,) and router.ref_p_.shape == (3, 3)
    assert router.embedder_.name == "table-test"
    assert router.model_prior_ == pytest.approx(np.nanmean(bench.task_accuracy(), axis=0))


def test_reference_pairs_match_brute_force_leave_one_task_out(clustered_data: Data) -> None:
    router, bench = _fit(clustered_data)
    X, Y = router.embeddings_, bench.labels
    for d in range(3):
        inside = bench.task_index == d
        g = _brute_knn_mean(X[~inside], Y[~inside], X[inside], 5)
        expect_p = ((g > 0.5) == (Y[inside] == 1)).mean(axis=0)
        assert router.ref_p_[d] == pytest.approx(expect_p)
        sims = np.sort(X[inside] @ X[~inside].T, axis=1)[:, ::-1][:, :19]
        assert router.ref_u_[d] == pytest.approx((1 - sims).mean(axis=1).mean(), abs=1e-5)


def test_route_picks_the_specialist_of_each_cluster(clustered_data: Data) -> None:
    router, bench = _fit(clustered_data)
    texts = [f"new0 {i}" for i in range(5)] + [f"new1 {i}" for i in range(5)]
    routes = router.route(texts, method="knn")  # the paper's per-input argmax
    assert routes.proba.shape == (10, 3)
    calibrated = router.route(texts)  # the default: the shrunk kNN still finds the specialist
    assert sum(m == "a" for m in calibrated[:5]) >= 3 and sum(m == "b" for m in calibrated[5:]) >= 3
    # the specialist wins unless the 60% generalist's neighbours happen to be all correct too
    # (a tie the prior then breaks in the generalist's favour)
    for i, chosen in enumerate(routes):
        best = "a" if i < 5 else "b"
        j = "ab".index(best)
        assert routes.proba[i, j] == 1.0
        assert chosen == (best if routes.proba[i, 2] < 1.0 else "c")
    assert sum(m == "a" for m in routes[:5]) >= 3 and sum(m == "b" for m in routes[5:]) >= 3
    q = router.embedder_.embed(["new0 0"])
    assert routes.proba[0] == pytest.approx(
        _brute_knn_mean(router.embeddings_, bench.labels, q, 5)[0]
    )
    assert 0 <= routes.distance[0] < 0.2
    assert routes.ranking(0)[0] == routes[0]
    assert routes.ranking(0)[-1] == "b"
    d = routes.decision(0)
    assert d["model"] == routes[0] and set(d["proba"]) == {"a", "b", "c"}
    # restricted to a subset
    assert set(router.route(["new0 0"], models=["b", "c"])) <= {"b", "c"}


def test_route_tie_break_prefers_better_prior(clustered_data: Data) -> None:
    router, _ = _fit(clustered_data)
    # cluster 2: a and b predict 0; c predicts its local mean; force a tie between a and b only
    routes = router.route(["new2 0"], models=["a", "b"])
    # a and b both have prior 1/3; tie -> argmax keeps the first of equals after tie-break
    assert routes[0] in {"a", "b"}
    assert routes.utility[0, 2] == -np.inf


def test_cost_aware_routing_trades_score_for_cost(clustered_data: Data) -> None:
    router, _ = _fit(clustered_data)
    costs = {"a": 10.0, "b": 10.0, "c": 0.1}
    texts = [f"new0 {i}" for i in range(10)]
    free = router.route(texts, costs=costs, cost_weight=0.0)
    i = list(free).index("a")  # an input where the specialist wins on score alone
    assert router.route([texts[i]], costs=costs, cost_weight=1.0)[0] == "c"
    assert router.route([texts[i]], costs=costs, cost_weight=1e-4)[0] == "a"
    with pytest.raises(ValueError, match="no cost is known"):
        router.route(["new0 0"], cost_weight=1.0)  # the synthetic benchmark has no prices
    with pytest.raises(UnknownModelError):
        router.route(["new0 0"], costs={"zzz": 1.0}, cost_weight=1.0)


def test_select_model_scores_follow_the_formulas(clustered_data: Data) -> None:
    router, _ = _fit(clustered_data)
    texts = [f"new0 {i}" for i in range(10)]
    sel = router.select_model(texts, method="s3", models=None)
    g = router.predict_proba(texts)
    assert [sel.s1[m] for m in "abc"] == pytest.approx(g.mean(axis=0))
    assert [sel.s2[m] for m in "abc"] == pytest.approx((g > 0.5).mean(axis=0))
    for m in "abc":
        assert sel.s3[m] == pytest.approx(sel.p[m] * sel.s2[m] + (1 - sel.p[m]) * (1 - sel.s2[m]))
        assert 0 <= sel.p[m] <= 1
    assert sel.n_inputs == 10 and sel.bma == "c"
    default = router.select_model(texts)
    assert default.method == "eb_select" and set(default.estimate) == {"a", "b", "c"}
    # the paper's scores ride along with the default decision
    assert (default.s1, default.s2, default.s3, default.p) == (sel.s1, sel.s2, sel.s3, sel.p)
    assert sel.to_dict()["model"] == sel.model
    assert sel.why


def test_shrinkage_rule_keeps_or_rejects_the_s3_winner(clustered_data: Data) -> None:
    texts = [f"new0 {i}" for i in range(10)]
    free, _ = _fit(clustered_data, shrink_threshold=None)
    p = {"a": 0.9, "b": 0.5, "c": 0.6}
    sel = free.select_model(texts, method="s3", p=p)
    assert sel.model == sel.candidate == "a"
    assert sel.prob_beats_bma is None
    strict, _ = _fit(clustered_data, shrink_threshold=0.6)
    sel = strict.select_model(texts, method="s3", p=p)
    n_plus = {m: round(sel.s2[m] * 10) for m in "abc"}
    expect = prob_beats(n_plus["a"], 0.9, n_plus["c"], 0.6, 10)
    assert sel.prob_beats_bma == pytest.approx(expect)
    assert sel.model == ("a" if expect >= 0.6 else "c")
    always_bma, _ = _fit(clustered_data, shrink_threshold=1.0)
    sel = always_bma.select_model(texts, method="s3", p={"a": 0.55, "b": 0.5, "c": 0.9})
    assert sel.candidate != "c" or sel.model == "c"
    assert sel.model == "c"


def test_s1_and_s2_methods_and_true_p_override(clustered_data: Data) -> None:
    router, _ = _fit(clustered_data)
    texts = [f"new1 {i}" for i in range(10)]
    assert router.select_model(texts, method="s1").model == "b"
    assert router.select_model(texts, method="s2").model == "b"
    sel = router.select_model(texts, method="s3", p=[1.0, 1.0, 1.0])
    assert sel.s3 == pytest.approx(sel.s2)
    with pytest.raises(ValueError, match="value in"):
        router.select_model(texts, method="s3", p=[1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="unknown method"):
        router.select_model(texts, method="s4")  # type: ignore[arg-type]


def test_bad_inputs_give_clear_errors(clustered_data: Data) -> None:
    router, _ = _fit(clustered_data)
    with pytest.raises(RoutingInputError, match="single string"):
        router.route("new0 0")
    with pytest.raises(RoutingInputError, match="no inputs"):
        router.route([])
    with pytest.raises(RoutingInputError, match=r"inputs\[1\] is empty"):
        router.route(["new0 0", "   "])
    with pytest.raises(RoutingInputError, match="int"):
        router.route(["new0 0", 3])  # type: ignore[list-item]
    with pytest.raises(UnknownModelError, match="zzz"):
        router.select_model(["new0 0"], models=["zzz"])
    with pytest.raises(NotFittedError):
        Router().route(["x"])
    with pytest.raises(ValueError, match="k must be"):
        Router(k=0, embedder="hashing").fit(Benchmark.from_records(clustered_data[0]))


def test_one_task_one_model_and_tiny_benchmarks(clustered_data: Data) -> None:
    rows, emb = clustered_data
    one_task = Benchmark.from_records([r for r in rows if r["task"] == "task0"])
    router = Router(embedder=emb, cache_dir=False).fit(one_task)
    assert router.ref_u_.shape == (0,)
    assert router.route(["new0 0"])[0] == "a"
    assert router.select_model(["new0 0"], method="s2").model == "a"
    with pytest.raises(ValueError, match="at least two benchmark tasks"):
        router.select_model(["new0 0"], method="s3")
    one_model = Benchmark.from_records(
        [{k: v for k, v in r.items() if k not in ("a", "b")} for r in rows]
    )
    r1 = Router(embedder=emb, cache_dir=False).fit(one_model)
    assert r1.select_model(["new1 0", "new1 1"]).model == "c"
    tiny = Benchmark.from_records(rows[:3])
    with pytest.raises(BenchmarkFormatError, match="fewer than k=5"):
        Router(embedder=emb, cache_dir=False).fit(tiny)
    assert Router(k=3, embedder=emb, cache_dir=False).fit(tiny).route(["new0 0"])[0] == "a"


def test_mlp_predictor_router(clustered_data: Data) -> None:
    router, _ = _fit(
        clustered_data,
        predictor="mlp",
        predictor_params={"epochs": 200, "hidden": (32, 16), "dropout": 0.0},
    )
    routes = router.route([f"new0 {i}" for i in range(5)] + [f"new1 {i}" for i in range(5)])
    assert sum(m == "a" for m in routes[:5]) >= 4
    assert sum(m == "b" for m in routes[5:]) >= 4
    assert router.ref_p_.shape == (3, 3)


def test_missing_labels_are_never_counted_as_zero(clustered_data: Data) -> None:
    rows, emb = clustered_data
    holed = [dict(r) for r in rows]
    for r in holed:
        if r["task"] == "task0" and int(str(r["instance_id"]).split("-")[1]) % 2:
            r["a"] = None  # model a ran on half of task 0 only
    router = Router(embedder=emb, cache_dir=False).fit(Benchmark.from_records(holed))
    proba = router.predict_proba(["new0 0", "new0 1"])
    assert proba[:, 0] == pytest.approx([1.0, 1.0])  # only known labels (all 1) are averaged


def test_float16_storage_routes_like_float32_and_round_trips(
    clustered_data: Data, tmp_path: Any
) -> None:
    r32, _ = _fit(clustered_data)
    r16, _ = _fit(clustered_data, index_dtype="float16")
    assert r16.embeddings_.dtype == np.float16
    assert r16.index_.nbytes * 2 == r32.index_.nbytes
    texts = [f"new{t} {i}" for t in range(3) for i in range(5)]
    assert list(r16.route(texts, method="knn")) == list(r32.route(texts, method="knn"))
    np.testing.assert_allclose(r16.ref_u_, r32.ref_u_, atol=1e-3)
    again = Router.load(r16.save(tmp_path / "r16"), embedder=clustered_data[1])
    assert again.embeddings_.dtype == np.float16 and again.index_dtype == "float16"
    assert list(again.route(texts)) == list(r16.route(texts))
    with pytest.raises(RoutingInputError, match="index_dtype"):
        _fit(clustered_data, index_dtype="int8")
    with pytest.raises(RoutingInputError, match="approximate_above"):
        _fit(clustered_data, approximate_above=0)
