"""Graders that read one answer out of free text: an option letter, a number, a formula.

:class:`MultipleChoice` (the option the output chose), :class:`Numeric` (its final
number, :func:`extract_final_number`) and :class:`MathEquivalence` (``math_verify``
equivalence). Public through :mod:`langchain_benchrouter.collect.graders`.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Sequence
from fractions import Fraction

from langchain_benchrouter.collect import _code_exec
from langchain_benchrouter.collect._grader_base import Grader, builtin_grader, grader_name
from langchain_benchrouter.errors import GraderError

__all__ = ["MathEquivalence", "MultipleChoice", "Numeric", "extract_final_number"]

logger = logging.getLogger("langchain_benchrouter.collect.graders")


# --------------------------------------------------------------------------- multiple choice

_MC_DECL = (
    r"(?:\b(?:final|correct|best|right)\s+(?:answer|option|choice)|\banswer)"
    r"(?:\s*\*\*)?"
    r"(?:\s+(?:is|would\s+be|should\s+be|will\s+be|must\s+be)\b|\s*[:=])"
    r"[\s:*_]*(?:(?:option|choice|letter)\b\s*:?\s*)?"
)
_MC_OPEN = r"(?:\*\*|__|[*_(\[{]|\\boxed\{|\\text\{|\\textbf\{)?"
_MC_CLOSE = r"(?:\*\*|__|[*_)\]}])?"
_MC_CONNECTOR = (
    r"\s*(?:,\s*(?:and|or)\s+|,|;|/|&|\+|\band\b|\bor\b|\bas\s+well\s+as\b)\s*"
    r"(?:(?:option|choice)\s+)?"
)


@builtin_grader
class MultipleChoice(Grader):
    r"""1.0 when the option letter the output chose is the reference's.

    The choice is read from free text, in this order:

    1. answer declarations: "The answer is (C)", "Answer: c", "**Answer:** C", "the
       correct option is C", ``\boxed{C}`` (when some say "final answer", only those);
    2. an output that starts with the label: "C", "C.", "(C) Paris", "**C**";
    3. the one label written as "(C)" or "**C**" anywhere.

    An output whose declarations name two different options ("the answer is A and B",
    "answer: A ... answer: B") or that names none scores 0: the grader never picks
    whichever letter came first. A lower-case letter counts only where it cannot be the
    article "a" ("Answer: c", "(b)").

    A reference may be a letter (``"C"``, ``"(C)"``) or a 1-based number (``"3"``; ARC
    has a few such items); for a numeric reference the output may answer with the
    number or the letter in that position.

    Args:
        choices: The option labels, one letter each (default ``"ABCDEFGHIJ"``).

    Example:
        >>> mc = MultipleChoice()
        >>> mc.grade("Let me think... The answer is **(B)**.", "B")
        1.0
        >>> mc.grade("The answer is A and B", "A")
        0.0
    """

    def __init__(self, *, choices: str | Sequence[str] = "ABCDEFGHIJ") -> None:
        labels = [c.strip().upper() for c in choices]
        if not labels or any(len(c) != 1 or not c.isalpha() or not c.isascii() for c in labels):
            msg = f"MultipleChoice choices must be single ASCII letters, got {choices!r}"
            raise GraderError(msg)
        if len(set(labels)) != len(labels):
            msg = f"MultipleChoice choices must be distinct, got {choices!r}"
            raise GraderError(msg)
        self.choices = "".join(labels)
        self.name = grader_name("multiple_choice", choices=self.choices)
        self._patterns = {False: self._compile(False), True: self._compile(True)}

    def _compile(self, numeric: bool) -> tuple[re.Pattern[str], ...]:
        cls = re.escape(self.choices + self.choices.lower())
        if numeric:
            cls += "1-" + str(min(len(self.choices), 9))
        token = rf"{_MC_OPEN}\s*[{cls}](?![A-Za-z0-9])\s*{_MC_CLOSE}"
        chain = rf"{token}(?:{_MC_CONNECTOR}{token})*"
        upper = re.escape(self.choices) + ("1-" + str(min(len(self.choices), 9)) if numeric else "")
        return (
            re.compile(rf"(?:{_MC_DECL}|\\boxed\{{\s*)(?P<chain>{chain})", re.IGNORECASE),
            re.compile(
                rf"(?<![A-Za-z0-9])(?P<open>{_MC_OPEN})\s*(?P<label>[{cls}])(?![A-Za-z0-9])"
            ),
            re.compile(
                rf"\A\s*(?:\*\*|__|[*_(\[])?\s*(?P<label>[{cls}])\s*(?:\*\*|__|[*_)\]])?"
                rf"\s*(?:[.:)]|\Z)"
            ),
            re.compile(rf"\((?P<a>[{upper}])\)|\*\*(?P<b>[{upper}])\*\*"),
        )

    def _index(self, label: str) -> int:
        return int(label) - 1 if label.isdigit() else self.choices.index(label.upper())

    def _reference_index(self, reference: str) -> tuple[int, bool]:
        ref = reference.strip().strip("()[]*.:").strip()
        if len(ref) == 1 and ref.upper() in self.choices:
            return self.choices.index(ref.upper()), False
        if ref.isdigit() and 1 <= int(ref) <= min(len(self.choices), 9):
            return int(ref) - 1, True
        msg = (
            f"grader {self.name!r}: the reference {reference!r} is not one of the choices "
            f"{self.choices!r} (or their 1-based numbers); pass choices= with the task's labels"
        )
        raise GraderError(msg)

    def extract(self, output: str, *, numeric: bool = False) -> int | None:
        """The 0-based index of the option the output chose, or ``None`` (none or several).

        Args:
            output: The model's answer.
            numeric: Also read 1-based option numbers ("The answer is 3").
        """
        decl, token_re, start, wrapped = self._patterns[numeric]
        found: list[tuple[bool, set[int]]] = []
        for m in decl.finditer(output):
            indices: set[int] = set()
            for t in token_re.finditer(m.group("chain")):
                label = t.group("label")
                if label.islower() and not t.group("open"):
                    # A bare lower-case letter counts only when nothing word-like follows
                    # ("answer: c." yes; "the answer is a bit unclear" no).
                    rest = output[m.start("chain") + t.end() :].lstrip(" *_")
                    if rest and (rest[0].isalnum()):
                        continue
                indices.add(self._index(label))
            if indices:
                found.append(("final" in m.group(0).lower(), indices))
        if found:
            if any(final for final, _ in found):
                found = [f for f in found if f[0]]
            union = set().union(*(idx for _, idx in found))
            return union.pop() if len(union) == 1 else None
        head = start.match(output)
        if head is not None:
            label = head.group("label")
            if label.isupper() or label.isdigit() or output.strip(" \t\n*_()[].:").lower() == label:
                return self._index(label)
        seen = {self._index(w.group("a") or w.group("b")) for w in wrapped.finditer(output)}
        return seen.pop() if len(seen) == 1 else None

    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """Score 1.0 when the output chose the reference's option, else 0.0."""
        output = self._output(output)
        index, numeric = self._reference_index(self._reference(reference))
        return float(self.extract(output, numeric=numeric) == index)


# --------------------------------------------------------------------------- numbers

# Numbers are read with a hand-written pattern: no maintained library extracts "the final
# number" from free text with thousands separators, currency, fractions and percents (the
# GSM8K and lm-eval-harness answer extractors are regular expressions too).
_NUMBER = re.compile(
    r"(?<![A-Za-z_.\d])"
    r"(?P<sign>[-\u2212+]?)\s?\$?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+)"
    r"(?!\d)(?:\s*/\s*(?P<den>\d+(?:\.\d+)?)(?![\d/]))?"
)
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*([-\d.,]+)\s*\}\s*\{\s*([-\d.,]+)\s*\}")
_BOXED = re.compile(r"\\boxed\s*\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_ANSWER_DECL = re.compile(
    r"(?:final\s+answer|answer)(?:\s*\*\*)?\s*(?:is\b|:|=)|####", re.IGNORECASE
)


def _numbers(text: str) -> list[float]:
    text = _LATEX_FRAC.sub(r"\1/\2", text.replace("{,}", ",").replace("\\,", "").replace("\\!", ""))
    out: list[float] = []
    for m in _NUMBER.finditer(text):
        try:
            value = float(Fraction(m.group("num").replace(",", "")))
            if m.group("den"):
                den = float(Fraction(m.group("den")))
                if den == 0:
                    continue
                value /= den
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
        if not math.isfinite(value):
            continue
        out.append(-value if m.group("sign") in ("-", "\u2212") else value)
    return out


def extract_final_number(text: str) -> float | None:
    r"""The answer number of a text (``None`` when it has none).

    The number after the last ``####``, else in the last ``\boxed{}``, else the first
    after the last "answer is"/"answer:", else the last number in the text.

    Thousands separators, ``$``, ``%`` (dropped: "72%" is 72), signs (also U+2212),
    decimals, ``1/2`` and ``\frac{1}{2}`` are understood.

    Example:
        >>> extract_final_number("It costs $30,000 in total.\n#### 30,000")
        30000.0
    """
    if "####" in text:
        found = _numbers(text[text.rindex("####") + 4 :])
        if found:
            return found[0]
    boxes = _BOXED.findall(text)
    if boxes:
        found = _numbers(boxes[-1])
        if found:
            return found[0]
    decls = list(_ANSWER_DECL.finditer(text))
    if decls:
        found = _numbers(text[decls[-1].end() : decls[-1].end() + 200])
        if found:
            return found[0]
    found = _numbers(text)
    return found[-1] if found else None


@builtin_grader
class Numeric(Grader):
    r"""1.0 when the output's answer number equals the reference's, within tolerances.

    The output's number is :func:`extract_final_number`'s; the reference's too, so a
    GSM8K solution counts by the number after ``####``. Tolerances are those of
    :func:`math.isclose`.

    Args:
        rel_tol: Relative tolerance (default 1e-6), in ``[0, 1)``.
        abs_tol: Absolute tolerance (default 1e-9), ``>= 0``.

    Example:
        >>> Numeric().grade("So Blake gave $20,000.", "... so $60,000/3 = 20,000.\n#### 20,000")
        1.0
    """

    def __init__(self, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> None:
        for label, value in (("rel_tol", rel_tol), ("abs_tol", abs_tol)):
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                msg = f"Numeric {label} must be a finite number >= 0, got {value!r}"
                raise GraderError(msg)
        if rel_tol >= 1:
            msg = f"Numeric rel_tol must be below 1 (it is a fraction), got {rel_tol!r}"
            raise GraderError(msg)
        self.rel_tol, self.abs_tol = float(rel_tol), float(abs_tol)
        self.name = grader_name("numeric", rel_tol=self.rel_tol, abs_tol=self.abs_tol)

    extract = staticmethod(extract_final_number)

    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """Score 1.0 when the numbers agree, 0.0 otherwise (or when the output has none)."""
        output = self._output(output)
        ref = extract_final_number(self._reference(reference))
        if ref is None:
            msg = f"grader {self.name!r}: the reference {reference!r:.200} holds no number"
            raise GraderError(msg)
        got = extract_final_number(output)
        if got is None:
            return 0.0
        return float(math.isclose(got, ref, rel_tol=self.rel_tol, abs_tol=self.abs_tol))


# --------------------------------------------------------------------------- math


@builtin_grader
class MathEquivalence(Grader):
    r"""1.0 when ``math_verify`` finds the output's answer equivalent to the reference's.

    The reference may be a bare answer (``"28"``, ``"\frac{25\pi}{2}"``) or a full MATH
    solution: ``math_verify.parse`` takes its ``\boxed{...}`` answer. math_verify
    stops a slow parse or comparison with ``SIGALRM``, which only works in the main
    thread; called from any other thread (``agrade``, the runner's worker threads) the
    comparison runs in a long-lived helper interpreter (one per process, started on
    first use) that keeps those timeouts and is killed if it overruns ``2 * timeout + 5``
    seconds; a timed-out output scores 0.

    Args:
        timeout: Seconds (a whole number >= 1) for each parse and for the comparison.

    Example:
        >>> MathEquivalence().grade("So the answer is $\\boxed{0.5}$", "\\frac{1}{2}")
        1.0
    """

    def __init__(self, *, timeout: int = 5) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
            msg = f"MathEquivalence timeout must be a whole number of seconds >= 1, got {timeout!r}"
            raise GraderError(msg)
        try:
            import math_verify  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the environment
            msg = "MathEquivalence needs math-verify: pip install math-verify"
            raise GraderError(msg) from exc
        self.timeout = timeout
        self.name = grader_name("math", timeout=timeout)

    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """Score 1.0 when the answers are mathematically equivalent, else 0.0."""
        output = self._output(output)
        ref = self._reference(reference)
        try:
            if threading.current_thread() is threading.main_thread():
                ok = _code_exec._math_verify_equal(ref, output, self.timeout, self.timeout)
            else:
                ok = _code_exec.shared_math_worker().equal(
                    ref,
                    output,
                    parse_timeout=self.timeout,
                    verify_timeout=self.timeout,
                    wall_timeout=2.0 * self.timeout + 5.0,
                )
        except TimeoutError:
            logger.warning("grader %s: math_verify timed out; the output scores 0", self.name)
            return 0.0
        except ValueError as exc:
            msg = f"grader {self.name!r}: {exc} ({ref[:200]!r})"
            raise GraderError(msg) from exc
        return float(ok)

    def close(self) -> None:
        """Stop the helper interpreter (shared by all instances; the next use restarts it)."""
        _code_exec.shared_math_worker().close()
