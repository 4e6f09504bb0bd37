"""The on-disk embedding cache: :class:`CachedEmbedder` and :func:`default_cache_dir`.

One SQLite file, shared by threads and processes, in front of any embedder.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.core.embeddings._process_local import ProcessLocalState
from langchain_benchrouter.core.embeddings._protocol import (
    Embedder,
    FloatMatrix,
    _check_texts,
    _want_progress,
    check_embeddings,
)
from langchain_benchrouter.errors import EmbedderError

__all__ = ["CACHE_DIR_ENV_VAR", "CachedEmbedder", "default_cache_dir"]

CACHE_DIR_ENV_VAR = "BENCHROUTER_CACHE_DIR"
"""Environment variable overriding :func:`default_cache_dir`."""


def default_cache_dir() -> Path:
    """Directory of the embedding cache.

    ``$BENCHROUTER_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/langchain-benchrouter`` if
    ``XDG_CACHE_HOME`` is set, else ``~/.cache/langchain-benchrouter``. Not created here.
    """
    explicit = os.environ.get(CACHE_DIR_ENV_VAR, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "langchain-benchrouter"


_SCHEMA_VERSION = 1
_COLUMNS = ["embedder", "text_sha256", "dim", "vector"]
_SQL_PARAMS_PER_QUERY = 500  # below SQLite's host-parameter limit on every version


def _text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class CachedEmbedder(ProcessLocalState):
    """An on-disk cache in front of another embedder.

    Vectors are stored in one SQLite file, ``<cache_dir>/embeddings.sqlite3``, keyed by
    the inner embedder's ``name`` and the SHA-256 of the text (texts themselves are not
    stored). Vectors are little-endian float32 bytes; nothing is pickled. The database
    runs in WAL mode with a busy timeout, so several threads and processes can share one
    cache; each thread's work is committed chunk by chunk, so an interrupted run keeps
    what it embedded.

    ``embed`` looks all texts up, embeds only the distinct misses (in chunks of
    ``chunk_size``, with a tqdm bar when there are many), stores them and returns rows in
    input order. ``name`` is the inner embedder's name, so caching never changes identity.
    The instance can be pickled or copied (the copy opens its own connection).

    **A corrupted cache is an error, not silently rebuilt**: if the file is not a SQLite
    database of this layout, :class:`EmbedderError` names the file and asks you to delete
    it (it is only a cache) or point ``cache_dir`` elsewhere. Deleting automatically
    would race with other processes using the same file. Single rows of the wrong length
    are treated as misses and overwritten. If the cache holds vectors of another length
    than the inner embedder now returns, the name no longer identifies the model and
    :class:`EmbedderError` says so.

    Args:
        embedder: The embedder to cache.
        cache_dir: Directory of the cache file; :func:`default_cache_dir` (evaluated now)
            when ``None``. Created on first use.
        show_progress: Show a progress bar while embedding misses. ``None`` (default)
            shows it for more than 1000 misses when stderr is a terminal.

    Example:
        >>> import tempfile
        >>> from langchain_benchrouter.core.embeddings import HashingEmbedder
        >>> emb = CachedEmbedder(HashingEmbedder(), tempfile.mkdtemp())
        >>> first = emb.embed(["hello", "world"])  # embedded and stored
        >>> again = emb.embed(["world", "hello"])  # read from disk
        >>> bool((again[0] == first[1]).all())
        True
    """

    chunk_size: int = 1000
    """Misses embedded (and committed) per call to the inner embedder. At most 1000, so
    the inner embedder's own automatic progress bar stays off (this class shows one)."""

    filename: str = "embeddings.sqlite3"

    def __init__(
        self,
        embedder: Embedder,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        show_progress: bool | None = None,
    ) -> None:
        if not isinstance(embedder, Embedder):
            msg = (
                f"CachedEmbedder needs an Embedder, got {type(embedder).__name__}; "
                "convert it with resolve_embedder() first."
            )
            raise EmbedderError(msg)
        self.embedder = embedder
        self.cache_dir = (
            Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        )
        self.show_progress = show_progress
        self._reset_process_local()

    _PROCESS_LOCAL = ("_lock", "_conn", "_conn_pid")

    def _reset_process_local(self) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._conn_pid = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.embedder!r}, path={str(self.path)!r})"

    @property
    def name(self) -> str:
        """The inner embedder's name."""
        return self.embedder.name

    @property
    def path(self) -> Path:
        """Location of the SQLite file."""
        return self.cache_dir / self.filename

    def close(self) -> None:
        """Close this instance's database connection (reopened on next use)."""
        with self._lock:
            if self._conn is not None and self._conn_pid == os.getpid():
                self._conn.close()
            self._conn = None

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed ``texts``, reading cached vectors and storing new ones.

        Raises:
            RoutingInputError: If an item is not a str.
            EmbedderError: If the cache file is unusable or the inner embedder fails.
        """
        items = _check_texts(texts)
        name = self.embedder.name
        if not items:
            return check_embeddings(self.embedder.embed([]), 0, name)
        keys = [_text_key(t) for t in items]
        unique: dict[bytes, str] = dict(zip(keys, items, strict=True))
        found = self._lookup(name, list(unique))
        dims = {v.shape[0] for v in found.values()}
        self._check_dims(name, dims)
        misses = [k for k in unique if k not in found]
        if misses:
            found.update(self._embed_and_store(name, misses, unique, dims))
        out = np.stack([found[k] for k in keys])
        return check_embeddings(out, len(items), name)

    def _check_dims(self, name: str, dims: set[int]) -> None:
        if len(dims) > 1:
            msg = (
                f"The embedding cache {str(self.path)!r} holds vectors of lengths "
                f"{sorted(dims)} for embedder {name!r}: that name no longer identifies one "
                "model. Delete the cache file or give the embedder a distinct name."
            )
            raise EmbedderError(msg)

    def _embed_and_store(
        self, name: str, misses: list[bytes], texts: dict[bytes, str], dims: set[int]
    ) -> dict[bytes, npt.NDArray[np.float32]]:
        """Embed ``misses`` chunk by chunk and store them (never with a clashing length)."""
        new: dict[bytes, npt.NDArray[np.float32]] = {}
        bar: Any = None
        if _want_progress(self.show_progress, len(misses)):
            from tqdm import tqdm

            bar = tqdm(total=len(misses), desc=f"Embedding ({name})", unit="text")
        try:
            for start in range(0, len(misses), self.chunk_size):
                chunk = misses[start : start + self.chunk_size]
                vectors = check_embeddings(
                    self.embedder.embed([texts[k] for k in chunk]), len(chunk), name
                )
                self._check_dims(name, dims | {int(vectors.shape[1])})
                self._store(name, chunk, vectors)
                new.update(zip(chunk, vectors, strict=True))
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        return new

    # -- database

    def _lookup(self, name: str, keys: list[bytes]) -> dict[bytes, npt.NDArray[np.float32]]:
        found: dict[bytes, npt.NDArray[np.float32]] = {}
        with self._db() as conn:
            for start in range(0, len(keys), _SQL_PARAMS_PER_QUERY):
                chunk = keys[start : start + _SQL_PARAMS_PER_QUERY]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    "SELECT text_sha256, dim, vector FROM embeddings "
                    f"WHERE embedder = ? AND text_sha256 IN ({marks})",
                    [name, *chunk],
                ).fetchall()
                for key, dim, blob in rows:
                    if (
                        isinstance(blob, bytes)
                        and isinstance(dim, int)
                        and dim > 0
                        and len(blob) == 4 * dim
                    ):
                        found[bytes(key)] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return found

    def _store(self, name: str, keys: list[bytes], vectors: FloatMatrix) -> None:
        dim = int(vectors.shape[1])
        blobs = vectors.astype("<f4", copy=False)
        rows = [(name, key, dim, blobs[i].tobytes()) for i, key in enumerate(keys)]
        with self._db() as conn, conn:  # second `conn`: one transaction
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (embedder, text_sha256, dim, vector) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock, yield the (lazily opened) connection, map sqlite errors."""
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.Error as exc:
                locked = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
                if not locked and self._conn is not None:
                    # Drop a connection that hit corruption; the next call reopens it.
                    self._conn.close()
                    self._conn = None
                raise self._fail(exc) from exc

    def _connection(self) -> sqlite3.Connection:
        """The open connection (caller holds ``self._lock``); opened and checked lazily."""
        if self._conn is not None and self._conn_pid == os.getpid():
            return self._conn
        # A connection inherited through fork() must not be used; open a fresh one.
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"Cannot create the embedding cache directory {str(path.parent)!r}: {exc}"
            raise EmbedderError(msg) from exc
        conn = sqlite3.connect(path, timeout=60.0, check_same_thread=False)
        try:
            _prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._conn_pid = os.getpid()
        return conn

    def _fail(self, exc: sqlite3.Error) -> EmbedderError:
        path = str(self.path)
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower():
            msg = f"The embedding cache {path!r} stayed locked by another process: {exc}"
        elif isinstance(exc, sqlite3.OperationalError):
            msg = (
                f"The embedding cache {path!r} could not be used ({exc}). Check permissions "
                "and free disk space, or pass another cache_dir."
            )
        else:
            msg = (
                f"The embedding cache {path!r} is unreadable or corrupted ({exc}). It only "
                "holds cached vectors: delete the file, or pass another cache_dir."
            )
        return EmbedderError(msg)


def _prepare(conn: sqlite3.Connection) -> None:
    """Set pragmas and create or check the schema; raises EmbedderError on a foreign file."""
    conn.execute("PRAGMA busy_timeout = 60000")
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])  # reads the header
    with suppress(sqlite3.OperationalError):  # e.g. a filesystem without shared memory
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
    conn.execute("PRAGMA synchronous = NORMAL")
    if version == 0:
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                " embedder TEXT NOT NULL,"
                " text_sha256 BLOB NOT NULL,"
                " dim INTEGER NOT NULL,"
                " vector BLOB NOT NULL,"
                " PRIMARY KEY (embedder, text_sha256)"
                ") WITHOUT ROWID"
            )
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        version = _SCHEMA_VERSION
    columns = [row[1] for row in conn.execute("PRAGMA table_info(embeddings)")]
    if version != _SCHEMA_VERSION or columns != _COLUMNS:
        msg = (
            "is not a langchain-benchrouter embedding cache of this version "
            f"(schema {version}, columns {columns})"
        )
        raise sqlite3.DatabaseError(msg)
