"""A langchain v1 agent whose model is chosen by the router, with a tool loop (offline).

Two ways: ``RouterMiddleware`` (routes once per agent run, keeps the decision in the
agent state) and ``create_agent(model=RoutedChatModel(...))`` (routes every model call).
The chat models are scripted fakes that first call the calculator tool, then answer.
Needs the optional extra: pip install 'langchain-benchrouter[agents]'.

Run: python examples/agent_with_tools.py
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.runnables import Runnable
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.langchain.middleware import RouterMiddleware
from langchain_benchrouter.langchain.runnable import RoutedChatModel


@tool
def calculator(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class ScriptedChat(GenericFakeChatModel):
    """A fake chat model that accepts tools and streams its tool calls too."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, Any]:
        return self  # a real model would send the tool schemas to its API

    def _stream(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        message = self._generate(messages, stop, run_manager, **kwargs).generations[0].message
        assert isinstance(message, AIMessage)
        tokens = re.split(r"(\s)", str(message.content)) if message.content else []
        chunks = [AIMessageChunk(content=t, id=message.id) for t in tokens if t]
        chunks += [
            AIMessageChunk(
                content="",
                id=message.id,
                tool_call_chunks=[
                    {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                ],
            )
            for i, c in enumerate(message.tool_calls)
        ]
        chunks[-1].chunk_position = "last"
        for chunk in chunks:
            gen = ChatGenerationChunk(message=chunk)
            if run_manager:
                run_manager.on_llm_new_token(str(chunk.content), chunk=gen)
            yield gen


def scripted(name: str) -> ScriptedChat:
    def turns() -> Iterator[AIMessage]:
        while True:
            call = {"name": "calculator", "args": {"a": 17, "b": 23}, "id": str(uuid.uuid4())}
            yield AIMessage("", tool_calls=[call])
            yield AIMessage(f"[{name}] 17 * 23 = 391")

    return ScriptedChat(messages=turns())


def show(state: dict[str, Any]) -> None:
    for m in state["messages"]:
        calls = getattr(m, "tool_calls", None)
        extra = f" tool_calls={[(c['name'], c['args']) for c in calls]}" if calls else ""
        print(f"  {m.type:>5}: {m.content!s}{extra}")


def main() -> None:
    router = Router(embedder="hashing").fit(Benchmark.bundled())
    models = {m: scripted(m) for m in router.model_names}
    question = "Use the calculator: what is 17 times 23?"

    print("== create_agent(..., middleware=[RouterMiddleware(...)])")
    agent = create_agent(
        model=models[router.best_model_on_average],  # the default; the middleware overrides it
        tools=[calculator],
        middleware=[RouterMiddleware(router, models)],
        checkpointer=InMemorySaver(),
    )
    config: Any = {"configurable": {"thread_id": "demo"}}
    state = agent.invoke({"messages": [("user", question)]}, config)
    show(state)
    decision = agent.get_state(config).values["benchrouter"]
    print("  decision kept in the (checkpointed) state:", decision["model"], decision["mode"])

    print("\n== create_agent(model=RoutedChatModel(...))")
    agent2 = create_agent(model=RoutedChatModel(router=router, models=models), tools=[calculator])
    state = agent2.invoke({"messages": [("user", question)]})
    show(state)
    print("  routed to:", state["messages"][-1].response_metadata["benchrouter"]["model"])

    print("\n== LangGraph stream_mode='messages': each token once")
    tokens = [
        chunk.content
        for chunk, _ in agent2.stream({"messages": [("user", question)]}, stream_mode="messages")
        if chunk.type == "AIMessageChunk" and chunk.content
    ]
    print("  " + "|".join(tokens))


if __name__ == "__main__":
    main()
