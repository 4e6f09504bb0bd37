"""A run's configuration, checked before anything is spent: options, inputs, models, prices.

Every check here raises before the first model call; :class:`RunOptions` carries the
checked options through the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.rate_limiters import InMemoryRateLimiter

from langchain_benchrouter._keywords import check_keywords
from langchain_benchrouter.collect.store import StoredInputs
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import CollectionConfigError, ModelConfigError

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

    from langchain_benchrouter.collect._calls import CallResult

__all__ = [
    "OptionError",
    "RunOptions",
    "check_float",
    "check_int",
    "check_option_names",
    "inputs_of",
    "model_prices",
    "rate_limiters",
    "resolve_models",
]

#: What a bad run option (``concurrency=0``, an unknown keyword) raises.
OptionError = CollectionConfigError


def check_option_names(owner: str, given: Iterable[str], valid: Collection[str]) -> None:
    """Refuse keyword options ``owner`` does not take, naming the closest valid one."""
    check_keywords(owner, given, valid, OptionError)


def check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        msg = f"{name} must be an integer >= {low}, got {value!r}"
        raise OptionError(msg)
    return value


def check_float(name: str, value: Any, *, positive: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    if not ok or not math.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "> 0" if positive else ">= 0"
        msg = f"{name} must be a finite number {bound}, got {value!r}"
        raise OptionError(msg)
    return number


def inputs_of(inputs: Any) -> StoredInputs:
    if not isinstance(inputs, Benchmark):
        msg = (
            f"inputs must be a Benchmark (e.g. Benchmark.bundled() or Benchmark.load(path)),"
            f" got {type(inputs).__name__}"
        )
        raise OptionError(msg)
    return StoredInputs(
        tasks=inputs.tasks,
        instance_ids=list(inputs.instance_ids),
        texts=list(inputs.texts),
        references=list(inputs.references),
        metrics=list(inputs.metrics),
        splits=list(inputs.splits),
        threshold=float(inputs.threshold),
        name=inputs.name,
    )


def _identity(spec: Any, chat: Runnable[Any, Any]) -> str:
    """What a model was configured as: its string, or its class and model name."""
    if isinstance(spec, str):
        return spec.strip()
    cls = type(chat)
    label = f"{cls.__module__}.{cls.__qualname__}"
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(chat, attr, None)
        if isinstance(value, str) and value:
            return f"{label}({value})"
    return label


def resolve_models(models: Any) -> dict[str, tuple[Runnable[Any, Any], str]]:
    if not isinstance(models, Mapping) or not models:
        msg = (
            "models must be a non-empty mapping {name: chat model or 'provider:model'"
            f" string}}, got {models!r}"[:300]
        )
        raise ModelConfigError(msg)
    from langchain_benchrouter.langchain.models import resolve_chat_model

    out: dict[str, tuple[Runnable[Any, Any], str]] = {}
    problems: list[str] = []
    for name, spec in models.items():
        if not isinstance(name, str) or not name.strip():
            msg = f"model names must be non-empty strings, got {name!r}"
            raise ModelConfigError(msg)
        try:
            chat = resolve_chat_model(spec, name=name)
        except ModelConfigError as exc:
            problems.append(str(exc))
            continue
        out[name] = (chat, _identity(spec, chat))
    if problems:
        raise ModelConfigError("; ".join(problems))
    return out


def model_prices(
    names: Sequence[str],
    model_info: Mapping[str, Mapping[str, Any]] | None,
    benchmark_info: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    given = dict(model_info or {})
    unknown = sorted(set(given) - set(names))
    if unknown:
        msg = f"model_info names model(s) {unknown} that are not among the models {list(names)}"
        raise ModelConfigError(msg)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        info = {
            k: v
            for k, v in benchmark_info.get(name, {}).items()
            if k in ("input_price", "output_price")
        }
        info.update(given.get(name, {}))
        for key in ("input_price", "output_price"):
            value = info.get(key)
            if value is None:
                continue
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(float(value)) or float(value) < 0:
                msg = (
                    f"model_info[{name!r}][{key!r}] must be a non-negative number (USD per "
                    f"million tokens), got {value!r}"
                )
                raise ModelConfigError(msg)
            info[key] = float(value)
        out[name] = info
    return out


def rate_limiters(
    names: Sequence[str], requests_per_second: float | Mapping[str, float] | None
) -> dict[str, InMemoryRateLimiter]:
    if requests_per_second is None:
        return {}
    rates: dict[str, float] = {}
    if isinstance(requests_per_second, Mapping):
        unknown = sorted(set(requests_per_second) - set(names))
        if unknown:
            msg = f"requests_per_second names unknown model(s) {unknown}"
            raise OptionError(msg)
        for k, v in requests_per_second.items():
            rates[k] = check_float(f"requests_per_second[{k!r}]", v, positive=True)
    else:
        rate = check_float("requests_per_second", requests_per_second, positive=True)
        rates = dict.fromkeys(names, rate)
    return {
        k: InMemoryRateLimiter(requests_per_second=v, check_every_n_seconds=min(0.1, 1 / v))
        for k, v in rates.items()
    }


@dataclass
class RunOptions:
    concurrency: int
    max_retries: int
    timeout: float | None
    max_cost: float | None
    expected_output_tokens: int
    tokenizer: Callable[[str], int] | None
    backoff: float
    max_backoff: float
    preflight: bool
    retry_failed: bool
    progress: bool
    on_result: Callable[[CallResult], None] | None
    limiters: dict[str, InMemoryRateLimiter]

    def tokens(self, text: str) -> int:
        if self.tokenizer is None:
            return math.ceil(len(text) / 4)
        count = self.tokenizer(text)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            msg = f"tokenizer must return a non-negative int, returned {count!r}"
            raise OptionError(msg)
        return count
