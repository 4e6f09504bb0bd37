"""From what a chat model accepts to the text the router routes on.

A chat model accepts a string, a prompt value or a list of messages (message objects,
``(role, content)`` tuples, dicts or strings). The router routes on plain text: by
default the text parts of the latest human message (images, audio and other non-text
blocks are ignored); optionally the text of the whole conversation.

Example:
    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> routing_text([HumanMessage("Hi"), AIMessage("Hello!"), HumanMessage("What is 2+2?")])
    'What is 2+2?'
    >>> routing_text("Translate 'chat' to English.")
    "Translate 'chat' to English."
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import BaseMessage, ChatMessage, convert_to_messages
from langchain_core.prompt_values import PromptValue

from langchain_benchrouter.errors import RoutingInputError

__all__ = ["RoutingScope", "message_text", "routing_text", "to_messages"]

RoutingScope = Literal["last_human", "conversation"]
"""Which part of the input the router reads: the latest human message or all messages."""

_TEXT_BLOCK_TYPES = frozenset({"text", "input_text", "output_text"})


def to_messages(value: Any) -> list[BaseMessage]:
    """Normalise any chat-model input to a list of messages.

    Args:
        value: a string, a ``PromptValue``, a message, or a sequence of messages,
            ``(role, content)`` tuples, message dicts or strings.

    Returns:
        The messages.

    Raises:
        RoutingInputError: the value is not something a chat model accepts.
    """
    if isinstance(value, str):
        return convert_to_messages([value])
    if isinstance(value, PromptValue):
        return value.to_messages()
    if isinstance(value, BaseMessage):
        return [value]
    if isinstance(value, Sequence):
        try:
            return convert_to_messages(value)
        except (ValueError, TypeError, NotImplementedError) as exc:
            msg = f"cannot read the input as chat messages: {exc}"
            raise RoutingInputError(msg) from exc
    msg = (
        f"a chat model input must be a string, a PromptValue or a list of messages, "
        f"got {type(value).__name__}"
    )
    raise RoutingInputError(msg)


def message_text(message: BaseMessage) -> str:
    """The text parts of a message, joined by newlines; non-text blocks are ignored.

    Args:
        message: any message.

    Returns:
        The stripped text (empty when the message holds no text).
    """
    content: Any = message.content
    if isinstance(content, str):
        return content.strip()
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") in _TEXT_BLOCK_TYPES:
            text = block.get("text")
            if isinstance(text, str):
                parts.append(text)
    return "\n".join(p.strip() for p in parts if p.strip())


def _is_human(message: BaseMessage) -> bool:
    if message.type == "human":
        return True
    return isinstance(message, ChatMessage) and message.role in ("user", "human")


def routing_text(value: Any, scope: RoutingScope = "last_human") -> str:
    """The text the router routes on.

    Args:
        value: a chat-model input (see :func:`to_messages`).
        scope: ``"last_human"`` (default) reads the latest human message;
            ``"conversation"`` reads the text of every message, in order.

    Returns:
        The text; empty when there is none (no human message, or one without text).

    Raises:
        RoutingInputError: the value is not a chat-model input, or ``scope`` is unknown.
    """
    messages = to_messages(value)
    if scope == "last_human":
        for message in reversed(messages):
            if _is_human(message):
                return message_text(message)
        return ""
    if scope == "conversation":
        return "\n".join(t for t in (message_text(m) for m in messages) if t)
    msg = f"unknown routing scope {scope!r}; use 'last_human' or 'conversation'"
    raise RoutingInputError(msg)
