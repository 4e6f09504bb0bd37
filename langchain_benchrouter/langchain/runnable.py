"""RoutedChatModel: the LangChain face of the router, used wherever a chat model goes.

The router is a chain run of its own; the chosen model's run is its child. A chat-model
facade (``BaseChatModel``) would make the inner model's run a sibling, stream tokens
twice in LangGraph ``stream_mode="messages"`` and count usage twice, so the router is a
plain :class:`~langchain_core.runnables.RunnableSerializable` that delegates.
"""

from __future__ import annotations

import asyncio
import contextvars
import difflib
import logging
import math
import queue
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, TypeAlias, TypeVar, cast

import numpy as np
from langchain_core.callbacks import (
    AsyncCallbackManagerForChainRun,
    CallbackManagerForChainRun,
)
from langchain_core.callbacks.manager import adispatch_custom_event, dispatch_custom_event
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AnyMessage, BaseMessage
from langchain_core.prompt_values import ChatPromptValueConcrete, StringPromptValue
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import (
    ensure_config,
    get_config_list,
    merge_configs,
    patch_config,
    run_in_executor,
)
from langchain_core.runnables.utils import ConfigurableFieldSpec, get_unique_config_specs
from pydantic import ConfigDict, Field, PrivateAttr, SkipValidation, ValidationError
from typing_extensions import override

from langchain_benchrouter.core.decisions import Routes, Selection
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.errors import (
    BenchRouterError,
    ModelConfigError,
    ModelOutputError,
    ModelTimeoutError,
    RoutingError,
    RoutingInputError,
    RoutingTimeoutError,
    UnknownModelError,
)
from langchain_benchrouter.langchain.messages import RoutingScope, routing_text
from langchain_benchrouter.langchain.models import LazyChatModel

__all__ = [
    "DECISION_ATTR",
    "DEFAULT_MAX_ROUTING_CHARS",
    "FALLBACK_EVENT",
    "Mode",
    "RoutedChatModel",
    "error_decision",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

Mode = Literal["per_input", "per_task"]
"""``per_input``: route every input; ``per_task``: one model for the whole task."""

FALLBACK_EVENT = "benchrouter_fallback"
"""Name of the custom callback event dispatched when a fallback model is tried."""

DECISION_ATTR = "benchrouter_decision"
"""Attribute set on an exception raised by a chosen model: the routing decision (a dict)."""

DEFAULT_MAX_ROUTING_CHARS = 8192
"""Default cap on the characters routed on (the head of the text is kept)."""

_METADATA_KEY = "benchrouter"
_KNOBS = ("model", "cost_weight", "mode", "routing_scope")
_MODES = ("per_input", "per_task")
_SCOPES = ("last_human", "conversation")


@dataclass
class _Decision:
    """One input's routing decision: the model, the ranked alternatives and the evidence."""

    model: str
    ranking: list[str]
    info: dict[str, Any]
    attempts: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Knobs:
    model: str | None
    cost_weight: float
    mode: Mode
    scope: RoutingScope


def error_decision(exc: BaseException) -> dict[str, Any] | None:
    """The routing decision attached to an exception raised by a chosen model, if any.

    When the chosen model (and every fallback tried) fails, :class:`RoutedChatModel`
    re-raises the model's own exception unchanged, with the decision as the attribute
    :data:`DECISION_ATTR` (``model``, ``mode``, the per-model evidence, ``ranking`` and
    the failed ``attempts``) and a one-line summary added with ``add_note``.

    Args:
        exc: any exception.

    Returns:
        The decision dict, or ``None`` when the exception carries none.
    """
    value = getattr(exc, DECISION_ATTR, None)
    return value if isinstance(value, dict) else None


def _check_options(owner: str, given: Collection[str], valid: Collection[str]) -> None:
    """Refuse keyword options ``owner`` does not take, naming the closest valid one.

    Args:
        owner: the class being configured, for the message.
        given: the keywords passed.
        valid: the keywords ``owner`` accepts.

    Raises:
        RoutingInputError: a keyword is not in ``valid``.
    """
    for key in given:
        if key in valid:
            continue
        close = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"valid options: {sorted(valid)}"
        msg = f"{owner}: unknown option {key!r}; {hint}"
        raise RoutingInputError(msg)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_cost_weight(value: Any, what: str = "cost_weight") -> None:
    if not (_is_number(value) and math.isfinite(value) and value >= 0):
        msg = (
            f"{what} must be a finite number >= 0 (points of predicted correctness one unit "
            f"of cost is worth), got {value!r}"
        )
        raise RoutingInputError(msg)


def _check_cost_table(what: str, table: Any) -> None:
    if table is None:
        return
    if not isinstance(table, Mapping):
        msg = f"{what} must be a dict {{model name: cost}}, got {type(table).__name__}"
        raise RoutingInputError(msg)
    for name, value in table.items():
        if not (_is_number(value) and math.isfinite(value) and value >= 0):
            msg = f"{what}[{name!r}] must be a finite number >= 0, got {value!r}"
            raise RoutingInputError(msg)


def _chat_models(models: Any) -> Any:
    """``models`` with each ``init_chat_model`` string as a :class:`LazyChatModel`."""
    if not isinstance(models, Mapping):
        msg = (
            "models must be a dict {model name: chat model or 'provider:model' string}, "
            f"got {type(models).__name__}"
        )
        raise RoutingInputError(msg)
    out: dict[Any, Any] = {}
    for name, model in models.items():
        if isinstance(model, str):
            out[name] = LazyChatModel(spec=model, name=str(name))
        elif isinstance(model, Runnable):
            out[name] = model
        else:
            msg = (
                f"chat model {name!r}: expected a chat model instance or an init_chat_model "
                f"string such as 'openai:gpt-4o-mini', got {type(model).__name__}"
            )
            raise ModelConfigError(msg)
    return out


def _call_with_timeout(
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


async def _await_with_timeout(
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


def _iter_with_timeout(
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


class RoutedChatModel(RunnableSerializable[LanguageModelInput, Any]):
    """Route each input (or a whole task) to one of several chat models.

    Compose it exactly where a chat model would go. It accepts whatever a chat model
    accepts (a string, a prompt value, a list of messages) and returns what the chosen
    model returns, with the decision in ``response_metadata["benchrouter"]`` and in the
    router run's metadata. ``bind_tools``, ``bind``, ``with_structured_output``,
    ``with_retry`` and ``with_config`` apply to whichever model is chosen.

    Runtime knobs, read from ``config["configurable"]`` (see :attr:`config_specs`), with
    keys prefixed by ``config_prefix`` (default ``"benchrouter"``):
    ``benchrouter_model`` forces a model, ``benchrouter_cost_weight`` sets the cost
    weight, ``benchrouter_mode`` the mode (``"per_input"``/``"per_task"``) and
    ``benchrouter_routing_scope`` what text is routed on.

    Args:
        router: a fitted :class:`~langchain_benchrouter.core.router.Router`.
        models: chat model (or any runnable taking chat input) per router model name.
            Names must match the router's (or be mapped to them by ``aliases``); pass
            ``allow_subset=True`` to route only among the configured ones. A value may be
            an ``init_chat_model`` string (``"openai:gpt-4o-mini"``), created when the
            model is first chosen (a missing provider package or API key is then a
            :class:`~langchain_benchrouter.errors.ModelConfigError`; a malformed string
            is one at construction).
        aliases: configured model name -> the router (benchmark) model it is scored as:
            ``models={"my-gpt": chat}, aliases={"my-gpt": "llama-3.1-8b-instruct"}``
            routes ``chat`` wherever the router would pick the benchmark model. The
            decision names the configured model (``"model"``) and the benchmark one
            (``"scored_as"``). One benchmark model can stand for one configured model
            only; an aliased model does not take its benchmark model's known price.
        allow_subset: allow ``models`` to cover only some of the router's models.
        routing_scope: ``"last_human"`` (default) routes on the text of the latest
            human message; ``"conversation"`` on the text of every message.
        default_model: the model for inputs with no text to route on (otherwise such
            an input is a :class:`~langchain_benchrouter.errors.RoutingInputError`), and
            for inputs whose routing failed or timed out (otherwise the
            :class:`~langchain_benchrouter.errors.RoutingError` is raised).
        mode: ``"per_input"`` (default) or ``"per_task"`` (use :attr:`selection`, made by
            :meth:`for_task`; without one, one selection by the router's default method
            over each call's inputs).
        selection: the pinned per-task decision (set by :meth:`for_task`).
        task_metric: how the task is scored, one of ``router.metrics``, for per-task
            selection (:meth:`for_task` without ``metric=``, and ``mode="per_task"``
            without a selection): the benchmark tasks scored the same way then speak
            for the task (:meth:`Router.select_model`).
        cost_weight: points of predicted correctness one unit of cost is worth.
        costs: cost per call of each model.
        token_costs: cost per token of each model (times the input's estimated tokens
            plus ``expected_output_tokens``). Without ``costs`` and ``token_costs``, the
            router's known prices (per million tokens) serve as per-call costs.
        expected_output_tokens: output tokens assumed per call for ``token_costs``.
        fallbacks: how many next-ranked models to try when the chosen one raises
            (0, the default, disables fallback).
        fallback_on: the exception types that trigger a fallback.
        config_prefix: prefix of the ``configurable`` keys.
        routing_timeout: seconds the routing of one call (embedding and neighbour search)
            may take; beyond it :class:`~langchain_benchrouter.errors.RoutingTimeoutError`
            (or ``default_model``). ``None`` (default): no limit.
        model_timeout: seconds a chosen model may take per call (per chunk when
            streaming; per model group in ``batch``); beyond it
            :class:`~langchain_benchrouter.errors.ModelTimeoutError`, which triggers a
            fallback like any model error. ``None`` (default): no limit (set the chat
            models' own ``timeout`` too: a timed-out sync call keeps running in a
            background thread).
        max_routing_chars: the routing text is cut to its first ``max_routing_chars``
            characters before embedding (default 8192, well beyond the 256-word-piece
            window of the default embedding model); the decision records
            ``truncated_from`` (the original length). ``None`` disables the cap. The
            chosen model always receives the full, untouched input.
        check_output: require the chosen model to return a chat message (message chunks
            when streaming; any non-``None`` value after ``with_structured_output``).
            Anything else is a :class:`~langchain_benchrouter.errors.ModelOutputError`,
            handled like a model error. Pass ``False`` for models that are plain
            runnables returning other types.

    Failures (see ``docs/reliability.md``): routing failures become library errors or
    fall back to ``default_model``; a failing model falls back to the next-ranked one
    when ``fallbacks`` allows, else its own exception is re-raised unchanged with the
    routing decision attached (:func:`error_decision`).

    Example:
        >>> from langchain_benchrouter import Router, RoutedChatModel  # doctest: +SKIP
        >>> llm = RoutedChatModel(  # doctest: +SKIP
        ...     router=Router.load("router_dir"),
        ...     models={"llama-3.1-8b-instruct": chat_a, "qwen2.5-7b-instruct": chat_b},
        ...     allow_subset=True,
        ... )
        >>> chain = prompt | llm.bind_tools([search]) | parser  # doctest: +SKIP
        >>> msg = llm.invoke("What is 17 * 23?")  # doctest: +SKIP
        >>> msg.response_metadata["benchrouter"]["model"]  # doctest: +SKIP
        'qwen2.5-7b-instruct'
    """

    router: SkipValidation[Router]
    models: dict[str, Runnable[Any, Any]]
    aliases: dict[str, str] = Field(default_factory=dict)
    allow_subset: bool = False
    routing_scope: RoutingScope = "last_human"
    default_model: str | None = None
    mode: Mode = "per_input"
    selection: SkipValidation[Selection | None] = None
    task_metric: str | None = None
    cost_weight: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    costs: dict[str, float] | None = None
    token_costs: dict[str, float] | None = None
    expected_output_tokens: int = Field(default=256, ge=0)
    fallbacks: int = Field(default=0, ge=0)
    fallback_on: tuple[type[BaseException], ...] = (Exception,)
    config_prefix: str = "benchrouter"
    routing_timeout: float | None = Field(default=None, gt=0.0)
    model_timeout: float | None = Field(default=None, gt=0.0)
    max_routing_chars: int | None = Field(default=DEFAULT_MAX_ROUTING_CHARS, ge=1)
    check_output: bool = True

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    _queued: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = PrivateAttr(default_factory=list)
    """Declarative operations (``bind_tools`` ...) replayed on the chosen model."""
    _bound: dict[str, Any] = PrivateAttr(default_factory=dict)
    """Config bound with :meth:`with_config`, merged into every call's config."""
    _built: dict[str, Runnable[Any, Any]] = PrivateAttr(default_factory=dict)
    _scored: dict[str, str] = PrivateAttr(default_factory=dict)
    """Configured model name -> the router model it is scored as."""
    _configured: dict[str, str] = PrivateAttr(default_factory=dict)
    """Router model name -> the configured model standing for it."""

    # ------------------------------------------------------------------ validation
    def __init__(self, **data: Any) -> None:
        owner = type(self).__name__
        _check_options(owner, data, type(self).model_fields)
        router = data.get("router")
        if not isinstance(router, Router):
            msg = (
                f"{owner} needs router= a fitted Router (Router.load(directory), or "
                f"Router(...).fit(benchmark)), got {type(router).__name__}"
            )
            raise RoutingInputError(msg)
        if "models" in data:
            data["models"] = _chat_models(data["models"])
        if "cost_weight" in data:
            _check_cost_weight(data["cost_weight"])
        for what in ("costs", "token_costs"):
            _check_cost_table(what, data.get(what))
        try:
            super().__init__(**data)
        except ValidationError as exc:
            msg = f"invalid {owner} options: {exc}"
            raise RoutingInputError(msg) from exc
        self._check()

    def _check_aliases(self, known: list[str]) -> None:
        """Validate ``aliases`` and fill the configured <-> scored name maps."""
        if stray := [a for a in self.aliases if a not in self.models]:
            msg = (
                f"aliases name model(s) {stray} that are not configured in models; "
                f"the configured models are {list(self.models)}"
            )
            raise UnknownModelError(msg)
        if bad := {a: t for a, t in self.aliases.items() if t not in known}:
            msg = (
                f"aliases map to model(s) the router does not know: {bad}; "
                f"alias targets must be router models: {known}"
            )
            raise UnknownModelError(msg)
        scored = {m: self.aliases.get(m, m) for m in self.models}
        extra = [m for m, s in scored.items() if s not in known]
        if extra:
            msg = (
                f"models names {extra} unknown to the router; the router knows {known} "
                f"(to route a chat model under a benchmark model's name, pass "
                f"aliases={{{extra[0]!r}: <one of those>}})"
            )
            raise UnknownModelError(msg)
        by_scored: dict[str, list[str]] = {}
        for m, s in scored.items():
            by_scored.setdefault(s, []).append(m)
        if dup := {s: ms for s, ms in by_scored.items() if len(ms) > 1}:
            s, ms = next(iter(dup.items()))
            msg = (
                f"models {ms} would all be scored as router model {s!r}; one benchmark "
                "model can stand for one configured model only (drop one, or alias them "
                "to different benchmark models)"
            )
            raise RoutingInputError(msg)
        self._scored = scored
        self._configured = {s: ms[0] for s, ms in by_scored.items()}

    def _check(self) -> None:
        known = self.router.model_names  # raises NotFittedError on an unfitted router
        if not self.models:
            msg = "models is empty: configure at least one chat model"
            raise RoutingInputError(msg)
        self._check_aliases(known)
        missing = [m for m in known if m not in self._configured]
        if missing and not self.allow_subset:
            msg = (
                f"no chat model configured for router model(s) {missing}; configure them, "
                "or pass allow_subset=True to route only among the configured models"
            )
            raise UnknownModelError(msg)
        if self.default_model is not None and self.default_model not in self.models:
            msg = (
                f"default_model {self.default_model!r} is not one of the configured models "
                f"{list(self.models)}"
            )
            raise UnknownModelError(msg)
        if self.selection is not None and self.selection.model not in self._configured:
            msg = (
                f"selection {self.selection.model!r} is not a router model standing for a "
                f"configured model ({sorted(self._configured)})"
            )
            raise UnknownModelError(msg)
        if self.task_metric is not None and self.task_metric not in self.router.metrics:
            msg = (
                f"task_metric {self.task_metric!r} is not a metric of the router's benchmark"
                f" (known: {self.router.metrics})"
            )
            raise RoutingInputError(msg)
        for what, table in (("costs", self.costs), ("token_costs", self.token_costs)):
            if table and (unknown := [m for m in table if m not in self.models]):
                msg = f"{what} name unknown model(s) {unknown}"
                raise UnknownModelError(msg)
        if self.cost_weight:
            self._cost_matrix([""])  # every model needs a cost

    @property
    def _allowed(self) -> list[str] | None:
        """The models to route among (``None``: all of the router's)."""
        names = self.router.model_names
        if len(self._configured) == len(names):
            return None
        return [m for m in names if m in self._configured]

    def _info(self, model: str, info: dict[str, Any]) -> dict[str, Any]:
        """Decision ``info`` for configured ``model``: its name and, if aliased, ``scored_as``."""
        out = {**info, "model": model}
        if (scored := self._scored[model]) != model:
            out["scored_as"] = scored
        return out

    def _replace(self, **update: Any) -> RoutedChatModel:
        queued = update.pop("_queued", self._queued)
        bound = update.pop("_bound", self._bound)
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(update)
        new = type(self)(**values)
        new._queued = list(queued)
        new._bound = dict(bound)
        return new

    # ------------------------------------------------------------------ types and specs
    @property
    @override
    def InputType(self) -> TypeAlias:
        """The input type: what a chat model accepts."""
        return str | StringPromptValue | ChatPromptValueConcrete | list[AnyMessage]

    @property
    @override
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        """The runtime knobs read from ``config["configurable"]``, plus the models' own."""
        p = self.config_prefix
        names = list(self.models)
        mine = [
            ConfigurableFieldSpec(
                id=f"{p}_model",
                annotation=str | None,
                name="Forced model",
                description=f"Skip routing and use this model (one of {names}).",
                default=None,
            ),
            ConfigurableFieldSpec(
                id=f"{p}_cost_weight",
                annotation=float | None,
                name="Cost weight",
                description="Points of predicted correctness one unit of cost is worth.",
                default=None,
            ),
            ConfigurableFieldSpec(
                id=f"{p}_mode",
                annotation=Mode | None,
                name="Routing mode",
                description="'per_input' routes each input; 'per_task' uses one model per task.",
                default=None,
            ),
            ConfigurableFieldSpec(
                id=f"{p}_routing_scope",
                annotation=RoutingScope | None,
                name="Routing text",
                description="'last_human' (latest human message) or 'conversation'.",
                default=None,
            ),
        ]
        theirs = [s for m in self.models.values() for s in m.config_specs]
        return get_unique_config_specs([*mine, *theirs])

    # ------------------------------------------------------------------ declarative ops
    def _queue(self, name: str, *args: Any, **kwargs: Any) -> RoutedChatModel:
        return self._replace(_queued=[*self._queued, (name, args, kwargs)])

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> RoutedChatModel:
        """Bind tools to whichever model is chosen (its own ``bind_tools``).

        Args:
            tools: tools as accepted by the chat models' ``bind_tools``.
            **kwargs: passed on (``tool_choice`` ...).

        Returns:
            A new router with the binding queued.
        """
        return self._queue("bind_tools", tools, **kwargs)

    def with_structured_output(self, schema: Any, **kwargs: Any) -> RoutedChatModel:
        """Structured output from whichever model is chosen (its own ``with_structured_output``).

        Args:
            schema: a Pydantic class, TypedDict, JSON schema or OpenAI tool schema.
            **kwargs: passed on (``include_raw``, ``method`` ...).

        Returns:
            A new router with the operation queued.
        """
        return self._queue("with_structured_output", schema, **kwargs)

    @override
    def bind(self, **kwargs: Any) -> RoutedChatModel:
        """Bind call arguments (``stop`` ...) to whichever model is chosen."""
        return self._queue("bind", **kwargs)

    @override
    def with_retry(
        self,
        *,
        retry_if_exception_type: tuple[type[BaseException], ...]
        | Callable[[BaseException], bool] = (Exception,),
        wait_exponential_jitter: bool = True,
        exponential_jitter_params: Any = None,
        stop_after_attempt: int = 3,
    ) -> RoutedChatModel:
        """Retry the chosen model's call (inside the router run) on exceptions."""
        return self._queue(
            "with_retry",
            retry_if_exception_type=retry_if_exception_type,
            wait_exponential_jitter=wait_exponential_jitter,
            exponential_jitter_params=exponential_jitter_params,
            stop_after_attempt=stop_after_attempt,
        )

    @override
    def with_config(self, config: RunnableConfig | None = None, **kwargs: Any) -> RoutedChatModel:
        """Bind config (tags, metadata, callbacks, configurable knobs ...) to every call.

        The config reaches the router run and, through it, the chosen model's run.
        """
        merged = merge_configs(
            cast("RunnableConfig", self._bound), config, cast("RunnableConfig", kwargs)
        )
        return self._replace(_bound=dict(merged))

    def for_task(
        self,
        sample_inputs: Sequence[Any],
        *,
        method: Literal["eb_select", "calibrated", "s1", "s2", "s3"] | None = None,
        metric: str | None = None,
    ) -> RoutedChatModel:
        """Select one model for a whole task from a sample of its inputs.

        Args:
            sample_inputs: inputs of the task (strings, prompt values or message lists);
                tens to hundreds work best.
            method: the task-level method; ``None`` (default) uses the router's default
                (``"eb_select"``); the paper's scores are ``"s3"``, ``"s2"`` and ``"s1"``.
            metric: how the task is scored, one of ``router.metrics`` (e.g.
                ``"code_eval"``): the benchmark tasks scored the same way then inform the
                choice (:meth:`Router.select_model`). Default: :attr:`task_metric` (for
                the calibrated methods; the paper's scores take no metric).

        Returns:
            A router pinned to the selected model, with the
            :class:`~langchain_benchrouter.core.decisions.Selection` in :attr:`selection`.

        Raises:
            RoutingInputError: no inputs, an input without text, or an unknown metric.
        """
        if isinstance(sample_inputs, str):
            msg = "sample_inputs must be a list of inputs, got a single string (wrap it in a list)"
            raise RoutingInputError(msg)
        texts = [routing_text(x, self.routing_scope) for x in sample_inputs]
        if empty := [i for i, t in enumerate(texts) if not t]:
            msg = f"sample_inputs {empty} have no text to route on ({self.routing_scope})"
            raise RoutingInputError(msg)
        if metric is None and method in (None, "eb_select", "calibrated"):
            metric = self.task_metric  # the paper's scores take no metric
        sel = (
            self.router.select_model(texts, models=self._allowed, metric=metric)
            if method is None
            else self.router.select_model(texts, method=method, models=self._allowed, metric=metric)
        )
        return self._replace(selection=sel, mode="per_task")

    # ------------------------------------------------------------------ deciding
    def _knobs(self, config: RunnableConfig) -> _Knobs:
        conf = config.get("configurable") or {}
        p = self.config_prefix
        forced = conf.get(f"{p}_model")
        if forced is not None and forced not in self.models:
            msg = f"configurable {p}_model={forced!r} is not one of {list(self.models)}"
            raise UnknownModelError(msg)
        weight = conf.get(f"{p}_cost_weight")
        weight = self.cost_weight if weight is None else weight
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not (math.isfinite(weight) and weight >= 0)
        ):
            msg = f"configurable {p}_cost_weight must be a finite number >= 0, got {weight!r}"
            raise RoutingInputError(msg)
        mode = conf.get(f"{p}_mode") or self.mode
        if mode not in _MODES:
            msg = f"configurable {p}_mode must be one of {_MODES}, got {mode!r}"
            raise RoutingInputError(msg)
        scope = conf.get(f"{p}_routing_scope") or self.routing_scope
        if scope not in _SCOPES:
            msg = f"configurable {p}_routing_scope must be one of {_SCOPES}, got {scope!r}"
            raise RoutingInputError(msg)
        return _Knobs(forced, float(weight), mode, scope)

    def _others(self, first: str) -> list[str]:
        """The configured models other than ``first``, the best on average first."""
        bma = self.router.best_model_on_average
        rest = [c for c in self._configured.values() if c != first]
        order = {m: i for i, m in enumerate(self.router.model_names)}
        rest.sort(key=lambda c: (self._scored[c] != bma, order[self._scored[c]]))
        return rest

    def _cost_matrix(self, inputs: Sequence[Any]) -> np.ndarray:
        """(n, M) cost of each router model on each input (NaN: not routable)."""
        names = self.router.model_names
        per_call = np.zeros(len(names))
        per_token = np.zeros(len(names))
        configured = [self._configured.get(m) for m in names]
        if self.costs is None and self.token_costs is None:
            known = self.router.model_costs()
            per_call = np.array(
                [
                    np.nan if known[m] is None or (c is not None and c != m) else known[m]
                    for m, c in zip(names, configured, strict=True)
                ],
                float,
            )
        else:
            if self.costs is not None:
                table = self.costs
                per_call = np.array([table.get(c, np.nan) if c else np.nan for c in configured])
            if self.token_costs is not None:
                table = self.token_costs
                per_token = np.array([table.get(c, np.nan) if c else np.nan for c in configured])
        missing = [
            c
            for c, a, b in zip(configured, per_call, per_token, strict=True)
            if c is not None and not (np.isfinite(a) and np.isfinite(b))
        ]
        if missing:
            msg = (
                f"cost_weight > 0 but no cost is known for {missing}; "
                "pass costs={model: cost per call} or token_costs={model: cost per token}"
                " (an aliased model does not take its benchmark model's known price)"
            )
            raise RoutingInputError(msg)
        if self.token_costs is None:
            return np.tile(per_call, (len(inputs), 1))
        tokens = np.array(
            [len(routing_text(x, "conversation")) / 4 + self.expected_output_tokens for x in inputs]
        )
        return cast("np.ndarray", per_call[None, :] + tokens[:, None] * per_token[None, :])

    def _route(self, inputs: list[Any], texts: list[str], weight: float) -> list[_Decision]:
        routes = self.router.route(texts, models=self._allowed)
        if weight:
            cost = self._cost_matrix(inputs)
            utility = routes.utility - weight * np.nan_to_num(cost, nan=0.0)
            choice = np.argmax(utility, axis=1)
            routes = Routes(
                models=[routes.model_names[j] for j in choice],
                model_names=routes.model_names,
                proba=routes.proba,
                distance=routes.distance,
                utility=utility,
                tasks=routes.tasks,
                task_proba=routes.task_proba,
            )
        out = []
        conf = self._configured
        for i in range(len(routes)):
            model = conf[routes[i]]
            info = self._info(model, routes.decision(i))
            if weight:
                info["cost_weight"] = weight
                info["cost"] = {
                    conf[m]: round(float(c), 9)
                    for m, c in zip(routes.model_names, cost[i], strict=True)
                    if m in conf
                }
            ranking = [conf[m] for m in routes.ranking(i) if m in conf]
            out.append(_Decision(model, ranking, info))
        return out

    def _pinned(self, sel: Selection) -> _Decision:
        scores = sel.scores
        model = self._configured[sel.model]
        rest = sorted(self._others(model), key=lambda c: -scores.get(self._scored[c], -1.0))
        info = self._info(model, {**sel.to_dict(), "mode": "per_task"})
        return _Decision(model, [model, *rest], info)

    def _decide_many(
        self, inputs: Sequence[Any], configs: Sequence[RunnableConfig]
    ) -> list[_Decision | Exception]:
        """Decide for every input: one embedding call per group of same-knob inputs."""
        out: list[_Decision | Exception | None] = [None] * len(inputs)
        pending: dict[tuple[Mode, float], list[tuple[int, str]]] = {}
        truncated: dict[int, int] = {}
        for i, (value, config) in enumerate(zip(inputs, configs, strict=True)):
            try:
                knobs = self._knobs(config)
                if knobs.model is not None:
                    info = self._info(knobs.model, {"mode": "forced"})
                    out[i] = _Decision(knobs.model, [knobs.model], info)
                    continue
                if knobs.mode == "per_task" and self.selection is not None:
                    out[i] = self._pinned(self.selection)
                    continue
                text = routing_text(value, knobs.scope)
                if self.max_routing_chars is not None and len(text) > self.max_routing_chars:
                    truncated[i] = len(text)
                    text = text[: self.max_routing_chars]
                if not text:
                    if self.default_model is None:
                        where = (
                            "latest human message"
                            if knobs.scope == "last_human"
                            else "conversation"
                        )
                        msg = (
                            f"the {where} has no text to route on (only non-text content, or no "
                            "human message); pass text, or set default_model= on the router"
                        )
                        raise RoutingInputError(msg)
                    model = self.default_model
                    info = self._info(model, {"mode": "default", "reason": "no text to route on"})
                    out[i] = _Decision(model, [model, *self._others(model)], info)
                    continue
                pending.setdefault((knobs.mode, knobs.cost_weight), []).append((i, text))
            except Exception as exc:
                out[i] = exc
        for (mode, weight), items in pending.items():
            idx = [i for i, _ in items]
            texts = [t for _, t in items]
            try:
                decisions = _call_with_timeout(
                    partial(self._decide_group, mode, [inputs[i] for i in idx], texts, weight),
                    self.routing_timeout,
                    partial(self._routing_timeout_error, len(idx)),
                )
            except (RoutingInputError, UnknownModelError) as exc:
                for i in idx:  # the input or an option is at fault: no default hides it
                    out[i] = exc
            except Exception as exc:
                failure = self._routing_failure(exc)
                for i in idx:
                    out[i] = self._failure_decision(failure) if self.default_model else failure
            else:
                for i, d in zip(idx, decisions, strict=True):
                    out[i] = d
        for i, length in truncated.items():
            if isinstance(made := out[i], _Decision) and made.info.get("mode") != "default":
                made.info["truncated_from"] = length
        return [o if o is not None else RoutingError("undecided") for o in out]

    def _decide_group(
        self, mode: Mode, inputs: list[Any], texts: list[str], weight: float
    ) -> list[_Decision]:
        if mode == "per_task":
            sel = self.router.select_model(texts, models=self._allowed, metric=self.task_metric)
            return [self._pinned(sel) for _ in texts]  # one object per input: attempts differ
        return self._route(inputs, texts, weight)

    def _routing_timeout_error(self, n: int) -> RoutingTimeoutError:
        msg = (
            f"routing {n} input(s) took longer than routing_timeout={self.routing_timeout}s "
            "(embedder too slow or hung)"
        )
        return RoutingTimeoutError(msg)

    @staticmethod
    def _routing_failure(exc: Exception) -> BenchRouterError:
        """A library error for a routing failure (the original chained as its cause)."""
        if isinstance(exc, BenchRouterError):
            return exc
        msg = f"routing failed: {type(exc).__name__}: {exc}"
        err = RoutingError(msg)
        err.__cause__ = exc
        return err

    def _failure_decision(self, failure: BenchRouterError) -> _Decision:
        model = cast("str", self.default_model)
        reason = f"routing failed: {type(failure).__name__}: {failure}"
        logger.warning("benchrouter: %s; using default_model %r", reason, model)
        info = self._info(model, {"mode": "default", "reason": reason})
        return _Decision(model, [model, *self._others(model)], info)

    def _config(self, config: RunnableConfig | None) -> RunnableConfig:
        if self._bound:
            return ensure_config(merge_configs(cast("RunnableConfig", self._bound), config))
        return ensure_config(config)

    @staticmethod
    def _with_decision(config: RunnableConfig, decision: _Decision | Exception) -> RunnableConfig:
        if isinstance(decision, Exception):
            return config
        metadata = {
            **(config.get("metadata") or {}),
            _METADATA_KEY: decision.info,
            f"{_METADATA_KEY}_model": decision.model,
        }
        return cast("RunnableConfig", {**config, "metadata": metadata})

    # ------------------------------------------------------------------ calling the model
    def _model(self, name: str) -> Runnable[Any, Any]:
        built = self._built.get(name)
        if built is None:
            built = self.models[name]
            if isinstance(built, LazyChatModel):
                built = built.get()  # ModelConfigError when it cannot be created
            for op, args, kwargs in self._queued:
                built = getattr(built, op)(*args, **kwargs)
            self._built[name] = built
        return built

    def _candidates(self, decision: _Decision) -> list[str]:
        return decision.ranking[: 1 + self.fallbacks] if self.fallbacks else [decision.model]

    def _model_timeout_error(self, name: str) -> ModelTimeoutError:
        msg = f"model {name!r} did not answer within model_timeout={self.model_timeout}s"
        return ModelTimeoutError(msg)

    def _checked(self, output: Any, name: str) -> Any:
        """``output``, or ModelOutputError when it is not what a chat model returns."""
        if not self.check_output:
            return output
        structured = any(op == "with_structured_output" for op, _, _ in self._queued)
        if output is None or not (structured or isinstance(output, BaseMessage)):
            msg = (
                f"model {name!r} returned {type(output).__name__} ({str(output)[:80]!r}), "
                "not a chat message; pass check_output=False for models that are plain "
                "runnables returning other types"
            )
            raise ModelOutputError(msg)
        return output

    def _invoke_model(self, name: str, value: Any, config: RunnableConfig, kwargs: Any) -> Any:
        model = self._model(name)
        out = _call_with_timeout(
            lambda: model.invoke(value, config, **kwargs),
            self.model_timeout,
            partial(self._model_timeout_error, name),
        )
        return self._checked(out, name)

    async def _ainvoke_model(
        self, name: str, value: Any, config: RunnableConfig, kwargs: Any
    ) -> Any:
        out = await _await_with_timeout(
            self._model(name).ainvoke(value, config, **kwargs),
            self.model_timeout,
            partial(self._model_timeout_error, name),
        )
        return self._checked(out, name)

    def _stream_model(
        self, name: str, value: Any, config: RunnableConfig, kwargs: Any
    ) -> Iterator[Any]:
        model = self._model(name)
        for chunk in _iter_with_timeout(
            lambda: model.stream(value, config, **kwargs),
            self.model_timeout,
            partial(self._model_timeout_error, name),
        ):
            yield self._checked(chunk, name)

    async def _astream_model(
        self, name: str, value: Any, config: RunnableConfig, kwargs: Any
    ) -> AsyncIterator[Any]:
        chunks = self._model(name).astream(value, config, **kwargs).__aiter__()
        while True:
            try:
                chunk = await _await_with_timeout(
                    anext(chunks), self.model_timeout, partial(self._model_timeout_error, name)
                )
            except StopAsyncIteration:
                return
            yield self._checked(chunk, name)

    def _batch_model(
        self, name: str, values: list[Any], configs: list[RunnableConfig], kwargs: Any
    ) -> list[Any]:
        """One ``batch`` call of a model (within ``model_timeout``), outputs checked."""
        try:
            model = self._model(name)
        except ModelConfigError as exc:
            return [exc] * len(values)
        try:
            results = _call_with_timeout(
                lambda: model.batch(values, configs, return_exceptions=True, **kwargs),
                self.model_timeout,
                partial(self._model_timeout_error, name),
            )
        except ModelTimeoutError as exc:
            return [exc] * len(values)
        return [self._checked_or_error(r, name) for r in results]

    async def _abatch_model(
        self, name: str, values: list[Any], configs: list[RunnableConfig], kwargs: Any
    ) -> list[Any]:
        """Async :meth:`_batch_model`."""
        try:
            model = self._model(name)
        except ModelConfigError as exc:
            return [exc] * len(values)
        try:
            results = await _await_with_timeout(
                model.abatch(values, configs, return_exceptions=True, **kwargs),
                self.model_timeout,
                partial(self._model_timeout_error, name),
            )
        except ModelTimeoutError as exc:
            return [exc] * len(values)
        return [self._checked_or_error(r, name) for r in results]

    def _checked_or_error(self, result: Any, name: str) -> Any:
        if isinstance(result, Exception):
            return result
        try:
            return self._checked(result, name)
        except ModelOutputError as exc:
            return exc

    @staticmethod
    def _failure(decision: _Decision, failed: str, exc: BaseException) -> dict[str, str]:
        entry = {"model": failed, "error": f"{type(exc).__name__}: {exc}"[:500]}
        decision.attempts.append(entry)
        return entry

    @classmethod
    def _fallback_data(
        cls, decision: _Decision, failed: str, exc: BaseException, nxt: str
    ) -> dict[str, Any]:
        entry = cls._failure(decision, failed, exc)
        return {
            "routed_model": decision.model,
            "failed_model": failed,
            "error": entry["error"],
            "next_model": nxt,
        }

    @classmethod
    def _surface(cls, exc: BaseException, decision: _Decision, failed: str) -> BaseException:
        """Attach the routing decision to the final error of a model (returned for raise)."""
        if error_decision(exc) is not None:
            return exc  # already attached (a nested router, or a fallback path)
        cls._failure(decision, failed, exc)
        info = {
            **decision.info,
            "ranking": list(decision.ranking),
            "failed_model": failed,
            "attempts": list(decision.attempts),
        }
        with suppress(AttributeError, TypeError):  # exotic exception types refuse attributes
            setattr(exc, DECISION_ATTR, info)
        tried = ", ".join(a["model"] for a in decision.attempts)
        exc.add_note(
            f"benchrouter: routed to {decision.model!r} ({decision.info.get('mode', '')}); "
            f"models tried: {tried}; see the exception's {DECISION_ATTR!r} attribute"
        )
        return exc

    @staticmethod
    def _annotate(output: Any, decision: _Decision, used: str) -> Any:
        info = dict(decision.info)
        if used != decision.model or decision.attempts:
            info["model"] = used
            info["routed_model"] = decision.model
            info["fallback_from"] = list(decision.attempts)
        if isinstance(output, BaseMessage):
            meta = {**output.response_metadata, _METADATA_KEY: info}
            return output.model_copy(update={"response_metadata": meta})
        if isinstance(output, dict) and isinstance(output.get("raw"), BaseMessage):
            return {**output, "raw": RoutedChatModel._annotate(output["raw"], decision, used)}
        return output

    def _run(
        self,
        value: Any,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        *,
        decision: _Decision | Exception,
        kwargs: dict[str, Any],
        names: list[str] | None = None,
    ) -> Any:
        if isinstance(decision, Exception):
            raise decision
        candidates = self._candidates(decision) if names is None else names
        for k, name in enumerate(candidates):
            child = patch_config(config, callbacks=run_manager.get_child())
            try:
                out = self._invoke_model(name, value, child, kwargs)
            except Exception as exc:
                if not isinstance(exc, self.fallback_on) or k + 1 == len(candidates):
                    self._surface(exc, decision, name)
                    raise
                data = self._fallback_data(decision, name, exc, candidates[k + 1])
                dispatch_custom_event(FALLBACK_EVENT, data, config=child)
                continue
            return self._annotate(out, decision, name)
        raise AssertionError  # pragma: no cover - the loop returns or raises

    async def _arun(
        self,
        value: Any,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        *,
        decision: _Decision | Exception,
        kwargs: dict[str, Any],
        names: list[str] | None = None,
    ) -> Any:
        if isinstance(decision, Exception):
            raise decision
        candidates = self._candidates(decision) if names is None else names
        for k, name in enumerate(candidates):
            child = patch_config(config, callbacks=run_manager.get_child())
            try:
                out = await self._ainvoke_model(name, value, child, kwargs)
            except Exception as exc:
                if not isinstance(exc, self.fallback_on) or k + 1 == len(candidates):
                    self._surface(exc, decision, name)
                    raise
                data = self._fallback_data(decision, name, exc, candidates[k + 1])
                await adispatch_custom_event(FALLBACK_EVENT, data, config=child)
                continue
            return self._annotate(out, decision, name)
        raise AssertionError  # pragma: no cover

    # ------------------------------------------------------------------ invoke
    @override
    def invoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        config = self._config(config)
        decision = self._decide_many([input], [config])[0]
        return self._call_with_config(
            partial(self._run, decision=decision, kwargs=kwargs),
            input,
            self._with_decision(config, decision),
        )

    @override
    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        config = self._config(config)
        decision = (await run_in_executor(None, self._decide_many, [input], [config]))[0]
        return await self._acall_with_config(
            partial(self._arun, decision=decision, kwargs=kwargs),
            input,
            self._with_decision(config, decision),
        )

    # ------------------------------------------------------------------ batch
    def _group(self, decisions: Sequence[_Decision | Exception]) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        for i, d in enumerate(decisions):
            if isinstance(d, _Decision):
                groups.setdefault(d.model, []).append(i)
        return groups

    def _batch_run(
        self,
        inputs: list[Any],
        run_manager: list[CallbackManagerForChainRun],
        config: list[RunnableConfig],
        *,
        decisions: list[_Decision | Exception],
        kwargs: dict[str, Any],
    ) -> list[Any]:
        out: list[Any] = [d if isinstance(d, Exception) else None for d in decisions]
        for name, idx in self._group(decisions).items():
            results = self._batch_model(
                name, [inputs[i] for i in idx], [config[i] for i in idx], kwargs
            )
            for i, res in zip(idx, results, strict=True):
                d = cast("_Decision", decisions[i])
                rest = self._candidates(d)[1:]
                if isinstance(res, self.fallback_on) and rest:
                    data = self._fallback_data(d, name, res, rest[0])
                    dispatch_custom_event(FALLBACK_EVENT, data, config=config[i])
                    try:
                        out[i] = self._run(
                            inputs[i],
                            run_manager[i],
                            config[i],
                            decision=d,
                            kwargs=kwargs,
                            names=rest,
                        )
                    except Exception as exc:
                        out[i] = exc
                    continue
                if isinstance(res, Exception):
                    out[i] = self._surface(res, d, name)
                else:
                    out[i] = self._annotate(res, d, name)
        return out

    async def _abatch_run(
        self,
        inputs: list[Any],
        run_manager: list[AsyncCallbackManagerForChainRun],
        config: list[RunnableConfig],
        *,
        decisions: list[_Decision | Exception],
        kwargs: dict[str, Any],
    ) -> list[Any]:
        out: list[Any] = [d if isinstance(d, Exception) else None for d in decisions]
        groups = self._group(decisions)

        async def one_group(name: str, idx: list[int]) -> None:
            results = await self._abatch_model(
                name, [inputs[i] for i in idx], [config[i] for i in idx], kwargs
            )
            for i, res in zip(idx, results, strict=True):
                d = cast("_Decision", decisions[i])
                rest = self._candidates(d)[1:]
                if isinstance(res, self.fallback_on) and rest:
                    data = self._fallback_data(d, name, res, rest[0])
                    await adispatch_custom_event(FALLBACK_EVENT, data, config=config[i])
                    try:
                        out[i] = await self._arun(
                            inputs[i],
                            run_manager[i],
                            config[i],
                            decision=d,
                            kwargs=kwargs,
                            names=rest,
                        )
                    except Exception as exc:
                        out[i] = exc
                    continue
                if isinstance(res, Exception):
                    out[i] = self._surface(res, d, name)
                else:
                    out[i] = self._annotate(res, d, name)

        await asyncio.gather(*(one_group(n, idx) for n, idx in groups.items()))
        return out

    @override
    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Route all inputs with one embedding call, then one ``batch`` call per chosen model."""
        if not inputs:
            return []
        configs = [self._config(c) for c in get_config_list(config, len(inputs))]
        decisions = self._decide_many(inputs, configs)
        return self._batch_with_config(
            partial(self._batch_run, decisions=decisions, kwargs=kwargs),
            list(inputs),
            [self._with_decision(c, d) for c, d in zip(configs, decisions, strict=True)],
            return_exceptions=return_exceptions,
        )

    @override
    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Async :meth:`batch`: routing runs in an executor, the models' ``abatch`` concurrently."""
        if not inputs:
            return []
        configs = [self._config(c) for c in get_config_list(config, len(inputs))]
        decisions = await run_in_executor(None, self._decide_many, inputs, configs)
        return await self._abatch_with_config(
            partial(self._abatch_run, decisions=decisions, kwargs=kwargs),
            list(inputs),
            [self._with_decision(c, d) for c, d in zip(configs, decisions, strict=True)],
            return_exceptions=return_exceptions,
        )

    # ------------------------------------------------------------------ streaming
    def _stream_run(
        self,
        values: Iterator[Any],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        *,
        decision: _Decision | Exception,
        kwargs: dict[str, Any],
    ) -> Iterator[Any]:
        value = next(values)
        if isinstance(decision, Exception):
            raise decision
        candidates = self._candidates(decision)
        for k, name in enumerate(candidates):
            child = patch_config(config, callbacks=run_manager.get_child())
            started = False
            try:
                for chunk in self._stream_model(name, value, child, kwargs):
                    yield self._annotate(chunk, decision, name) if not started else chunk
                    started = True
            except Exception as exc:
                if started or not isinstance(exc, self.fallback_on) or k + 1 == len(candidates):
                    self._surface(exc, decision, name)
                    raise
                data = self._fallback_data(decision, name, exc, candidates[k + 1])
                dispatch_custom_event(FALLBACK_EVENT, data, config=child)
                continue
            return

    async def _astream_run(
        self,
        values: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        *,
        decision: _Decision | Exception,
        kwargs: dict[str, Any],
    ) -> AsyncIterator[Any]:
        value = await anext(values)
        if isinstance(decision, Exception):
            raise decision
        candidates = self._candidates(decision)
        for k, name in enumerate(candidates):
            child = patch_config(config, callbacks=run_manager.get_child())
            started = False
            try:
                async for chunk in self._astream_model(name, value, child, kwargs):
                    yield self._annotate(chunk, decision, name) if not started else chunk
                    started = True
            except Exception as exc:
                if started or not isinstance(exc, self.fallback_on) or k + 1 == len(candidates):
                    self._surface(exc, decision, name)
                    raise
                data = self._fallback_data(decision, name, exc, candidates[k + 1])
                await adispatch_custom_event(FALLBACK_EVENT, data, config=child)
                continue
            return

    @override
    def stream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> Iterator[Any]:
        """Stream the chosen model's chunks (the first carries the decision)."""
        config = self._config(config)
        decision = self._decide_many([input], [config])[0]
        yield from self._transform_stream_with_config(
            iter([input]),
            partial(self._stream_run, decision=decision, kwargs=kwargs),
            self._with_decision(config, decision),
        )

    @override
    async def astream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`; routing runs in an executor."""
        config = self._config(config)
        decision = (await run_in_executor(None, self._decide_many, [input], [config]))[0]

        async def single() -> AsyncIterator[Any]:
            yield input

        async for chunk in self._atransform_stream_with_config(
            single(),
            partial(self._astream_run, decision=decision, kwargs=kwargs),
            self._with_decision(config, decision),
        ):
            yield chunk
