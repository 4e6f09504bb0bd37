"""Subprocess helpers of the graders: model-written code under limits, and math_verify.

:func:`run_python` runs a Python program (model output plus a task's tests) in a fresh
interpreter (``sys.executable -I``: no user site, no ``PYTHON*`` variables, no current
directory on ``sys.path``) inside a temporary working directory that is removed
afterwards, with a minimal environment, ``stdin`` closed, and limits set by the child on
itself before any model code runs (``resource.setrlimit``: address space, CPU seconds,
size of any file written, no core dumps), a wall-clock timeout, and stdout/stderr
captured to files capped in size. The child runs in its own session so that the whole
process group, including anything it forked, is killed when it ends or times out.

This bounds accidents (infinite loops, memory bombs, runaway output); it is not a
security boundary: the code can still read the files and use the network this user can.
Run untrusted code in a container or VM.

:class:`MathWorker` keeps one interpreter running math_verify in its own main thread,
where math_verify's signal-based timeouts work, so that graders called from worker
threads or asyncio still get them, plus a wall-clock kill as a backstop (an expression
such as ``9^{9^{9^9}}`` can hold the GIL in C code, where no in-process timeout helps).
POSIX only (``resource`` and process groups).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["ExecResult", "MathWorker", "math_worker_main", "run_python", "shared_math_worker"]

# The child's first statements: set the limits (soft = hard, so the program cannot raise
# them again), then run the program as __main__. Written by hand because it must run
# before any model code in the child; the limits come in argv as JSON.
_BOOTSTRAP = """\
import json, resource, sys
_lim = json.loads(sys.argv[1])
for _name, _value in _lim.items():
    try:
        resource.setrlimit(getattr(resource, _name), (_value, _value))
    except (ValueError, OSError, AttributeError):
        pass
del _lim, _name, _value, json, resource
sys.argv = ["program.py"]
with open("program.py", encoding="utf-8") as _f:
    _src = _f.read()
del _f
exec(compile(_src, "program.py", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
"""


@dataclass(frozen=True)
class ExecResult:
    """What running a program under limits gave.

    Attributes:
        passed: The program exited with status 0 within the limits.
        returncode: The exit status (negative: killed by that signal); ``None`` on timeout.
        timed_out: The wall-clock timeout killed it.
        memory_error: It ran out of the allowed memory (``MemoryError`` in its stderr).
        stdout: The start of its standard output (at most ``max_output_bytes``).
        stderr: The start of its standard error (at most ``max_output_bytes``).
    """

    passed: bool
    returncode: int | None
    timed_out: bool
    memory_error: bool
    stdout: str
    stderr: str

    @property
    def reason(self) -> str:
        """A short human-readable reason for the outcome."""
        if self.passed:
            return "passed"
        if self.timed_out:
            return "timed out"
        if self.memory_error:
            return "exceeded the memory limit"
        if self.returncode is not None and self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = str(-self.returncode)
            return f"killed by {name}"
        last = self.stderr.strip().splitlines()[-1:] or [f"exit status {self.returncode}"]
        return last[0][:300]


def _read_capped(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as f:
            return f.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_python(
    program: str,
    *,
    timeout: float,
    memory_mb: int,
    max_output_bytes: int = 1_000_000,
) -> ExecResult:
    """Run a Python program in a limited subprocess and report how it ended.

    Args:
        program: The program's source.
        timeout: Wall-clock seconds before the process group is killed (CPU time is
            limited to the same, rounded up, plus one second).
        memory_mb: The address-space limit in MiB.
        max_output_bytes: The cap on any file the program writes, stdout and stderr
            included (writing past it kills the program with ``SIGXFSZ``).

    Returns:
        The :class:`ExecResult`.
    """
    limits = {
        "RLIMIT_AS": int(memory_mb) * 1024 * 1024,
        "RLIMIT_CPU": math.ceil(timeout) + 1,
        "RLIMIT_FSIZE": int(max_output_bytes),
        "RLIMIT_CORE": 0,
    }
    env = {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        # Thread pools of numeric libraries reserve address space per thread.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    with tempfile.TemporaryDirectory(prefix="benchrouter-code-") as tmp:
        work = Path(tmp)
        env["HOME"] = env["TMPDIR"] = tmp
        (work / "program.py").write_text(program, encoding="utf-8")
        out_path, err_path = work / ".stdout", work / ".stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOTSTRAP, json.dumps(limits)],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )
            timed_out = False
            try:
                returncode: int | None = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out, returncode = True, None
            finally:
                # Also reaps anything the program forked into its process group.
                _kill_group(proc)
                proc.wait()
        stdout = _read_capped(out_path, max_output_bytes)
        stderr = _read_capped(err_path, max_output_bytes)
    memory_error = not timed_out and "MemoryError" in stderr
    return ExecResult(
        passed=returncode == 0 and not timed_out,
        returncode=returncode,
        timed_out=timed_out,
        memory_error=memory_error,
        stdout=stdout,
        stderr=stderr,
    )


# --------------------------------------------------------------------------- math_verify


def _math_verify_equal(
    gold: str, pred: str, parse_timeout: int | None, verify_timeout: int | None
) -> bool:
    """math_verify's verdict on two texts (``parse`` both, then ``verify``)."""
    from math_verify import parse, verify

    # parse() and verify() return empty / False on failure and log it (raise_on_error
    # defaults to False); a timeout is a failure too, so a pathological output scores 0.
    gold_parsed = parse(gold, parsing_timeout=parse_timeout)
    if not gold_parsed:
        raise ValueError("math_verify found no answer in the reference")
    pred_parsed = parse(pred, parsing_timeout=parse_timeout)
    if not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=verify_timeout))


def math_worker_main() -> None:  # pragma: no cover - runs in the worker subprocess
    """The worker loop: one JSON request per stdin line, one JSON reply per stdout line."""
    import logging

    logging.disable(logging.CRITICAL)
    out: IO[str] = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        try:
            ok = _math_verify_equal(req["gold"], req["pred"], req["pt"], req["vt"])
            reply: dict[str, Any] = {"ok": ok}
        except Exception as exc:  # reported to the parent, which raises GraderError
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


class MathWorker:
    """One long-lived interpreter that answers math_verify questions in its main thread.

    Thread-safe: calls are serialized. A call that overruns ``wall_timeout`` kills the
    worker (the next call starts a fresh one) and raises :class:`TimeoutError`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        code = "from langchain_benchrouter.collect._code_exec import math_worker_main as m; m()"
        return subprocess.Popen(
            [sys.executable, "-I", "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            start_new_session=True,
        )

    def equal(
        self, gold: str, pred: str, *, parse_timeout: int, verify_timeout: int, wall_timeout: float
    ) -> bool:
        """math_verify's verdict, computed in the worker.

        Raises:
            TimeoutError: The worker overran ``wall_timeout`` (it was killed).
            ValueError: The worker reported an error (e.g. no answer in the reference).
        """
        request = json.dumps(
            {"gold": gold, "pred": pred, "pt": parse_timeout, "vt": verify_timeout}
        )
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            proc = self._proc
            assert proc.stdin is not None and proc.stdout is not None
            result: list[str] = []
            reader = threading.Thread(
                target=lambda: result.append(proc.stdout.readline() if proc.stdout else ""),
                daemon=True,
            )
            try:
                proc.stdin.write(request + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._stop(proc)
                raise ValueError(f"the math_verify worker exited: {exc}") from exc
            reader.start()
            reader.join(wall_timeout)
            timed_out = reader.is_alive()
            if timed_out or not result or not result[0]:
                self._stop(proc)
                if timed_out:
                    raise TimeoutError(f"math_verify took longer than {wall_timeout:g} s")
                raise ValueError("the math_verify worker exited without answering")
        reply = json.loads(result[0])
        if "error" in reply:
            raise ValueError(str(reply["error"]))
        return bool(reply["ok"])

    def _stop(self, proc: subprocess.Popen[str]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        if self._proc is proc:
            self._proc = None

    def close(self) -> None:
        """Stop the worker (a later call starts a new one)."""
        with self._lock:
            if self._proc is not None:
                self._stop(self._proc)

    def __del__(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                os.killpg(proc.pid, signal.SIGKILL)


_SHARED_LOCK = threading.Lock()
_SHARED: MathWorker | None = None


def shared_math_worker() -> MathWorker:
    """The process's one :class:`MathWorker` (created on first use)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = MathWorker()
            atexit.register(_SHARED.close)
        return _SHARED
