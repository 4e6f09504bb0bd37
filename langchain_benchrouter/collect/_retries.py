"""One model call with a timeout per attempt, retried with backoff on transient errors.

:func:`classify_error` tells an authentication problem from a transient or a permanent
error by what provider exceptions share (an HTTP status, the names of their classes);
:func:`call_with_retries` makes one call, retried with exponential backoff and jitter
(longer when the provider asks with ``Retry-After``). Public through
:mod:`langchain_benchrouter.collect.runner` (:func:`classify_error`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from langchain_benchrouter.errors import ModelOutputError

if TYPE_CHECKING:
    from langchain_core.rate_limiters import InMemoryRateLimiter
    from langchain_core.runnables import Runnable

    from langchain_benchrouter.collect._run_setup import RunOptions

__all__ = [
    "Answer",
    "CallFailedError",
    "CallTimeoutError",
    "ErrorKind",
    "call_with_retries",
    "classify_error",
    "describe",
    "retry_after",
]

ErrorKind = Literal["auth", "transient", "permanent"]

# HTTP statuses worth retrying: request timeout, conflict, too early, rate limit, 5xx.
_TRANSIENT_STATUS = frozenset({408, 409, 425, 429})
_AUTH_STATUS = frozenset({401, 403})
# Substrings of exception class names (any class in the MRO), lower-cased.
_AUTH_NAMES = (
    "authentication",
    "permissiondenied",
    "unauthorized",
    "unauthenticated",
    "forbidden",
    "invalidapikey",
)
_TRANSIENT_NAMES = (
    "ratelimit",
    "toomanyrequests",
    "timeout",
    "timedout",
    "connection",
    "connecterror",
    "serviceunavailable",
    "internalserver",
    "overloaded",
    "servererror",
    "temporar",
    "resourceexhausted",
    "deadlineexceeded",
    "remoteprotocol",
    "readerror",
    "networkerror",
    "badgateway",
    "gatewaytimeout",
)
_BORING = frozenset({"object", "baseexception", "exception"})


def _status_code(exc: BaseException) -> int | None:
    """An HTTP status carried by a provider exception (``status_code``, ``response``...)."""
    candidates: list[Any] = [
        getattr(exc, attr, None) for attr in ("status_code", "status", "http_status", "code")
    ]
    response = getattr(exc, "response", None)
    if response is not None:
        candidates += [getattr(response, "status_code", None), getattr(response, "status", None)]
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
            return value
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or during (a few levels)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 6:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify_error(exc: BaseException) -> ErrorKind:
    """Whether a chat model's exception is an auth problem, transient, or permanent.

    Provider packages raise their own exception classes, so this looks at what they
    share: an HTTP status (``status_code``, ``status``, ``code`` or
    ``response.status_code``) and the names of the exception's classes, on the exception
    and the ones it was raised from.

    Args:
        exc: The exception a call raised.

    Returns:
        ``"auth"`` for HTTP 401/403 or an authentication/permission error class (stop the
        run: retrying cannot help); ``"transient"`` for HTTP 408/409/425/429/5xx,
        timeouts, connection errors and rate-limit or overload classes (retry with
        backoff); ``"permanent"`` otherwise (record the failure).

    Example:
        >>> class RateLimitError(Exception):
        ...     status_code = 429
        >>> classify_error(RateLimitError("slow down")), classify_error(ValueError("bad"))
        ('transient', 'permanent')
    """
    for err in _causes(exc):
        status = _status_code(err)
        if status is not None:
            if status in _AUTH_STATUS:
                return "auth"
            if status in _TRANSIENT_STATUS or status >= 500:
                return "transient"
            if 400 <= status < 500:
                return "permanent"
        names = [c.__name__.lower() for c in type(err).__mro__ if c.__name__.lower() not in _BORING]
        if any(key in n for n in names for key in _AUTH_NAMES):
            return "auth"
        if isinstance(err, TimeoutError | ConnectionError) or any(
            key in n for n in names for key in _TRANSIENT_NAMES
        ):
            return "transient"
    return "permanent"


def retry_after(exc: BaseException) -> float | None:
    """Seconds a ``Retry-After`` header (or ``retry_after`` attribute) asks to wait."""
    for err in _causes(exc):
        value: Any = getattr(err, "retry_after", None)
        if value is None:
            headers = getattr(getattr(err, "response", None), "headers", None)
            try:
                value = None if headers is None else headers.get("retry-after")
            except Exception:
                value = None
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


class CallTimeoutError(TimeoutError):
    """One attempt took longer than ``timeout``."""


@dataclass(frozen=True)
class Answer:
    text: str
    usage: dict[str, Any] | None
    latency_s: float
    attempts: int


def _text_of(result: Any) -> str:
    if isinstance(result, BaseMessage):
        return result.text
    if isinstance(result, str):
        return result
    msg = f"the model returned {type(result).__name__}, not a chat message"
    raise ModelOutputError(msg)


def _usage_of(result: Any) -> dict[str, Any] | None:
    usage = getattr(result, "usage_metadata", None)
    return dict(usage) if isinstance(usage, Mapping) else None


class CallFailedError(Exception):
    """A call that failed for good: its last exception, its kind and the attempts it took."""

    def __init__(self, cause: Exception, attempts: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.kind: ErrorKind = classify_error(cause)
        self.attempts = attempts


async def _attempt(
    chat: Runnable[Any, Any], text: str, limiter: InMemoryRateLimiter | None, opts: RunOptions
) -> Answer:
    if limiter is not None:
        await limiter.aacquire()
    start = time.perf_counter()
    call = chat.ainvoke([HumanMessage(content=text)])
    if opts.timeout is None:
        result = await call
    else:
        deadline = asyncio.timeout(opts.timeout)
        try:
            async with deadline:
                result = await call
        except TimeoutError as exc:
            if deadline.expired():
                msg = f"no answer within timeout={opts.timeout:g} s"
                raise CallTimeoutError(msg) from exc
            raise
    return Answer(_text_of(result), _usage_of(result), time.perf_counter() - start, 1)


async def call_with_retries(
    chat: Runnable[Any, Any], text: str, limiter: InMemoryRateLimiter | None, opts: RunOptions
) -> Answer:
    """One model call with a timeout per attempt, retried on transient errors.

    Raises:
        CallFailedError: The call failed for good (its cause and attempt count attached).
    """
    exp_wait = wait_exponential(multiplier=opts.backoff, max=opts.max_backoff) + wait_random(
        0, opts.backoff
    )

    def wait(state: RetryCallState) -> float:
        base = float(exp_wait(state))
        outcome = state.outcome
        exc = None if outcome is None else outcome.exception()
        asked = None if exc is None else retry_after(exc)
        return base if asked is None else max(base, min(asked, opts.max_backoff))

    attempts = 0
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(opts.max_retries + 1),
            wait=wait,
            retry=retry_if_exception(lambda e: classify_error(e) == "transient"),
            reraise=True,
        ):
            with attempt:
                attempts += 1
                answer = await _attempt(chat, text, limiter, opts)
                return Answer(answer.text, answer.usage, answer.latency_s, attempts)
    except Exception as exc:
        raise CallFailedError(exc, attempts) from exc
    raise AssertionError("unreachable")  # pragma: no cover - reraise=True


def describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:1000]
