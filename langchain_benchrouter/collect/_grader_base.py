"""The grader base class and what every grader shares: names, reference lists, checks.

Public through :mod:`langchain_benchrouter.collect.graders` (:class:`Grader`).
"""

from __future__ import annotations

import abc
import ast
import asyncio
import json
import math
from typing import Any

from langchain_benchrouter._keywords import keyword_checked
from langchain_benchrouter.errors import GraderError

__all__ = ["Grader", "builtin_grader", "check_score", "grader_name", "reference_list"]

#: Marks a built-in grader class: its constructor refuses unknown keywords with a
#: GraderError naming the closest valid one.
builtin_grader = keyword_checked(GraderError)


class Grader(abc.ABC):
    """Scores one model output in ``[0, 1]``, usually against a reference answer.

    Subclasses set :attr:`name` (stable, including every setting that changes a grade)
    and :attr:`requires_reference`, and implement :meth:`grade`. :meth:`agrade` runs
    :meth:`grade` in a worker thread unless overridden.

    Example:
        >>> class Shorter(Grader):
        ...     name = "shorter_than_reference"
        ...     def grade(self, output, reference, *, text=""):
        ...         return float(len(output) <= len(self._reference(reference)))
        >>> Shorter().grade("Paris", "Paris, France")
        1.0
    """

    name: str
    requires_reference: bool = True

    @abc.abstractmethod
    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """Score ``output`` in ``[0, 1]``.

        Args:
            output: The model's answer text.
            reference: The input's reference answer (``None`` when it has none).
            text: The input the model saw.

        Returns:
            The score, 1.0 for a fully correct output.

        Raises:
            GraderError: The grader cannot grade (e.g. it needs a reference and got none).
        """

    async def agrade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """Score ``output`` without blocking the event loop (:meth:`grade` in a thread)."""
        return await asyncio.to_thread(self.grade, output, reference, text=text)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'name', '?')}>"

    # Helpers for subclasses -------------------------------------------------------------

    def _reference(self, reference: str | None) -> str:
        """The reference, or a GraderError naming this grader when there is none."""
        if reference is None:
            msg = (
                f"grader {self.name!r} needs a reference answer and the input has none: give "
                "the inputs references, or use a grader that needs none (e.g. 'judge' or "
                "'regex')"
            )
            raise GraderError(msg)
        if not isinstance(reference, str):
            msg = f"grader {self.name!r}: the reference must be a string, got {type(reference)}"
            raise GraderError(msg)
        return reference

    def _output(self, output: str) -> str:
        if not isinstance(output, str):
            msg = f"grader {self.name!r}: the output must be a string, got {type(output).__name__}"
            raise GraderError(msg)
        return output

    def _answers(self, reference: str | None) -> list[str]:
        """The acceptable answers of a reference (see :func:`reference_list`)."""
        return reference_list(self._reference(reference))


def grader_name(family: str, **settings: Any) -> str:
    """A grader's stable name: its family and every setting that changes a grade.

    Example:
        >>> grader_name("numeric", rel_tol=0.01, abs_tol=1e-9)
        'numeric(rel_tol=0.01, abs_tol=1e-09)'
    """
    return f"{family}({', '.join(f'{k}={v!r}' for k, v in settings.items())})"


def check_score(grader: str, value: object) -> float:
    """A grader's result as a float in [0, 1], or a GraderError naming the grader."""
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, int | float) and not hasattr(value, "__float__"):
        msg = f"grader {grader!r} returned {value!r} ({type(value).__name__}), not a number"
        raise GraderError(msg)
    try:
        score = float(value)
    except (TypeError, ValueError) as exc:
        msg = f"grader {grader!r} returned {value!r}, not a number"
        raise GraderError(msg) from exc
    if math.isnan(score) or not 0.0 <= score <= 1.0:
        msg = f"grader {grader!r} returned {value!r}: a score must be a number in [0, 1]"
        raise GraderError(msg)
    return score


def reference_list(reference: str) -> list[str]:
    """Several acceptable answers when the reference is a list literal, else just it."""
    stripped = reference.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        parsed: object = None
        try:
            parsed = json.loads(stripped)
        except ValueError:
            try:
                parsed = ast.literal_eval(stripped)  # literals only: never runs code
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                parsed = None
        if isinstance(parsed, list) and parsed and all(isinstance(p, str) for p in parsed):
            return list(parsed)
    return [reference]
