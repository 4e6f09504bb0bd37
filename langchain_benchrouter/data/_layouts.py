"""The column vocabulary of benchmark files, and the builders of their two layouts.

The wide layout has one row per input (a column per model); the long layout one row per
(input, model) pair. Both builders turn a :class:`~._formats._Table` into a :class:`_Parsed`.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.data._cells import (
    _FAST_NUMBER_TYPES,
    _cell_costs,
    _cell_id,
    _cell_reference,
    _cell_split,
    _cell_text,
    _classify,
    _constant,
    _merge_cells,
    _scores,
)
from langchain_benchrouter.data._checks import _fail, _listing, _short
from langchain_benchrouter.data._formats import _Table

Layout = Literal["auto", "wide", "long"]
"""How a benchmark file is laid out: one row per input (``wide``), one row per
(input, model) pair (``long``), or detected from the columns (``auto``)."""

RESERVED_COLUMNS: tuple[str, ...] = ("instance_id", "input_id", "task", "split", "text")
"""Columns of the wide layout that describe the input (``input_id`` is an alias of
``instance_id``)."""

METRIC_COLUMN = "metric"
"""The optional column naming how an input is scored (see :attr:`Benchmark.metrics`)."""

METADATA_COLUMNS: tuple[str, ...] = (
    METRIC_COLUMN,
    "ground_truth",
    "answer",
    "src",
    "label",
    "target",
    "reference",
    "id",
)
"""Known per-input metadata columns: never taken for models. ``metric`` becomes
:attr:`Benchmark.metrics`, the first of :data:`REFERENCE_COLUMNS` present becomes
:attr:`Benchmark.references`; the others are ignored when loading."""

REFERENCE_COLUMNS: tuple[str, ...] = ("reference", "answer", "ground_truth", "target", "label")
"""Columns holding an input's reference answer, in order of preference."""

COST_SUFFIXES: tuple[str, ...] = ("|cost", "|total_cost")
"""A wide column ``<model>|cost`` (or RouterBench's ``<model>|total_cost``) holds the
measured cost in USD of each call of ``<model>``."""

_LONG_COLUMNS: tuple[str, ...] = (*RESERVED_COLUMNS, "model", "score")
_ID_COLUMNS: tuple[str, ...] = ("instance_id", "input_id")


@dataclass
class _Parsed:
    texts: list[str]
    tasks: list[str]
    ids: list[str]
    splits: list[str | None]
    scores: npt.NDArray[np.float64]
    models: list[str]
    notes: list[str]
    metrics: list[str | None]
    references: list[str | None] | None = None
    costs: npt.NDArray[np.float64] | None = None


def _unscored(models: Sequence[str], known: npt.NDArray[np.bool_]) -> list[str]:
    """The models whose column of ``known`` (``(n, M)``, score exists) is all False."""
    return [models[j] for j in np.flatnonzero(~known.any(axis=0)).tolist()]


def _cost_columns(columns: Sequence[str]) -> dict[str, str]:
    """Map model name -> its per-call cost column (``<model>|cost`` or ``|total_cost``)."""
    found: dict[str, str] = {}
    for column in columns:
        for suffix in COST_SUFFIXES:
            if column.endswith(suffix) and len(column) > len(suffix):
                found.setdefault(column[: -len(suffix)], column)
    return found


def _resolve_models(
    table: _Table, candidates: list[str], listed: list[str] | None, listed_by: str
) -> tuple[list[str], list[str]]:
    """Pick the models among ``candidates`` (columns, or model names met in rows).

    Returns:
        The models in order and the candidates ignored.
    """
    if listed is None:
        return candidates, []
    present = set(candidates)
    absent = [m for m in listed if m not in present]
    if absent:
        _fail(
            table.source,
            f"model(s) {_listing(absent)} listed in {listed_by} are not in the data",
        )
    wanted = set(listed)
    return list(listed), [c for c in candidates if c not in wanted]


def _generated_ids(
    unit: str, locs: list[int], tasks: list[str], ids: list[str | None], notes: list[str]
) -> list[str]:
    """Fill missing instance ids with ``"<task>-<line or row>"``."""
    count = 0
    out: list[str] = []
    for i, iid in enumerate(ids):
        if iid is None:
            iid = f"{tasks[i]}-{locs[i]}"
            count += 1
        out.append(iid)
    if count:
        notes.append(f"generated instance_id '<task>-<{unit}>' for {count} input(s) without one")
    return out


def _wide_scores_fast(table: _Table, models: list[str]) -> npt.NDArray[np.float64] | None:
    """The wide score matrix when every cell is a plain number or null, else ``None``.

    One C-level pass per row; anything unusual is left to the cell-by-cell path, which
    finds and reports the culprit.
    """
    if table.textual:
        return None
    getter = operator.itemgetter(*models)
    try:
        cells = [getter(row) for row in table.rows]
    except KeyError:  # a model key absent from some row: take the slow path
        return None
    if len(models) == 1:
        cells = [(cell,) for cell in cells]
    if not set(map(type, itertools.chain.from_iterable(cells))) <= _FAST_NUMBER_TYPES:
        return None
    try:
        array = np.array(cells, dtype=np.float64)
    except (OverflowError, TypeError, ValueError):
        return None
    with np.errstate(invalid="ignore"):
        if ((array < 0.0) | (array > 1.0)).any():
            return None
    if not table.nan_is_missing:
        for i, j in np.argwhere(np.isnan(array)).tolist():
            if cells[i][j] is not None:  # a float NaN (e.g. from Parquet)
                return None
    return array


def _wide_scores(table: _Table, models: list[str]) -> npt.NDArray[np.float64]:
    """The ``(rows, models)`` score matrix of a wide table, ``NaN`` for missing."""
    fast = _wide_scores_fast(table, models)
    if fast is not None:
        return fast
    per_model = [
        _scores(table, [row.get(model) for row in table.rows], _constant(model)) for model in models
    ]
    return np.stack(per_model, axis=1)


def _build_wide(table: _Table, listed: list[str] | None, listed_by: str) -> _Parsed:
    columns = table.columns
    missing = [c for c in ("task", "text") if c not in columns]
    if missing:
        _fail(
            table.source,
            f"missing required column(s) {_listing(missing)} (columns found: {_listing(columns)})",
        )
    notes: list[str] = []
    id_column = next((c for c in _ID_COLUMNS if c in columns), None)
    extra_ids = [c for c in _ID_COLUMNS if c in columns and c != id_column]
    cost_of = _cost_columns(columns)
    reserved = set(RESERVED_COLUMNS) | set(cost_of.values())
    reference_column = next((c for c in REFERENCE_COLUMNS if c in columns), None)
    if listed is not None:
        candidates = [c for c in columns if c not in reserved]
        models, ignored = _resolve_models(table, candidates, listed, listed_by)
    else:
        metadata = set(METADATA_COLUMNS)
        models, ignored = [], []
        numeric_strings: tuple[str, int] | None = None
        for column in columns:
            if column in reserved:
                continue
            is_model, string_row = (False, None) if column in metadata else _classify(table, column)
            if is_model:
                models.append(column)
            else:
                ignored.append(column)
                if string_row is not None and numeric_strings is None:
                    numeric_strings = (column, string_row)
        if not models:
            hint = ""
            if numeric_strings is not None:
                name, at = numeric_strings
                hint = (
                    f"; column {name!r} holds numbers written as strings (e.g. {table.unit}"
                    f" {table.locs[at]}: {_short(table.rows[at][name])}), scores must be numbers"
                )
            _fail(
                table.source,
                "no model score columns found: a model column holds numbers in [0, 1] or"
                f" null (columns found: {_listing(columns)}){hint}",
            )
    ignored += extra_ids
    ignored = [c for c in ignored if c not in (METRIC_COLUMN, reference_column)]
    stray_costs = sorted(c for m, c in cost_of.items() if m not in models)
    if stray_costs:
        notes.append(f"ignored cost column(s) of no loaded model: {_listing(stray_costs)}")
    if ignored:
        notes.append(f"ignored non-model column(s): {_listing(ignored)}")

    texts: list[str] = []
    tasks: list[str] = []
    ids: list[str | None] = []
    splits: list[str | None] = []
    metrics: list[str | None] = []
    for i, row in enumerate(table.rows):
        tasks.append(_cell_text(table, i, row.get("task"), "task"))
        texts.append(_cell_text(table, i, row.get("text"), "text"))
        ids.append(_cell_id(table, i, row.get(id_column)) if id_column else None)
        splits.append(_cell_split(table, i, row.get("split")))
        metrics.append(_cell_split(table, i, row.get(METRIC_COLUMN), METRIC_COLUMN))
    references: list[str | None] | None = None
    if reference_column is not None:
        references = [
            _cell_reference(table, i, row.get(reference_column)) for i, row in enumerate(table.rows)
        ]
    costs: npt.NDArray[np.float64] | None = None
    if any(m in cost_of for m in models):
        costs = np.full((len(table.rows), len(models)), np.nan)
        for j, model in enumerate(models):
            if model in cost_of:
                costs[:, j] = _cell_costs(table, cost_of[model])
    scores = _wide_scores(table, models)
    final_ids = _generated_ids(table.unit, table.locs, tasks, ids, notes)

    # Rows sharing (task, instance_id) are merged when they agree.
    first: dict[tuple[str, str], int] = {}
    instance = np.empty(len(tasks), dtype=np.int64)
    keep: list[int] = []
    for i, key in enumerate(zip(tasks, final_ids, strict=True)):
        j = first.setdefault(key, len(keep))
        if j == len(keep):
            keep.append(i)
        elif texts[keep[j]] != texts[i]:
            _fail(
                table.where2(keep[j], i),
                f"task {key[0]!r}, instance {key[1]!r} appears with different texts",
            )
        elif None not in (metrics[keep[j]], metrics[i]) and metrics[keep[j]] != metrics[i]:
            _fail(
                table.where2(keep[j], i),
                f"task {key[0]!r}, instance {key[1]!r} appears with different metrics"
                f" ({metrics[keep[j]]!r} and {metrics[i]!r})",
            )
        instance[i] = j
    if len(keep) == len(tasks):
        return _Parsed(
            texts, tasks, final_ids, splits, scores, models, notes, metrics, references, costs
        )

    n_models = len(models)

    def describe(cell: int) -> str:
        i = keep[cell // n_models]
        return (
            f"for model {models[cell % n_models]!r} on task {tasks[i]!r}, instance {final_ids[i]!r}"
        )

    cells = (instance[:, None] * n_models + np.arange(n_models)).ravel()
    rows = np.repeat(np.arange(len(tasks), dtype=np.int64), n_models)
    flat, _, _ = _merge_cells(table, cells, scores.ravel(), rows, len(keep) * n_models, describe)
    dup_rows = [i for i in range(len(tasks)) if keep[int(instance[i])] != i]
    example = table.where2(keep[int(instance[dup_rows[0]])], dup_rows[0])
    notes.append(
        f"merged {len(dup_rows)} duplicate row(s) with the same (task, instance_id)"
        f" into the first occurrence (e.g. {example})"
    )
    for i in dup_rows:  # keep the first known split, metric, reference and cost
        j = keep[int(instance[i])]
        if splits[j] is None:
            splits[j] = splits[i]
        if metrics[j] is None:
            metrics[j] = metrics[i]
        if references is not None and references[j] is None:
            references[j] = references[i]
        if costs is not None:
            costs[j] = np.where(np.isnan(costs[j]), costs[i], costs[j])
    return _Parsed(
        [texts[i] for i in keep],
        [tasks[i] for i in keep],
        [final_ids[i] for i in keep],
        [splits[i] for i in keep],
        flat.reshape(len(keep), n_models),
        models,
        notes,
        [metrics[i] for i in keep],
        None if references is None else [references[i] for i in keep],
        None if costs is None else costs[keep],
    )


def _build_long(table: _Table, listed: list[str] | None, listed_by: str) -> _Parsed:
    columns = table.columns
    missing = [c for c in ("task", "text", "model", "score") if c not in columns]
    if missing:
        _fail(
            table.source,
            f"missing required column(s) {_listing(missing)} for the long layout"
            f" (columns found: {_listing(columns)})",
        )
    notes: list[str] = []
    id_column = next((c for c in _ID_COLUMNS if c in columns), None)
    reference_column = next((c for c in REFERENCE_COLUMNS if c in columns), None)
    cost_column = "cost" if "cost" in columns else None
    optional = {METRIC_COLUMN, reference_column, cost_column}
    ignored = [c for c in columns if c not in _LONG_COLUMNS and c not in optional]
    ignored += [c for c in _ID_COLUMNS if c in columns and c != id_column]
    if ignored:
        notes.append(f"ignored column(s): {_listing(ignored)}")

    all_models = [
        _cell_text(table, i, row.get("model"), "model") for i, row in enumerate(table.rows)
    ]
    models, unlisted = _resolve_models(table, list(dict.fromkeys(all_models)), listed, listed_by)
    model_index = {m: j for j, m in enumerate(models)}
    use = [i for i, m in enumerate(all_models) if m in model_index]
    if unlisted:
        notes.append(
            f"ignored {len(all_models) - len(use)} row(s) of model(s) not listed in"
            f" {listed_by}: {_listing(unlisted)}"
        )
    sub = _Table(
        table.source,
        table.unit,
        columns,
        [table.rows[i] for i in use],
        [table.locs[i] for i in use],
        table.textual,
        table.nan_is_missing,
    )
    row_models = [all_models[i] for i in use]
    values = _scores(sub, [row.get("score") for row in sub.rows], row_models.__getitem__)
    row_costs = _cell_costs(sub, cost_column) if cost_column is not None else None

    texts: list[str] = []
    tasks: list[str] = []
    ids: list[str | None] = []
    splits: list[str | None] = []
    metrics: list[str | None] = []
    references: list[str | None] = []
    first_row: list[int] = []
    index: dict[tuple[str, str | None, str | None], int] = {}
    instance = np.empty(len(sub.rows), dtype=np.int64)
    for k, row in enumerate(sub.rows):
        task = _cell_text(sub, k, row.get("task"), "task")
        text = _cell_text(sub, k, row.get("text"), "text")
        iid = _cell_id(sub, k, row.get(id_column)) if id_column else None
        key = (task, iid, None) if iid is not None else (task, None, text)
        metric = _cell_split(sub, k, row.get(METRIC_COLUMN), METRIC_COLUMN)
        j = index.setdefault(key, len(texts))
        if j == len(texts):
            texts.append(text)
            tasks.append(task)
            ids.append(iid)
            splits.append(_cell_split(sub, k, row.get("split")))
            metrics.append(metric)
            references.append(
                _cell_reference(sub, k, row.get(reference_column)) if reference_column else None
            )
            first_row.append(k)
        elif texts[j] != text:
            _fail(
                sub.where2(first_row[j], k),
                f"task {task!r}, instance {iid!r} appears with different texts",
            )
        elif metric is not None:
            if metrics[j] is None:
                metrics[j] = metric
            elif metrics[j] != metric:
                _fail(
                    sub.where2(first_row[j], k),
                    f"task {task!r}, instance {iid!r} appears with different metrics"
                    f" ({metrics[j]!r} and {metric!r})",
                )
        instance[k] = j
    final_ids = _generated_ids(sub.unit, [sub.locs[k] for k in first_row], tasks, ids, notes)
    n_models = len(models)
    cells = instance * n_models + np.array([model_index[m] for m in row_models], np.int64)

    def describe(cell: int) -> str:
        j = cell // n_models
        return (
            f"for model {models[cell % n_models]!r} on task {tasks[j]!r}, instance {final_ids[j]!r}"
        )

    rows = np.arange(len(sub.rows), dtype=np.int64)
    flat, merged, example = _merge_cells(sub, cells, values, rows, len(texts) * n_models, describe)
    if merged and example is not None:
        notes.append(
            f"merged {merged} duplicate (task, instance_id, model) row(s) with the same"
            f" score (e.g. {sub.where2(*example)})"
        )
    costs: npt.NDArray[np.float64] | None = None
    if row_costs is not None:
        costs = np.full(len(texts) * n_models, np.nan)
        costs[cells] = row_costs  # a repeated (input, model) row: its last cost
        costs = costs.reshape(len(texts), n_models)
    return _Parsed(
        texts,
        tasks,
        final_ids,
        splits,
        flat.reshape(len(texts), n_models),
        models,
        notes,
        metrics,
        references if reference_column else None,
        costs,
    )
