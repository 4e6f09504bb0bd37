"""The on-disk router format: versioned, pickle-free, checksummed, replaced atomically.

A saved router is a directory::

    router_dir/
      CURRENT                 two lines: "langchain-benchrouter/current 1", "v-<sha256>"
      v-<sha256>/manifest.json   (<sha256>: the SHA-256 of this manifest.json)
      v-<sha256>/arrays.npz
      .lock                   writers' advisory lock (POSIX; readers never open it)

* ``manifest.json``: format name and version, library version, parameters, embedder
  identity, model and task names, and for the array file its SHA-256, every array's
  name, dtype and shape.
* ``arrays.npz``: numeric arrays only, uncompressed ``.npy`` members.

**Saving** writes both files into a fresh temporary directory, renames it to
``v-<sha256 of the manifest>`` and only then replaces ``CURRENT`` (one atomic
``os.replace``), so a crash or a full disk at any instant leaves either the old or the new
router loadable, never a mix. The next save removes stale temporaries and every version
but the new one and the previous one (a concurrent reader may be opening the previous one
at that instant). Writers to one directory take turns through an ``flock`` on ``.lock``.
Files are created with mode ``0o666`` minus the umask (``0644`` under the usual umask).
Saving the same router twice gives identical bytes (the zip timestamps are fixed).

**Loading** reads ``CURRENT``, then each file of the version it names exactly once into
memory (bounded by a size cap), checks the SHA-256 of those bytes (the manifest's against
its version name, the arrays' against the manifest) and parses the same bytes: a router
being replaced meanwhile yields the old router, the new one, or an :class:`ArtifactError`,
never parts of both. The manifest is validated against a schema (types, ranges, unique
names, bounded nesting), every ``.npy`` header is checked against the declared dtype and
shape and against the member's byte size before any array is allocated, and nothing is
unpickled. File names are fixed (never taken from the manifest). Reading never writes: a
saved router can be loaded from a read-only, shared directory by any number of processes.

The checksums catch accidental corruption and partial writes, not a determined attacker
who can write the directory (they can rewrite the files and their checksums alike); the
schema and the size checks bound what such a rewrite can do (no code runs, no unbounded
allocation). A directory of the earlier layout (``manifest.json`` and ``arrays.npz``
directly inside it, no ``CURRENT``) still loads, with the same checks except the manifest
checksum, which that layout does not have.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import secrets
import shutil
import stat
import struct
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from numpy.lib import format as npy_format
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from langchain_benchrouter.errors import ArtifactError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ArrayInfo",
    "Manifest",
    "read_artifact",
    "read_manifest_json",
    "replace_manifest",
    "write_artifact",
]

FORMAT = "langchain-benchrouter/router"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
#: The pointer file naming the current version directory.
POINTER = "CURRENT"
POINTER_HEADER = b"langchain-benchrouter/current 1\n"
#: Writers' lock file (an empty file; readers never open it).
LOCK = ".lock"
#: Every temporary a save creates starts with this prefix (removed by the next save).
TMP_PREFIX = ".tmp-"
#: dtypes an artifact may contain (object and void dtypes could carry pickles).
ALLOWED_DTYPES = frozenset({"float16", "float32", "float64", "int64", "int32", "bool"})
#: Upper bound on the manifest's size: it is metadata, never data.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
#: Upper bound on the pointer file.
MAX_POINTER_BYTES = 4096
#: Upper bound on the array file (read whole into memory).
MAX_ARRAYS_BYTES = 32 * 1024**3
#: Upper bound on one array's element count (checked from its header, before allocation).
MAX_ARRAY_ELEMENTS = 2**33
#: Upper bound on an ``.npy`` header.
MAX_NPY_HEADER = 10_000
#: Deepest nesting of JSON arrays/objects a manifest may have.
MAX_JSON_DEPTH = 32
#: Upper bound on model, task, metric and vocabulary names.
MAX_NAME_CHARS = 1024
#: Upper bound on the embedding dimension.
MAX_DIMENSION = 65_536
#: How often a load starts over when the version it was reading was replaced and removed.
LOAD_ATTEMPTS = 5
#: Array names: plain identifiers (they become zip member names ``<name>.npy``).
ARRAY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
VERSION_DIR = re.compile(r"v-([0-9a-f]{64})")
_POINTER_TEXT = re.compile(re.escape(POINTER_HEADER) + rb"v-([0-9a-f]{64})\n")
_LEGACY_TMP = re.compile(r"tmp[A-Za-z0-9_]*\.npz\.tmp|manifest\.json\.tmp")
#: model_info keys that must be non-negative finite numbers (or null) when present.
_NON_NEGATIVE_INFO = ("input_price", "output_price", "cost_per_call", "latency_s")
#: Fixed zip timestamp: the same arrays always give the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

#: Test hook: called with the name of each step of a save ("arrays-written",
#: "manifest-written", "version-renamed", "pointer-written", "pointer-switched",
#: "cleaned"); crash tests make it kill the process at one of them.
_step_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if _step_hook is not None:
        _step_hook(name)


# --------------------------------------------------------------------------- schema

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
Name = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME_CHARS)]
NonNegative = Annotated[float, Field(ge=0.0)]
Count = Annotated[StrictInt, Field(ge=1, le=10**7)]


def _not_blank(names: list[str | None]) -> list[str | None]:
    if any(n is not None and not n.strip() for n in names):
        msg = "names must not be empty or whitespace"
        raise ValueError(msg)
    return names


def _unique(names: list[str]) -> list[str]:
    _not_blank(list(names))
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:3]
        msg = f"names must be unique, {dup} repeat"
        raise ValueError(msg)
    return names


class _MLPParams(BaseModel):
    model_config = _STRICT
    hidden: Annotated[list[Count], Field(min_length=2, max_length=2)] | None = None
    epochs: Annotated[StrictInt, Field(ge=0, le=10**6)] | None = None
    learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] | None = None
    weight_decay: Annotated[float, Field(ge=0.0, le=10.0)] | None = None
    batch_size: Count | None = None
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    random_state: StrictInt | None = None


class _Params(BaseModel):
    """The router's constructor parameters (see ``Router._validate_params``)."""

    model_config = _STRICT
    k: Count = 5
    predictor: Literal["knn", "mlp"] = "knn"
    predictor_params: _MLPParams = Field(default_factory=_MLPParams)
    descriptor_neighbors: Count = 19
    bandwidth: Annotated[float, Field(gt=0.0, le=1e6)] = 0.09
    shrink_threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = 0.6
    correctness_threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    tie_break: Annotated[float, Field(ge=0.0, le=1e6)] = 0.01
    index_dtype: Literal["float32", "float16"] = "float32"
    approximate_above: Annotated[StrictInt, Field(ge=1)] | None = None
    lexical: StrictBool = True


class _Calibration(BaseModel):
    model_config = _STRICT
    task_k: Count
    task_prior: Annotated[float, Field(ge=0.0, le=1e9)]
    delta: Annotated[float, Field(ge=0.0, le=1.0)]
    a0: Annotated[float, Field(ge=0.0, le=1e9)]
    delta_labeled: Annotated[float, Field(ge=0.0, le=1.0)]
    route_k: Count
    route_prior: Annotated[float, Field(ge=0.0, le=1e9)]


class _Predictor(BaseModel):
    model_config = _STRICT
    kind: Literal["knn", "mlp"]
    k: Count | None = None
    hidden: Annotated[list[Count], Field(min_length=2, max_length=2)] | None = None
    epochs: Annotated[StrictInt, Field(ge=0, le=10**6)] | None = None
    learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] | None = None
    weight_decay: Annotated[float, Field(ge=0.0, le=10.0)] | None = None
    batch_size: Count | None = None
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    random_state: StrictInt | None = None
    n_layers: Annotated[StrictInt, Field(ge=1, le=64)] | None = None
    calibration: _Calibration | None = None

    @model_validator(mode="after")
    def _knn_has_k(self) -> _Predictor:
        if self.kind == "knn" and self.k is None:
            msg = "a knn predictor needs k"
            raise ValueError(msg)
        return self


def _plain_name(name: str) -> str:
    if not name.isprintable():
        msg = "the embedder name must be printable text"
        raise ValueError(msg)
    if name.startswith("hashing-") and not re.fullmatch(r"hashing-[1-9][0-9]{0,5}", name):
        msg = "a hashing embedder name is 'hashing-<dimension>'"
        raise ValueError(msg)
    return name


class _Embedder(BaseModel):
    model_config = _STRICT
    name: Annotated[StrictStr, Field(min_length=1, max_length=512), AfterValidator(_plain_name)]
    dimension: Annotated[StrictInt, Field(ge=1, le=MAX_DIMENSION)]

    @model_validator(mode="after")
    def _hashing_dimension(self) -> _Embedder:
        if self.name.startswith("hashing-") and int(self.name[8:]) != self.dimension:
            msg = f"embedder {self.name!r} has dimension {self.name[8:]}, not {self.dimension}"
            raise ValueError(msg)
        return self


class _Lexical(BaseModel):
    """The lexical correction's parameters (``LexicalResidualModel.from_state`` checks presence)."""

    model_config = _STRICT
    alpha: Annotated[float, Field(ge=0.0)] | None = None
    margin: float | None = None
    tuning_gain: float | None = None
    vocabulary: list[Name] | None = None


def _model_info(info: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for model, fields in info.items():
        for key in _NON_NEGATIVE_INFO:
            value = fields.get(key)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                msg = f"{key} of model {model!r} must be a non-negative finite number or null"
                raise ValueError(msg)
    return info


def _sub(schema: type[BaseModel]) -> AfterValidator:
    """Validate a dict field against ``schema`` but keep the plain dict (Router.load reads it)."""

    def check(value: dict[str, Any]) -> dict[str, Any]:
        try:
            schema.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "(value)"
            msg = f"{where}: {err['msg']}"
            raise ValueError(msg) from None
        return value

    return AfterValidator(check)


class ArrayInfo(BaseModel):
    """Declared dtype and shape of one stored array."""

    model_config = ConfigDict(extra="forbid", strict=True)
    dtype: Literal["float16", "float32", "float64", "int64", "int32", "bool"]
    shape: Annotated[list[Annotated[StrictInt, Field(ge=0)]], Field(max_length=32)]

    @model_validator(mode="after")
    def _bounded(self) -> ArrayInfo:
        if math.prod(self.shape) > MAX_ARRAY_ELEMENTS:
            msg = f"shape {self.shape} exceeds {MAX_ARRAY_ELEMENTS} elements"
            raise ValueError(msg)
        return self


class Manifest(BaseModel):
    """The JSON metadata of a saved router (schema-checked on save and on load).

    The ``params``, ``predictor``, ``embedder``, ``lexical`` and ``model_info`` fields stay
    plain dicts for :meth:`Router.load`, but each is checked against a strict schema:
    types, ranges, finite numbers, no unknown keys.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    format: Literal["langchain-benchrouter/router"]
    format_version: Literal[1]
    library_version: Annotated[StrictStr, Field(max_length=100)]
    params: Annotated[dict[str, Any], _sub(_Params)]
    predictor: Annotated[dict[str, Any], _sub(_Predictor)]
    embedder: Annotated[dict[str, Any], _sub(_Embedder)]
    models: Annotated[list[Name], Field(min_length=1), AfterValidator(_unique)]
    tasks: Annotated[list[Name], AfterValidator(_unique)]
    task_metrics: Annotated[list[Name | None], AfterValidator(_not_blank)] | None = None
    lexical: Annotated[dict[str, Any], _sub(_Lexical)] | None = None
    model_info: Annotated[dict[Name, dict[Name, Any]], AfterValidator(_model_info)]
    score_threshold: float = Field(gt=0.0, le=1.0)
    arrays: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")], ArrayInfo]
    sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        kind = self.params.get("predictor", "knn")
        if self.predictor["kind"] != kind:
            msg = f"predictor kind {self.predictor['kind']!r} but params say {kind!r}"
            raise ValueError(msg)
        if kind == "knn" and self.predictor["k"] != self.params.get("k", 5):
            msg = f"predictor k {self.predictor['k']} differs from params k"
            raise ValueError(msg)
        if self.task_metrics is not None and len(self.task_metrics) != len(self.tasks):
            msg = (
                f"task_metrics has {len(self.task_metrics)} entries for {len(self.tasks)} "
                "tasks (one name or null per task)"
            )
            raise ValueError(msg)
        if unknown := sorted(set(self.model_info) - set(self.models))[:3]:
            msg = f"model_info names models {unknown} that are not in models"
            raise ValueError(msg)
        return self


# --------------------------------------------------------------------------- JSON


def _json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        msg = f"number {text[:20]!r} overflows to infinity"
        raise ValueError(msg)
    return value


def _no_constant(name: str) -> Any:
    msg = f"{name} is not a number the manifest may hold"
    raise ValueError(msg)


def _parse_json(data: bytes, where: str) -> Any:
    try:
        raw = json.loads(
            data.decode("utf-8"), parse_float=_finite_float, parse_constant=_no_constant
        )
    except RecursionError as exc:
        msg = f"{where}: JSON nested too deeply (at most {MAX_JSON_DEPTH} levels allowed)"
        raise ArtifactError(msg) from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN, huge integers
        msg = f"{where}: not valid JSON ({exc}); the artifact is corrupted"
        raise ArtifactError(msg) from exc
    if _json_depth(raw) > MAX_JSON_DEPTH:
        msg = f"{where}: JSON nested too deeply (at most {MAX_JSON_DEPTH} levels allowed)"
        raise ArtifactError(msg)
    return raw


def _validate_manifest(raw: Any, where: str) -> Manifest:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        msg = f"{where}: not a langchain-benchrouter router (format {FORMAT!r} expected)"
        raise ArtifactError(msg)
    if raw.get("format_version") != FORMAT_VERSION:
        msg = (
            f"{where}: router format version {raw.get('format_version')!r} is not "
            f"supported by this library (it reads version {FORMAT_VERSION}); "
            "refit and save the router again"
        )
        raise ArtifactError(msg)
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        at = f" at {loc!r}" if loc else ""
        msg = f"{where}: invalid manifest{at}: {first['msg'].removeprefix('Value error, ')}"
        raise ArtifactError(msg) from exc
    except RecursionError as exc:  # pragma: no cover - depth is bounded above
        msg = f"{where}: manifest nested too deeply"
        raise ArtifactError(msg) from exc


def _plain_json(value: Any) -> Any:
    """``json.dumps`` default: numpy scalars become Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    msg = f"{type(value).__name__} is not JSON serializable"
    raise TypeError(msg)


# --------------------------------------------------------------------------- writing


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Arrays as an uncompressed npz, byte-for-byte reproducible (fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                npy_format.write_array(fh, np.asanyarray(arr), allow_pickle=False)
    return buf.getvalue()


def _write_file(path: Path, data: bytes) -> None:
    """Create ``path`` (must not exist) with mode 0o666 minus the umask; write; fsync."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be opened on Windows
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _writer_lock(root: Path) -> Iterator[None]:
    """Serialize writers of one directory (POSIX ``flock``; released even on SIGKILL)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one writer at a time is up to you
        yield
        return
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _current_version(root: Path) -> str | None:
    """The version directory name ``CURRENT`` points to, or None (no or damaged pointer)."""
    try:
        data = _read_capped(root / POINTER, MAX_POINTER_BYTES, root / POINTER)
    except (ArtifactError, OSError):
        return None
    m = _POINTER_TEXT.fullmatch(data)
    return f"v-{m.group(1).decode()}" if m else None


def _version_intact(vdir: Path, digest: str) -> bool:
    try:
        manifest = _read_capped(vdir / MANIFEST, MAX_MANIFEST_BYTES, vdir)
        arrays = _read_capped(vdir / ARRAYS, MAX_ARRAYS_BYTES, vdir)
        raw = json.loads(manifest)
    except (ArtifactError, OSError, ValueError):
        return False
    return (
        hashlib.sha256(manifest).hexdigest() == digest
        and isinstance(raw, dict)
        and raw.get("sha256") == hashlib.sha256(arrays).hexdigest()
    )


def _is_legacy_manifest(path: Path) -> bool:
    try:
        raw = json.loads(_read_capped(path, MAX_MANIFEST_BYTES, path))
    except (ArtifactError, OSError, ValueError):
        return False
    return isinstance(raw, dict) and raw.get("format") == FORMAT


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _cleanup(root: Path, keep: set[str], *, drop_legacy: bool) -> None:
    """Remove temporaries and versions other than ``keep`` (best effort, under the lock)."""
    for entry in os.listdir(root):
        stale_version = VERSION_DIR.fullmatch(entry) is not None and entry not in keep
        if entry.startswith(TMP_PREFIX) or _LEGACY_TMP.fullmatch(entry) or stale_version:
            _remove(root / entry)
    if drop_legacy and _is_legacy_manifest(root / MANIFEST):
        # The earlier layout's files are at least two versions old by now.
        _remove(root / MANIFEST)
        _remove(root / ARRAYS)


def _commit(root: Path, manifest_bytes: bytes, arrays_bytes: bytes) -> Path:
    """Write a new version holding these bytes and make it current (see the module doc)."""
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    version = f"v-{digest}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _writer_lock(root):
            previous = _current_version(root)
            final = root / version
            if not (final.is_dir() and _version_intact(final, digest)):
                token = secrets.token_hex(8)
                tmp = root / f"{TMP_PREFIX}{token}"
                os.mkdir(tmp)
                try:
                    _write_file(tmp / ARRAYS, arrays_bytes)
                    _step("arrays-written")
                    _write_file(tmp / MANIFEST, manifest_bytes)
                    _step("manifest-written")
                    _fsync_dir(tmp)
                    if final.exists():  # a damaged copy of the same version: set it aside
                        os.rename(final, root / f"{TMP_PREFIX}{token}-damaged")
                    os.rename(tmp, final)
                except BaseException:
                    _remove(tmp)
                    raise
                _fsync_dir(root)
            _step("version-renamed")
            pointer_tmp = root / f"{TMP_PREFIX}{secrets.token_hex(8)}-{POINTER}"
            try:
                _write_file(pointer_tmp, POINTER_HEADER + f"{version}\n".encode())
                _step("pointer-written")
                os.replace(pointer_tmp, root / POINTER)
            except BaseException:
                _remove(pointer_tmp)
                raise
            _fsync_dir(root)
            _step("pointer-switched")
            _cleanup(root, {version, previous or version}, drop_legacy=previous is not None)
            _step("cleaned")
    except OSError as exc:
        msg = (
            f"{root}: could not save the router ({exc}); the router saved there before, "
            "if any, is unchanged"
        )
        raise ArtifactError(msg) from exc
    return root


def write_artifact(
    path: str | os.PathLike[str], meta: dict[str, Any], arrays: dict[str, np.ndarray]
) -> Path:
    """Save ``arrays`` and ``meta`` as the current router of the directory ``path``.

    The directory is created if needed. The new version is written beside the old one and
    switched in with one atomic rename (see the module docstring): after a crash or a full
    disk, either the old or the new router loads.

    Args:
        path: the router directory.
        meta: the manifest fields other than ``format``, ``format_version``, ``arrays``
            and ``sha256`` (which are computed here).
        arrays: the numeric arrays, by identifier.

    Returns:
        The router directory.

    Raises:
        ArtifactError: an array name or dtype the format does not allow, a manifest the
            loader would refuse (it is validated by the same schema), or a write error
            (disk full, permissions); in the last case the previous router is unchanged.
    """
    for name, arr in arrays.items():
        if not ARRAY_NAME.fullmatch(name):
            msg = f"array name {name!r} is not a plain identifier"
            raise ArtifactError(msg)
        if str(arr.dtype) not in ALLOWED_DTYPES:
            msg = f"array {name!r} has dtype {arr.dtype}, which the artifact format does not allow"
            raise ArtifactError(msg)
    arrays_bytes = _npz_bytes(arrays)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **meta,
        "arrays": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()},
        "sha256": hashlib.sha256(arrays_bytes).hexdigest(),
    }
    try:
        text = json.dumps(manifest, indent=1, allow_nan=False, default=_plain_json)
    except (TypeError, ValueError) as exc:
        msg = f"cannot save the router: its metadata is not finite JSON ({exc})"
        raise ArtifactError(msg) from exc
    manifest_bytes = text.encode("utf-8")
    # The writer refuses whatever the reader would refuse: never an unloadable artifact.
    _validate_manifest(_parse_json(manifest_bytes, "manifest to save"), "cannot save the router")
    return _commit(Path(path), manifest_bytes, arrays_bytes)


def replace_manifest(path: str | os.PathLike[str], manifest: Mapping[str, Any]) -> Path:
    """Make ``manifest`` (written verbatim, not validated) the current manifest of ``path``.

    The array file is kept; the new version gets its own checksum. For migrations and for
    tests of the loader's checks: what is written here is checked when it is loaded.

    Args:
        path: a router directory written by :func:`write_artifact`.
        manifest: the new manifest, e.g. :func:`read_manifest_json` output, edited.

    Returns:
        The router directory.
    """
    root = Path(path)
    _, arrays_bytes, _ = _read_files(root)
    text = json.dumps(manifest, indent=1, default=_plain_json)
    return _commit(root, text.encode("utf-8"), arrays_bytes)


def read_manifest_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The current manifest of the router directory ``path`` as plain JSON (not validated)."""
    manifest_bytes, _, where = _read_files(Path(path))
    raw = _parse_json(manifest_bytes, where)
    if not isinstance(raw, dict):
        msg = f"{where}: the manifest is not a JSON object"
        raise ArtifactError(msg)
    return raw


# --------------------------------------------------------------------------- reading


class _Replaced(Exception):
    """The version being read was replaced and removed meanwhile: start over."""


def _read_capped(path: Path, cap: int, where: Path) -> bytes:
    """The whole regular file ``path`` (one open, one read), refusing more than ``cap`` bytes.

    Raises:
        FileNotFoundError: ``path`` does not exist (callers tell a replaced version apart).
        ArtifactError: not a regular file, too large, or unreadable.
    """
    try:
        with path.open("rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                msg = f"{where}: {path.name} is not a regular file"
                raise ArtifactError(msg)
            if info.st_size > cap:
                msg = f"{where}: {path.name} is implausibly large ({info.st_size} bytes > {cap})"
                raise ArtifactError(msg)
            data = fh.read(info.st_size + 1)  # +1: notices a file that grew
    except FileNotFoundError:
        raise
    except OSError as exc:
        msg = f"{where}: cannot read {path.name} ({exc})"
        raise ArtifactError(msg) from exc
    if len(data) > cap:
        msg = f"{where}: {path.name} is implausibly large (more than {cap} bytes)"
        raise ArtifactError(msg)
    return data


def _read_files(root: Path) -> tuple[bytes, bytes, str]:
    """The manifest and array bytes of the current version, the manifest's checksum verified.

    Raises:
        _Replaced: the version vanished because a save replaced it meanwhile.
        ArtifactError: anything else.
    """
    if not root.is_dir():
        msg = f"{root}: no saved router here (expected a directory written by Router.save)"
        raise ArtifactError(msg)
    try:
        pointer = _read_capped(root / POINTER, MAX_POINTER_BYTES, root)
    except FileNotFoundError:
        pointer = None
    if pointer is None:  # the earlier layout (or a directory loaded by its version path)
        for name in (MANIFEST, ARRAYS):
            if not (root / name).is_file():
                if (root / POINTER).exists():
                    raise _Replaced
                msg = f"{root}: missing {name}; no saved router here, or it is incomplete"
                raise ArtifactError(msg)
        try:
            manifest_bytes = _read_capped(root / MANIFEST, MAX_MANIFEST_BYTES, root)
            arrays_bytes = _read_capped(root / ARRAYS, MAX_ARRAYS_BYTES, root)
        except FileNotFoundError as exc:
            if (root / POINTER).exists():
                raise _Replaced from exc
            msg = f"{root}: {exc.filename} vanished while loading"
            raise ArtifactError(msg) from exc
        where = str(root / MANIFEST)
        named = VERSION_DIR.fullmatch(root.name)
        expected = named.group(1) if named else None
    else:
        m = _POINTER_TEXT.fullmatch(pointer)
        if m is None:
            msg = (
                f"{root}: {POINTER} is not a router pointer of this format "
                "(damaged, or written by another version of the library)"
            )
            raise ArtifactError(msg)
        expected = m.group(1).decode()
        vdir = root / f"v-{expected}"
        where = str(vdir / MANIFEST)
        try:
            manifest_bytes = _read_capped(vdir / MANIFEST, MAX_MANIFEST_BYTES, vdir)
            arrays_bytes = _read_capped(vdir / ARRAYS, MAX_ARRAYS_BYTES, vdir)
        except FileNotFoundError as exc:
            if _current_version(root) != vdir.name:
                raise _Replaced from exc
            msg = f"{root}: {POINTER} names {vdir.name}, but {exc.filename} is missing"
            raise ArtifactError(msg) from exc
    if expected is not None and hashlib.sha256(manifest_bytes).hexdigest() != expected:
        msg = f"{where}: checksum mismatch (the manifest was modified, truncated or corrupted)"
        raise ArtifactError(msg)
    return manifest_bytes, arrays_bytes, where


def _npy_header(fh: Any, where: str) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    version = npy_format.read_magic(fh)
    if version == (1, 0):
        return npy_format.read_array_header_1_0(fh, max_header_size=MAX_NPY_HEADER)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(fh, max_header_size=MAX_NPY_HEADER)
    msg = f"{where}: .npy format version {version} is not supported"
    raise ArtifactError(msg)


def _parse_arrays(data: bytes, manifest: Manifest, where: str) -> dict[str, np.ndarray]:
    """The arrays of an npz held in memory, every header checked before allocating."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    infos = zf.infolist()
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if not (name.endswith(".npy") and ARRAY_NAME.fullmatch(name[:-4])):
            msg = f"{where}: unexpected member {name!r} (only <identifier>.npy allowed)"
            raise ArtifactError(msg)
        if name in seen:
            msg = f"{where}: member {name!r} appears twice"
            raise ArtifactError(msg)
        seen.add(name)
        if info.compress_type != zipfile.ZIP_STORED or info.file_size > len(data):
            msg = f"{where}: member {name!r} is compressed or larger than the file"
            raise ArtifactError(msg)
        if info.flag_bits & 0x1:
            msg = f"{where}: member {name!r} is encrypted"
            raise ArtifactError(msg)
    names = {n[:-4] for n in seen}
    if names != set(manifest.arrays):
        listed = sorted(manifest.arrays)
        msg = f"{where}: arrays {sorted(names)} differ from the manifest's {listed}"
        raise ArtifactError(msg)
    arrays: dict[str, np.ndarray] = {}
    for info in infos:
        name = info.filename[:-4]
        declared = manifest.arrays[name]
        with zf.open(info) as fh:
            shape, fortran, dtype = _npy_header(fh, where)
            if (
                dtype.hasobject
                or str(dtype) != declared.dtype
                or list(shape) != declared.shape
                or any(not isinstance(d, int) or d < 0 for d in shape)
            ):
                msg = (
                    f"{where}: array {name!r} is {dtype}{list(shape)}, "
                    f"manifest says {declared.dtype}{declared.shape}"
                )
                raise ArtifactError(msg)
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            available = info.file_size - fh.tell()
            if count > MAX_ARRAY_ELEMENTS or nbytes != available:
                msg = (
                    f"{where}: array {name!r} claims {count} elements ({nbytes} bytes) but "
                    f"its member holds {available} bytes"
                )
                raise ArtifactError(msg)
            raw = fh.read(nbytes)
        if len(raw) != nbytes:
            msg = f"{where}: array {name!r} is truncated"
            raise ArtifactError(msg)
        flat = np.frombuffer(raw, dtype=dtype, count=count)
        arrays[name] = flat.reshape(shape, order="F" if fortran else "C").copy(order="K")
    return arrays


def _read_once(root: Path) -> tuple[Manifest, dict[str, np.ndarray]]:
    manifest_bytes, arrays_bytes, where = _read_files(root)
    manifest = _validate_manifest(_parse_json(manifest_bytes, where), where)
    arrays_where = where[: -len(MANIFEST)] + ARRAYS
    if hashlib.sha256(arrays_bytes).hexdigest() != manifest.sha256:
        msg = f"{arrays_where}: checksum mismatch (the file was modified, truncated or corrupted)"
        raise ArtifactError(msg)
    try:
        arrays = _parse_arrays(arrays_bytes, manifest, arrays_where)
    except ArtifactError:
        raise
    except (
        ValueError,  # bad .npy headers; allow_pickle is never used: nothing is unpickled
        TypeError,
        SyntaxError,
        RecursionError,
        OverflowError,
        EOFError,
        OSError,
        struct.error,
        zipfile.BadZipFile,
    ) as exc:
        msg = f"{arrays_where}: not a clean array file ({type(exc).__name__}: {exc})"
        raise ArtifactError(msg) from exc
    return manifest, arrays


def read_artifact(path: str | os.PathLike[str]) -> tuple[Manifest, dict[str, np.ndarray]]:
    """Read and verify the current router of a directory written by :func:`write_artifact`.

    Each file is read once into memory and parsed from those bytes after its checksum is
    verified, so a save running meanwhile gives the old router, the new one, or an error.

    Args:
        path: the router directory (or, for the earlier layout, a directory holding
            ``manifest.json`` and ``arrays.npz``).

    Returns:
        The validated manifest and the arrays.

    Raises:
        ArtifactError: the directory or a file is missing, too large or not a regular
            file; the pointer is damaged; a checksum differs; the manifest is not JSON,
            nested too deeply, not of this format/version, or fails the schema; the array
            file is not a clean npz of plain numeric arrays; or an array's header differs
            from the manifest or from its byte size.
    """
    root = Path(path)
    for _ in range(LOAD_ATTEMPTS):
        try:
            return _read_once(root)
        except _Replaced:
            continue
    msg = (
        f"{root}: the router was replaced {LOAD_ATTEMPTS} times while it was being read; try again"
    )
    raise ArtifactError(msg)
