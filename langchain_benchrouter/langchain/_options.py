"""Keyword options checked strictly: an unknown one is refused, naming the closest valid one.

Every public constructor of this package (``RoutedChatModel``, ``RouterMiddleware``,
``LazyChatModel``) calls :func:`check_options` on the keywords it is given, so a typo
(``cost_wieght=``) fails at once with ``did you mean 'cost_weight'?``.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from langchain_benchrouter.errors import RoutingInputError

__all__ = ["check_options"]


def check_options(owner: str, given: Collection[str], valid: Collection[str]) -> None:
    """Refuse keyword options ``owner`` does not take, naming the closest valid one.

    Args:
        owner: the class being configured, for the message.
        given: the keywords passed.
        valid: the keywords ``owner`` accepts.

    Raises:
        RoutingInputError: a keyword is not in ``valid``.
    """
    for key in given:
        if key in valid:
            continue
        close = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"valid options: {sorted(valid)}"
        msg = f"{owner}: unknown option {key!r}; {hint}"
        raise RoutingInputError(msg)
