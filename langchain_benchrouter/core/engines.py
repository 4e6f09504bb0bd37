"""Execution engines for the embedding step of fitting: in-process or a Ray cluster.

Embedding is the step of fitting that outgrows one machine: a million benchmark inputs
take hours on a few CPU cores, while everything after it (index, predictor, reference
pairs) runs on one machine in minutes. :func:`embed_texts` runs the embedding in this
process (``engine="local"``) or with Ray Data ``map_batches`` across a cluster
(``engine="ray"``, the optional ``ray`` extra, imported lazily): each actor loads the
embedder once and embeds batches of texts; the driver reassembles the rows in order, so
the result equals the in-process one and feeds ``Router.fit(benchmark, embeddings=...)``.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core.embeddings import Embedder, resolve_embedder

__all__ = ["Engine", "embed_texts", "embed_with_ray"]

Engine = Literal["local", "ray"]


class _EmbedBatch:
    """Ray Data actor: loads the embedder once, embeds one batch of texts per call."""

    def __init__(self, spec: Any) -> None:
        self.embedder = resolve_embedder(spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]])
        return {"row": batch["row"], "embedding": np.asarray(vectors, dtype=np.float32)}


def embed_with_ray(
    texts: Sequence[str],
    embedder: Any = None,
    *,
    batch_size: int = 256,
    concurrency: int | None = None,
    num_cpus_per_actor: float = 1.0,
    address: str | None = None,
) -> NDArray[np.float32]:
    """Embed ``texts`` with Ray Data ``map_batches`` over a Ray cluster.

    Args:
        texts: the texts, in benchmark order.
        embedder: an embedder spec (as ``Router(embedder=...)``) or a picklable
            :class:`~langchain_benchrouter.core.embeddings.Embedder`; each actor resolves it
            once (the sentence-transformers embedder pickles without its loaded model).
        batch_size: texts per ``map_batches`` call.
        concurrency: embedding actors (default: one per CPU of the cluster, at most one
            per batch).
        num_cpus_per_actor: CPUs reserved by each actor.
        address: Ray cluster to join when Ray is not initialized yet (``None``: start or
            join a local one, as ``ray.init()`` does; ``"auto"``: an existing cluster).

    Returns:
        float32 (len(texts), d) embeddings, row i for ``texts[i]``.

    Raises:
        ImportError: Ray is not installed (``pip install 'langchain-benchrouter[ray]'``).

    Example:
        >>> X = embed_with_ray(["a", "b"], "hashing")  # doctest: +SKIP
        >>> X.shape  # doctest: +SKIP
        (2, 256)
    """
    try:
        ray: Any = importlib.import_module("ray")
        importlib.import_module("ray.data")
    except ImportError as exc:
        msg = "engine='ray' needs Ray: pip install 'langchain-benchrouter[ray]'"
        raise ImportError(msg) from exc
    items = list(texts)
    if not items:
        msg = "no texts to embed"
        raise ValueError(msg)
    if batch_size < 1:
        msg = f"batch_size must be >= 1, got {batch_size}"
        raise ValueError(msg)
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    n_batches = -(-len(items) // batch_size)
    if concurrency is None:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        # Leave one CPU for Ray Data's own scheduling and the driver.
        per_actor = max(num_cpus_per_actor, 1e-9)
        concurrency = max(1, min(n_batches, int((cpus - 1) // per_actor)))
    import pyarrow as pa  # a dependency of ray[data]

    # One in-memory block per ~batch: no shuffle/repartition task competes with the
    # embedding actors for CPUs (on a small cluster that deadlocked the pipeline).
    n_blocks = max(1, min(n_batches, 4 * concurrency))
    bounds = np.linspace(0, len(items), n_blocks + 1).astype(int)
    tables = [
        pa.table({"row": np.arange(a, b, dtype=np.int64), "text": items[a:b]})
        for a, b in itertools.pairwise(bounds.tolist())
        if b > a
    ]
    ds = ray.data.from_arrow(tables)
    out = ds.map_batches(
        _EmbedBatch,
        fn_constructor_args=(embedder,),
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=concurrency,
        num_cpus=num_cpus_per_actor,
    )
    result: NDArray[np.float32] | None = None
    seen = np.zeros(len(items), dtype=bool)
    for batch in out.iter_batches(batch_format="numpy", batch_size=None):
        rows = np.asarray(batch["row"], dtype=np.int64)
        vecs = np.asarray(np.stack(list(batch["embedding"])), dtype=np.float32)
        if result is None:
            result = np.empty((len(items), vecs.shape[1]), dtype=np.float32)
        result[rows] = vecs
        seen[rows] = True
    if result is None or not seen.all():
        msg = f"Ray returned embeddings for {int(seen.sum())} of {len(items)} texts"
        raise RuntimeError(msg)
    return result


def embed_texts(
    texts: Sequence[str], embedder: Any = None, *, engine: Engine = "local", **ray_options: Any
) -> NDArray[np.float32]:
    """Embed ``texts`` in this process (``engine="local"``) or on Ray (``engine="ray"``).

    Args:
        texts: the texts.
        embedder: an embedder spec or :class:`~langchain_benchrouter.core.embeddings.Embedder`.
        engine: ``"local"`` or ``"ray"``.
        **ray_options: keyword arguments of :func:`embed_with_ray`.

    Example:
        >>> embed_texts(["a prompt"], "hashing").shape
        (1, 256)
    """
    if engine == "ray":
        return embed_with_ray(texts, embedder, **ray_options)
    if engine != "local":
        msg = f"engine must be 'local' or 'ray', got {engine!r}"
        raise ValueError(msg)
    emb: Embedder = resolve_embedder(embedder)
    return np.asarray(emb.embed(list(texts)), dtype=np.float32)
