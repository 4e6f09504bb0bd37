"""Reading benchmark files into rows: formats, compression, text decoding, models.json.

Everything here stops at a :class:`_Table` (rows of cells, each with its line or row
number); what the cells mean is :mod:`._cells`' and :mod:`._layouts`' business.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_benchrouter.data._checks import _check_model_info, _fail, _listing, _short

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


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "file not found"
        _fail(str(path), what)
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(str(path), f"cannot read the file ({exc.strerror or exc})")


def _read_json_file(path: Path) -> Any:
    """Read one JSON document (UTF-8, a BOM allowed) from ``path``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        _fail(str(path), f"cannot read the file ({exc.strerror or exc})")
    text = _decode(data, str(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{path}, line {exc.lineno}", f"invalid JSON ({exc.msg} at column {exc.colno})")
