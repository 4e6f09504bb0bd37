"""What a run would do before it does it: calls per model and their estimated cost.

:func:`plan_calls` counts the calls left (skipping what the store holds) and
:func:`check_budget` refuses a run whose estimate exceeds ``max_cost``. Public through
:mod:`langchain_benchrouter.collect.runner` (:class:`CollectionPlan`, :class:`ModelPlan`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.table import Table

from langchain_benchrouter._keywords import keyword_checked
from langchain_benchrouter.errors import CollectionError, CostLimitError

if TYPE_CHECKING:
    from langchain_benchrouter.collect._run_setup import RunOptions
    from langchain_benchrouter.collect.store import CollectionStore, StoredInputs

__all__ = ["CollectionPlan", "ModelPlan", "check_budget", "plan_calls"]


@keyword_checked(CollectionError)
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


@keyword_checked(CollectionError)
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


def plan_calls(
    names: Sequence[str],
    store: CollectionStore | None,
    positions: Sequence[int],
    inputs: StoredInputs,
    infos: Mapping[str, Mapping[str, Any]],
    opts: RunOptions,
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


def check_budget(plan: CollectionPlan, max_cost: float | None) -> None:
    """Refuse a run whose estimated cost exceeds ``max_cost`` (or cannot be estimated).

    Raises:
        CollectionError: ``max_cost`` is set and a model with calls left has no price.
        CostLimitError: The estimate exceeds ``max_cost``.
    """
    if max_cost is None or not plan.calls:
        return
    unpriced = [m.name for m in plan.models if m.estimated_cost is None]
    if unpriced:
        msg = (
            f"max_cost needs the prices of model(s) {unpriced}: pass model_info="
            "{name: {'input_price': ..., 'output_price': ...}} (USD per million "
            "tokens; CLI: --price NAME=IN,OUT)"
        )
        raise CollectionError(msg)
    estimate = plan.estimated_cost or 0.0
    if estimate > max_cost:
        msg = (
            f"the {plan.calls} calls left would cost about ${estimate:.4f}, more than "
            f"max_cost=${max_cost:g}; nothing was spent. Raise max_cost, collect "
            "fewer inputs, or look at the plan with dry_run=True"
        )
        raise CostLimitError(msg)
