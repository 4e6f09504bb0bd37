"""The statistics of an experiment's report: per-arm means with intervals, and the tests.

Per arm: exposures, errors, feedback count, mean score with its confidence interval
(t distribution), the models used, cost and latency; per arm against the baseline arm,
the difference of mean scores and its significance (a two-proportion z-test when every
score is 0 or 1, else Welch's t-test; p-values Bonferroni-adjusted over the comparisons).
When a run has several scores for one metric, the latest counts.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from langchain_benchrouter.errors import ExperimentError
from langchain_benchrouter.experiments._report_model import ArmStats, Comparison, ExperimentReport
from langchain_benchrouter.experiments.exposure_log import (
    Exposure,
    ExposureLog,
    Feedback,
    SQLiteExposureLog,
    open_log,
)

__all__ = ["as_log", "compare_scores", "compute_report", "compute_reports", "latest_scores"]


def latest_scores(feedback: Sequence[Feedback], metric: str) -> dict[str, float]:
    """Each run's score for ``metric``: the latest recorded (a correction replaces the first)."""
    out: dict[str, float] = {}
    for fb in feedback:  # in recording order: the latest wins
        if fb.metric == metric:
            out[fb.run_id] = float(fb.score)
    return out


def _mean_ci(
    scores: Sequence[float], alpha: float
) -> tuple[float | None, float | None, float | None, float | None]:
    n = len(scores)
    if n == 0:
        return None, None, None, None
    arr = np.asarray(scores, dtype=np.float64)
    mean = float(arr.mean())
    if n < 2:
        return mean, None, None, None
    sd = float(arr.std(ddof=1))
    half = float(stats.t.ppf(1 - alpha / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, sd


def _is_binary(*groups: Sequence[float]) -> bool:
    return all(s in (0.0, 1.0) for g in groups for s in g)


def compare_scores(
    a: Sequence[float], b: Sequence[float]
) -> tuple[str, float | None, float | None]:
    """Test whether two arms' mean scores differ.

    Args:
        a: scores of one arm.
        b: scores of the other.

    Returns:
        ``(test, statistic, p_value)``: a pooled two-proportion z-test when every score
        is 0 or 1, else Welch's t-test; ``("none", None, None)`` when an arm has fewer
        than 2 scores. A p-value is ``None`` when the test is undefined (no variance).

    Example:
        >>> compare_scores([1, 1, 1, 0], [0, 0, 1, 0])[0]
        'two_proportion_z'
    """
    if len(a) < 2 or len(b) < 2:
        return "none", None, None
    if _is_binary(a, b):
        n1, n2 = len(a), len(b)
        p1, p2 = sum(a) / n1, sum(b) / n2
        pooled = (sum(a) + sum(b)) / (n1 + n2)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        if se == 0:
            return "two_proportion_z", 0.0, 1.0  # all scores equal
        z = (p1 - p2) / se
        return "two_proportion_z", z, float(2 * stats.norm.sf(abs(z)))
    xa, xb = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(xa) == 0 and np.ptp(xb) == 0:
        return "welch_t", None, None  # no variance in either arm: the test is undefined
    res = stats.ttest_ind(xa, xb, equal_var=False)
    t, p = float(res.statistic), float(res.pvalue)
    return "welch_t", (t if math.isfinite(t) else None), (p if math.isfinite(p) else None)


def _arm_stats(arm: str, rows: list[Exposure], scores: dict[str, float], alpha: float) -> ArmStats:
    arm_scores = [scores[e.run_id] for e in rows if e.run_id in scores]
    mean, lo, hi, sd = _mean_ci(arm_scores, alpha)
    costs = [e.cost for e in rows if e.cost is not None]
    latencies = [e.latency_s for e in rows if e.latency_s is not None]
    tokens = [e.total_tokens for e in rows if e.total_tokens is not None]
    return ArmStats(
        arm=arm,
        exposures=len(rows),
        errors=sum(e.error is not None for e in rows),
        feedback_count=len(arm_scores),
        mean_score=mean,
        ci_low=lo,
        ci_high=hi,
        std_score=sd,
        models=dict(Counter(e.model or "?" for e in rows).most_common()),
        total_cost=math.fsum(costs) if costs else None,
        mean_cost=math.fsum(costs) / len(costs) if costs else None,
        cost_known=len(costs),
        mean_latency_s=float(np.mean(latencies)) if latencies else None,
        p95_latency_s=float(np.percentile(latencies, 95)) if latencies else None,
        mean_tokens=float(np.mean(tokens)) if tokens else None,
    )


def as_log(log: ExposureLog | str | os.PathLike[str]) -> ExposureLog:
    """The log itself, or the existing SQLite log at a path (never a new empty one)."""
    return open_log(log, create=False)


def compute_report(
    log: ExposureLog | str | os.PathLike[str],
    experiment: str | None = None,
    *,
    metric: str = "score",
    alpha: float = 0.05,
    baseline: str | None = None,
) -> ExperimentReport:
    """Compute the report of one experiment from its exposure log.

    Args:
        log: the log, or the path of a SQLite log (which must exist).
        experiment: the experiment (may be omitted when the log holds only one).
        metric: the feedback metric to report.
        alpha: significance level; intervals are ``1 - alpha`` (95% by default).
        baseline: the arm the others are compared with (default: the first arm seen).

    Returns:
        The report.

    Raises:
        ExperimentError: no such experiment, several and none named, or unknown baseline.
    """
    if not 0 < alpha < 1:
        msg = f"alpha must be in (0, 1), got {alpha!r}"
        raise ExperimentError(msg)
    the_log = as_log(log)
    if experiment is None:
        names = _experiment_names(the_log)
        if len(names) != 1:
            msg = f"the log holds {len(names)} experiments {names}; name one"
            raise ExperimentError(msg)
        experiment = names[0]
    exposures = the_log.exposures(experiment)
    if not exposures:
        msg = f"no exposures of experiment {experiment!r} in the log"
        raise ExperimentError(msg)
    scores = latest_scores(the_log.feedback(experiment, metric), metric)
    by_arm: dict[str, list[Exposure]] = {}
    for e in exposures:
        by_arm.setdefault(e.arm, []).append(e)
    arms = [_arm_stats(a, rows, scores, alpha) for a, rows in by_arm.items()]
    if baseline is None:
        baseline = arms[0].arm
    elif baseline not in by_arm:
        msg = f"baseline arm {baseline!r} has no exposures; arms: {list(by_arm)}"
        raise ExperimentError(msg)
    base_scores = [scores[e.run_id] for e in by_arm[baseline] if e.run_id in scores]
    base_mean = _mean_ci(base_scores, alpha)[0]
    raw: list[tuple[str, float | None, str, float | None, float | None]] = []
    for a in arms:
        if a.arm == baseline:
            continue
        these = [scores[e.run_id] for e in by_arm[a.arm] if e.run_id in scores]
        diff = (
            a.mean_score - base_mean if a.mean_score is not None and base_mean is not None else None
        )
        test, stat, p = compare_scores(these, base_scores)
        raw.append((a.arm, diff, test, stat, p))
    m = len(raw)
    comparisons = []
    for arm, diff, test, stat, p in raw:
        p_adj = None if p is None else min(1.0, p * m)
        comparisons.append(
            Comparison(
                arm=arm,
                baseline=baseline,
                difference=diff,
                test=test,
                statistic=stat,
                p_value=p,
                p_adjusted=p_adj,
                significant=p_adj is not None and p_adj < alpha,
            )
        )
    return ExperimentReport(
        experiment=experiment,
        metric=metric,
        alpha=alpha,
        baseline=baseline,
        arms=arms,
        comparisons=comparisons,
    )


def _experiment_names(log: ExposureLog) -> list[str]:
    if isinstance(log, SQLiteExposureLog):
        return log.experiments()
    return list(dict.fromkeys(e.experiment for e in log.exposures()))


def compute_reports(
    log: ExposureLog | str | os.PathLike[str],
    experiment: str | None = None,
    **kwargs: Any,
) -> list[ExperimentReport]:
    """Reports of one experiment, or of every experiment in the log.

    Args:
        log: the log or a SQLite path.
        experiment: the experiment; ``None`` for all.
        **kwargs: as for :func:`compute_report`.

    Returns:
        The reports (empty for an empty log).
    """
    the_log = as_log(log)
    names = [experiment] if experiment is not None else _experiment_names(the_log)
    return [compute_report(the_log, n, **kwargs) for n in names]
