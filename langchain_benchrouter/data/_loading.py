"""From a file, a bundled dataset or records to the parsed columns of a Benchmark.

:meth:`Benchmark.load <langchain_benchrouter.data.benchmark.Benchmark.load>`,
:meth:`~langchain_benchrouter.data.benchmark.Benchmark.bundled` and
:meth:`~langchain_benchrouter.data.benchmark.Benchmark.from_records` each read their
source into a :class:`_Source` (the rows, and which models to take from them), and
:func:`_parse_source` turns it into a :class:`~._layouts._Parsed` in the wide or long
layout.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from langchain_benchrouter.data._checks import _fail, _listing, _name_list, _short
from langchain_benchrouter.data._formats import (
    _DATA_FILE_NAMES,
    _GENERIC_STEMS,
    _read_bytes,
    _read_file,
    _read_models_json,
    _Table,
    _union_columns,
)
from langchain_benchrouter.data._layouts import Layout, _build_long, _build_wide, _Parsed, _unscored
from langchain_benchrouter.errors import BenchmarkFormatError


@dataclass
class _Source:
    """Rows read for a benchmark, with the models listed for it (if any)."""

    table: _Table
    listed: list[str] | None
    listed_by: str  # where ``listed`` comes from, for messages
    model_info: Mapping[str, Mapping[str, Any]]
    name: str


def _read_path(
    path: str | os.PathLike[str],
    models: Sequence[str] | None,
    models_file: str | os.PathLike[str] | None,
    name: str | None,
) -> _Source:
    """Read a data file (or a directory's ``instances.*``) and its ``models.json``."""
    file = Path(path)
    if file.is_dir():
        found = next((file / n for n in _DATA_FILE_NAMES if (file / n).is_file()), None)
        if found is None:
            _fail(
                str(file),
                f"no data file in this directory (looked for {_listing(_DATA_FILE_NAMES)})",
            )
        file = found
    data = _read_file(file)
    table = _read_bytes(data, str(file), file.name)

    listed: list[str] | None = None
    info: dict[str, dict[str, Any]] = {}
    listed_by = "models="
    models_path = Path(models_file) if models_file is not None else None
    if models_path is None and file.name != "models.json":
        beside = file.parent / "models.json"
        models_path = beside if beside.is_file() else None
    if models_path is not None:
        listed, info = _read_models_json(_read_file(models_path), str(models_path))
        listed_by = str(models_path)
    if models is not None:
        listed, listed_by = _name_list(models, "models"), "models="
    if name is None:
        stem = file.name.split(".")[0]
        name = file.parent.name if stem.lower() in _GENERIC_STEMS and file.parent.name else stem
    return _Source(table, listed, listed_by, info, name)


def _read_bundled(name: str) -> _Source:
    """Read a dataset shipped in ``langchain_benchrouter/datasets``."""
    root = resources.files("langchain_benchrouter").joinpath("datasets")
    available = sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir() and entry.joinpath("instances.jsonl.gz").is_file()
    )
    if name not in available:
        msg = f"no bundled benchmark {name!r}; available: {_listing(available)}"
        raise BenchmarkFormatError(msg)
    folder = root.joinpath(name)
    source = f"<bundled {name}>/instances.jsonl.gz"
    table = _read_bytes(
        folder.joinpath("instances.jsonl.gz").read_bytes(), source, "instances.jsonl.gz"
    )
    listed: list[str] | None = None
    info: dict[str, dict[str, Any]] = {}
    models_entry = folder.joinpath("models.json")
    if models_entry.is_file():
        listed, info = _read_models_json(models_entry.read_bytes(), f"<bundled {name}>/models.json")
    return _Source(table, listed, f"<bundled {name}>/models.json", info, name)


def _read_records(
    rows: Iterable[Mapping[str, Any]],
    models: Sequence[str] | None,
    model_info: Mapping[str, Mapping[str, Any]] | None,
    name: str,
) -> _Source:
    """Take dicts shaped like the lines of a wide or long file as a table."""
    materialised: list[dict[str, Any]] = []
    for k, row in enumerate(rows, 1):
        if not isinstance(row, Mapping):
            _fail(f"records, row {k}", f"expected a mapping, got {type(row).__name__}")
        materialised.append(dict(row))
    table = _Table(
        "records",
        "row",
        _union_columns(materialised),
        materialised,
        list(range(1, len(materialised) + 1)),
        textual=False,
        nan_is_missing=True,
    )
    listed = _name_list(models, "models") if models is not None else None
    return _Source(table, listed, "models=", dict(model_info or {}), name)


def _parse_source(source: _Source, layout: Layout) -> _Parsed:
    """Build the benchmark's columns from ``source`` in ``layout`` (``"auto"`` detects it)."""
    table, listed, listed_by = source.table, source.listed, source.listed_by
    if layout not in ("auto", "wide", "long"):
        msg = f"layout must be 'auto', 'wide' or 'long', got {_short(layout)}"
        raise BenchmarkFormatError(msg)
    if listed is not None:
        if not listed:
            _fail(table.source, f"{listed_by} lists no models")
        repeated = sorted({m for m in listed if listed.count(m) > 1})
        if repeated:
            _fail(table.source, f"{listed_by} lists model(s) {_listing(repeated)} twice")
    if not table.rows:
        _fail(
            table.source,
            "no rows" if table.source == "records" else "no rows (the file has no data)",
        )
    if layout == "auto":
        long = "model" in table.columns and "score" in table.columns
        layout = "long" if long else "wide"
    if layout == "long":
        parsed = _build_long(table, listed, listed_by)
    else:
        parsed = _build_wide(table, listed, listed_by)
    known = ~np.isnan(parsed.scores)
    unscored = _unscored(parsed.models, known)
    if unscored:
        hint = (
            ""
            if listed is not None
            else " (if it is not a model, list the models in models.json or pass models=)"
        )
        _fail(table.source, f"model(s) {_listing(unscored)} have no scores at all{hint}")
    empty_rows = int((~known.any(axis=1)).sum())
    if empty_rows:
        parsed.notes.append(f"{empty_rows} input(s) have no score from any model")
    return parsed
