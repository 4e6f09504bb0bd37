"""Neighbour search over benchmark embeddings: one search serves every model.

Two engines sit behind :class:`NeighborIndex`:

* exact cosine search, hand-written in numpy: one BLAS matrix product per block of
  queries and indexed rows, then a two-stage top-n (block maxima first, see
  :func:`_top_candidates`). It replaced scikit-learn's brute-force ``NearestNeighbors``
  because that spends most of its time outside the matrix product: measured on this
  project's 2-core machine, one query against 100k x 384 rows took ~2x longer, and
  4,096 queries against 100k rows spent 7.5 s in ``np.argpartition`` over the full
  distance matrix, against ~0.4 s for the block-maxima selection here.
* approximate search (an inverted-file index of ``faiss-cpu``, the optional ``faiss``
  extra), used above a configurable size; exact search of 1M rows reads the whole
  matrix for every query, the inverted file reads a few lists.

Embeddings can be stored as float16 (half the memory: a 1M x 384 index takes 0.77 GB);
search upcasts blocks of rows to float32 before the product.
"""

from __future__ import annotations

import importlib
import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DEFAULT_APPROXIMATE_ABOVE",
    "Approximate",
    "IndexDtype",
    "NeighborIndex",
    "Neighbors",
    "faiss_available",
]

FloatArray = NDArray[np.float32]
IndexDtype = Literal["float32", "float16"]
Approximate = bool | Literal["auto"]

#: ``approximate="auto"`` switches to the approximate index from this many rows on.
DEFAULT_APPROXIMATE_ABOVE = 50_000

# Work-space budgets of exact search (float32 elements): one similarity block, and one
# block of upcast float16 rows.
_SIM_BLOCK_ELEMENTS = 1 << 25  # 128 MB of float32 similarities
_UPCAST_ROWS = 32_768
_MAX_ROW_BLOCK = 1 << 19
# Rows per block of the block-maxima top-n selection.
_TOPN_BLOCK = 32
# Exact similarities are snapped to multiples of 2**-20 (~1e-6) before ranking. BLAS
# sums a lone query (a matrix-vector product) in another order than a batch, so two rows
# at the same true distance (e.g. both orthogonal to a sparse query) came out in a
# different order alone and in a batch, and a different row entered the k nearest. On
# the grid such near-ties are exact and go to the lower row index in both cases.
_SIM_GRID = 2.0**-20


def _snap(sim: FloatArray) -> FloatArray:
    """Round similarities, in place, to the nearest multiple of ``_SIM_GRID``."""
    np.multiply(sim, 1.0 / _SIM_GRID, out=sim)
    np.rint(sim, out=sim)
    np.multiply(sim, _SIM_GRID, out=sim)
    return sim


@dataclass(frozen=True)
class Neighbors:
    """The result of one neighbour search: cosine distances and row indices, nearest first.

    Attributes:
        distances: float32 array (q, n_neighbors), cosine distances in [0, 2].
        indices: int64 array (q, n_neighbors), rows of the indexed matrix.
    """

    distances: FloatArray
    indices: NDArray[np.int64]

    def head(self, n: int) -> Neighbors:
        """The ``n`` nearest of these neighbours."""
        return Neighbors(self.distances[:, :n], self.indices[:, :n])


def faiss_available() -> bool:
    """Whether the optional ``faiss-cpu`` package (the ``faiss`` extra) can be imported."""
    try:
        _faiss()
    except ImportError:
        return False
    return True


def _faiss() -> Any:
    """The faiss module, typed loosely (its SWIG signatures confuse type checkers)."""
    return importlib.import_module("faiss")


def _normalize(x: NDArray[Any]) -> FloatArray:
    """Rows scaled to unit L2 norm in float32 (zero rows stay zero, as in scikit-learn)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms == 0.0] = 1.0
    out: FloatArray = x / norms[:, None]
    return out


def _top_candidates(sim: FloatArray, n: int) -> NDArray[np.int64]:
    """Column indices (q, n), unordered, of the ``n`` largest entries of each row of ``sim``.

    A full ``np.argpartition`` over a (q, N) block costs ~20 ns per entry. Instead, the
    row is cut into blocks of ``_TOPN_BLOCK`` columns; every entry of the top n lies in
    one of the n blocks with the largest maxima (a block outranked by n others holds no
    top-n entry), so one vectorized max-reduction plus a partition of n * block
    candidates suffices. A tie at the n-th place may then go to either row (as in
    scikit-learn); narrow rows are sorted stably (ties to the lower column).
    """
    q, width = sim.shape
    b = _TOPN_BLOCK
    n_blocks = width // b
    if n_blocks <= 4 * n:  # small: a stable sort, so ties go to the lower column
        out_small: NDArray[np.int64] = np.argsort(-sim, axis=1, kind="stable")[:, :n]
        return out_small.astype(np.int64)
    head = sim[:, : n_blocks * b].reshape(q, n_blocks, b)
    block_max = head.max(axis=2)
    top_blocks = np.argpartition(block_max, n_blocks - n, axis=1)[:, n_blocks - n :]
    cand = (top_blocks[:, :, None] * b + np.arange(b)[None, None, :]).reshape(q, n * b)
    if width > n_blocks * b:
        tail = np.broadcast_to(np.arange(n_blocks * b, width), (q, width - n_blocks * b))
        cand = np.concatenate([cand, tail], axis=1)
    vals = np.take_along_axis(sim, cand, axis=1)
    sel = np.argpartition(vals, vals.shape[1] - n, axis=1)[:, vals.shape[1] - n :]
    out: NDArray[np.int64] = np.take_along_axis(cand, sel, axis=1).astype(np.int64)
    return out


def _sort_neighbors(
    sim: FloatArray, idx: NDArray[np.int64]
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Order each row by decreasing similarity, ties by increasing row index."""
    order = np.lexsort((idx, -sim), axis=1)
    return np.take_along_axis(sim, order, axis=1), np.take_along_axis(idx, order, axis=1)


class NeighborIndex:
    """Cosine neighbour search over benchmark embeddings, exact or approximate.

    Rows are L2-normalized on the way in. Exact search is a blocked matrix product with a
    fast top-n selection; above ``approximate_above`` rows (with ``approximate="auto"``)
    or always (``approximate=True``) an inverted-file index of ``faiss-cpu`` answers
    instead, scanning the ``nprobe`` lists nearest each query. ``"auto"`` without faiss
    installed warns once and stays exact.

    Args:
        embeddings: (n, d) benchmark embeddings.
        dtype: storage precision, ``"float32"`` or ``"float16"`` (half the memory;
            similarities are still computed in float32).
        approximate: ``False`` (exact), ``True`` (approximate; needs faiss) or ``"auto"``.
        approximate_above: with ``"auto"``, use the approximate index from this size on.
        nlist: inverted lists of the approximate index (default ``2 * sqrt(n)``).
        nprobe: lists scanned per query (default 32; more is slower and more exact).
        seed: seed of the training sample of the approximate index.

    Example:
        >>> import numpy as np
        >>> index = NeighborIndex(np.eye(3, dtype=np.float32))
        >>> index.search(np.eye(3, dtype=np.float32)[:1], 2).indices.tolist()
        [[0, 1]]
        >>> NeighborIndex(np.eye(3, dtype=np.float32), dtype="float16").nbytes
        18
    """

    def __init__(
        self,
        embeddings: NDArray[Any],
        *,
        dtype: IndexDtype = "float32",
        approximate: Approximate = False,
        approximate_above: int = DEFAULT_APPROXIMATE_ABOVE,
        nlist: int | None = None,
        nprobe: int | None = None,
        seed: int = 0,
    ) -> None:
        if embeddings.ndim != 2 or embeddings.shape[0] == 0:
            msg = f"a neighbour index needs a non-empty 2-D array, got shape {embeddings.shape}"
            raise ValueError(msg)
        if dtype not in ("float32", "float16"):
            msg = f"dtype must be 'float32' or 'float16', got {dtype!r}"
            raise ValueError(msg)
        if approximate not in (True, False, "auto"):
            msg = f"approximate must be True, False or 'auto', got {approximate!r}"
            raise ValueError(msg)
        self.size = int(embeddings.shape[0])
        self.dim = int(embeddings.shape[1])
        self.dtype: IndexDtype = dtype
        use_ann = approximate is True or (approximate == "auto" and self.size >= approximate_above)
        if use_ann and not faiss_available():
            if approximate is True:
                msg = "approximate=True needs faiss-cpu: pip install 'langchain-benchrouter[faiss]'"
                raise ImportError(msg)
            warnings.warn(
                f"{self.size} benchmark rows: install faiss-cpu (the 'faiss' extra) for fast "
                "approximate neighbour search; using exact search",
                RuntimeWarning,
                stacklevel=2,
            )
            use_ann = False
        self.approximate = bool(use_ann)
        self._data: NDArray[Any] | None = None
        self._faiss: Any = None
        if self.approximate:
            self._build_faiss(embeddings, nlist, nprobe, seed)
        else:
            self._data = self._store(embeddings)

    # ------------------------------------------------------------------ building
    def _store(self, embeddings: NDArray[Any]) -> NDArray[Any]:
        np_dtype = np.float16 if self.dtype == "float16" else np.float32
        out = np.empty((self.size, self.dim), dtype=np_dtype)
        for start in range(0, self.size, _UPCAST_ROWS):
            out[start : start + _UPCAST_ROWS] = _normalize(embeddings[start : start + _UPCAST_ROWS])
        return out

    def _build_faiss(
        self, embeddings: NDArray[Any], nlist: int | None, nprobe: int | None, seed: int
    ) -> None:
        faiss = _faiss()
        default_nlist = min(self.size // 39, int(2 * math.sqrt(self.size)))
        self.nlist = int(nlist) if nlist else max(1, default_nlist)
        self.nprobe = max(1, min(int(nprobe) if nprobe else 32, self.nlist))
        quantizer = faiss.IndexFlatIP(self.dim)
        if self.dtype == "float16":
            index = faiss.IndexIVFScalarQuantizer(
                quantizer,
                self.dim,
                self.nlist,
                faiss.ScalarQuantizer.QT_fp16,
                faiss.METRIC_INNER_PRODUCT,
            )
        else:
            index = faiss.IndexIVFFlat(quantizer, self.dim, self.nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        index.cp.seed = seed
        # faiss wants >= 39 training points per list; 50 per list is plenty.
        n_train = min(self.size, 50 * self.nlist)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(self.size, size=n_train, replace=False))
        index.train(_normalize(embeddings[sample]))
        for start in range(0, self.size, _UPCAST_ROWS):
            index.add(_normalize(embeddings[start : start + _UPCAST_ROWS]))
        index.nprobe = self.nprobe
        self._faiss = index
        self._quantizer = quantizer  # the IVF index does not own it: keep it alive

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored vectors (the approximate index: its inverted lists)."""
        if self._data is not None:
            return int(self._data.nbytes)
        code = 2 if self.dtype == "float16" else 4
        # vectors + 8-byte ids in the lists + the coarse centroids
        return int(self.size * (self.dim * code + 8) + self.nlist * self.dim * 4)

    # ------------------------------------------------------------------ search
    def search(
        self,
        queries: NDArray[Any],
        n_neighbors: int,
        *,
        allowed: NDArray[np.bool_] | None = None,
        exact: bool = False,
    ) -> Neighbors:
        """The ``n_neighbors`` nearest indexed rows of each query (fewer if the index is small).

        Args:
            queries: (q, d) query embeddings (normalized here).
            n_neighbors: neighbours per query; clamped to the number of eligible rows.
            allowed: (size,) mask of rows that may be returned (default: all), e.g. every
                row outside the query's task for leave-one-task-out.
            exact: force an exhaustive search on an approximate index (every list is
                scanned: exact up to the float16 storage).

        Returns:
            :class:`Neighbors`, nearest first (equal distances by row index).
        """
        eligible = self.size if allowed is None else int(np.count_nonzero(allowed))
        if allowed is not None and allowed.shape != (self.size,):
            msg = f"allowed must be a ({self.size},) mask, got shape {allowed.shape}"
            raise ValueError(msg)
        if eligible == 0:
            msg = "no indexed row is allowed as a neighbour"
            raise ValueError(msg)
        n = max(1, min(int(n_neighbors), eligible))
        if queries.shape[0] == 0:
            return Neighbors(np.zeros((0, n), np.float32), np.zeros((0, n), np.int64))
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            msg = f"queries must have shape (q, {self.dim}), got {queries.shape}"
            raise ValueError(msg)
        q = _normalize(queries)
        if self._faiss is not None:
            sim, idx = self._search_faiss(q, n, allowed, self.nlist if exact else self.nprobe)
        else:
            sim, idx = self._search_exact(q, n, allowed)
        # Cosine distance of normalized vectors is in [0, 2]; clip float round-off.
        dist = np.clip(1.0 - sim, 0.0, 2.0).astype(np.float32)
        return Neighbors(dist, idx.astype(np.int64))

    def _search_exact(
        self, q: FloatArray, n: int, allowed: NDArray[np.bool_] | None
    ) -> tuple[FloatArray, NDArray[np.int64]]:
        data = self._data
        assert data is not None
        upcast = data.dtype != np.float32
        row_block = min(self.size, _UPCAST_ROWS if upcast else _MAX_ROW_BLOCK)
        q_block = max(1, _SIM_BLOCK_ELEMENTS // row_block)
        # Row blocks outer, query blocks inner: a float16 block is upcast once per call.
        best_sim: FloatArray | None = None
        best_idx: NDArray[np.int64] | None = None
        for r0 in range(0, self.size, row_block):
            rows = data[r0 : r0 + row_block]
            rows32 = rows.astype(np.float32) if upcast else rows
            mask = None if allowed is None else ~allowed[r0 : r0 + row_block]
            if mask is not None and mask.all():
                continue
            width = rows32.shape[0]
            m = min(n, width if mask is None else int(width - mask.sum()))
            blk_sim = np.full((q.shape[0], n), -np.inf, np.float32)
            blk_idx = np.full((q.shape[0], n), -1, np.int64)
            for q0 in range(0, q.shape[0], q_block):
                sim = _snap(q[q0 : q0 + q_block] @ rows32.T)
                if mask is not None:
                    sim[:, mask] = -np.inf
                cand = _top_candidates(sim, m)
                blk_sim[q0 : q0 + q_block, :m] = np.take_along_axis(sim, cand, axis=1)
                blk_idx[q0 : q0 + q_block, :m] = cand + r0
            if best_sim is None or best_idx is None:
                best_sim, best_idx = blk_sim, blk_idx
            else:
                both_sim = np.concatenate([best_sim, blk_sim], axis=1)
                both_idx = np.concatenate([best_idx, blk_idx], axis=1)
                keep = np.argpartition(both_sim, both_sim.shape[1] - n, axis=1)[:, -n:]
                best_sim = np.take_along_axis(both_sim, keep, axis=1)
                best_idx = np.take_along_axis(both_idx, keep, axis=1)
        assert best_sim is not None and best_idx is not None
        return _sort_neighbors(best_sim, best_idx)

    def _search_faiss(
        self, q: FloatArray, n: int, allowed: NDArray[np.bool_] | None, nprobe: int
    ) -> tuple[FloatArray, NDArray[np.int64]]:
        faiss = _faiss()
        bitmap = None
        if allowed is None:
            params = faiss.SearchParametersIVF(nprobe=nprobe)
        else:
            bitmap = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bitmap))
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        sim, idx = self._faiss.search(q, n, params=params)
        missing = (idx < 0).any(axis=1)
        if missing.any() and nprobe < self.nlist:
            # Too few eligible rows in the scanned lists (a query deep inside its own task,
            # with the task excluded): scan 8 times more lists for those queries, up to all.
            wider = min(self.nlist, 8 * nprobe)
            sim2, idx2 = self._search_faiss(q[missing], n, allowed, wider)
            sim[missing], idx[missing] = sim2, idx2
        del bitmap
        return np.asarray(sim, np.float32), np.asarray(idx, np.int64)
