"""Keyword options checked strictly: an unknown one is refused, naming the closest valid one.

Every public constructor of this package (``RoutedChatModel``, ``RouterMiddleware``,
``LazyChatModel``) calls :func:`check_options` on the keywords it is given, so a typo
(``cost_wieght=``) fails at once with ``did you mean 'cost_weight'?``.
"""

from __future__ import annotations

from collections.abc import Collection

from langchain_benchrouter._keywords import check_keywords
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
    check_keywords(owner, given, valid, RoutingInputError)
