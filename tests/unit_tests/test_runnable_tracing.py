"""RoutedChatModel tracing: run tree, decision metadata, fallbacks, usage, tokens once."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler, get_usage_metadata_callback
from langchain_core.messages import AIMessageChunk, AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from test_runnable_support import (
    CODE,
    CODE_Q,
    MATH,
    MATH_Q,
    TRIVIA,
    TRIVIA_Q,
    Collector,
    fakes,
    make_router,
    walk,
)

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.langchain.runnable import FALLBACK_EVENT, RoutedChatModel


@pytest.fixture(scope="module")
def router() -> Router:
    return make_router()


class Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.custom: list[tuple[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.custom.append((name, data))


def test_router_run_is_parent_of_model_run(router: Router) -> None:
    llm = RoutedChatModel(router=router, models=fakes())
    tracer = Collector()
    out = llm.invoke(MATH_Q, {"callbacks": [tracer], "metadata": {"user": "u1"}})
    assert len(tracer.roots) == 1
    root = tracer.roots[0]
    assert (root.name, root.run_type) == ("RoutedChatModel", "chain")
    meta = root.extra["metadata"]
    assert meta["benchrouter_model"] == MATH and meta["user"] == "u1"
    assert meta["benchrouter"] == out.response_metadata["benchrouter"]
    assert set(meta["benchrouter"]) == {"model", "mode", "proba", "distance", "task", "task_proba"}
    assert [c.run_type for c in root.child_runs] == ["llm"]
    child = root.child_runs[0]
    assert child.name == "FakeChat" and child.parent_run_id == root.id
    assert root.outputs is not None and root.error is None


def test_run_name_and_tags_from_with_config(router: Router) -> None:
    llm = RoutedChatModel(router=router, models=fakes()).with_config(
        run_name="my-router", tags=["prod"]
    )
    tracer = Collector()
    llm.bind_tools([]).invoke(CODE_Q, {"callbacks": [tracer]})
    root = tracer.roots[0]
    assert root.name == "my-router" and "prod" in (root.tags or [])
    assert root.child_runs[0].run_type == "llm" and "prod" in (root.child_runs[0].tags or [])


def test_batch_and_stream_traces(router: Router) -> None:
    llm = RoutedChatModel(router=router, models=fakes())
    tracer = Collector()
    llm.batch([MATH_Q, CODE_Q, TRIVIA_Q], {"callbacks": [tracer]})
    assert len(tracer.roots) == 3
    by_model = {r.extra["metadata"]["benchrouter_model"]: r for r in tracer.roots}
    assert set(by_model) == {MATH, CODE, TRIVIA}
    for root in tracer.roots:
        assert [c.run_type for c in root.child_runs] == ["llm"]
    stream_tracer = Collector()
    "".join(str(c.content) for c in llm.stream(TRIVIA_Q, {"callbacks": [stream_tracer]}))
    (root,) = stream_tracer.roots
    assert root.extra["metadata"]["benchrouter_model"] == TRIVIA
    assert [(d, r.run_type) for d, r in walk(root)] == [(0, "chain"), (1, "llm")]


def test_routing_error_is_recorded_on_the_router_run(router: Router) -> None:
    llm = RoutedChatModel(router=router, models=fakes())
    tracer = Collector()
    with pytest.raises(Exception, match="no text"):
        llm.invoke(
            [HumanMessage(content=[{"type": "image_url", "image_url": {"url": "x"}}])],
            {"callbacks": [tracer]},
        )
    (root,) = tracer.roots
    assert root.error is not None and "no text" in root.error and not root.child_runs


def test_fallback_tries_next_ranked_model_and_is_traced(router: Router) -> None:
    models = fakes()
    models[MATH].error = TimeoutError("math model timed out")
    ranking = router.route([MATH_Q]).ranking(0)
    assert ranking[0] == MATH
    strict = RoutedChatModel(router=router, models=models)
    with pytest.raises(TimeoutError):
        strict.invoke(MATH_Q)
    llm = RoutedChatModel(router=router, models=models, fallbacks=1)
    tracer, events = Collector(), Events()
    out = llm.invoke(MATH_Q, {"callbacks": [tracer, events]})
    decision = out.response_metadata["benchrouter"]
    assert decision["model"] == ranking[1] and decision["routed_model"] == MATH
    assert decision["fallback_from"] == [
        {"model": MATH, "error": "TimeoutError: math model timed out"}
    ]
    assert out.content == f"{ranking[1]}: {MATH_Q}"
    assert [name for name, _ in events.custom] == [FALLBACK_EVENT]
    assert events.custom[0][1]["next_model"] == ranking[1]
    (root,) = tracer.roots
    children = root.child_runs
    assert [c.run_type for c in children] == ["llm", "llm"]
    assert children[0].error is not None and "timed out" in children[0].error
    assert children[1].error is None
    # fallback=1 allows one retry only
    models[ranking[1]].error = TimeoutError("also down")
    with pytest.raises(TimeoutError, match="also down"):
        llm.invoke(MATH_Q)
    # only the configured exception types trigger a fallback
    models[ranking[1]].error = None
    picky = RoutedChatModel(
        router=router, models=models, fallbacks=2, fallback_on=(ConnectionError,)
    )
    with pytest.raises(TimeoutError):
        picky.invoke(MATH_Q)


async def test_fallback_in_batch_stream_and_async(router: Router) -> None:
    models = fakes()
    models[CODE].error = ConnectionError("code model down")
    nxt = router.route([CODE_Q]).ranking(0)[1]
    llm = RoutedChatModel(router=router, models=models, fallbacks=2)
    outs = llm.batch([MATH_Q, CODE_Q])
    assert outs[0].response_metadata["benchrouter"]["model"] == MATH
    assert outs[1].response_metadata["benchrouter"]["model"] == nxt
    aouts = await llm.abatch([CODE_Q, TRIVIA_Q])
    assert aouts[0].response_metadata["benchrouter"]["fallback_from"][0]["model"] == CODE
    assert (await llm.ainvoke(CODE_Q)).response_metadata["benchrouter"]["model"] == nxt
    chunks = list(llm.stream(CODE_Q))
    assert "".join(str(c.content) for c in chunks) == f"{nxt}: {CODE_Q}"
    achunks = [c async for c in llm.astream(CODE_Q)]
    assert achunks[0].response_metadata["benchrouter"]["routed_model"] == CODE


def test_usage_counted_once(router: Router) -> None:
    llm = RoutedChatModel(router=router, models=fakes())
    with get_usage_metadata_callback() as cb:
        llm.invoke(MATH_Q)
        list(llm.stream(CODE_Q))
    assert {m: u["total_tokens"] for m, u in cb.usage_metadata.items()} == {MATH: 7, CODE: 7}


async def test_astream_events_tree_and_tokens(router: Router) -> None:
    llm = RoutedChatModel(router=router, models=fakes())
    events = [e async for e in llm.astream_events(TRIVIA_Q, version="v2")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "on_chain_start" and kinds[-1] == "on_chain_end"
    assert events[0]["name"] == "RoutedChatModel"
    model_start = next(e for e in events if e["event"] == "on_chat_model_start")
    assert model_start["parent_ids"] == [events[0]["run_id"]]
    assert model_start["metadata"]["benchrouter_model"] == TRIVIA
    tokens = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(tokens) == f"{TRIVIA}: {TRIVIA_Q}"
    router_chunks = [e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream"]
    assert len(router_chunks) == len(tokens)


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    calls: Annotated[int, operator.add]


def test_langgraph_messages_mode_emits_each_token_once(router: Router) -> None:
    llm = RoutedChatModel(router=router, models=fakes())

    def call_model(state: State) -> dict[str, Any]:
        return {"messages": [llm.invoke(state["messages"])], "calls": 1}

    graph = (
        StateGraph(State)
        .add_node("model", call_model)
        .add_edge(START, "model")
        .add_edge("model", END)
        .compile()
    )
    with get_usage_metadata_callback() as cb:
        items = list(
            graph.stream({"messages": [HumanMessage(CODE_Q)], "calls": 0}, stream_mode="messages")
        )
    chunks = [m for m, _ in items]
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    text = f"{CODE}: {CODE_Q}"
    assert "".join(str(c.content) for c in chunks) == text
    assert len(chunks) == len([t for t in __import__("re").split(r"(\s)", text) if t])
    assert all(meta["langgraph_node"] == "model" for _, meta in items)
    assert items[0][1]["benchrouter_model"] == CODE
    assert {m: u["total_tokens"] for m, u in cb.usage_metadata.items()} == {CODE: 7}
    final = graph.invoke({"messages": [HumanMessage(MATH_Q)], "calls": 0})
    assert final["messages"][-1].response_metadata["benchrouter"]["model"] == MATH
