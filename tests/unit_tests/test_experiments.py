"""Experiment: deterministic weighted assignment, tracing metadata, exposure logging, feedback."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import BenchRouterError, UnknownRunError
from langchain_benchrouter.experiments.experiment import (
    METADATA_KEY,
    Experiment,
    ExperimentError,
    assign_arm,
    unit_hash,
)
from langchain_benchrouter.experiments.exposure_log import SQLiteExposureLog
from langchain_benchrouter.langchain.runnable import RoutedChatModel


def fake(reply: str, usage: dict[str, int] | None = None) -> GenericFakeChatModel:
    """A chat model that answers ``reply`` forever (with usage metadata if given)."""

    def replies() -> Any:
        while True:
            yield AIMessage(content=reply, usage_metadata=usage) if usage else AIMessage(reply)

    return GenericFakeChatModel(messages=replies())


def two_arms(tmp_path: Path, **kwargs: Any) -> Experiment:
    return Experiment(
        name="exp",
        arms={"a": fake("from a"), "b": fake("from b")},
        arm_models={"a": "model-a", "b": "model-b"},
        log=tmp_path / "ab.sqlite",
        **kwargs,
    )


# --------------------------------------------------------------------------- assignment


def test_same_key_same_arm_across_instances() -> None:
    arms = {"a": fake("a"), "b": fake("b"), "c": fake("c")}
    one = Experiment(name="exp", arms=arms)
    two = Experiment(name="exp", arms=dict(arms))
    keys = [f"prompt number {i}" for i in range(300)]
    first = [one.arm_for_key(k) for k in keys]
    assert first == [one.arm_for_key(k) for k in keys]
    assert first == [two.arm_for_key(k) for k in keys]
    assert set(first) == {"a", "b", "c"}
    # the salt (the experiment's name by default) decorrelates experiments
    other = Experiment(name="another", arms=arms)
    assert (
        sum(a != b for a, b in zip(first, (other.arm_for_key(k) for k in keys), strict=True)) > 100
    )
    assert first == [assign_arm(k, ["a", "b", "c"], salt="exp") for k in keys]


def test_assignment_is_stable_across_processes() -> None:
    keys = [f"user-{i}" for i in range(50)]
    here = [assign_arm(k, ["x", "y"], [0.3, 0.7], salt="exp") for k in keys]
    code = (
        "from langchain_benchrouter.experiments.experiment import assign_arm\n"
        f"print(','.join(assign_arm(k, ['x', 'y'], [0.3, 0.7], salt='exp') for k in {keys!r}))"
    )
    # a fresh interpreter with a different hash seed: the built-in hash() would differ
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip().split(",") == here
    # pinned values: a change of the hash would silently reshuffle running experiments
    assert unit_hash("exp", "user-0") == unit_hash("exp", "user-0")
    assert len(unit_hash("exp", "user-0")) == 32


def test_weights_are_respected_over_10000_keys() -> None:
    exp = Experiment(
        name="weights",
        arms={"a": fake("a"), "b": fake("b"), "c": fake("c"), "off": fake("off")},
        weights={"a": 5, "b": 3, "c": 2, "off": 0},
    )
    counts = Counter(exp.arm_for_key(f"key {i}") for i in range(10_000))
    assert counts["off"] == 0
    for arm, share in {"a": 0.5, "b": 0.3, "c": 0.2}.items():
        assert abs(counts[arm] / 10_000 - share) < 0.02, counts


def test_unweighted_arms_left_out_of_weights_get_nothing() -> None:
    exp = Experiment(name="w", arms={"a": fake("a"), "b": fake("b")}, weights={"b": 1.0})
    assert {exp.arm_for_key(f"k{i}") for i in range(200)} == {"b"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"arms": {}}, "at least one arm"),
        ({"weights": {"a": 1.0, "zz": 1.0}}, "unknown arm"),
        ({"weights": {"a": -1.0, "b": 1.0}}, ">= 0"),
        ({"weights": {"a": 0.0, "b": 0.0}}, "weight > 0"),
        ({"arm_models": {"zz": "m"}}, "unknown arm"),
        ({"prices": {"m": {"input": -1.0}}}, "non-negative"),
        ({"name": " "}, "non-empty name"),
        ({"log": 42}, "ExposureLog"),
    ],
)
def test_configuration_errors(kwargs: dict[str, Any], match: str) -> None:
    base: dict[str, Any] = {"name": "exp", "arms": {"a": fake("a"), "b": fake("b")}}
    with pytest.raises(ExperimentError, match=match) as info:
        Experiment(**{**base, **kwargs})
    assert isinstance(info.value, BenchRouterError)


def test_unit_key_is_the_prompt_text_or_the_configured_id() -> None:
    exp = Experiment(name="k", arms={"a": fake("a"), "b": fake("b")})
    convo = [
        SystemMessage("be brief"),
        HumanMessage("hi"),
        AIMessage("hello"),
        HumanMessage("2+2?"),
    ]
    assert exp.unit_key_of(convo) == "2+2?"
    assert exp.unit_key_of("2+2?") == "2+2?"
    assert exp.unit_key_of("anything", {"configurable": {"unit_id": "user-7"}}) == "user-7"
    assert exp.unit_key_of("anything", {"metadata": {"unit_id": 7}}) == "7"
    # one user id -> one arm, whatever the prompts
    arms = {exp.arm_for(f"prompt {i}", {"configurable": {"unit_id": "user-7"}}) for i in range(50)}
    assert arms == {exp.arm_for_key("user-7")}
    custom = Experiment(name="k", arms={"a": fake("a")}, unit_key=lambda x: str(x).upper())
    assert custom.unit_key_of("abc") == "ABC"
    with pytest.raises(ExperimentError, match="no text"):
        exp.unit_key_of([SystemMessage("only a system message")])


# --------------------------------------------------------------------------- running


def test_invoke_calls_the_assigned_arm_and_logs_the_exposure(tmp_path: Path) -> None:
    usage = {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500}
    exp = Experiment(
        name="exp",
        arms={"a": fake("from a", usage), "b": fake("from b", usage)},
        arm_models={"a": "model-a", "b": "model-b"},
        prices={"model-a": {"input": 2.0, "output": 10.0}},
        log=tmp_path / "ab.sqlite",
    )
    prompts = [f"question {i}" for i in range(20)]
    outs = [exp.invoke(p) for p in prompts]
    for p, out in zip(prompts, outs, strict=True):
        arm = exp.arm_for_key(p)
        assert out.content == f"from {arm}"
        info = out.response_metadata[METADATA_KEY]
        assert info["arm"] == arm and info["model"] == f"model-{arm}"
        assert info["unit_hash"] == unit_hash("exp", p)
    log = exp.exposure_log
    assert isinstance(log, SQLiteExposureLog)
    rows = log.exposures("exp")
    assert [r.run_id for r in rows] == [o.response_metadata[METADATA_KEY]["run_id"] for o in outs]
    for row, p in zip(rows, prompts, strict=True):
        assert row.arm == exp.arm_for_key(p) and row.model == f"model-{row.arm}"
        assert (row.input_tokens, row.output_tokens, row.total_tokens) == (1000, 500, 1500)
        assert row.latency_s is not None and row.latency_s >= 0
        # cost only where the price table knows the model: (1000*2 + 500*10) / 1e6
        assert row.cost == (pytest.approx(0.007) if row.model == "model-a" else None)
        assert row.error is None
    # the log stores the key hash, never the prompt
    assert b"question 1" not in (tmp_path / "ab.sqlite").read_bytes()


def test_run_metadata_and_tags_reach_tracers(tmp_path: Path) -> None:
    exp = two_arms(tmp_path)
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | exp | StrOutputParser()
    collector = RunCollectorCallbackHandler()
    answer = chain.invoke({"q": "What is 17 * 23?"}, {"callbacks": [collector]})
    arm = exp.arm_for_key("What is 17 * 23?")
    assert answer == f"from {arm}"
    root = collector.traced_runs[0]
    runs = {r.name: r for r in _walk(root)}
    exp_run = runs["exp"]
    assert exp_run.extra["metadata"][METADATA_KEY] == "exp"
    assert exp_run.extra["metadata"]["benchrouter_arm"] == arm
    assert exp_run.extra["metadata"]["benchrouter_model"] == f"model-{arm}"
    assert {"experiment:exp", f"arm:{arm}", f"model:model-{arm}"} <= set(exp_run.tags or [])
    # the arm's chat model run is the experiment run's child and inherits the grouping keys
    (child,) = exp_run.child_runs
    assert child.run_type == "llm"
    assert child.extra["metadata"]["benchrouter_arm"] == arm
    assert f"arm:{arm}" in (child.tags or [])
    logged = exp.exposure_log.exposures("exp")  # type: ignore[union-attr]
    assert [r.run_id for r in logged] == [str(exp_run.id)]


def _walk(run: Any) -> list[Any]:
    out = [run]
    for c in run.child_runs:
        out += _walk(c)
    return out


def test_user_run_id_is_the_logged_run_id_and_feedback_by_run_or_key(tmp_path: Path) -> None:
    exp = two_arms(tmp_path)
    run_id = "018f0000-0000-7000-8000-000000000001"
    exp.invoke("hello", {"run_id": uuid.UUID(run_id)})
    exp.invoke("hello again")
    assert exp.record_feedback(1.0, run_id=run_id) == run_id
    second = exp.record_feedback(0.0, key="hello again", comment="wrong")
    log = exp.exposure_log
    assert log is not None
    fb = log.feedback("exp")
    assert [(f.run_id, f.score) for f in fb] == [(run_id, 1.0), (second, 0.0)]
    assert fb[1].comment == "wrong"
    with pytest.raises(UnknownRunError):
        exp.record_feedback(1.0, key="never asked")
    with pytest.raises(UnknownRunError):
        exp.record_feedback(1.0, run_id="no-such-run")
    with pytest.raises(ExperimentError, match="exactly one"):
        exp.record_feedback(1.0)
    with pytest.raises(ExperimentError, match="no exposure log"):
        Experiment(name="x", arms={"a": fake("a")}).record_feedback(1.0, run_id=run_id)


def test_a_failing_arm_is_logged_with_its_error(tmp_path: Path) -> None:
    broken = FakeListChatModel(responses=[])  # raises IndexError on call
    exp = Experiment(name="err", arms={"broken": broken}, log=tmp_path / "ab.sqlite")
    with pytest.raises(IndexError):
        exp.invoke("anything")
    (row,) = exp.exposure_log.exposures("err")  # type: ignore[union-attr]
    assert row.arm == "broken" and row.error is not None and "IndexError" in row.error


def test_batch_stream_and_async_all_log(tmp_path: Path) -> None:
    exp = two_arms(tmp_path)
    outs = exp.batch([f"batch {i}" for i in range(6)])
    assert [o.content for o in outs] == [f"from {exp.arm_for_key(f'batch {i}')}" for i in range(6)]
    chunks = list(exp.stream("stream me"))
    assert "".join(str(c.content) for c in chunks) == f"from {exp.arm_for_key('stream me')}"
    assert chunks[0].response_metadata[METADATA_KEY]["arm"] == exp.arm_for_key("stream me")
    rows = exp.exposure_log.exposures("exp")  # type: ignore[union-attr]
    assert len(rows) == 7
    assert rows[-1].arm == exp.arm_for_key("stream me")


async def test_async_invoke_and_stream_log(tmp_path: Path) -> None:
    exp = two_arms(tmp_path)
    out = await exp.ainvoke("async hello")
    assert out.content == f"from {exp.arm_for_key('async hello')}"
    chunks = [c async for c in exp.astream("async stream")]
    assert "".join(str(c.content) for c in chunks) == f"from {exp.arm_for_key('async stream')}"
    rows = exp.exposure_log.exposures("exp")  # type: ignore[union-attr]
    assert [r.arm for r in rows] == [
        exp.arm_for_key("async hello"),
        exp.arm_for_key("async stream"),
    ]


def test_a_broken_log_does_not_break_the_answer_unless_asked(tmp_path: Path) -> None:
    exp = two_arms(tmp_path)
    same = uuid.UUID("018f0000-0000-7000-8000-0000000000aa")
    exp.invoke("once", {"run_id": same})
    # the same run id again: the log refuses the duplicate, the answer still comes back
    out = exp.invoke("twice", {"run_id": same})
    assert out.content.startswith("from ")
    strict = two_arms(tmp_path, raise_on_log_error=True)
    with pytest.raises(BenchRouterError, match="only once"):
        strict.invoke("thrice", {"run_id": same})


# --------------------------------------------------------------------------- router arm


def test_router_arm_against_a_fixed_model(
    tmp_path: Path, clustered_data: tuple[list[dict[str, object]], Any]
) -> None:
    rows, embedder = clustered_data
    router = Router(k=3, embedder=embedder, cache_dir=False).fit(Benchmark.from_records(rows))
    rr = RoutedChatModel(router=router, models={"a": fake("A"), "b": fake("B"), "c": fake("C")})
    exp = Experiment(
        name="router-vs-c",
        arms={"router": rr, "fixed": fake("C")},
        arm_models={"fixed": "c"},
        log=tmp_path / "ab.sqlite",
    )
    prompts = [f"new{t} {i}" for t in range(3) for i in range(10)]
    collector = RunCollectorCallbackHandler()
    outs = [exp.invoke(p, {"callbacks": [collector]}) for p in prompts]
    rows_logged = exp.exposure_log.exposures("router-vs-c")  # type: ignore[union-attr]
    routed = 0
    for p, out, row, run in zip(prompts, outs, rows_logged, collector.traced_runs, strict=True):
        assert row.arm == exp.arm_for_key(p)
        if row.arm == "router":
            routed += 1
            chosen = out.response_metadata["benchrouter"]["model"]
            assert row.model == chosen == out.response_metadata[METADATA_KEY]["model"]
            assert out.content == chosen.upper()
            # the router's choice is added to the experiment run when it ends
            assert run.extra["metadata"]["benchrouter_model"] == chosen
            assert f"model:{chosen}" in (run.tags or [])
        else:
            assert row.model == "c" and out.content == "C"
    assert 0 < routed < len(prompts)
    # the router sends cluster-0 inputs to a (or the generalist c), never to b; and vice versa
    by_prompt = {p: r.model for p, r in zip(prompts, rows_logged, strict=True) if r.arm == "router"}
    assert all(m in ("a", "c") for p, m in by_prompt.items() if p.startswith("new0"))
    assert all(m in ("b", "c") for p, m in by_prompt.items() if p.startswith("new1"))
    assert "a" in by_prompt.values() or "b" in by_prompt.values()
