"""What an arm's call gave, read for the exposure: its message, token usage, stream chunks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from langchain_core.messages import BaseMessage

from langchain_benchrouter.experiments.exposure_log import Exposure

__all__ = ["Chunks", "message_of", "usage"]


def message_of(output: Any) -> BaseMessage | None:
    """The message of an arm's output (also the raw message of a structured output)."""
    if isinstance(output, BaseMessage):
        return output
    if isinstance(output, dict) and isinstance(output.get("raw"), BaseMessage):
        return cast("BaseMessage", output["raw"])  # with_structured_output(include_raw=True)
    return None


def usage(message: BaseMessage | None) -> tuple[int | None, int | None, int | None]:
    """Input, output and total tokens of a message's ``usage_metadata`` (``None`` unknown)."""
    usage = getattr(message, "usage_metadata", None) if message is not None else None
    if not usage:
        return None, None, None

    def get(name: str) -> int | None:
        v = usage.get(name)
        return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    return get("input_tokens"), get("output_tokens"), get("total_tokens")


class Chunks:
    """A stream's chunks added up; the first one carries the experiment's record."""

    def __init__(
        self, finish: Callable[[Exposure, Any], Any], timed: Callable[..., Exposure]
    ) -> None:
        self._finish = finish
        self._timed = timed
        self._started = False
        self.total: Any = None

    def take(self, chunk: Any) -> Any:
        """Add ``chunk`` to :attr:`total`; returns the chunk to yield."""
        self.total = _add(self.total, chunk)
        if self._started:
            return chunk
        self._started = True
        # the model is known once the first chunk (with the router's decision) is in
        return self._finish(self._timed(chunk, first=True), chunk)


def _add(total: Any, chunk: Any) -> Any:
    if total is None:
        return chunk
    try:
        return total + chunk
    except TypeError:
        return chunk
