"""A new model from a few evaluations: predict its correctness on every benchmark input.

Evaluating a new chat model on a whole benchmark costs thousands of calls. The models a
router already holds say a lot about a new one: inputs that most models fail are hard,
models good at law questions tend to be good at history. This module fits a latent-factor
model of the router's label matrix (a multidimensional two-parameter IRT model, i.e.
logistic matrix factorisation with per-task skills) on the existing models' columns::

    P(y[i, m] = 1) = sigmoid(b[i] + a[i] . theta[m] + g[m, task(i)])

with item difficulties ``b``, item factors ``a``, model abilities ``theta`` and per-task
skills ``g``. A new model's ``(theta, g)`` is then fitted from its scores on a few
*anchor* inputs by Bayesian logistic regression whose Gaussian prior is the existing
models' spread of ``(theta, g)`` (a Ledoit-Wolf covariance: few models, many
dimensions); its posterior (a Laplace approximation) gives each prediction its
uncertainty. The anchors are chosen by the library: k-means over the rows of the label
matrix (how the existing models fare on each input, plus the input's task), one anchor
per cluster, the input nearest its centre (:meth:`LatentCorrectnessModel.choose_anchors`;
``docs/new-models.md`` compares it with random inputs and with greedy Fisher information).

The estimator is LangChain-free and shaped like a scikit-learn estimator; the router
faces are :meth:`Router.add_model <langchain_benchrouter.core.router.Router.add_model>`
and :meth:`Router.anchor_inputs <langchain_benchrouter.core.router.Router.anchor_inputs>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.errors import NotFittedError, RoutingInputError

if TYPE_CHECKING:  # pragma: no cover
    from langchain_benchrouter.core.router import Router
    from langchain_benchrouter.data.benchmark import Benchmark

__all__ = [
    "ANCHOR_STRATEGIES",
    "AnchorInput",
    "LatentCorrectnessModel",
    "NewModelEstimate",
    "add_estimated_model",
    "anchor_inputs",
    "estimated_summary",
]

AnchorStrategy = Literal["cluster", "information", "random"]
#: How anchors can be chosen: ``"cluster"`` (default, measured best), ``"information"``
#: (greedy D-optimal Fisher information of the new model's parameters), ``"random"``.
ANCHOR_STRATEGIES: tuple[str, ...] = ("cluster", "information", "random")
#: Weight of the task one-hot in the cluster features (a label row has values in [0, 1]):
#: large enough that clusters rarely mix tasks, so every task gets anchors.
_TASK_WEIGHT = 2.0
_F = NDArray[np.float64]


@dataclass(frozen=True)
class AnchorInput:
    """One benchmark input the library asks you to evaluate a new model on.

    Attributes:
        row: the router's row of the input: the key of its score in
            :meth:`Router.add_model`'s ``scores`` (or use ``text``).
        task: the benchmark task of the input (``"(labelled inputs)"`` for a user row).
        text: the input text, when :meth:`Router.anchor_inputs` was given the benchmark
            (the router keeps embeddings, not texts); else ``None``.

    Example:
        >>> anchors = router.anchor_inputs(budget=50, benchmark=bench)  # doctest: +SKIP
        >>> scores = {a.row: grade(my_model(a.text)) for a in anchors}  # doctest: +SKIP
    """

    row: int
    task: str
    text: str | None = None


@dataclass(frozen=True)
class NewModelEstimate:
    """A new model's predicted correctness on every row, from its anchor scores.

    Attributes:
        proba: (n,) P(correct) on every row (the measured 0/1 label on anchor rows).
        proba_sd: (n,) posterior standard deviation of ``proba`` (0 on anchors).
        task_accuracy: (T,) the estimated mean score per task (anchors count their score).
        task_accuracy_sd: (T,) its posterior standard deviation.
        accuracy: the estimated mean of ``task_accuracy`` over tasks.
        accuracy_sd: its posterior standard deviation.
        anchor_rows: the rows whose scores were given.
        weights: the fitted ``(theta, g)`` of the new model.
        covariance: their posterior covariance (Laplace approximation).
    """

    proba: _F
    proba_sd: _F
    task_accuracy: _F
    task_accuracy_sd: _F
    accuracy: float
    accuracy_sd: float
    anchor_rows: NDArray[np.int64]
    weights: _F
    covariance: _F


class LatentCorrectnessModel:
    """Logistic matrix factorisation of a label matrix; new columns from a few entries.

    Args:
        n_factors: latent dimensions of items and models (besides per-task skills).
        alpha: L2 penalty of item factors and model abilities.
        task_alpha: L2 penalty of the per-task skills.
        bias_alpha: L2 penalty of the item difficulties.
        max_iter: L-BFGS iterations of the fit.
        random_state: seed of the initial factors and of the anchor choice's k-means.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> Y = (rng.random((200, 6)) < 0.5).astype(float)
        >>> est = LatentCorrectnessModel(n_factors=2).fit(Y, np.zeros(200, dtype=int))
        >>> rows = est.choose_anchors(20)
        >>> est.estimate(rows, Y[rows, 0]).proba.shape
        (200,)
    """

    def __init__(
        self,
        *,
        n_factors: int = 3,
        alpha: float = 20.0,
        task_alpha: float = 1.0,
        bias_alpha: float = 1.0,
        max_iter: int = 300,
        random_state: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.alpha = alpha
        self.task_alpha = task_alpha
        self.bias_alpha = bias_alpha
        self.max_iter = max_iter
        self.random_state = random_state

    def _validate(self) -> None:
        if isinstance(self.n_factors, bool) or not isinstance(self.n_factors, int):
            msg = f"n_factors must be an int >= 0, got {self.n_factors!r}"
            raise ValueError(msg)
        if self.n_factors < 0:
            msg = f"n_factors must be >= 0, got {self.n_factors}"
            raise ValueError(msg)
        for name in ("alpha", "task_alpha", "bias_alpha"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not np.isfinite(v) or v <= 0:
                msg = f"{name} must be a finite number > 0, got {v!r}"
                raise ValueError(msg)
        if not isinstance(self.max_iter, int) or self.max_iter < 1:
            msg = f"max_iter must be an int >= 1, got {self.max_iter!r}"
            raise ValueError(msg)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters (scikit-learn convention)."""
        del deep
        return {
            "n_factors": self.n_factors,
            "alpha": self.alpha,
            "task_alpha": self.task_alpha,
            "bias_alpha": self.bias_alpha,
            "max_iter": self.max_iter,
            "random_state": self.random_state,
        }

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        labels: NDArray[Any],
        task_index: NDArray[Any],
        *,
        task_accuracy: NDArray[Any] | None = None,
    ) -> LatentCorrectnessModel:
        """Fit item and model parameters on a (n, M) label matrix (0/1 or soft, NaN missing).

        Args:
            labels: (n, M) correctness of M models on n inputs; NaN where unknown.
            task_index: (n,) task of each input; negative: no benchmark task (a user row).
            task_accuracy: (T, M) the models' mean *scores* per task, when scores are not
                0/1 (a continuous metric): each task's map from the rate of correct labels to
                the mean score is fitted across models. Default: the label rate itself.

        Returns:
            self.
        """
        from scipy.optimize import minimize
        from scipy.special import expit

        self._validate()
        Y = np.asarray(labels, dtype=np.float64)
        ti = np.asarray(task_index, dtype=np.int64)
        if Y.ndim != 2 or ti.shape != (Y.shape[0],):
            msg = f"labels {Y.shape} and task_index {ti.shape} disagree"
            raise ValueError(msg)
        mask = ~np.isnan(Y)
        if (Y[mask] < 0).any() or (Y[mask] > 1).any():
            msg = "labels must lie in [0, 1] (NaN where unknown)"
            raise ValueError(msg)
        n, m = Y.shape
        if m < 2 or not mask.any():
            msg = f"the latent model needs at least two models with labels, got {m}"
            raise ValueError(msg)
        n_tasks = int(ti.max()) + 2 if ti.size else 1  # the last "task": user rows
        t_of = np.where(ti < 0, n_tasks - 1, ti)
        onehot = np.zeros((n, n_tasks))
        onehot[np.arange(n), t_of] = 1.0
        k = self.n_factors
        Yz = np.where(mask, Y, 0.0)
        rng = np.random.default_rng(self.random_state)
        sizes = np.cumsum([0, n * k, n, m * k, m * n_tasks])
        lam, lam_t = float(self.alpha), float(self.task_alpha)

        def unpack(x: _F) -> tuple[_F, _F, _F, _F]:
            return (
                x[sizes[0] : sizes[1]].reshape(n, k),
                x[sizes[1] : sizes[2]],
                x[sizes[2] : sizes[3]].reshape(m, k),
                x[sizes[3] : sizes[4]].reshape(m, n_tasks),
            )

        def objective(x: _F) -> tuple[float, _F]:
            # Hand-written gradient: the penalised Bernoulli log-likelihood of a masked
            # matrix is a few matrix products; L-BFGS (scipy) does the optimisation.
            A, b, th, G = unpack(x)
            Z = A @ th.T + b[:, None] + G[:, t_of].T
            nll = np.where(mask, np.logaddexp(0.0, Z) - Yz * Z, 0.0).sum()
            R = np.where(mask, expit(Z) - Yz, 0.0)
            grad = np.concatenate(
                [
                    (R @ th + lam * A).ravel(),
                    R.sum(axis=1) + self.bias_alpha * b,
                    (R.T @ A + lam * th).ravel(),
                    ((onehot.T @ R).T + lam_t * G).ravel(),
                ]
            )
            pen = lam * ((A * A).sum() + (th * th).sum() + (self.bias_alpha / lam) * (b * b).sum())
            return float(nll + 0.5 * pen + 0.5 * lam_t * (G * G).sum()), grad

        x0 = np.concatenate(
            [
                rng.normal(0, 0.1, n * k),
                np.zeros(n),
                rng.normal(0, 0.1, m * k),
                np.zeros(m * n_tasks),
            ]
        )
        res = minimize(
            objective, x0, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter}
        )
        A, b, th, G = unpack(np.asarray(res.x))
        self.item_factors_: _F = A
        self.item_bias_: _F = b
        self.model_factors_: _F = th
        self.task_skills_: _F = G
        self.task_of_row_: NDArray[np.int64] = t_of
        self.n_tasks_ = n_tasks - 1
        self.features_: _F = np.hstack([A, onehot])
        self.row_features_: _F = np.hstack([np.where(mask, Y, np.nanmean(Y, axis=0)), onehot])
        self.row_features_[:, m:] *= _TASK_WEIGHT
        self.row_features_ = np.nan_to_num(self.row_features_, nan=0.5)
        params = np.hstack([th, G])
        self.prior_mean_: _F = params.mean(axis=0)
        self.prior_cov_: _F = _shrunk_covariance(params)
        self.score_map_ = _score_map(Y, ti, self.n_tasks_, task_accuracy)
        self.n_iter_ = int(res.nit)
        return self

    def _check(self) -> None:
        if not hasattr(self, "features_"):
            msg = "the latent model is not fitted; call fit(labels, task_index) first"
            raise NotFittedError(msg)

    # ------------------------------------------------------------------ anchors
    def choose_anchors(
        self,
        budget: int,
        *,
        strategy: AnchorStrategy = "cluster",
        seed: int | None = None,
    ) -> NDArray[np.int64]:
        """The ``budget`` rows a new model should be evaluated on, best first.

        Args:
            budget: how many rows (1 to n).
            strategy: ``"cluster"``: k-means (scikit-learn) over the label rows plus the
                task, the row nearest each centre; ``"information"``: greedy D-optimal
                design on the Fisher information of the new model's parameters, averaged
                over the prior; ``"random"``: a seeded uniform sample.
            seed: seed of k-means / the sample (default: ``random_state``).

        Returns:
            (budget,) distinct row indices.
        """
        self._check()
        n = self.features_.shape[0]
        budget = _check_budget(budget, n)
        if strategy not in ANCHOR_STRATEGIES:
            msg = f"unknown anchor strategy {strategy!r}; use one of {ANCHOR_STRATEGIES}"
            raise RoutingInputError(msg)
        seed = self.random_state if seed is None else seed
        rng = np.random.default_rng(seed)
        if strategy == "random":
            return np.sort(rng.choice(n, size=budget, replace=False)).astype(np.int64)
        if strategy == "cluster":
            from sklearn.cluster import KMeans

            X = self.row_features_
            km = KMeans(n_clusters=budget, n_init=1, random_state=seed).fit(X)
            dist = km.transform(X)
            chosen: list[int] = []
            taken = np.zeros(n, dtype=bool)
            for j in np.argsort(-np.bincount(km.labels_, minlength=budget), kind="stable"):
                order = np.argsort(dist[:, j], kind="stable")
                i = int(order[~taken[order]][0])
                taken[i] = True
                chosen.append(i)
            return np.asarray(chosen, dtype=np.int64)
        F = self.features_
        draws = rng.multivariate_normal(self.prior_mean_, self.prior_cov_, size=32)
        P = _sigmoid(F @ draws.T + self.item_bias_[:, None])
        weight = (P * (1 - P)).mean(axis=1)
        H = np.linalg.inv(self.prior_cov_)
        picked: list[int] = []
        for _ in range(budget):
            Hi = np.linalg.inv(H)
            gain = weight * np.einsum("ij,jk,ik->i", F, Hi, F)
            gain[picked] = -np.inf
            i = int(np.argmax(gain))
            picked.append(i)
            H = H + weight[i] * np.outer(F[i], F[i])
        return np.asarray(picked, dtype=np.int64)

    # ------------------------------------------------------------------ a new column
    def estimate(
        self, rows: Sequence[int] | NDArray[Any], scores: Sequence[float] | _F
    ) -> NewModelEstimate:
        """Fit a new model's parameters from its scores on ``rows``; predict every row.

        Args:
            rows: rows the new model was evaluated on (distinct).
            scores: its score in [0, 1] on each (>= 0.5 counts as correct in the fit).

        Returns:
            The :class:`NewModelEstimate`.
        """
        from scipy.optimize import minimize

        self._check()
        r = np.asarray(rows, dtype=np.int64)
        s = np.asarray(scores, dtype=np.float64)
        n = self.features_.shape[0]
        if r.ndim != 1 or s.shape != r.shape or r.size == 0:
            msg = f"rows ({r.shape}) and scores ({s.shape}) must be two equal, non-empty lists"
            raise RoutingInputError(msg)
        if ((r < 0) | (r >= n)).any() or np.unique(r).size != r.size:
            msg = f"rows must be distinct indices in [0, {n})"
            raise RoutingInputError(msg)
        if not np.isfinite(s).all() or ((s < 0) | (s > 1)).any():
            msg = "scores must be numbers in [0, 1] (no NaN)"
            raise RoutingInputError(msg)
        y = (s >= 0.5).astype(np.float64)
        F, b = self.features_, self.item_bias_
        mu = self.prior_mean_
        prec = np.linalg.inv(self.prior_cov_)
        Fa, ba = F[r], b[r]

        def objective(w: _F) -> tuple[float, _F]:
            z = Fa @ w + ba
            d = w - mu
            nll = float((np.logaddexp(0.0, z) - y * z).sum() + 0.5 * d @ prec @ d)
            return nll, Fa.T @ (_sigmoid(z) - y) + prec @ d

        w = np.asarray(minimize(objective, mu.copy(), jac=True, method="L-BFGS-B").x)
        pa = _sigmoid(Fa @ w + ba)
        hess = prec + (Fa * (pa * (1 - pa))[:, None]).T @ Fa
        cov = np.asarray(np.linalg.inv(hess), dtype=np.float64)
        z = F @ w + b
        p = _sigmoid(z)
        var_z = np.einsum("ij,jk,ik->i", F, cov, F)
        # Predictive mean of a probit-approximated logistic-normal (MacKay 1992): the
        # posterior spread pulls P(correct) toward 1/2.
        p_mean = _sigmoid(z / np.sqrt(1.0 + np.pi * var_z / 8.0))
        p_sd = p * (1 - p) * np.sqrt(var_z)
        proba = p_mean.copy()
        proba[r] = y
        p_sd[r] = 0.0
        # Expected score: per task, the label rate maps to the mean score (identity for
        # 0/1 scores); measured anchors count their own score.
        t_of = self.task_of_row_
        slope, intercept = self.score_map_[:, 0], self.score_map_[:, 1]
        expected = np.clip(intercept[t_of] + slope[t_of] * proba, 0.0, 1.0)
        expected[r] = s
        T = self.n_tasks_
        acc = np.full(T, np.nan)
        acc_sd = np.full(T, np.nan)
        grad_all = F * (p * (1 - p))[:, None]
        grad_all[r] = 0.0
        for d in range(int(T)):
            inside = t_of == d
            if inside.any():
                acc[d] = float(expected[inside].mean())
                g = slope[d] * grad_all[inside].mean(axis=0)
                acc_sd[d] = float(np.sqrt(max(float(g @ cov @ g), 0.0)))
        known = ~np.isnan(acc)
        g_mean = np.zeros(F.shape[1])
        for dk in np.flatnonzero(known):
            g_mean += slope[dk] * grad_all[t_of == dk].mean(axis=0) / known.sum()
        return NewModelEstimate(
            proba=proba,
            proba_sd=p_sd,
            task_accuracy=acc,
            task_accuracy_sd=acc_sd,
            accuracy=float(np.mean(acc[known])) if known.any() else float(np.mean(expected)),
            accuracy_sd=float(np.sqrt(max(float(g_mean @ cov @ g_mean), 0.0))),
            anchor_rows=r,
            weights=w,
            covariance=cov,
        )


def _sigmoid(z: _F) -> _F:
    from scipy.special import expit

    return np.asarray(expit(z), dtype=np.float64)


def _shrunk_covariance(params: _F) -> _F:
    """Ledoit-Wolf covariance of the models' parameters (few models, many dimensions)."""
    from sklearn.covariance import LedoitWolf

    if params.shape[0] < 2:
        return np.eye(params.shape[1])
    cov = np.asarray(LedoitWolf().fit(params).covariance_, dtype=np.float64)
    # A floor keeps the prior proper when every model agrees on a dimension.
    return cov + 1e-3 * np.eye(params.shape[1])


def _score_map(Y: _F, ti: NDArray[np.int64], n_tasks: int, task_accuracy: Any) -> _F:
    """(T, 2) slope and intercept from a model's label rate on a task to its mean score."""
    out = np.tile([1.0, 0.0], (n_tasks, 1))
    if task_accuracy is None:
        return out
    acc = np.asarray(task_accuracy, dtype=np.float64)
    if acc.shape != (n_tasks, Y.shape[1]):
        return out
    for d in range(n_tasks):
        inside = ti == d
        if not inside.any():
            continue
        with np.errstate(invalid="ignore"):
            rate = np.nanmean(Y[inside], axis=0) if (~np.isnan(Y[inside])).any() else None
        if rate is None:
            continue
        ok = ~np.isnan(rate) & ~np.isnan(acc[d])
        if ok.sum() >= 3 and np.ptp(rate[ok]) > 0 and np.abs(rate[ok] - acc[d, ok]).max() > 1e-6:
            slope, intercept = np.polyfit(rate[ok], acc[d, ok], 1)
            out[d] = [slope, intercept]
    return out


def _check_budget(budget: object, n: int) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer):
        msg = f"budget must be an int >= 1, got {budget!r}"
        raise RoutingInputError(msg)
    if budget < 1:
        msg = f"budget must be >= 1 (how many inputs to evaluate the new model on), got {budget}"
        raise RoutingInputError(msg)
    if budget > n:
        msg = (
            f"budget {budget} exceeds the router's {n} inputs; evaluate them all with add_models()"
        )
        raise RoutingInputError(msg)
    return int(budget)


# ---------------------------------------------------------------------- router faces


def _measured_columns(router: Router) -> list[int]:
    """The router's columns that are measured (estimated columns do not train the model)."""
    return [
        j
        for j, m in enumerate(router.model_names_)
        if "estimated" not in router.model_info_.get(m, {})
    ]


def fit_latent(router: Router, **params: Any) -> LatentCorrectnessModel:
    """The latent model of a fitted router's measured columns (reusable across new models).

    Example:
        >>> est = fit_latent(router)  # doctest: +SKIP
        >>> router.add_model("mine", scores, estimator=est)  # doctest: +SKIP
    """
    cols = _measured_columns(router)
    return LatentCorrectnessModel(**params).fit(
        router.labels_[:, cols], router.task_index_, task_accuracy=router.task_accuracy_[:, cols]
    )


def _estimator_for(
    router: Router, estimator: LatentCorrectnessModel | None
) -> LatentCorrectnessModel:
    if estimator is None:
        return fit_latent(router)
    if not isinstance(estimator, LatentCorrectnessModel):
        msg = f"estimator must be a LatentCorrectnessModel, got {type(estimator).__name__}"
        raise RoutingInputError(msg)
    estimator._check()
    if estimator.features_.shape[0] != router.labels_.shape[0]:
        msg = (
            f"the estimator was fitted on {estimator.features_.shape[0]} rows, the router has"
            f" {router.labels_.shape[0]}; refit it with fit_latent(router)"
        )
        raise RoutingInputError(msg)
    return estimator


def _task_label(router: Router, row: int) -> str:
    from langchain_benchrouter.core._routing import USER_TASK

    t = int(router.task_index_[row])
    return USER_TASK if t < 0 else router.task_names_[t]


def _bench_texts(router: Router, benchmark: Benchmark) -> dict[int, str]:
    """Router row -> text, for the benchmark inputs the router holds."""
    from langchain_benchrouter.core._grow import match_rows
    from langchain_benchrouter.data.benchmark import Benchmark

    if not isinstance(benchmark, Benchmark):
        msg = f"benchmark must be a Benchmark, got {type(benchmark).__name__}"
        raise RoutingInputError(msg)
    X = router.embedder_.embed(benchmark.texts)
    rows = match_rows(router, benchmark, X)
    return {int(r): benchmark.texts[i] for i, r in enumerate(rows) if r >= 0}


def anchor_inputs(
    router: Router,
    budget: int = 50,
    *,
    strategy: AnchorStrategy = "cluster",
    seed: int = 0,
    benchmark: Benchmark | None = None,
    estimator: LatentCorrectnessModel | None = None,
) -> list[AnchorInput]:
    """The inputs to evaluate a new model on (see :meth:`Router.anchor_inputs`)."""
    router._check_fitted()
    est = _estimator_for(router, estimator)
    rows = est.choose_anchors(budget, strategy=strategy, seed=seed)
    texts = {} if benchmark is None else _bench_texts(router, benchmark)
    return [AnchorInput(int(r), _task_label(router, int(r)), texts.get(int(r))) for r in rows]


def _resolve_scores(
    router: Router, scores: Mapping[int | str, float | None]
) -> tuple[NDArray[np.int64], _F]:
    """Scores keyed by router row or input text -> (rows, scores), validated."""
    from langchain_benchrouter.core._grow import SAME_INPUT_DISTANCE

    if not isinstance(scores, Mapping) or not scores:
        msg = (
            "scores must be a non-empty mapping {row or input text: score in [0, 1]};"
            " get the inputs to evaluate from router.anchor_inputs()"
        )
        raise RoutingInputError(msg)
    n = router.labels_.shape[0]
    rows: list[int] = []
    values: list[float] = []
    texts: list[str] = []
    text_values: list[float] = []
    for key, value in scores.items():
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            msg = f"the score of {key!r} is {value!r}; scores must be numbers in [0, 1]"
            raise RoutingInputError(msg) from None
        if not np.isfinite(v) or not 0.0 <= v <= 1.0:
            msg = f"the score of {key!r} is {value!r}; scores must be numbers in [0, 1] (no NaN)"
            raise RoutingInputError(msg)
        if isinstance(key, bool) or not isinstance(key, int | np.integer | str):
            msg = f"score keys are router rows (int) or input texts (str), got {key!r}"
            raise RoutingInputError(msg)
        if isinstance(key, str):
            texts.append(key)
            text_values.append(v)
            continue
        if not 0 <= int(key) < n:
            msg = (
                f"row {key} is not one of the router's {n} inputs; use the rows of"
                " router.anchor_inputs()"
            )
            raise RoutingInputError(msg)
        rows.append(int(key))
        values.append(v)
    if texts:
        Q = router.embedder_.embed(texts)
        nb = router.index_.search(Q, 1)
        far = nb.distances[:, 0] > SAME_INPUT_DISTANCE
        if far.any():
            unknown = [texts[i][:60] for i in np.flatnonzero(far)[:3]]
            msg = (
                f"{int(far.sum())} scored input(s) are not benchmark inputs the router holds"
                f" (e.g. {unknown}); score the inputs of router.anchor_inputs(), or add other"
                " inputs with add_labeled()"
            )
            raise RoutingInputError(msg)
        rows.extend(int(r) for r in nb.indices[:, 0])
        values.extend(text_values)
    r = np.asarray(rows, dtype=np.int64)
    if np.unique(r).size != r.size:
        msg = "two scores name the same input (a row and its text, or a repeated text)"
        raise RoutingInputError(msg)
    return r, np.asarray(values, dtype=np.float64)


def add_estimated_model(
    router: Router,
    name: str,
    scores: Mapping[int | str, float | None] | None = None,
    *,
    chat_model: Any = None,
    benchmark: Benchmark | None = None,
    budget: int = 50,
    seed: int = 0,
    strategy: AnchorStrategy = "cluster",
    estimator: LatentCorrectnessModel | None = None,
    model_info: Mapping[str, Any] | None = None,
    collect_options: Mapping[str, Any] | None = None,
    _reference: bool = True,
) -> Router:
    """Add a model known from a few evaluations (see :meth:`Router.add_model`).

    ``_reference=False`` (evaluation runs only) skips recomputing the reference pairs.
    """
    from langchain_benchrouter.core._grow import append_columns

    router._check_fitted()
    if not isinstance(name, str) or not name.strip():
        msg = f"name must be a non-empty string, got {name!r}"
        raise RoutingInputError(msg)
    if name in router.model_names_:
        msg = (
            f"the router already routes {name!r}; real evaluations of it go in with"
            " add_models() or add_labeled() (they replace estimated cells)"
        )
        raise RoutingInputError(msg)
    n = router.labels_.shape[0]
    budget = _check_budget(budget, n)
    est = _estimator_for(router, estimator)
    if scores is None:
        if chat_model is None or benchmark is None:
            msg = (
                "pass scores={row or text: score} for the inputs of router.anchor_inputs(), or"
                " chat_model= with benchmark= (the benchmark the router was fitted on) to let"
                " the library evaluate the model on the anchors"
            )
            raise RoutingInputError(msg)
        scores = _collect_scores(
            router, est, name, chat_model, benchmark, budget, seed, strategy, collect_options
        )
    elif chat_model is not None:
        msg = "pass scores= or chat_model=, not both"
        raise RoutingInputError(msg)
    rows, values = _resolve_scores(router, scores)
    fit = est.estimate(rows, values)
    labels = fit.proba.astype(np.float32)[:, None]
    task_sd = {
        router.task_names_[d]: round(float(v), 6)
        for d, v in enumerate(fit.task_accuracy_sd)
        if np.isfinite(v)
    }
    info = dict(model_info or {})
    info["estimated"] = {
        "budget": int(budget),
        "anchors": int(rows.size),
        "strategy": strategy if chat_model is not None else "given",
        "anchor_rows": [int(r) for r in rows],
        "measured_rows": sorted(int(r) for r in rows),
        "accuracy": round(fit.accuracy, 6),
        "accuracy_sd": round(fit.accuracy_sd, 6),
        "task_accuracy_sd": task_sd,
    }
    append_columns(
        router,
        [name],
        rows,
        values[:, None],
        labels,
        [],
        {name: info},
        task_accuracy=fit.task_accuracy[: len(router.task_names_), None],
        reference=_reference,
    )
    return router


def _collect_scores(
    router: Router,
    est: LatentCorrectnessModel,
    name: str,
    chat_model: Any,
    benchmark: Benchmark,
    budget: int,
    seed: int,
    strategy: AnchorStrategy,
    collect_options: Mapping[str, Any] | None,
) -> dict[int | str, float | None]:
    """Evaluate ``chat_model`` on the anchors through ``Benchmark.collect``."""
    anchors = anchor_inputs(
        router, budget, strategy=strategy, seed=seed, benchmark=benchmark, estimator=est
    )
    texts = [a.text for a in anchors if a.text is not None]
    if not texts:
        msg = f"none of the anchors is an input of benchmark {benchmark.name!r}"
        raise RoutingInputError(msg)
    position = {t: i for i, t in enumerate(benchmark.texts)}
    sub = benchmark.subset([position[t] for t in texts])
    graded = sub.collect({name: chat_model}, **dict(collect_options or {}))
    col = graded.select_models(name).scores[:, 0]
    return {t: float(s) for t, s in zip(graded.texts, col, strict=True) if np.isfinite(s)}


def estimated_summary(router: Router) -> dict[str, dict[str, Any]]:
    """Per estimated model: its budget, anchors, measured inputs and accuracy uncertainty.

    What :attr:`Selection.estimated_models` holds (empty when no column is estimated).
    """
    out: dict[str, dict[str, Any]] = {}
    for m in router.model_names_:
        rec = router.model_info_.get(m, {}).get("estimated")
        if rec is None:
            continue
        out[m] = {
            "budget": rec.get("budget"),
            "anchors": rec.get("anchors"),
            "measured": len(rec.get("measured_rows", [])),
            "accuracy_sd": rec.get("accuracy_sd"),
        }
    return out
