"""Calling one configured model: built once, within ``model_timeout``, its output checked.

A model is built on first use: a model string is created then (a
:class:`~langchain_benchrouter.errors.ModelConfigError` when it cannot be), and the
declarative operations queued on the router (``bind_tools``, ``with_structured_output``
...) are applied to it. Each call style runs within ``model_timeout`` (per chunk when
streaming, per model group in ``batch``), and with ``check_output`` the output must be
what a chat model returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_benchrouter.errors import ModelConfigError, ModelOutputError, ModelTimeoutError
from langchain_benchrouter.langchain._timeouts import (
    await_with_timeout,
    call_with_timeout,
    iter_with_timeout,
)
from langchain_benchrouter.langchain.models import LazyChatModel

if TYPE_CHECKING:
    from langchain_benchrouter.langchain.runnable import RoutedChatModel

__all__ = ["ModelCalls"]


@dataclass
class ModelCalls:
    """The configured models of a :class:`RoutedChatModel`, called by name.

    Attributes:
        owner: the router whose models, queued operations and options apply.
        built: the models built so far, by name.
    """

    owner: RoutedChatModel
    built: dict[str, Runnable[Any, Any]] = field(default_factory=dict)

    def model(self, name: str) -> Runnable[Any, Any]:
        """Model ``name`` with the queued operations applied (built on first use)."""
        built = self.built.get(name)
        if built is None:
            built = self.owner.models[name]
            if isinstance(built, LazyChatModel):
                built = built.get()  # ModelConfigError when it cannot be created
            for op, args, kwargs in self.owner._queued:
                built = getattr(built, op)(*args, **kwargs)
            self.built[name] = built
        return built

    def limit(self, name: str) -> tuple[float | None, Callable[[], ModelTimeoutError]]:
        """``model_timeout`` and the error a call of ``name`` beyond it raises."""
        timeout = self.owner.model_timeout
        msg = f"model {name!r} did not answer within model_timeout={timeout}s"
        return timeout, partial(ModelTimeoutError, msg)

    def checked(self, output: Any, name: str) -> Any:
        """``output``, or ModelOutputError when it is not what a chat model returns."""
        if not self.owner.check_output:
            return output
        structured = any(op == "with_structured_output" for op, _, _ in self.owner._queued)
        if output is None or not (structured or isinstance(output, BaseMessage)):
            msg = (
                f"model {name!r} returned {type(output).__name__} ({str(output)[:80]!r}), "
                "not a chat message; pass check_output=False for models that are plain "
                "runnables returning other types"
            )
            raise ModelOutputError(msg)
        return output

    def _checked_all(self, results: list[Any], name: str) -> list[Any]:
        """Each batch result checked; a failed check (or a model error) in its place."""
        out = []
        for result in results:
            try:
                out.append(result if isinstance(result, Exception) else self.checked(result, name))
            except ModelOutputError as exc:
                out.append(exc)
        return out

    def invoke(self, name: str, value: Any, config: RunnableConfig, kwargs: Any) -> Any:
        """``invoke`` model ``name``."""
        model = self.model(name)
        out = call_with_timeout(lambda: model.invoke(value, config, **kwargs), *self.limit(name))
        return self.checked(out, name)

    async def ainvoke(self, name: str, value: Any, config: RunnableConfig, kwargs: Any) -> Any:
        """``ainvoke`` model ``name``."""
        call = self.model(name).ainvoke(value, config, **kwargs)
        return self.checked(await await_with_timeout(call, *self.limit(name)), name)

    def stream(self, name: str, value: Any, config: RunnableConfig, kwargs: Any) -> Iterator[Any]:
        """``stream`` from model ``name``; the limit applies to each chunk."""
        model = self.model(name)
        make = partial(model.stream, value, config, **kwargs)
        for chunk in iter_with_timeout(make, *self.limit(name)):
            yield self.checked(chunk, name)

    async def astream(
        self, name: str, value: Any, config: RunnableConfig, kwargs: Any
    ) -> AsyncIterator[Any]:
        """``astream`` from model ``name``; the limit applies to each chunk."""
        chunks = self.model(name).astream(value, config, **kwargs).__aiter__()
        while True:
            try:
                chunk = await await_with_timeout(anext(chunks), *self.limit(name))
            except StopAsyncIteration:
                return
            yield self.checked(chunk, name)

    def batch(
        self, name: str, values: list[Any], configs: list[RunnableConfig], kwargs: Any
    ) -> list[Any]:
        """One ``batch`` call of model ``name``: a result or an exception per value."""
        try:
            model = self.model(name)
            call = partial(model.batch, values, configs, return_exceptions=True, **kwargs)
            results = call_with_timeout(call, *self.limit(name))
        except (ModelConfigError, ModelTimeoutError) as exc:
            return [exc] * len(values)
        return self._checked_all(results, name)

    async def abatch(
        self, name: str, values: list[Any], configs: list[RunnableConfig], kwargs: Any
    ) -> list[Any]:
        """Async :meth:`batch`."""
        try:
            call = self.model(name).abatch(values, configs, return_exceptions=True, **kwargs)
        except ModelConfigError as exc:
            return [exc] * len(values)
        try:
            results = await await_with_timeout(call, *self.limit(name))
        except ModelTimeoutError as exc:
            return [exc] * len(values)
        return self._checked_all(results, name)
