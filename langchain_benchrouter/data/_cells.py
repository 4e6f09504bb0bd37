"""Parsing the cells of a table: texts, ids, scores, costs and reference answers.

Also how a column is told to hold scores, and how duplicate cells are merged.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.data._checks import _fail, _short
from langchain_benchrouter.data._formats import _NonFinite, _Table

_FAST_NUMBER_TYPES = frozenset({float, int, bool, type(None)})


def _cell_text(table: _Table, i: int, value: Any, column: str) -> str:
    """A required, non-empty string cell (``task``, ``text``, ``model``)."""
    if value is None:
        _fail(table.where(i), f"missing {column!r}")
    if not isinstance(value, str):
        _fail(table.where(i), f"{column!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        _fail(table.where(i), f"{column!r} is empty")
    return value


def _cell_id(table: _Table, i: int, value: Any) -> str | None:
    """An optional ``instance_id``: string or integer; empty means missing."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    _fail(
        table.where(i),
        f"instance_id must be a string or an integer, got {type(value).__name__} {_short(value)}",
    )


def _cell_split(table: _Table, i: int, value: Any, column: str = "split") -> str | None:
    """An optional string cell (``split``, ``metric``): empty means unknown."""
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(table.where(i), f"{column!r} must be a string, got {type(value).__name__}")
    return value if value.strip() else None


def _constant(model: str) -> Callable[[int], str]:
    def model_of(_: int) -> str:
        return model

    return model_of


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _classify(table: _Table, column: str) -> tuple[bool, int | None]:
    """Whether an unlisted wide column holds scores (all non-null values are numbers).

    Returns:
        Whether the column holds scores and, for a column of numbers written as JSON
        strings, the first row holding one.

    Raises:
        BenchmarkFormatError: If the column mixes JSON numbers with numeric strings.
    """
    rows = table.rows
    if table.textual:
        for row in rows:
            cell = row[column].strip()
            if cell and not _looks_numeric(cell):
                return False, None
        return True, None
    has_number = False
    first_numeric_string: int | None = None
    for i, row in enumerate(rows):
        value = row.get(column)
        if type(value) in _FAST_NUMBER_TYPES or isinstance(value, _NonFinite):
            has_number = has_number or value is not None
        elif isinstance(value, str) and _looks_numeric(value):
            if first_numeric_string is None:
                first_numeric_string = i
        elif isinstance(value, numbers.Real | np.bool_):
            has_number = True
        else:
            return False, None
    if first_numeric_string is not None and has_number:
        value = rows[first_numeric_string][column]
        _fail(
            table.where(first_numeric_string),
            f"score for model {column!r} must be a JSON number or null, got the string"
            f" {_short(value)}",
        )
    return first_numeric_string is None, first_numeric_string


def _scores(
    table: _Table, values: list[Any], model_of: Callable[[int], str]
) -> npt.NDArray[np.float64]:
    """Parse a column of scores into float64, ``NaN`` for missing.

    Args:
        table: The table the values come from (for locations and cell semantics).
        values: One value per table row; ``None`` (or an empty CSV cell) is missing.
        model_of: The model of the value of row ``i`` (to name it in errors).
    """
    missing_hint = "leave the cell empty" if table.textual else "use null"
    if table.textual:
        parsed: list[float | None] = []
        append = parsed.append
        for i, value in enumerate(values):
            if value is None or not value.strip():
                append(None)
                continue
            try:
                append(float(value))
            except ValueError:
                _fail(
                    table.where(i),
                    f"score {_short(value)} for model {model_of(i)!r} is not a number",
                )
        array = np.array(parsed, dtype=np.float64)
    else:
        for i, value in enumerate(values):
            if type(value) in _FAST_NUMBER_TYPES:
                continue
            if isinstance(value, _NonFinite):
                _fail(
                    table.where(i),
                    f"score {value.token} for model {model_of(i)!r} is not a valid score;"
                    f" {missing_hint} for a missing score",
                )
            if isinstance(value, numbers.Real | np.bool_):
                continue
            kind = "the string" if isinstance(value, str) else type(value).__name__
            _fail(
                table.where(i),
                f"score for model {model_of(i)!r} must be a number or null,"
                f" got {kind} {_short(value)}",
            )
        try:
            array = np.array(values, dtype=np.float64)
        except (OverflowError, TypeError, ValueError):
            for i, value in enumerate(values):
                try:
                    float(value if value is not None else 0.0)
                except (OverflowError, TypeError, ValueError):
                    _fail(
                        table.where(i),
                        f"score {_short(value)} for model {model_of(i)!r} is outside [0, 1]",
                    )
            raise  # pragma: no cover - numpy failed on values float() accepts
    nan_rows = np.flatnonzero(np.isnan(array))
    for i in nan_rows.tolist():
        value = values[i]
        if value is None or (table.textual and not value.strip()) or table.nan_is_missing:
            continue
        _fail(
            table.where(i),
            f"score {_short(value)} for model {model_of(i)!r} is not a valid score;"
            f" {missing_hint} for a missing score",
        )
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero((array < 0.0) | (array > 1.0))
    if bad.size:
        i = int(bad[0])
        problem = (
            f"is not finite; {missing_hint} for a missing score"
            if np.isinf(array[i])
            else "is outside [0, 1]"
        )
        _fail(table.where(i), f"score {_short(values[i])} for model {model_of(i)!r} {problem}")
    return array


def _merge_cells(
    table: _Table,
    cells: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    rows: npt.NDArray[np.int64],
    size: int,
    describe: Callable[[int], str],
) -> tuple[npt.NDArray[np.float64], int, tuple[int, int] | None]:
    """Scatter ``values`` into a flat array of ``size`` cells, merging duplicates.

    Duplicate cells that agree (or where one is missing) are merged; others raise.

    Args:
        table: The table the values come from (for locations).
        cells: The flat cell index of each value.
        values: The values, ``NaN`` for missing.
        rows: The table row of each value.
        size: The number of cells.
        describe: Names a cell in errors.

    Returns:
        The flat array, the number of duplicates merged and one duplicated row pair.
    """
    order = np.argsort(cells, kind="stable")
    sorted_cells = cells[order]
    dup = np.flatnonzero(sorted_cells[1:] == sorted_cells[:-1])
    example = (int(rows[order[dup[0]]]), int(rows[order[dup[0] + 1]])) if dup.size else None
    known = ~np.isnan(values)
    k_order = order[known[order]]
    k_cells = cells[k_order]
    k_values = values[k_order]
    clash = np.flatnonzero((k_cells[1:] == k_cells[:-1]) & (k_values[1:] != k_values[:-1]))
    if clash.size:
        a, b = int(k_order[clash[0]]), int(k_order[clash[0] + 1])
        _fail(
            table.where2(int(rows[a]), int(rows[b])),
            f"conflicting scores {describe(int(cells[a]))}: {values[a]:g} vs {values[b]:g}",
        )
    out = np.full(size, np.nan, dtype=np.float64)
    out[cells[known]] = values[known]
    return out, int(dup.size), example


def _cell_reference(table: _Table, i: int, value: Any) -> str | None:
    """A reference answer cell: strings kept, numbers and JSON values written as JSON."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, _NonFinite):
        return value.token
    if isinstance(value, str):
        return value if value.strip() else None
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        _fail(table.where(i), f"reference answer is not JSON data ({type(value).__name__})")


def _cell_costs(table: _Table, column: str) -> npt.NDArray[np.float64]:
    """A column of per-call costs in USD: numbers >= 0, missing as ``NaN``."""
    out = np.full(len(table.rows), np.nan)
    for i, row in enumerate(table.rows):
        value = row.get(column)
        if value is None or (isinstance(value, _NonFinite) and value.token.lower() == "nan"):
            continue
        if isinstance(value, str):
            if not value.strip():
                continue
            try:
                value = float(value)
            except ValueError:
                _fail(table.where(i), f"cost {column!r} must be a number, got {_short(value)}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            _fail(table.where(i), f"cost {column!r} must be a number, got {_short(value)}")
        cost = float(value)
        if math.isnan(cost) and table.nan_is_missing:
            continue
        if not math.isfinite(cost) or cost < 0.0:
            _fail(table.where(i), f"cost {column!r} must be a finite number >= 0, got {cost!r}")
        out[i] = cost
    return out
