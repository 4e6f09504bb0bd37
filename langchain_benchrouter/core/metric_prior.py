"""What tasks scored the same way say about a new task: a random-effects estimate.

Tasks scored by one metric (multiple-choice exact match, code execution, a numeric
answer, token F1) tend to favour the same models: on the llmrouter benchmark
llama-3.3-nemotron-super is the best model on both tasks scored by ``MATH`` and on
one of the two scored by ``f1_score``, while the best model on average wins every
multiple-choice task. How much the tasks of one metric agree is measured on the
benchmark itself, with a one-way random-effects model per model m::

    d(t, m) = mu_m + gamma(metric(t), m) + eps(t, m),
    gamma ~ (0, tau2_m),  eps ~ (0, sigma2_m),

where ``d`` is the accuracy (of the best model on average) or the accuracy gain over
it. The estimate for a new task of a metric that ``n`` benchmark tasks share is the
best linear predictor ``mu_m + w_m * (mean of those n tasks - mu_m)`` with
``w_m = n tau2_m / (n tau2_m + sigma2_m)``, and its predictive variance is
``sigma2_m + (1 - w_m) tau2_m``: metrics whose tasks disagree (large ``sigma2``), or
that do not differ from the others (small ``tau2``), shrink to the benchmark mean.
``tau2`` and ``sigma2`` are the method-of-moments (ANOVA) estimates for unbalanced
groups; a task without a metric is a group of its own.

Labelled inputs of the new task update that prior by the conjugate normal rule
(:func:`metric_posterior`): each model's gain with the paired label differences, the
level with the best model's own labels, each weighted by its variance. Nothing is
tuned: the prior's weight is what the benchmark's spread says it is.

This is a few lines of numpy written here because no dependency of the package has
it (statsmodels' ``MixedLM`` fits by likelihood and would be a heavy dependency for
14-row tables).

Example:
    >>> import numpy as np
    >>> acc = np.array([[0.9, 0.5], [0.8, 0.4], [0.3, 0.7], [0.4, 0.7]])
    >>> est = metric_estimate(acc, ["mc", "mc", "math", "math"], "math", bma=0)
    >>> est.n_tasks, int(np.argmax(est.accuracy))
    (2, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MetricEstimate",
    "Shrunk",
    "metric_estimate",
    "metric_posterior",
    "random_effects",
]

F64 = NDArray[np.float64]

#: The variance of a per-task value when the benchmark has fewer than two of them.
_UNKNOWN_VARIANCE = 0.25


@dataclass(frozen=True)
class Shrunk:
    """A random-effects estimate of one new task's value.

    Attributes:
        mean: the best linear predictor.
        variance: its predictive variance (a new task's own noise included).
        weight: how much the group's tasks count against the overall mean (0 to 1).
    """

    mean: float
    variance: float
    weight: float


@dataclass(frozen=True)
class MetricEstimate:
    """Per-model accuracy expected on a new task of one metric.

    Attributes:
        accuracy: ``(M,)`` the estimate per model.
        weight: ``(M,)`` how much the metric's tasks count against the benchmark mean
            in each model's gain (0: not at all, 1: fully; 0 for the bma itself).
        n_tasks: how many benchmark tasks are scored by the metric.
        bma: the column of the best model on average the gains are measured against.
        level: the estimate of the bma's accuracy.
        gain: ``(M,)`` the estimate of each model's gain over the bma (0 for the bma).
        level_var: the predictive variance of ``level``.
        gain_var: ``(M,)`` the predictive variances of ``gain`` (0 for the bma).
    """

    accuracy: F64
    weight: F64
    n_tasks: int
    bma: int
    level: float
    gain: F64
    level_var: float
    gain_var: F64


def random_effects(values: F64, groups: Sequence[object], group: object) -> Shrunk:
    """The random-effects estimate for a new task of ``group`` (see the module docs).

    Args:
        values: one value per benchmark task (no NaN).
        groups: the group of each of those tasks.
        group: the new task's group.

    Returns:
        The :class:`Shrunk` estimate; the plain mean and variance of ``values`` (weight
        0) when the benchmark cannot measure the group effect: fewer than two groups,
        or no group with two tasks to measure agreement.
    """
    n_total = len(values)
    if n_total == 0:
        return Shrunk(float("nan"), _UNKNOWN_VARIANCE, 0.0)
    mu = float(values.mean())
    spread = float(values.var(ddof=1)) if n_total > 1 else _UNKNOWN_VARIANCE
    keys = list(dict.fromkeys(groups))
    n_groups = len(keys)
    n = sum(g == group for g in groups)
    if n_groups < 2 or n_total <= n_groups:
        return Shrunk(mu, spread, 0.0)
    codes = np.array([keys.index(g) for g in groups])
    sizes = np.bincount(codes, minlength=n_groups).astype(np.float64)
    means = np.bincount(codes, weights=values, minlength=n_groups) / sizes
    within = float(np.sum((values - means[codes]) ** 2)) / (n_total - n_groups)
    between = float(np.sum(sizes * (means - mu) ** 2)) / (n_groups - 1)
    n0 = (n_total - float(np.sum(sizes**2)) / n_total) / (n_groups - 1)
    tau2 = max((between - within) / n0, 0.0)
    if n == 0 or tau2 == 0.0:
        return Shrunk(mu, within + tau2, 0.0)
    weight = n * tau2 / (n * tau2 + within)
    group_mean = float(values[np.array([g == group for g in groups])].mean())
    return Shrunk(mu + weight * (group_mean - mu), within + (1.0 - weight) * tau2, weight)


def _column(column: F64, metrics: Sequence[str | None], metric: str) -> Shrunk:
    """The estimate for one model's column of per-task values (NaN: unscored)."""
    known = ~np.isnan(column)
    # A task without a metric is its own group: it agrees with no other task.
    groups = [m if m is not None else ("no metric", t) for t, m in enumerate(metrics)]
    kept = [g for g, k in zip(groups, known.tolist(), strict=True) if k]
    return random_effects(column[known], kept, metric)


def metric_estimate(
    task_accuracy: F64, task_metrics: Sequence[str | None], metric: str, bma: int
) -> MetricEstimate:
    """Each model's expected accuracy on a new task scored by ``metric``.

    The level is the random-effects estimate of the best model on average's accuracy,
    and each model adds its random-effects estimate of the gain over that model: gains
    cancel what makes a task hard for every model, so what tasks of a metric share
    stands out.

    Args:
        task_accuracy: ``(T, M)`` benchmark accuracy per task and model (NaN: unscored).
        task_metrics: the metric of each benchmark task (``None``: unknown).
        metric: the new task's metric.
        bma: the column of the best model on average.

    Returns:
        The :class:`MetricEstimate`. A model never scored beside the bma gets gain -1
        (never preferred).
    """
    acc = np.asarray(task_accuracy, dtype=np.float64)
    n_models = acc.shape[1]
    level = _column(acc[:, bma], task_metrics, metric)
    gains = acc - acc[:, [bma]]
    gain, gain_var, weight = np.zeros(n_models), np.zeros(n_models), np.zeros(n_models)
    for m in range(n_models):
        if m != bma:
            shrunk = _column(gains[:, m], task_metrics, metric)
            gain[m], gain_var[m], weight[m] = shrunk.mean, shrunk.variance, shrunk.weight
    gain = np.nan_to_num(gain, nan=-1.0)
    return MetricEstimate(
        accuracy=np.clip(level.mean + gain, 0.0, 1.0),
        weight=weight,
        n_tasks=sum(m == metric for m in task_metrics),
        bma=bma,
        level=level.mean,
        gain=gain,
        level_var=level.variance,
        gain_var=gain_var,
    )


def _normal_update(prior: F64, prior_var: F64, mean: F64, var: F64, n: F64) -> F64:
    """Posterior mean of a normal prior after ``n`` observations of mean ``mean``."""
    precision = np.divide(n, var, out=np.zeros_like(var), where=n > 0)
    post: F64 = (prior / prior_var + precision * np.nan_to_num(mean)) / (
        1.0 / prior_var + precision
    )
    return post


def metric_posterior(estimate: MetricEstimate, labels: F64) -> F64:
    """Each model's accuracy after labelled inputs of the new task (conjugate normal).

    Each model's gain over the bma is updated with the mean paired difference of their
    labels on the inputs both have; the level with the bma's own labels. The sampling
    variance of a labelled mean uses one pseudo-success and one pseudo-failure (for a
    gain: one pseudo-pair won and one lost), so that 20 agreeing labels do not claim
    certainty.

    Args:
        estimate: the metric's prior (:func:`metric_estimate`).
        labels: ``(n, M)`` 0/1 labels of the new task's inputs, NaN where missing.

    Returns:
        ``(M,)`` posterior accuracy per model, in ``[0, 1]``.

    Example:
        >>> import numpy as np
        >>> acc = np.array([[0.9, 0.5], [0.8, 0.4], [0.3, 0.7], [0.4, 0.7]])
        >>> prior = metric_estimate(acc, ["mc", "mc", "math", "math"], "math", bma=0)
        >>> post = metric_posterior(prior, np.array([[1.0, 0.0]] * 40))
        >>> bool(post[0] > post[1])
        True
    """
    y = np.asarray(labels, dtype=np.float64)
    bma = estimate.bma
    own = y[:, bma]
    have = ~np.isnan(own)
    n_own = float(have.sum())
    p = (np.nansum(own) + 1.0) / (n_own + 2.0)
    level = _normal_update(
        np.array([estimate.level]),
        np.array([max(estimate.level_var, 1e-6)]),
        np.array([np.nanmean(own) if n_own else 0.0]),
        np.array([p * (1.0 - p)]),
        np.array([n_own]),
    )[0]
    both = ~np.isnan(y) & have[:, None]
    d = np.where(both, y - np.nan_to_num(own)[:, None], 0.0)
    n = both.sum(axis=0).astype(np.float64)
    mean = np.divide(d.sum(axis=0), n, out=np.zeros_like(n), where=n > 0)
    # Var of a paired 0/1 difference: discordance rate - mean^2, both with one pseudo
    # pair each way (so it stays positive when every pair agrees or every pair differs).
    ups, downs = (d > 0).sum(axis=0) + 1.0, (d < 0).sum(axis=0) + 1.0
    var = (ups + downs) / (n + 2.0) - ((ups - downs) / (n + 2.0)) ** 2
    gain = _normal_update(estimate.gain, np.maximum(estimate.gain_var, 1e-6), mean, var, n)
    gain[bma] = 0.0
    out: F64 = np.clip(level + gain, 0.0, 1.0)
    return out
