"""Time limits on calls: a sync call, an awaitable and an iterator, each bounded in seconds.

Used for the routing of a call (``routing_timeout``) and for the chosen model's calls
(``model_timeout``) by :class:`~langchain_benchrouter.langchain.runnable.RoutedChatModel`
and :class:`~langchain_benchrouter.langchain.middleware.RouterMiddleware`. ``None`` as the
timeout means no limit (the call runs in the caller's thread).
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar, cast

__all__ = ["await_with_timeout", "call_with_timeout", "iter_with_timeout"]

T = TypeVar("T")


def call_with_timeout(
    fn: Callable[[], T], timeout: float | None, error: Callable[[], BaseException]
) -> T:
    """``fn()``, or ``error()`` raised when it has not returned within ``timeout`` seconds.

    The call runs in a daemon thread with a copy of the caller's context (so callbacks and
    tracing follow it). Python cannot stop a thread: on timeout the call keeps running in
    the background and its result is discarded.
    """
    if timeout is None:
        return fn()
    ctx = contextvars.copy_context()
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = ctx.run(fn)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="benchrouter-timeout", daemon=True).start()
    if not done.wait(timeout):
        raise error()
    if "error" in box:
        raise box["error"]
    return cast("T", box["value"])


async def await_with_timeout(
    awaitable: Awaitable[T], timeout: float | None, error: Callable[[], BaseException]
) -> T:
    """``await awaitable``, cancelled and turned into ``error()`` after ``timeout`` seconds."""
    if timeout is None:
        return await awaitable
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        # Retrieve a late exception so asyncio does not log "never retrieved".
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        raise error()
    return task.result()


def iter_with_timeout(
    make: Callable[[], Iterator[T]], timeout: float | None, error: Callable[[], BaseException]
) -> Iterator[T]:
    """Iterate ``make()``, raising ``error()`` when the next item takes over ``timeout`` s.

    The iterator runs in a daemon thread feeding a queue; when the consumer stops (timeout,
    error or early close) the producer stops after its current item.
    """
    if timeout is None:
        yield from make()
        return
    items: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    stop = threading.Event()
    ctx = contextvars.copy_context()

    def produce() -> None:
        try:
            for item in make():
                items.put(("item", item))
                if stop.is_set():
                    return
        except BaseException as exc:
            items.put(("error", exc))
        else:
            items.put(("done", None))

    threading.Thread(
        target=ctx.run, args=(produce,), name="benchrouter-stream", daemon=True
    ).start()
    try:
        while True:
            try:
                kind, value = items.get(timeout=timeout)
            except queue.Empty:
                raise error() from None
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
