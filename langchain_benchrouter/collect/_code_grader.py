"""The grader that runs the output's code against the task's tests: :class:`CodeTests`.

Public through :mod:`langchain_benchrouter.collect.graders`; the subprocess itself is
:mod:`langchain_benchrouter.collect._code_exec`.
"""

from __future__ import annotations

import ast
import logging
import re
import warnings

from langchain_benchrouter.collect import _code_exec
from langchain_benchrouter.collect._grader_base import Grader, builtin_grader, grader_name
from langchain_benchrouter.errors import GraderError

__all__ = ["CodeTests", "extract_code"]

logger = logging.getLogger("langchain_benchrouter.collect.graders")


_PY_INFOS = {"", "python", "python3", "py", "py3", "pycon", "ipython"}


def extract_code(output: str, *, entry_point: str | None = None) -> str:
    r"""The program in a model's output: a fenced code block, or the whole output.

    Fences are found with markdown-it (CommonMark); a truncated, unterminated fence
    runs to the end. Among Python (or unlabelled) blocks the first that defines
    ``entry_point`` wins, else the first defining any function, else the first.

    Example:
        >>> extract_code("Sure:\n```python\ndef f():\n    return 1\n```\nDone.")
        'def f():\n    return 1\n'
    """
    if "```" not in output and "~~~" not in output:
        return output
    from markdown_it import MarkdownIt

    blocks = [
        (t.info.strip().lower().split(" ")[0] if t.info.strip() else "", t.content)
        for t in MarkdownIt().parse(output)
        if t.type == "fence"
    ]
    python = [code for info, code in blocks if info in _PY_INFOS] or [c for _, c in blocks]
    if not python:
        return output
    if entry_point:
        pattern = re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", re.M)
        for code in python:
            if pattern.search(code):
                return code
    for code in python:
        if re.search(r"^\s*(?:async\s+)?def\s+\w+\s*\(", code, re.M):
            return code
    return python[0]


def _prompt_entry_point(prompt: str) -> str | None:
    """The last top-level function the prompt defines (HumanEval's entry point)."""
    try:
        tree = ast.parse(prompt)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        names = re.findall(r"^def\s+(\w+)\s*\(", prompt, re.M)
        return names[-1] if names else None
    defs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return defs[-1] if defs else None


def _assert_list(reference: str) -> list[str] | None:
    stripped = reference.strip()
    if not stripped.startswith("["):
        return None
    try:
        parsed = ast.literal_eval(stripped)  # literals only: never runs code
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(parsed, list) and parsed and all(isinstance(p, str) for p in parsed):
        return parsed
    return None


@builtin_grader
class CodeTests(Grader):
    r"""1.0 when the output's code passes the task's tests in a limited subprocess.

    **This executes model-generated code on this machine.** The subprocess gets a
    fresh isolated interpreter, an empty temporary working directory, a minimal
    environment, address-space, CPU-time and file-size limits, a wall-clock timeout and
    its own process group (see :mod:`langchain_benchrouter.collect._code_exec`); that
    stops accidents, not attackers (files and network stay reachable): for untrusted
    models run it in a container. Grading is refused unless ``allow_execution=True``.

    References come in the bundled formats:

    * MBPP: a Python list literal of ``assert`` lines, run after the code;
    * HumanEval: a test program defining ``check(candidate)``; the entry point is the
      last function the input text (the prompt, passed as ``text=``) defines; the
      program is the prompt, the code (a whole function or the body continuing the
      prompt), the tests and ``check(<entry point>)``;
    * anything else: test code appended to the program as is.

    Code is taken from markdown fences when there are any (:func:`extract_code`).

    Args:
        timeout: Wall-clock seconds per program, in ``(0, 600]``.
        memory_mb: Address-space limit in MiB, in ``[64, 65536]``.
        allow_execution: Consent to run model code (required to grade).

    Example:
        >>> grader = CodeTests(allow_execution=True)  # doctest: +SKIP
        >>> code = "def add(a, b):\n    return a + b"
        >>> grader.grade(code, "['assert add(1, 2) == 3']")  # doctest: +SKIP
        1.0
    """

    def __init__(
        self, *, timeout: float = 10.0, memory_mb: int = 512, allow_execution: bool = False
    ) -> None:
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= 600
        ):
            msg = f"CodeTests timeout must be in (0, 600] seconds, got {timeout!r}"
            raise GraderError(msg)
        if isinstance(memory_mb, bool) or not isinstance(memory_mb, int):
            msg = f"CodeTests memory_mb must be a whole number of MiB, got {memory_mb!r}"
            raise GraderError(msg)
        if not 64 <= memory_mb <= 65536:
            msg = f"CodeTests memory_mb must be in [64, 65536], got {memory_mb!r}"
            raise GraderError(msg)
        self.timeout = float(timeout)
        self.memory_mb = memory_mb
        self.allow_execution = bool(allow_execution)
        self.name = grader_name("code", timeout=self.timeout, memory_mb=memory_mb)
        if self.allow_execution:
            note = (
                f"grader {self.name} executes model-generated code on this machine (limited "
                "subprocess, not a security sandbox); run untrusted models in a container"
            )
            warnings.warn(note, RuntimeWarning, stacklevel=2)
            logger.warning(note)

    def program(self, output: str, reference: str, *, text: str = "") -> str:
        """The Python program that grading runs: the output's code plus the tests."""
        if "def check(" in reference:
            entry = _prompt_entry_point(text) if text else None
            if entry is None:
                msg = (
                    f"grader {self.name!r}: a HumanEval-style reference (check(candidate)) needs "
                    "the prompt as text=, defining the function to test"
                )
                raise GraderError(msg)
            code = extract_code(output, entry_point=entry)
            return f"{text.rstrip()}\n{code}\n\n{reference}\n\ncheck({entry})\n"
        asserts = _assert_list(reference)
        if asserts is not None:
            match = re.search(r"\b([A-Za-z_]\w*)\s*\(", asserts[0].removeprefix("assert"))
            code = extract_code(output, entry_point=match.group(1) if match else None)
            return code + "\n\n" + "\n".join(asserts) + "\n"
        return extract_code(output) + "\n\n" + reference + "\n"

    def run(self, output: str, reference: str | None, *, text: str = "") -> _code_exec.ExecResult:
        """Run the program and return how it ended (why it failed, its output).

        Raises:
            GraderError: ``allow_execution`` is not set, or there is no reference.
        """
        output = self._output(output)
        ref = self._reference(reference)
        if not self.allow_execution:
            msg = (
                f"grader {self.name!r} runs model-generated code on this machine and is not "
                "allowed to: pass CodeTests(allow_execution=True) (or "
                "grader_for_metric(..., allow_code_execution=True)) once you accept that, "
                "ideally inside a container"
            )
            raise GraderError(msg)
        return _code_exec.run_python(
            self.program(output, ref, text=text), timeout=self.timeout, memory_mb=self.memory_mb
        )

    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """Score 1.0 when the tests pass, 0.0 when they fail, time out or crash."""
        return float(self.run(output, reference, text=text).passed)
