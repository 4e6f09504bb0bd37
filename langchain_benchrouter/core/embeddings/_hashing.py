"""A fast, deterministic, model-free embedder for tests and smoke runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from langchain_benchrouter.core.embeddings._protocol import (
    FloatMatrix,
    _check_texts,
    _encodable,
    check_embeddings,
)
from langchain_benchrouter.errors import EmbedderError

__all__ = ["HASHING_MAX_CHARS", "HashingEmbedder"]

HASHING_MAX_CHARS = 65_536
"""The :class:`HashingEmbedder` reads at most this many leading characters of a text."""


class HashingEmbedder:
    """A fast, deterministic, model-free embedder, for tests and smoke runs.

    Sums scikit-learn ``HashingVectorizer`` features of word uni- and bigrams and of
    character 3-5-grams (each part L2-normalized, lower-cased, signed hashing) into
    ``n_features`` dense float32 dimensions, then L2-normalizes. The same text always
    gives the same vector, across processes and machines. Texts with no features (such as
    ``""``) map to a fixed unit vector. Texts that share words or spellings are close;
    there is no semantics beyond that. Only the first :data:`HASHING_MAX_CHARS` (65,536)
    characters of a text are read, so time and memory per text are bounded. Lone
    surrogates (which UTF-8 cannot encode) read as ``"?"``.

    Args:
        n_features: Vector length; the name is ``f"hashing-{n_features}"``.

    Example:
        >>> emb = HashingEmbedder()
        >>> emb.name
        'hashing-256'
        >>> emb.embed(["solve for x", "solve for y"]).shape
        (2, 256)
    """

    def __init__(self, n_features: int = 256) -> None:
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 2:
            msg = f"n_features must be an int >= 2, got {n_features!r}."
            raise EmbedderError(msg)
        self.n_features = n_features

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_features={self.n_features})"

    @property
    def name(self) -> str:
        """``"hashing-<n_features>"``."""
        return f"hashing-{self.n_features}"

    @property
    def dimension(self) -> int:
        """Length of the vectors (``n_features``)."""
        return self.n_features

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed ``texts``; see :meth:`Embedder.embed`.

        Raises:
            RoutingInputError: If an item is not a str.
        """
        items = [_encodable(t[:HASHING_MAX_CHARS]) for t in _check_texts(texts)]
        if not items:
            return np.zeros((0, self.n_features), dtype=np.float32)
        from sklearn.feature_extraction.text import HashingVectorizer

        common: dict[str, Any] = {
            "n_features": self.n_features,
            "alternate_sign": True,
            "norm": "l2",
            "lowercase": True,
            "dtype": np.float64,
        }
        words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), **common)
        chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)
        dense = np.asarray((words.transform(items) + chars.transform(items)).toarray())
        empty = ~np.any(dense != 0.0, axis=1)
        dense[empty, 0] = 1.0
        return check_embeddings(dense, len(items), self.name)
