"""From a user's embedder spec to an :class:`Embedder`: :func:`resolve_embedder`.

:class:`CheckedEmbedder` guards every embedder not defined in this package.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from langchain_benchrouter.core.embeddings._cache import CachedEmbedder
from langchain_benchrouter.core.embeddings._hashing import HashingEmbedder
from langchain_benchrouter.core.embeddings._langchain import LangChainEmbedder
from langchain_benchrouter.core.embeddings._protocol import (
    Embedder,
    FloatMatrix,
    _check_texts,
    check_embeddings,
)
from langchain_benchrouter.core.embeddings._sentence_transformers import (
    SentenceTransformerEmbedder,
)
from langchain_benchrouter.errors import EmbedderError, RoutingInputError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = ["CheckedEmbedder", "resolve_embedder"]


class CheckedEmbedder:
    """A user-supplied :class:`Embedder` with its output validated and its failures typed.

    ``embed`` passes the inner embedder's output through :func:`check_embeddings` (so
    NaN, infinite or all-zero vectors, or the wrong number of rows, raise
    :class:`EmbedderError` instead of producing a meaningless route) and turns any
    exception the inner embedder raises, other than this library's, into an
    :class:`EmbedderError` with the original chained as ``__cause__``. ``name`` and
    other attributes are the inner embedder's. :func:`resolve_embedder` applies it to
    every embedder not defined in this package.

    Example:
        >>> class Bad:
        ...     name = "bad"
        ...     def embed(self, texts):
        ...         return [[float("nan")]] * len(texts)
        >>> resolve_embedder(Bad()).embed(["x"])  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ...
        EmbedderError: Embedder 'bad' returned NaN or infinite values (first in row 0).
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.embedder!r})"

    def __getattr__(self, attr: str) -> Any:
        if attr == "embedder":  # not set yet (unpickling): avoid recursion
            raise AttributeError(attr)
        return getattr(self.embedder, attr)

    @property
    def name(self) -> str:
        """The inner embedder's name."""
        name = self.embedder.name
        if not isinstance(name, str) or not name:
            msg = f"Embedder {self.embedder!r} has no usable name (got {name!r})."
            raise EmbedderError(msg)
        return name

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed with the inner embedder; see :meth:`Embedder.embed`.

        Raises:
            RoutingInputError: If an item is not a str.
            EmbedderError: If the inner embedder raises or returns bad vectors.
        """
        items = _check_texts(texts)
        name = self.name
        try:
            raw = self.embedder.embed(items)
        except (EmbedderError, RoutingInputError):
            raise
        except Exception as exc:
            msg = f"Embedder {name!r} failed on {len(items)} texts: {type(exc).__name__}: {exc}"
            raise EmbedderError(msg) from exc
        return check_embeddings(raw, len(items), name)


def _is_langchain_embeddings(obj: object) -> TypeGuard[Embeddings]:
    # Only check if langchain_core.embeddings is loaded: an instance cannot exist otherwise,
    # and this module stays free of a LangChain import.
    module = sys.modules.get("langchain_core.embeddings")
    base = getattr(module, "Embeddings", None) if module is not None else None
    return isinstance(base, type) and isinstance(obj, base)


_HASHING_SPEC = re.compile(r"hashing(?:-(\d+))?")


def resolve_embedder(
    spec: str | os.PathLike[str] | Embedder | Embeddings | None = None,
) -> Embedder:
    """Turn a user-facing embedder spec into an :class:`Embedder`.

    * ``None``, ``"default"`` or ``"minilm"``: :class:`SentenceTransformerEmbedder` with its
      default lookup (honours ``$BENCHROUTER_EMBEDDING_MODEL``);
    * ``"hashing"`` or ``"hashing-<n>"``: :class:`HashingEmbedder` (so every embedder's
      ``name`` resolves back to an equivalent embedder);
    * any other str or path: ``SentenceTransformerEmbedder(spec)`` (a directory or a hub
      id in the local cache);
    * one of this package's embedders: returned as is;
    * any other :class:`Embedder` (anything with ``name`` and ``embed``): wrapped in
      :class:`CheckedEmbedder`, so its output is validated (NaN, wrong shape, zero rows
      are an :class:`EmbedderError`, never a silent wrong route) and its exceptions
      become :class:`EmbedderError` (the original chained);
    * a LangChain ``Embeddings`` (that is not also an Embedder): wrapped in
      :class:`LangChainEmbedder`.

    Keywords are matched case-insensitively.

    Raises:
        EmbedderError: For any other type (the message names it), or a bad path.

    Example:
        >>> resolve_embedder("hashing").name
        'hashing-256'
    """
    if spec is None:
        return SentenceTransformerEmbedder()
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in {"default", "minilm"}:
            return SentenceTransformerEmbedder()
        match = _HASHING_SPEC.fullmatch(key)
        if match:
            return HashingEmbedder(int(match.group(1)) if match.group(1) else 256)
        return SentenceTransformerEmbedder(spec)
    if isinstance(spec, os.PathLike):
        return SentenceTransformerEmbedder(spec)
    if isinstance(
        spec,
        SentenceTransformerEmbedder
        | HashingEmbedder
        | LangChainEmbedder
        | CachedEmbedder
        | CheckedEmbedder,
    ):
        return spec
    if isinstance(spec, Embedder):
        return CheckedEmbedder(spec)
    if _is_langchain_embeddings(spec):
        return LangChainEmbedder(spec)
    kind = f"{type(spec).__module__}.{type(spec).__qualname__}"
    msg = (
        f"Cannot make an embedder from {kind}. Pass None, 'default', 'hashing', a model "
        "directory or id, an object with `name` and `embed(texts)`, or a LangChain Embeddings."
    )
    raise EmbedderError(msg)
