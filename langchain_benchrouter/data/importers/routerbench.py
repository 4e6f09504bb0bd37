"""Import RouterBench-style per-prompt tables (CSV, JSON lines or Parquet).

The layout of RouterBench (Hu et al., 2024; github.com/withmartian/routerbench), one
row per prompt::

    sample_id, prompt, eval_name, <model>, <model>|model_response, <model>|total_cost,
    ..., oracle_model_to_route_to

``<model>`` holds the model's score on the prompt (0/1, or a graded score in
``[0, 1]``), ``<model>|total_cost`` the USD cost of that call.

The published files (``routerbench_0shot.pkl``, ``routerbench_5shot.pkl``) are pandas
pickles, which this package never loads (unpickling runs arbitrary code). Convert one
yourself, once, if you trust its source::

    import pandas as pd
    pd.read_pickle("routerbench_0shot.pkl").to_parquet("routerbench_0shot.parquet")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from langchain_benchrouter.data._checks import _count, _fail, _listing, _short
from langchain_benchrouter.data._formats import _NonFinite, _read_bytes, _Table
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.data.importers._common import (
    PathLike,
    _assemble,
    _check_choice,
    _cost,
    _paths,
    _Record,
    _Run,
    _score,
)

__all__ = ["ON_DUPLICATE", "from_routerbench"]

ON_DUPLICATE: tuple[str, ...] = ("error", "first", "drop", "suffix")
"""The choices of ``from_routerbench(on_duplicate=...)``."""

_REQUIRED = ("sample_id", "prompt", "eval_name")
_RESPONSE = "|model_response"
_COST = "|total_cost"
_PICKLE_SUFFIXES = (".pkl", ".pickle")


def from_routerbench(
    path: PathLike,
    *,
    on_duplicate: str = "error",
    models: Sequence[str] | None = None,
    name: str = "routerbench",
    threshold: float = 0.5,
) -> Benchmark:
    """Read a RouterBench-style table into a benchmark.

    The models are the columns that have a ``<model>|model_response`` or
    ``<model>|total_cost`` column beside them (or those named in ``models=``). The
    task is ``eval_name``, the instance id ``sample_id``, the text ``prompt``. The
    per-call costs go into :attr:`Benchmark.costs` and each model's mean cost into
    ``model_info[model]["cost_per_call"]``. Empty or null scores stay missing.

    The public RouterBench files hold some ``sample_id`` values twice with different
    prompts; ``on_duplicate=`` decides what happens to rows sharing
    ``(eval_name, sample_id)``:

    - ``"error"`` (default): raise, naming the rows of the first such id and how
      many ids are affected.
    - ``"first"``: keep the first row of each id, drop the later ones.
    - ``"drop"``: drop every row of an id that appears with different prompts (no
      guessing which one is right).
    - ``"suffix"``: keep every row; the second row of an id becomes ``"<id>#2"``, the
      third ``"<id>#3"``, ...

    Rows repeating an id with the same prompt and the same scores are merged whatever
    the option. Every option reports what it did in ``notes``.

    Example:
        >>> bench = from_routerbench("rb_0shot.parquet", on_duplicate="drop")  # doctest: +SKIP
        >>> bench.model_info["gpt-4-1106-preview"]["cost_per_call"]  # doctest: +SKIP

    Args:
        path: A ``.csv``, ``.tsv``, ``.jsonl``/``.json`` or ``.parquet`` file
            (optionally gzipped). Pickles are refused (see the module docstring to
            convert one).
        on_duplicate: What to do with rows sharing an id: one of :data:`ON_DUPLICATE`.
        models: The model columns to read (default: every column with a
            ``|model_response`` or ``|total_cost`` companion).
        name: The benchmark's name.
        threshold: Scores at or above it count as a success.

    Returns:
        The benchmark.

    Raises:
        BenchmarkFormatError: On a pickle, a malformed file or a missing column (file
            named), scores outside ``[0, 1]`` or negative costs (row and model named),
            or duplicate ids under ``on_duplicate="error"``.
    """
    _check_choice("on_duplicate", on_duplicate, ON_DUPLICATE)
    (file,) = _paths(path, "path")
    source = str(file)
    if file.is_dir():
        _fail(source, "is a directory, not a file")
    data = file.read_bytes()
    suffixes = [s.lower() for s in file.suffixes]
    if data[:1] == b"\x80" or any(s in _PICKLE_SUFFIXES for s in suffixes):
        _fail(
            source,
            "looks like a pickle, which is never loaded (it can run arbitrary code);"
            " convert it once, if you trust it: pd.read_pickle(path).to_parquet(...)",
        )
    table = _read_bytes(data, source, file.name)
    if not table.rows:
        _fail(source, "the table has no rows")
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        _fail(
            source,
            f"missing column(s) {_listing(missing)} of the RouterBench layout (columns"
            f" found: {_listing(table.columns)})",
        )
    model_list = _models(table, models)
    notes: list[str] = []
    ignored = [
        c
        for c in table.columns
        if c not in _REQUIRED
        and c not in model_list
        and not any(c == f"{m}{_RESPONSE}" or c == f"{m}{_COST}" for m in model_list)
    ]
    if ignored:
        notes.append(f"ignored column(s) {_listing(ignored)}")
    rows = [_row(table, k, model_list) for k in range(len(table.rows))]
    rows = _resolve_duplicates(table, rows, on_duplicate, notes)
    runs = [_Run(model=m, source=source) for m in model_list]
    for row in rows:
        for j, run in enumerate(runs):
            run.records.append(
                _Record(
                    task=row["task"],
                    instance_id=row["id"],
                    text=row["text"],
                    score=row["scores"][j],
                    where=row["where"],
                    cost=row["costs"][j],
                )
            )
    return _assemble(runs, name=name, threshold=threshold, notes=notes, kind="RouterBench")


def _models(table: _Table, listed: Sequence[str] | None) -> list[str]:
    columns = table.columns
    if listed is not None:
        names = [listed] if isinstance(listed, str) else list(listed)
        absent = [m for m in names if m not in columns]
        if absent:
            _fail(
                table.source,
                f"model column(s) {_listing(absent)} not in the table (columns:"
                f" {_listing(columns)})",
            )
        return names
    found = [
        c
        for c in columns
        if c not in _REQUIRED
        and "|" not in c
        and (f"{c}{_RESPONSE}" in columns or f"{c}{_COST}" in columns)
    ]
    if not found:
        _fail(
            table.source,
            "no model columns found: a model column <model> has a <model>|model_response or"
            f" <model>|total_cost column beside it (columns: {_listing(columns)})",
        )
    return found


def _cell_number(table: _Table, value: Any, where: str, what: str) -> Any:
    """A number cell as a Python number (``None`` for empty/null/NaN)."""
    if isinstance(value, _NonFinite):
        if value.token == "NaN":
            return None
        _fail(where, f"{what} is {value.token}")
    if table.textual and isinstance(value, str):
        if not value.strip():
            return None
        try:
            return float(value)
        except ValueError:
            _fail(where, f"{what} must be a number, got {_short(value)}")
    return value


def _cell_str(value: Any, where: str, column: str) -> str:
    if isinstance(value, bool) or value is None:
        _fail(where, f"{column} is {'empty' if value is None else _short(value)}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if not text.strip():
        _fail(where, f"{column} is empty")
    return text


def _row(table: _Table, k: int, models: list[str]) -> dict[str, Any]:
    row = table.rows[k]
    where = table.where(k)
    scores: list[float] = []
    costs: list[float] = []
    for m in models:
        value = _cell_number(table, row.get(m), where, f"score of model {m!r}")
        scores.append(_score(value, where, f"score of model {m!r}"))
        raw_cost = row.get(f"{m}{_COST}")
        cost = _cell_number(table, raw_cost, where, f"{m}{_COST}")
        costs.append(_cost(cost, where, f"{m}{_COST}"))
    return {
        "id": _cell_str(row.get("sample_id"), where, "sample_id"),
        "task": _cell_str(row.get("eval_name"), where, "eval_name"),
        "text": _cell_str(row.get("prompt"), where, "prompt"),
        "scores": scores,
        "costs": costs,
        "where": where,
        "loc": table.locs[k],
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def eq(x: list[float], y: list[float]) -> bool:
        return all((math.isnan(p) and math.isnan(q)) or p == q for p, q in zip(x, y, strict=True))

    return a["text"] == b["text"] and eq(a["scores"], b["scores"]) and eq(a["costs"], b["costs"])


def _resolve_duplicates(
    table: _Table, rows: list[dict[str, Any]], on_duplicate: str, notes: list[str]
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[int]] = {}
    for k, row in enumerate(rows):
        groups.setdefault((row["task"], row["id"]), []).append(k)
    keep = [True] * len(rows)
    merged = 0
    conflicting: list[tuple[tuple[str, str], list[int]]] = []
    for key, members in groups.items():
        if len(members) == 1:
            continue
        distinct = [members[0]]
        for k in members[1:]:
            if any(_same(rows[d], rows[k]) for d in distinct):
                keep[k] = False
                merged += 1
            else:
                distinct.append(k)
        if len(distinct) > 1:
            conflicting.append((key, distinct))
    if merged:
        notes.append(f"merged {_count(merged, 'row')} repeating an id with the same content")
    if not conflicting:
        return [r for r, k in zip(rows, keep, strict=True) if k]
    (task, iid), members = conflicting[0]
    if on_duplicate == "error":
        lines = ", ".join(str(rows[k]["loc"]) for k in members)
        _fail(
            f"{table.source}, {table.unit}s {lines}",
            f"sample_id {iid!r} (eval_name {task!r}) appears with different prompts or scores"
            f" ({_count(len(conflicting), 'id')} affected in all); choose"
            f" on_duplicate= one of {_listing(ON_DUPLICATE[1:])}",
        )
    n_rows = sum(len(m) for _, m in conflicting)
    if on_duplicate == "first":
        for _, ms in conflicting:
            for k in ms[1:]:
                keep[k] = False
        notes.append(
            f"on_duplicate='first': {_count(len(conflicting), 'id')} appeared with different"
            f" content; kept the first row of each, dropped {n_rows - len(conflicting)}"
        )
    elif on_duplicate == "drop":
        for _, ms in conflicting:
            for k in ms:
                keep[k] = False
        notes.append(
            f"on_duplicate='drop': dropped all {n_rows} rows of"
            f" {_count(len(conflicting), 'id')} that appeared with different content"
        )
    else:  # suffix
        taken = {(r["task"], r["id"]) for r in rows}
        for (t, base), ms in conflicting:
            for n, k in enumerate(ms[1:], 2):
                new = f"{base}#{n}"
                while (t, new) in taken:
                    new += "'"
                taken.add((t, new))
                rows[k] = {**rows[k], "id": new}
        notes.append(
            f"on_duplicate='suffix': {_count(len(conflicting), 'id')} appeared with different"
            f" content; renamed {n_rows - len(conflicting)} later row(s) to '<id>#2', ..."
        )
    out = [r for r, k in zip(rows, keep, strict=True) if k]
    if not out:
        _fail(table.source, "no rows left after dropping the duplicate ids")
    return out
