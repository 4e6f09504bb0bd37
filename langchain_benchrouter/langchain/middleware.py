"""RouterMiddleware: route a langchain v1 agent (``create_agent``) among chat models.

Needs the optional ``langchain`` package (``pip install 'langchain-benchrouter[agents]'``);
nothing else in this library imports it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Annotated, Any, Literal, NotRequired, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import run_in_executor
from typing_extensions import override

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.errors import ModelTimeoutError, RoutingInputError
from langchain_benchrouter.langchain._decision import Decision, next_or_raise, outcome_info
from langchain_benchrouter.langchain._options import check_options
from langchain_benchrouter.langchain._timeouts import await_with_timeout, call_with_timeout
from langchain_benchrouter.langchain.messages import RoutingScope
from langchain_benchrouter.langchain.models import LazyChatModel
from langchain_benchrouter.langchain.runnable import RoutedChatModel

try:
    from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
    from langchain.agents.middleware.types import OmitFromInput
    from langgraph.runtime import Runtime
except ImportError as exc:  # pragma: no cover - depends on the environment
    msg = (
        "RouterMiddleware needs langchain v1 (create_agent): "
        "pip install 'langchain-benchrouter[agents]'"
    )
    raise ImportError(msg) from exc

__all__ = ["STATE_KEY", "RouterMiddleware", "RouterState"]

_OWN_OPTIONS = ("route_on", "fallbacks", "routing_scope")
# RoutedChatModel options that mean nothing here: the agent calls the model itself.
_NOT_OPTIONS = ("router", "models", "name", "check_output")

STATE_KEY = "benchrouter"
"""The agent-state key holding the routing decision (a plain, JSON-safe dict)."""


class RouterState(AgentState[Any]):
    """Agent state with the router's decision (``None`` until the first routing)."""

    benchrouter: NotRequired[Annotated[dict[str, Any] | None, OmitFromInput]]


def _current_config() -> RunnableConfig:
    try:
        from langgraph.config import get_config

        return get_config()
    except RuntimeError:  # called outside a runnable context
        return {}


class RouterMiddleware(AgentMiddleware[RouterState, Any, Any]):
    """Route an agent's model calls with a benchmark-trained :class:`Router`.

    By default the middleware routes once per agent run (``before_agent``) on the
    latest human message, keeps the decision in the agent state under ``"benchrouter"``
    as a plain dict (so checkpointers persist it), and applies it to every model call
    of the run with ``request.override(model=...)``. With ``route_on="model_call"`` it
    routes again before each model call. Tool calling and structured output keep
    working: the agent binds its tools to whichever model is chosen. The runtime knobs
    of :class:`~langchain_benchrouter.langchain.runnable.RoutedChatModel` (``configurable``
    ``benchrouter_model``, ``benchrouter_cost_weight`` ...) apply here too.

    Args:
        router: a fitted router.
        models: chat model per router model name (see ``RoutedChatModel``): an instance
            or an ``init_chat_model`` string (``"openai:gpt-4o-mini"``), created when the
            model is first chosen (then a
            :class:`~langchain_benchrouter.errors.ModelConfigError` if it cannot be).
        route_on: ``"agent_run"`` (default) or ``"model_call"``.
        fallbacks: next-ranked models to try when the chosen one raises (0 = off).
        **options: further ``RoutedChatModel`` options (``aliases``, ``allow_subset``,
            ``default_model``, ``cost_weight``, ``costs``,
            ``token_costs``, ``fallback_on``, ``config_prefix``, ``routing_timeout``,
            ``model_timeout``, ``max_routing_chars`` ...). ``model_timeout`` bounds each
            model call of the agent (a :class:`~langchain_benchrouter.errors.ModelTimeoutError`
            then triggers the fallback like any model error). An unknown option is a
            :class:`~langchain_benchrouter.errors.RoutingInputError` naming the closest
            valid one.

    When the last model tried fails, its exception is re-raised unchanged with the
    routing decision attached (:func:`~langchain_benchrouter.langchain.runnable.error_decision`).

    Example:
        >>> from langchain.agents import create_agent  # doctest: +SKIP
        >>> agent = create_agent(  # doctest: +SKIP
        ...     model=chat_a,
        ...     tools=[search],
        ...     middleware=[RouterMiddleware(router, {"llama-3.1-8b-instruct": chat_a,
        ...                                           "qwen2.5-7b-instruct": chat_b},
        ...                                  allow_subset=True)],
        ... )
        >>> state = agent.invoke({"messages": [("user", "What is 17 * 23?")]})  # doctest: +SKIP
        >>> state["benchrouter"]["model"]  # doctest: +SKIP
        'qwen2.5-7b-instruct'
    """

    state_schema = RouterState

    def __init__(
        self,
        router: Router,
        models: Mapping[str, BaseChatModel | str],
        *,
        route_on: Literal["agent_run", "model_call"] = "agent_run",
        fallbacks: int = 0,
        routing_scope: RoutingScope = "last_human",
        **options: Any,
    ) -> None:
        super().__init__()
        valid = set(RoutedChatModel.model_fields) - set(_NOT_OPTIONS)
        check_options(type(self).__name__, options, valid | set(_OWN_OPTIONS))
        if route_on not in ("agent_run", "model_call"):
            msg = f"route_on must be 'agent_run' or 'model_call', got {route_on!r}"
            raise RoutingInputError(msg)
        self.route_on = route_on
        # The RoutedChatModel validates the names and options and makes the decisions.
        self.runnable = RoutedChatModel(
            router=router,
            models=models,
            fallbacks=fallbacks,
            routing_scope=routing_scope,
            **options,
        )
        self.models: dict[str, Any] = dict(self.runnable.models)
        """Configured chat models by name (a string given is a :class:`LazyChatModel`)."""
        self.tools = []

    # ------------------------------------------------------------------ deciding
    def _decide(self, messages: Sequence[BaseMessage]) -> dict[str, Any]:
        return self._as_state(self.runnable._decide_many([list(messages)], [_current_config()])[0])

    async def _adecide(self, messages: Sequence[BaseMessage]) -> dict[str, Any]:
        decide = self.runnable._decide_many
        config = _current_config()
        return self._as_state((await run_in_executor(None, decide, [list(messages)], [config]))[0])

    @staticmethod
    def _as_state(decision: Decision | Exception) -> dict[str, Any]:
        if isinstance(decision, Exception):
            raise decision
        return decision.record()

    def _route_at(self, when: str, state: RouterState) -> dict[str, Any] | None:
        """The state update routing at ``when``, if ``route_on`` is ``when``."""
        return {STATE_KEY: self._decide(state["messages"])} if self.route_on == when else None

    async def _aroute_at(self, when: str, state: RouterState) -> dict[str, Any] | None:
        """Async :meth:`_route_at`."""
        if self.route_on != when:
            return None
        return {STATE_KEY: await self._adecide(state["messages"])}

    @override
    def before_agent(self, state: RouterState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Route once per agent run on the latest human message."""
        return self._route_at("agent_run", state)

    @override
    def before_model(self, state: RouterState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Route before each model call when ``route_on="model_call"``."""
        return self._route_at("model_call", state)

    @override
    async def abefore_agent(
        self, state: RouterState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Async :meth:`before_agent`; routing runs in an executor."""
        return await self._aroute_at("agent_run", state)

    @override
    async def abefore_model(
        self, state: RouterState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Async :meth:`before_model`."""
        return await self._aroute_at("model_call", state)

    # ------------------------------------------------------------------ applying
    async def _adecision(self, request: ModelRequest[Any]) -> Decision:
        """The decision stored in the state, or one made now (async)."""
        stored = self._stored(request)
        return Decision.from_record(stored or await self._adecide(request.messages))

    def _decision(self, request: ModelRequest[Any]) -> Decision:
        """The decision stored in the state, or one made now."""
        return Decision.from_record(self._stored(request) or self._decide(request.messages))

    def _stored(self, request: ModelRequest[Any]) -> dict[str, Any] | None:
        stored = request.state.get(STATE_KEY)
        if isinstance(stored, dict) and stored.get("model") in self.models:
            return stored
        return None

    def _candidates(self, decision: Decision) -> list[str]:
        """The models to try: the ranking's configured ones (a stored state may be stale)."""
        ranking = [m for m in decision.ranking if m in self.models]
        return ranking[: 1 + self.runnable.fallbacks]

    @staticmethod
    def _annotate(response: ModelResponse[Any], info: dict[str, Any]) -> ModelResponse[Any]:
        result = [
            m.model_copy(update={"response_metadata": {**m.response_metadata, STATE_KEY: info}})
            if m.type == "ai"
            else m
            for m in response.result
        ]
        return ModelResponse(result=result, structured_response=response.structured_response)

    def _chat(self, name: str) -> BaseChatModel:
        """The configured chat model ``name`` (a model string is created on first use)."""
        model = self.models[name]
        chat = model.get() if isinstance(model, LazyChatModel) else model
        return cast("BaseChatModel", chat)

    def _limit(self, name: str) -> tuple[float | None, Callable[[], ModelTimeoutError]]:
        return self.runnable._calls.limit(name)

    @override
    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        """Call the chosen model (and, if enabled, the next-ranked ones on failure)."""
        decision = self._decision(request)
        candidates = self._candidates(decision)
        for k, name in enumerate(candidates):
            try:
                call = partial(handler, request.override(model=self._chat(name)))
                response = call_with_timeout(call, *self._limit(name))
            except Exception as exc:
                next_or_raise(exc, decision, candidates, k, self.runnable.fallback_on)
                continue
            return self._annotate(response, outcome_info(decision, name))
        raise AssertionError  # pragma: no cover - the loop returns or raises

    @override
    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        """Async :meth:`wrap_model_call`."""
        decision = await self._adecision(request)
        candidates = self._candidates(decision)
        for k, name in enumerate(candidates):
            try:
                call = handler(request.override(model=self._chat(name)))
                response = await await_with_timeout(call, *self._limit(name))
            except Exception as exc:
                next_or_raise(exc, decision, candidates, k, self.runnable.fallback_on)
                continue
            return self._annotate(response, outcome_info(decision, name))
        raise AssertionError  # pragma: no cover
