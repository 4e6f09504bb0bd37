"""An adapter that turns any LangChain ``Embeddings`` into an :class:`Embedder`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from langchain_benchrouter.core.embeddings._protocol import (
    FloatMatrix,
    _check_texts,
    check_embeddings,
)
from langchain_benchrouter.errors import EmbedderError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = ["LangChainEmbedder"]

_NAME_ATTRS = ("model", "model_name", "model_id", "dimensions", "size")


class LangChainEmbedder:
    """Adapt any LangChain ``Embeddings`` to the :class:`Embedder` protocol.

    Calls ``embed_documents`` and validates the result with :func:`check_embeddings`
    (so NaN, missing rows or ragged vectors raise :class:`EmbedderError`); rows are
    re-normalized, so models that do not return unit vectors are fine.

    The default name is ``"langchain:<ClassName>(...)"`` with the object's ``model`` /
    ``model_name`` / ``model_id`` / ``dimensions`` / ``size`` attributes when set, e.g.
    ``"langchain:OpenAIEmbeddings(model=text-embedding-3-small)"``. Pass ``name`` when
    that does not identify the model (it keys the cache and is stored in saved routers).

    Embedding an empty list needs the vector length: it is remembered from the last call,
    or found by embedding one short probe text.

    Args:
        embeddings: The LangChain embeddings object.
        name: Identity of the model; derived from ``embeddings`` when omitted.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> emb = LangChainEmbedder(DeterministicFakeEmbedding(size=8))
        >>> emb.name
        'langchain:DeterministicFakeEmbedding(size=8)'
        >>> emb.embed(["hello"]).shape
        (1, 8)
    """

    def __init__(self, embeddings: Embeddings, *, name: str | None = None) -> None:
        if not callable(getattr(embeddings, "embed_documents", None)):
            msg = (
                "LangChainEmbedder needs a langchain_core Embeddings object, got "
                f"{type(embeddings).__name__}."
            )
            raise EmbedderError(msg)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            msg = f"name must be a non-empty str, got {name!r}."
            raise EmbedderError(msg)
        self.embeddings = embeddings
        self._name = name if name is not None else self._default_name(embeddings)
        self._dimension: int | None = None

    @staticmethod
    def _default_name(embeddings: object) -> str:
        parts = []
        for attr in _NAME_ATTRS:
            value = getattr(embeddings, attr, None)
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                parts.append(f"{attr}={value}")
        suffix = f"({', '.join(parts)})" if parts else ""
        return f"langchain:{type(embeddings).__name__}{suffix}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r})"

    @property
    def name(self) -> str:
        """Identity of the wrapped model."""
        return self._name

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed ``texts`` with ``embed_documents``; see :meth:`Embedder.embed`.

        Raises:
            RoutingInputError: If an item is not a str.
            EmbedderError: If the wrapped model raises or returns bad vectors.
        """
        items = _check_texts(texts)
        if not items:
            if self._dimension is None:
                self._dimension = int(self._call(["dimension probe"]).shape[1])
            return np.zeros((0, self._dimension), dtype=np.float32)
        out = self._call(items)
        self._dimension = int(out.shape[1])
        return out

    def _call(self, items: list[str]) -> FloatMatrix:
        try:
            raw = self.embeddings.embed_documents(items)
        except Exception as exc:
            msg = f"LangChain embeddings {self._name!r} failed on {len(items)} texts: {exc}"
            raise EmbedderError(msg) from exc
        return check_embeddings(raw, len(items), self._name)
