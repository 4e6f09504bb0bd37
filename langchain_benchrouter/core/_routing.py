"""Per-input routing internals of :class:`~langchain_benchrouter.core.router.Router`.

:meth:`Router.route` delegates here (:func:`route`): the per-input estimate (calibrated,
kNN, or corrected by the lexical model), its utility with tie-break and cost, and the
per-model cost table the router derives from ``model_info``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core.calibration import task_posterior_prior
from langchain_benchrouter.core.decisions import Routes
from langchain_benchrouter.core.scoring import per_input_utility
from langchain_benchrouter.errors import RoutingInputError, UnknownModelError

if TYPE_CHECKING:
    from langchain_benchrouter.core.router import RouteMethod, Router

#: The name :attr:`Routes.tasks` gives the user's own labelled inputs (:meth:`Router.add_labeled`).
USER_TASK = "(labelled inputs)"


def check_texts(texts: Sequence[str] | str, what: str = "inputs") -> list[str]:
    if isinstance(texts, str):
        msg = f"{what} must be a list of strings, got a single string (wrap it in a list)"
        raise RoutingInputError(msg)
    items = list(texts)
    if not items:
        msg = f"no {what} given: need at least one text"
        raise RoutingInputError(msg)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            msg = f"{what}[{i}] is {type(t).__name__}, not str"
            raise RoutingInputError(msg)
        if not t.strip():
            msg = f"{what}[{i}] is empty or whitespace; there is nothing to route on"
            raise RoutingInputError(msg)
    return items


def route(
    router: Router,
    inputs: Sequence[str],
    models: Sequence[str] | None,
    cost_weight: float,
    costs: Mapping[str, float] | None,
    method: RouteMethod,
) -> Routes:
    """The body of :meth:`Router.route` (see there), for a fitted router."""
    allowed = router._allowed(models)
    cost_arr = None
    if cost_weight:
        if cost_weight < 0 or not np.isfinite(cost_weight):
            msg = f"cost_weight must be a finite number >= 0, got {cost_weight!r}"
            raise RoutingInputError(msg)
        cost_arr = cost_array(router, costs, allowed)
    if method not in ("lexical", "calibrated", "knn"):
        msg = f"unknown route method {method!r}; use 'lexical', 'calibrated' or 'knn'"
        raise RoutingInputError(msg)
    Q, nb = router._search(inputs, "inputs")
    posterior = router._task_posterior(Q, nb)
    if method == "knn":
        g = router._proba(Q, nb)
    else:
        g = router._route_proba(nb, posterior).astype(np.float32)

    def utility_of(estimate: np.ndarray) -> NDArray[np.float64]:
        return per_input_utility(
            estimate,
            router.model_prior_,
            tie_break=router.tie_break,
            costs=cost_arr,
            cost_weight=cost_weight,
            allowed=allowed,
        )

    utility = utility_of(g)
    choice = np.argmax(utility, axis=1)
    switched = None
    lex = getattr(router, "lexical_", None)
    if method == "lexical" and lex is not None and lex.enabled:
        # The lexical estimate: the accuracy on the tasks the input resembles plus
        # the residual its words predict; it overrides the calibrated choice only
        # where it leads that choice by more than the tuned margin.
        prior = task_posterior_prior(posterior, router.prior_table_, router.model_prior_)
        lex_utility = utility_of(prior + lex.residual(check_texts(inputs, "inputs")))
        top = np.argmax(lex_utility, axis=1)
        rows = np.arange(len(choice))
        switched = lex_utility[rows, top] - lex_utility[rows, choice] > lex.margin_
        choice = np.where(switched, top, choice)
        # A switched input ranks its models (the fallback order) by the estimate
        # that chose, so the chosen model comes first.
        utility = np.where(switched[:, None], lex_utility, utility)
    likely = np.argmax(posterior, axis=1)
    task_names = [*router.task_names_, USER_TASK]
    return Routes(
        models=[router.model_names_[i] for i in choice],
        model_names=list(router.model_names_),
        proba=g,
        distance=nb.distances[:, : router.k].mean(axis=1).astype(np.float32),
        utility=utility,
        tasks=[task_names[t] for t in likely],
        task_proba=posterior[np.arange(len(likely)), likely].astype(np.float32),
        lexical=switched,
    )


def cost_array(
    router: Router, costs: Mapping[str, float] | None, allowed: NDArray[np.bool_] | None
) -> NDArray[np.float64]:
    if costs is None:
        arr = router.costs_.copy()
    else:
        unknown = [m for m in costs if m not in router.model_names_]
        if unknown:
            msg = f"costs name unknown model(s) {unknown}"
            raise UnknownModelError(msg)
        arr = np.array([costs.get(m, np.nan) for m in router.model_names_], dtype=np.float64)
    need = np.ones(len(arr), bool) if allowed is None else allowed
    missing = [
        m
        for m, c, a in zip(router.model_names_, arr, need, strict=True)
        if a and not np.isfinite(c)
    ]
    if missing:
        msg = f"cost_weight > 0 but no cost is known for {missing}; pass costs={{model: cost}}"
        raise RoutingInputError(msg)
    return np.nan_to_num(arr, nan=0.0)


def cost_table(infos: Sequence[Mapping[str, Any]]) -> NDArray[np.float64]:
    """Per-model cost: USD per call when every priced model has one, else per-token price."""
    per_call = np.array([_finite(info.get("cost_per_call")) for info in infos])
    per_token = np.array([_model_cost(info) for info in infos])
    priced = ~np.isnan(per_call) | ~np.isnan(per_token)
    if priced.any() and not np.isnan(per_call[priced]).any():
        return per_call
    return per_token


def _finite(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
    return float(value) if ok else float("nan")


def _model_cost(info: Mapping[str, Any]) -> float:
    prices = [info.get(k) for k in ("input_price", "output_price")]
    known = [
        float(v)
        for v in prices
        if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
    ]
    return float(np.mean(known)) if known else float("nan")
