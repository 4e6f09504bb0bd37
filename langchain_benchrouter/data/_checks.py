"""How the data package fails, and the checks of values users pass in.

Every problem with a benchmark file or argument becomes a
:class:`~langchain_benchrouter.errors.BenchmarkFormatError` naming where (the file, the
line or row) and what; these helpers word those messages the same way everywhere.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from langchain_benchrouter.errors import BenchmarkFormatError

_PRICE_KEYS: tuple[str, ...] = ("input_price", "output_price")
_MEASURED_KEYS: dict[str, str] = {
    "cost_per_call": "USD per call",
    "latency_s": "seconds",
}
_INFO_UNITS: dict[str, str] = {
    **dict.fromkeys(_PRICE_KEYS, "USD per million tokens"),
    **_MEASURED_KEYS,
}
"""The numeric keys of a model's information, with their units, in the order checked."""


def _fail(where: str, problem: str) -> NoReturn:
    msg = f"{where}: {problem}"
    raise BenchmarkFormatError(msg)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _listing(names: Iterable[str], limit: int = 12) -> str:
    items = [repr(n) for n in names]
    if len(items) > limit:
        items = [*items[:limit], f"... ({len(items) - limit} more)"]
    return ", ".join(items)


def _name_list(value: str | Iterable[str], what: str) -> list[str]:
    """Normalise a name or an iterable of names, checking each is a non-empty string."""
    names = [value] if isinstance(value, str) else list(value)
    for item in names:
        if not isinstance(item, str) or not item.strip():
            msg = f"{what} must be non-empty strings, got {_short(item)}"
            raise BenchmarkFormatError(msg)
    return names


def _check_threshold(threshold: float) -> float:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not 0.0 < float(threshold) <= 1.0
    ):
        msg = f"threshold must be a number in (0, 1], got {_short(threshold)}"
        raise BenchmarkFormatError(msg)
    return float(threshold)


def _check_model_info(model: str, info: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(info, Mapping):
        _fail(where, f"the information on model {model!r} must be a mapping, got {_short(info)}")
    out = dict(info)
    for key, unit in _INFO_UNITS.items():
        value = out.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(float(value))
            or float(value) < 0
        ):
            _fail(
                where,
                f"{key} of model {model!r} must be a non-negative number ({unit}) or null,"
                f" got {_short(value)}",
            )
    return out
