"""Agents: RouterMiddleware and RoutedChatModel inside langchain v1 ``create_agent``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.structured_output import ToolStrategy
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel
from test_runnable_support import (
    CODE,
    CODE_Q,
    MATH,
    MATH_Q,
    TRIVIA,
    TRIVIA_Q,
    FakeChat,
    fakes,
    make_router,
)

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.errors import ModelConfigError, RoutingInputError, UnknownModelError
from langchain_benchrouter.langchain.middleware import STATE_KEY, RouterMiddleware
from langchain_benchrouter.langchain.runnable import RoutedChatModel, error_decision


@pytest.fixture(scope="module")
def router() -> Router:
    return make_router()


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return str(eval(expression, {"__builtins__": {}}))


def tool_call(expr: str, call_id: str = "call-1") -> AIMessage:
    return AIMessage(
        "", tool_calls=[{"name": "calculator", "args": {"expression": expr}, "id": call_id}]
    )


class Answer(BaseModel):
    """The final answer."""

    value: int


def test_middleware_routes_once_per_run_through_a_tool_loop(router: Router) -> None:
    models = fakes(math=[tool_call("6*7"), "The answer is 42."])
    default = FakeChat(label="default")
    agent = create_agent(
        model=default, tools=[calculator], middleware=[RouterMiddleware(router, models)]
    )
    state = agent.invoke({"messages": [HumanMessage(MATH_Q)]})
    assert [m.type for m in state["messages"]] == ["human", "ai", "tool", "ai"]
    assert state["messages"][2].content == "42"
    assert state["messages"][-1].content == "The answer is 42."
    decision = state[STATE_KEY]
    assert type(decision) is dict and decision["model"] == MATH and decision["mode"] == "per_input"
    json.dumps(decision)  # plain and JSON-safe
    assert len(models[MATH].calls) == 2 and not default.calls
    assert not models[CODE].calls and not models[TRIVIA].calls
    # tools were bound to the routed model on every call
    assert all(
        c["kwargs"]["tools"][0]["function"]["name"] == "calculator" for c in models[MATH].calls
    )
    assert state["messages"][-1].response_metadata[STATE_KEY]["model"] == MATH


def test_decision_persists_in_checkpoints_and_reroutes_each_run(router: Router) -> None:
    models = fakes()
    agent = create_agent(
        model=FakeChat(label="default"),
        tools=[calculator],
        middleware=[RouterMiddleware(router, models)],
        checkpointer=InMemorySaver(),
    )
    cfg: Any = {"configurable": {"thread_id": "t1"}}
    agent.invoke({"messages": [HumanMessage(TRIVIA_Q)]}, cfg)
    assert agent.get_state(cfg).values[STATE_KEY]["model"] == TRIVIA
    state = agent.invoke({"messages": [HumanMessage(CODE_Q)]}, cfg)
    assert state[STATE_KEY]["model"] == CODE
    assert agent.get_state(cfg).values[STATE_KEY]["model"] == CODE
    assert len(state["messages"]) == 4
    assert models[CODE].calls[0]["messages"][-1].content == CODE_Q


def test_route_per_model_call_option(router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = router.route

    def counting(texts: Any, **kw: Any) -> Any:
        seen.append(len(texts))
        return real(texts, **kw)

    monkeypatch.setattr(router, "route", counting)
    for route_on, expected in (("agent_run", 1), ("model_call", 2)):
        seen.clear()
        models = fakes(math=[tool_call("1+1"), "2"])
        mw = RouterMiddleware(router, models, route_on=route_on)
        agent = create_agent(model=FakeChat(), tools=[calculator], middleware=[mw])
        agent.invoke({"messages": [HumanMessage(MATH_Q)]})
        assert len(seen) == expected, route_on
        assert len(models[MATH].calls) == 2
    with pytest.raises(ValueError, match="route_on"):
        RouterMiddleware(router, fakes(), route_on="sometimes")  # type: ignore[arg-type]


async def test_async_agent_with_middleware(router: Router) -> None:
    models = fakes(code=[tool_call("2**10"), "1024"])
    agent = create_agent(
        model=FakeChat(), tools=[calculator], middleware=[RouterMiddleware(router, models)]
    )
    state = await agent.ainvoke({"messages": [HumanMessage(CODE_Q)]})
    assert state[STATE_KEY]["model"] == CODE
    assert state["messages"][-1].content == "1024"
    assert state["messages"][2].content == "1024"


def test_structured_output_with_middleware(router: Router) -> None:
    answer = AIMessage("", tool_calls=[{"name": "Answer", "args": {"value": 7}, "id": "a1"}])
    models = fakes(trivia=[answer])
    agent = create_agent(
        model=FakeChat(),
        tools=[calculator],
        middleware=[RouterMiddleware(router, models)],
        response_format=ToolStrategy(Answer),
    )
    state = agent.invoke({"messages": [HumanMessage(TRIVIA_Q)]})
    assert state["structured_response"] == Answer(value=7)
    assert state[STATE_KEY]["model"] == TRIVIA
    assert models[TRIVIA].calls[0]["kwargs"]["tool_choice"] == "any"


def test_middleware_fallback_and_forced_model(router: Router) -> None:
    models = fakes()
    models[MATH].error = TimeoutError("slow")
    agent = create_agent(
        model=FakeChat(), middleware=[RouterMiddleware(router, models, fallbacks=1)]
    )
    state = agent.invoke({"messages": [HumanMessage(MATH_Q)]})
    meta = state["messages"][-1].response_metadata[STATE_KEY]
    assert meta["routed_model"] == MATH and meta["model"] != MATH
    assert meta["fallback_from"][0]["error"] == "TimeoutError: slow"
    forced = agent.invoke(
        {"messages": [HumanMessage(MATH_Q)]}, {"configurable": {"benchrouter_model": TRIVIA}}
    )
    assert forced[STATE_KEY] == {"model": TRIVIA, "mode": "forced", "ranking": [TRIVIA]}
    assert forced["messages"][-1].content.startswith(TRIVIA)


def test_middleware_validates_model_names(router: Router) -> None:
    with pytest.raises(UnknownModelError, match="allow_subset"):
        RouterMiddleware(router, {MATH: FakeChat()})
    mw = RouterMiddleware(
        router, {MATH: FakeChat(label=MATH), CODE: FakeChat(label=CODE)}, allow_subset=True
    )
    agent = create_agent(model=FakeChat(), middleware=[mw])
    assert agent.invoke({"messages": [HumanMessage(TRIVIA_Q)]})[STATE_KEY]["model"] in {MATH, CODE}


# ------------------------------------------------------- RoutedChatModel as the agent model


def test_agent_with_router_runnable_as_model(router: Router) -> None:
    models = fakes(code=[tool_call("3*3"), "nine"])
    agent = create_agent(model=RoutedChatModel(router=router, models=models), tools=[calculator])
    state = agent.invoke({"messages": [HumanMessage(CODE_Q)]})
    assert [m.type for m in state["messages"]] == ["human", "ai", "tool", "ai"]
    assert state["messages"][2].content == "9"
    assert [
        m.response_metadata[STATE_KEY]["model"] for m in state["messages"] if m.type == "ai"
    ] == [CODE, CODE]
    assert len(models[CODE].calls) == 2
    assert models[CODE].calls[1]["kwargs"]["tools"][0]["function"]["name"] == "calculator"


def test_agent_with_router_runnable_streams_each_token_once(router: Router) -> None:
    models = fakes(math=[tool_call("5+5", "c5"), "ten in total"])
    agent = create_agent(model=RoutedChatModel(router=router, models=models), tools=[calculator])
    items = list(agent.stream({"messages": [HumanMessage(MATH_Q)]}, stream_mode="messages"))
    ai_chunks = [m for m, meta in items if isinstance(m, AIMessageChunk)]
    final_tokens = [c.content for c in ai_chunks if c.content]
    assert final_tokens == ["ten", " ", "in", " ", "total"]
    tool_chunks = [c for c in ai_chunks if c.tool_call_chunks]
    assert len(tool_chunks) == 1 and tool_chunks[0].tool_call_chunks[0]["name"] == "calculator"
    tool_messages = [m for m, _ in items if m.type == "tool"]
    assert [m.content for m in tool_messages] == ["10"]


# ------------------------------------------------------- strict options, strings, aliases


def test_middleware_refuses_unknown_options(router: Router) -> None:
    with pytest.raises(
        RoutingInputError, match=r"unknown option 'route_om'; did you mean 'route_on'"
    ):
        RouterMiddleware(router, fakes(), route_om="model_call")
    with pytest.raises(RoutingInputError, match=r"'cost_wieght'; did you mean 'cost_weight'"):
        RouterMiddleware(router, fakes(), cost_wieght=1.0)
    with pytest.raises(RoutingInputError, match="unknown option 'check_output'"):
        RouterMiddleware(router, fakes(), check_output=False)  # the agent calls the model
    with pytest.raises(RoutingInputError, match="router= a fitted Router"):
        RouterMiddleware(None, fakes())  # type: ignore[arg-type]
    with pytest.raises(RoutingInputError, match="cost_weight must be a finite number"):
        RouterMiddleware(router, fakes(), cost_weight=float("inf"))


def test_middleware_model_string_is_created_only_when_chosen(router: Router) -> None:
    models: dict[str, Any] = {**fakes(), TRIVIA: "anthropic:claude-x"}
    agent = create_agent(
        model=FakeChat(), tools=[calculator], middleware=[RouterMiddleware(router, models)]
    )
    state = agent.invoke({"messages": [HumanMessage(MATH_Q)]})
    assert state[STATE_KEY]["model"] == MATH
    with pytest.raises(ModelConfigError, match="pip install langchain-anthropic") as info:
        agent.invoke({"messages": [HumanMessage(TRIVIA_Q)]})
    assert error_decision(info.value)["failed_model"] == TRIVIA  # type: ignore[index]


def test_middleware_alias_records_both_names(router: Router) -> None:
    mine = FakeChat(label="mine")
    models: dict[str, Any] = {"my-math": mine, CODE: FakeChat(label=CODE)}
    mw = RouterMiddleware(router, models, aliases={"my-math": MATH}, allow_subset=True)
    agent = create_agent(model=FakeChat(label="default"), tools=[calculator], middleware=[mw])
    state = agent.invoke({"messages": [HumanMessage(MATH_Q)]})
    decision = state[STATE_KEY]
    assert (decision["model"], decision["scored_as"]) == ("my-math", MATH)
    assert set(decision["ranking"]) == {"my-math", CODE}
    assert len(mine.calls) == 1
    meta = state["messages"][-1].response_metadata[STATE_KEY]
    assert (meta["model"], meta["scored_as"]) == ("my-math", MATH)
    with pytest.raises(UnknownModelError, match="alias targets must be router models"):
        RouterMiddleware(router, models, aliases={"my-math": "gpt-9"}, allow_subset=True)
