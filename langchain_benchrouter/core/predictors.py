"""Correctness predictors: g_m(x) = P(model m answers input x correctly).

Two predictors share one interface (``fit(X, Y)`` then ``predict_proba(Q)``, where
``Y`` is the (n, M) label matrix with NaN for missing labels):

* :class:`KNNCorrectnessPredictor`, the paper's default: one cosine neighbour search
  serves all M models, then rows of the label matrix are averaged with missing labels
  masked out.
* :class:`MLPCorrectnessPredictor`, the paper's Appendix C alternative: one multi-output
  network with a sigmoid head per model, trained with a masked binary cross-entropy.

Both can export their fitted state as plain numpy arrays (``get_state``/``from_state``)
so a router can be saved without pickles.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core.index import NeighborIndex, Neighbors
from langchain_benchrouter.errors import NotFittedError

__all__ = [
    "KNNCorrectnessPredictor",
    "MLPCorrectnessPredictor",
    "masked_neighbor_mean",
]

FloatArray = NDArray[np.float32]


def masked_neighbor_mean(
    labels: FloatArray, indices: NDArray[np.int64], prior: FloatArray
) -> FloatArray:
    """Average label rows over each query's neighbours, skipping missing (NaN) labels.

    Args:
        labels: (n, M) label matrix, NaN where a model has no label for an input.
        indices: (q, k) neighbour rows for each query.
        prior: (M,) value used for a model none of whose k neighbours has a label.

    Returns:
        (q, M) float32 array: for each query and model, the mean of that model's known
        labels among the neighbours.

    Example:
        >>> y = np.array([[1, np.nan], [0, 1], [1, 1]], dtype=np.float32)
        >>> masked_neighbor_mean(y, np.array([[0, 1]]), np.zeros(2, np.float32)).tolist()
        [[0.5, 1.0]]
    """
    gathered = labels[indices]  # (q, k, M)
    known = ~np.isnan(gathered)
    counts = known.sum(axis=1)
    sums = np.where(known, gathered, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    out: FloatArray = np.where(counts > 0, mean, prior[None, :]).astype(np.float32)
    return out


def _column_prior(labels: FloatArray) -> FloatArray:
    known = ~np.isnan(labels)
    counts = known.sum(axis=0)
    sums = np.where(known, labels, 0.0).sum(axis=0)
    prior = np.divide(sums, counts, out=np.full(labels.shape[1], 0.5), where=counts > 0)
    out: FloatArray = prior.astype(np.float32)
    return out


class KNNCorrectnessPredictor:
    """kNN correctness predictor: mean label of the k nearest benchmark inputs, per model.

    One neighbour search serves every model; missing labels are masked out of the mean,
    and a model with no labelled neighbour falls back to its mean label on the benchmark.

    Args:
        k: number of neighbours (the paper: 5).

    Example:
        >>> import numpy as np
        >>> X = np.eye(4, dtype=np.float32)
        >>> Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=np.float32)
        >>> KNNCorrectnessPredictor(k=1).fit(X, Y).predict_proba(X[:1]).tolist()
        [[1.0, 0.0]]
    """

    kind: Literal["knn"] = "knn"

    def __init__(self, k: int = 5) -> None:
        self.k = k

    def fit(
        self, X: FloatArray, Y: FloatArray, *, index: NeighborIndex | None = None
    ) -> KNNCorrectnessPredictor:
        """Memorize embeddings ``X`` (n, d) and labels ``Y`` (n, M, NaN = missing)."""
        _check_xy(X, Y)
        if self.k < 1:
            msg = f"k must be >= 1, got {self.k}"
            raise ValueError(msg)
        self.index_ = index if index is not None else NeighborIndex(X)
        self.labels_ = Y
        self.prior_ = _column_prior(Y)
        return self

    def predict_from_neighbors(self, neighbors: Neighbors) -> FloatArray:
        """Predicted correctness from a precomputed search (its first ``k`` columns are used)."""
        _check_fitted(self, "labels_")
        return masked_neighbor_mean(self.labels_, neighbors.indices[:, : self.k], self.prior_)

    def predict_proba(self, Q: FloatArray) -> FloatArray:
        """Predicted correctness (q, M) of every model on each query embedding."""
        _check_fitted(self, "labels_")
        return self.predict_from_neighbors(self.index_.search(Q, self.k))

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-safe parameters and arrays (none: the router stores embeddings and labels)."""
        return {"kind": self.kind, "k": self.k}, {}

    @classmethod
    def from_state(
        cls, params: dict[str, Any], arrays: dict[str, np.ndarray], X: FloatArray, Y: FloatArray
    ) -> KNNCorrectnessPredictor:
        """Rebuild a fitted predictor from :meth:`get_state` output and the router's arrays."""
        del arrays
        return cls(k=int(params["k"])).fit(X, Y)


class MLPCorrectnessPredictor:
    """Multi-output MLP correctness predictor (the paper's Appendix C).

    Two hidden ReLU layers and one sigmoid output per model, trained jointly with a binary
    cross-entropy in which missing labels are masked out (scikit-learn's MLPClassifier
    cannot mask missing targets, hence a small torch training loop). Prediction runs in
    numpy from the stored weights, so a saved router needs no torch at inference.

    Args:
        hidden: sizes of the two hidden layers.
        epochs: passes over the data.
        learning_rate: Adam step size.
        weight_decay: L2 penalty (AdamW).
        batch_size: minibatch size.
        dropout: dropout after each hidden layer during training.
        random_state: seed for weight initialisation and shuffling.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(64, 8)).astype(np.float32)
        >>> Y = (X[:, :2] > 0).astype(np.float32)
        >>> MLPCorrectnessPredictor(epochs=5).fit(X, Y).predict_proba(X[:3]).shape
        (3, 2)
    """

    kind: Literal["mlp"] = "mlp"

    def __init__(
        self,
        hidden: tuple[int, int] = (256, 128),
        *,
        epochs: int = 40,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-3,
        batch_size: int = 128,
        dropout: float = 0.2,
        random_state: int = 0,
    ) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.dropout = dropout
        self.random_state = random_state

    def fit(
        self, X: FloatArray, Y: FloatArray, *, index: NeighborIndex | None = None
    ) -> MLPCorrectnessPredictor:
        """Train on embeddings ``X`` (n, d) and labels ``Y`` (n, M, NaN = missing)."""
        del index
        _check_xy(X, Y)
        import torch  # imported lazily: training is the only step that needs it

        gen = torch.Generator().manual_seed(self.random_state)
        torch.manual_seed(self.random_state)
        d, m = X.shape[1], Y.shape[1]
        h1, h2 = self.hidden
        net = torch.nn.Sequential(
            torch.nn.Linear(d, h1),
            torch.nn.ReLU(),
            torch.nn.Dropout(self.dropout),
            torch.nn.Linear(h1, h2),
            torch.nn.ReLU(),
            torch.nn.Dropout(self.dropout),
            torch.nn.Linear(h2, m),
        )
        opt = torch.optim.AdamW(
            net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        known = torch.from_numpy(~np.isnan(Y))
        yt = torch.from_numpy(np.nan_to_num(Y, nan=0.0).astype(np.float32))
        loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
        n = xt.shape[0]
        net.train()
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, self.batch_size):
                batch = order[start : start + self.batch_size]
                mask = known[batch].float()
                loss = (loss_fn(net(xt[batch]), yt[batch]) * mask).sum() / mask.sum().clamp(min=1.0)
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
        linears = [layer for layer in net if isinstance(layer, torch.nn.Linear)]
        self.weights_ = [lin.weight.detach().numpy().T.astype(np.float32).copy() for lin in linears]
        self.biases_ = [lin.bias.detach().numpy().astype(np.float32).copy() for lin in linears]
        return self

    def predict_from_neighbors(self, neighbors: Neighbors) -> FloatArray:  # pragma: no cover
        """Not available: the MLP predicts from embeddings, not neighbours."""
        msg = "the MLP predictor predicts from embeddings; call predict_proba"
        raise TypeError(msg)

    def predict_proba(self, Q: FloatArray) -> FloatArray:
        """Predicted correctness (q, M) of every model on each query embedding."""
        _check_fitted(self, "weights_")
        h = np.asarray(Q, dtype=np.float32)
        for i, (w, b) in enumerate(zip(self.weights_, self.biases_, strict=True)):
            h = h @ w + b
            if i < len(self.weights_) - 1:
                h = np.maximum(h, 0.0)
        return (1.0 / (1.0 + np.exp(-np.clip(h, -50.0, 50.0)))).astype(np.float32)

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-safe parameters and the weight arrays."""
        _check_fitted(self, "weights_")
        params: dict[str, Any] = {
            "kind": self.kind,
            "hidden": list(self.hidden),
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "batch_size": self.batch_size,
            "dropout": self.dropout,
            "random_state": self.random_state,
            "n_layers": len(self.weights_),
        }
        arrays = {f"mlp_w{i}": w for i, w in enumerate(self.weights_)}
        arrays.update({f"mlp_b{i}": b for i, b in enumerate(self.biases_)})
        return params, arrays

    @classmethod
    def from_state(
        cls, params: dict[str, Any], arrays: dict[str, np.ndarray], X: FloatArray, Y: FloatArray
    ) -> MLPCorrectnessPredictor:
        """Rebuild a fitted predictor from :meth:`get_state` output (X and Y are not needed)."""
        del X, Y
        h1, h2 = (int(v) for v in params["hidden"])
        self = cls(
            (h1, h2),
            epochs=int(params["epochs"]),
            learning_rate=float(params["learning_rate"]),
            weight_decay=float(params["weight_decay"]),
            batch_size=int(params["batch_size"]),
            dropout=float(params["dropout"]),
            random_state=int(params["random_state"]),
        )
        n_layers = int(params["n_layers"])
        self.weights_ = [np.asarray(arrays[f"mlp_w{i}"], dtype=np.float32) for i in range(n_layers)]
        self.biases_ = [np.asarray(arrays[f"mlp_b{i}"], dtype=np.float32) for i in range(n_layers)]
        for i in range(n_layers - 1):
            if self.weights_[i].shape[1] != self.weights_[i + 1].shape[0]:
                msg = f"MLP layer {i} output does not match layer {i + 1} input"
                raise ValueError(msg)
        return self


def _check_xy(X: np.ndarray, Y: np.ndarray) -> None:
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        msg = f"expected X (n, d) and Y (n, M) with the same n, got {X.shape} and {Y.shape}"
        raise ValueError(msg)
    if X.shape[0] == 0:
        msg = "cannot fit a correctness predictor on zero inputs"
        raise ValueError(msg)


def _check_fitted(obj: object, attr: str) -> None:
    if not hasattr(obj, attr):
        msg = f"{type(obj).__name__} is not fitted yet; call fit() first"
        raise NotFittedError(msg)
