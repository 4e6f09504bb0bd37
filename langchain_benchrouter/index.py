"""Neighbour search over benchmark embeddings: one search serves every model.

Exact cosine search via scikit-learn's brute-force :class:`~sklearn.neighbors.NearestNeighbors`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.neighbors import NearestNeighbors

__all__ = ["NeighborIndex", "Neighbors"]

FloatArray = NDArray[np.float32]


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


class NeighborIndex:
    """Exact cosine neighbour search over L2-normalized embeddings.

    A thin wrapper over scikit-learn's brute-force :class:`~sklearn.neighbors.NearestNeighbors`
    that fixes the metric, clamps ``n_neighbors`` to the index size and returns typed arrays.

    Example:
        >>> import numpy as np
        >>> index = NeighborIndex(np.eye(3, dtype=np.float32))
        >>> index.search(np.eye(3, dtype=np.float32)[:1], 2).indices.tolist()
        [[0, 1]]
    """

    def __init__(self, embeddings: FloatArray) -> None:
        if embeddings.ndim != 2 or embeddings.shape[0] == 0:
            msg = f"a neighbour index needs a non-empty 2-D array, got shape {embeddings.shape}"
            raise ValueError(msg)
        self.size = int(embeddings.shape[0])
        self._nn = NearestNeighbors(metric="cosine", algorithm="brute").fit(embeddings)

    def search(self, queries: FloatArray, n_neighbors: int) -> Neighbors:
        """The ``n_neighbors`` nearest indexed rows of each query (fewer if the index is small)."""
        n = max(1, min(int(n_neighbors), self.size))
        if queries.shape[0] == 0:
            return Neighbors(np.zeros((0, n), np.float32), np.zeros((0, n), np.int64))
        dist, idx = self._nn.kneighbors(queries, n_neighbors=n, return_distance=True)
        # Cosine distance of normalized vectors is in [0, 2]; clip float round-off.
        return Neighbors(np.clip(dist, 0.0, 2.0).astype(np.float32), idx.astype(np.int64))
