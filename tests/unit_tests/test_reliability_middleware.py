"""Faults inside a langchain v1 agent: RouterMiddleware surfaces decisions and honours timeouts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.outputs import ChatResult
from test_runnable_support import MATH, MATH_Q, FakeChat, fakes, make_router

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.errors import ModelTimeoutError
from langchain_benchrouter.langchain.middleware import STATE_KEY, RouterMiddleware
from langchain_benchrouter.langchain.runnable import error_decision


class HangingChat(FakeChat):
    """A fake chat model that blocks until released (at most 10 s)."""

    release: Any = None

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.release.wait(10.0)
        return super()._generate(messages, *args, **kwargs)


# Long enough for a fallback model to answer on a loaded 2-core CI machine (0.2 s once
# was not, in the async agent path); the hanging model blocks until released.
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def router() -> Router:
    return make_router()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_agent_model_error_carries_the_decision(router: Router) -> None:
    models = fakes()
    models[MATH].error = PermissionError("quota")
    agent = create_agent(model=FakeChat(), middleware=[RouterMiddleware(router, models)])
    with pytest.raises(PermissionError, match="quota") as info:
        agent.invoke({"messages": [HumanMessage(MATH_Q)]})
    decision = error_decision(info.value)
    assert decision is not None and decision["model"] == MATH
    assert decision["attempts"] == [{"model": MATH, "error": "PermissionError: quota"}]
    assert any("benchrouter" in note for note in info.value.__notes__)


async def test_agent_model_timeout_falls_back(router: Router, release: threading.Event) -> None:
    models = fakes()
    models[MATH] = HangingChat(label=MATH, release=release)
    strict = create_agent(
        model=FakeChat(), middleware=[RouterMiddleware(router, models, model_timeout=TIMEOUT)]
    )
    with pytest.raises(ModelTimeoutError) as info:
        strict.invoke({"messages": [HumanMessage(MATH_Q)]})
    assert error_decision(info.value)["model"] == MATH  # type: ignore[index]
    agent = create_agent(
        model=FakeChat(),
        middleware=[RouterMiddleware(router, models, model_timeout=TIMEOUT, fallbacks=1)],
    )
    for state in (
        agent.invoke({"messages": [HumanMessage(MATH_Q)]}),
        await agent.ainvoke({"messages": [HumanMessage(MATH_Q)]}),
    ):
        meta = state["messages"][-1].response_metadata[STATE_KEY]
        assert meta["routed_model"] == MATH and meta["model"] != MATH
        assert "ModelTimeoutError" in meta["fallback_from"][0]["error"]
    release.set()  # let the abandoned calls finish before the event loop closes
