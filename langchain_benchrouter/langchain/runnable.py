"""RoutedChatModel: the LangChain face of the router, used wherever a chat model goes.

The router is a chain run of its own; the chosen model's run is its child. A chat-model
facade (``BaseChatModel``) would make the inner model's run a sibling, stream tokens
twice in LangGraph ``stream_mode="messages"`` and count usage twice, so the router is a
plain :class:`~langchain_core.runnables.RunnableSerializable` that delegates.

This module holds the public class: its options and their checks, the declarative
operations and the call styles. The work is done next to it: the decisions are made in
``_deciding`` (names in ``_names``, costs in ``_costs``), recorded by ``_decision``, and
the chosen models called, with fallbacks, by ``_fallbacks`` and ``_model_calls``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal, TypeAlias, cast

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AnyMessage
from langchain_core.prompt_values import ChatPromptValueConcrete, StringPromptValue
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import (
    ensure_config,
    get_config_list,
    merge_configs,
    run_in_executor,
)
from langchain_core.runnables.utils import ConfigurableFieldSpec, get_unique_config_specs
from pydantic import ConfigDict, Field, PrivateAttr, SkipValidation, ValidationError
from typing_extensions import override

from langchain_benchrouter.core.decisions import Selection
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.errors import RoutingInputError, UnknownModelError
from langchain_benchrouter.langchain._costs import check_cost_table, check_cost_weight
from langchain_benchrouter.langchain._deciding import Decider, Mode
from langchain_benchrouter.langchain._decision import (
    DECISION_ATTR,
    FALLBACK_EVENT,
    Decision,
    config_with_decision,
    error_decision,
)
from langchain_benchrouter.langchain._fallbacks import RoutedCall
from langchain_benchrouter.langchain._model_calls import ModelCalls
from langchain_benchrouter.langchain._names import ModelNames, chat_models
from langchain_benchrouter.langchain._options import check_options
from langchain_benchrouter.langchain.messages import RoutingScope, routing_text

__all__ = [
    "DECISION_ATTR",
    "DEFAULT_MAX_ROUTING_CHARS",
    "FALLBACK_EVENT",
    "Mode",
    "RoutedChatModel",
    "error_decision",
]

DEFAULT_MAX_ROUTING_CHARS = 8192
"""Default cap on the characters routed on (the head of the text is kept)."""

_Configs: TypeAlias = RunnableConfig | list[RunnableConfig] | None

# The runtime knobs: (key suffix, type, name, description); the forced model's
# description names the configured models.
_KNOBS: tuple[tuple[str, Any, str, str], ...] = (
    ("model", str | None, "Forced model", "Skip routing and use this model (one of {names})."),
    (
        "cost_weight",
        float | None,
        "Cost weight",
        "Points of predicted correctness one unit of cost is worth.",
    ),
    (
        "mode",
        Mode | None,
        "Routing mode",
        "'per_input' routes each input; 'per_task' uses one model per task.",
    ),
    (
        "routing_scope",
        RoutingScope | None,
        "Routing text",
        "'last_human' (latest human message) or 'conversation'.",
    ),
)


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
    _decider: Decider = PrivateAttr()
    """Makes the routing decisions (with the configured <-> router model names)."""
    _calls: ModelCalls = PrivateAttr()
    """Calls the configured models (built on first use)."""

    # ------------------------------------------------------------------ validation
    def __init__(self, **data: Any) -> None:
        owner = type(self).__name__
        check_options(owner, data, type(self).model_fields)
        router = data.get("router")
        if not isinstance(router, Router):
            msg = (
                f"{owner} needs router= a fitted Router (Router.load(directory), or "
                f"Router(...).fit(benchmark)), got {type(router).__name__}"
            )
            raise RoutingInputError(msg)
        if "models" in data:
            data["models"] = chat_models(data["models"])
        if "cost_weight" in data:
            check_cost_weight(data["cost_weight"])
        for what in ("costs", "token_costs"):
            check_cost_table(what, data.get(what))
        try:
            super().__init__(**data)
        except ValidationError as exc:
            msg = f"invalid {owner} options: {exc}"
            raise RoutingInputError(msg) from exc
        names = ModelNames.check(
            self.router, list(self.models), self.aliases, allow_subset=self.allow_subset
        )
        self._check(names)
        self._decider = Decider(self, names)
        self._calls = ModelCalls(self)
        if self.cost_weight:
            self._decider.costs()  # every model needs a cost

    def _check(self, names: ModelNames) -> None:
        """Check the options that name models or metrics."""
        if self.default_model is not None and self.default_model not in self.models:
            msg = (
                f"default_model {self.default_model!r} is not one of the configured models "
                f"{list(self.models)}"
            )
            raise UnknownModelError(msg)
        if self.selection is not None and self.selection.model not in names.configured:
            msg = (
                f"selection {self.selection.model!r} is not a router model standing for a "
                f"configured model ({sorted(names.configured)})"
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
        names = list(self.models)
        mine = [
            ConfigurableFieldSpec(
                id=f"{self.config_prefix}_{key}",
                annotation=annotation,
                name=name,
                description=description.format(names=names),
                default=None,
            )
            for key, annotation, name, description in _KNOBS
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
        allowed = self._decider.names.allowed
        sel = (
            self.router.select_model(texts, models=allowed, metric=metric)
            if method is None
            else self.router.select_model(texts, method=method, models=allowed, metric=metric)
        )
        return self._replace(selection=sel, mode="per_task")

    # ------------------------------------------------------------------ calls
    def _config(self, config: RunnableConfig | None) -> RunnableConfig:
        if self._bound:
            return ensure_config(merge_configs(cast("RunnableConfig", self._bound), config))
        return ensure_config(config)

    def _decide_many(
        self, inputs: Sequence[Any], configs: Sequence[RunnableConfig]
    ) -> list[Decision | Exception]:
        """Decide for every input: one embedding call per group of same-knob inputs."""
        return self._decider.decide(inputs, configs)

    def _routed(
        self, inputs: Sequence[Any], configs: list[RunnableConfig], kwargs: dict[str, Any]
    ) -> tuple[RoutedCall, list[RunnableConfig]]:
        """The call's decisions, and each input's config with its decision (for the trace)."""
        decisions = self._decide_many(inputs, configs)
        traced = [config_with_decision(c, d) for c, d in zip(configs, decisions, strict=True)]
        return RoutedCall(self._calls, decisions, kwargs), traced

    async def _arouted(
        self, inputs: Sequence[Any], configs: list[RunnableConfig], kwargs: dict[str, Any]
    ) -> tuple[RoutedCall, list[RunnableConfig]]:
        """Async :meth:`_routed`: routing runs in an executor."""
        return await run_in_executor(None, self._routed, inputs, configs, kwargs)

    @override
    def invoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        call, traced = self._routed([input], [self._config(config)], kwargs)
        return self._call_with_config(call.run, input, traced[0])

    @override
    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        call, traced = await self._arouted([input], [self._config(config)], kwargs)
        return await self._acall_with_config(call.arun, input, traced[0])

    def _configs(self, inputs: list[LanguageModelInput], config: _Configs) -> list[RunnableConfig]:
        return [self._config(c) for c in get_config_list(config, len(inputs))]

    @override
    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: _Configs = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Route all inputs with one embedding call, then one ``batch`` call per chosen model."""
        call, traced = self._routed(inputs, self._configs(inputs, config), kwargs)
        run = call.batch_run
        return self._batch_with_config(run, inputs, traced, return_exceptions=return_exceptions)

    @override
    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: _Configs = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Async :meth:`batch`: routing runs in an executor, the models' ``abatch`` concurrently."""
        call, traced = await self._arouted(inputs, self._configs(inputs, config), kwargs)
        run = call.abatch_run
        return await self._abatch_with_config(
            run, inputs, traced, return_exceptions=return_exceptions
        )

    @override
    def stream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> Iterator[Any]:
        """Stream the chosen model's chunks (the first carries the decision)."""
        call, traced = self._routed([input], [self._config(config)], kwargs)
        yield from self._transform_stream_with_config(iter([input]), call.stream_run, traced[0])

    @override
    async def astream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`; routing runs in an executor."""
        call, traced = await self._arouted([input], [self._config(config)], kwargs)

        async def single() -> AsyncIterator[Any]:
            yield input

        async for chunk in self._atransform_stream_with_config(
            single(), call.astream_run, traced[0]
        ):
            yield chunk
