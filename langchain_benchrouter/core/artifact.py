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

The format's parts live in private modules: the manifest schema and its limits in
``_artifact_schema``, the array file's writing and checks in ``_artifact_npz``, the
versioned directory with its pointer and lock in ``_artifact_store``. This module is the
public face: :func:`write_artifact`, :func:`read_artifact` and the migration helpers.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from langchain_benchrouter.core._artifact_npz import npz_bytes, parse_arrays
from langchain_benchrouter.core._artifact_schema import (
    ALLOWED_DTYPES,
    ARRAY_NAME,
    FORMAT,
    FORMAT_VERSION,
    ArrayInfo,
    Manifest,
    parse_json,
    plain_json,
    validate_manifest,
)
from langchain_benchrouter.core._artifact_store import (
    ARRAYS,
    MANIFEST,
    Replaced,
    commit,
    read_files,
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

#: How often a load starts over when the version it was reading was replaced and removed.
LOAD_ATTEMPTS = 5


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
    arrays_bytes = npz_bytes(arrays)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **meta,
        "arrays": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()},
        "sha256": hashlib.sha256(arrays_bytes).hexdigest(),
    }
    try:
        text = json.dumps(manifest, indent=1, allow_nan=False, default=plain_json)
    except (TypeError, ValueError) as exc:
        msg = f"cannot save the router: its metadata is not finite JSON ({exc})"
        raise ArtifactError(msg) from exc
    manifest_bytes = text.encode("utf-8")
    # The writer refuses whatever the reader would refuse: never an unloadable artifact.
    validate_manifest(parse_json(manifest_bytes, "manifest to save"), "cannot save the router")
    return commit(Path(path), manifest_bytes, arrays_bytes)


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
    _, arrays_bytes, _ = read_files(root)
    text = json.dumps(manifest, indent=1, default=plain_json)
    return commit(root, text.encode("utf-8"), arrays_bytes)


def read_manifest_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The current manifest of the router directory ``path`` as plain JSON (not validated)."""
    manifest_bytes, _, where = read_files(Path(path))
    raw = parse_json(manifest_bytes, where)
    if not isinstance(raw, dict):
        msg = f"{where}: the manifest is not a JSON object"
        raise ArtifactError(msg)
    return raw


def _read_once(root: Path) -> tuple[Manifest, dict[str, np.ndarray]]:
    manifest_bytes, arrays_bytes, where = read_files(root)
    manifest = validate_manifest(parse_json(manifest_bytes, where), where)
    arrays_where = where[: -len(MANIFEST)] + ARRAYS
    if hashlib.sha256(arrays_bytes).hexdigest() != manifest.sha256:
        msg = f"{arrays_where}: checksum mismatch (the file was modified, truncated or corrupted)"
        raise ArtifactError(msg)
    try:
        arrays = parse_arrays(arrays_bytes, manifest, arrays_where)
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
        except Replaced:
            continue
    msg = (
        f"{root}: the router was replaced {LOAD_ATTEMPTS} times while it was being read; try again"
    )
    raise ArtifactError(msg)
