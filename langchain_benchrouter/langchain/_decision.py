"""The routing decision of one input, and where it is recorded.

A :class:`Decision` is made before the chosen model is called; it then travels with the
call: into the router run's metadata (:func:`config_with_decision`), into the returned
message's ``response_metadata`` (:func:`annotate`), into the fallback events
(:func:`next_or_raise`) and, when every model tried fails, onto the exception
(:func:`attach_decision`, read back with :func:`error_decision`). The runnable and the
agent middleware share all of it.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

__all__ = [
    "DECISION_ATTR",
    "FALLBACK_EVENT",
    "METADATA_KEY",
    "Decision",
    "annotate",
    "attach_decision",
    "config_with_decision",
    "error_decision",
    "next_or_raise",
    "outcome_info",
]

FALLBACK_EVENT = "benchrouter_fallback"
"""Name of the custom callback event dispatched when a fallback model is tried."""

DECISION_ATTR = "benchrouter_decision"
"""Attribute set on an exception raised by a chosen model: the routing decision (a dict)."""

METADATA_KEY = "benchrouter"
"""Key of the decision in ``response_metadata`` and in the router run's metadata."""


@dataclass
class Decision:
    """One input's routing decision: the model, the ranked alternatives and the evidence.

    Attributes:
        model: the configured model chosen.
        ranking: the configured models, best first (the fallback order).
        info: the JSON-safe decision record (``model``, ``mode``, the evidence ...).
        attempts: the failed calls so far, ``{"model": ..., "error": ...}`` each.
    """

    model: str
    ranking: list[str]
    info: dict[str, Any]
    attempts: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Decision:
        """The decision of a record made by :meth:`record` (the middleware's agent state)."""
        info = {k: v for k, v in record.items() if k != "ranking"}
        return cls(str(record["model"]), list(record.get("ranking") or [record["model"]]), info)

    def record(self) -> dict[str, Any]:
        """The decision as one JSON-safe dict: ``info`` plus the ``ranking``."""
        return {**self.info, "ranking": list(self.ranking)}

    def failed(self, model: str, exc: BaseException) -> dict[str, str]:
        """Record that ``model`` raised ``exc``; returns the attempt entry."""
        entry = {"model": model, "error": f"{type(exc).__name__}: {exc}"[:500]}
        self.attempts.append(entry)
        return entry


def error_decision(exc: BaseException) -> dict[str, Any] | None:
    """The routing decision attached to an exception raised by a chosen model, if any.

    When the chosen model (and every fallback tried) fails, :class:`RoutedChatModel`
    re-raises the model's own exception unchanged, with the decision as the attribute
    :data:`DECISION_ATTR` (``model``, ``mode``, the per-model evidence, ``ranking`` and
    the failed ``attempts``) and a one-line summary added with ``add_note``.

    Args:
        exc: any exception.

    Returns:
        The decision dict, or ``None`` when the exception carries none.
    """
    value = getattr(exc, DECISION_ATTR, None)
    return value if isinstance(value, dict) else None


def attach_decision(exc: BaseException, decision: Decision, failed: str) -> BaseException:
    """Attach the decision to the final error of model ``failed`` (returned, for ``raise``).

    An exception that already carries a decision (a nested router, or a fallback path)
    is returned untouched.
    """
    if error_decision(exc) is not None:
        return exc
    decision.failed(failed, exc)
    info = {**decision.record(), "failed_model": failed, "attempts": list(decision.attempts)}
    with suppress(AttributeError, TypeError):  # exotic exception types refuse attributes
        setattr(exc, DECISION_ATTR, info)
    tried = ", ".join(a["model"] for a in decision.attempts)
    exc.add_note(
        f"benchrouter: routed to {decision.model!r} ({decision.info.get('mode', '')}); "
        f"models tried: {tried}; see the exception's {DECISION_ATTR!r} attribute"
    )
    return exc


def next_or_raise(
    exc: Exception,
    decision: Decision,
    candidates: list[str],
    k: int,
    fallback_on: tuple[type[BaseException], ...],
) -> dict[str, Any]:
    """After ``candidates[k]`` raised ``exc``: the fallback event data, or ``exc`` re-raised.

    ``exc`` is re-raised, with the decision attached, when it is not a ``fallback_on``
    type or no candidate is left; otherwise the failure is recorded and the data of the
    :data:`FALLBACK_EVENT` for the next candidate returned.
    """
    failed = candidates[k]
    if not isinstance(exc, fallback_on) or k + 1 == len(candidates):
        raise attach_decision(exc, decision, failed)
    entry = decision.failed(failed, exc)
    return {
        "routed_model": decision.model,
        "failed_model": failed,
        "error": entry["error"],
        "next_model": candidates[k + 1],
    }


def outcome_info(decision: Decision, used: str) -> dict[str, Any]:
    """The decision record of an answer by ``used`` (with what failed before it, if any)."""
    info = dict(decision.info)
    if used != decision.model or decision.attempts:
        info["model"] = used
        info["routed_model"] = decision.model
        info["fallback_from"] = list(decision.attempts)
    return info


def annotate(output: Any, info: dict[str, Any], key: str = METADATA_KEY) -> Any:
    """``output`` with ``info`` under ``key`` in its ``response_metadata``.

    A message gets it; so does the ``raw`` message of a ``with_structured_output(...,
    include_raw=True)`` result. Anything else is returned unchanged.
    """
    if isinstance(output, BaseMessage):
        meta = {**output.response_metadata, key: info}
        return output.model_copy(update={"response_metadata": meta})
    if isinstance(output, dict) and isinstance(output.get("raw"), BaseMessage):
        return {**output, "raw": annotate(output["raw"], info, key)}
    return output


def config_with_decision(config: RunnableConfig, decision: Decision | Exception) -> RunnableConfig:
    """``config`` with the decision in its metadata (for the router run's trace)."""
    if isinstance(decision, Exception):
        return config
    metadata = {
        **(config.get("metadata") or {}),
        METADATA_KEY: decision.info,
        f"{METADATA_KEY}_model": decision.model,
    }
    return cast("RunnableConfig", {**config, "metadata": metadata})
