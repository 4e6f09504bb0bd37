"""The on-disk router format: versioned, pickle-free, checksummed.

A saved router is a directory holding exactly two files:

* ``manifest.json``: format name and version, library version, parameters, embedder
  identity, model and task names, and for the array file its SHA-256, every array's
  name, dtype and shape.
* ``arrays.npz``: numeric arrays only, read back with ``allow_pickle=False``.

Reading verifies the manifest schema, the checksum, and every array's dtype and shape
against the manifest before anything is used. File names are fixed (never taken from
the manifest), so a tampered manifest cannot point outside the directory; array names
must be plain identifiers, and the array file must hold only uncompressed ``.npy``
members (no zip bomb, nothing to extract). Reading never writes: a saved router can be
loaded from a read-only, shared directory by any number of processes at once. To update
a shared router, save to a new directory and switch a symlink; a reader that meets a
half-replaced directory gets an :class:`ArtifactError` (checksum), never mixed parts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langchain_benchrouter.errors import ArtifactError

__all__ = ["FORMAT", "FORMAT_VERSION", "ArrayInfo", "Manifest", "read_artifact", "write_artifact"]

FORMAT = "langchain-benchrouter/router"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
#: dtypes an artifact may contain (object and void dtypes could carry pickles).
ALLOWED_DTYPES = frozenset({"float16", "float32", "float64", "int64", "int32", "bool"})
#: Upper bound on the manifest's size: it is metadata, never data.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
#: Array names: plain identifiers (they become zip member names ``<name>.npy``).
ARRAY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


class ArrayInfo(BaseModel):
    """Declared dtype and shape of one stored array."""

    model_config = ConfigDict(extra="forbid")
    dtype: str
    shape: list[int]


class Manifest(BaseModel):
    """The JSON metadata of a saved router (schema-checked on load)."""

    model_config = ConfigDict(extra="forbid")
    format: str
    format_version: int
    library_version: str
    params: dict[str, Any]
    predictor: dict[str, Any]
    embedder: dict[str, Any]
    models: list[str] = Field(min_length=1)
    tasks: list[str]
    task_metrics: list[str | None] | None = None
    lexical: dict[str, Any] | None = None
    model_info: dict[str, dict[str, Any]]
    score_threshold: float = Field(gt=0.0, le=1.0)
    arrays: dict[str, ArrayInfo]
    sha256: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_artifact(
    path: str | os.PathLike[str], meta: dict[str, Any], arrays: dict[str, np.ndarray]
) -> Path:
    """Write ``arrays`` and ``meta`` as a router directory at ``path`` (created if needed).

    Files are written to temporary names and renamed into place, manifest last, so a
    crash mid-save never leaves a directory that loads with mismatched parts.
    """
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        if not ARRAY_NAME.fullmatch(name):
            msg = f"array name {name!r} is not a plain identifier"
            raise ArtifactError(msg)
        if str(arr.dtype) not in ALLOWED_DTYPES:
            msg = f"array {name!r} has dtype {arr.dtype}, which the artifact format does not allow"
            raise ArtifactError(msg)
    fd, tmp = tempfile.mkstemp(dir=out, suffix=".npz.tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        with tmp_path.open("wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        digest = _sha256(tmp_path)
        os.replace(tmp_path, out / ARRAYS)
    finally:
        tmp_path.unlink(missing_ok=True)
    manifest = Manifest(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        arrays={k: ArrayInfo(dtype=str(v.dtype), shape=list(v.shape)) for k, v in arrays.items()},
        sha256=digest,
        **meta,
    )
    tmp_manifest = out / (MANIFEST + ".tmp")
    tmp_manifest.write_text(manifest.model_dump_json(indent=1), encoding="utf-8")
    os.replace(tmp_manifest, out / MANIFEST)
    return out


def _check_members(arrays_path: Path) -> None:
    """Refuse an array file whose members are not uncompressed ``<identifier>.npy``."""
    try:
        with zipfile.ZipFile(arrays_path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        msg = f"{arrays_path}: not a clean array file ({exc})"
        raise ArtifactError(msg) from exc
    size = arrays_path.stat().st_size
    for info in infos:
        name = info.filename
        if not (name.endswith(".npy") and ARRAY_NAME.fullmatch(name[:-4])):
            msg = f"{arrays_path}: unexpected member {name!r} (only <identifier>.npy allowed)"
            raise ArtifactError(msg)
        if info.compress_type != zipfile.ZIP_STORED or info.file_size > size:
            msg = f"{arrays_path}: member {name!r} is compressed or larger than the file"
            raise ArtifactError(msg)


def read_artifact(path: str | os.PathLike[str]) -> tuple[Manifest, dict[str, np.ndarray]]:
    """Read and verify a router directory written by :func:`write_artifact`.

    Raises:
        ArtifactError: the directory or a file is missing, the manifest is not valid JSON
            or not of this format/version, the checksum differs, the array file is not a
            clean npz of plain numeric arrays, or an array's dtype/shape differs from the
            manifest.
    """
    root = Path(path)
    manifest_path, arrays_path = root / MANIFEST, root / ARRAYS
    if not root.is_dir():
        msg = f"{root}: no saved router here (expected a directory with {MANIFEST} and {ARRAYS})"
        raise ArtifactError(msg)
    for p in (manifest_path, arrays_path):
        if not p.is_file():
            msg = f"{root}: missing {p.name}; the router directory is incomplete"
            raise ArtifactError(msg)
    if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
        msg = (
            f"{manifest_path}: manifest is implausibly large ({manifest_path.stat().st_size} bytes)"
        )
        raise ArtifactError(msg)
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{manifest_path}: not valid JSON ({exc}); the artifact is corrupted"
        raise ArtifactError(msg) from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        msg = f"{manifest_path}: not a langchain-benchrouter router (format {FORMAT!r} expected)"
        raise ArtifactError(msg)
    if raw.get("format_version") != FORMAT_VERSION:
        msg = (
            f"{manifest_path}: router format version {raw.get('format_version')!r} is not "
            f"supported by this library (it reads version {FORMAT_VERSION}); "
            "refit and save the router again"
        )
        raise ArtifactError(msg)
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        msg = f"{manifest_path}: invalid manifest at {where!r}: {first['msg']}"
        raise ArtifactError(msg) from exc
    if bad := [n for n in manifest.arrays if not ARRAY_NAME.fullmatch(n)]:
        msg = f"{manifest_path}: array names {bad[:3]} are not plain identifiers"
        raise ArtifactError(msg)
    digest = _sha256(arrays_path)
    if digest != manifest.sha256:
        msg = f"{arrays_path}: checksum mismatch (the file was modified, truncated or corrupted)"
        raise ArtifactError(msg)
    _check_members(arrays_path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(arrays_path, allow_pickle=False) as npz:
            names = set(npz.files)
            if names != set(manifest.arrays):
                msg = (
                    f"{arrays_path}: arrays {sorted(names)} differ from the manifest's "
                    f"{sorted(manifest.arrays)}"
                )
                raise ArtifactError(msg)
            for name in npz.files:
                arrays[name] = npz[name]
    except ArtifactError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        # allow_pickle=False turns a planted pickle into a ValueError: nothing is executed.
        msg = f"{arrays_path}: not a clean array file ({exc})"
        raise ArtifactError(msg) from exc
    for name, info in manifest.arrays.items():
        arr = arrays[name]
        if (
            info.dtype not in ALLOWED_DTYPES
            or str(arr.dtype) != info.dtype
            or list(arr.shape) != info.shape
        ):
            msg = (
                f"{arrays_path}: array {name!r} is {arr.dtype}{list(arr.shape)}, "
                f"manifest says {info.dtype}{info.shape}"
            )
            raise ArtifactError(msg)
    return manifest, arrays
