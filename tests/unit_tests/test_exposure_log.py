"""The SQLite exposure log: round trips, concurrency (threads, processes), crash safety."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_benchrouter.errors import BenchRouterError
from langchain_benchrouter.experiments.experiment import Experiment
from langchain_benchrouter.experiments.exposure_log import (
    Exposure,
    ExposureLog,
    ExposureLogError,
    Feedback,
    SQLiteExposureLog,
    UnknownRunError,
    open_log,
)
from langchain_benchrouter.experiments.report import compute_report


def exposure(run_id: str, arm: str = "a", **kw: object) -> Exposure:
    return Exposure("exp", arm, f"hash-{run_id}", run_id=run_id, model=f"model-{arm}", **kw)  # type: ignore[arg-type]


def test_round_trip_and_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ab.sqlite"
    log = SQLiteExposureLog(path)
    e1 = exposure("r1", latency_s=0.25, input_tokens=3, output_tokens=4, total_tokens=7, cost=0.5)
    e2 = exposure("r2", arm="b", error="ValueError: boom")
    log.log_exposures([e1, e2])
    log.log_exposure(Exposure("other", "x", "h", run_id="r3"))
    assert log.exposures("exp") == [e1, e2]
    assert [e.run_id for e in log.exposures()] == ["r1", "r2", "r3"]
    assert log.experiments() == ["exp", "other"]
    log.log_feedback([Feedback("r1", 1.0), Feedback("r3", 0.5, metric="helpful", comment="ok")])
    assert [(f.run_id, f.score) for f in log.feedback("exp")] == [("r1", 1.0)]
    assert [f.metric for f in log.feedback()] == ["score", "helpful"]
    assert [f.run_id for f in log.feedback(metric="helpful")] == ["r3"]
    assert log.runs_for_unit("exp", "hash-r2") == ["r2"]
    log.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # a new instance (a restart) sees everything
    again = SQLiteExposureLog(path, create=False)
    assert again.exposures("exp") == [e1, e2]
    assert again.integrity_check()
    assert isinstance(again, ExposureLog)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ExposureLogError, match="no such exposure log"):
        SQLiteExposureLog(tmp_path / "missing.sqlite", create=False)
    with pytest.raises(ExposureLogError, match="directory"):
        SQLiteExposureLog(tmp_path)
    log = SQLiteExposureLog(tmp_path / "ab.sqlite")
    log.log_exposures([exposure("r1")])
    with pytest.raises(ExposureLogError, match="only once") as info:
        log.log_exposures([exposure("r2"), exposure("r1")])
    assert isinstance(info.value, BenchRouterError)
    assert [e.run_id for e in log.exposures()] == ["r1"]  # the batch is all or nothing
    with pytest.raises(UnknownRunError, match="nope"):
        log.log_feedback([Feedback("r1", 1.0), Feedback("nope", 1.0)])
    assert log.feedback() == []  # nothing of the failed batch was written
    for bad in (float("nan"), float("inf"), "1", True):
        with pytest.raises(ValueError, match="finite number"):
            log.log_feedback([Feedback("r1", bad)])  # type: ignore[arg-type]
    log.close()
    with pytest.raises(ExposureLogError, match="closed"):
        log.exposures()
    with pytest.raises(TypeError):
        open_log(3.5)  # type: ignore[arg-type]


def test_queries_are_parameterized(tmp_path: Path) -> None:
    log = SQLiteExposureLog(tmp_path / "ab.sqlite")
    nasty = "x'; DROP TABLE benchrouter_exposures; --"
    log.log_exposures([Exposure(nasty, nasty, nasty, run_id=nasty, model=nasty)])
    log.log_feedback([Feedback(nasty, 1.0, metric=nasty, comment=nasty)])
    assert log.exposures(nasty)[0].arm == nasty
    assert log.feedback(nasty, nasty)[0].comment == nasty
    assert log.runs_for_unit(nasty, nasty) == [nasty]


def test_eight_threads_lose_nothing(tmp_path: Path) -> None:
    log = SQLiteExposureLog(tmp_path / "ab.sqlite")
    per_thread = 150
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for i in range(per_thread):
                log.log_exposure(exposure(f"t{t}-{i}", arm=f"arm{t % 2}"))
                if i % 3 == 0:
                    log.log_feedback([Feedback(f"t{t}-{i}", 1.0)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    ids = {e.run_id for e in log.exposures("exp")}
    assert ids == {f"t{t}-{i}" for t in range(8) for i in range(per_thread)}
    assert len(log.feedback("exp")) == 8 * len(range(0, per_thread, 3))


def _process_writer(path: str, p: int, n: int) -> None:
    log = SQLiteExposureLog(path)
    for i in range(n):
        log.log_exposure(exposure(f"p{p}-{i}", arm=f"arm{p}"))
        if i % 2 == 0:
            log.log_feedback([Feedback(f"p{p}-{i}", 0.5)])
    log.close()


def test_four_forked_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ab.sqlite"
    parent = SQLiteExposureLog(path)  # a forked child must not reuse this connection
    parent.log_exposure(exposure("parent"))
    ctx = multiprocessing.get_context("fork")
    n = 120
    procs = [ctx.Process(target=_process_writer, args=(str(path), p, n)) for p in range(4)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join(60)
    assert [pr.exitcode for pr in procs] == [0, 0, 0, 0]
    ids = {e.run_id for e in parent.exposures("exp")}
    assert ids == {"parent"} | {f"p{p}-{i}" for p in range(4) for i in range(n)}
    assert len(parent.feedback("exp")) == 4 * (n // 2)
    assert parent.integrity_check()


_INDEPENDENT_WRITER = """
import sys
from langchain_benchrouter.experiments.exposure_log import Exposure, Feedback, SQLiteExposureLog
path, p, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
log = SQLiteExposureLog(path)
for i in range(n):
    log.log_exposures([Exposure("exp", "arm", "h", run_id=f"q{p}-{i}")])
    log.log_feedback([Feedback(f"q{p}-{i}", 1.0)])
"""


def test_four_independent_interpreters_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ab.sqlite"
    n = 150
    procs = [
        subprocess.Popen([sys.executable, "-c", _INDEPENDENT_WRITER, str(path), str(p), str(n)])
        for p in range(4)
    ]
    assert [pr.wait(60) for pr in procs] == [0, 0, 0, 0]
    log = SQLiteExposureLog(path)
    assert {e.run_id for e in log.exposures("exp")} == {
        f"q{p}-{i}" for p in range(4) for i in range(n)
    }
    assert len(log.feedback("exp")) == 4 * n


def _forked_log_writer(path: str) -> None:
    log = SQLiteExposureLog(path)
    b = 0
    while True:  # killed by the parent mid-way
        log.log_exposures([exposure(f"b{b}-{i}") for i in range(50)])
        b += 1


def test_a_killed_writer_never_corrupts_the_log(tmp_path: Path) -> None:
    path = tmp_path / "ab.sqlite"
    SQLiteExposureLog(path).close()
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_forked_log_writer, args=(str(path),))
    proc.start()
    reader = SQLiteExposureLog(path)
    deadline = time.monotonic() + 20
    while len(reader.exposures()) < 500 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    after = SQLiteExposureLog(path)
    assert after.integrity_check()
    rows = after.exposures()
    assert len(rows) >= 500 and len(rows) % 50 == 0  # whole batches only
    after.log_exposures([exposure("after-the-crash")])  # still writable
    assert after.exposures()[-1].run_id == "after-the-crash"


class MemoryLog:
    """A minimal in-memory ExposureLog: the protocol is all an experiment and a report need."""

    def __init__(self) -> None:
        self.rows: list[Exposure] = []
        self.fb: list[Feedback] = []
        self.lock = threading.Lock()

    def log_exposures(self, exposures: list[Exposure]) -> None:
        with self.lock:
            self.rows.extend(exposures)

    def log_feedback(self, feedback: list[Feedback]) -> None:
        with self.lock:
            known = {e.run_id for e in self.rows}
            if any(f.run_id not in known for f in feedback):
                raise UnknownRunError("unknown run")
            self.fb.extend(feedback)

    def exposures(self, experiment: str | None = None) -> list[Exposure]:
        return [e for e in self.rows if experiment in (None, e.experiment)]

    def feedback(self, experiment: str | None = None, metric: str | None = None) -> list[Feedback]:
        runs = {e.run_id for e in self.exposures(experiment)}
        return [f for f in self.fb if f.run_id in runs and metric in (None, f.metric)]

    def runs_for_unit(self, experiment: str, unit_hash: str) -> list[str]:
        return [e.run_id for e in self.exposures(experiment) if e.unit_hash == unit_hash]

    def close(self) -> None:
        pass


def test_another_backend_plugs_in_through_the_protocol() -> None:
    mem = MemoryLog()
    assert isinstance(mem, ExposureLog)
    assert open_log(mem) is mem
    exp = Experiment(
        name="mem",
        arms={
            "a": FakeListChatModel(responses=["x"] * 40),
            "b": FakeListChatModel(responses=["y"] * 40),
        },
        log=mem,
    )
    for i in range(20):
        exp.invoke(f"prompt {i}")
        exp.record_feedback(
            1.0 if exp.arm_for_key(f"prompt {i}") == "a" else 0.0, key=f"prompt {i}"
        )
    report = compute_report(mem, "mem")
    assert {a.arm: a.exposures for a in report.arms} == dict(
        __import__("collections").Counter(exp.arm_for_key(f"prompt {i}") for i in range(20))
    )
    assert report.arm("a").mean_score == 1.0 and report.arm("b").mean_score == 0.0
