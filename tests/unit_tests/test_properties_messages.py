"""Property tests of message-to-text extraction: any input gives text or a library error."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_benchrouter.errors import BenchRouterError, RoutingInputError
from langchain_benchrouter.langchain.messages import message_text, routing_text

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

texts = st.text(max_size=200)  # every unicode category, surrogates excluded by default
weird_texts = st.one_of(
    texts,
    st.text(alphabet=st.characters(codec=None, categories=["Cs", "Co", "Cc", "Zs"]), max_size=50),
    st.sampled_from(["", " ", "\n\t", "\x00", "\u200b", "\ufeff", "\U0001f600" * 3]),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), weird_texts, st.binary()
)
blocks = st.one_of(
    weird_texts,
    st.fixed_dictionaries({"type": st.just("text"), "text": st.one_of(weird_texts, scalars)}),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["input_text", "output_text", "image_url", "image", "audio"])},
        optional={"text": scalars, "image_url": st.just({"url": "x"}), "data": scalars},
    ),
    st.dictionaries(st.text(max_size=8), scalars, max_size=3),
)
contents = st.one_of(weird_texts, st.lists(blocks, max_size=5))


@st.composite
def messages(draw: st.DrawFn) -> Any:
    content = draw(contents)
    kind = draw(st.sampled_from(["human", "ai", "system", "tool", "chat"]))
    if kind == "human":
        return HumanMessage(content=content)
    if kind == "ai":
        return AIMessage(content=content)
    if kind == "system":
        return SystemMessage(content=content)
    if kind == "tool":
        return ToolMessage(content=content, tool_call_id="t1")
    return ChatMessage(content=content, role=draw(st.sampled_from(["user", "human", "bot", ""])))


items = st.one_of(
    messages(),
    weird_texts,
    st.tuples(st.sampled_from(["user", "human", "ai", "assistant", "system", "alien"]), contents),
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "x"]), "content": contents}
    ),
    st.dictionaries(st.text(max_size=6), scalars, max_size=3),
    scalars,
    st.lists(scalars, max_size=3),
)
chat_inputs = st.one_of(
    weird_texts,
    messages(),
    st.lists(items, max_size=6),
    st.tuples(items, items),
    scalars,
    st.dictionaries(st.text(max_size=6), scalars, max_size=3),
)


@SETTINGS
@given(value=chat_inputs, scope=st.sampled_from(["last_human", "conversation"]))
def test_routing_text_returns_text_or_a_library_error(value: Any, scope: Any) -> None:
    try:
        text = routing_text(value, scope)
    except RoutingInputError as exc:
        assert str(exc)  # a message that says what is wrong
        return
    assert isinstance(text, str)
    assert text == text.strip()


@SETTINGS
@given(value=chat_inputs, scope=st.text(max_size=12))
def test_unknown_scope_or_input_is_always_a_library_error(value: Any, scope: str) -> None:
    try:
        routing_text(value, scope)  # type: ignore[arg-type]
    except BenchRouterError:
        return
    assert scope in ("last_human", "conversation")


@SETTINGS
@given(content=contents)
def test_text_blocks_only_and_in_order(content: Any) -> None:
    message = HumanMessage(content=content)
    text = message_text(message)
    assert isinstance(text, str)
    if isinstance(content, str):
        assert text == content.strip()
        return
    expected = []
    for block in content:
        if isinstance(block, str):
            part = block
        elif isinstance(block, dict) and block.get("type") in ("text", "input_text", "output_text"):
            part = block.get("text") if isinstance(block.get("text"), str) else ""
        else:
            part = ""
        if part.strip():
            expected.append(part.strip())
    assert text == "\n".join(expected)


@SETTINGS
@given(size=st.integers(min_value=0, max_value=3_000_000), text=texts)
def test_huge_and_empty_strings(size: int, text: str) -> None:
    value = ("x" * size) + text
    assert routing_text(value) == value.strip()
    assert routing_text([HumanMessage(content=[{"type": "text", "text": value}])]) == value.strip()
