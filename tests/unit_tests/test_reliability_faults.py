"""Faults: the embedder raising or hanging, the chosen model raising, hanging or returning garbage.

Each fault has one defined behaviour (see docs/reliability.md):

* routing fails (embedder raises) -> ``default_model`` when configured, else a library
  error (``RoutingError`` with the original as ``__cause__``; an ``EmbedderError`` as is);
* routing exceeds ``routing_timeout`` -> ``default_model``, else ``RoutingTimeoutError``;
* the chosen model raises, exceeds ``model_timeout`` (``ModelTimeoutError``) or returns
  a non-message (``ModelOutputError``) -> the next-ranked model when ``fallbacks`` allows,
  else the error is raised with the routing decision attached (``error_decision``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel
from test_runnable_support import CODE, CODE_Q, MATH, MATH_Q, MODELS, TRIVIA, TRIVIA_Q, fakes
from test_runnable_support import records as synthetic_records

from langchain_benchrouter.core.embeddings import HashingEmbedder
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import (
    BenchRouterError,
    EmbedderError,
    ModelOutputError,
    ModelTimeoutError,
    RoutingError,
    RoutingInputError,
    RoutingTimeoutError,
)
from langchain_benchrouter.langchain.runnable import DECISION_ATTR, RoutedChatModel, error_decision

HANG = 10.0  # seconds a "hanging" fake waits at most (released at the end of each test)
# model_timeout of the hang tests: long enough for the fallback model to answer on a loaded
# 2-core CI machine (0.2 s once was not, in the agent test's async path).
HANG_TIMEOUT = 1.0


class SwitchableEmbedder:
    """The hashing embedder, which can be told to raise or to hang at routing time."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder()
        self.fault: BaseException | None = None
        self.hang = False
        self.release = threading.Event()

    @property
    def name(self) -> str:
        return "switchable-hashing"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.hang:
            self.release.wait(HANG)
        if self.fault is not None:
            raise self.fault
        return self.inner.embed(texts)


@pytest.fixture
def emb() -> Iterator[SwitchableEmbedder]:
    e = SwitchableEmbedder()
    yield e
    e.release.set()  # let any background routing thread finish


@pytest.fixture
def router(emb: SwitchableEmbedder) -> Router:
    bench = Benchmark.from_records(synthetic_records())
    return Router(embedder=emb, cache_dir=False).fit(bench)


def chosen(out: Any) -> str:
    return str(out.response_metadata["benchrouter"]["model"])


# --------------------------------------------------------------------------- routing faults


def test_embedder_error_without_default_is_a_library_error_with_cause(
    router: Router, emb: SwitchableEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = RoutedChatModel(router=router, models=fakes())
    emb.fault = ConnectionError("embedding service down")
    with pytest.raises(EmbedderError, match="ConnectionError: embedding service down") as info:
        llm.invoke(MATH_Q)
    assert isinstance(info.value.__cause__, ConnectionError)
    emb.fault = EmbedderError("bad vectors")
    with pytest.raises(EmbedderError, match="bad vectors"):  # already a library error: as is
        llm.invoke(MATH_Q)
    outs = llm.batch([MATH_Q, CODE_Q], return_exceptions=True)
    assert all(isinstance(o, EmbedderError) for o in outs)
    emb.fault = None

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise IndexError("index corrupted")

    monkeypatch.setattr(router, "route", broken)  # any other failure inside routing
    with pytest.raises(RoutingError, match="IndexError: index corrupted") as info2:
        llm.invoke(MATH_Q)
    assert isinstance(info2.value.__cause__, IndexError)


async def test_embedder_error_falls_back_to_default_model(
    router: Router, emb: SwitchableEmbedder
) -> None:
    models = fakes()
    llm = RoutedChatModel(router=router, models=models, default_model=TRIVIA)
    emb.fault = RuntimeError("CUDA out of memory")
    for out in [llm.invoke(MATH_Q), await llm.ainvoke(CODE_Q), *llm.batch([MATH_Q, CODE_Q])]:
        decision = out.response_metadata["benchrouter"]
        assert decision["model"] == TRIVIA and decision["mode"] == "default"
        assert "RuntimeError: CUDA out of memory" in decision["reason"]
    chunks = list(llm.stream(MATH_Q))
    assert "".join(str(c.content) for c in chunks) == f"{TRIVIA}: {MATH_Q}"
    assert not models[MATH].calls and not models[CODE].calls
    emb.fault = None  # recovered: routing is back
    assert chosen(llm.invoke(MATH_Q)) == MATH


def test_input_errors_are_not_hidden_by_default_model(router: Router) -> None:
    llm = RoutedChatModel(router=router, models=fakes(), default_model=TRIVIA)
    with pytest.raises(RoutingInputError):
        llm.invoke(42)  # type: ignore[arg-type]
    with pytest.raises(RoutingInputError, match="cost_weight"):
        llm.invoke(MATH_Q, {"configurable": {"benchrouter_cost_weight": -1}})
    with pytest.raises(RoutingInputError, match="mode"):
        llm.invoke(MATH_Q, {"configurable": {"benchrouter_mode": "psychic"}})


def test_invalid_options_are_library_errors(router: Router) -> None:
    for bad in ({"routing_timeout": 0}, {"model_timeout": -1.0}, {"max_routing_chars": 0}):
        with pytest.raises(RoutingInputError, match="invalid RoutedChatModel options"):
            RoutedChatModel(router=router, models=fakes(), **bad)


async def test_hung_embedder_times_out(router: Router, emb: SwitchableEmbedder) -> None:
    strict = RoutedChatModel(router=router, models=fakes(), routing_timeout=0.2)
    lenient = RoutedChatModel(
        router=router, models=fakes(), routing_timeout=0.2, default_model=CODE
    )
    emb.hang = True
    with pytest.raises(RoutingTimeoutError, match=r"routing_timeout=0\.2") as info:
        strict.invoke(MATH_Q)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, BenchRouterError)
    with pytest.raises(RoutingTimeoutError):
        await strict.ainvoke(MATH_Q)
    out = lenient.invoke(MATH_Q)
    assert chosen(out) == CODE
    assert "RoutingTimeoutError" in out.response_metadata["benchrouter"]["reason"]
    assert chosen(await lenient.ainvoke(TRIVIA_Q)) == CODE
    emb.hang = False
    emb.release.set()
    assert chosen(strict.invoke(MATH_Q)) == MATH  # a fast embedder is unaffected


# --------------------------------------------------------------------------- model faults


def echo(label: str) -> RunnableLambda[Any, AIMessage]:
    return RunnableLambda(lambda x, label=label: AIMessage(f"{label} ok"), name=label)


def hanging(release: threading.Event) -> RunnableLambda[Any, AIMessage]:
    def slow(_: Any) -> AIMessage:
        release.wait(HANG)
        return AIMessage("too late")

    async def aslow(_: Any) -> AIMessage:
        await asyncio.sleep(HANG)
        return AIMessage("too late")

    return RunnableLambda(slow, afunc=aslow, name="hanging")


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def ranking(router: Router, text: str) -> list[str]:
    return router.route([text]).ranking(0)


def test_model_error_is_surfaced_unchanged_with_the_decision(router: Router) -> None:
    models = fakes()
    models[MATH].error = PermissionError("quota exceeded")
    llm = RoutedChatModel(router=router, models=models)
    with pytest.raises(PermissionError, match="quota exceeded") as info:
        llm.invoke(MATH_Q)
    decision = error_decision(info.value)
    assert decision is not None and getattr(info.value, DECISION_ATTR) is decision
    assert decision["model"] == MATH and decision["mode"] == "per_input"
    assert decision["ranking"] == ranking(router, MATH_Q)
    assert decision["attempts"] == [{"model": MATH, "error": "PermissionError: quota exceeded"}]
    assert set(decision["proba"]) == set(MODELS)
    assert any("benchrouter: routed to" in n for n in info.value.__notes__)
    assert error_decision(ValueError("unrelated")) is None


async def test_model_error_decision_in_every_call_style(router: Router) -> None:
    models = fakes()
    models[CODE].error = ConnectionError("reset")
    llm = RoutedChatModel(router=router, models=models)
    errors: list[BaseException] = []
    for call in (llm.ainvoke(CODE_Q),):
        with pytest.raises(ConnectionError) as info:
            await call
        errors.append(info.value)
    with pytest.raises(ConnectionError) as info:
        list(llm.stream(CODE_Q))
    errors.append(info.value)
    with pytest.raises(ConnectionError) as info:
        [c async for c in llm.astream(CODE_Q)]
    errors.append(info.value)
    outs = llm.batch([MATH_Q, CODE_Q], return_exceptions=True)
    aouts = await llm.abatch([CODE_Q, TRIVIA_Q], return_exceptions=True)
    assert chosen(outs[0]) == MATH and chosen(aouts[1]) == TRIVIA
    errors += [outs[1], aouts[0]]
    for err in errors:
        assert isinstance(err, ConnectionError)
        decision = error_decision(err)
        assert decision is not None and decision["model"] == CODE
        assert decision["attempts"][-1]["model"] == CODE


def test_model_error_after_all_fallbacks_lists_every_attempt(router: Router) -> None:
    models = fakes()
    order = ranking(router, MATH_Q)
    for name in order[:2]:
        models[name].error = TimeoutError(f"{name} down")
    llm = RoutedChatModel(router=router, models=models, fallbacks=1)
    with pytest.raises(TimeoutError, match=f"{order[1]} down") as info:
        llm.invoke(MATH_Q)
    decision = error_decision(info.value)
    assert decision is not None
    assert [a["model"] for a in decision["attempts"]] == order[:2]
    assert decision["model"] == order[0] and decision["failed_model"] == order[1]
    wider = RoutedChatModel(router=router, models=models, fallbacks=2)
    out = wider.invoke(MATH_Q)
    assert chosen(out) == order[2]
    assert [a["model"] for a in out.response_metadata["benchrouter"]["fallback_from"]] == order[:2]


async def test_hung_model_times_out_then_falls_back(
    router: Router, release: threading.Event
) -> None:
    order = ranking(router, MATH_Q)
    models: dict[str, Any] = {m: echo(m) for m in MODELS}
    models[order[0]] = hanging(release)
    strict = RoutedChatModel(router=router, models=models, model_timeout=HANG_TIMEOUT)
    with pytest.raises(ModelTimeoutError, match=r"model_timeout=1\.0") as info:
        strict.invoke(MATH_Q)
    assert isinstance(info.value, TimeoutError)
    assert error_decision(info.value)["model"] == order[0]  # type: ignore[index]
    with pytest.raises(ModelTimeoutError):
        await strict.ainvoke(MATH_Q)
    with pytest.raises(ModelTimeoutError):
        list(strict.stream(MATH_Q))
    with pytest.raises(ModelTimeoutError):
        [c async for c in strict.astream(MATH_Q)]
    batch = strict.batch([MATH_Q, CODE_Q], return_exceptions=True)
    assert isinstance(batch[0], ModelTimeoutError)
    assert isinstance(batch[1], AIMessage)

    llm = RoutedChatModel(router=router, models=models, model_timeout=HANG_TIMEOUT, fallbacks=1)
    outs = [
        llm.invoke(MATH_Q),
        await llm.ainvoke(MATH_Q),
        *llm.batch([MATH_Q]),
        *(await llm.abatch([MATH_Q])),
    ]
    for out in outs:
        assert out.content == f"{order[1]} ok"
        decision = out.response_metadata["benchrouter"]
        assert decision["routed_model"] == order[0]
        assert "ModelTimeoutError" in decision["fallback_from"][0]["error"]
    chunks = list(llm.stream(MATH_Q))
    assert "".join(str(c.content) for c in chunks) == f"{order[1]} ok"
    achunks = [c async for c in llm.astream(MATH_Q)]
    assert "".join(str(c.content) for c in achunks) == f"{order[1]} ok"


def test_fast_model_is_unaffected_by_model_timeout(router: Router) -> None:
    llm = RoutedChatModel(router=router, models=fakes(), model_timeout=5.0)
    assert chosen(llm.invoke(MATH_Q)) == MATH
    assert "".join(str(c.content) for c in llm.stream(CODE_Q)) == f"{CODE}: {CODE_Q}"


@pytest.mark.parametrize("garbage", [None, 42, "plain text", {"not": "a message"}])
async def test_garbage_model_output(router: Router, garbage: Any) -> None:
    order = ranking(router, TRIVIA_Q)
    models: dict[str, Any] = {m: echo(m) for m in MODELS}
    models[order[0]] = RunnableLambda(lambda _: garbage)
    strict = RoutedChatModel(router=router, models=models)
    with pytest.raises(ModelOutputError, match="not a chat message") as info:
        strict.invoke(TRIVIA_Q)
    assert error_decision(info.value)["model"] == order[0]  # type: ignore[index]
    with pytest.raises(ModelOutputError):
        await strict.ainvoke(TRIVIA_Q)
    with pytest.raises(ModelOutputError):
        list(strict.stream(TRIVIA_Q))
    assert isinstance(strict.batch([TRIVIA_Q], return_exceptions=True)[0], ModelOutputError)
    llm = RoutedChatModel(router=router, models=models, fallbacks=1)
    out = llm.invoke(TRIVIA_Q)
    assert out.content == f"{order[1]} ok"
    assert "ModelOutputError" in out.response_metadata["benchrouter"]["fallback_from"][0]["error"]
    assert (await llm.abatch([TRIVIA_Q]))[0].content == f"{order[1]} ok"
    unchecked = RoutedChatModel(router=router, models=models, check_output=False)
    assert unchecked.invoke(TRIVIA_Q) == garbage


def test_structured_output_is_not_mistaken_for_garbage(router: Router) -> None:
    class Answer(BaseModel):
        text: str

    class Structured(RunnableLambda[Any, Any]):
        def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:
            return RunnableLambda(lambda _: schema(text="forty-two"))

    models: dict[str, Any] = {m: Structured(lambda _: AIMessage("x")) for m in MODELS}
    llm = RoutedChatModel(router=router, models=models).with_structured_output(Answer)
    assert llm.invoke(MATH_Q) == Answer(text="forty-two")


# --------------------------------------------------------------------------- long inputs


def test_over_long_input_is_truncated_explicitly(router: Router) -> None:
    models = fakes()
    llm = RoutedChatModel(router=router, models=models)
    huge = (MATH_Q + " ") * 2 + "zq " * 3_500_000  # 10.5 MB
    out = llm.invoke(huge)
    decision = out.response_metadata["benchrouter"]
    assert decision["truncated_from"] == len(huge.strip())
    assert decision["model"] == router.route([huge.strip()[:8192]])[0]
    # the chosen model still receives the whole input
    sent = models[decision["model"]].calls[-1]["messages"][-1].content
    assert sent == huge
    short = llm.invoke(MATH_Q).response_metadata["benchrouter"]
    assert "truncated_from" not in short
    small_cap = RoutedChatModel(router=router, models=fakes(), max_routing_chars=10)
    capped = small_cap.invoke(MATH_Q).response_metadata["benchrouter"]
    assert capped["truncated_from"] == len(MATH_Q)
    assert capped["model"] == router.route([MATH_Q[:10]])[0]
    uncapped = RoutedChatModel(router=router, models=fakes(), max_routing_chars=None)
    assert "truncated_from" not in uncapped.invoke("x" * 20_000).response_metadata["benchrouter"]


def test_hashing_embedder_reads_a_bounded_prefix() -> None:
    from langchain_benchrouter.core.embeddings import HASHING_MAX_CHARS

    emb = HashingEmbedder()
    head = "alpha beta gamma " * (HASHING_MAX_CHARS // 17 + 1)
    a, b = emb.embed([head[:HASHING_MAX_CHARS], head[:HASHING_MAX_CHARS] + "delta " * 1_000_000])
    assert np.array_equal(a, b)


def test_sentence_transformer_input_is_cut_before_tokenizing() -> None:
    """The tokenizer never sees more than 64 characters per word piece of the window."""
    from langchain_benchrouter.core.embeddings import SentenceTransformerEmbedder

    class FakeModel:
        max_seq_length = 4

        def __init__(self) -> None:
            self.seen: list[str] = []

        def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray:
            self.seen.extend(texts)
            return np.ones((len(texts), 3), np.float32)

    emb = SentenceTransformerEmbedder()
    model = FakeModel()
    emb._model = model
    out = emb.embed(["x" * 10_000_000, "short"])
    assert out.shape == (2, 3)
    assert model.seen == ["x" * 256, "short"]


def test_foreign_embedder_output_is_validated_by_the_router() -> None:
    """A user embedder returning NaN or raising gives an EmbedderError, not a silent route."""

    class Flaky:
        name = "flaky"

        def __init__(self) -> None:
            self.inner = HashingEmbedder()
            self.mode = "ok"

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            if self.mode == "raise":
                raise OSError("socket closed")
            out = self.inner.embed(texts)
            return out * np.nan if self.mode == "nan" else out

    flaky = Flaky()
    router = Router(embedder=flaky, cache_dir=False).fit(
        Benchmark.from_records(synthetic_records())
    )
    assert router.route([MATH_Q])[0] == MATH
    flaky.mode = "nan"
    with pytest.raises(EmbedderError, match="NaN"):
        router.route([MATH_Q])
    flaky.mode = "raise"
    with pytest.raises(EmbedderError, match="OSError: socket closed") as info:
        router.route([MATH_Q])
    assert isinstance(info.value.__cause__, OSError)


def test_lone_surrogates_route_and_embed() -> None:
    """Text that UTF-8 cannot encode (lone surrogates) routes; the bad code points read as '?'."""
    from langchain_benchrouter.core.embeddings import SentenceTransformerEmbedder

    emb = HashingEmbedder()
    assert np.array_equal(emb.embed(["solve \ud800 x"]), emb.embed(["solve ? x"]))

    class FakeModel:
        max_seq_length = 256

        def __init__(self) -> None:
            self.seen: list[str] = []

        def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray:
            for t in texts:
                t.encode("utf-8")  # what a Rust tokenizer needs
            self.seen.extend(texts)
            return np.ones((len(texts), 3), np.float32)

    st_emb = SentenceTransformerEmbedder()
    st_emb._model = FakeModel()
    assert st_emb.embed(["a\udfffb"]).shape == (1, 3)
    assert st_emb._model.seen == ["a?b"]
