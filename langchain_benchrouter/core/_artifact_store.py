"""The saved router's directory: versions named by checksum, a pointer, a writers' lock.

:func:`commit` writes a version into a fresh temporary directory, renames it to
``v-<sha256 of the manifest>`` and only then replaces ``CURRENT`` (one atomic
``os.replace``); :func:`read_files` reads the version ``CURRENT`` names, each file once
and bounded by a size cap, and checks the manifest's bytes against the version's name.
See :mod:`langchain_benchrouter.core.artifact` for the whole format.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from langchain_benchrouter.core._artifact_schema import FORMAT
from langchain_benchrouter.errors import ArtifactError

__all__ = [
    "ARRAYS",
    "MANIFEST",
    "POINTER",
    "TMP_PREFIX",
    "VERSION_DIR",
    "Replaced",
    "commit",
    "read_files",
]

MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
#: The pointer file naming the current version directory.
POINTER = "CURRENT"
POINTER_HEADER = b"langchain-benchrouter/current 1\n"
#: Writers' lock file (an empty file; readers never open it).
LOCK = ".lock"
#: Every temporary a save creates starts with this prefix (removed by the next save).
TMP_PREFIX = ".tmp-"
#: Upper bound on the manifest's size: it is metadata, never data.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
#: Upper bound on the pointer file.
MAX_POINTER_BYTES = 4096
#: Upper bound on the array file (read whole into memory).
MAX_ARRAYS_BYTES = 32 * 1024**3
#: A version directory's name: ``v-`` and the SHA-256 of its manifest.
VERSION_DIR = re.compile(r"v-([0-9a-f]{64})")
_POINTER_TEXT = re.compile(re.escape(POINTER_HEADER) + rb"v-([0-9a-f]{64})\n")
_LEGACY_TMP = re.compile(r"tmp[A-Za-z0-9_]*\.npz\.tmp|manifest\.json\.tmp")

#: Test hook: called with the name of each step of a save ("arrays-written",
#: "manifest-written", "version-renamed", "pointer-written", "pointer-switched",
#: "cleaned"); crash tests make it kill the process at one of them.
_step_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if _step_hook is not None:
        _step_hook(name)


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


def commit(root: Path, manifest_bytes: bytes, arrays_bytes: bytes) -> Path:
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


class Replaced(Exception):
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


def read_files(root: Path) -> tuple[bytes, bytes, str]:
    """The manifest and array bytes of the current version, the manifest's checksum verified.

    Raises:
        Replaced: the version vanished because a save replaced it meanwhile.
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
                    raise Replaced
                msg = f"{root}: missing {name}; no saved router here, or it is incomplete"
                raise ArtifactError(msg)
        try:
            manifest_bytes = _read_capped(root / MANIFEST, MAX_MANIFEST_BYTES, root)
            arrays_bytes = _read_capped(root / ARRAYS, MAX_ARRAYS_BYTES, root)
        except FileNotFoundError as exc:
            if (root / POINTER).exists():
                raise Replaced from exc
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
                raise Replaced from exc
            msg = f"{root}: {POINTER} names {vdir.name}, but {exc.filename} is missing"
            raise ArtifactError(msg) from exc
    if expected is not None and hashlib.sha256(manifest_bytes).hexdigest() != expected:
        msg = f"{where}: checksum mismatch (the manifest was modified, truncated or corrupted)"
        raise ArtifactError(msg)
    return manifest_bytes, arrays_bytes, where
