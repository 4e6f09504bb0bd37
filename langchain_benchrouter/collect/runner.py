"""Evaluate your chat models on a benchmark's inputs and grade them into a :class:`Benchmark`.

:func:`collect` (and its async twin :func:`acollect`) sends each input's text as one human
message to each of your chat models, grades every answer against the input's reference
answer, and returns a :class:`~langchain_benchrouter.data.benchmark.Benchmark` of your
models' scores on those inputs, with measured per-call costs and latencies: exactly what
a :class:`~langchain_benchrouter.Router` needs to route among your own models.

How a run proceeds:

1. Every option is checked, every task's grader is resolved (the task's ``metric``
   picks it unless ``graders=`` says otherwise) and every model is resolved (an
   ``init_chat_model`` string with a missing provider package or API key fails here),
   before anything is spent.
2. The store (``store=path``, SQLite) is opened; a store made for other inputs is
   refused. Calls already stored are skipped: the plan counts the calls left and
   estimates their cost from the models' prices. ``dry_run=True`` stops here and
   returns the :class:`CollectionPlan` (no model is called). ``max_cost`` refuses to
   start when the estimate exceeds it.
3. **Preflight**: one short call per model (:data:`PREFLIGHT_PROMPT`) checks that its
   credentials and configuration work; an authentication, permission or configuration
   error stops the run before any input is sent. These calls are the only spend before
   the run is confirmed.
4. The calls run concurrently (``concurrency`` at a time per model), each with a
   timeout, retried with exponential backoff and jitter on rate limits and transient
   errors (HTTP 408/409/425/429/5xx, timeouts, connection errors: recognised by status
   code or exception class name, whatever the provider package). Each result is
   committed to the store as it arrives; a call that still fails is stored with its
   error and scores ``NaN``. The run stops once the measured spend reaches ``max_cost``.
5. Every stored answer is graded (grades are stored per grader name, so
   :func:`regrade` with another grader makes no new calls) and the benchmark assembled.

A run killed at any point (even ``kill -9``) resumes from its store when started again
with the same inputs: no committed result is lost or made again; only the calls that were
in flight (at most ``concurrency`` per model) are made again.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack, overload

import numpy as np
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_core.runnables import Runnable
from rich.console import Console
from rich.table import Table
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from langchain_benchrouter.collect.graders import (
    CodeTests,
    Grader,
    grader_for_metric,
    resolve_grader,
    why_no_grader,
)
from langchain_benchrouter.collect.store import CollectionStore, ResultRow, StoredInputs
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import (
    CollectionError,
    CostLimitError,
    GraderError,
    ModelConfigError,
    ModelOutputError,
)

__all__ = [
    "PREFLIGHT_PROMPT",
    "CallResult",
    "CollectionPlan",
    "ModelPlan",
    "acollect",
    "aregrade",
    "classify_error",
    "collect",
    "regrade",
]

#: The message of the one preflight call made to each model before a run.
PREFLIGHT_PROMPT = "Reply with the single word OK."

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


def _retry_after(exc: BaseException) -> float | None:
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


# --------------------------------------------------------------------------- graders


#: What ``graders=`` takes per task: a built-in grader name (``"exact_match"``...), a
#: :class:`~langchain_benchrouter.collect.graders.Grader`, or a function
#: ``(output, reference[, text]) -> score`` (see ``graders.resolve_grader``).
GraderSpec = str | Grader | Callable[..., Any]


def _as_grader(spec: GraderSpec, *, allow_code_execution: bool, task: str) -> Grader:
    try:
        if isinstance(spec, str) and spec.strip().lower() == "code":
            grader = resolve_grader(spec, allow_execution=allow_code_execution)
        else:
            grader = resolve_grader(spec)
    except GraderError as exc:
        msg = f"grader for task {task!r}: {exc}"
        raise GraderError(msg) from exc
    if isinstance(grader, CodeTests) and not grader.allow_execution:
        msg = (
            f"grader for task {task!r}: {grader.name} runs the models' code on this machine:"
            " pass allow_code_execution=True (CLI: --allow-code-execution) to accept that"
        )
        raise GraderError(msg)
    return grader


def _task_metrics(inputs: StoredInputs) -> dict[str, str | None]:
    found: dict[str, set[str]] = {}
    for task, metric in zip(inputs.tasks, inputs.metrics, strict=True):
        bucket = found.setdefault(task, set())
        if metric is not None:
            bucket.add(metric)
    return {t: (next(iter(m)) if len(m) == 1 else None) for t, m in found.items()}


def _resolve_graders(
    graders: GraderSpec | Mapping[str, GraderSpec] | None,
    inputs: StoredInputs,
    *,
    allow_code_execution: bool,
) -> dict[str, Grader]:
    """One grader per task, checked against the references it needs."""
    metrics = _task_metrics(inputs)
    chosen: dict[str, Grader] = {}
    per_task: Mapping[str, GraderSpec] = {}
    if isinstance(graders, Mapping):
        per_task = graders
        unknown = sorted(set(per_task) - set(metrics))
        if unknown:
            msg = (
                f"graders= names task(s) {unknown} that the inputs do not have; their "
                f"tasks are {sorted(metrics)}"
            )
            raise GraderError(msg)
    for task, metric in metrics.items():
        if task in per_task:
            chosen[task] = _as_grader(
                per_task[task], allow_code_execution=allow_code_execution, task=task
            )
        elif graders is not None and not isinstance(graders, Mapping):
            chosen[task] = _as_grader(graders, allow_code_execution=allow_code_execution, task=task)
        else:
            found = grader_for_metric(metric, allow_code_execution=allow_code_execution)
            if found is None:
                why = why_no_grader(metric, allow_code_execution=allow_code_execution)
                msg = (
                    f"no grader for task {task!r}: {why}. Or pass graders={{{task!r}: "
                    "'exact_match'} (any grader), or leave the task out"
                )
                raise GraderError(msg)
            chosen[task] = found
    for task, grader in chosen.items():
        if not grader.requires_reference:
            continue
        rows = [r for t, r in zip(inputs.tasks, inputs.references, strict=True) if t == task]
        missing = sum(r is None for r in rows)
        if missing:
            msg = (
                f"task {task!r}: {missing} of {len(rows)} inputs have no reference answer, "
                f"which the grader {grader.name!r} needs: give the inputs references (a "
                "'reference' or 'answer' column) or choose a grader that needs none with "
                f"graders={{{task!r}: ...}}"
            )
            raise GraderError(msg)
    return chosen


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class ModelPlan:
    """What a run would do for one model.

    Example:
        >>> p = ModelPlan("small", inputs=3, done=1, failed=0, calls=2, input_tokens=50,
        ...               output_tokens=512, input_price=0.15, output_price=0.6)
        >>> round(p.estimated_cost, 8)
        0.0003147
    """

    name: str
    inputs: int
    """Inputs of the run."""
    done: int
    """Inputs with an answer already stored (skipped)."""
    failed: int
    """Inputs stored as failed (made again only with ``retry_failed=True``)."""
    calls: int
    """Calls the run would make."""
    input_tokens: int
    """Estimated input tokens of those calls."""
    output_tokens: int
    """Expected output tokens of those calls."""
    input_price: float | None
    """USD per million input tokens (``None``: unknown)."""
    output_price: float | None
    """USD per million output tokens (``None``: unknown)."""

    @property
    def estimated_cost(self) -> float | None:
        """Estimated USD of the calls (``None`` when a price is unknown and calls remain)."""
        if self.calls == 0:
            return 0.0
        if self.input_price is None or self.output_price is None:
            return None
        return (self.input_tokens * self.input_price + self.output_tokens * self.output_price) / 1e6


@dataclass(frozen=True)
class CollectionPlan:
    """What a collection run would do: calls per model and their estimated cost.

    Returned by ``collect(..., dry_run=True)``; ``str(plan)`` is a plain-text table and
    :meth:`table` a rich one. The estimate counts ``chars / 4`` input tokens per input
    (or the ``tokenizer``'s count) and ``expected_output_tokens`` output tokens per call,
    at the models' prices; it leaves out the one short preflight call per model.

    Example:
        >>> plan = CollectionPlan(
        ...     models=(ModelPlan("small", 3, 0, 0, 3, 30, 300, 1.0, 2.0),),
        ...     n_inputs=3, expected_output_tokens=100, tokens_from="chars/4", store=None,
        ... )
        >>> plan.calls, round(plan.estimated_cost, 8)
        (3, 0.00063)
    """

    models: tuple[ModelPlan, ...]
    n_inputs: int
    expected_output_tokens: int
    tokens_from: str
    store: str | None
    notes: tuple[str, ...] = field(default=())

    @property
    def calls(self) -> int:
        """Calls the run would make, over all models."""
        return sum(m.calls for m in self.models)

    @property
    def estimated_cost(self) -> float | None:
        """Estimated USD of all the calls (``None`` when some model's price is unknown)."""
        costs = [m.estimated_cost for m in self.models]
        if any(c is None for c in costs):
            return None
        return float(sum(c for c in costs if c is not None))

    def _rows(self) -> list[list[str]]:
        rows = []
        for m in self.models:
            cost = m.estimated_cost
            price = (
                "unknown"
                if m.input_price is None or m.output_price is None
                else f"{m.input_price:g} / {m.output_price:g}"
            )
            rows.append(
                [
                    m.name,
                    str(m.inputs),
                    str(m.done),
                    str(m.failed),
                    str(m.calls),
                    str(m.input_tokens),
                    str(m.output_tokens),
                    price,
                    "unknown" if cost is None else f"${cost:.4f}",
                ]
            )
        return rows

    _HEADERS = (
        "model",
        "inputs",
        "stored",
        "failed",
        "calls",
        "input tok",
        "output tok",
        "USD/M tok in/out",
        "est. cost",
    )

    def _title(self) -> str:
        total = self.estimated_cost
        cost = "unknown (a price is missing)" if total is None else f"${total:.4f}"
        return (
            f"collection plan: {self.calls} calls, estimated cost {cost} (input tokens "
            f"{self.tokens_from}, {self.expected_output_tokens} output tokens per call; "
            "plus one preflight call per model)"
        )

    def table(self) -> Table:
        """The plan as a rich table."""
        table = Table(title=self._title())
        for i, h in enumerate(self._HEADERS):
            table.add_column(h, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for row in self._rows():
            table.add_row(*row)
        return table

    def __str__(self) -> str:
        rows = [list(self._HEADERS), *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._HEADERS))]
        lines = [self._title()]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join([*lines, *self.notes])


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


# --------------------------------------------------------------------------- options


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        msg = f"{name} must be an integer >= {low}, got {value!r}"
        raise CollectionError(msg)
    return value


def _check_float(name: str, value: Any, *, positive: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    if not ok or not math.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "> 0" if positive else ">= 0"
        msg = f"{name} must be a finite number {bound}, got {value!r}"
        raise CollectionError(msg)
    return number


def _inputs_of(inputs: Any) -> StoredInputs:
    if not isinstance(inputs, Benchmark):
        msg = (
            f"inputs must be a Benchmark (e.g. Benchmark.bundled() or Benchmark.load(path)),"
            f" got {type(inputs).__name__}"
        )
        raise CollectionError(msg)
    return StoredInputs(
        tasks=inputs.tasks,
        instance_ids=list(inputs.instance_ids),
        texts=list(inputs.texts),
        references=list(inputs.references),
        metrics=list(inputs.metrics),
        splits=list(inputs.splits),
        threshold=float(inputs.threshold),
        name=inputs.name,
    )


def _identity(spec: Any, chat: Runnable[Any, Any]) -> str:
    """What a model was configured as: its string, or its class and model name."""
    if isinstance(spec, str):
        return spec.strip()
    cls = type(chat)
    label = f"{cls.__module__}.{cls.__qualname__}"
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(chat, attr, None)
        if isinstance(value, str) and value:
            return f"{label}({value})"
    return label


def _resolve_models(models: Any) -> dict[str, tuple[Runnable[Any, Any], str]]:
    if not isinstance(models, Mapping) or not models:
        msg = (
            "models must be a non-empty mapping {name: chat model or 'provider:model'"
            f" string}}, got {models!r}"[:300]
        )
        raise ModelConfigError(msg)
    from langchain_benchrouter.langchain.models import resolve_chat_model

    out: dict[str, tuple[Runnable[Any, Any], str]] = {}
    problems: list[str] = []
    for name, spec in models.items():
        if not isinstance(name, str) or not name.strip():
            msg = f"model names must be non-empty strings, got {name!r}"
            raise ModelConfigError(msg)
        try:
            chat = resolve_chat_model(spec, name=name)
        except ModelConfigError as exc:
            problems.append(str(exc))
            continue
        out[name] = (chat, _identity(spec, chat))
    if problems:
        raise ModelConfigError("; ".join(problems))
    return out


def _prices(
    names: Sequence[str],
    model_info: Mapping[str, Mapping[str, Any]] | None,
    benchmark_info: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    given = dict(model_info or {})
    unknown = sorted(set(given) - set(names))
    if unknown:
        msg = f"model_info names model(s) {unknown} that are not among the models {list(names)}"
        raise ModelConfigError(msg)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        info = {
            k: v
            for k, v in benchmark_info.get(name, {}).items()
            if k in ("input_price", "output_price")
        }
        info.update(given.get(name, {}))
        for key in ("input_price", "output_price"):
            value = info.get(key)
            if value is None:
                continue
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(float(value)) or float(value) < 0:
                msg = (
                    f"model_info[{name!r}][{key!r}] must be a non-negative number (USD per "
                    f"million tokens), got {value!r}"
                )
                raise ModelConfigError(msg)
            info[key] = float(value)
        out[name] = info
    return out


@dataclass
class _Options:
    concurrency: int
    max_retries: int
    timeout: float | None
    max_cost: float | None
    expected_output_tokens: int
    tokenizer: Callable[[str], int] | None
    backoff: float
    max_backoff: float
    preflight: bool
    retry_failed: bool
    progress: bool
    on_result: Callable[[CallResult], None] | None
    limiters: dict[str, InMemoryRateLimiter]

    def tokens(self, text: str) -> int:
        if self.tokenizer is None:
            return math.ceil(len(text) / 4)
        count = self.tokenizer(text)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            msg = f"tokenizer must return a non-negative int, returned {count!r}"
            raise CollectionError(msg)
        return count


# --------------------------------------------------------------------------- calls


class _CallTimeoutError(TimeoutError):
    """One attempt took longer than ``timeout``."""


@dataclass
class _RunState:
    spent: float = 0.0
    calls: int = 0
    stop: bool = False
    cost_stopped: bool = False
    fatal: BaseException | None = None


@dataclass(frozen=True)
class _Answer:
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


class _CallFailedError(Exception):
    """A call that failed for good: its last exception and how many attempts it took."""

    def __init__(self, cause: Exception, attempts: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.attempts = attempts


async def _attempt(
    chat: Runnable[Any, Any], text: str, limiter: InMemoryRateLimiter | None, opts: _Options
) -> _Answer:
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
                raise _CallTimeoutError(msg) from exc
            raise
    return _Answer(_text_of(result), _usage_of(result), time.perf_counter() - start, 1)


async def _call_with_retries(
    chat: Runnable[Any, Any], text: str, limiter: InMemoryRateLimiter | None, opts: _Options
) -> _Answer:
    """One model call with a timeout per attempt, retried on transient errors.

    Raises:
        _CallFailedError: The call failed for good (its cause and attempt count attached).
    """
    exp_wait = wait_exponential(multiplier=opts.backoff, max=opts.max_backoff) + wait_random(
        0, opts.backoff
    )

    def wait(state: RetryCallState) -> float:
        base = float(exp_wait(state))
        outcome = state.outcome
        exc = None if outcome is None else outcome.exception()
        asked = None if exc is None else _retry_after(exc)
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
                return _Answer(answer.text, answer.usage, answer.latency_s, attempts)
    except Exception as exc:
        raise _CallFailedError(exc, attempts) from exc
    raise AssertionError("unreachable")  # pragma: no cover - reraise=True


def _cost(
    info: Mapping[str, Any],
    usage: Mapping[str, Any] | None,
    prompt: str,
    output: str,
    opts: _Options,
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


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:1000]


async def _preflight(
    name: str,
    chat: Runnable[Any, Any],
    info: Mapping[str, Any],
    opts: _Options,
    state: _RunState,
) -> None:
    try:
        answer = await _call_with_retries(chat, PREFLIGHT_PROMPT, opts.limiters.get(name), opts)
    except _CallFailedError as failed:
        exc = failed.cause
        kind = classify_error(exc)
        if kind == "auth":
            msg = (
                f"model {name!r} failed its preflight call with an authentication or "
                f"permission error ({_describe(exc)}): check its API key and access; "
                "no input was sent"
            )
            raise ModelConfigError(msg) from exc
        if kind == "transient":
            msg = (
                f"model {name!r} could not be reached in its preflight call after "
                f"{opts.max_retries} retries ({_describe(exc)}); no input was sent"
            )
            raise CollectionError(msg) from exc
        msg = (
            f"model {name!r} failed its preflight call ({_describe(exc)}): check its "
            "configuration (model name, endpoint, parameters); no input was sent"
        )
        raise ModelConfigError(msg) from exc
    cost = _cost(info, answer.usage, PREFLIGHT_PROMPT, answer.text, opts)[0]
    state.spent += cost or 0.0


# --------------------------------------------------------------------------- progress


@contextmanager
def _progress_bars(
    enabled: bool, totals: Mapping[str, int], what: str
) -> Iterator[Callable[[str, int, str], None]]:
    """Per-model rich progress bars on stderr; silent unless on a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled or not console.is_terminal,
    )
    ids = {name: progress.add_task(f"{what} {name}", total=n) for name, n in totals.items()}

    def advance(name: str, n: int = 1, extra: str = "") -> None:
        progress.update(ids[name], advance=n, description=f"{what} {name}{extra}")

    with progress:
        yield advance


# --------------------------------------------------------------------------- the run


async def _run_calls(
    chats: Mapping[str, Runnable[Any, Any]],
    pending: Mapping[str, list[int]],
    inputs: StoredInputs,
    positions: Sequence[int],
    infos: Mapping[str, Mapping[str, Any]],
    store: CollectionStore,
    opts: _Options,
    state: _RunState,
) -> None:
    run_id = uuid.uuid4().hex
    failures: Counter[str] = Counter()
    with _progress_bars(opts.progress, {m: len(p) for m, p in pending.items()}, "") as advance:

        async def worker(name: str, queue: deque[int]) -> None:
            chat, info = chats[name], infos[name]
            while queue and not state.stop:
                if opts.max_cost is not None and state.spent >= opts.max_cost:
                    state.stop = state.cost_stopped = True
                    return
                pos = queue.popleft()
                text = inputs.texts[pos]
                try:
                    answer = await _call_with_retries(chat, text, opts.limiters.get(name), opts)
                except _CallFailedError as failed:
                    exc = failed.cause
                    kind = classify_error(exc)
                    if kind == "auth":
                        msg = (
                            f"model {name!r} failed with an authentication or permission "
                            f"error in the run ({_describe(exc)}); the run stopped, completed"
                            " results are stored: fix the credentials and run again to resume"
                        )
                        state.fatal = state.fatal or ModelConfigError(msg)
                        state.stop = True
                        return
                    row = ResultRow(
                        model=name,
                        idx=positions[pos],
                        error=_describe(exc),
                        error_kind="timeout" if isinstance(exc, _CallTimeoutError) else kind,
                        attempts=failed.attempts,
                        run_id=run_id,
                    )
                    failures[name] += 1
                else:
                    cost, source, in_tok, out_tok = _cost(
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
                    opts.on_result(
                        CallResult(
                            model=name,
                            index=pos,
                            task=inputs.tasks[pos],
                            instance_id=inputs.instance_ids[pos],
                            output=row.output,
                            error=row.error,
                            error_kind=row.error_kind,
                            attempts=row.attempts,
                            latency_s=row.latency_s,
                            cost=row.cost,
                        )
                    )

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


async def _grade_all(
    store: CollectionStore,
    inputs: StoredInputs,
    positions: Sequence[int],
    models: Sequence[str],
    graders: Mapping[str, Grader],
    *,
    concurrency: int,
    progress: bool,
) -> dict[str, list[str]]:
    """Grade every stored answer that has no grade under its task's grader yet.

    Grades are committed in batches (a crash loses at most a batch, graded again later).
    An answer a grader cannot grade (it raises ``GraderError``, e.g. a reference without
    a number) stays ungraded (``NaN``) and is reported; any other grader exception stops.

    Returns:
        Per model, why each answer it could not grade was ungradable.
    """
    names = sorted({g.name for g in graders.values()})
    todo: list[tuple[str, int, int, str, Grader]] = []
    for model in models:
        results = store.results(model)
        done = store.grades(model, names)
        for pos, idx in enumerate(positions):
            row = results.get(idx)
            grader = graders[inputs.tasks[pos]]
            if row is not None and row.ok and (idx, grader.name) not in done:
                todo.append((model, pos, idx, row.output or "", grader))
    ungradable: dict[str, list[str]] = {}
    if not todo:
        return ungradable
    sem = asyncio.Semaphore(concurrency)
    batch: list[tuple[str, int, str, float]] = []
    counts = Counter(item[0] for item in todo)
    with _progress_bars(progress, counts, "grading") as advance:

        async def one(model: str, pos: int, idx: int, output: str, grader: Grader) -> None:
            async with sem:
                try:
                    score = await grader.agrade(
                        output, inputs.references[pos], text=inputs.texts[pos]
                    )
                except GraderError as exc:
                    where = f"task {inputs.tasks[pos]!r}, instance {inputs.instance_ids[pos]!r}"
                    ungradable.setdefault(model, []).append(f"{where}: {exc}")
                    advance(model, 1, "")
                    return
                except Exception as exc:
                    msg = (
                        f"grader {grader.name!r} failed on model {model!r}, task "
                        f"{inputs.tasks[pos]!r}, instance {inputs.instance_ids[pos]!r}: "
                        f"{_describe(exc)}. The answers are kept in the store: fix the grader"
                        " and call regrade(store, graders=...)"
                    )
                    raise CollectionError(msg) from exc
            ok = isinstance(score, int | float) and not isinstance(score, bool)
            if not ok or not 0.0 <= float(score) <= 1.0:
                msg = f"grader {grader.name!r} returned {score!r}, not a score in [0, 1]"
                raise GraderError(msg)
            batch.append((model, idx, grader.name, float(score)))
            advance(model, 1, "")
            if len(batch) >= 200:
                store.put_grades(batch)
                batch.clear()

        try:
            await asyncio.gather(*(one(*item) for item in todo))
        finally:
            if batch:
                store.put_grades(batch)
    return ungradable


def _assemble(
    store: CollectionStore,
    inputs: StoredInputs,
    positions: Sequence[int],
    models: Sequence[str],
    graders: Mapping[str, Grader],
    *,
    name: str,
    notes: Sequence[str] = (),
    ungradable: Mapping[str, Sequence[str]] | None = None,
) -> Benchmark:
    n, m = len(positions), len(models)
    scores = np.full((n, m), np.nan)
    costs = np.full((n, m), np.nan)
    names = sorted({g.name for g in graders.values()})
    info: dict[str, dict[str, Any]] = {}
    out_notes = list(notes)
    by_grader: dict[str, list[str]] = {}
    for task, g in graders.items():
        by_grader.setdefault(g.name, []).append(task)
    out_notes.append(
        f"collected {m} model(s) on {n} inputs of {len(graders)} task(s); graded by "
        + "; ".join(f"{g} ({', '.join(ts)})" for g, ts in by_grader.items())
    )
    dead: list[str] = []
    for j, model in enumerate(models):
        results = store.results(model)
        grades = store.grades(model, names)
        latencies: list[float] = []
        tokens: list[tuple[int, int]] = []
        errors: Counter[str] = Counter()
        first_error = ""
        estimated = missing = 0
        for pos, idx in enumerate(positions):
            row = results.get(idx)
            if row is None:
                missing += 1
                continue
            if row.cost is not None:
                costs[pos, j] = row.cost
                estimated += row.cost_source == "estimate"
            if not row.ok:
                errors[row.error_kind or "error"] += 1
                first_error = first_error or (row.error or "")
                continue
            if row.latency_s is not None:
                latencies.append(row.latency_s)
            if row.usage is not None and row.input_tokens is not None:
                tokens.append((row.input_tokens or 0, row.output_tokens or 0))
            score = grades.get((idx, graders[inputs.tasks[pos]].name))
            if score is not None:
                scores[pos, j] = score
        known = costs[:, j][~np.isnan(costs[:, j])]
        info[model] = {
            **store.model_info(model),
            "cost_per_call": float(known.mean()) if known.size else None,
            "latency_s": statistics.median(latencies) if latencies else None,
            "latency_mean_s": statistics.fmean(latencies) if latencies else None,
            "input_tokens_per_call": statistics.fmean(t[0] for t in tokens) if tokens else None,
            "output_tokens_per_call": statistics.fmean(t[1] for t in tokens) if tokens else None,
            "calls": n - missing,
            "failed_calls": sum(errors.values()),
        }
        failed = sum(errors.values())
        if failed:
            kinds = ", ".join(f"{c} {k}" for k, c in errors.most_common())
            out_notes.append(
                f"{model}: {failed} of {n} calls failed after retries ({kinds}; e.g. "
                f"{first_error[:200]}); their scores are NaN"
            )
        if missing:
            out_notes.append(f"{model}: {missing} of {n} inputs were not called; NaN")
        lost = (ungradable or {}).get(model, [])
        if lost:
            out_notes.append(
                f"{model}: {len(lost)} answer(s) could not be graded, their scores are NaN "
                f"(e.g. {lost[0][:300]})"
            )
            first_error = first_error or lost[0]
        if estimated:
            out_notes.append(
                f"{model}: the cost of {estimated} call(s) is estimated from text length "
                "(the model reported no usage_metadata)"
            )
        if np.isnan(scores[:, j]).all():
            dead.append(f"{model!r} ({first_error[:200] or 'no stored answers'})")
    if dead:
        msg = (
            f"model(s) {', '.join(dead)} have no graded answer on these inputs, so no "
            "benchmark can hold them; the store keeps every result: fix the model and run "
            "again with retry_failed=True, or leave it out"
        )
        raise CollectionError(msg)
    out_notes.append(
        "model_info: cost_per_call is the mean measured cost of a call (USD, from "
        "usage_metadata and the prices), latency_s the median latency of a successful "
        "call in seconds (latency_mean_s the mean)"
    )
    has_costs = not np.isnan(costs).all()
    return Benchmark(
        texts=[inputs.texts[p] for p in range(n)],
        tasks=[inputs.tasks[p] for p in range(n)],
        instance_ids=[inputs.instance_ids[p] for p in range(n)],
        scores=scores,
        models=list(models),
        model_info=info,
        threshold=inputs.threshold,
        name=name,
        notes=out_notes,
        splits=list(inputs.splits),
        metrics=list(inputs.metrics),
        references=list(inputs.references),
        costs=costs if has_costs else None,
    )


def _plan(
    names: Sequence[str],
    store: CollectionStore | None,
    positions: Sequence[int],
    inputs: StoredInputs,
    infos: Mapping[str, Mapping[str, Any]],
    opts: _Options,
) -> tuple[CollectionPlan, dict[str, list[int]]]:
    tokens = [opts.tokens(t) for t in inputs.texts]
    plans: list[ModelPlan] = []
    pending: dict[str, list[int]] = {}
    for name in names:
        finished = {} if store is None else store.finished(name)
        todo = [
            p
            for p, idx in enumerate(positions)
            if idx not in finished or (opts.retry_failed and not finished[idx])
        ]
        pending[name] = todo
        ok = sum(1 for idx in positions if finished.get(idx) is True)
        failed = sum(1 for idx in positions if finished.get(idx) is False)
        plans.append(
            ModelPlan(
                name=name,
                inputs=len(positions),
                done=ok,
                failed=failed,
                calls=len(todo),
                input_tokens=sum(tokens[p] for p in todo),
                output_tokens=opts.expected_output_tokens * len(todo),
                input_price=infos[name].get("input_price"),
                output_price=infos[name].get("output_price"),
            )
        )
    plan = CollectionPlan(
        models=tuple(plans),
        n_inputs=len(positions),
        expected_output_tokens=opts.expected_output_tokens,
        tokens_from="chars/4" if opts.tokenizer is None else "from the tokenizer",
        store=None if store is None or store.path is None else str(store.path),
    )
    return plan, pending


def _limiters(
    names: Sequence[str], requests_per_second: float | Mapping[str, float] | None
) -> dict[str, InMemoryRateLimiter]:
    if requests_per_second is None:
        return {}
    rates: dict[str, float] = {}
    if isinstance(requests_per_second, Mapping):
        unknown = sorted(set(requests_per_second) - set(names))
        if unknown:
            msg = f"requests_per_second names unknown model(s) {unknown}"
            raise CollectionError(msg)
        for k, v in requests_per_second.items():
            rates[k] = _check_float(f"requests_per_second[{k!r}]", v, positive=True)
    else:
        rate = _check_float("requests_per_second", requests_per_second, positive=True)
        rates = dict.fromkeys(names, rate)
    return {
        k: InMemoryRateLimiter(requests_per_second=v, check_every_n_seconds=min(0.1, 1 / v))
        for k, v in rates.items()
    }


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class CollectOptions(TypedDict, total=False):
    """The keyword options of :func:`collect` and :func:`acollect` (see :func:`collect`)."""

    graders: GraderSpec | Mapping[str, GraderSpec] | None
    store: str | os.PathLike[str] | None
    concurrency: int
    max_retries: int
    timeout: float | None
    max_cost: float | None
    allow_code_execution: bool
    progress: bool
    model_info: Mapping[str, Mapping[str, Any]] | None
    expected_output_tokens: int
    tokenizer: Callable[[str], int] | None
    preflight: bool
    retry_failed: bool
    requests_per_second: float | Mapping[str, float] | None
    backoff: float
    max_backoff: float
    on_result: Callable[[CallResult], None] | None
    name: str | None


async def _collect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    graders: GraderSpec | Mapping[str, GraderSpec] | None = None,
    store: str | os.PathLike[str] | None = None,
    concurrency: int = 4,
    max_retries: int = 5,
    timeout: float | None = 120.0,
    max_cost: float | None = None,
    dry_run: bool,
    allow_code_execution: bool = False,
    progress: bool = True,
    model_info: Mapping[str, Mapping[str, Any]] | None = None,
    expected_output_tokens: int = 256,
    tokenizer: Callable[[str], int] | None = None,
    preflight: bool = True,
    retry_failed: bool = False,
    requests_per_second: float | Mapping[str, float] | None = None,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    on_result: Callable[[CallResult], None] | None = None,
    name: str | None = None,
) -> Benchmark | CollectionPlan:
    """The run behind :func:`collect` and :func:`acollect`."""
    opts = _Options(
        concurrency=_check_int("concurrency", concurrency, 1),
        max_retries=_check_int("max_retries", max_retries, 0),
        timeout=None if timeout is None else _check_float("timeout", timeout, positive=True),
        max_cost=None if max_cost is None else _check_float("max_cost", max_cost, positive=False),
        expected_output_tokens=_check_int("expected_output_tokens", expected_output_tokens, 0),
        tokenizer=tokenizer,
        backoff=_check_float("backoff", backoff, positive=False),
        max_backoff=_check_float("max_backoff", max_backoff, positive=False),
        preflight=bool(preflight),
        retry_failed=bool(retry_failed),
        progress=bool(progress),
        on_result=on_result,
        limiters={},
    )
    if tokenizer is not None and not callable(tokenizer):
        msg = f"tokenizer must be a callable text -> token count, got {tokenizer!r}"
        raise CollectionError(msg)
    stored_inputs = _inputs_of(inputs)
    grader_map = _resolve_graders(graders, stored_inputs, allow_code_execution=allow_code_execution)
    resolved = _resolve_models(models)
    names = list(resolved)
    infos = _prices(names, model_info, inputs.model_info)
    opts.limiters = _limiters(names, requests_per_second)
    for model_name, (_, identity) in resolved.items():
        infos[model_name]["model"] = identity

    if dry_run:
        exists = store is not None and str(store) != ":memory:" and os.path.exists(store)
        if not exists:
            everything = range(len(stored_inputs.texts))
            return _plan(names, None, everything, stored_inputs, infos, opts)[0]
        with CollectionStore(store, lock=False) as db:
            positions = db.bind_inputs(stored_inputs, check_only=True)
            for model_name, (_, identity) in resolved.items():
                db.register_model(model_name, identity, infos[model_name], check_only=True)
            return _plan(names, db, positions, stored_inputs, infos, opts)[0]

    with CollectionStore(store) as db:
        positions = db.bind_inputs(stored_inputs)
        for model_name, (_, identity) in resolved.items():
            db.register_model(model_name, identity, infos[model_name])
        plan, pending = _plan(names, db, positions, stored_inputs, infos, opts)
        if opts.max_cost is not None and plan.calls:
            unpriced = [m.name for m in plan.models if m.estimated_cost is None]
            if unpriced:
                msg = (
                    f"max_cost needs the prices of model(s) {unpriced}: pass model_info="
                    "{name: {'input_price': ..., 'output_price': ...}} (USD per million "
                    "tokens; CLI: --price NAME=IN,OUT)"
                )
                raise CollectionError(msg)
            estimate = plan.estimated_cost or 0.0
            if estimate > opts.max_cost:
                msg = (
                    f"the {plan.calls} calls left would cost about ${estimate:.4f}, more than "
                    f"max_cost=${opts.max_cost:g}; nothing was spent. Raise max_cost, collect "
                    "fewer inputs, or look at the plan with dry_run=True"
                )
                raise CostLimitError(msg)
        state = _RunState()
        pending = {k: v for k, v in pending.items() if v}
        chats = {k: resolved[k][0] for k in names}
        if pending and opts.preflight:
            checks = await asyncio.gather(
                *(_preflight(k, chats[k], infos[k], opts, state) for k in pending),
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
        if pending:
            await _run_calls(chats, pending, stored_inputs, positions, infos, db, opts, state)
        if state.fatal is not None:
            raise state.fatal
        if state.cost_stopped:
            left = sum(len(q) for q in pending.values()) - state.calls
            where = (
                f"kept in the store {db.path}: run again with a higher max_cost to resume"
                if db.path is not None
                else "lost (no store= was given)"
            )
            msg = (
                f"the measured spend ${state.spent:.4f} reached max_cost=${opts.max_cost:g} "
                f"after {state.calls} calls; {left} calls were not made. The results are "
                f"{where}"
            )
            raise CostLimitError(msg)
        ungradable = await _grade_all(
            db,
            stored_inputs,
            positions,
            names,
            grader_map,
            concurrency=opts.concurrency,
            progress=opts.progress,
        )
        notes = [
            f"this run made {state.calls} calls (plus {len(pending) if opts.preflight else 0}"
            f" preflight) and spent ${state.spent:.6f} (measured; unpriced calls count 0)"
        ]
        return _assemble(
            db,
            stored_inputs,
            positions,
            names,
            grader_map,
            name=name or f"{inputs.name}-collected",
            notes=notes,
            ungradable=ungradable,
        )


@overload
async def acollect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: Literal[False] = ...,
    **options: Unpack[CollectOptions],
) -> Benchmark: ...


@overload
async def acollect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: Literal[True],
    **options: Unpack[CollectOptions],
) -> CollectionPlan: ...


async def acollect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: bool = False,
    **options: Unpack[CollectOptions],
) -> Benchmark | CollectionPlan:
    """Async twin of :func:`collect` (same arguments, same result).

    Example:
        >>> bench = await acollect({"mini": "openai:gpt-4o-mini"}, inputs)  # doctest: +SKIP

    Args:
        models: As in :func:`collect`.
        inputs: As in :func:`collect`.
        dry_run: As in :func:`collect`.
        **options: As in :func:`collect`.

    Returns:
        As :func:`collect`.
    """
    return await _collect(models, inputs, dry_run=dry_run, **options)


@overload
def collect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: Literal[False] = ...,
    **options: Unpack[CollectOptions],
) -> Benchmark: ...


@overload
def collect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: Literal[True],
    **options: Unpack[CollectOptions],
) -> CollectionPlan: ...


def collect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: bool = False,
    **options: Unpack[CollectOptions],
) -> Benchmark | CollectionPlan:
    """Evaluate chat models on a benchmark's inputs and grade them into a new benchmark.

    See the module docstring for how a run proceeds. The only money spent before the
    run is confirmed (options checked, graders and models resolved, the store matching,
    the estimate within ``max_cost``) is the one short preflight call per model.

    Example:
        >>> from langchain_benchrouter import Benchmark
        >>> from langchain_benchrouter.collect.runner import collect
        >>> inputs = Benchmark.bundled().select_tasks("mmlu")  # doctest: +SKIP
        >>> plan = collect({"mini": "openai:gpt-4o-mini"}, inputs, dry_run=True,
        ...                model_info={"mini": {"input_price": 0.15, "output_price": 0.6}})
        ... # doctest: +SKIP
        >>> bench = collect({"mini": "openai:gpt-4o-mini"}, inputs, store="mmlu.sqlite",
        ...                 max_cost=1.0)  # doctest: +SKIP
        >>> bench.save("my_models")  # doctest: +SKIP

    Args:
        models: ``{name: chat model}``: a LangChain chat model instance (any runnable
            taking a list of messages) or an ``init_chat_model`` string
            (``"openai:gpt-4o-mini"``).
        inputs: A benchmark whose texts are sent (each as one human message) and whose
            ``references`` the answers are graded against; its scores are not used.
        graders: How to grade: ``None`` picks each task's grader from its ``metric``
            (:func:`~langchain_benchrouter.collect.graders.grader_for_metric`); one
            grader spec (a name, a ``Grader`` or a callable) grades every task; a mapping
            ``{task: spec}`` overrides some tasks.
        store: An SQLite file to keep every result in and resume from (created if
            missing; refused if made for other inputs). ``None``: in memory, nothing
            survives the process.
        concurrency: Calls in flight at once per model (>= 1).
        max_retries: Retries of a call after a transient error (>= 0).
        timeout: Seconds one attempt may take (``None``: no limit); a timeout is retried.
        max_cost: USD this run may spend: refused up front when the estimate exceeds
            it; stopped (:class:`~langchain_benchrouter.errors.CostLimitError`) once the
            measured spend reaches it (calls in flight still finish and are stored).
            Needs both prices of every model with calls left.
        dry_run: Return the :class:`CollectionPlan` (calls per model, skipping what the
            store holds, and the estimated cost) without calling any model.
        allow_code_execution: Let code-running graders (``code_eval``) run model code.
        progress: Show a progress bar per model on stderr (only on a terminal).
        model_info: ``{name: {"input_price": ..., "output_price": ...}}`` in USD per
            million tokens; a model named like one of ``inputs.models`` falls back to
            its prices there.
        expected_output_tokens: Output tokens per call assumed by the estimate.
        tokenizer: Counts the tokens of a text for the estimate (and for the cost of a
            call whose model reports no ``usage_metadata``); default ``ceil(chars / 4)``.
        preflight: Make the one preflight call per model (see above).
        retry_failed: Call again the inputs stored as failed.
        requests_per_second: Rate limit per model (one number for all, or per name),
            with langchain-core's ``InMemoryRateLimiter``.
        backoff: First retry wait in seconds (doubling, plus up to as much jitter).
        max_backoff: Longest retry wait in seconds (also caps a ``Retry-After``).
        on_result: Called with each :class:`CallResult` right after it is committed.
        name: The returned benchmark's name (default ``"<inputs name>-collected"``).
        **options: The options above but ``dry_run`` (:class:`CollectOptions`).

    Returns:
        A :class:`~langchain_benchrouter.data.benchmark.Benchmark` of the models' graded
        scores on ``inputs`` (``NaN`` where a call failed after its retries, counted in
        ``notes``), keeping ``references`` and ``metrics``, with ``costs`` the measured
        cost of each call and ``model_info`` holding each model's prices, ``model`` (what
        it was configured as), ``cost_per_call`` (mean USD), ``latency_s`` (median
        seconds of a successful call), ``latency_mean_s``, ``input_tokens_per_call`` and
        ``output_tokens_per_call`` (means over the calls that reported
        ``usage_metadata``), ``calls`` and ``failed_calls``. With ``dry_run=True``, the
        :class:`CollectionPlan`.

    Raises:
        CollectionError: A bad option, a store made for other inputs or in use, or a
            model with no graded answer at all.
        CostLimitError: The estimate exceeds ``max_cost``, or the spend reached it.
        ModelConfigError: A model cannot be created, or fails its preflight call with an
            authentication, permission or configuration error (also raised, with the
            run stopped, on an authentication error during the run).
        GraderError: No grader for a task, or a grader needs references the inputs lack.
    """
    if _loop_running():
        msg = (
            "collect() was called inside a running event loop (e.g. a notebook or an async "
            "app): use `await acollect(...)` instead"
        )
        raise CollectionError(msg)
    return asyncio.run(_collect(models, inputs, dry_run=dry_run, **options))


async def aregrade(
    store: str | os.PathLike[str],
    graders: GraderSpec | Mapping[str, GraderSpec] | None = None,
    *,
    models: Sequence[str] | None = None,
    allow_code_execution: bool = False,
    concurrency: int = 4,
    progress: bool = True,
    name: str | None = None,
) -> Benchmark:
    """Async twin of :func:`regrade`."""
    concurrency = _check_int("concurrency", concurrency, 1)
    if not os.path.exists(store):
        msg = f"no collection store at {store}: collect into it first"
        raise CollectionError(msg)
    with CollectionStore(store) as db:
        inputs = db.inputs()
        grader_map = _resolve_graders(graders, inputs, allow_code_execution=allow_code_execution)
        stored = db.models()
        chosen = stored if models is None else list(models)
        unknown = [m for m in chosen if m not in stored]
        if unknown or not chosen:
            msg = f"the store has no model(s) {unknown or chosen}; it has {stored}"
            raise CollectionError(msg)
        positions = list(range(len(inputs.texts)))
        ungradable = await _grade_all(
            db, inputs, positions, chosen, grader_map, concurrency=concurrency, progress=progress
        )
        return _assemble(
            db,
            inputs,
            positions,
            chosen,
            grader_map,
            name=name or f"{inputs.name}-collected",
            notes=["regraded from the stored answers (no model was called)"],
            ungradable=ungradable,
        )


def regrade(
    store: str | os.PathLike[str],
    graders: GraderSpec | Mapping[str, GraderSpec] | None = None,
    *,
    models: Sequence[str] | None = None,
    allow_code_execution: bool = False,
    concurrency: int = 4,
    progress: bool = True,
    name: str | None = None,
) -> Benchmark:
    """Grade the answers stored by a collection run again, without calling any model.

    Grades already stored under a grader's name are reused; the others are computed and
    stored. The inputs come from the store itself.

    Example:
        >>> bench = regrade("mmlu.sqlite", "exact_match")  # doctest: +SKIP

    Args:
        store: The store file of a :func:`collect` run.
        graders: As in :func:`collect` (``None``: each task's metric picks its grader).
        models: The stored models to include, in order (default: all, as collected).
        allow_code_execution: Let code-running graders run model code.
        concurrency: Grades computed at once.
        progress: Show progress on stderr (only on a terminal).
        name: The benchmark's name.

    Returns:
        The benchmark, as :func:`collect` returns it.

    Raises:
        CollectionError: No store at that path, or it lacks the models.
        GraderError: As in :func:`collect`.
    """
    if _loop_running():
        msg = "regrade() was called inside a running event loop: use `await aregrade(...)`"
        raise CollectionError(msg)
    return asyncio.run(
        aregrade(
            store,
            graders,
            models=models,
            allow_code_execution=allow_code_execution,
            concurrency=concurrency,
            progress=progress,
            name=name,
        )
    )
