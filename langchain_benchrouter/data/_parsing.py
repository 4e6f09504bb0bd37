"""Reading benchmark files: formats, compression, wide and long layouts, models.json.

Private to :mod:`langchain_benchrouter.data`: :class:`Benchmark` builds on it. Every
problem becomes a :class:`~langchain_benchrouter.errors.BenchmarkFormatError` naming
the file, the line or row and the problem.
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
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.errors import BenchmarkFormatError

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
_PRICE_KEYS: tuple[str, ...] = ("input_price", "output_price")
_MEASURED_KEYS: dict[str, str] = {
    "cost_per_call": "USD per call",
    "latency_s": "seconds",
}
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
    for key, unit in _MEASURED_KEYS.items():
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
    references: list[str | None] | None = None
    costs: npt.NDArray[np.float64] | None = None


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


def _cost_columns(columns: Sequence[str]) -> dict[str, str]:
    """Map model name -> its per-call cost column (``<model>|cost`` or ``|total_cost``)."""
    found: dict[str, str] = {}
    for column in columns:
        for suffix in COST_SUFFIXES:
            if column.endswith(suffix) and len(column) > len(suffix):
                found.setdefault(column[: -len(suffix)], column)
    return found


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


# --------------------------------------------------------------------------- Benchmark


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "file not found"
        _fail(str(path), what)
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(str(path), f"cannot read the file ({exc.strerror or exc})")
