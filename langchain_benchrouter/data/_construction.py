"""The checks :class:`~langchain_benchrouter.data.benchmark.Benchmark` builds on.

Each function takes one group of constructor arguments (inputs, models, scores, ids,
per-input columns, costs, model information) and returns it validated, or raises a
:class:`~langchain_benchrouter.errors.BenchmarkFormatError` naming the row (1-based) or
model and the problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.data._checks import (
    _check_model_info,
    _fail,
    _listing,
    _name_list,
    _short,
)
from langchain_benchrouter.data._layouts import _unscored
from langchain_benchrouter.errors import BenchmarkFormatError

_T = TypeVar("_T")


def _per_input(values: Sequence[_T], n: int, what: str) -> list[_T]:
    """``values`` as a list, checked to hold one value per input (``n``)."""
    out = list(values)
    if len(out) != n:
        msg = f"got {n} texts but {len(out)} {what}"
        raise BenchmarkFormatError(msg)
    return out


def _check_inputs(texts: Sequence[str], tasks: Sequence[str]) -> tuple[list[str], list[str]]:
    """The texts and their tasks: at least one input, each a non-empty string."""
    text_list = list(texts)
    n = len(text_list)
    if n == 0:
        msg = "a benchmark needs at least one input (got no rows)"
        raise BenchmarkFormatError(msg)
    task_list = _per_input(tasks, n, "tasks")
    for i, (text, task) in enumerate(zip(text_list, task_list, strict=True), 1):
        if not isinstance(text, str) or not text.strip():
            what = "empty" if isinstance(text, str) else f"not a string ({_short(text)})"
            _fail(f"row {i}", f"text is {what}")
        if not isinstance(task, str) or not task.strip():
            _fail(f"row {i}", f"task must be a non-empty string, got {_short(task)}")
    return text_list, task_list


def _check_models(models: Sequence[str]) -> list[str]:
    """The model names: at least one, each a non-empty string, none repeated."""
    model_names = _name_list(models, "model names")
    if not model_names:
        msg = "a benchmark needs at least one model"
        raise BenchmarkFormatError(msg)
    dupes = sorted({m for m in model_names if model_names.count(m) > 1})
    if dupes:
        msg = f"duplicate model name(s) {_listing(dupes)}"
        raise BenchmarkFormatError(msg)
    return model_names


def _numeric_matrix(
    values: npt.ArrayLike, n: int, models: Sequence[str], what: str, unit: str = ""
) -> npt.NDArray[np.float64]:
    """``values`` as a float64 ``(n, M)`` matrix; ``what`` and ``unit`` word the errors."""
    try:
        matrix = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"{what} must be a numeric (n, M) array{unit} ({exc})"
        raise BenchmarkFormatError(msg) from exc
    if matrix.shape != (n, len(models)):
        msg = f"{what} has shape {matrix.shape}, expected ({n}, {len(models)}) (inputs, models)"
        raise BenchmarkFormatError(msg)
    return matrix


def _reject_first(
    bad: npt.NDArray[np.bool_],
    matrix: npt.NDArray[np.float64],
    models: Sequence[str],
    noun: str,
    problem: str,
) -> None:
    """Fail on the first ``bad`` cell: ``"<noun> <value> for model <m> <problem>"``."""
    found = np.argwhere(bad)
    if found.size:
        i, j = (int(x) for x in found[0])
        _fail(f"row {i + 1}", f"{noun} {float(matrix[i, j])!r} for model {models[j]!r} {problem}")


def _check_scores(scores: npt.ArrayLike, n: int, models: Sequence[str]) -> npt.NDArray[np.float64]:
    """The ``(n, M)`` scores: in ``[0, 1]`` or ``NaN``, every model scored somewhere."""
    matrix = _numeric_matrix(scores, n, models, "scores")
    with np.errstate(invalid="ignore"):
        bad = np.isinf(matrix) | (matrix < 0.0) | (matrix > 1.0)
    _reject_first(bad, matrix, models, "score", "is not in [0, 1] (use NaN for a missing score)")
    unscored = _unscored(models, ~np.isnan(matrix))
    if unscored:
        msg = f"model(s) {_listing(unscored)} have no scores at all"
        raise BenchmarkFormatError(msg)
    return matrix


def _check_ids(instance_ids: Sequence[str] | None, tasks: Sequence[str]) -> list[str]:
    """The instance ids (generated as ``"<task>-<row>"`` when ``None``), unique per task."""
    if instance_ids is None:
        ids = [f"{task}-{i}" for i, task in enumerate(tasks, 1)]
    else:
        ids = _per_input(instance_ids, len(tasks), "instance_ids")
        for i, iid in enumerate(ids, 1):
            if not isinstance(iid, str) or not iid.strip():
                _fail(f"row {i}", f"instance_id must be a non-empty string, got {_short(iid)}")
    seen: dict[tuple[str, str], int] = {}
    for i, key in enumerate(zip(tasks, ids, strict=True), 1):
        previous = seen.setdefault(key, i)
        if previous != i:
            _fail(
                f"rows {previous} and {i}",
                f"duplicate input: task {key[0]!r}, instance_id {key[1]!r}",
            )
    return ids


def _check_metrics(metrics: Sequence[str | None] | None, n: int) -> list[str | None]:
    """How each input is scored: a non-empty string or ``None`` (unknown)."""
    metric_list: list[str | None] = [None] * n if metrics is None else list(metrics)
    _per_input(metric_list, n, "metrics")
    for i, metric in enumerate(metric_list, 1):
        if metric is not None and (not isinstance(metric, str) or not metric.strip()):
            _fail(f"row {i}", f"metric must be a non-empty string or None, not {_short(metric)}")
    return metric_list


def _check_references(references: Sequence[str | None] | None, n: int) -> list[str | None]:
    """Each input's reference answer: a string or ``None`` (unknown)."""
    reference_list: list[str | None] = [None] * n if references is None else list(references)
    _per_input(reference_list, n, "references")
    for i, ref in enumerate(reference_list, 1):
        if ref is not None and not isinstance(ref, str):
            _fail(f"row {i}", f"reference must be a string or None, not {_short(ref)}")
    return reference_list


def _check_costs(costs: npt.ArrayLike, n: int, models: Sequence[str]) -> npt.NDArray[np.float64]:
    """Validate an ``(n, M)`` matrix of per-call costs in USD (``NaN`` where unknown)."""
    matrix = _numeric_matrix(costs, n, models, "costs", " of USD per call")
    with np.errstate(invalid="ignore"):
        bad = np.isinf(matrix) | (matrix < 0.0)
    _reject_first(
        bad,
        matrix,
        models,
        "cost",
        "is not a finite number >= 0 (USD per call; use NaN where unknown)",
    )
    return matrix


def _mean_costs(costs: npt.NDArray[np.float64]) -> list[float | None]:
    """Per model (column) of ``costs``, the mean of its known costs; ``None`` if none."""
    known = ~np.isnan(costs)
    return [
        float(costs[known[:, j], j].mean()) if known[:, j].any() else None
        for j in range(costs.shape[1])
    ]


def _check_info(
    model_info: Mapping[str, Mapping[str, Any]] | None,
    models: Sequence[str],
    costs: npt.NDArray[np.float64] | None,
) -> dict[str, dict[str, Any]]:
    """Per model, its checked information; ``cost_per_call`` defaults to its mean cost."""
    unknown_info = sorted(set(model_info or {}) - set(models))
    if unknown_info:
        msg = (
            f"model_info names model(s) {_listing(unknown_info)} that are not among the"
            f" models {_listing(models)}"
        )
        raise BenchmarkFormatError(msg)
    means: list[float | None] = [None] * len(models) if costs is None else _mean_costs(costs)
    info: dict[str, dict[str, Any]] = {}
    for model, mean in zip(models, means, strict=True):
        given = (model_info or {}).get(model)
        info[model] = {} if given is None else _check_model_info(model, given, "model_info")
        if mean is not None and info[model].get("cost_per_call") is None:
            info[model]["cost_per_call"] = mean
    return info
