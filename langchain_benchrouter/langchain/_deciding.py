"""Deciding which configured model answers each input, before any model is called.

Per call, the runtime knobs (``configurable``) say whether a model is forced, the mode,
the cost weight and what text to route on; the inputs left to route are grouped by
mode and cost weight and routed with one embedding call per group, within
``routing_timeout``. Inputs with no text, and inputs whose routing failed, go to
``default_model`` when there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from langchain_core.runnables import RunnableConfig

from langchain_benchrouter.core.decisions import Routes, Selection
from langchain_benchrouter.errors import (
    BenchRouterError,
    RoutingError,
    RoutingInputError,
    RoutingTimeoutError,
    UnknownModelError,
)
from langchain_benchrouter.langchain._costs import CostTable, check_cost_weight
from langchain_benchrouter.langchain._decision import Decision
from langchain_benchrouter.langchain._names import ModelNames
from langchain_benchrouter.langchain._timeouts import call_with_timeout
from langchain_benchrouter.langchain.messages import RoutingScope, routing_text

if TYPE_CHECKING:
    from langchain_benchrouter.langchain.runnable import RoutedChatModel

__all__ = ["MODES", "SCOPES", "Decider", "Mode"]

logger = logging.getLogger("langchain_benchrouter.langchain.runnable")

Mode = Literal["per_input", "per_task"]
"""``per_input``: route every input; ``per_task``: one model for the whole task."""

MODES = ("per_input", "per_task")
SCOPES = ("last_human", "conversation")


@dataclass(frozen=True)
class _Knobs:
    """One call's runtime knobs, read from ``config["configurable"]``."""

    model: str | None
    cost_weight: float
    mode: Mode
    scope: RoutingScope


@dataclass(frozen=True)
class Decider:
    """Makes the routing decisions of a :class:`RoutedChatModel` (its options, its names).

    Attributes:
        owner: the router whose options apply.
        names: its configured models and the router models they stand for.
    """

    owner: RoutedChatModel
    names: ModelNames

    def costs(self) -> CostTable:
        """The cost of each model (raises when ``cost_weight`` > 0 lacks one)."""
        o = self.owner
        return CostTable.build(
            o.router, self.names.configured, o.costs, o.token_costs, o.expected_output_tokens
        )

    def knobs(self, config: RunnableConfig) -> _Knobs:
        """The call's knobs: ``configurable`` values over the router's options."""
        o = self.owner
        conf = config.get("configurable") or {}
        p = o.config_prefix
        forced = conf.get(f"{p}_model")
        if forced is not None and forced not in o.models:
            msg = f"configurable {p}_model={forced!r} is not one of {list(o.models)}"
            raise UnknownModelError(msg)
        weight = conf.get(f"{p}_cost_weight")
        weight = check_cost_weight(
            o.cost_weight if weight is None else weight, f"configurable {p}_cost_weight"
        )
        mode = conf.get(f"{p}_mode") or o.mode
        if mode not in MODES:
            msg = f"configurable {p}_mode must be one of {MODES}, got {mode!r}"
            raise RoutingInputError(msg)
        scope = conf.get(f"{p}_routing_scope") or o.routing_scope
        if scope not in SCOPES:
            msg = f"configurable {p}_routing_scope must be one of {SCOPES}, got {scope!r}"
            raise RoutingInputError(msg)
        return _Knobs(forced, weight, mode, scope)

    # ------------------------------------------------------------------ per input
    def route(self, inputs: list[Any], texts: list[str], weight: float) -> list[Decision]:
        """Route each input on its text: one ``Router.route`` call, costs included.

        Per-call costs go to ``Router.route`` itself, so its lexical correction weighs
        them too. Per-token costs differ by input, which ``Router.route`` cannot take: the
        route is then re-ranked with them here, keeping the lexical flag.
        """
        router, allowed = self.owner.router, self.names.allowed
        if not weight:
            return self._decisions(router.route(texts, models=allowed), weight, None)
        table = self.costs()
        cost = table.matrix(inputs)
        if not table.per_input:
            routes = router.route(
                texts, models=allowed, cost_weight=weight, costs=table.call_costs()
            )
            return self._decisions(routes, weight, cost)
        routes = router.route(texts, models=allowed)
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
            lexical=routes.lexical,
        )
        return self._decisions(routes, weight, cost)

    def _decisions(self, routes: Routes, weight: float, cost: np.ndarray | None) -> list[Decision]:
        out = []
        conf = self.names.configured
        for i in range(len(routes)):
            model = conf[routes[i]]
            info = self.names.info(model, routes.decision(i))
            if cost is not None:
                info["cost_weight"] = weight
                info["cost"] = {
                    conf[m]: round(float(c), 9)
                    for m, c in zip(routes.model_names, cost[i], strict=True)
                    if m in conf
                }
            ranking = [conf[m] for m in routes.ranking(i) if m in conf]
            out.append(Decision(model, ranking, info))
        return out

    # ------------------------------------------------------------------ per task
    def pinned(self, sel: Selection) -> Decision:
        """The decision of a per-task selection (the others ranked by its scores)."""
        names = self.names
        scores = sel.scores
        model = names.configured[sel.model]
        rest = sorted(names.others(model), key=lambda c: -scores.get(names.scored[c], -1.0))
        info = names.info(model, {**sel.to_dict(), "mode": "per_task"})
        return Decision(model, [model, *rest], info)

    def _group(
        self, mode: Mode, inputs: list[Any], texts: list[str], weight: float
    ) -> list[Decision]:
        if mode == "per_task":
            sel = self.owner.router.select_model(
                texts, models=self.names.allowed, metric=self.owner.task_metric
            )
            return [self.pinned(sel) for _ in texts]  # one object per input: attempts differ
        return self.route(inputs, texts, weight)

    # ------------------------------------------------------------------ all inputs
    def _default(self, reason: str) -> Decision:
        model = cast("str", self.owner.default_model)
        info = self.names.info(model, {"mode": "default", "reason": reason})
        return Decision(model, [model, *self.names.others(model)], info)

    def _without_routing(self, value: Any, knobs: _Knobs) -> Decision | str:
        """The decision made without routing (forced, pinned, no text), or the text to route."""
        o = self.owner
        if knobs.model is not None:
            return Decision(
                knobs.model, [knobs.model], self.names.info(knobs.model, {"mode": "forced"})
            )
        if knobs.mode == "per_task" and o.selection is not None:
            return self.pinned(o.selection)
        text = routing_text(value, knobs.scope)
        if text:
            return text
        if o.default_model is None:
            where = "latest human message" if knobs.scope == "last_human" else "conversation"
            msg = (
                f"the {where} has no text to route on (only non-text content, or no "
                "human message); pass text, or set default_model= on the router"
            )
            raise RoutingInputError(msg)
        return self._default("no text to route on")

    def decide(
        self, inputs: Sequence[Any], configs: Sequence[RunnableConfig]
    ) -> list[Decision | Exception]:
        """Decide for every input: one embedding call per group of same-knob inputs."""
        o = self.owner
        out: list[Decision | Exception | None] = [None] * len(inputs)
        pending: dict[tuple[Mode, float], list[tuple[int, str]]] = {}
        truncated: dict[int, int] = {}
        for i, (value, config) in enumerate(zip(inputs, configs, strict=True)):
            try:
                knobs = self.knobs(config)
                made = self._without_routing(value, knobs)
            except Exception as exc:
                out[i] = exc
                continue
            if isinstance(made, Decision):
                out[i] = made
                continue
            if o.max_routing_chars is not None and len(made) > o.max_routing_chars:
                truncated[i] = len(made)
                made = made[: o.max_routing_chars]
            pending.setdefault((knobs.mode, knobs.cost_weight), []).append((i, made))
        for (mode, weight), items in pending.items():
            idx = [i for i, _ in items]
            texts = [t for _, t in items]
            try:
                decisions: list[Decision | Exception] = list(
                    call_with_timeout(
                        partial(self._group, mode, [inputs[i] for i in idx], texts, weight),
                        o.routing_timeout,
                        partial(self._timeout_error, len(idx)),
                    )
                )
            except (RoutingInputError, UnknownModelError) as exc:
                decisions = [exc] * len(idx)  # the input or an option is at fault: no default
            except Exception as exc:
                decisions = self._failed(exc, len(idx))
            for i, d in zip(idx, decisions, strict=True):
                out[i] = d
        for i, length in truncated.items():
            if isinstance(decided := out[i], Decision) and decided.info.get("mode") != "default":
                decided.info["truncated_from"] = length
        return [o if o is not None else RoutingError("undecided") for o in out]

    def _timeout_error(self, n: int) -> RoutingTimeoutError:
        msg = (
            f"routing {n} input(s) took longer than routing_timeout={self.owner.routing_timeout}s "
            "(embedder too slow or hung)"
        )
        return RoutingTimeoutError(msg)

    def _failed(self, exc: Exception, n: int) -> list[Decision | Exception]:
        """A library error for each of ``n`` inputs whose routing raised ``exc``.

        With a ``default_model``, its decision instead (the failure logged).
        """
        failure: BenchRouterError
        if isinstance(exc, BenchRouterError):
            failure = exc
        else:
            failure = RoutingError(f"routing failed: {type(exc).__name__}: {exc}")
            failure.__cause__ = exc
        if self.owner.default_model is None:
            return [failure] * n
        reason = f"routing failed: {type(failure).__name__}: {failure}"
        logger.warning("benchrouter: %s; using default_model %r", reason, self.owner.default_model)
        return [self._default(reason) for _ in range(n)]
