"""Refusing unknown keyword options with an error that names the closest valid one.

Python answers ``ExactMatch(normalise=False)`` with a bare ``TypeError``, and a pydantic
model may ignore the keyword; every public constructor of this package goes through
:func:`check_keywords` (directly, or through the class decorator
:func:`keyword_checked`) and answers with the library's own error class and the closest
valid option (``did you mean 'normalize'?``), or the list of valid ones.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

__all__ = ["check_keywords", "keyword_checked"]

_C = TypeVar("_C", bound=type)


def check_keywords(
    owner: str, given: Iterable[str], valid: Collection[str], error: type[Exception]
) -> None:
    """Refuse keywords ``owner`` does not take, naming the closest valid one.

    Args:
        owner: What is being configured, for the message (``"ExactMatch"``).
        given: The keywords passed.
        valid: The keywords ``owner`` takes.
        error: The exception class to raise.

    Raises:
        Exception: ``error``, for the first keyword not in ``valid``.

    Example:
        >>> check_keywords("Numeric", ["rel_tl"], ["rel_tol", "abs_tol"], ValueError)
        Traceback (most recent call last):
        ...
        ValueError: Numeric: unknown option 'rel_tl'; did you mean 'rel_tol'?
    """
    options = sorted(valid)
    for key in given:
        if key in valid:
            continue
        close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"valid options: {options}"
        msg = f"{owner}: unknown option {key!r}; {hint}"
        raise error(msg)


def _keyword_names(init: Callable[..., Any]) -> frozenset[str] | None:
    """The keywords ``init`` accepts (``None``: it takes ``**kwargs``, anything goes)."""
    params = list(inspect.signature(init).parameters.values())[1:]  # without self
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind is not p.POSITIONAL_ONLY)


def keyword_checked(error: type[Exception]) -> Callable[[_C], _C]:
    """A class decorator: the constructor refuses unknown keywords with ``error``.

    The constructor keeps its signature (``inspect.signature`` still shows it); only
    keywords it does not take are refused, before it runs, by :func:`check_keywords`.

    Args:
        error: The exception class to raise.

    Returns:
        The decorator, which returns the class itself.
    """

    def decorate(cls: _C) -> _C:
        init: Callable[..., None] = vars(cls).get("__init__", cls.__init__)  # type: ignore[misc]
        valid = _keyword_names(init)
        if valid is None:
            return cls

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            check_keywords(cls.__name__, kwargs, valid, error)
            init(self, *args, **kwargs)

        cls.__init__ = __init__  # type: ignore[misc]
        return cls

    return decorate
