"""The exposure log of A/B experiments: who saw which arm, and how it went.

An *exposure* is one prompt served by one arm of an
:class:`~langchain_benchrouter.experiments.experiment.Experiment`: the experiment, the arm, the
hash of the unit key (never the prompt itself), the model that answered, the run id,
the time, the latency, the token usage and the cost when known. *Feedback* is a score
recorded later for a run id.

The log layer is deliberately small: :class:`ExposureLog` is a
:class:`~typing.Protocol` of six methods, and :class:`SQLiteExposureLog` implements it
on a SQLite file (WAL mode, parameterized queries, one connection per thread and per
process, retried ``BEGIN IMMEDIATE`` transactions). Any object with these methods can
be passed wherever a log is expected; :data:`SCHEMA` is plain SQL that most databases
accept as is, so a log on another SQL database is a DB-API connection and the same
statements (with that driver's placeholder style). See ``docs/experiments.md``.

Durability: every write is one transaction, so a process killed mid-write leaves
either the whole batch or none of it, and the file is never corrupted. With the default
``synchronous="NORMAL"`` an operating-system crash or power loss may roll back the last
transactions (never corrupt); pass ``synchronous="FULL"`` to fsync every commit.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from langchain_benchrouter.errors import ExposureLogError, UnknownRunError

__all__ = [
    "SCHEMA",
    "Exposure",
    "ExposureLog",
    "ExposureLogError",
    "Feedback",
    "SQLiteExposureLog",
    "UnknownRunError",
    "open_log",
    "unit_hash",
]

SCHEMA_VERSION = 1

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS benchrouter_exposures (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment TEXT NOT NULL,
        arm TEXT NOT NULL,
        unit_hash TEXT NOT NULL,
        model TEXT,
        run_id TEXT NOT NULL UNIQUE,
        ts REAL NOT NULL,
        latency_s REAL,
        input_tokens INTEGER,
        output_tokens INTEGER,
        total_tokens INTEGER,
        cost REAL,
        error TEXT
    )""",
    """CREATE INDEX IF NOT EXISTS benchrouter_exposures_unit
        ON benchrouter_exposures (experiment, unit_hash)""",
    """CREATE TABLE IF NOT EXISTS benchrouter_feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        metric TEXT NOT NULL,
        score REAL NOT NULL,
        comment TEXT,
        ts REAL NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS benchrouter_feedback_run
        ON benchrouter_feedback (run_id)""",
    """CREATE TABLE IF NOT EXISTS benchrouter_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
)
"""The tables and indexes of the log (portable SQL; ``AUTOINCREMENT`` is SQLite's
spelling of an identity column)."""

_EXPOSURE_COLUMNS = (
    "experiment",
    "arm",
    "unit_hash",
    "model",
    "run_id",
    "ts",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost",
    "error",
)
_INSERT_EXPOSURE = (
    f"INSERT INTO benchrouter_exposures ({', '.join(_EXPOSURE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _EXPOSURE_COLUMNS)})"
)
_INSERT_FEEDBACK = (
    "INSERT INTO benchrouter_feedback (run_id, metric, score, comment, ts) VALUES (?, ?, ?, ?, ?)"
)


def unit_hash(salt: str, key: str) -> str:
    """The stable hash of a unit key: 32 hex digits of BLAKE2b over ``salt`` and ``key``.

    The same (salt, key) gives the same hash in every process, on every machine and
    Python version (unlike the built-in ``hash``).

    Args:
        salt: the experiment's salt (its name by default).
        key: the unit key (the prompt text or a user-supplied id).

    Returns:
        The hex digest; the exposure log stores it instead of the key.

    Example:
        >>> unit_hash("exp", "What is 2 + 2?") == unit_hash("exp", "What is 2 + 2?")
        True
        >>> unit_hash("exp", "x") != unit_hash("other-exp", "x")
        True
    """
    h = hashlib.blake2b(digest_size=16, person=b"benchrouter-ab")
    h.update(salt.encode("utf-8"))
    h.update(b"\x00")
    h.update(key.encode("utf-8"))
    return h.hexdigest()


@dataclass(frozen=True)
class Exposure:
    """One prompt served by one arm of an experiment.

    Attributes:
        experiment: the experiment's name.
        arm: the arm the unit was assigned to.
        unit_hash: hex hash of the experiment name and the unit key (the prompt text or
            a user-supplied id); the key itself is never stored.
        run_id: the LangChain run id of the experiment's run (unique).
        model: the model that answered (the router's choice for a router arm), if known.
        timestamp: seconds since the epoch.
        latency_s: wall time of the arm's call.
        input_tokens: prompt tokens, from the message's ``usage_metadata``.
        output_tokens: completion tokens.
        total_tokens: all tokens.
        cost: USD, from the experiment's price table, when known.
        error: the exception (type and message) if the arm failed.

    Example:
        >>> Exposure("exp", "router", "9f2c", run_id="r1", model="m").arm
        'router'
    """

    experiment: str
    arm: str
    unit_hash: str
    run_id: str
    model: str | None = None
    timestamp: float = field(default_factory=time.time)
    latency_s: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the exposure."""
        return asdict(self)


@dataclass(frozen=True)
class Feedback:
    """A score recorded for a run, e.g. a thumbs-up (1.0) or a graded answer.

    Attributes:
        run_id: the run the score is for (an exposure's ``run_id``).
        score: the score, a finite number (binary 0/1 scores get a two-proportion test).
        metric: the name of what was scored (several metrics may be recorded per run).
        comment: free text.
        timestamp: seconds since the epoch; when a run has several scores for one
            metric, the latest counts.

    Example:
        >>> Feedback("r1", 1.0).metric
        'score'
    """

    run_id: str
    score: float
    metric: str = "score"
    comment: str | None = None
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the feedback."""
        return asdict(self)


@runtime_checkable
class ExposureLog(Protocol):
    """What an experiment needs from a log; implement it to use another database.

    Implementations must make each call atomic (a batch is written whole or not at
    all) and safe to call from several threads.

    Example:
        >>> log = SQLiteExposureLog(tmp_path / "ab.sqlite")  # doctest: +SKIP
        >>> isinstance(log, ExposureLog)  # doctest: +SKIP
        True
    """

    def log_exposures(self, exposures: Sequence[Exposure]) -> None:
        """Append exposures in one transaction (a run id may appear once in the log)."""
        ...

    def log_feedback(self, feedback: Sequence[Feedback]) -> None:
        """Append feedback in one transaction; an unknown run id is an :class:`UnknownRunError`."""
        ...

    def exposures(self, experiment: str | None = None) -> list[Exposure]:
        """The exposures of one experiment (all when ``None``), in logging order."""
        ...

    def feedback(self, experiment: str | None = None, metric: str | None = None) -> list[Feedback]:
        """The feedback on runs of one experiment (all when ``None``), in recording order."""
        ...

    def runs_for_unit(self, experiment: str, unit_hash: str) -> list[str]:
        """Run ids of a unit's exposures in an experiment, oldest first."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


_RETRYABLE = ("database is locked", "database table is locked", "database is busy")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return any(s in str(exc).lower() for s in _RETRYABLE)


class SQLiteExposureLog:
    """The exposure log in a SQLite file: WAL mode, safe for threads and processes.

    Each thread of each process gets its own connection (a forked child opens fresh
    ones); writes are ``BEGIN IMMEDIATE`` transactions retried with jittered backoff
    while another writer holds the lock, so concurrent writers lose nothing.

    Args:
        path: the database file (created with its tables if missing).
        timeout: seconds a write keeps retrying on a locked database before failing.
        synchronous: SQLite's ``synchronous`` pragma: ``"NORMAL"`` (default; never
            corrupts, may lose the last commits on power loss) or ``"FULL"``.
        create: create the file if it does not exist; with ``False`` a missing file
            is an :class:`ExposureLogError` (what the report wants).

    Example:
        >>> log = SQLiteExposureLog(tmp_path / "ab.sqlite")  # doctest: +SKIP
        >>> exp = Exposure("exp", "router", "ab12", run_id="r1", model="m")  # doctest: +SKIP
        >>> log.log_exposures([exp])  # doctest: +SKIP
        >>> log.log_feedback([Feedback("r1", 1.0)])  # doctest: +SKIP
        >>> [f.score for f in log.feedback("exp")]  # doctest: +SKIP
        [1.0]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 60.0,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        create: bool = True,
    ) -> None:
        self.path = Path(path)
        if synchronous not in ("NORMAL", "FULL"):
            msg = f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}"
            raise ValueError(msg)
        self.timeout = float(timeout)
        self.synchronous = synchronous
        if not self.path.exists():
            if not create:
                msg = f"{self.path}: no such exposure log"
                raise ExposureLogError(msg)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif self.path.is_dir():
            msg = f"{self.path}: is a directory, not an exposure log file"
            raise ExposureLogError(msg)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self._closed = False
        self._write(self._create_schema)

    def __repr__(self) -> str:
        return f"SQLiteExposureLog({str(self.path)!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Picklable (for spawned processes): only the settings travel.
        return {"path": self.path, "timeout": self.timeout, "synchronous": self.synchronous}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], timeout=state["timeout"], synchronous=state["synchronous"])  # type: ignore[misc]

    def __enter__(self) -> SQLiteExposureLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ connections
    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            msg = f"{self.path}: the exposure log is closed"
            raise ExposureLogError(msg)
        pid = os.getpid()
        cached: tuple[int, sqlite3.Connection] | None = getattr(self._local, "conn", None)
        if cached is not None and cached[0] == pid:
            return cached[1]
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=min(self.timeout, 5.0),
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(min(self.timeout, 5.0) * 1000)}")
            self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.Error as exc:
            msg = f"{self.path}: cannot open the exposure log ({exc})"
            raise ExposureLogError(msg) from exc
        self._local.conn = (pid, conn)
        with self._lock:
            self._connections.append((pid, conn))
        return conn

    def _retry(self, fn: Any) -> Any:
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)

    def _write(self, body: Any) -> None:
        conn = self._connection()

        def attempt() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                body(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        try:
            self._retry(attempt)
        except sqlite3.IntegrityError as exc:
            msg = f"{self.path}: rejected write ({exc}); a run id may be logged only once"
            raise ExposureLogError(msg) from exc
        except sqlite3.Error as exc:
            msg = f"{self.path}: cannot write the exposure log ({exc})"
            raise ExposureLogError(msg) from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        try:
            yield conn
        except sqlite3.Error as exc:
            msg = f"{self.path}: cannot read the exposure log ({exc})"
            raise ExposureLogError(msg) from exc

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        for statement in SCHEMA:
            conn.execute(statement)
        row = conn.execute(
            "SELECT value FROM benchrouter_meta WHERE key = 'schema_version'"
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO benchrouter_meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        elif int(row[0]) > SCHEMA_VERSION:
            msg = (
                f"exposure log schema version {row[0]} is newer than this library's"
                f" ({SCHEMA_VERSION})"
            )
            raise ExposureLogError(msg)

    # ------------------------------------------------------------------ the protocol
    def log_exposures(self, exposures: Sequence[Exposure]) -> None:
        """Append exposures in one transaction.

        Raises:
            ExposureLogError: a run id is already in the log, or the write failed.
        """
        rows = [tuple(getattr(e, _attr(c)) for c in _EXPOSURE_COLUMNS) for e in exposures]
        if rows:
            self._write(lambda conn: conn.executemany(_INSERT_EXPOSURE, rows))

    def log_exposure(self, exposure: Exposure) -> None:
        """Append one exposure (see :meth:`log_exposures`)."""
        self.log_exposures([exposure])

    def log_feedback(self, feedback: Sequence[Feedback]) -> None:
        """Append feedback in one transaction.

        Raises:
            UnknownRunError: a run id has no exposure in the log (nothing is written).
            ValueError: a score is not a finite number.
        """
        rows = []
        for fb in feedback:
            score = _check_score(fb.score)
            rows.append((str(fb.run_id), fb.metric, score, fb.comment, float(fb.timestamp)))
        if not rows:
            return

        def body(conn: sqlite3.Connection) -> None:
            for run_id in {r[0] for r in rows}:
                found = conn.execute(
                    "SELECT 1 FROM benchrouter_exposures WHERE run_id = ?", (run_id,)
                ).fetchone()
                if found is None:
                    msg = f"no exposure with run id {run_id!r} in {self.path}"
                    raise UnknownRunError(msg)
            conn.executemany(_INSERT_FEEDBACK, rows)

        self._write(body)

    def exposures(self, experiment: str | None = None) -> list[Exposure]:
        """The exposures of one experiment (all when ``None``), in logging order."""
        sql = f"SELECT {', '.join(_EXPOSURE_COLUMNS)} FROM benchrouter_exposures"
        params: tuple[Any, ...] = ()
        if experiment is not None:
            sql += " WHERE experiment = ?"
            params = (experiment,)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        return [
            Exposure(**{_attr(c): v for c, v in zip(_EXPOSURE_COLUMNS, row, strict=True)})
            for row in rows
        ]

    def feedback(self, experiment: str | None = None, metric: str | None = None) -> list[Feedback]:
        """The feedback on runs of one experiment (all when ``None``), in recording order."""
        sql = (
            "SELECT f.run_id, f.score, f.metric, f.comment, f.ts FROM benchrouter_feedback f"
            " JOIN benchrouter_exposures e ON e.run_id = f.run_id WHERE 1 = 1"
        )
        params: list[Any] = []
        if experiment is not None:
            sql += " AND e.experiment = ?"
            params.append(experiment)
        if metric is not None:
            sql += " AND f.metric = ?"
            params.append(metric)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY f.id", params).fetchall()
        return [
            Feedback(run_id=r[0], score=r[1], metric=r[2], comment=r[3], timestamp=r[4])
            for r in rows
        ]

    def runs_for_unit(self, experiment: str, unit_hash: str) -> list[str]:
        """Run ids of a unit's exposures in an experiment, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT run_id FROM benchrouter_exposures"
                " WHERE experiment = ? AND unit_hash = ? ORDER BY id",
                (experiment, unit_hash),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def experiments(self) -> list[str]:
        """Names of the experiments in the log, in order of first exposure."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT experiment FROM benchrouter_exposures GROUP BY experiment ORDER BY MIN(id)"
            ).fetchall()
        return [str(r[0]) for r in rows]

    def integrity_check(self) -> bool:
        """Whether SQLite's ``PRAGMA integrity_check`` finds the file sound."""
        with self._read() as conn:
            return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def close(self) -> None:
        """Close this process's connections (other processes keep theirs)."""
        pid = os.getpid()
        with self._lock:
            mine = [c for p, c in self._connections if p == pid]
            self._connections = [(p, c) for p, c in self._connections if p != pid]
            self._closed = True
        for conn in mine:
            with suppress(sqlite3.Error):
                conn.close()


def _attr(column: str) -> str:
    return "timestamp" if column == "ts" else column


def _check_score(score: object) -> float:
    if (
        isinstance(score, bool)
        or not isinstance(score, numbers.Real)
        or not math.isfinite(float(score))
    ):
        msg = f"a feedback score must be a finite number, got {score!r}"
        raise ValueError(msg)
    return float(score)


def open_log(log: str | os.PathLike[str] | ExposureLog, *, create: bool = True) -> ExposureLog:
    """A log from a path (SQLite) or an object implementing :class:`ExposureLog`.

    Args:
        log: a SQLite file path or a log object (returned as is).
        create: create a missing SQLite file (``False``: a missing file is an error).

    Returns:
        The log.

    Raises:
        TypeError: ``log`` is neither a path nor an :class:`ExposureLog`.
    """
    if isinstance(log, str | os.PathLike):
        return SQLiteExposureLog(log, create=create)
    if isinstance(log, ExposureLog):
        return log
    msg = f"expected a SQLite path or an ExposureLog, got {type(log).__name__}"
    raise TypeError(msg)
