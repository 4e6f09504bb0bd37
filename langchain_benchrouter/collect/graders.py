"""Graders: turn a chat model's output into a score in ``[0, 1]`` against a reference.

The collection runner (:mod:`langchain_benchrouter.collect.runner`) calls one grader per
task. A grader has a stable :attr:`Grader.name` that includes its settings (the run
store keys grades by it, so re-grading stored outputs with another grader makes no new
model calls), says whether it needs a reference answer, and grades synchronously
(:meth:`Grader.grade`) or asynchronously (:meth:`Grader.agrade`).

Built-in graders (:data:`GRADERS` maps their names to classes; :func:`resolve_grader`
builds one from a name, an instance or a callable):

============================  ==============================================================
``exact_match``               :class:`ExactMatch`: SQuAD-normalized exact match
``multiple_choice``           :class:`MultipleChoice`: the letter the output chose
``numeric``                   :class:`Numeric`: the output's final number (GSM8K ``####``)
``contains``                  :class:`Contains`: the reference occurs in the output
``regex``                     :class:`Regex`: a pattern matches the output
``math``                      :class:`MathEquivalence`: ``math_verify`` equivalence
``f1``                        :class:`TokenF1`: SQuAD token F1
``coverage``                  :class:`Coverage`: share of CommonGen concepts used
``code``                      :class:`CodeTests`: the output's code passes the tests
``judge``                     :class:`LLMJudge`: a chat model grades by a rubric
============================  ==============================================================

:func:`grader_for_metric` maps the bundled benchmark's ``metric`` names to graders
(``em_mc``, ``MATH``, ``GSM8K``, ``f1_score``, ``commongen_coverage``, ``code_eval``); when
it returns ``None``, :func:`why_no_grader` says why.

A reference that is a JSON or Python list literal of strings (``'["Paris", "paris, France"]'``)
counts as several acceptable answers for :class:`ExactMatch`, :class:`Contains` and
:class:`TokenF1` (the best match counts).

Every grader raises :class:`~langchain_benchrouter.errors.GraderError` when it is
misconfigured or cannot grade (no reference where one is needed, a reference it cannot
read, a judge reply without a score); a wrong or unreadable *output* scores 0.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from langchain_benchrouter._keywords import check_keywords
from langchain_benchrouter.collect._answer_graders import (
    MathEquivalence,
    MultipleChoice,
    Numeric,
    extract_final_number,
)
from langchain_benchrouter.collect._code_grader import CodeTests, extract_code
from langchain_benchrouter.collect._delegated_graders import CallableGrader, LLMJudge
from langchain_benchrouter.collect._grader_base import Grader
from langchain_benchrouter.collect._text_graders import (
    Contains,
    Coverage,
    ExactMatch,
    Regex,
    TokenF1,
    normalize_answer,
)
from langchain_benchrouter.errors import GraderError

__all__ = [
    "GRADERS",
    "CallableGrader",
    "CodeTests",
    "Contains",
    "Coverage",
    "ExactMatch",
    "Grader",
    "LLMJudge",
    "MathEquivalence",
    "MultipleChoice",
    "Numeric",
    "Regex",
    "TokenF1",
    "extract_code",
    "extract_final_number",
    "grader_for_metric",
    "normalize_answer",
    "resolve_grader",
    "why_no_grader",
]


# --------------------------------------------------------------------------- registry

#: The built-in graders by name (what :func:`resolve_grader` accepts as a string).
GRADERS: Mapping[str, type[Grader]] = MappingProxyType(
    {
        "exact_match": ExactMatch,
        "multiple_choice": MultipleChoice,
        "numeric": Numeric,
        "contains": Contains,
        "regex": Regex,
        "math": MathEquivalence,
        "f1": TokenF1,
        "coverage": Coverage,
        "code": CodeTests,
        "judge": LLMJudge,
    }
)


def resolve_grader(spec: str | Grader | Callable[..., Any], **options: Any) -> Grader:
    """A grader from a built-in name (with its options), an instance, or a callable.

    Args:
        spec: A name in :data:`GRADERS` (``"numeric"``, ``"regex"`` with ``pattern=``,
            ``"judge"`` with ``model=`` and ``rubric=``, ...), a :class:`Grader`
            (returned as is), or a function ``(output, reference[, text]) -> float``
            (wrapped in :class:`CallableGrader`; ``options`` go to it).
        **options: Keyword options of the grader's constructor.

    Returns:
        The grader.

    Raises:
        GraderError: Unknown name, wrong options, or options given with an instance.

    Example:
        >>> resolve_grader("numeric", rel_tol=0.01).name
        'numeric(rel_tol=0.01, abs_tol=1e-09)'
    """
    if isinstance(spec, Grader):
        if options:
            msg = f"resolve_grader got options {sorted(options)} with a ready grader {spec.name!r}"
            raise GraderError(msg)
        return spec
    if isinstance(spec, str):
        cls = GRADERS.get(spec.strip().lower())
        if cls is None:
            close = difflib.get_close_matches(spec, list(GRADERS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"unknown grader {spec!r}{hint}; built-in graders are {sorted(GRADERS)}"
            raise GraderError(msg)
        params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        check_keywords(f"grader {spec!r}", options, params, GraderError)
        try:
            return cls(**options)
        except TypeError as exc:
            msg = f"grader {spec!r} takes the options {params}; got {sorted(options)}: {exc}"
            raise GraderError(msg) from exc
    if callable(spec):
        check_keywords("a callable grader", options, ["name", "requires_reference"], GraderError)
        return CallableGrader(spec, **options)
    msg = (
        f"cannot make a grader from {type(spec).__name__}: pass a name from "
        f"{sorted(GRADERS)}, a Grader, or a function (output, reference) -> float"
    )
    raise GraderError(msg)


_METRICS: dict[str, Callable[[], Grader]] = {
    "em_mc": MultipleChoice,
    "math": MathEquivalence,
    "gsm8k": Numeric,
    "f1_score": TokenF1,
    "commongen_coverage": Coverage,
    "exact_match": ExactMatch,
}


def why_no_grader(metric: str | None, *, allow_code_execution: bool = False) -> str | None:
    """Why :func:`grader_for_metric` has no grader for ``metric`` (``None``: it has one).

    Example:
        >>> why_no_grader("code_eval") is not None
        True
        >>> why_no_grader("em_mc") is None
        True
    """
    if metric is None:
        return "the input has no metric: choose a grader, e.g. resolve_grader('exact_match')"
    key = metric.strip().lower()
    if key == "code_eval":
        if allow_code_execution:
            return None
        return (
            "metric 'code_eval' is graded by running the model's code (CodeTests), which "
            "executes untrusted code on this machine: pass allow_code_execution=True "
            "(CLI: --allow-code-execution) to accept that (ideally in a container)"
        )
    if key in _METRICS:
        return None
    return (
        f"no built-in grader for metric {metric!r} (known: "
        f"{sorted([*_METRICS, 'code_eval'])}): choose one with resolve_grader(...) from "
        f"{sorted(GRADERS)} or a function (output, reference) -> float"
    )


def grader_for_metric(metric: str | None, *, allow_code_execution: bool = False) -> Grader | None:
    """The grader for a benchmark ``metric`` name, or ``None`` (see :func:`why_no_grader`).

    ``em_mc`` -> :class:`MultipleChoice`, ``MATH`` -> :class:`MathEquivalence`, ``GSM8K``
    -> :class:`Numeric`, ``f1_score`` -> :class:`TokenF1`, ``commongen_coverage`` ->
    :class:`Coverage`, ``exact_match`` -> :class:`ExactMatch`, and ``code_eval`` ->
    :class:`CodeTests` only with ``allow_code_execution=True``. Names are matched
    case-insensitively.

    Example:
        >>> grader_for_metric("GSM8K").name
        'numeric(rel_tol=1e-06, abs_tol=1e-09)'
        >>> grader_for_metric("code_eval") is None
        True
    """
    if why_no_grader(metric, allow_code_execution=allow_code_execution) is not None:
        return None
    assert metric is not None
    key = metric.strip().lower()
    if key == "code_eval":
        return CodeTests(allow_execution=True)
    return _METRICS[key]()
