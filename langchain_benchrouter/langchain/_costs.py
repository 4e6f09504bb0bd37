"""What each model costs on each input, for cost-aware routing (``cost_weight`` > 0).

Costs are given per configured model: per call (``costs``), per token (``token_costs``,
times the input's estimated tokens plus ``expected_output_tokens``), or, with neither,
the router's known prices as per-call costs (an aliased model does not take its benchmark
model's price). :class:`CostTable` holds them by router model, the order
:meth:`Router.route <langchain_benchrouter.core.router.Router.route>` scores in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.errors import RoutingInputError
from langchain_benchrouter.langchain.messages import routing_text

__all__ = ["CostTable", "check_cost_table", "check_cost_weight"]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_cost_weight(value: Any, what: str = "cost_weight") -> float:
    """``value`` as a cost weight: a finite number >= 0.

    Raises:
        RoutingInputError: anything else (``inf``, NaN, negatives, booleans, strings).
    """
    if not (_is_number(value) and math.isfinite(value) and value >= 0):
        msg = (
            f"{what} must be a finite number >= 0 (points of predicted correctness one unit "
            f"of cost is worth), got {value!r}"
        )
        raise RoutingInputError(msg)
    return float(value)


def check_cost_table(what: str, table: Any) -> None:
    """Check that ``table`` is ``None`` or a dict of finite costs >= 0.

    Raises:
        RoutingInputError: it is not.
    """
    if table is None:
        return
    if not isinstance(table, Mapping):
        msg = f"{what} must be a dict {{model name: cost}}, got {type(table).__name__}"
        raise RoutingInputError(msg)
    for name, value in table.items():
        if not (_is_number(value) and math.isfinite(value) and value >= 0):
            msg = f"{what}[{name!r}] must be a finite number >= 0, got {value!r}"
            raise RoutingInputError(msg)


@dataclass(frozen=True)
class CostTable:
    """The cost of each router model: per call, and per token when token costs are given.

    Attributes:
        model_names: the router's models, the order of the arrays.
        per_call: (M,) cost per call (NaN for a model no configured model stands for).
        per_token: (M,) cost per token, or ``None`` without ``token_costs``.
        expected_output_tokens: output tokens assumed per call, for ``per_token``.
    """

    model_names: list[str]
    per_call: NDArray[np.float64]
    per_token: NDArray[np.float64] | None
    expected_output_tokens: int

    @classmethod
    def build(
        cls,
        router: Router,
        configured: Mapping[str, str],
        costs: Mapping[str, float] | None,
        token_costs: Mapping[str, float] | None,
        expected_output_tokens: int,
    ) -> CostTable:
        """The costs of the models ``configured`` (router model -> configured model).

        Raises:
            RoutingInputError: a configured model has no cost.
        """
        names = router.model_names
        stand_in = [configured.get(m) for m in names]

        def lookup(table: Mapping[str, float]) -> NDArray[np.float64]:
            return np.array([table.get(c, np.nan) if c else np.nan for c in stand_in], float)

        per_call = np.zeros(len(names))
        per_token = None if token_costs is None else lookup(token_costs)
        if costs is not None:
            per_call = lookup(costs)
        elif token_costs is None:
            known = router.model_costs()
            per_call = np.array(
                [
                    np.nan if known[m] is None or (c is not None and c != m) else known[m]
                    for m, c in zip(names, stand_in, strict=True)
                ],
                float,
            )
        token = np.zeros(len(names)) if per_token is None else per_token
        missing = [
            c
            for c, a, b in zip(stand_in, per_call, token, strict=True)
            if c is not None and not (np.isfinite(a) and np.isfinite(b))
        ]
        if missing:
            msg = (
                f"cost_weight > 0 but no cost is known for {missing}; "
                "pass costs={model: cost per call} or token_costs={model: cost per token}"
                " (an aliased model does not take its benchmark model's known price)"
            )
            raise RoutingInputError(msg)
        return cls(list(names), per_call, per_token, expected_output_tokens)

    @property
    def per_input(self) -> bool:
        """Whether the cost depends on the input (token costs are given)."""
        return self.per_token is not None

    def call_costs(self) -> dict[str, float]:
        """Per-call cost by router model, for the models with one (``Router.route(costs=)``)."""
        return {
            m: float(c)
            for m, c in zip(self.model_names, self.per_call, strict=True)
            if np.isfinite(c)
        }

    def matrix(self, inputs: Sequence[Any]) -> NDArray[np.float64]:
        """(n, M) cost of each router model on each input (NaN: not routable)."""
        if self.per_token is None:
            return np.tile(self.per_call, (len(inputs), 1))
        tokens = np.array(
            [len(routing_text(x, "conversation")) / 4 + self.expected_output_tokens for x in inputs]
        )
        return self.per_call[None, :] + tokens[:, None] * self.per_token[None, :]
