"""Load: one RoutedChatModel shared by 32 threads and by 1,000 concurrent async calls.

Every input must be routed (and answered) exactly as a single-threaded run does, and
per-call state (fallback attempts, decisions) must never leak between calls.
"""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from test_runnable_support import MODELS, VOCAB, make_router

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.langchain.messages import routing_text
from langchain_benchrouter.langchain.runnable import RoutedChatModel

FAIL_MARK = "#fail"


def inputs(n: int, seed: int = 0) -> list[str]:
    """Mixed prompts: task words, a few unicode oddities, some marked to make a model fail."""
    rng = random.Random(seed)
    words = [w for ws in VOCAB.values() for w in ws]
    out = []
    for i in range(n):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        if i % 7 == 0:
            text += " 🙂 naïve 中文"
        if i % 5 == 0:
            text += f" {FAIL_MARK}"
        out.append(f"{text} q{i}")
    return out


def model(name: str) -> RunnableLambda[Any, AIMessage]:
    """Echoes its name and the prompt; the first-ranked model fails on marked prompts."""

    def answer(value: Any) -> AIMessage:
        text = routing_text(value)
        if FAIL_MARK in text and name == MODELS[0]:
            msg = f"{name} refuses {text[-6:]}"
            raise ConnectionError(msg)
        return AIMessage(f"{name}|{text}")

    return RunnableLambda(answer, name=name)


@pytest.fixture(scope="module")
def router() -> Router:
    return make_router()


@pytest.fixture(scope="module")
def llm(router: Router) -> RoutedChatModel:
    return RoutedChatModel(router=router, models={m: model(m) for m in MODELS}, fallbacks=2)


def summary(out: Any) -> tuple[str, str, tuple[str, ...]]:
    if isinstance(out, Exception):
        return ("error", f"{type(out).__name__}: {out}", ())
    decision = out.response_metadata["benchrouter"]
    tried = tuple(a["model"] for a in decision.get("fallback_from", []))
    return (decision["model"], str(out.content), tried)


def sequential(
    llm: RoutedChatModel, texts: list[str]
) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    return {t: summary(llm.invoke(t)) for t in texts}


def test_32_threads_route_exactly_like_one(llm: RoutedChatModel) -> None:
    texts = inputs(96)
    expected = sequential(llm, texts)
    assert any(s[2] for s in expected.values())  # fallbacks do happen
    assert len({s[0] for s in expected.values()}) > 1  # several models are chosen

    def worker(k: int) -> list[tuple[str, tuple[str, str, tuple[str, ...]]]]:
        order = texts[k % len(texts) :] + texts[: k % len(texts)]
        got = [(t, summary(llm.invoke(t))) for t in order[:24]]
        batch = order[24:36]
        got += list(zip(batch, map(summary, llm.batch(batch)), strict=True))
        return got

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = [r for rs in pool.map(worker, range(32)) for r in rs]
    assert len(results) == 32 * 36
    mismatches = [(t, got, expected[t]) for t, got in results if got != expected[t]]
    assert not mismatches, mismatches[:3]


async def test_1000_concurrent_async_calls_route_exactly_like_one(llm: RoutedChatModel) -> None:
    texts = inputs(250, seed=1)
    expected = sequential(llm, texts)
    calls = [texts[i % len(texts)] for i in range(1000)]
    random.Random(2).shuffle(calls)
    outs = await asyncio.gather(*(llm.ainvoke(t) for t in calls))
    assert len(outs) == 1000
    mismatches = [(t, summary(o), expected[t]) for t, o in zip(calls, outs, strict=True)]
    assert [m for m in mismatches if m[1] != m[2]] == []


async def test_concurrent_abatch_and_astream(llm: RoutedChatModel) -> None:
    texts = inputs(60, seed=3)
    expected = sequential(llm, texts)
    chunks = [texts[i : i + 6] for i in range(0, 60, 6)]
    batches = await asyncio.gather(*(llm.abatch(c) for c in chunks))
    got = [summary(o) for b in batches for o in b]
    assert got == [expected[t] for t in texts]

    async def streamed(t: str) -> str:
        return "".join([str(c.content) async for c in llm.astream(t)])

    contents = await asyncio.gather(*(streamed(t) for t in texts))
    assert contents == [expected[t][1] for t in texts]


def test_per_task_batch_fallbacks_do_not_leak_between_inputs(router: Router) -> None:
    """One selection serves the whole batch; each input keeps its own fallback attempts."""
    texts = [f"solve the equation {i}" for i in range(8)]
    down: set[str] = set()

    def flaky(name: str) -> RunnableLambda[Any, AIMessage]:
        def answer(value: Any) -> AIMessage:
            if name in down:
                raise ConnectionError("down")
            return AIMessage(name)

        return RunnableLambda(answer, name=name)

    llm = RoutedChatModel(
        router=router, models={m: flaky(m) for m in MODELS}, mode="per_task", fallbacks=1
    )
    selected = llm.batch(texts[:1] * 8)[0].response_metadata["benchrouter"]["model"]
    pinned = llm.for_task(texts)
    assert pinned.selection is not None
    for runner, batch, model in ((llm, texts[:1] * 8, selected), (pinned, texts, None)):
        failing = model or pinned.selection.model
        down.clear()
        down.add(failing)
        outs = runner.batch(batch)
        if runner is pinned:
            outs += [pinned.invoke(t) for t in texts]
        for out in outs:
            decision = out.response_metadata["benchrouter"]
            assert decision["routed_model"] == failing
            assert decision["fallback_from"] == [
                {"model": failing, "error": "ConnectionError: down"}
            ]
