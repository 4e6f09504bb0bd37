"""Configured chat models and the router models they stand for.

The router scores its benchmark's models; the user configures chat models under names
that are router model names or are mapped to one by ``aliases``. :class:`ModelNames`
checks that mapping once, at construction, and answers the questions routing asks:
which router models to route among, which configured model a router model means, and
in what order to fall back.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import Runnable

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.errors import ModelConfigError, RoutingInputError, UnknownModelError
from langchain_benchrouter.langchain.models import LazyChatModel

__all__ = ["ModelNames", "chat_models"]


def chat_models(models: Any) -> dict[Any, Runnable[Any, Any]]:
    """``models`` with each ``init_chat_model`` string as a :class:`LazyChatModel`.

    Raises:
        RoutingInputError: ``models`` is not a dict.
        ModelConfigError: a value is neither a runnable nor a well-formed model string.
    """
    if not isinstance(models, Mapping):
        msg = (
            "models must be a dict {model name: chat model or 'provider:model' string}, "
            f"got {type(models).__name__}"
        )
        raise RoutingInputError(msg)
    out: dict[Any, Runnable[Any, Any]] = {}
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


@dataclass(frozen=True)
class ModelNames:
    """The configured models and the router models they are scored as.

    Attributes:
        router: the fitted router.
        scored: configured model -> the router model it is scored as.
        configured: router model -> the configured model standing for it.
    """

    router: Router
    scored: dict[str, str]
    configured: dict[str, str]

    @classmethod
    def check(
        cls,
        router: Router,
        models: Collection[str],
        aliases: Mapping[str, str],
        *,
        allow_subset: bool,
    ) -> ModelNames:
        """Validate ``models`` and ``aliases`` against the router's models.

        Raises:
            NotFittedError: the router is not fitted.
            RoutingInputError: no models, or two models scored as the same router model.
            UnknownModelError: a name the router does not know, an alias of no configured
                model, or (without ``allow_subset``) a router model with no chat model.
        """
        known = router.model_names  # raises NotFittedError on an unfitted router
        if not models:
            msg = "models is empty: configure at least one chat model"
            raise RoutingInputError(msg)
        if stray := [a for a in aliases if a not in models]:
            msg = (
                f"aliases name model(s) {stray} that are not configured in models; "
                f"the configured models are {list(models)}"
            )
            raise UnknownModelError(msg)
        if bad := {a: t for a, t in aliases.items() if t not in known}:
            msg = (
                f"aliases map to model(s) the router does not know: {bad}; "
                f"alias targets must be router models: {known}"
            )
            raise UnknownModelError(msg)
        scored = {m: aliases.get(m, m) for m in models}
        if extra := [m for m, s in scored.items() if s not in known]:
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
        names = cls(router, scored, {s: ms[0] for s, ms in by_scored.items()})
        missing = [m for m in known if m not in names.configured]
        if missing and not allow_subset:
            msg = (
                f"no chat model configured for router model(s) {missing}; configure them, "
                "or pass allow_subset=True to route only among the configured models"
            )
            raise UnknownModelError(msg)
        return names

    @property
    def allowed(self) -> list[str] | None:
        """The router models to route among (``None``: all of the router's)."""
        names = self.router.model_names
        if len(self.configured) == len(names):
            return None
        return [m for m in names if m in self.configured]

    def info(self, model: str, info: dict[str, Any]) -> dict[str, Any]:
        """Decision ``info`` for configured ``model``: its name and, if aliased, ``scored_as``."""
        out = {**info, "model": model}
        if (scored := self.scored[model]) != model:
            out["scored_as"] = scored
        return out

    def others(self, first: str) -> list[str]:
        """The configured models other than ``first``, the best on average first."""
        bma = self.router.best_model_on_average
        rest = [c for c in self.configured.values() if c != first]
        order = {m: i for i, m in enumerate(self.router.model_names)}
        rest.sort(key=lambda c: (self.scored[c] != bma, order[self.scored[c]]))
        return rest
