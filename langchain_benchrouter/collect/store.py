"""The resumable SQLite store of a collection run: one row per (model, input), grades apart.

A :class:`CollectionStore` is what makes :func:`~langchain_benchrouter.collect.runner.collect`
resumable. It holds:

* the inputs the store was made for (task, instance id, text, reference, metric, split and
  a SHA-256 of each), so a store is never reused for different inputs and
  :func:`~langchain_benchrouter.collect.runner.regrade` can rebuild the benchmark from the
  store alone;
* the models (their name, what they were configured as, their prices);
* ``results``: one row per (model, input) with the raw output text, the token usage
  (``usage_metadata``), the latency, the measured cost, the number of attempts, and the
  error when the call failed after its retries;
* ``grades``: one score per (model, input, grader name), so grading with another grader
  reuses the stored outputs.

The database runs in WAL mode and every result is committed as it arrives; a successful
result is never overwritten. Committed results survive a killed process (``kill -9``);
with ``synchronous=NORMAL`` a power failure may lose the last few commits, whose calls a
resumed run then makes again. One run at a time may use a store: a second process gets a
:class:`~langchain_benchrouter.errors.CollectionError` (an advisory lock on
``<store>.lock``, released by the operating system when the process dies; POSIX only).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from langchain_benchrouter._keywords import keyword_checked
from langchain_benchrouter.errors import CollectionError

__all__ = ["SCHEMA_VERSION", "CollectionStore", "ResultRow", "StoredInputs", "input_digest"]

#: Bumped when the tables change incompatibly; an older store is refused with a clear error.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (
    idx INTEGER PRIMARY KEY,
    task TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    text TEXT NOT NULL,
    reference TEXT,
    metric TEXT,
    split TEXT,
    digest TEXT NOT NULL,
    UNIQUE (task, instance_id)
);
CREATE TABLE IF NOT EXISTS models (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    identity TEXT NOT NULL,
    info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    model TEXT NOT NULL,
    idx INTEGER NOT NULL REFERENCES inputs (idx),
    output TEXT,
    error TEXT,
    error_kind TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    usage TEXT,
    latency_s REAL,
    cost REAL,
    cost_source TEXT,
    attempts INTEGER NOT NULL,
    finished_at REAL NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (model, idx)
);
CREATE TABLE IF NOT EXISTS grades (
    model TEXT NOT NULL,
    idx INTEGER NOT NULL REFERENCES inputs (idx),
    grader TEXT NOT NULL,
    score REAL NOT NULL,
    graded_at REAL NOT NULL,
    PRIMARY KEY (model, idx, grader)
);
"""


def input_digest(task: str, instance_id: str, text: str, reference: str | None) -> str:
    """SHA-256 (hex) of one input: its task, id, text and reference answer.

    Args:
        task: The input's task.
        instance_id: Its id within the task.
        text: The text sent to the models.
        reference: The reference answer graders compare against (``None`` if none).

    Returns:
        64 hex digits; any change to the four fields changes it.

    Example:
        >>> len(input_digest("math", "q1", "1+1?", "2"))
        64
    """
    payload = json.dumps([task, instance_id, text, reference], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredInputs:
    """The inputs a store was made for, in their stored order.

    Example:
        >>> inputs = StoredInputs(
        ...     tasks=["math"], instance_ids=["q1"], texts=["1+1?"], references=["2"],
        ...     metrics=["em"], splits=[None], threshold=0.5, name="demo",
        ... )
        >>> inputs.keys
        [('math', 'q1')]
    """

    tasks: list[str]
    instance_ids: list[str]
    texts: list[str]
    references: list[str | None]
    metrics: list[str | None]
    splits: list[str | None]
    threshold: float
    name: str

    @property
    def keys(self) -> list[tuple[str, str]]:
        """``(task, instance_id)`` of each input."""
        return list(zip(self.tasks, self.instance_ids, strict=True))

    def digests(self) -> list[str]:
        """:func:`input_digest` of each input."""
        return [
            input_digest(t, i, x, r)
            for t, i, x, r in zip(
                self.tasks, self.instance_ids, self.texts, self.references, strict=True
            )
        ]


@dataclass(frozen=True)
class ResultRow:
    """One (model, input) call as stored: its output or its error, usage, latency, cost.

    Example:
        >>> row = ResultRow(model="small", idx=0, output="2", attempts=1)
        >>> row.ok
        True
    """

    model: str
    idx: int
    output: str | None = None
    error: str | None = None
    error_kind: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    usage: Mapping[str, Any] | None = None
    latency_s: float | None = None
    cost: float | None = None
    cost_source: str | None = None
    attempts: int = 1
    finished_at: float = 0.0
    run_id: str = ""

    @property
    def ok(self) -> bool:
        """Whether the call returned an output (no error)."""
        return self.error is None and self.output is not None


@keyword_checked(CollectionError)
class CollectionStore:
    """A resumable SQLite store of model outputs and grades (see the module docstring).

    Args:
        path: The database file, created if missing (with its folder); ``None`` or
            ``":memory:"`` keeps everything in memory (nothing survives the process).
        lock: Take the one-run-at-a-time lock on ``<path>.lock`` (POSIX; ignored in
            memory).

    Raises:
        CollectionError: The file is not a collection store, was written by an
            incompatible version, or another process is using it.

    Example:
        >>> store = CollectionStore(None)
        >>> store.has_inputs
        False
        >>> store.close()
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, lock: bool = True) -> None:
        memory = path is None or str(path) == ":memory:"
        self.path: Path | None = None if path is None or memory else Path(path)
        self._lock_file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if lock:
                self._lock_file = _acquire_lock(self.path)
        target = ":memory:" if self.path is None else str(self.path)
        try:
            self._conn = sqlite3.connect(target)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            with self._conn:
                self._conn.executescript(_SCHEMA)
            version = self._meta("schema_version")
            if version is None:
                with self._conn:
                    self._set_meta("schema_version", str(SCHEMA_VERSION))
                    self._set_meta("created_at", repr(time.time()))
            elif version != str(SCHEMA_VERSION):
                msg = (
                    f"{self.path} is a collection store of schema version {version}; this "
                    f"version of langchain-benchrouter reads version {SCHEMA_VERSION}: "
                    "use a new store file"
                )
                raise CollectionError(msg)
        except sqlite3.DatabaseError as exc:
            self._release_lock()
            msg = (
                f"{target} is not a usable collection store (SQLite said: {exc}); pass another file"
            )
            raise CollectionError(msg) from exc
        except CollectionError:
            self._conn.close()
            self._release_lock()
            raise

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the database and release the lock (idempotent)."""
        try:
            self._conn.close()
        finally:
            self._release_lock()

    def __enter__(self) -> CollectionStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor releases the flock
            self._lock_file = None

    def __repr__(self) -> str:
        where = "memory" if self.path is None else str(self.path)
        return f"CollectionStore({where!r})"

    # ------------------------------------------------------------------ meta

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ------------------------------------------------------------------ inputs

    @property
    def has_inputs(self) -> bool:
        """Whether inputs were bound to this store."""
        return self._conn.execute("SELECT 1 FROM inputs LIMIT 1").fetchone() is not None

    def bind_inputs(self, inputs: StoredInputs, *, check_only: bool = False) -> list[int]:
        """Record the inputs of a new store, or check they are the ones it was made for.

        Args:
            inputs: The inputs of the run.
            check_only: Write nothing (a dry run): an empty store is left empty.

        Returns:
            For each input of ``inputs`` (in its order), its index in the store.

        Raises:
            CollectionError: The store was made for different inputs: some are missing,
                extra, or their text or reference changed (the message counts each and
                names one).
        """
        digests = inputs.digests()
        if not self.has_inputs:
            if check_only:
                return list(range(len(digests)))
            with self._conn:
                self._conn.executemany(
                    "INSERT INTO inputs (idx, task, instance_id, text, reference, metric,"
                    " split, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (i, t, iid, x, r, m, s, d)
                        for i, (t, iid, x, r, m, s, d) in enumerate(
                            zip(
                                inputs.tasks,
                                inputs.instance_ids,
                                inputs.texts,
                                inputs.references,
                                inputs.metrics,
                                inputs.splits,
                                digests,
                                strict=True,
                            )
                        )
                    ],
                )
                self._set_meta("threshold", repr(float(inputs.threshold)))
                self._set_meta("name", inputs.name)
            return list(range(len(digests)))
        stored = {
            (str(t), str(i)): (int(idx), str(d))
            for idx, t, i, d in self._conn.execute(
                "SELECT idx, task, instance_id, digest FROM inputs"
            )
        }
        given = dict(zip(inputs.keys, digests, strict=True))
        extra = [k for k in given if k not in stored]
        missing = [k for k in stored if k not in given]
        changed = [k for k, d in given.items() if k in stored and stored[k][1] != d]
        if extra or missing or changed:
            problems = []
            if changed:
                problems.append(
                    f"{len(changed)} input(s) changed text or reference (e.g. task "
                    f"{changed[0][0]!r}, instance {changed[0][1]!r})"
                )
            if extra:
                problems.append(
                    f"{len(extra)} input(s) are not in the store (e.g. task {extra[0][0]!r},"
                    f" instance {extra[0][1]!r})"
                )
            if missing:
                problems.append(
                    f"{len(missing)} stored input(s) are not among the inputs (e.g. task "
                    f"{missing[0][0]!r}, instance {missing[0][1]!r})"
                )
            msg = (
                f"the store {self.path or 'in memory'} was made for different inputs "
                f"({len(stored)} stored, {len(given)} given): {'; '.join(problems)}. "
                "Pass the same inputs to resume, or a new store file for these inputs"
            )
            raise CollectionError(msg)
        return [stored[k][0] for k in inputs.keys]

    def inputs(self) -> StoredInputs:
        """The stored inputs, in stored order.

        Raises:
            CollectionError: The store holds no inputs (no run ever started on it).
        """
        rows = self._conn.execute(
            "SELECT task, instance_id, text, reference, metric, split FROM inputs ORDER BY idx"
        ).fetchall()
        if not rows:
            msg = f"the store {self.path or 'in memory'} holds no inputs: collect into it first"
            raise CollectionError(msg)
        threshold = self._meta("threshold")
        return StoredInputs(
            tasks=[r[0] for r in rows],
            instance_ids=[r[1] for r in rows],
            texts=[r[2] for r in rows],
            references=[r[3] for r in rows],
            metrics=[r[4] for r in rows],
            splits=[r[5] for r in rows],
            threshold=0.5 if threshold is None else float(threshold),
            name=self._meta("name") or "collected",
        )

    # ------------------------------------------------------------------ models

    def register_model(
        self, name: str, identity: str, info: Mapping[str, Any], *, check_only: bool = False
    ) -> None:
        """Record a model, or check it is the one stored under that name.

        Args:
            name: The model's name in the run.
            identity: What it was configured as (an ``init_chat_model`` string, or the
                class and model name of an instance).
            info: Its prices and other facts, kept for :meth:`model_info` (updated).
            check_only: Only check the name (a dry run); write nothing.

        Raises:
            CollectionError: The name was collected as another model in this store.
        """
        row = self._conn.execute("SELECT identity FROM models WHERE name = ?", (name,)).fetchone()
        if row is not None and row[0] != identity:
            msg = (
                f"model {name!r} was collected as {row[0]!r} in the store "
                f"{self.path or 'in memory'}, now it is {identity!r}: give the new model "
                "another name, or use a new store file"
            )
            raise CollectionError(msg)
        if check_only:
            return
        text = json.dumps(dict(info), sort_keys=True, default=str)
        with self._conn:
            if row is None:
                self._conn.execute(
                    "INSERT INTO models (name, identity, info) VALUES (?, ?, ?)",
                    (name, identity, text),
                )
            else:
                self._conn.execute("UPDATE models SET info = ? WHERE name = ?", (text, name))

    def models(self) -> list[str]:
        """The stored model names, in the order they were first collected."""
        return [str(r[0]) for r in self._conn.execute("SELECT name FROM models ORDER BY position")]

    def model_info(self, name: str) -> dict[str, Any]:
        """The prices and facts stored with a model (``{}`` for an unknown name)."""
        row = self._conn.execute("SELECT info FROM models WHERE name = ?", (name,)).fetchone()
        return {} if row is None else dict(json.loads(row[0]))

    # ------------------------------------------------------------------ results

    def finished(self, model: str) -> dict[int, bool]:
        """Stored input index -> whether the call succeeded, for every stored row of a model."""
        return {
            int(idx): err is None
            for idx, err in self._conn.execute(
                "SELECT idx, error FROM results WHERE model = ?", (model,)
            )
        }

    def put_result(self, row: ResultRow) -> bool:
        """Commit one result at once.

        A failed row may be replaced by a later attempt; a successful row never is.

        Args:
            row: The result.

        Returns:
            Whether the row was written (``False``: a successful row was already stored).
        """
        usage = None if row.usage is None else json.dumps(dict(row.usage), default=str)
        finished_at = row.finished_at or time.time()
        with self._conn:
            cursor = self._conn.execute(
                "INSERT INTO results (model, idx, output, error, error_kind, input_tokens,"
                " output_tokens, usage, latency_s, cost, cost_source, attempts, finished_at,"
                " run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (model, idx) DO UPDATE SET output = excluded.output,"
                " error = excluded.error, error_kind = excluded.error_kind,"
                " input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,"
                " usage = excluded.usage, latency_s = excluded.latency_s,"
                " cost = excluded.cost, cost_source = excluded.cost_source,"
                " attempts = excluded.attempts, finished_at = excluded.finished_at,"
                " run_id = excluded.run_id WHERE results.error IS NOT NULL",
                (
                    row.model,
                    row.idx,
                    row.output,
                    row.error,
                    row.error_kind,
                    row.input_tokens,
                    row.output_tokens,
                    usage,
                    row.latency_s,
                    None if row.cost is None or math.isnan(row.cost) else row.cost,
                    row.cost_source,
                    row.attempts,
                    finished_at,
                    row.run_id,
                ),
            )
            return cursor.rowcount > 0

    def results(self, model: str) -> dict[int, ResultRow]:
        """Every stored row of a model, by stored input index."""
        out: dict[int, ResultRow] = {}
        for r in self._conn.execute(
            "SELECT idx, output, error, error_kind, input_tokens, output_tokens, usage,"
            " latency_s, cost, cost_source, attempts, finished_at, run_id"
            " FROM results WHERE model = ?",
            (model,),
        ):
            out[int(r[0])] = ResultRow(
                model=model,
                idx=int(r[0]),
                output=r[1],
                error=r[2],
                error_kind=r[3],
                input_tokens=r[4],
                output_tokens=r[5],
                usage=None if r[6] is None else json.loads(r[6]),
                latency_s=r[7],
                cost=r[8],
                cost_source=r[9],
                attempts=int(r[10]),
                finished_at=float(r[11]),
                run_id=str(r[12]),
            )
        return out

    def iter_results(self) -> Iterator[ResultRow]:
        """Every stored row of every model (model order, then input order)."""
        for model in self.models():
            for _, row in sorted(self.results(model).items()):
                yield row

    # ------------------------------------------------------------------ grades

    def grades(self, model: str, grader_names: Sequence[str]) -> dict[tuple[int, str], float]:
        """``(input index, grader name) -> score`` of a model for the given graders."""
        names = sorted(set(grader_names))
        if not names:
            return {}
        marks = ",".join("?" * len(names))
        return {
            (int(idx), str(g)): float(s)
            for idx, g, s in self._conn.execute(
                f"SELECT idx, grader, score FROM grades WHERE model = ? AND grader IN ({marks})",
                (model, *names),
            )
        }

    def put_grades(self, rows: Sequence[tuple[str, int, str, float]]) -> None:
        """Commit ``(model, input index, grader name, score)`` rows (a later grade replaces)."""
        now = time.time()
        with self._conn:
            self._conn.executemany(
                "INSERT INTO grades (model, idx, grader, score, graded_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (model, idx, grader) DO UPDATE SET score = excluded.score,"
                " graded_at = excluded.graded_at",
                [(m, i, g, float(s), now) for m, i, g, s in rows],
            )

    def grader_names(self) -> list[str]:
        """The names of the graders that graded anything in this store."""
        return [str(r[0]) for r in self._conn.execute("SELECT DISTINCT grader FROM grades")]


def _acquire_lock(path: Path) -> IO[str] | None:
    """Hold an exclusive advisory lock on ``<path>.lock`` for the life of the store."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        return None
    lock_path = path.with_name(path.name + ".lock")
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        msg = (
            f"the store {path} is in use by {holder}: wait for that run to finish "
            "(or stop it) before resuming, or use another store file"
        )
        raise CollectionError(msg) from exc
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()}")
    handle.flush()
    return handle
