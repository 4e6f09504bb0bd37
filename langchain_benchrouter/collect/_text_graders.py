"""Graders of short text answers: exact match, containment, regex, token F1, coverage.

Public through :mod:`langchain_benchrouter.collect.graders`.
"""

from __future__ import annotations

import collections
import re
import string
import unicodedata
from collections.abc import Callable

from langchain_benchrouter.collect._grader_base import (
    Grader,
    builtin_grader,
    grader_name,
)
from langchain_benchrouter.errors import GraderError

__all__ = ["Contains", "Coverage", "ExactMatch", "Regex", "TokenF1", "normalize_answer"]


_ARTICLES = re.compile(r"\b(a|an|the)\b")


class _PunctuationTable(dict[int, int]):
    """A ``str.translate`` table mapping every punctuation character to a space, lazily."""

    def __missing__(self, code: int) -> int:
        ch = chr(code)
        punct = ch in string.punctuation or unicodedata.category(ch).startswith("P")
        value = 32 if punct else code
        self[code] = value
        return value


_PUNCTUATION = _PunctuationTable()


def normalize_answer(text: str) -> str:
    """SQuAD answer normalization: lower case, no punctuation, no articles, single spaces.

    Unicode is NFKC-normalized first and every Unicode punctuation character is removed
    (SQuAD's script removes ASCII punctuation only).

    Example:
        >>> normalize_answer("The  Eiffel Tower!")
        'eiffel tower'
    """
    text = unicodedata.normalize("NFKC", text).lower().translate(_PUNCTUATION)
    # SQuAD deletes punctuation (joining "Davis,Jr"); replacing it by a space keeps tokens
    # apart and gives the same result on ordinary text.
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


@builtin_grader
class ExactMatch(Grader):
    """1.0 when the output equals the reference after SQuAD-style normalization.

    Args:
        normalize: Normalize case, whitespace, punctuation and articles (default); with
            ``False`` only surrounding whitespace is ignored.

    Example:
        >>> ExactMatch().grade("The Beatles.", "beatles")
        1.0
    """

    def __init__(self, *, normalize: bool = True) -> None:
        self.normalize = bool(normalize)
        self.name = grader_name("exact_match", normalize=self.normalize)

    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """Score 1.0 if the output matches any acceptable reference answer, else 0.0."""
        output = self._output(output)
        refs = self._answers(reference)
        if self.normalize:
            out = normalize_answer(output)
            return float(any(out == normalize_answer(r) for r in refs))
        return float(any(output.strip() == r.strip() for r in refs))


@builtin_grader
class Contains(Grader):
    """1.0 when the reference occurs in the output (whitespace runs compared as one space).

    Args:
        case_sensitive: Compare case (default: ignore it).

    Example:
        >>> Contains().grade("I think it is PARIS, France.", "Paris")
        1.0
        >>> Contains(case_sensitive=True).grade("PARIS", "Paris")
        0.0
    """

    def __init__(self, *, case_sensitive: bool = False) -> None:
        self.case_sensitive = bool(case_sensitive)
        self.name = grader_name("contains", case_sensitive=self.case_sensitive)

    def _prep(self, s: str) -> str:
        s = " ".join(unicodedata.normalize("NFKC", s).split())
        return s if self.case_sensitive else s.casefold()

    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """Score 1.0 if any acceptable reference answer occurs in the output."""
        out = self._prep(self._output(output))
        refs = [self._prep(r) for r in self._answers(reference)]
        if not any(refs):
            msg = f"grader {self.name!r}: the reference is empty"
            raise GraderError(msg)
        return float(any(r and r in out for r in refs))


@builtin_grader
class Regex(Grader):
    r"""1.0 when a regular expression matches somewhere in the output.

    ``{reference}`` in the pattern is replaced by the escaped reference answer, so
    ``r"answer:\s*{reference}\b"`` checks a format and the answer at once; a pattern
    without it needs no reference.

    Args:
        pattern: A Python regular expression.
        ignore_case: Match case-insensitively.

    Example:
        >>> Regex(r"^\s*yes\b", ignore_case=True).grade("Yes, it is.", None)
        1.0
    """

    def __init__(self, pattern: str, *, ignore_case: bool = False) -> None:
        if not isinstance(pattern, str) or not pattern:
            msg = "Regex needs a non-empty pattern string: Regex(pattern=r'...')"
            raise GraderError(msg)
        self.pattern = pattern
        self.ignore_case = bool(ignore_case)
        self._flags = re.IGNORECASE if self.ignore_case else 0
        self.requires_reference = "{reference}" in pattern
        try:
            re.compile(pattern.replace("{reference}", "x"), self._flags)
        except re.error as exc:
            msg = f"Regex pattern {pattern!r} is not a valid regular expression: {exc}"
            raise GraderError(msg) from exc
        self.name = grader_name("regex", pattern=pattern, ignore_case=self.ignore_case)

    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """Score 1.0 if the pattern matches the output, else 0.0."""
        output = self._output(output)
        pattern = self.pattern
        if self.requires_reference:
            pattern = pattern.replace("{reference}", re.escape(self._reference(reference)))
        return float(re.search(pattern, output, self._flags) is not None)


def _f1(prediction: str, truth: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not pred or not gold:
        return float(pred == gold)
    common = sum((collections.Counter(pred) & collections.Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


@builtin_grader
class TokenF1(Grader):
    """SQuAD token F1 between the output and the reference (the best of several references).

    Used for the ``f1_score`` metric (Natural Questions, TriviaQA). Both sides are
    normalized with :func:`normalize_answer`; an empty output scores 0.

    Example:
        >>> round(TokenF1().grade("Sammy Davis Jr.", "Sammy Davis, Jr"), 3)
        1.0
        >>> round(TokenF1().grade("it was Sammy Davis", "Sammy Davis, Jr"), 3)
        0.571
    """

    name = "f1()"

    def __init__(self) -> None:
        """Token F1 has no options."""

    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """The best token F1 over the acceptable reference answers."""
        output = self._output(output)
        return max(_f1(output, r) for r in self._answers(reference))


_WORD = re.compile(r"[^\W_]+")


@builtin_grader
class Coverage(Grader):
    """Share of the reference's comma-separated concepts that the output mentions.

    For CommonGen (``commongen_coverage``): the reference lists concepts
    (``"dog, frisbee, catch, throw"``) and the output should be a sentence using them.
    A concept counts when every word of it appears in the output; with ``stem=True``
    words are compared by their Snowball (Porter 2) English stem from NLTK, so
    inflections count ("throws", "throwing" ~ "throw"; "dishes" ~ "dish"), but irregular
    forms do not ("threw" is not "throw").

    Args:
        stem: Compare stems (default) rather than lower-cased words.

    Example:
        >>> Coverage().grade("The dog catches the frisbee.", "dog, frisbee, catch, throw")
        0.75
    """

    def __init__(self, *, stem: bool = True) -> None:
        self.stem = bool(stem)
        self._stemmer: Callable[[str], str] | None = None
        if self.stem:
            try:
                from nltk.stem.snowball import SnowballStemmer
            except ImportError as exc:  # pragma: no cover - depends on the environment
                msg = "Coverage(stem=True) needs NLTK: pip install nltk (or pass stem=False)"
                raise GraderError(msg) from exc
            self._stemmer = SnowballStemmer("english").stem
        self.name = grader_name("coverage", stem=self.stem)

    def _terms(self, text: str) -> set[str]:
        words = set(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))
        if self._stemmer is None:
            return words
        return {self._stemmer(w) for w in words}

    def grade(self, output: str, reference: str | None, *, text: str = "") -> float:
        """The fraction of concepts whose words all appear in the output."""
        output = self._output(output)
        concepts = [c for c in self._reference(reference).split(",") if _WORD.search(c)]
        if not concepts:
            msg = f"grader {self.name!r}: the reference has no comma-separated concepts"
            raise GraderError(msg)
        seen = self._terms(output)
        hits = sum(all(t in seen for t in self._terms(c)) for c in concepts)
        return hits / len(concepts)
