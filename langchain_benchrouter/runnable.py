"""RouterRunnable: the LangChain face of the router, used wherever a chat model goes.

The router is a chain run of its own; the chosen model's run is its child. A chat-model
facade (``BaseChatModel``) would make the inner model's run a sibling, stream tokens
twice in LangGraph ``stream_mode="messages"`` and count usage twice, so the router is a
plain :class:`~langchain_core.runnables.RunnableSerializable` that delegates.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, TypeAlias, cast

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
from pydantic import ConfigDict, Field, PrivateAttr, SkipValidation
from typing_extensions import override

from langchain_benchrouter.decisions import Routes, Selection
from langchain_benchrouter.errors import RoutingInputError, UnknownModelError
from langchain_benchrouter.messages import RoutingScope, routing_text
from langchain_benchrouter.router import Router

__all__ = ["FALLBACK_EVENT", "Mode", "RouterRunnable"]

Mode = Literal["per_input", "per_task"]
"""``per_input``: route every input; ``per_task``: one model for the whole task."""

FALLBACK_EVENT = "benchrouter_fallback"
"""Name of the custom callback event dispatched when a fallback model is tried."""

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


class RouterRunnable(RunnableSerializable[LanguageModelInput, Any]):
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
        router: a fitted :class:`~langchain_benchrouter.router.Router`.
        models: chat model (or any runnable taking chat input) per router model name.
            Names must match the router's; pass ``allow_subset=True`` to route only
            among the configured ones.
        allow_subset: allow ``models`` to name only some of the router's models.
        routing_scope: ``"last_human"`` (default) routes on the text of the latest
            human message; ``"conversation"`` on the text of every message.
        default_model: the model for inputs with no text to route on (otherwise such
            an input is a :class:`~langchain_benchrouter.errors.RoutingInputError`).
        mode: ``"per_input"`` (default) or ``"per_task"`` (use :attr:`selection`, made by
            :meth:`for_task`; without one, one S3 selection over each call's inputs).
        selection: the pinned per-task decision (set by :meth:`for_task`).
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

    Example:
        >>> from langchain_benchrouter import Router, RouterRunnable  # doctest: +SKIP
        >>> llm = RouterRunnable(  # doctest: +SKIP
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
    allow_subset: bool = False
    routing_scope: RoutingScope = "last_human"
    default_model: str | None = None
    mode: Mode = "per_input"
    selection: SkipValidation[Selection | None] = None
    cost_weight: float = Field(default=0.0, ge=0.0)
    costs: dict[str, float] | None = None
    token_costs: dict[str, float] | None = None
    expected_output_tokens: int = Field(default=256, ge=0)
    fallbacks: int = Field(default=0, ge=0)
    fallback_on: tuple[type[BaseException], ...] = (Exception,)
    config_prefix: str = "benchrouter"
    queued_operations: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = Field(
        default_factory=list, repr=False
    )
    """Declarative operations (``bind_tools`` ...) replayed on the chosen model."""
    bound_config: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Config bound with :meth:`with_config`, merged into every call's config."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    _built: dict[str, Runnable[Any, Any]] = PrivateAttr(default_factory=dict)

    # ------------------------------------------------------------------ validation
    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._check()

    def _check(self) -> None:
        known = self.router.model_names  # raises NotFittedError on an unfitted router
        if not self.models:
            msg = "models is empty: configure at least one chat model"
            raise RoutingInputError(msg)
        extra = [m for m in self.models if m not in known]
        if extra:
            msg = f"models names {extra} unknown to the router; the router knows {known}"
            raise UnknownModelError(msg)
        missing = [m for m in known if m not in self.models]
        if missing and not self.allow_subset:
            msg = (
                f"no chat model configured for router model(s) {missing}; configure them, "
                "or pass allow_subset=True to route only among the configured models"
            )
            raise UnknownModelError(msg)
        for what, name in (
            ("default_model", self.default_model),
            ("selection", self.selection.model if self.selection else None),
        ):
            if name is not None and name not in self.models:
                msg = f"{what} {name!r} is not one of the configured models {list(self.models)}"
                raise UnknownModelError(msg)
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
        if len(self.models) == len(names):
            return None
        return [m for m in names if m in self.models]

    def _replace(self, **update: Any) -> RouterRunnable:
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(update)
        return type(self)(**values)

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
    def _queue(self, name: str, *args: Any, **kwargs: Any) -> RouterRunnable:
        return self._replace(queued_operations=[*self.queued_operations, (name, args, kwargs)])

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> RouterRunnable:
        """Bind tools to whichever model is chosen (its own ``bind_tools``).

        Args:
            tools: tools as accepted by the chat models' ``bind_tools``.
            **kwargs: passed on (``tool_choice`` ...).

        Returns:
            A new router with the binding queued.
        """
        return self._queue("bind_tools", tools, **kwargs)

    def with_structured_output(self, schema: Any, **kwargs: Any) -> RouterRunnable:
        """Structured output from whichever model is chosen (its own ``with_structured_output``).

        Args:
            schema: a Pydantic class, TypedDict, JSON schema or OpenAI tool schema.
            **kwargs: passed on (``include_raw``, ``method`` ...).

        Returns:
            A new router with the operation queued.
        """
        return self._queue("with_structured_output", schema, **kwargs)

    @override
    def bind(self, **kwargs: Any) -> RouterRunnable:
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
    ) -> RouterRunnable:
        """Retry the chosen model's call (inside the router run) on exceptions."""
        return self._queue(
            "with_retry",
            retry_if_exception_type=retry_if_exception_type,
            wait_exponential_jitter=wait_exponential_jitter,
            exponential_jitter_params=exponential_jitter_params,
            stop_after_attempt=stop_after_attempt,
        )

    @override
    def with_config(self, config: RunnableConfig | None = None, **kwargs: Any) -> RouterRunnable:
        """Bind config (tags, metadata, callbacks, configurable knobs ...) to every call.

        The config reaches the router run and, through it, the chosen model's run.
        """
        merged = merge_configs(
            cast("RunnableConfig", self.bound_config), config, cast("RunnableConfig", kwargs)
        )
        return self._replace(bound_config=dict(merged))

    def for_task(
        self,
        sample_inputs: Sequence[Any],
        *,
        method: Literal["s1", "s2", "s3"] = "s3",
    ) -> RouterRunnable:
        """Select one model for a whole task from a sample of its inputs (S3 by default).

        Args:
            sample_inputs: inputs of the task (strings, prompt values or message lists);
                tens to hundreds work best.
            method: the task score, ``"s3"`` (default), ``"s2"`` or ``"s1"``.

        Returns:
            A router pinned to the selected model, with the
            :class:`~langchain_benchrouter.decisions.Selection` in :attr:`selection`.

        Raises:
            RoutingInputError: no inputs, or an input without text.
        """
        if isinstance(sample_inputs, str):
            msg = "sample_inputs must be a list of inputs, got a single string (wrap it in a list)"
            raise RoutingInputError(msg)
        texts = [routing_text(x, self.routing_scope) for x in sample_inputs]
        if empty := [i for i, t in enumerate(texts) if not t]:
            msg = f"sample_inputs {empty} have no text to route on ({self.routing_scope})"
            raise RoutingInputError(msg)
        sel = self.router.select_model(texts, method=method, models=self._allowed)
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
            raise ValueError(msg)
        mode = conf.get(f"{p}_mode") or self.mode
        if mode not in _MODES:
            msg = f"configurable {p}_mode must be one of {_MODES}, got {mode!r}"
            raise ValueError(msg)
        scope = conf.get(f"{p}_routing_scope") or self.routing_scope
        if scope not in _SCOPES:
            msg = f"configurable {p}_routing_scope must be one of {_SCOPES}, got {scope!r}"
            raise ValueError(msg)
        return _Knobs(forced, float(weight), mode, scope)

    def _others(self, first: str) -> list[str]:
        bma = self.router.best_model_on_average
        rest = [m for m in self.router.model_names if m in self.models and m != first]
        return sorted(rest, key=lambda m: m != bma)

    def _cost_matrix(self, inputs: Sequence[Any]) -> np.ndarray:
        """(n, M) cost of each router model on each input (NaN: not routable)."""
        names = self.router.model_names
        per_call = np.zeros(len(names))
        per_token = np.zeros(len(names))
        if self.costs is None and self.token_costs is None:
            known = self.router.model_costs()
            per_call = np.array([np.nan if known[m] is None else known[m] for m in names], float)
        else:
            if self.costs is not None:
                per_call = np.array([self.costs.get(m, np.nan) for m in names], float)
            if self.token_costs is not None:
                per_token = np.array([self.token_costs.get(m, np.nan) for m in names], float)
        missing = [
            m
            for m, a, b in zip(names, per_call, per_token, strict=True)
            if m in self.models and not (np.isfinite(a) and np.isfinite(b))
        ]
        if missing:
            msg = (
                f"cost_weight > 0 but no cost is known for {missing}; "
                "pass costs={model: cost per call} or token_costs={model: cost per token}"
            )
            raise ValueError(msg)
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
            )
        out = []
        for i in range(len(routes)):
            info = routes.decision(i)
            if weight:
                info["cost_weight"] = weight
                info["cost"] = {
                    m: round(float(c), 9)
                    for m, c in zip(routes.model_names, cost[i], strict=True)
                    if m in self.models
                }
            out.append(_Decision(routes[i], routes.ranking(i), info))
        return out

    def _pinned(self, sel: Selection) -> _Decision:
        scores = sel.scores
        rest = sorted((m for m in self._others(sel.model)), key=lambda m: -scores.get(m, -1.0))
        return _Decision(sel.model, [sel.model, *rest], {**sel.to_dict(), "mode": "per_task"})

    def _decide_many(
        self, inputs: Sequence[Any], configs: Sequence[RunnableConfig]
    ) -> list[_Decision | Exception]:
        """Decide for every input: one embedding call per group of same-knob inputs."""
        out: list[_Decision | Exception | None] = [None] * len(inputs)
        pending: dict[tuple[Mode, float], list[tuple[int, str]]] = {}
        for i, (value, config) in enumerate(zip(inputs, configs, strict=True)):
            try:
                knobs = self._knobs(config)
                if knobs.model is not None:
                    out[i] = _Decision(
                        knobs.model, [knobs.model], {"model": knobs.model, "mode": "forced"}
                    )
                    continue
                if knobs.mode == "per_task" and self.selection is not None:
                    out[i] = self._pinned(self.selection)
                    continue
                text = routing_text(value, knobs.scope)
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
                    info = {"model": model, "mode": "default", "reason": "no text to route on"}
                    out[i] = _Decision(model, [model, *self._others(model)], info)
                    continue
                pending.setdefault((knobs.mode, knobs.cost_weight), []).append((i, text))
            except Exception as exc:
                out[i] = exc
        for (mode, weight), items in pending.items():
            idx = [i for i, _ in items]
            texts = [t for _, t in items]
            try:
                if mode == "per_task":
                    sel = self.router.select_model(texts, models=self._allowed)
                    decisions = [self._pinned(sel)] * len(idx)
                else:
                    decisions = self._route([inputs[i] for i in idx], texts, weight)
            except Exception as exc:
                for i in idx:
                    out[i] = exc
            else:
                for i, d in zip(idx, decisions, strict=True):
                    out[i] = d
        return [o if o is not None else RuntimeError("undecided") for o in out]

    def _config(self, config: RunnableConfig | None) -> RunnableConfig:
        if self.bound_config:
            return ensure_config(merge_configs(cast("RunnableConfig", self.bound_config), config))
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
            for op, args, kwargs in self.queued_operations:
                built = getattr(built, op)(*args, **kwargs)
            self._built[name] = built
        return built

    def _candidates(self, decision: _Decision) -> list[str]:
        return decision.ranking[: 1 + self.fallbacks] if self.fallbacks else [decision.model]

    @staticmethod
    def _fallback_data(
        decision: _Decision, failed: str, exc: BaseException, nxt: str
    ) -> dict[str, Any]:
        entry = {"model": failed, "error": f"{type(exc).__name__}: {exc}"}
        decision.attempts.append(entry)
        return {
            "routed_model": decision.model,
            "failed_model": failed,
            "error": entry["error"],
            "next_model": nxt,
        }

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
            return {**output, "raw": RouterRunnable._annotate(output["raw"], decision, used)}
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
                out = self._model(name).invoke(value, child, **kwargs)
            except self.fallback_on as exc:
                if k + 1 == len(candidates):
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
                out = await self._model(name).ainvoke(value, child, **kwargs)
            except self.fallback_on as exc:
                if k + 1 == len(candidates):
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
            results = self._model(name).batch(
                [inputs[i] for i in idx], [config[i] for i in idx], return_exceptions=True, **kwargs
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
                out[i] = res if isinstance(res, Exception) else self._annotate(res, d, name)
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
            results = await self._model(name).abatch(
                [inputs[i] for i in idx], [config[i] for i in idx], return_exceptions=True, **kwargs
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
                out[i] = res if isinstance(res, Exception) else self._annotate(res, d, name)

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
                for chunk in self._model(name).stream(value, child, **kwargs):
                    yield self._annotate(chunk, decision, name) if not started else chunk
                    started = True
            except self.fallback_on as exc:
                if started or k + 1 == len(candidates):
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
                async for chunk in self._model(name).astream(value, child, **kwargs):
                    yield self._annotate(chunk, decision, name) if not started else chunk
                    started = True
            except self.fallback_on as exc:
                if started or k + 1 == len(candidates):
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
