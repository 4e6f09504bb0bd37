"""The run's calls: one preflight call per model, then every input, committed as it arrives.

:func:`run_calls` runs ``concurrency`` workers per model; each call goes through
:func:`~langchain_benchrouter.collect._retries.call_with_retries`, and its result (an
answer with its measured cost, or the error it failed with) is committed to the store
and passed to ``on_result`` as a :class:`CallResult`. Public through
:mod:`langchain_benchrouter.collect.runner` (:data:`PREFLIGHT_PROMPT`, :class:`CallResult`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_benchrouter._keywords import keyword_checked
from langchain_benchrouter.collect._progress import progress_bars
from langchain_benchrouter.collect._retries import (
    CallFailedError,
    CallTimeoutError,
    call_with_retries,
    describe,
)
from langchain_benchrouter.collect.store import ResultRow
from langchain_benchrouter.errors import CollectionError, CostLimitError, ModelConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from langchain_core.runnables import Runnable

    from langchain_benchrouter.collect._run_setup import RunOptions
    from langchain_benchrouter.collect.store import CollectionStore, StoredInputs

__all__ = [
    "PREFLIGHT_PROMPT",
    "CallResult",
    "RunState",
    "call_cost",
    "preflight_all",
    "run_calls",
]

#: The message of the one preflight call made to each model before a run.
PREFLIGHT_PROMPT = "Reply with the single word OK."


@keyword_checked(CollectionError)
@dataclass(frozen=True)
class CallResult:
    """One finished call, passed to ``on_result`` right after it was committed.

    Example:
        >>> r = CallResult("small", 0, "math", "q1", "2", None, None, 1, 0.4, 1e-5)
        >>> r.ok
        True
    """

    model: str
    index: int
    """The input's row in the ``inputs`` benchmark."""
    task: str
    instance_id: str
    output: str | None
    error: str | None
    error_kind: str | None
    attempts: int
    latency_s: float | None
    cost: float | None

    @property
    def ok(self) -> bool:
        """Whether the call returned an answer."""
        return self.error is None

    @classmethod
    def of(cls, row: ResultRow, model: str, index: int, inputs: StoredInputs) -> CallResult:
        """The call result of a committed store row (``index``: the input's row)."""
        same = ("output", "error", "error_kind", "attempts", "latency_s", "cost")
        return cls(
            model=model,
            index=index,
            task=inputs.tasks[index],
            instance_id=inputs.instance_ids[index],
            **{key: getattr(row, key) for key in same},
        )


@dataclass
class RunState:
    """What the run has spent and done so far, and whether (and why) it must stop."""

    spent: float = 0.0
    calls: int = 0
    stop: bool = False
    cost_stopped: bool = False
    fatal: BaseException | None = None
    max_cost: float | None = None

    def raise_if_stopped(
        self, pending: Mapping[str, Sequence[int]], store_path: Path | None
    ) -> None:
        """Raise what stopped the run: its first fatal error, or reaching ``max_cost``.

        Raises:
            BaseException: The fatal error (an authentication error during the run, a
                store or ``on_result`` failure).
            CostLimitError: The measured spend reached ``max_cost``.
        """
        if self.fatal is not None:
            raise self.fatal
        if not self.cost_stopped:
            return
        left = sum(len(q) for q in pending.values()) - self.calls
        where = (
            f"kept in the store {store_path}: run again with a higher max_cost to resume"
            if store_path is not None
            else "lost (no store= was given)"
        )
        msg = (
            f"the measured spend ${self.spent:.4f} reached max_cost=${self.max_cost:g} "
            f"after {self.calls} calls; {left} calls were not made. The results are "
            f"{where}"
        )
        raise CostLimitError(msg)


def call_cost(
    info: Mapping[str, Any],
    usage: Mapping[str, Any] | None,
    prompt: str,
    output: str,
    opts: RunOptions,
) -> tuple[float | None, str | None, int | None, int | None]:
    """Measured cost, its source (``usage`` or ``estimate``) and the token counts."""
    in_tok = out_tok = None
    source = None
    if usage is not None:
        i, o = usage.get("input_tokens"), usage.get("output_tokens")
        if isinstance(i, int) and isinstance(o, int):
            in_tok, out_tok, source = i, o, "usage"
    if in_tok is None or out_tok is None:
        in_tok, out_tok, source = opts.tokens(prompt), opts.tokens(output), "estimate"
    pin, pout = info.get("input_price"), info.get("output_price")
    if pin is None or pout is None:
        return (
            None,
            None,
            in_tok if source == "usage" else None,
            out_tok if source == "usage" else None,
        )
    cost = (in_tok * float(pin) + out_tok * float(pout)) / 1e6
    return cost, source, in_tok, out_tok


def _preflight_error(name: str, failed: CallFailedError, max_retries: int) -> Exception:
    """The error a failed preflight call stops the run with, by what kind of failure it was."""
    if failed.kind == "transient":
        msg = (
            f"model {name!r} could not be reached in its preflight call after "
            f"{max_retries} retries ({describe(failed.cause)}); no input was sent"
        )
        return CollectionError(msg)
    if failed.kind == "auth":
        msg = (
            f"model {name!r} failed its preflight call with an authentication or "
            f"permission error ({describe(failed.cause)}): check its API key and access; "
            "no input was sent"
        )
        return ModelConfigError(msg)
    msg = (
        f"model {name!r} failed its preflight call ({describe(failed.cause)}): check its "
        "configuration (model name, endpoint, parameters); no input was sent"
    )
    return ModelConfigError(msg)


async def _preflight(
    name: str,
    chat: Runnable[Any, Any],
    info: Mapping[str, Any],
    opts: RunOptions,
    state: RunState,
) -> None:
    try:
        answer = await call_with_retries(chat, PREFLIGHT_PROMPT, opts.limiters.get(name), opts)
    except CallFailedError as failed:
        raise _preflight_error(name, failed, opts.max_retries) from failed.cause
    cost = call_cost(info, answer.usage, PREFLIGHT_PROMPT, answer.text, opts)[0]
    state.spent += cost or 0.0


async def preflight_all(
    chats: Mapping[str, Runnable[Any, Any]],
    infos: Mapping[str, Mapping[str, Any]],
    opts: RunOptions,
    state: RunState,
) -> None:
    """The preflight call of every model in ``chats``, at once.

    Raises:
        ModelConfigError: A model failed with an authentication, permission or
            configuration error (with several failing, every model's problem at once).
        CollectionError: A model could not be reached.
    """
    checks = await asyncio.gather(
        *(_preflight(k, chat, infos[k], opts, state) for k, chat in chats.items()),
        return_exceptions=True,
    )
    errors = [e for e in checks if isinstance(e, BaseException)]
    if len(errors) == 1:
        raise errors[0]
    if errors:  # every model's problem at once, as a config error if any is one
        kind = (
            ModelConfigError
            if any(isinstance(e, ModelConfigError) for e in errors)
            else CollectionError
        )
        raise kind(" | ".join(str(e) for e in errors)) from errors[0]


async def run_calls(
    chats: Mapping[str, Runnable[Any, Any]],
    pending: Mapping[str, list[int]],
    inputs: StoredInputs,
    positions: Sequence[int],
    infos: Mapping[str, Mapping[str, Any]],
    store: CollectionStore,
    opts: RunOptions,
    state: RunState,
) -> None:
    run_id = uuid.uuid4().hex
    failures: Counter[str] = Counter()
    with progress_bars(opts.progress, {m: len(p) for m, p in pending.items()}, "") as advance:

        async def worker(name: str, queue: deque[int]) -> None:
            chat, info = chats[name], infos[name]
            while queue and not state.stop:
                if opts.max_cost is not None and state.spent >= opts.max_cost:
                    state.stop = state.cost_stopped = True
                    return
                pos = queue.popleft()
                text = inputs.texts[pos]
                try:
                    answer = await call_with_retries(chat, text, opts.limiters.get(name), opts)
                except CallFailedError as failed:
                    exc, kind = failed.cause, failed.kind
                    if kind == "auth":
                        msg = (
                            f"model {name!r} failed with an authentication or permission "
                            f"error in the run ({describe(exc)}); the run stopped, completed"
                            " results are stored: fix the credentials and run again to resume"
                        )
                        state.fatal = state.fatal or ModelConfigError(msg)
                        state.stop = True
                        return
                    row = ResultRow(
                        model=name,
                        idx=positions[pos],
                        error=describe(exc),
                        error_kind="timeout" if isinstance(exc, CallTimeoutError) else kind,
                        attempts=failed.attempts,
                        run_id=run_id,
                    )
                    failures[name] += 1
                else:
                    cost, source, in_tok, out_tok = call_cost(
                        info, answer.usage, text, answer.text, opts
                    )
                    row = ResultRow(
                        model=name,
                        idx=positions[pos],
                        output=answer.text,
                        input_tokens=in_tok,
                        output_tokens=out_tok,
                        usage=answer.usage,
                        latency_s=answer.latency_s,
                        cost=cost,
                        cost_source=source,
                        attempts=answer.attempts,
                        run_id=run_id,
                    )
                    state.spent += cost or 0.0
                store.put_result(row)
                state.calls += 1
                extra = f" ({failures[name]} failed)" if failures[name] else ""
                advance(name, 1, extra)
                if opts.on_result is not None:
                    opts.on_result(CallResult.of(row, name, pos, inputs))

        async def guarded(name: str, queue: deque[int]) -> None:
            try:
                await worker(name, queue)
            except Exception as exc:  # a store or on_result failure: stop everything
                state.fatal = state.fatal or exc
                state.stop = True

        queues = {name: deque(todo) for name, todo in pending.items()}
        await asyncio.gather(
            *(
                guarded(name, queue)
                for name, queue in queues.items()
                for _ in range(min(opts.concurrency, len(queue)))
            )
        )
