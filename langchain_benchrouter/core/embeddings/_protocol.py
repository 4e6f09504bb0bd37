"""The :class:`Embedder` protocol and the checks every embedder's input and output pass.

Each backend in this package (sentence-transformers, LangChain, hashing, the cache) takes
its texts through :func:`_check_texts` and returns its vectors through
:func:`check_embeddings`, so they all fail the same way on the same bad data.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.errors import EmbedderError, RoutingInputError

__all__ = ["Embedder", "FloatMatrix", "check_embeddings"]

_PROGRESS_THRESHOLD = 1000  # texts; above this a progress bar is shown on a terminal

FloatMatrix = npt.NDArray[np.float32]


# --------------------------------------------------------------------------- protocol


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalized float32 vectors.

    ``name`` is the embedder's stable identity: it keys the on-disk cache and is stored
    in saved routers, so two embedders with the same name must give the same vectors.

    Example:
        >>> from langchain_benchrouter.core.embeddings import HashingEmbedder
        >>> emb: Embedder = HashingEmbedder(64)
        >>> emb.embed(["a prompt", "another prompt"]).shape
        (2, 64)
    """

    @property
    def name(self) -> str:
        """Stable identity of the embedding model."""
        ...

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed ``texts`` into a float32 ``(len(texts), d)`` matrix with unit rows."""
        ...


# --------------------------------------------------------------------------- validation


def check_embeddings(x: object, n: int, name: str) -> FloatMatrix:
    """Validate and normalize an embedder's output.

    Every embedder in this package passes its output through this function, so a model
    that returns NaN, the wrong number of rows or a ragged list fails loudly here rather
    than corrupting a router.

    Args:
        x: The raw output (array, tensor converted to numpy, list of lists, ...).
        n: The number of texts that were embedded.
        name: The embedder's name, used in error messages.

    Returns:
        A C-contiguous float32 ``(n, d)`` array whose rows have unit L2 norm.

    Raises:
        EmbedderError: If ``x`` is not a finite numeric ``(n, d)`` matrix with ``d >= 1``,
            or one of its rows is all zeros (it cannot be normalized).

    Example:
        >>> check_embeddings([[3.0, 4.0]], 1, "demo")
        array([[0.6, 0.8]], dtype=float32)
    """
    try:
        arr = np.asarray(x)
        if arr.dtype != np.float32:
            arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        msg = (
            f"Embedder {name!r} returned {type(x).__name__} that is not a numeric matrix "
            f"(ragged rows or non-numbers?): {exc}"
        )
        raise EmbedderError(msg) from exc
    if n == 0 and arr.size == 0 and arr.ndim in (1, 2):
        return np.zeros((0, arr.shape[1] if arr.ndim == 2 else 0), dtype=np.float32)
    if arr.ndim != 2:
        msg = f"Embedder {name!r} returned an array of shape {arr.shape}; expected ({n}, d)."
        raise EmbedderError(msg)
    if arr.shape[0] != n or arr.shape[1] < 1:
        msg = (
            f"Embedder {name!r} returned {arr.shape[0]} vectors of dimension {arr.shape[1]} "
            f"for {n} texts; expected ({n}, d) with d >= 1."
        )
        raise EmbedderError(msg)
    out = np.empty(arr.shape, dtype=np.float32)
    block = 8192  # rows; bounds the float64 working copy
    for start in range(0, n, block):
        rows = arr[start : start + block].astype(np.float64)
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            bad = start + int(np.flatnonzero(~finite)[0])
            msg = f"Embedder {name!r} returned NaN or infinite values (first in row {bad})."
            raise EmbedderError(msg)
        scale = np.abs(rows).max(axis=1, keepdims=True)  # avoids overflow in the norm
        zero = scale[:, 0] == 0.0
        if zero.any():
            bad = start + int(np.flatnonzero(zero)[0])
            msg = (
                f"Embedder {name!r} returned an all-zero vector (first in row {bad}); "
                "it cannot be normalized."
            )
            raise EmbedderError(msg)
        rows /= scale
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        out[start : start + block] = rows
    return out


def _check_texts(texts: Sequence[str]) -> list[str]:
    """Return ``texts`` as a list, or raise RoutingInputError naming the bad item."""
    if isinstance(texts, str):
        msg = "embed() takes a sequence of strings, not a single str; use embed([text])."
        raise RoutingInputError(msg)
    try:
        items = list(texts)
    except TypeError as exc:
        msg = f"embed() takes a sequence of strings, got {type(texts).__name__}."
        raise RoutingInputError(msg) from exc
    for i, item in enumerate(items):
        if not isinstance(item, str):
            msg = f"texts[{i}] is {type(item).__name__}, expected str."
            raise RoutingInputError(msg)
    return items


def _encodable(text: str) -> str:
    """``text``, with lone surrogates (not encodable as UTF-8) replaced by ``"?"``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _want_progress(show: bool | None, n: int) -> bool:
    """Explicit choice, else: many texts and stderr is a terminal."""
    if show is not None:
        return show
    if n <= _PROGRESS_THRESHOLD:
        return False
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False
