"""Shared helpers of the LangChain-face tests: a small real router and scripted fake chat models.

(No tests here; the module is imported by test_runnable*.py, test_middleware.py and
test_chat_model_standard.py.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.langchain.messages import routing_text

MATH, CODE, TRIVIA = "llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "mistral-7b-instruct-v0.3"
MODELS = [MATH, CODE, TRIVIA]
PRICES = {MATH: 0.2, CODE: 0.3, TRIVIA: 0.1}

VOCAB = {
    MATH: [
        "solve",
        "compute",
        "sum",
        "product",
        "integer",
        "equation",
        "plus",
        "minus",
        "times",
        "divide",
        "number",
        "total",
    ],
    CODE: [
        "python",
        "function",
        "def",
        "return",
        "list",
        "string",
        "class",
        "loop",
        "variable",
        "code",
        "write",
        "implement",
    ],
    TRIVIA: [
        "who",
        "which",
        "capital",
        "country",
        "president",
        "river",
        "author",
        "novel",
        "city",
        "famous",
        "born",
        "won",
    ],
}
# Inputs unseen by the router, each made of one task's words only.
MATH_Q = "solve the equation: compute the sum plus the product of each integer number"
CODE_Q = "write a python function def that will return a sorted list of string variable"
TRIVIA_Q = "who was the famous author born in the capital city of which country"


def records(per_task: int = 30, seed: int = 0) -> list[dict[str, Any]]:
    """A synthetic 3-task benchmark: each model is right on its own task, rarely elsewhere."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for task_model, words in VOCAB.items():
        for i in range(per_task):
            text = " ".join(rng.choice(words, size=7)) + f" #{i}"
            row: dict[str, Any] = {"task": task_model.split("-")[0] + "-task", "text": text}
            for m in MODELS:
                row[m] = float(rng.random() < (0.95 if m == task_model else 0.1))
            rows.append(row)
    return rows


@lru_cache(maxsize=1)
def make_router() -> Router:
    """A small real router (hashing embedder) over the synthetic benchmark; fitted once."""
    info = {m: {"input_price": p, "output_price": p} for m, p in PRICES.items()}
    bench = Benchmark.from_records(records(), model_info=info)
    return Router(embedder="hashing").fit(bench)


class FakeChat(GenericFakeChatModel):
    """A scripted fake chat model that records its calls, streams tool calls and usage.

    Without a script (or once it is used up) it answers ``"<label>: <last human text>"``.
    """

    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    label: str = "fake"
    error: Exception | None = None
    calls: list[dict[str, Any]] = Field(default_factory=list)
    batch_calls: int = 0
    usage: dict[str, int] | None = Field(
        default_factory=lambda: {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append({"messages": messages, "kwargs": kwargs, "stop": stop})
        if self.error is not None:
            raise self.error
        scripted = next(self.messages, None)
        if scripted is None:
            message = AIMessage(content=f"{self.label}: {routing_text(messages)}")
        elif isinstance(scripted, str):
            message = AIMessage(content=scripted)
        else:
            message = scripted.model_copy(deep=True)
        message.response_metadata.setdefault("model_name", self.label)
        if self.usage is not None and message.usage_metadata is None:
            message.usage_metadata = self.usage  # type: ignore[assignment]
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._generate(messages, stop, run_manager, **kwargs).generations[0].message
        assert isinstance(message, AIMessage)
        content = message.content if isinstance(message.content, str) else ""
        chunks = [AIMessageChunk(content=t, id=message.id) for t in re.split(r"(\s)", content) if t]
        for i, tc in enumerate(message.tool_calls):
            chunks.append(
                AIMessageChunk(
                    content="",
                    id=message.id,
                    tool_call_chunks=[
                        {
                            "name": tc["name"],
                            "args": json.dumps(tc["args"]),
                            "id": tc["id"],
                            "index": i,
                        }
                    ],
                )
            )
        if not chunks:
            chunks = [AIMessageChunk(content="", id=message.id)]
        last = chunks[-1]
        last.usage_metadata = message.usage_metadata
        last.response_metadata = {"model_name": self.label}
        last.chunk_position = "last"
        for chunk in chunks:
            gen = ChatGenerationChunk(message=chunk)
            if run_manager:
                run_manager.on_llm_new_token(str(chunk.content), chunk=gen)
            yield gen

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[Any, Any]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def batch(self, inputs: list[Any], config: Any = None, **kwargs: Any) -> list[Any]:
        self.batch_calls += 1
        return super().batch(inputs, config, **kwargs)

    async def abatch(self, inputs: list[Any], config: Any = None, **kwargs: Any) -> list[Any]:
        self.batch_calls += 1
        return await super().abatch(inputs, config, **kwargs)


def fakes(**scripts: list[AIMessage | str]) -> dict[str, FakeChat]:
    """One FakeChat per router model; keyword ``math``/``code``/``trivia`` gives a script."""
    by_key = {"math": MATH, "code": CODE, "trivia": TRIVIA}
    out = {m: FakeChat(label=m) for m in MODELS}
    for key, script in scripts.items():
        out[by_key[key]] = FakeChat(label=by_key[key], messages=iter(script))
    return out


class Collector(BaseTracer):
    """A real LangChain tracer that keeps the finished root runs (with their child runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.roots: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.roots.append(run)


def walk(run: Run, depth: int = 0) -> Iterator[tuple[int, Run]]:
    """Depth-first (depth, run) over a run tree."""
    yield depth, run
    for child in run.child_runs:
        yield from walk(child, depth + 1)
