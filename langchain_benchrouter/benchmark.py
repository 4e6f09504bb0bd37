"""Benchmark score tables: tasks x inputs x models.

A :class:`Benchmark` holds, for every benchmark input, its text, its task and the
score in ``[0, 1]`` that each model obtained on it (``NaN`` where a model has no
result). It loads the files this package uses (wide or long JSON lines, CSV or
Parquet, optionally gzipped, with an optional ``models.json`` beside them) and checks
them thoroughly: every problem is reported as a
:class:`~langchain_benchrouter.errors.BenchmarkFormatError` naming the file, the line
or row and the problem.

Wide layout, one JSON object a line::

    {"instance_id": "q1", "task": "math", "split": "test", "text": "1+1?",
     "model-a": 1.0, "model-b": null, "metric": "em"}

An optional ``metric`` column names how an input is scored (``"em_mc"``,
``"code_eval"``, ...); tasks scored the same way tend to favour the same models, and
:meth:`Router.select_model(metric=...) <langchain_benchrouter.Router.select_model>`
uses it.

Long layout, one row per (task, input, model)::

    task,instance_id,text,model,score
    math,q1,1+1?,model-a,1.0
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import math
import numbers
import operator
import os
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.errors import BenchmarkFormatError, UnknownModelError

__all__ = ["Benchmark", "Layout", "METADATA_COLUMNS", "METRIC_COLUMN", "RESERVED_COLUMNS"]

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
"""Known per-input metadata columns: never taken for models; all but ``metric`` are
ignored when loading."""

_LONG_COLUMNS: tuple[str, ...] = (*RESERVED_COLUMNS, "model", "score")
_ID_COLUMNS: tuple[str, ...] = ("instance_id", "input_id")
_PRICE_KEYS: tuple[str, ...] = ("input_price", "output_price")
_GENERIC_STEMS = frozenset({"instances", "data", "scores", "benchmark", "results"})
_DATA_FILE_NAMES: tuple[str, ...] = (
    "instances.jsonl.gz",
    "instances.jsonl",
    "instances.json.gz",
    "instances.json",
    "instances.csv.gz",
    "instances.csv",
    "instances.tsv",
    "instances.parquet",
)

# Compression formats recognised (and refused) by magic bytes or by suffix.
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_UNSUPPORTED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x04\x22\x4d\x18", "lz4"),
)
_UNSUPPORTED_SUFFIXES = frozenset(
    {".zst", ".zstd", ".bz2", ".xz", ".lzma", ".zip", ".7z", ".lz4", ".br", ".z", ".tgz", ".tar"}
)
_FORMAT_SUFFIXES: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}

_FAST_NUMBER_TYPES = frozenset({float, int, bool, type(None)})


# --------------------------------------------------------------------------- helpers


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
    for key in _PRICE_KEYS:
        price = out.get(key)
        if price is None:
            continue
        if (
            isinstance(price, bool)
            or not isinstance(price, numbers.Real)
            or not math.isfinite(float(price))
            or float(price) < 0
        ):
            _fail(
                where,
                f"{key} of model {model!r} must be a non-negative number (USD per million"
                f" tokens) or null, got {_short(price)}",
            )
    return out


class _NonFinite:
    """A ``NaN``/``Infinity`` token met in JSON, kept so the error can name its column."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


@dataclass
class _Table:
    """Rows read from a source, before they are interpreted as a benchmark."""

    source: str
    unit: str  # "line" or "row": what ``locs`` count
    columns: list[str]
    rows: list[dict[str, Any]]
    locs: list[int]  # 1-based line or row number of each row
    textual: bool  # cells are strings (CSV): parse scores, empty cell = missing
    nan_is_missing: bool = False  # a float NaN score means missing (Python records)

    def where(self, i: int) -> str:
        return f"{self.source}, {self.unit} {self.locs[i]}"

    def where2(self, i: int, j: int) -> str:
        a, b = sorted((self.locs[i], self.locs[j]))
        return f"{self.source}, {self.unit}s {a} and {b}"


def _unscored(models: Sequence[str], known: npt.NDArray[np.bool_]) -> list[str]:
    """The models whose column of ``known`` (``(n, M)``, score exists) is all False."""
    return [models[j] for j in np.flatnonzero(~known.any(axis=0)).tolist()]


def _union_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    shapes: set[tuple[str, ...]] = set()
    for row in rows:
        shape = tuple(row)
        if shape not in shapes:
            shapes.add(shape)
            for key in shape:
                seen.setdefault(key, None)
    return list(seen)


# --------------------------------------------------------------------------- readers


def _decompress(data: bytes, source: str, suffixes: list[str]) -> tuple[bytes, list[str]]:
    """Gunzip ``data`` when it is gzip; refuse other compressions."""
    for magic, kind in _UNSUPPORTED_MAGIC:
        if data.startswith(magic):
            _fail(source, f"unknown compression ({kind}); only gzip (.gz) is supported")
    if suffixes and suffixes[-1] in _UNSUPPORTED_SUFFIXES:
        _fail(
            source,
            f"unknown compression (suffix {suffixes[-1]!r}); only gzip (.gz) is supported",
        )
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            _fail(source, f"corrupt gzip data ({exc})")
        for magic, kind in _UNSUPPORTED_MAGIC:
            if data.startswith(magic):
                _fail(source, f"unknown compression ({kind} inside gzip)")
    return data, suffixes


def _detect_format(data: bytes, source: str, suffixes: list[str]) -> str:
    if data.startswith(_PARQUET_MAGIC):
        return "parquet"
    if suffixes and suffixes[-1] in _FORMAT_SUFFIXES:
        return _FORMAT_SUFFIXES[suffixes[-1]]
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "jsonl"
    if head.startswith(b"["):
        return "json"
    _fail(
        source,
        "cannot tell the file format; use a .jsonl, .json, .csv, .tsv or .parquet"
        " file (optionally gzipped, .gz)",
    )


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        _fail(f"{source}, line {line}", "not valid UTF-8 text")


def _parse_constant(token: str) -> _NonFinite:
    return _NonFinite(token)


def _read_json_lines(text: str, source: str) -> _Table:
    decoder = json.JSONDecoder(parse_constant=_parse_constant)
    rows: list[dict[str, Any]] = []
    locs: list[int] = []
    # Split on "\n" only: JSON strings may hold raw U+2028 and friends.
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = decoder.decode(line)
        except json.JSONDecodeError as exc:
            _fail(f"{source}, line {lineno}", f"invalid JSON ({exc.msg} at column {exc.colno})")
        except RecursionError:
            _fail(f"{source}, line {lineno}", "invalid JSON (nested too deeply)")
        if not isinstance(obj, dict):
            _fail(
                f"{source}, line {lineno}",
                f"expected a JSON object, got {type(obj).__name__} {_short(obj)}",
            )
        rows.append(obj)
        locs.append(lineno)
    return _Table(source, "line", _union_columns(rows), rows, locs, textual=False)


def _read_json_document(text: str, source: str) -> _Table:
    try:
        doc = json.loads(text, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        _fail(f"{source}, line {exc.lineno}", f"invalid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        _fail(source, "invalid JSON (nested too deeply)")
    if not isinstance(doc, list):
        _fail(source, f"expected JSON lines or a JSON array of objects, got {type(doc).__name__}")
    for k, obj in enumerate(doc, 1):
        if not isinstance(obj, dict):
            _fail(
                f"{source}, row {k}",
                f"expected a JSON object, got {type(obj).__name__} {_short(obj)}",
            )
    rows: list[dict[str, Any]] = doc
    locs = list(range(1, len(rows) + 1))
    return _Table(source, "row", _union_columns(rows), rows, locs, textual=False)


def _read_csv(text: str, source: str, delimiter: str) -> _Table:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[dict[str, Any]] = []
    locs: list[int] = []
    try:
        header = next(reader, None)
        while header is not None and not header:  # skip leading blank lines
            header = next(reader, None)
        if header is None:
            _fail(source, "no rows (the file is empty)")
        header_line = reader.line_num
        columns = [h.strip() for h in header]
        for k, col in enumerate(columns, 1):
            if not col:
                _fail(f"{source}, line {header_line}", f"column {k} of the header has no name")
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            _fail(f"{source}, line {header_line}", f"duplicate column(s) {_listing(dupes)}")
        start = reader.line_num + 1
        for record in reader:
            if record:
                if len(record) != len(columns):
                    _fail(
                        f"{source}, line {start}",
                        f"has {len(record)} fields but the header has {len(columns)}",
                    )
                rows.append(dict(zip(columns, record, strict=True)))
                locs.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        _fail(f"{source}, line {reader.line_num}", f"malformed CSV ({exc})")
    return _Table(source, "line", columns, rows, locs, textual=True)


def _read_parquet(data: bytes, source: str) -> _Table:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = (
            f"reading {source} needs pyarrow: pip install 'langchain-benchrouter[parquet]'"
            " (or pip install pyarrow)"
        )
        raise ImportError(msg) from exc
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        _fail(source, f"not a valid Parquet file ({exc})")
    columns = [str(c) for c in table.column_names]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        _fail(source, f"duplicate column(s) {_listing(dupes)}")
    rows: list[dict[str, Any]] = table.to_pylist()
    locs = list(range(1, len(rows) + 1))
    return _Table(source, "row", columns, rows, locs, textual=False)


def _read_bytes(data: bytes, source: str, filename: str) -> _Table:
    suffixes = [s.lower() for s in Path(filename).suffixes]
    data, suffixes = _decompress(data, source, suffixes)
    fmt = _detect_format(data, source, suffixes)
    if fmt == "parquet":
        return _read_parquet(data, source)
    text = _decode(data, source)
    if fmt == "csv":
        return _read_csv(text, source, ",")
    if fmt == "tsv":
        return _read_csv(text, source, "\t")
    if fmt == "json" and text.lstrip().startswith("["):
        return _read_json_document(text, source)
    return _read_json_lines(text, source)


def _read_models_json(data: bytes, source: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Parse a ``models.json``: a list of names, or of objects with at least a ``name``."""
    what = f"{source}: malformed models.json"
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        _fail(what, "not valid UTF-8 text")
    except json.JSONDecodeError as exc:
        _fail(f"{what}, line {exc.lineno}", f"invalid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        _fail(what, "invalid JSON (nested too deeply)")
    if isinstance(doc, dict) and isinstance(doc.get("models"), list):
        doc = doc["models"]
    if not isinstance(doc, list) or not doc:
        _fail(
            what,
            "expected a non-empty list of model names or of objects with a 'name',"
            f" got {_short(doc)}",
        )
    names: list[str] = []
    info: dict[str, dict[str, Any]] = {}
    for k, entry in enumerate(doc, 1):
        where = f"{what}, entry {k}"
        name: Any
        extra: dict[str, Any]
        if isinstance(entry, str):
            name, extra = entry, {}
        elif isinstance(entry, dict):
            name = entry.get("name")
            extra = {key: value for key, value in entry.items() if key != "name"}
        else:
            _fail(where, f"expected a model name or an object, got {_short(entry)}")
        if not isinstance(name, str) or not name.strip():
            _fail(where, f"a model needs a non-empty string 'name', got {_short(name)}")
        if name in info:
            _fail(where, f"model {name!r} is listed twice")
        names.append(name)
        info[name] = _check_model_info(name, extra, where)
    return names, info


# --------------------------------------------------------------------------- cell parsing


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


# --------------------------------------------------------------------------- builders


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
    reserved = set(RESERVED_COLUMNS)
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
    ignored = [c for c in ignored if c != METRIC_COLUMN]
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
        return _Parsed(texts, tasks, final_ids, splits, scores, models, notes, metrics)

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
    for i in dup_rows:  # keep the first known split and metric
        j = keep[int(instance[i])]
        if splits[j] is None:
            splits[j] = splits[i]
        if metrics[j] is None:
            metrics[j] = metrics[i]
    return _Parsed(
        [texts[i] for i in keep],
        [tasks[i] for i in keep],
        [final_ids[i] for i in keep],
        [splits[i] for i in keep],
        flat.reshape(len(keep), n_models),
        models,
        notes,
        [metrics[i] for i in keep],
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
    ignored = [c for c in columns if c not in _LONG_COLUMNS and c != METRIC_COLUMN]
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

    texts: list[str] = []
    tasks: list[str] = []
    ids: list[str | None] = []
    splits: list[str | None] = []
    metrics: list[str | None] = []
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
    return _Parsed(
        texts, tasks, final_ids, splits, flat.reshape(len(texts), n_models), models, notes, metrics
    )


# --------------------------------------------------------------------------- Benchmark


class Benchmark:
    """Per-input scores of several models on the inputs of several tasks.

    ``scores[i, j]`` is the score in ``[0, 1]`` of model ``models[j]`` on input
    ``texts[i]`` (of task ``task_names[task_index[i]]``), or ``NaN`` when that model
    has no result on that input. Missing scores stay ``NaN`` everywhere.

    Example:
        >>> bench = Benchmark(
        ...     texts=["1+1?", "Capital of France?", "2*3?"],
        ...     tasks=["math", "geo", "math"],
        ...     scores=[[1.0, 0.0], [1.0, float("nan")], [0.0, 1.0]],
        ...     models=["small", "large"],
        ... )
        >>> bench
        Benchmark('benchmark': 3 inputs, 2 tasks, 2 models, 1 missing score, threshold=0.5)
        >>> bench.task_accuracy().tolist()
        [[0.5, 0.5], [1.0, nan]]
        >>> Benchmark.bundled().n_models
        9

    Attributes:
        texts: The input texts, one per input.
        instance_ids: Input identifiers, unique within a task.
        models: The model names, in column order.
        task_names: The task names, in order of first appearance.
        task_index: ``int64 (n,)``: the task of each input, an index into ``task_names``.
        scores: ``float32 (n, M)``: scores in ``[0, 1]``, ``NaN`` where missing.
        model_info: Per model, whatever is known about it (``size``, ``input_price``,
            ``output_price`` in USD per million tokens, ...); ``{}`` when unknown.
        splits: The ``split`` of each input in the source data (``None`` when unknown).
        metrics: How each input is scored (the ``metric`` column, e.g. ``"em_mc"``,
            ``"code_eval"``; ``None`` when unknown). :attr:`task_metrics` has one per task.
        threshold: Scores at or above it count as a success in :attr:`labels`.
        name: A short name for reports.
        notes: Human-readable reports of anything dropped, merged or ignored on the way.
    """

    texts: list[str]
    instance_ids: list[str]
    models: list[str]
    task_names: list[str]
    task_index: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]
    model_info: dict[str, dict[str, Any]]
    splits: list[str | None]
    metrics: list[str | None]
    threshold: float
    name: str
    notes: list[str]

    def __init__(
        self,
        *,
        texts: Sequence[str],
        tasks: Sequence[str],
        scores: npt.ArrayLike,
        models: Sequence[str],
        instance_ids: Sequence[str] | None = None,
        model_info: Mapping[str, Mapping[str, Any]] | None = None,
        threshold: float = 0.5,
        name: str = "benchmark",
        notes: Iterable[str] = (),
        splits: Sequence[str | None] | None = None,
        metrics: Sequence[str | None] | None = None,
    ) -> None:
        """Build and validate a benchmark.

        Args:
            texts: The input texts (non-empty strings).
            tasks: The task name of each input.
            scores: ``(n, M)`` scores in ``[0, 1]``, ``NaN`` for missing.
            models: The ``M`` model names (unique).
            instance_ids: Input identifiers, unique within a task; generated as
                ``"<task>-<row>"`` (1-based row) when omitted.
            model_info: Per model, what is known about it (prices in USD per million
                tokens under ``input_price`` and ``output_price``).
            threshold: Success threshold in ``(0, 1]`` for :attr:`labels`.
            name: A short name for reports.
            notes: Reports of anything dropped or merged while building the data.
            splits: The source ``split`` of each input, if known.
            metrics: How each input is scored (``None`` where unknown); all the inputs
                of a task should share one.

        Raises:
            BenchmarkFormatError: If anything is inconsistent; the message names the
                row (1-based) or model and the problem.
        """
        texts = list(texts)
        tasks = list(tasks)
        n = len(texts)
        if n == 0:
            msg = "a benchmark needs at least one input (got no rows)"
            raise BenchmarkFormatError(msg)
        if len(tasks) != n:
            msg = f"got {n} texts but {len(tasks)} tasks"
            raise BenchmarkFormatError(msg)
        for i, (text, task) in enumerate(zip(texts, tasks, strict=True), 1):
            if not isinstance(text, str) or not text.strip():
                what = "empty" if isinstance(text, str) else f"not a string ({_short(text)})"
                _fail(f"row {i}", f"text is {what}")
            if not isinstance(task, str) or not task.strip():
                _fail(f"row {i}", f"task must be a non-empty string, got {_short(task)}")
        model_names = _name_list(models, "model names")
        if not model_names:
            msg = "a benchmark needs at least one model"
            raise BenchmarkFormatError(msg)
        dupes = sorted({m for m in model_names if model_names.count(m) > 1})
        if dupes:
            msg = f"duplicate model name(s) {_listing(dupes)}"
            raise BenchmarkFormatError(msg)

        try:
            matrix = np.array(scores, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            msg = f"scores must be a numeric (n, M) array ({exc})"
            raise BenchmarkFormatError(msg) from exc
        if matrix.shape != (n, len(model_names)):
            msg = (
                f"scores has shape {matrix.shape}, expected ({n}, {len(model_names)})"
                " (inputs, models)"
            )
            raise BenchmarkFormatError(msg)
        with np.errstate(invalid="ignore"):
            bad = np.argwhere(np.isinf(matrix) | (matrix < 0.0) | (matrix > 1.0))
        if bad.size:
            i, j = (int(x) for x in bad[0])
            _fail(
                f"row {i + 1}",
                f"score {float(matrix[i, j])!r} for model {model_names[j]!r} is not in [0, 1]"
                " (use NaN for a missing score)",
            )
        unscored = _unscored(model_names, ~np.isnan(matrix))
        if unscored:
            msg = f"model(s) {_listing(unscored)} have no scores at all"
            raise BenchmarkFormatError(msg)

        if instance_ids is None:
            ids = [f"{task}-{i}" for i, task in enumerate(tasks, 1)]
        else:
            ids = list(instance_ids)
            if len(ids) != n:
                msg = f"got {n} texts but {len(ids)} instance_ids"
                raise BenchmarkFormatError(msg)
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

        if splits is None:
            split_list: list[str | None] = [None] * n
        else:
            split_list = list(splits)
            if len(split_list) != n:
                msg = f"got {n} texts but {len(split_list)} splits"
                raise BenchmarkFormatError(msg)
        metric_list: list[str | None] = [None] * n if metrics is None else list(metrics)
        if len(metric_list) != n:
            msg = f"got {n} texts but {len(metric_list)} metrics"
            raise BenchmarkFormatError(msg)
        for i, metric in enumerate(metric_list, 1):
            if metric is not None and (not isinstance(metric, str) or not metric.strip()):
                _fail(
                    f"row {i}", f"metric must be a non-empty string or None, not {_short(metric)}"
                )

        info: dict[str, dict[str, Any]] = {}
        for model in model_names:
            given = (model_info or {}).get(model)
            info[model] = {} if given is None else _check_model_info(model, given, "model_info")

        task_names = list(dict.fromkeys(tasks))
        lookup = {task: k for k, task in enumerate(task_names)}

        self.texts = texts
        self.instance_ids = ids
        self.models = model_names
        self.task_names = task_names
        self.task_index = np.fromiter((lookup[t] for t in tasks), dtype=np.int64, count=n)
        self.scores = matrix.astype(np.float32)
        self.model_info = info
        self.splits = split_list
        self.metrics = metric_list
        self.threshold = _check_threshold(threshold)
        self.name = str(name)
        self.notes = [str(note) for note in notes]
        mixed = [t for t, m in zip(task_names, self._task_metric_sets(), strict=True) if len(m) > 1]
        if mixed:
            self.notes.append(
                f"task(s) {_listing(mixed)} mix several metrics: their metric counts as unknown"
            )

    # ------------------------------------------------------------------ properties

    @property
    def n_inputs(self) -> int:
        """Number of inputs (rows)."""
        return len(self.texts)

    @property
    def n_models(self) -> int:
        """Number of models (columns)."""
        return len(self.models)

    @property
    def n_tasks(self) -> int:
        """Number of tasks."""
        return len(self.task_names)

    @property
    def tasks(self) -> list[str]:
        """The task name of each input."""
        return [self.task_names[k] for k in self.task_index.tolist()]

    def _task_metric_sets(self) -> list[set[str]]:
        sets: list[set[str]] = [set() for _ in self.task_names]
        for k, metric in zip(self.task_index.tolist(), self.metrics, strict=True):
            if metric is not None:
                sets[k].add(metric)
        return sets

    @property
    def task_metrics(self) -> list[str | None]:
        """How each task is scored, in the order of :attr:`task_names`.

        A task's metric is the one its inputs name; ``None`` when none names one or
        they name several (reported in :attr:`notes`).
        """
        return [next(iter(m)) if len(m) == 1 else None for m in self._task_metric_sets()]

    @property
    def mask(self) -> npt.NDArray[np.bool_]:
        """``bool (n, M)``: ``True`` where a score exists."""
        return ~np.isnan(self.scores)

    @property
    def labels(self) -> npt.NDArray[np.float32]:
        """``float32 (n, M)``: 1 where score >= threshold, 0 below, ``NaN`` if missing."""
        labels = (self.scores >= np.float32(self.threshold)).astype(np.float32)
        labels[np.isnan(self.scores)] = np.nan
        return labels

    def __len__(self) -> int:
        return self.n_inputs

    def __repr__(self) -> str:
        n_missing = int(np.isnan(self.scores).sum())
        parts = [
            _count(self.n_inputs, "input"),
            _count(self.n_tasks, "task"),
            _count(self.n_models, "model"),
        ]
        if n_missing:
            parts.append(_count(n_missing, "missing score"))
        return f"Benchmark({self.name!r}: {', '.join(parts)}, threshold={self.threshold:g})"

    # ------------------------------------------------------------------ statistics

    def task_accuracy(self) -> npt.NDArray[np.float64]:
        """Mean score per task and model over the scores that exist.

        Returns:
            ``float64 (T, M)`` in the order of :attr:`task_names` and :attr:`models`;
            ``NaN`` where a task has no score for a model.
        """
        known = ~np.isnan(self.scores)
        values = np.where(known, self.scores, 0.0).astype(np.float64)
        sums = np.zeros((self.n_tasks, self.n_models), dtype=np.float64)
        counts = np.zeros((self.n_tasks, self.n_models), dtype=np.float64)
        np.add.at(sums, self.task_index, values)
        np.add.at(counts, self.task_index, known.astype(np.float64))
        out = np.full_like(sums, np.nan)
        np.divide(sums, counts, out=out, where=counts > 0)
        return out

    def model_cost(self, model: str) -> float | None:
        """The price of a model: mean of its input and output prices.

        Args:
            model: A model name.

        Returns:
            USD per million tokens: the mean of ``input_price`` and ``output_price`` if
            both are known, else the one known, else ``None``.

        Raises:
            UnknownModelError: If ``model`` is not one of :attr:`models`.
        """
        if model not in self.model_info:
            msg = f"unknown model {model!r}; known models: {_listing(self.models)}"
            raise UnknownModelError(msg)
        info = self.model_info[model]
        prices = [float(info[k]) for k in _PRICE_KEYS if info.get(k) is not None]
        return sum(prices) / len(prices) if prices else None

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        layout: Layout = "auto",
        models: Sequence[str] | None = None,
        models_file: str | os.PathLike[str] | None = None,
        threshold: float = 0.5,
        name: str | None = None,
    ) -> Benchmark:
        """Load a benchmark file.

        The format follows the suffix: ``.jsonl``/``.ndjson`` (JSON lines), ``.json``
        (JSON lines or one array of objects), ``.csv``, ``.tsv`` or ``.parquet``
        (needs ``pyarrow``), each optionally gzipped (``.gz``, also detected by magic
        bytes). A directory loads its ``instances.*`` file.

        Args:
            path: The data file, or a directory holding ``instances.jsonl.gz`` (or
                ``.jsonl``, ``.csv``, ``.parquet``...).
            layout: ``"wide"`` (one row per input, one column per model), ``"long"``
                (one row per input and model with ``model`` and ``score`` columns) or
                ``"auto"`` (long when the columns ``model`` and ``score`` exist).
            models: The models to load, in order (overrides ``models.json``); other
                columns are ignored and reported in :attr:`notes`.
            models_file: A ``models.json`` listing the models in column order (names,
                or objects with a ``name`` and e.g. ``size``, ``input_price``,
                ``output_price``). When ``None``, a ``models.json`` beside the data file
                is used if there is one.
            threshold: Success threshold for :attr:`labels`.
            name: The benchmark's name; defaults to the file's stem (or its directory's
                name for a generic stem such as ``instances``).

        Returns:
            The benchmark.

        Raises:
            BenchmarkFormatError: If the file is missing or malformed; the message
                names the file, the line or row and the problem.
            ImportError: For a Parquet file when ``pyarrow`` is not installed.
        """
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
        return cls._from_table(
            table,
            layout=layout,
            listed=listed,
            listed_by=listed_by,
            model_info=info,
            threshold=threshold,
            name=name,
        )

    @classmethod
    def bundled(cls, name: str = "llmrouter", *, threshold: float = 0.5) -> Benchmark:
        """Load a benchmark shipped inside the package (``langchain_benchrouter/datasets``).

        Args:
            name: The dataset's folder name (``"llmrouter"``: 9 models, 14 tasks, 6,108
                inputs; see its ``PROVENANCE.md`` and ``LICENSE``).
            threshold: Success threshold for :attr:`labels`.

        Returns:
            The benchmark.

        Raises:
            BenchmarkFormatError: If no bundled dataset has that name.
        """
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
            listed, info = _read_models_json(
                models_entry.read_bytes(), f"<bundled {name}>/models.json"
            )
        return cls._from_table(
            table,
            layout="wide",
            listed=listed,
            listed_by=f"<bundled {name}>/models.json",
            model_info=info,
            threshold=threshold,
            name=name,
        )

    @classmethod
    def from_records(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        models: Sequence[str] | None = None,
        threshold: float = 0.5,
        name: str = "records",
        model_info: Mapping[str, Mapping[str, Any]] | None = None,
        layout: Layout = "auto",
    ) -> Benchmark:
        """Build a benchmark from dicts shaped like the lines of a wide or long file.

        Scores are numbers in ``[0, 1]``; ``None`` or a float ``NaN`` means missing.

        Example:
            >>> Benchmark.from_records(
            ...     [
            ...         {"task": "math", "text": "1+1?", "small": 1, "large": 1},
            ...         {"task": "math", "text": "2*3?", "small": 0, "large": None},
            ...     ]
            ... ).instance_ids
            ['math-1', 'math-2']

        Args:
            rows: Wide rows (``instance_id``, ``task``, ``text``, one key per model) or
                long rows (``task``, ``instance_id``, ``text``, ``model``, ``score``).
            models: The models to keep, in order; by default every numeric key (wide)
                or every ``model`` value (long).
            threshold: Success threshold for :attr:`labels`.
            name: The benchmark's name.
            model_info: Per model, what is known about it (see :attr:`model_info`).
            layout: ``"wide"``, ``"long"`` or ``"auto"`` (long when rows have ``model``
                and ``score`` keys).

        Returns:
            The benchmark.

        Raises:
            BenchmarkFormatError: If a row is malformed; the message names the row
                (1-based) and the problem.
        """
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
        info = dict(model_info or {})
        return cls._from_table(
            table,
            layout=layout,
            listed=listed,
            listed_by="models=",
            model_info=info,
            threshold=threshold,
            name=name,
        )

    @classmethod
    def _from_table(
        cls,
        table: _Table,
        *,
        layout: Layout,
        listed: list[str] | None,
        listed_by: str,
        model_info: Mapping[str, Mapping[str, Any]],
        threshold: float,
        name: str,
    ) -> Benchmark:
        threshold = _check_threshold(threshold)
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
        return cls(
            texts=parsed.texts,
            tasks=parsed.tasks,
            scores=parsed.scores,
            models=parsed.models,
            instance_ids=parsed.ids,
            model_info=model_info,
            threshold=threshold,
            name=name,
            notes=parsed.notes,
            splits=parsed.splits,
            metrics=parsed.metrics,
        )

    # ------------------------------------------------------------------ slicing

    def _derive(
        self,
        rows: npt.NDArray[np.intp],
        columns: npt.NDArray[np.intp] | None = None,
        *,
        name: str | None = None,
        note: str | None = None,
    ) -> Benchmark:
        """A new benchmark on some rows (and columns) of this one, without re-validation.

        Models left with no scores are kept (their column is all ``NaN``) and reported
        in :attr:`notes`, so that splits of one benchmark share their models.
        """
        if rows.size == 0:
            msg = f"the selection leaves no inputs of benchmark {self.name!r}"
            raise BenchmarkFormatError(msg)
        cols = np.arange(self.n_models) if columns is None else columns
        new = object.__new__(type(self))
        old_index = self.task_index[rows]
        present, first = np.unique(old_index, return_index=True)
        ordered = present[np.argsort(first, kind="stable")]
        remap = np.full(self.n_tasks, -1, dtype=np.int64)
        remap[ordered] = np.arange(ordered.size, dtype=np.int64)
        row_list = rows.tolist()
        new.texts = [self.texts[i] for i in row_list]
        new.instance_ids = [self.instance_ids[i] for i in row_list]
        new.splits = [self.splits[i] for i in row_list]
        new.metrics = [self.metrics[i] for i in row_list]
        new.models = [self.models[j] for j in cols.tolist()]
        new.task_names = [self.task_names[k] for k in ordered.tolist()]
        new.task_index = remap[old_index]
        new.scores = self.scores[np.ix_(rows, cols)]
        new.model_info = {m: dict(self.model_info[m]) for m in new.models}
        new.threshold = self.threshold
        new.name = self.name if name is None else name
        new.notes = list(self.notes)
        if note:
            new.notes.append(note)
        unscored = _unscored(new.models, new.mask)
        if unscored:
            new.notes.append(f"model(s) {_listing(unscored)} have no scores in this selection")
        return new

    def subset(self, rows: npt.ArrayLike) -> Benchmark:
        """The benchmark restricted to some inputs.

        Args:
            rows: Row indices (kept in the order given) or a boolean mask of length
                :attr:`n_inputs`.

        Returns:
            A new benchmark sharing this one's models.

        Raises:
            BenchmarkFormatError: If the selection is empty, out of range, repeats a row
                or is a mask of the wrong length.
        """
        index = np.asarray(rows)
        if index.dtype == np.bool_:
            if index.shape != (self.n_inputs,):
                msg = f"a row mask must have shape ({self.n_inputs},), got {index.shape}"
                raise BenchmarkFormatError(msg)
            picked = np.flatnonzero(index)
        elif index.size == 0:
            picked = np.empty(0, dtype=np.intp)
        elif np.issubdtype(index.dtype, np.integer) and index.ndim == 1:
            if index.min() < -self.n_inputs or index.max() >= self.n_inputs:
                msg = (
                    f"row indices must be in [0, {self.n_inputs}), got {index.min()}..{index.max()}"
                )
                raise BenchmarkFormatError(msg)
            picked = np.where(index < 0, index + self.n_inputs, index).astype(np.intp)
            if np.unique(picked).size != picked.size:
                msg = "row indices must not repeat (inputs must stay unique)"
                raise BenchmarkFormatError(msg)
        else:
            msg = (
                "rows must be a 1-D array of integer indices or a boolean mask,"
                f" got {index.dtype} {index.shape}"
            )
            raise BenchmarkFormatError(msg)
        return self._derive(picked.astype(np.intp))

    def _task_rows(self, tasks: str | Iterable[str]) -> npt.NDArray[np.bool_]:
        names = _name_list(tasks, "task names")
        unknown = [t for t in names if t not in self.task_names]
        if unknown:
            msg = (
                f"unknown task(s) {_listing(unknown)}; known tasks: {_listing(self.task_names, 30)}"
            )
            raise BenchmarkFormatError(msg)
        wanted = np.zeros(self.n_tasks, dtype=bool)
        wanted[[self.task_names.index(t) for t in names]] = True
        return wanted[self.task_index]

    def select_tasks(self, tasks: str | Iterable[str]) -> Benchmark:
        """The benchmark restricted to the inputs of some tasks.

        Args:
            tasks: A task name or task names.

        Returns:
            A new benchmark (inputs keep their order).

        Raises:
            BenchmarkFormatError: If a task is unknown (the message names it) or none is
                given.
        """
        return self._derive(np.flatnonzero(self._task_rows(tasks)))

    def drop_tasks(self, tasks: str | Iterable[str]) -> Benchmark:
        """The benchmark without the inputs of some tasks.

        Args:
            tasks: A task name or task names.

        Returns:
            A new benchmark (inputs keep their order).

        Raises:
            BenchmarkFormatError: If a task is unknown (the message names it) or every
                task would be dropped.
        """
        return self._derive(np.flatnonzero(~self._task_rows(tasks)))

    def select_models(self, models: str | Iterable[str]) -> Benchmark:
        """The benchmark restricted to some models, in the order given.

        Args:
            models: A model name or model names.

        Returns:
            A new benchmark with the same inputs.

        Raises:
            UnknownModelError: If a model is unknown (the message names it).
            BenchmarkFormatError: If no model is given or one is repeated.
        """
        names = _name_list(models, "model names")
        unknown = [m for m in names if m not in self.model_info]
        if unknown:
            msg = f"unknown model(s) {_listing(unknown)}; known models: {_listing(self.models, 40)}"
            raise UnknownModelError(msg)
        if not names:
            msg = "select_models needs at least one model"
            raise BenchmarkFormatError(msg)
        if len(set(names)) != len(names):
            msg = f"a model is repeated in {names!r}"
            raise BenchmarkFormatError(msg)
        columns = np.array([self.models.index(m) for m in names], dtype=np.intp)
        return self._derive(np.arange(self.n_inputs, dtype=np.intp), columns)

    def random_split(self, test_size: float = 0.2, seed: int = 0) -> tuple[Benchmark, Benchmark]:
        """Split the inputs at random into train and test, stratified by task.

        Each task contributes about ``test_size`` of its inputs to the test part; the
        total is ``round(test_size * n_inputs)``. Both parts keep every model.

        Args:
            test_size: Fraction of the inputs to hold out, in ``(0, 1)``.
            seed: Seed of the random generator.

        Returns:
            ``(train, test)``, each keeping the inputs' original order.

        Raises:
            BenchmarkFormatError: If ``test_size`` is not in ``(0, 1)`` or a part would
                be empty.
        """
        if (
            isinstance(test_size, bool)
            or not isinstance(test_size, numbers.Real)
            or not 0.0 < float(test_size) < 1.0
        ):
            msg = f"test_size must be a fraction in (0, 1), got {_short(test_size)}"
            raise BenchmarkFormatError(msg)
        n_test = round(float(test_size) * self.n_inputs)
        if not 0 < n_test < self.n_inputs:
            msg = (
                f"test_size={test_size} of {self.n_inputs} inputs leaves an empty train or"
                " test part"
            )
            raise BenchmarkFormatError(msg)
        counts = np.bincount(self.task_index, minlength=self.n_tasks)
        exact = counts * float(test_size)
        quota = np.floor(exact).astype(np.int64)
        remainder = exact - quota
        extra = n_test - int(quota.sum())
        if extra > 0:  # largest remainders first, ties by task order
            order = np.argsort(-remainder, kind="stable")
            quota[order[:extra]] += 1
        rng = np.random.default_rng(seed)
        is_test = np.zeros(self.n_inputs, dtype=bool)
        for task in range(self.n_tasks):
            members = np.flatnonzero(self.task_index == task)
            is_test[rng.permutation(members)[: int(quota[task])]] = True
        note = f"random split (test_size={test_size}, seed={seed}, stratified by task)"
        train = self._derive(np.flatnonzero(~is_test), name=f"{self.name}/train", note=note)
        test = self._derive(np.flatnonzero(is_test), name=f"{self.name}/test", note=note)
        return train, test


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "file not found"
        _fail(str(path), what)
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(str(path), f"cannot read the file ({exc.strerror or exc})")
