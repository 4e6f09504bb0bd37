"""One routed call in each call style: the chosen model, then the next-ranked on failure.

A :class:`RoutedCall` holds the decisions made for a call and walks each decision's
candidates (the chosen model, then up to ``fallbacks`` next-ranked ones): a failure of a
``fallback_on`` type dispatches a ``benchrouter_fallback`` event and tries the next
candidate; the last failure is re-raised with the decision attached; an answer carries
the decision in its ``response_metadata``. ``batch`` calls each chosen model once for
all its inputs and walks the fallbacks of the inputs that failed one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForChainRun,
    CallbackManagerForChainRun,
)
from langchain_core.callbacks.manager import adispatch_custom_event, dispatch_custom_event
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import patch_config

from langchain_benchrouter.langchain._decision import (
    FALLBACK_EVENT,
    Decision,
    annotate,
    attach_decision,
    next_or_raise,
    outcome_info,
)
from langchain_benchrouter.langchain._model_calls import ModelCalls

__all__ = ["RoutedCall"]

_Manager = CallbackManagerForChainRun | AsyncCallbackManagerForChainRun
SyncManagers = list[CallbackManagerForChainRun]
AsyncManagers = list[AsyncCallbackManagerForChainRun]


@dataclass(frozen=True)
class RoutedCall:
    """The decisions of one call (one per input) and the call's keyword arguments.

    Attributes:
        calls: the configured models.
        decisions: the decision of each input (an exception: the input's routing failed).
        kwargs: keyword arguments for the chosen model's call.
        names: the candidates to walk instead of the decision's (the rest of a batch).
    """

    calls: ModelCalls
    decisions: list[Decision | Exception]
    kwargs: dict[str, Any]
    names: list[str] | None = None

    # ------------------------------------------------------------------ the walk
    def _plan(self, i: int = 0) -> tuple[Decision, list[str]]:
        """Input ``i``'s decision and candidates (its routing error raised)."""
        decision = self.decisions[i]
        if isinstance(decision, Exception):
            raise decision
        if self.names is not None:
            return decision, self.names
        fallbacks = self.calls.owner.fallbacks
        return decision, decision.ranking[: 1 + fallbacks] if fallbacks else [decision.model]

    def _walk(
        self, run_manager: _Manager, config: RunnableConfig
    ) -> Iterator[tuple[int, str, RunnableConfig]]:
        """Each candidate of the (only) decision: its index, name and child config."""
        for k, name in enumerate(self._plan()[1]):
            yield k, name, patch_config(config, callbacks=run_manager.get_child())

    def _next(self, exc: Exception, k: int, *, final: bool = False) -> dict[str, Any]:
        """The fallback event data after candidate ``k`` raised ``exc``, or ``exc`` raised."""
        decision, candidates = self._plan()
        if final:
            raise attach_decision(exc, decision, candidates[k])
        return next_or_raise(exc, decision, candidates, k, self.calls.owner.fallback_on)

    def _done(self, output: Any, name: str, i: int = 0) -> Any:
        """``output`` of model ``name`` with input ``i``'s decision."""
        return annotate(output, outcome_info(self._plan(i)[0], name))

    # ------------------------------------------------------------------ invoke
    def run(
        self, value: Any, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> Any:
        """Invoke the chosen model, then the next-ranked ones on failure."""
        for k, name, child in self._walk(run_manager, config):
            try:
                out = self.calls.invoke(name, value, child, self.kwargs)
            except Exception as exc:
                dispatch_custom_event(FALLBACK_EVENT, self._next(exc, k), config=child)
                continue
            return self._done(out, name)
        raise AssertionError  # pragma: no cover - the walk returns or raises

    async def arun(
        self, value: Any, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> Any:
        """Async :meth:`run`."""
        for k, name, child in self._walk(run_manager, config):
            try:
                out = await self.calls.ainvoke(name, value, child, self.kwargs)
            except Exception as exc:
                await adispatch_custom_event(FALLBACK_EVENT, self._next(exc, k), config=child)
                continue
            return self._done(out, name)
        raise AssertionError  # pragma: no cover

    # ------------------------------------------------------------------ batch
    def _unrouted(self) -> list[Any]:
        """The batch outputs to fill: each routing error in its place."""
        return [d if isinstance(d, Exception) else None for d in self.decisions]

    def _groups(self) -> dict[str, list[int]]:
        """The inputs of each chosen model."""
        groups: dict[str, list[int]] = {}
        for i, d in enumerate(self.decisions):
            if isinstance(d, Decision):
                groups.setdefault(d.model, []).append(i)
        return groups

    def _settle(
        self, out: list[Any], name: str, idx: list[int], results: list[Any]
    ) -> Iterator[tuple[int, RoutedCall, dict[str, Any]]]:
        """Put each result of model ``name`` in ``out``; yield the inputs to fall back.

        Yields:
            The input's index, the call over its remaining candidates, and the event data.
        """
        for i, res in zip(idx, results, strict=True):
            if not isinstance(res, Exception):
                out[i] = self._done(res, name, i)
                continue
            decision, candidates = self._plan(i)
            try:
                data = next_or_raise(res, decision, candidates, 0, self.calls.owner.fallback_on)
            except Exception as exc:
                out[i] = exc
                continue
            yield i, RoutedCall(self.calls, [decision], self.kwargs, candidates[1:]), data

    def batch_run(
        self, inputs: list[Any], run_manager: SyncManagers, config: list[RunnableConfig]
    ) -> list[Any]:
        """One ``batch`` call per chosen model; failed inputs fall back one by one."""
        out = self._unrouted()
        for name, idx in self._groups().items():
            values, configs = [inputs[i] for i in idx], [config[i] for i in idx]
            results = self.calls.batch(name, values, configs, self.kwargs)
            for i, rest, data in self._settle(out, name, idx, results):
                dispatch_custom_event(FALLBACK_EVENT, data, config=config[i])
                try:
                    out[i] = rest.run(inputs[i], run_manager[i], config[i])
                except Exception as exc:
                    out[i] = exc
        return out

    async def abatch_run(
        self, inputs: list[Any], run_manager: AsyncManagers, config: list[RunnableConfig]
    ) -> list[Any]:
        """Async :meth:`batch_run`: the models' ``abatch`` calls run concurrently."""
        out = self._unrouted()

        async def one_group(name: str, idx: list[int]) -> None:
            values, configs = [inputs[i] for i in idx], [config[i] for i in idx]
            results = await self.calls.abatch(name, values, configs, self.kwargs)
            for i, rest, data in self._settle(out, name, idx, results):
                await adispatch_custom_event(FALLBACK_EVENT, data, config=config[i])
                try:
                    out[i] = await rest.arun(inputs[i], run_manager[i], config[i])
                except Exception as exc:
                    out[i] = exc

        await asyncio.gather(*(one_group(n, idx) for n, idx in self._groups().items()))
        return out

    # ------------------------------------------------------------------ streaming
    def stream_run(
        self, values: Iterator[Any], run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> Iterator[Any]:
        """Stream the chosen model (the first chunk carries the decision).

        A model that fails before its first chunk falls back; one that fails later
        raises (its chunks are already out).
        """
        value = next(values)
        for k, name, child in self._walk(run_manager, config):
            started = False
            try:
                for chunk in self.calls.stream(name, value, child, self.kwargs):
                    yield chunk if started else self._done(chunk, name)
                    started = True
            except Exception as exc:
                data = self._next(exc, k, final=started)
                dispatch_custom_event(FALLBACK_EVENT, data, config=child)
                continue
            return

    async def astream_run(
        self,
        values: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream_run`."""
        value = await anext(values)
        for k, name, child in self._walk(run_manager, config):
            started = False
            try:
                async for chunk in self.calls.astream(name, value, child, self.kwargs):
                    yield chunk if started else self._done(chunk, name)
                    started = True
            except Exception as exc:
                data = self._next(exc, k, final=started)
                await adispatch_custom_event(FALLBACK_EVENT, data, config=child)
                continue
            return
