"""The lexical correction of the per-input route: fit, tuning, state, router wiring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_benchrouter import Benchmark, Router
from langchain_benchrouter.core.artifact import read_manifest_json, replace_manifest
from langchain_benchrouter.core.lexical import MIN_ROWS, LexicalResidualModel, switch_gain
from langchain_benchrouter.errors import ArtifactError, RoutingInputError

WORDS = ["river", "castle", "garden", "winter", "market", "letter", "bridge", "forest"]


def _records(n_per_task: int = 120, seed: int = 0) -> list[dict[str, object]]:
    """Two tasks; model ``a`` is each task's best, but ``b`` wins every "integral" input."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for t, topic in enumerate(["history", "physics"]):
        for i in range(n_per_task):
            special = i % 4 == 0
            words = rng.choice(WORDS, size=4)
            text = f"{topic} question {' '.join(words)}" + (" integral" if special else "")
            rows.append(
                {
                    "instance_id": f"{t}-{i}",
                    "task": topic,
                    "text": text,
                    "a": 0.0 if special else float(rng.random() < 0.9),
                    "b": 1.0 if special else 0.0,
                }
            )
    return rows


@pytest.fixture(scope="module")
def lexical_router() -> Router:
    return Router(embedder="hashing", cache_dir=False).fit(Benchmark.from_records(_records()))


def _arrays(rows: list[dict[str, object]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    texts = [str(r["text"]) for r in rows]
    scores = np.array([[r["a"], r["b"]] for r in rows], dtype=np.float64)
    tasks = np.array([0 if r["task"] == "history" else 1 for r in rows], dtype=np.int64)
    return texts, scores, tasks


def test_learns_which_words_make_another_model_win() -> None:
    texts, scores, tasks = _arrays(_records())
    lex = LexicalResidualModel().fit(texts, scores, tasks)
    assert lex.enabled and lex.tuning_gain_ > 0.1  # a quarter of the rows gain ~0.9
    res = lex.residual(["history question river integral", "history question river castle"])
    # b's residual over its task mean (0.25) is higher on "integral" (+0.75 in the data)
    # than elsewhere (-0.25); a's the opposite.
    assert res[0, 1] > res[1, 1] + 0.3 and res[0, 0] < res[1, 0] - 0.3


def test_no_residual_means_no_correction() -> None:
    texts, _, tasks = _arrays(_records())
    flat = np.where(tasks[:, None] == 0, [0.8, 0.3], [0.6, 0.5])  # constant within tasks
    lex = LexicalResidualModel().fit(texts, flat, tasks)
    assert not lex.enabled and lex.margin_ is None and lex.tuning_gain_ == 0.0
    assert np.abs(lex.residual(texts[:5])).max() < 1e-9


def test_switch_gain_by_hand() -> None:
    est = np.array([[0.9, 0.2], [0.4, 0.6], [0.1, 0.9]])
    scores = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    base = np.array([0, 0, 0])
    # margin 0.1: rows 2 and 3 switch to b; task 0 = rows 0-1 (row 1 loses 1), task 1 = row 2
    tasks = np.array([0, 0, 1])
    assert switch_gain(est, tasks, scores, base, 0.1) == pytest.approx((-0.5 + 1.0) / 2)
    # margin 0.5: only row 2 leads by more (0.8)
    assert switch_gain(est, tasks, scores, base, 0.5) == pytest.approx((0.0 + 1.0) / 2)


def test_fit_rejects_bad_input() -> None:
    texts, scores, tasks = _arrays(_records())
    with pytest.raises(ValueError, match="disagree"):
        LexicalResidualModel().fit(texts[:-1], scores, tasks)
    with pytest.raises(ValueError, match=f"at least {MIN_ROWS}"):
        LexicalResidualModel().fit(texts[:10], scores[:10], tasks[:10])


def test_state_round_trip_and_tampering() -> None:
    texts, scores, tasks = _arrays(_records())
    lex = LexicalResidualModel().fit(texts, scores, tasks)
    params, arrays = lex.get_state()
    again = LexicalResidualModel.from_state(json.loads(json.dumps(params)), arrays, n_models=2)
    np.testing.assert_allclose(again.residual(texts[:20]), lex.residual(texts[:20]), atol=1e-6)
    assert (again.alpha_, again.margin_) == (lex.alpha_, lex.margin_)
    vocab = params["vocabulary"]
    bad_cases: list[tuple[dict[str, Any], dict[str, np.ndarray], str]] = [
        ({**params, "vocabulary": [*vocab[:-1], vocab[0]]}, arrays, "duplicate"),
        ({**params, "vocabulary": params["vocabulary"][:-1]}, arrays, "disagree"),
        ({**params, "vocabulary": [1, 2]}, arrays, "non-empty strings"),
        (params, {**arrays, "lexical_coef": np.full_like(arrays["lexical_coef"], np.nan)}, "NaN"),
        (params, {**arrays, "lexical_idf": np.full_like(arrays["lexical_idf"], np.inf)}, "NaN"),
        ({**params, "alpha": -1.0}, arrays, "alpha must be > 0"),
        ({**params, "alpha": True}, arrays, "numbers"),
        ({**params, "margin": "0.1"}, arrays, "numbers"),
        ({**params, "margin": float("nan")}, arrays, "finite"),
    ]
    for bad_params, bad_arrays, match in bad_cases:
        with pytest.raises(ValueError, match=match):
            LexicalResidualModel.from_state(bad_params, bad_arrays, n_models=2)
    with pytest.raises(ValueError, match="disagree"):
        LexicalResidualModel.from_state(params, arrays, n_models=3)


def test_router_route_switches_where_the_words_say(lexical_router: Router) -> None:
    router = lexical_router
    assert router.lexical_ is not None and router.lexical_.enabled
    queries = [
        "history question garden winter integral",
        "physics question bridge forest market integral",
        "history question garden winter letter",
        "physics question bridge forest castle",
    ]
    lex = router.route(queries)  # the default method
    cal = router.route(queries, method="calibrated")
    assert lex.lexical is not None and cal.lexical is None
    assert list(lex.models) == ["b", "b", "a", "a"]
    # The flag marks exactly the inputs whose calibrated choice was replaced.
    changed = [m != c for m, c in zip(lex.models, cal.models, strict=True)]
    assert lex.lexical.tolist() == changed
    assert lex.decision(0)["lexical_switch"] is bool(changed[0])
    # The fallback order starts with the chosen model, switched or not.
    assert [lex.ranking(i)[0] for i in range(len(queries))] == list(lex.models)
    # Restricted to a: never switched to an excluded model.
    assert list(router.route(queries, models=["a"])) == ["a"] * 4


def test_router_without_lexical_is_the_calibrated_route() -> None:
    router = Router(embedder="hashing", cache_dir=False, lexical=False).fit(
        Benchmark.from_records(_records())
    )
    assert router.lexical_ is None
    queries = ["history question garden winter integral", "physics question forest"]
    assert list(router.route(queries)) == list(router.route(queries, method="calibrated"))
    assert router.route(queries).lexical is None
    with pytest.raises(RoutingInputError, match="lexical must be True or False"):
        Router(embedder="hashing", lexical="yes").fit(  # type: ignore[arg-type]
            Benchmark.from_records(_records())
        )
    with pytest.raises(RoutingInputError, match="unknown route method"):
        router.route(queries, method="words")  # type: ignore[arg-type]


def test_lexical_correction_survives_save_and_load(lexical_router: Router, tmp_path: Path) -> None:
    router = lexical_router
    queries = ["history question garden integral", "physics question bridge forest"]
    path = router.save(tmp_path / "r")
    again = Router.load(path)
    assert again.lexical_ is not None and again.lexical_.margin_ == router.lexical_.margin_  # type: ignore[union-attr]
    assert list(again.route(queries)) == list(router.route(queries))
    np.testing.assert_array_equal(again.route(queries).lexical, router.route(queries).lexical)  # type: ignore[arg-type]
    meta = read_manifest_json(path)
    good = json.loads(json.dumps(meta["lexical"]))
    meta["lexical"]["vocabulary"] = meta["lexical"]["vocabulary"][1:]  # tampered
    replace_manifest(path, meta)
    with pytest.raises(ArtifactError, match="invalid lexical correction"):
        Router.load(path)
    meta["lexical"] = {k: v for k, v in good.items() if k != "alpha"}
    replace_manifest(path, meta)
    with pytest.raises(ArtifactError, match="invalid lexical correction"):
        Router.load(path)
    del meta["lexical"]  # an artifact from before the correction: the calibrated route
    replace_manifest(path, meta)
    old = Router.load(path)
    assert old.lexical_ is None
    assert list(old.route(queries)) == list(old.route(queries, method="calibrated"))


def test_large_benchmarks_are_sampled_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    ti = np.array([0] * 300 + [1] * 100, dtype=np.int64)
    picked = LexicalResidualModel()._sample(ti, 40)
    assert np.bincount(ti[picked]).tolist() == [30, 10]
    assert len(set(picked.tolist())) == picked.size  # without replacement
    assert LexicalResidualModel()._sample(ti, 1000).tolist() == list(range(400))
    # Capped tuning and fit rows still learn the rule.
    import langchain_benchrouter.core.lexical as lexical_mod

    monkeypatch.setattr(lexical_mod, "TUNING_ROWS", 120)
    monkeypatch.setattr(lexical_mod, "FIT_ROWS", 160)
    texts, scores, tasks = _arrays(_records())
    lex = LexicalResidualModel().fit(texts, scores, tasks)
    assert lex.enabled
    res = lex.residual(["physics question bridge integral", "physics question bridge castle"])
    assert res[0, 1] > res[1, 1] + 0.3


def test_a_loaded_model_answers_concurrent_first_calls() -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts, scores, tasks = _arrays(_records())
    params, arrays = LexicalResidualModel().fit(texts, scores, tasks).get_state()
    fresh = LexicalResidualModel.from_state(params, arrays, n_models=2)  # no vectorizer yet
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda t: fresh.residual([t]), texts[:64]))
    np.testing.assert_allclose(np.vstack(results), fresh.residual(texts[:64]), atol=1e-9)
