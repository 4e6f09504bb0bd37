"""A collection run killed with SIGKILL mid-run resumes in another process, exactly.

"No completed call lost, none repeated" made precise: a call is *completed* when its
result is committed to the store. After the kill and the resumed run:

* every (model, input) has exactly one stored result, and every result committed before
  the kill is still there unchanged (same output, same commit time, same run);
* the resumed process calls exactly the inputs that had no committed result at the kill
  (each once) and none of the others;
* the calls the killed process had started but not committed (in flight) are the only
  calls made twice overall, and there are at most ``concurrency`` of them per model;
* ``on_result`` (run after each commit) never fires twice for the same (model, input).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

SCRIPT = r"""
import asyncio, json, os, sys
from pathlib import Path

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_benchrouter.collect.graders import Grader
from langchain_benchrouter.collect.runner import collect
from langchain_benchrouter.data.benchmark import Benchmark

root = Path(sys.argv[1])
N = int(sys.argv[2])
PID = os.getpid()


def log(name, line):
    with open(root / name, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()


class Slow(BaseChatModel):
    label: str

    @property
    def _llm_type(self):
        return "slow-fake"

    def _generate(self, messages, stop=None, run_manager=None, **kw):
        raise NotImplementedError

    async def _agenerate(self, messages, stop=None, run_manager=None, **kw):
        text = messages[-1].text
        log("calls.log", f"start\t{PID}\t{self.label}\t{text}")
        await asyncio.sleep(0.05)
        answer = text.split("=")[-1] if "=" in text else "OK"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=answer))])


class Exact(Grader):
    name = "exact-test"
    requires_reference = True

    def grade(self, output, reference, *, text=""):
        return float(output.strip() == reference)


texts = [f"q{i} answer={i}" for i in range(N)]
bench = Benchmark(
    texts=texts,
    tasks=["even" if i % 2 == 0 else "odd" for i in range(N)],
    scores=np.zeros((N, 1)),
    models=["x"],
    references=[str(i) for i in range(N)],
)


def stored(result):
    log("stored.log", f"{PID}\t{result.model}\t{result.index}")


out = collect(
    {"a": Slow(label="a"), "b": Slow(label="b")},
    bench,
    graders=Exact(),
    store=root / "store.sqlite",
    concurrency=3,
    progress=False,
    on_result=stored,
)
(root / "result.json").write_text(json.dumps({"pid": PID, "scores": out.scores.tolist()}))
"""

N = 60
MODELS = ("a", "b")
CONCURRENCY = 3


def _committed(db: Path) -> dict[tuple[str, int], tuple[str, float, str]]:
    """(model, input) -> (output, finished_at, run_id) of every committed result."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT model, idx, output, finished_at, run_id, error FROM results"
        ).fetchall()
    assert all(r[5] is None for r in rows)
    return {(r[0], int(r[1])): (r[2], r[3], r[4]) for r in rows}


def _lines(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split("\t") for line in path.read_text().splitlines() if line]


def test_killed_run_resumes_exactly(tmp_path: Path) -> None:
    script = tmp_path / "run_collect.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, str(script), str(tmp_path), str(N)]
    first = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(_lines(tmp_path / "stored.log")) < 20:
        assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
        assert time.monotonic() < deadline, "the first run stored nothing in time"
        time.sleep(0.005)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL
    assert not (tmp_path / "result.json").exists()

    before = _committed(tmp_path / "store.sqlite")
    every = {(m, i) for m in MODELS for i in range(N)}
    assert 20 <= len(before) < len(every), "the kill did not land mid-run"
    logged_first = {(m, int(i)) for pid, m, i in _lines(tmp_path / "stored.log")}
    # on_result runs after the commit: a result may be committed and not yet logged (the
    # kill fell in between), never logged and not committed
    assert logged_first <= set(before)
    assert len(set(before) - logged_first) <= 1
    starts_first = [
        (m, int(t.split("=")[-1]))
        for kind, pid, m, t in _lines(tmp_path / "calls.log")
        if "=" in t and int(pid) == first.pid
    ]
    assert len(starts_first) == len(set(starts_first))  # no input called twice in a run
    in_flight = set(starts_first) - set(before)
    for m in MODELS:
        assert sum(1 for k in in_flight if k[0] == m) <= CONCURRENCY

    second = subprocess.run(cmd, capture_output=True, timeout=150)
    assert second.returncode == 0, second.stderr.decode()[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    after = _committed(tmp_path / "store.sqlite")

    # complete: one result per (model, input), all graded right
    assert set(after) == every
    assert result["scores"] == [[1.0, 1.0]] * N
    # no committed call lost: what the killed run committed is untouched
    assert {k: after[k] for k in before} == before
    # none repeated: the resumed run called exactly the uncommitted inputs, each once
    starts_second = Counter(
        (m, int(t.split("=")[-1]))
        for kind, pid, m, t in _lines(tmp_path / "calls.log")
        if "=" in t and int(pid) == result["pid"]
    )
    assert set(starts_second) == every - set(before)
    assert set(starts_second.values()) == {1}
    # the only inputs called twice overall are the ones in flight at the kill
    overall = Counter(starts_first) + starts_second
    assert {k for k, c in overall.items() if c > 1} == in_flight
    assert all(c <= 2 for c in overall.values())
    # on_result fired at most once per (model, input) over both processes
    stored = Counter((m, int(i)) for pid, m, i in _lines(tmp_path / "stored.log"))
    assert max(stored.values()) == 1
    assert set(stored) | (set(before) - logged_first) == every
