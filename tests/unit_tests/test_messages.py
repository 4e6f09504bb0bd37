from __future__ import annotations

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate

from langchain_benchrouter.errors import RoutingInputError
from langchain_benchrouter.langchain.messages import message_text, routing_text, to_messages


def test_string_and_prompt_values() -> None:
    assert routing_text("  What is 2+2? ") == "What is 2+2?"
    chat = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
    assert routing_text(chat.invoke({"q": "Capital of Peru?"})) == "Capital of Peru?"
    assert routing_text(PromptTemplate.from_template("Say {x}").invoke({"x": "hi"})) == "Say hi"


def test_latest_human_message_wins() -> None:
    conv = [
        SystemMessage("You are helpful."),
        HumanMessage("Write a sort function."),
        AIMessage("def sort(x): ..."),
        HumanMessage("Now, what is 7 * 6?"),
        AIMessage("", tool_calls=[{"name": "calc", "args": {"e": "7*6"}, "id": "1"}]),
        ToolMessage("42", tool_call_id="1"),
    ]
    assert routing_text(conv) == "Now, what is 7 * 6?"
    assert routing_text(conv, "conversation").splitlines() == [
        "You are helpful.",
        "Write a sort function.",
        "def sort(x): ...",
        "Now, what is 7 * 6?",
        "42",
    ]


def test_tuples_dicts_and_chat_message_roles() -> None:
    assert routing_text([("human", "first"), ("ai", "ok"), ("user", "second")]) == "second"
    assert routing_text([{"role": "user", "content": "from a dict"}]) == "from a dict"
    assert routing_text([ChatMessage(role="user", content="role user")]) == "role user"
    assert routing_text([ChatMessage(role="assistant", content="not me")]) == ""


def test_only_text_blocks_are_read() -> None:
    msg = HumanMessage(
        content=[
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "text", "text": "Describe this chart."},
            "and be short",
            {"type": "image", "source_type": "url", "url": "https://example.com/x.png"},
        ]
    )
    assert message_text(msg) == "Describe this chart.\nand be short"
    image_only = HumanMessage(content=[{"type": "image_url", "image_url": {"url": "x"}}])
    assert routing_text([HumanMessage("earlier text"), image_only]) == ""


def test_no_human_message_gives_empty_text() -> None:
    assert routing_text([SystemMessage("system only")]) == ""
    assert routing_text([]) == ""


@pytest.mark.parametrize("bad", [42, None, {"not": "messages"}, [object()]])
def test_bad_inputs_raise_routing_input_error(bad: object) -> None:
    with pytest.raises(RoutingInputError):
        to_messages(bad)


def test_unknown_scope() -> None:
    with pytest.raises(RoutingInputError, match="unknown routing scope"):
        routing_text("hi", "everything")  # type: ignore[arg-type]
