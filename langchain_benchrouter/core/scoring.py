"""The paper's scores and decision rules, as small pure functions over numpy arrays.

Notation (see METHOD.md): ``g`` is an (n, M) matrix of predicted correctness
g_m(x_i) for the n inputs of a task and M models; ``y`` the matching (n, M) labels
with NaN for missing; ``p`` the (M,) estimated accuracy of each model's predictor.

Example:
    >>> import numpy as np
    >>> g = np.array([[0.8, 0.4], [0.6, 0.2]])
    >>> s1(g).tolist(), s2(g).tolist()
    ([0.7, 0.30000000000000004], [1.0, 0.0])
    >>> s3(s2(g), np.array([0.7, 0.5])).tolist()
    [0.7, 0.5]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import stats

__all__ = [
    "best_model_on_average",
    "gaussian_kernel_smooth",
    "per_input_utility",
    "predictor_accuracy",
    "prob_beats",
    "s1",
    "s2",
    "s3",
    "task_descriptor",
]

Array = NDArray[np.floating]

#: Above this many inputs, P(C_a > C_b) uses a normal approximation instead of exact pmfs.
EXACT_LIMIT = 4000


def s1(g: Array) -> NDArray[np.float64]:
    """S1(m) = mean_i g_m(x_i): the average predicted correctness of each model."""
    out: NDArray[np.float64] = np.asarray(g, dtype=np.float64).mean(axis=0)
    return out


def s2(g: Array, threshold: float = 0.5) -> NDArray[np.float64]:
    """S2(m) = mean_i 1[g_m(x_i) > threshold]: the thresholded predictor's accuracy estimate."""
    out: NDArray[np.float64] = (np.asarray(g, dtype=np.float64) > threshold).mean(axis=0)
    return out


def s3(s2_scores: Array, p: Array) -> NDArray[np.float64]:
    """S3(m) = p_m S2(m) + (1 - p_m)(1 - S2(m)): expected accuracy, predictor right w.p. p_m."""
    a = np.asarray(s2_scores, dtype=np.float64)
    pm = np.asarray(p, dtype=np.float64)
    out: NDArray[np.float64] = pm * a + (1.0 - pm) * (1.0 - a)
    return out


def predictor_accuracy(g: Array, y: Array, threshold: float = 0.5) -> NDArray[np.float64]:
    """Per model, the fraction of labelled inputs where 1[g > threshold] equals the label.

    Missing labels (NaN) are skipped; a model with no label at all gets NaN.

    Example:
        >>> g, y = np.array([[0.9], [0.1], [0.7]]), np.array([[1.0], [1.0], [np.nan]])
        >>> predictor_accuracy(g, y).tolist()
        [0.5]
    """
    g = np.asarray(g, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    known = ~np.isnan(y)
    agree = ((g > threshold) == (y >= 0.5)) & known
    counts = known.sum(axis=0)
    out: NDArray[np.float64] = np.divide(
        agree.sum(axis=0), counts, out=np.full(g.shape[1], np.nan), where=counts > 0
    )
    return out


def task_descriptor(distances: Array) -> float:
    """u(task): mean over the task's inputs of the mean distance to their nearest benchmark inputs.

    Args:
        distances: (n, K) cosine distances of each task input to its K nearest benchmark
            inputs outside the task.

    Example:
        >>> task_descriptor(np.array([[0.1, 0.3], [0.2, 0.4]]))
        0.25
    """
    d = np.asarray(distances, dtype=np.float64)
    if d.size == 0:
        msg = "a task descriptor needs at least one input with at least one neighbour"
        raise ValueError(msg)
    return float(d.mean(axis=1).mean())


def gaussian_kernel_smooth(
    u: float, ref_u: Array, ref_values: Array, bandwidth: float
) -> NDArray[np.float64]:
    """Nadaraya-Watson average of reference values with a Gaussian kernel on u.

    p_m = sum_d K((u - u_d) / h) v_{d,m} / sum_d K((u - u_d) / h), K(z) = exp(-z^2 / 2).
    Weights are computed relative to the nearest reference (log-sum-exp style), so a task
    far from every reference gets the nearest references' values instead of 0/0. Missing
    reference values (NaN) are skipped per model.

    Args:
        u: the new task's descriptor.
        ref_u: (T,) descriptors of the reference tasks.
        ref_values: (T, M) values to average (true predictor accuracies).
        bandwidth: kernel bandwidth h (the paper: 0.09).

    Example:
        >>> ref_u, ref_p = np.array([0.5, 0.5]), np.array([[0.6], [0.8]])
        >>> gaussian_kernel_smooth(0.5, ref_u, ref_p, 0.09).tolist()
        [0.7]
    """
    if bandwidth <= 0:
        msg = f"bandwidth must be > 0, got {bandwidth}"
        raise ValueError(msg)
    ref_u = np.asarray(ref_u, dtype=np.float64)
    values = np.asarray(ref_values, dtype=np.float64)
    if ref_u.size == 0:
        msg = "no reference pairs to smooth over (need a benchmark with at least two tasks)"
        raise ValueError(msg)
    logw = -0.5 * ((u - ref_u) / bandwidth) ** 2
    w = np.exp(logw - logw.max())[:, None] * ~np.isnan(values)
    total = w.sum(axis=0)
    num = (w * np.nan_to_num(values)).sum(axis=0)
    out: NDArray[np.float64] = np.divide(
        num, total, out=np.full(values.shape[1], np.nan), where=total > 0
    )
    return out


def _count_pmf(n_plus: int, n_minus: int, p: float) -> NDArray[np.float64]:
    """Exact pmf of Bin(n_plus, p) + Bin(n_minus, 1 - p) on 0..n_plus + n_minus."""
    a = stats.binom.pmf(np.arange(n_plus + 1), n_plus, p)
    b = stats.binom.pmf(np.arange(n_minus + 1), n_minus, 1.0 - p)
    return np.convolve(a, b)


def prob_beats(n_plus_a: int, p_a: float, n_plus_b: int, p_b: float, n: int) -> float:
    """P(C_a > C_b) for independent counts C = Bin(N+, p) + Bin(n - N+, 1 - p).

    C_m is the number of the n task inputs that model m answers correctly when its
    predictor says N+_m are correct and the predictor is right with probability p_m.
    Exact for n <= ``EXACT_LIMIT`` (a convolution of binomial pmfs), normal approximation
    above (with a continuity correction).

    Example:
        >>> round(prob_beats(10, 1.0, 5, 1.0, 10), 3)
        1.0
    """
    if n <= EXACT_LIMIT:
        pa = _count_pmf(n_plus_a, n - n_plus_a, p_a)
        pb = _count_pmf(n_plus_b, n - n_plus_b, p_b)
        cdf_b = np.concatenate([[0.0], np.cumsum(pb)])  # cdf_b[c] = P(C_b <= c - 1)
        return float(np.clip((pa * cdf_b[: len(pa)]).sum(), 0.0, 1.0))
    mean_a = n_plus_a * p_a + (n - n_plus_a) * (1 - p_a)
    mean_b = n_plus_b * p_b + (n - n_plus_b) * (1 - p_b)
    var = n * p_a * (1 - p_a) + n * p_b * (1 - p_b)
    if var <= 0:
        return float(mean_a > mean_b)
    return float(stats.norm.sf(0.5, loc=mean_a - mean_b, scale=np.sqrt(var)))


def best_model_on_average(task_accuracy: Array) -> int:
    """Index of the best model on average (BMA): argmax over models of the mean per-task accuracy.

    Args:
        task_accuracy: (T, M) mean score of each model on each task (NaN = not evaluated).

    Example:
        >>> best_model_on_average(np.array([[0.9, 0.5], [0.1, 0.6]]))
        1
    """
    acc = np.asarray(task_accuracy, dtype=np.float64)
    known = ~np.isnan(acc)
    counts = known.sum(axis=0)
    mean = np.divide(
        np.nansum(acc, axis=0), counts, out=np.full(acc.shape[1], -np.inf), where=counts > 0
    )
    return int(np.argmax(mean))


def per_input_utility(
    g: Array,
    prior: Array,
    *,
    tie_break: float = 0.01,
    costs: Array | None = None,
    cost_weight: float = 0.0,
    allowed: NDArray[np.bool_] | None = None,
) -> NDArray[np.float64]:
    """Per input and model, g_m(x) + tie_break * prior_m - cost_weight * cost_m.

    Per-input routing picks the argmax of each row; disallowed models get -inf.

    Args:
        g: (n, M) predicted correctness.
        prior: (M,) mean benchmark accuracy of each model (the tie-break).
        tie_break: weight of the prior (the paper: 0.01).
        costs: (M,) cost of each model, in any unit; required when ``cost_weight`` > 0.
        cost_weight: how many points of expected score one unit of cost is worth.
        allowed: (M,) mask of models that may be chosen.

    Example:
        >>> per_input_utility(np.array([[0.5, 0.5]]), np.array([0.4, 0.6])).argmax(axis=1).tolist()
        [1]
    """
    utility = (
        np.asarray(g, dtype=np.float64) + tie_break * np.asarray(prior, dtype=np.float64)[None, :]
    )
    if cost_weight:
        if costs is None:
            msg = "cost_weight > 0 needs a cost for every model"
            raise ValueError(msg)
        utility = utility - cost_weight * np.asarray(costs, dtype=np.float64)[None, :]
    if allowed is not None:
        utility = np.where(allowed[None, :], utility, -np.inf)
    return utility
