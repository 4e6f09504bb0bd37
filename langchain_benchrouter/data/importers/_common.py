"""Shared pieces of the importers: option checks, score checks, assembling a Benchmark.

Every importer gathers :class:`_Record` objects (one per input and model), then
:func:`_assemble` checks them and builds the :class:`~langchain_benchrouter.Benchmark`.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from langchain_benchrouter.data._checks import _count, _fail, _listing, _short
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import BenchmarkFormatError

PathLike = str | os.PathLike[str]
"""A file or directory path."""


@dataclass
class _Record:
    """One model's result on one input, with where it was read (for error messages)."""

    task: str
    instance_id: str
    text: str
    score: float  # NaN when missing
    where: str
    reference: str | None = None
    metric: str | None = None
    split: str | None = None
    cost: float = math.nan


@dataclass
class _Run:
    """The records of one model read from one source."""

    model: str
    source: str
    records: list[_Record] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def _paths(value: PathLike | Iterable[PathLike], what: str) -> list[Path]:
    """Normalise one path or an iterable of paths; each must exist."""
    items: list[Any] = [value] if isinstance(value, str | os.PathLike) else list(value)
    if not items:
        msg = f"no {what} given"
        raise BenchmarkFormatError(msg)
    out: list[Path] = []
    for item in items:
        if not isinstance(item, str | os.PathLike):
            msg = f"{what} must be paths, got {_short(item)}"
            raise BenchmarkFormatError(msg)
        path = Path(item)
        if not path.exists():
            _fail(str(path), "file or directory not found")
        out.append(path)
    return out


def _check_choice(option: str, value: Any, valid: Sequence[str]) -> str:
    """Reject an option value that is not one of ``valid``, naming the valid ones."""
    if not isinstance(value, str) or value not in valid:
        msg = f"{option} must be one of {_listing(valid)}, got {_short(value)}"
        raise BenchmarkFormatError(msg)
    return value


def _model_names(model: str | Sequence[str] | None, n: int, what: str) -> list[str | None]:
    """One model name (or ``None``: read it from the files) per source.

    ``model`` is ``None``, one name for a single source, or one name per source.
    """
    if model is None:
        return [None] * n
    names = [model] if isinstance(model, str) else list(model)
    for name in names:
        if not isinstance(name, str) or not name.strip():
            msg = f"model must be a non-empty string or a sequence of them, got {_short(name)}"
            raise BenchmarkFormatError(msg)
    if len(names) != n:
        msg = (
            f"model= gives {_count(len(names), 'name')} but {_count(n, what)} were found;"
            f" give one model name per {what}"
        )
        raise BenchmarkFormatError(msg)
    return list(names)


def _per_task(option: str, value: str | Mapping[str, str] | None, task: str) -> str | None:
    """The value of a per-task option (one string for all tasks, or ``{task: value}``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        chosen = value.get(task)
        if chosen is not None and not isinstance(chosen, str):
            msg = f"{option}[{task!r}] must be a string, got {_short(chosen)}"
            raise BenchmarkFormatError(msg)
        return chosen
    msg = f"{option} must be a string or a mapping {{task: {option}}}, got {_short(value)}"
    raise BenchmarkFormatError(msg)


def _check_per_task_keys(
    option: str, value: str | Mapping[str, str] | None, tasks: Iterable[str]
) -> None:
    """Reject a ``{task: value}`` mapping naming tasks that were not read."""
    if isinstance(value, Mapping):
        known = set(tasks)
        unknown = sorted(set(value) - known)
        if unknown:
            msg = (
                f"{option} names task(s) {_listing(unknown)} that are not in the data"
                f" (tasks read: {_listing(sorted(known))})"
            )
            raise BenchmarkFormatError(msg)


def _score(value: Any, where: str, what: str) -> float:
    """A score in ``[0, 1]`` (``bool`` counts as 0/1); ``None`` and NaN mean missing."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, numbers.Real):
        _fail(where, f"{what} must be a number in [0, 1], got {_short(value)}")
    number = float(value)
    if math.isnan(number):
        return math.nan
    if not 0.0 <= number <= 1.0:
        _fail(
            where,
            f"{what} {number!r} is not in [0, 1]; the benchmark needs scores in [0, 1]"
            " (choose another metric or rescale the scores first)",
        )
    return number


def _cost(value: Any, where: str, what: str) -> float:
    """A cost in USD (non-negative); ``None`` and NaN mean unknown."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(where, f"{what} must be a non-negative number (USD), got {_short(value)}")
    number = float(value)
    if math.isnan(number):
        return math.nan
    if math.isinf(number) or number < 0:
        _fail(where, f"{what} must be a non-negative number (USD), got {number!r}")
    return number


def _text(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        got = "empty" if isinstance(value, str) else f"not a string ({_short(value)})"
        _fail(where, f"{what} is {got}")
    return value


def _assemble(
    runs: list[_Run],
    *,
    name: str,
    threshold: float,
    notes: list[str],
    kind: str,
) -> Benchmark:
    """Join the runs into one benchmark: inputs are matched by ``(task, instance_id)``.

    Raises:
        BenchmarkFormatError: If one model appears twice on an input, or one input has
            different texts or references in different runs (both places named).
    """
    if not runs:
        msg = f"no {kind} results found"
        raise BenchmarkFormatError(msg)
    models = list(dict.fromkeys(run.model for run in runs))
    col = {m: j for j, m in enumerate(models)}
    keys: dict[tuple[str, str], int] = {}
    first: list[_Record] = []
    cells: dict[tuple[int, int], _Record] = {}
    for run in runs:
        j = col[run.model]
        for rec in run.records:
            key = (rec.task, rec.instance_id)
            i = keys.setdefault(key, len(first))
            if i == len(first):
                first.append(rec)
            else:
                seen = first[i]
                if seen.text != rec.text:
                    _fail(
                        f"{seen.where} and {rec.where}",
                        f"task {rec.task!r}, instance {rec.instance_id!r} has different texts"
                        f" ({_short(seen.text)} and {_short(rec.text)})",
                    )
                if seen.reference is None:
                    seen.reference = rec.reference
                if seen.split is None:
                    seen.split = rec.split
                if seen.metric is None:
                    seen.metric = rec.metric
            previous = cells.get((i, j))
            if previous is not None:
                _fail(
                    f"{previous.where} and {rec.where}",
                    f"model {run.model!r} has two results on task {rec.task!r}, instance"
                    f" {rec.instance_id!r} (import each run once, or name the models apart"
                    " with model=)",
                )
            cells[(i, j)] = rec
    n, m = len(first), len(models)
    scores = np.full((n, m), np.nan)
    costs = np.full((n, m), np.nan)
    for (i, j), rec in cells.items():
        scores[i, j] = rec.score
        costs[i, j] = rec.cost
    missing = [model for j, model in enumerate(models) if np.isnan(scores[:, j]).all()]
    if missing:
        msg = (
            f"model(s) {_listing(missing)} have no usable score in the {kind} results"
            f" (notes so far: {'; '.join(notes) or 'none'})"
        )
        raise BenchmarkFormatError(msg)
    info: dict[str, dict[str, Any]] = {}
    for run in runs:
        info.setdefault(run.model, {}).update(run.info)
    has_costs = bool((~np.isnan(costs)).any())
    if has_costs:
        for j, model in enumerate(models):
            known = costs[:, j][~np.isnan(costs[:, j])]
            if known.size:
                info[model]["cost_per_call"] = float(known.mean())
    n_missing = int(np.isnan(scores).sum())
    if n_missing:
        notes.append(f"{_count(n_missing, 'score')} missing (left NaN, never 0)")
    notes = list(dict.fromkeys(notes))
    return Benchmark(
        texts=[r.text for r in first],
        tasks=[r.task for r in first],
        instance_ids=[r.instance_id for r in first],
        scores=scores,
        models=models,
        model_info=info,
        threshold=threshold,
        name=name,
        notes=notes,
        splits=[r.split for r in first],
        metrics=[r.metric for r in first],
        references=[r.reference for r in first],
        costs=costs if has_costs else None,
    )
