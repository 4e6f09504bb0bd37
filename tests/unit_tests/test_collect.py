"""collect(): real runs of fake chat models into a Benchmark (retries, timeouts, costs, store)."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

from langchain_benchrouter.cli import main
from langchain_benchrouter.collect import _retries
from langchain_benchrouter.collect.graders import Grader
from langchain_benchrouter.collect.runner import (
    PREFLIGHT_PROMPT,
    CallResult,
    CollectionPlan,
    acollect,
    classify_error,
    collect,
    regrade,
)
from langchain_benchrouter.collect.store import CollectionStore
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import (
    CollectionError,
    CostLimitError,
    GraderError,
    ModelConfigError,
)

# ----------------------------------------------------------------------------- fakes


class RateLimitError(Exception):
    """Shaped like a provider's 429 (status_code attribute)."""

    status_code = 429


class AuthenticationError(Exception):
    status_code = 401


class BadRequestError(Exception):
    status_code = 400


class CountingModel(BaseChatModel):
    """Answers from a table; counts started and completed calls per prompt text.

    ``transient``: prompt -> how many times to raise a 429 first; ``permanent``: prompts
    answered with a 400; ``hang``: prompts that never return; ``auth``: every call 401.
    """

    answers: dict[str, str] = Field(default_factory=dict)
    default: str = "?"
    transient: dict[str, int] = Field(default_factory=dict)
    permanent: set[str] = Field(default_factory=set)
    hang: set[str] = Field(default_factory=set)
    auth: bool = False
    delay: float = 0.0
    usage: tuple[int, int] | None = None

    _started: Counter[str] = PrivateAttr(default_factory=Counter)
    _completed: Counter[str] = PrivateAttr(default_factory=Counter)
    _in_flight: int = PrivateAttr(default=0)
    _max_in_flight: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "counting-fake"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        raise NotImplementedError  # the runner is async

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        text = messages[-1].text
        self._started[text] += 1
        self._in_flight += 1
        self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            if self.auth:
                raise AuthenticationError("invalid api key")
            if text in self.hang:
                await asyncio.sleep(3600)
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.transient.get(text, 0) >= self._started[text]:
                raise RateLimitError("rate limited, slow down")
            if text in self.permanent:
                raise BadRequestError("content rejected")
        finally:
            self._in_flight -= 1
        self._completed[text] += 1
        meta = None
        if self.usage is not None:
            i, o = self.usage
            meta = {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}
        message = AIMessage(content=self.answers.get(text, self.default), usage_metadata=meta)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def input_calls(self) -> Counter[str]:
        """Completed calls per input text (the preflight left out)."""
        return Counter({k: v for k, v in self._completed.items() if k != PREFLIGHT_PROMPT})


class Exact(Grader):
    """A grader of our own: 1.0 when the output equals the reference; counts its calls."""

    requires_reference = True

    def __init__(self, name: str = "test-exact", *, lower: bool = False) -> None:
        self.name = name
        self.lower = lower
        self.calls = 0

    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        self.calls += 1
        if reference == "ungradable":
            raise GraderError("this reference cannot be graded")
        out, ref = output.strip(), (reference or "").strip()
        if self.lower:
            out, ref = out.lower(), ref.lower()
        return float(out == ref)


TEXTS = ["What is 1+1?", "Capital of France?", "2*3?", "Colour of the sky?", "10/2?", "Pi?"]
REFS = ["2", "Paris", "6", "blue", "5", "3.14"]
TASKS = ["math", "geo", "math", "geo", "math", "math"]


def inputs(texts: list[str] = TEXTS, refs: list[str | None] | None = None) -> Benchmark:
    n = len(texts)
    return Benchmark(
        texts=texts,
        tasks=TASKS[:n],
        scores=np.zeros((n, 1)),
        models=["someone"],
        references=list(REFS[:n]) if refs is None else refs,
        metrics=["em"] * n,
        name="tiny",
    )


def right(**kw: Any) -> CountingModel:
    return CountingModel(answers=dict(zip(TEXTS, REFS, strict=True)), **kw)


FAST: dict[str, Any] = {"progress": False, "backoff": 0.001, "max_backoff": 0.01}


# ----------------------------------------------------------------------------- the run


def test_each_input_called_once_and_scored(tmp_path: Path) -> None:
    good = right(usage=(100, 10))
    half = CountingModel(answers={t: r for t, r in zip(TEXTS[::2], REFS[::2], strict=True)})
    prices = {"good": {"input_price": 2.0, "output_price": 10.0}}
    seen: list[CallResult] = []
    bench = collect(
        {"good": good, "half": half},
        inputs(),
        graders=Exact(),
        store=tmp_path / "s.sqlite",
        model_info=prices,
        on_result=seen.append,
        **FAST,
    )
    assert bench.models == ["good", "half"]
    np.testing.assert_array_equal(bench.scores[:, 0], np.ones(6))
    np.testing.assert_array_equal(bench.scores[:, 1], [1, 0, 1, 0, 1, 0])
    for model in (good, half):
        assert model.input_calls() == Counter(TEXTS)  # every input exactly once
        assert model._completed[PREFLIGHT_PROMPT] == 1  # one preflight, no more
    assert bench.references == REFS and bench.metrics == ["em"] * 6
    assert bench.tasks == TASKS and bench.texts == TEXTS
    # cost from usage_metadata and prices: (100 * 2 + 10 * 10) / 1e6 per call
    assert bench.costs is not None
    np.testing.assert_allclose(bench.costs[:, 0], 300 / 1e6)
    assert np.isnan(bench.costs[:, 1]).all()  # no prices for "half"
    assert bench.model_info["good"]["cost_per_call"] == pytest.approx(300 / 1e6)
    assert bench.model_info["good"]["input_price"] == 2.0
    assert bench.model_info["half"]["cost_per_call"] is None
    assert bench.model_info["good"]["latency_s"] >= 0
    assert bench.model_info["good"]["calls"] == 6
    assert bench.model_info["good"]["input_tokens_per_call"] == 100
    assert bench.model_info["good"]["output_tokens_per_call"] == 10
    assert bench.model_info["half"]["input_tokens_per_call"] is None  # no usage_metadata
    assert sorted((r.model, r.index) for r in seen) == sorted(
        (m, i) for m in ("good", "half") for i in range(6)
    )
    assert any("latency_s the median latency" in n for n in bench.notes)
    assert "this run made 12 calls (plus 2 preflight) and spent $0.002100" in bench.notes[0]
    assert any("graded by test-exact (math, geo)" in n for n in bench.notes)


def test_concurrency_limit_is_per_model() -> None:
    slow = right(delay=0.02)
    collect({"slow": slow}, inputs(), graders=Exact(), concurrency=2, **FAST)
    assert slow._max_in_flight == 2
    assert slow.input_calls() == Counter(TEXTS)


def test_progress_is_silent_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    collect({"a": right()}, inputs(), graders=Exact(), progress=True, backoff=0.001)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_requests_per_second_limits_the_rate() -> None:
    a = right()
    start = time.perf_counter()
    collect({"a": a}, inputs(), graders=Exact(), requests_per_second=20.0, **FAST)
    # 7 calls (6 inputs and the preflight) at 20 per second take at least 0.3 s
    assert time.perf_counter() - start >= 0.3
    assert a.input_calls() == Counter(TEXTS)


def test_transient_failures_are_retried(tmp_path: Path) -> None:
    flaky = right(transient={TEXTS[0]: 2, TEXTS[3]: 1})
    bench = collect(
        {"flaky": flaky}, inputs(), graders=Exact(), store=tmp_path / "s", max_retries=3, **FAST
    )
    np.testing.assert_array_equal(bench.scores[:, 0], np.ones(6))
    assert flaky._started[TEXTS[0]] == 3 and flaky._completed[TEXTS[0]] == 1
    assert flaky._started[TEXTS[3]] == 2
    with CollectionStore(tmp_path / "s") as store:
        rows = store.results("flaky")
    assert rows[0].attempts == 3 and rows[3].attempts == 2 and rows[1].attempts == 1
    assert not any("failed" in n for n in bench.notes)


def test_permanent_failure_is_nan_with_a_note(tmp_path: Path) -> None:
    bad = right(permanent={TEXTS[1]}, transient={TEXTS[2]: 99})
    bench = collect(
        {"bad": bad}, inputs(), graders=Exact(), store=tmp_path / "s", max_retries=2, **FAST
    )
    scores = bench.scores[:, 0]
    assert np.isnan(scores[1]) and np.isnan(scores[2])
    np.testing.assert_array_equal(np.delete(scores, [1, 2]), np.ones(4))
    assert bad._started[TEXTS[1]] == 1  # a 400 is not retried
    assert bad._started[TEXTS[2]] == 3  # a 429 is, max_retries times
    note = next(n for n in bench.notes if n.startswith("bad:"))
    assert "2 of 6 calls failed" in note and "1 permanent" in note and "1 transient" in note
    assert bench.model_info["bad"]["failed_calls"] == 2
    with CollectionStore(tmp_path / "s") as store:
        row = store.results("bad")[1]
    assert row.error is not None and "BadRequestError: content rejected" in row.error
    # a later run does not call the failed inputs again, unless asked to
    again = collect({"bad": bad}, inputs(), graders=Exact(), store=tmp_path / "s", **FAST)
    assert bad._started[TEXTS[1]] == 1 and np.isnan(again.scores[1, 0])
    bad.permanent = set()
    fixed = collect(
        {"bad": bad}, inputs(), graders=Exact(), store=tmp_path / "s", retry_failed=True, **FAST
    )
    assert bad._started[TEXTS[1]] == 2 and fixed.scores[1, 0] == 1.0
    assert bad.input_calls()[TEXTS[0]] == 1  # the successful ones were never called again


def test_timeout_is_retried_then_recorded(tmp_path: Path) -> None:
    stuck = right(hang={TEXTS[4]})
    bench = collect(
        {"stuck": stuck},
        inputs(),
        graders=Exact(),
        store=tmp_path / "s",
        timeout=0.2,
        max_retries=1,
        **FAST,
    )
    assert np.isnan(bench.scores[4, 0]) and (bench.scores[[0, 1, 2, 3, 5], 0] == 1).all()
    assert stuck._started[TEXTS[4]] == 2 and stuck._completed[TEXTS[4]] == 0
    with CollectionStore(tmp_path / "s") as store:
        row = store.results("stuck")[4]
    assert row.error_kind == "timeout" and "timeout=0.2 s" in (row.error or "")
    assert "1 timeout" in next(n for n in bench.notes if n.startswith("stuck:"))


def test_preflight_auth_failure_stops_before_any_input() -> None:
    locked = right(auth=True)
    fine = right()
    with pytest.raises(ModelConfigError, match=r"'locked'.*authentication.*no input was sent"):
        collect({"fine": fine, "locked": locked}, inputs(), graders=Exact(), **FAST)
    assert locked._started[PREFLIGHT_PROMPT] == 1  # auth errors are not retried
    assert sum(locked.input_calls().values()) == 0
    assert sum(fine.input_calls().values()) == 0
    assert sum(v for k, v in fine._started.items() if k != PREFLIGHT_PROMPT) == 0


def test_preflight_reports_every_failing_model() -> None:
    with pytest.raises(ModelConfigError, match=r"'one'.*\| .*'two'") as info:
        collect(
            {"one": right(auth=True), "two": right(permanent={PREFLIGHT_PROMPT})},
            inputs(),
            graders=Exact(),
            **FAST,
        )
    assert "authentication" in str(info.value) and "content rejected" in str(info.value)


def test_auth_error_mid_run_stops_and_keeps_results(tmp_path: Path) -> None:
    model = right()

    def revoke(result: CallResult) -> None:
        if result.index == 1:
            model.auth = True

    with pytest.raises(ModelConfigError, match=r"during the run|in the run"):
        collect(
            {"m": model},
            inputs(),
            graders=Exact(),
            store=tmp_path / "s",
            concurrency=1,
            on_result=revoke,
            **FAST,
        )
    with CollectionStore(tmp_path / "s") as store:
        assert sorted(store.finished("m")) == [0, 1]  # the failing call is not stored
    model.auth = False
    bench = collect({"m": model}, inputs(), graders=Exact(), store=tmp_path / "s", **FAST)
    assert (bench.scores[:, 0] == 1).all()
    assert model.input_calls() == Counter(TEXTS)


def test_string_models_resolve_up_front() -> None:
    with pytest.raises(ModelConfigError, match="'x'"):
        collect({"x": "not-a-model-string"}, inputs(), graders=Exact(), **FAST)


# ----------------------------------------------------------------------------- plans, cost


PRICES = {"a": {"input_price": 3.0, "output_price": 15.0}, "b": {"input_price": 0.5}}


def test_dry_run_counts_and_cost_exactly(tmp_path: Path) -> None:
    a, b = right(), right()
    plan = collect(
        {"a": a, "b": b},
        inputs(),
        graders=Exact(),
        model_info=PRICES,
        expected_output_tokens=100,
        dry_run=True,
        **FAST,
    )
    assert isinstance(plan, CollectionPlan)
    # chars/4 rounded up: 12, 18, 4, 18, 5, 3 chars -> 3, 5, 1, 5, 2, 1 tokens = 17
    assert [math.ceil(len(t) / 4) for t in TEXTS] == [3, 5, 1, 5, 2, 1]
    pa, pb = plan.models
    assert (pa.calls, pa.input_tokens, pa.output_tokens) == (6, 17, 600)
    assert pa.estimated_cost == pytest.approx((17 * 3.0 + 600 * 15.0) / 1e6, rel=1e-12)
    assert pb.estimated_cost is None and plan.estimated_cost is None  # b has no output price
    assert "unknown" in str(plan)
    assert sum(a._started.values()) + sum(b._started.values()) == 0  # a dry run calls nothing
    # with part of the work stored, the plan skips it
    store = tmp_path / "s.sqlite"
    collect({"a": a}, inputs(TEXTS[:6]), graders=Exact(), store=store, **FAST)
    done = a.input_calls()
    plan2 = collect(
        {"a": a, "b": b},
        inputs(),
        graders=Exact(),
        store=store,
        model_info={"a": PRICES["a"], "b": {"input_price": 1.0, "output_price": 2.0}},
        expected_output_tokens=10,
        tokenizer=len,
        dry_run=True,
        **FAST,
    )
    assert a.input_calls() == done
    pa2, pb2 = plan2.models
    assert (pa2.done, pa2.calls, pa2.estimated_cost) == (6, 0, 0.0)
    chars = sum(map(len, TEXTS))
    assert (pb2.calls, pb2.input_tokens, pb2.output_tokens) == (6, chars, 60)
    assert plan2.estimated_cost == pytest.approx((chars * 1.0 + 60 * 2.0) / 1e6, rel=1e-12)
    assert plan2.calls == 6


def test_dry_run_creates_no_store(tmp_path: Path) -> None:
    collect({"a": right()}, inputs(), graders=Exact(), store=tmp_path / "new", dry_run=True)
    assert not (tmp_path / "new").exists()


def test_max_cost_refuses_before_any_call() -> None:
    a = right()
    with pytest.raises(CostLimitError, match=r"about \$0\.0090.*max_cost=\$0\.005"):
        collect(
            {"a": a},
            inputs(),
            graders=Exact(),
            model_info={"a": {"input_price": 0.0, "output_price": 1.0}},
            expected_output_tokens=1500,  # 6 * 1500 tokens at $1/M = $0.009
            max_cost=0.005,
            **FAST,
        )
    assert sum(a._started.values()) == 0  # not even the preflight
    with pytest.raises(CollectionError, match=r"max_cost needs the prices.*'a'"):
        collect({"a": a}, inputs(), graders=Exact(), max_cost=1.0, **FAST)


def test_max_cost_stops_the_run_once_spent(tmp_path: Path) -> None:
    # every call reports 500,000 input tokens at $2/M: $1.00 each, the preflight too
    a = right(usage=(500_000, 0))
    with pytest.raises(CostLimitError, match=r"spend \$3\.0000 reached max_cost=\$3.*2 calls"):
        collect(
            {"a": a},
            inputs(),
            graders=Exact(),
            store=tmp_path / "s",
            model_info={"a": {"input_price": 2.0, "output_price": 0.0}},
            expected_output_tokens=0,
            max_cost=3.0,
            concurrency=1,
            **FAST,
        )
    assert sum(a.input_calls().values()) == 2
    with CollectionStore(tmp_path / "s") as store:
        assert len(store.finished("a")) == 2  # what was spent is kept


# ----------------------------------------------------------------------------- store


def test_regrade_makes_no_calls(tmp_path: Path) -> None:
    shouty = CountingModel(answers={t: r.upper() for t, r in zip(TEXTS, REFS, strict=True)})
    store = tmp_path / "s.sqlite"
    first = collect({"shouty": shouty}, inputs(), graders=Exact(), store=store, **FAST)
    calls = dict(shouty._started)
    # "Paris" and "blue" differ in case; digits do not
    np.testing.assert_array_equal(first.scores[:, 0], [1, 0, 1, 0, 1, 1])
    lenient = Exact("test-lower", lower=True)
    again = regrade(store, lenient, progress=False)
    assert dict(shouty._started) == calls
    np.testing.assert_array_equal(again.scores[:, 0], np.ones(6))
    assert again.texts == TEXTS and again.references == REFS
    assert again.model_info["shouty"]["calls"] == 6
    assert any("no model was called" in n for n in again.notes)
    with sqlite3.connect(store) as conn:
        graders = {r[0] for r in conn.execute("SELECT DISTINCT grader FROM grades")}
    assert graders == {"test-exact", "test-lower"}
    # grades under a known name are reused, not recomputed
    assert regrade(store, lenient, progress=False).scores.tolist() == again.scores.tolist()
    assert lenient.calls == 6
    # per-task graders: lenient on geo only
    mixed = regrade(store, {"geo": lenient, "math": Exact()}, progress=False)
    np.testing.assert_array_equal(mixed.scores[:, 0], np.ones(6))
    # collect again with another grader: also no calls
    collect({"shouty": shouty}, inputs(), graders=lenient, store=store, **FAST)
    assert dict(shouty._started) == calls


def test_store_refuses_other_inputs_and_other_models(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    collect({"a": right()}, inputs(), graders=Exact(), store=store, **FAST)
    changed = list(TEXTS)
    changed[2] = "3*2?"
    with pytest.raises(CollectionError, match=r"different inputs.*1 input\(s\) changed"):
        collect({"a": right()}, inputs(changed), graders=Exact(), store=store, **FAST)
    with pytest.raises(CollectionError, match=r"different inputs.*2 stored input\(s\)"):
        collect({"a": right()}, inputs(TEXTS[:4]), graders=Exact(), store=store, **FAST)
    refs: list[str | None] = list(REFS)
    refs[0] = "two"
    with pytest.raises(CollectionError, match="changed text or reference"):
        collect({"a": right()}, inputs(refs=refs), graders=Exact(), store=store, **FAST)
    with pytest.raises(CollectionError, match="different inputs"):
        collect({"a": right()}, inputs(changed), graders=Exact(), store=store, dry_run=True)

    class OtherModel(CountingModel):
        pass

    with pytest.raises(CollectionError, match=r"'a' was collected as .*CountingModel"):
        collect({"a": OtherModel()}, inputs(), graders=Exact(), store=store, **FAST)


def test_store_is_one_run_at_a_time(tmp_path: Path) -> None:
    with (
        CollectionStore(tmp_path / "s.sqlite"),
        pytest.raises(CollectionError, match="in use by process"),
    ):
        CollectionStore(tmp_path / "s.sqlite")
    CollectionStore(tmp_path / "s.sqlite").close()  # released on close


def test_store_refuses_a_foreign_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(CollectionError, match="not a usable collection store"):
        CollectionStore(junk)


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"concurrency": 0}, "concurrency must be an integer >= 1"),
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": 0}, "timeout must be a finite number > 0"),
        ({"max_cost": -1.0}, "max_cost"),
        ({"max_cost": float("nan")}, "max_cost"),
        ({"expected_output_tokens": 1.5}, "expected_output_tokens"),
        ({"requests_per_second": 0}, "requests_per_second"),
    ],
)
def test_bad_options_rejected_up_front(option: dict[str, Any], match: str) -> None:
    a = right()
    with pytest.raises(CollectionError, match=match):
        collect({"a": a}, inputs(), graders=Exact(), **{**FAST, **option})
    assert sum(a._started.values()) == 0


def test_grader_problems_rejected_up_front() -> None:
    a = right()
    with pytest.raises(GraderError, match=r"task\(s\) \['chess'\]"):
        collect({"a": a}, inputs(), graders={"chess": Exact()}, **FAST)
    refs: list[str | None] = list(REFS)
    refs[1] = None
    with pytest.raises(GraderError, match=r"task 'geo': 1 of 2 inputs have no reference"):
        collect({"a": a}, inputs(refs=refs), graders=Exact(), **FAST)
    code = inputs()
    code.metrics = ["code_eval"] * 6
    with pytest.raises(
        GraderError, match=r"no grader for task 'math'.*allow_code_execution=True.*\{'math': 'ex"
    ):
        collect({"a": a}, code, **FAST)
    with pytest.raises(GraderError, match="allow_code_execution=True"):
        collect({"a": a}, inputs(), graders="code", **FAST)
    with pytest.raises(GraderError, match=r"unknown grader 'exact'.*exact_match"):
        collect({"a": a}, inputs(), graders={"geo": "exact", "math": Exact()}, **FAST)
    with pytest.raises(ModelConfigError, match="model_info names"):
        collect({"a": a}, inputs(), graders=Exact(), model_info={"zz": {}}, **FAST)
    with pytest.raises(CollectionError, match="inputs must be a Benchmark"):
        collect({"a": a}, ["1+1?"], graders=Exact(), **FAST)  # type: ignore[call-overload]
    assert sum(a._started.values()) == 0


def test_every_call_failing_is_a_clear_error() -> None:
    dead = right(permanent=set(TEXTS))
    with pytest.raises(CollectionError, match=r"'dead'.*content rejected.*no graded answer"):
        collect({"dead": dead}, inputs(), graders=Exact(), **FAST)


def test_ungradable_answer_is_nan_with_a_note() -> None:
    refs: list[str | None] = list(REFS)
    refs[2] = "ungradable"
    bench = collect({"a": right()}, inputs(refs=refs), graders=Exact(), **FAST)
    assert np.isnan(bench.scores[2, 0])
    assert (np.delete(bench.scores[:, 0], 2) == 1).all()
    note = next(n for n in bench.notes if "could not be graded" in n)
    assert "1 answer(s)" in note and "instance 'math-3'" in note


def ref_in_output(output: str, reference: str) -> float:
    return float(reference in output)


def test_graders_by_name_callable_and_metric() -> None:
    wordy = CountingModel(answers={t: f"It is {r}." for t, r in zip(TEXTS, REFS, strict=True)})
    bench = collect(
        {"w": wordy},
        inputs(),
        graders={"geo": "contains", "math": ref_in_output},
        **FAST,
    )
    assert (bench.scores[:, 0] == 1).all()
    assert any("contains(" in n and "callable(" in n for n in bench.notes)
    # the metric picks the grader when graders= is not given: "exact_match" here
    exact = inputs()
    exact.metrics = ["exact_match"] * 6
    strict = collect({"w": wordy}, exact, **FAST)
    assert (strict.scores[:, 0] == 0).all()


async def test_acollect_in_a_running_loop() -> None:
    a = right()
    bench = await acollect({"a": a}, inputs(), graders=Exact(), **FAST)
    assert (bench.scores[:, 0] == 1).all()
    with pytest.raises(CollectionError, match="await acollect"):
        collect({"a": a}, inputs(), graders=Exact(), **FAST)


# ----------------------------------------------------------------------------- errors


class _Response:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}


class APIStatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"status {status}")
        self.response = _Response(status, {"retry-after": "7"})


class APIConnectionError(Exception):
    pass


class PermissionDeniedError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (RateLimitError(), "transient"),
        (APIStatusError(503), "transient"),
        (APIStatusError(529), "transient"),
        (APIStatusError(404), "permanent"),
        (APIStatusError(403), "auth"),
        (AuthenticationError(), "auth"),
        (PermissionDeniedError(), "auth"),
        (APIConnectionError(), "transient"),
        (ConnectionResetError(), "transient"),
        (TimeoutError(), "transient"),
        (BadRequestError(), "permanent"),
        (ValueError("nope"), "permanent"),
    ],
)
def test_classify_error(exc: BaseException, kind: str) -> None:
    assert classify_error(exc) == kind


def test_classify_error_follows_the_cause_and_reads_retry_after() -> None:
    try:
        try:
            raise APIStatusError(502)
        except APIStatusError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert classify_error(outer) == "transient"
        assert _retries.retry_after(outer) == 7.0


# ----------------------------------------------------------------------------- bundled slice


def test_bundled_slice_reproduces_a_known_table() -> None:
    full = Benchmark.bundled().select_tasks(["mmlu", "arc_challenge", "gsm8k"])
    rows = np.concatenate([np.flatnonzero(full.task_index == k)[:4] for k in range(3)])
    bench = full.subset(np.sort(rows))
    refs = bench.references
    assert all(r is not None for r in refs)

    def answer(i: int, good: bool) -> str:
        ref = refs[i] or ""
        task = bench.tasks[i]
        if task == "gsm8k":
            final = ref.split("####")[-1].strip()
            return f"The answer is {final}" if good else "I am not sure."
        return f"The answer is {ref}" if good else "The answer is Z"

    oracle = CountingModel(answers={t: answer(i, True) for i, t in enumerate(bench.texts)})
    pattern = [i % 2 == 0 for i in range(bench.n_inputs)]
    alternate = CountingModel(answers={t: answer(i, pattern[i]) for i, t in enumerate(bench.texts)})
    result = collect({"oracle": oracle, "alternate": alternate}, bench, **FAST)
    np.testing.assert_array_equal(result.scores[:, 0], np.ones(bench.n_inputs))
    np.testing.assert_array_equal(result.scores[:, 1], np.asarray(pattern, dtype=float))
    np.testing.assert_allclose(result.task_accuracy(), [[1.0, 0.5]] * 3)


# ----------------------------------------------------------------------------- CLI


def test_cli_collect_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collect", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in (
        "--models",
        "--inputs",
        "--out",
        "--store",
        "--tasks",
        "--limit-per-task",
        "--dry-run",
        "--max-cost",
        "--concurrency",
        "--allow-code-execution",
        "preflight",
    ):
        assert flag in out


@pytest.fixture
def fake_strings(monkeypatch: pytest.MonkeyPatch) -> dict[str, CountingModel]:
    """``fake:NAME`` model strings resolve to counting fakes that always answer the reference."""
    made: dict[str, CountingModel] = {}
    import langchain_benchrouter.langchain.models as models_mod

    def resolve(spec: Any, *, name: str) -> Any:
        if isinstance(spec, str) and spec.startswith("fake:"):
            return made.setdefault(spec, CountingModel(default="The answer is D"))
        raise ModelConfigError(f"chat model {name!r}: unknown {spec!r}")

    monkeypatch.setattr(models_mod, "resolve_chat_model", resolve)
    return made


def test_cli_collect_dry_run_and_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_strings: dict[str, CountingModel]
) -> None:
    args = [
        "collect",
        "--models",
        "d=fake:d",
        "--inputs",
        "bundled",
        "--tasks",
        "mmlu,arc_challenge",
        "--limit-per-task",
        "3",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--price",
        "d=1,2",
        "--output-tokens",
        "10",
    ]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "6 calls" in out and "no model was called" in out
    assert sum(fake_strings["fake:d"]._started.values()) == 0
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out
    saved = Benchmark.load(tmp_path / "out")
    assert saved.models == ["d"] and saved.n_inputs == 6
    assert saved.model_info["d"]["latency_s"] is not None
    ref_is_d = np.asarray([r == "D" for r in saved.references], dtype=float)
    np.testing.assert_array_equal(saved.scores[:, 0], ref_is_d)
    assert fake_strings["fake:d"].input_calls().total() == 6


def test_cli_collect_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_strings: dict[str, CountingModel]
) -> None:
    base = ["collect", "--inputs", "bundled", "--store", str(tmp_path / "s")]
    assert main([*base, "--models", "x=fake:x"]) == 2
    assert "--out DIR" in capsys.readouterr().err
    assert main([*base, "--models", "nonsense", "--dry-run"]) == 2
    assert "NAME=PROVIDER:MODEL" in capsys.readouterr().err
    assert main([*base, "--models", "x=fake:x", "--limit-per-task", "-2", "--dry-run"]) == 2
    assert "positive integer" in capsys.readouterr().err
    assert main([*base, "--models", "x=fake:x", "--concurrency", "0", "--dry-run"]) == 2
    assert "concurrency must be an integer >= 1" in capsys.readouterr().err
    code = main([*base, "--models", "x=openai:nothing", "--tasks", "mmlu", "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("benchrouter: error:") and "Traceback" not in err


def test_bad_run_options_are_configuration_errors() -> None:
    from langchain_benchrouter.collect import collect
    from langchain_benchrouter.errors import CollectionConfigError, CollectionError

    inputs = Benchmark.bundled().select_tasks("mmlu").sample(per_task=2)
    for bad in ({"concurrency": 0}, {"max_retries": -1}, {"timeout": -1.0}):
        with pytest.raises(CollectionConfigError) as info:
            collect({"m": "openai:gpt-4o-mini"}, inputs, dry_run=True, **bad)  # type: ignore[call-overload]
        assert isinstance(info.value, CollectionError) and isinstance(info.value, ValueError)
        assert next(iter(bad)) in str(info.value)
