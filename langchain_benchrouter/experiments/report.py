"""Reports of A/B experiments, and feedback turned into router labels.

:func:`compute_report` reads an exposure log and computes, per arm: exposures, errors,
feedback count, mean score with its confidence interval (t distribution), the models
used, cost and latency; and per arm against the baseline arm, the difference of mean
scores and its significance (a two-proportion z-test when every score is 0 or 1, else
Welch's t-test; p-values Bonferroni-adjusted over the comparisons).

When a run has several scores for one metric, the latest counts (a correction replaces
the first score).

:func:`feedback_to_labels` turns the feedback of an experiment into labelled inputs
for :meth:`~langchain_benchrouter.core.router.Router.add_labeled`.

:func:`add_experiment_parser` registers ``benchrouter experiment report`` and
``benchrouter experiment feedback`` on an :mod:`argparse` subparsers object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy import stats

from langchain_benchrouter.errors import ExperimentError
from langchain_benchrouter.experiments.exposure_log import (
    Exposure,
    ExposureLog,
    Feedback,
    SQLiteExposureLog,
    open_log,
    unit_hash,
)
from langchain_benchrouter.langchain.messages import routing_text

if TYPE_CHECKING:
    from langchain_benchrouter.core.router import Router

__all__ = [
    "ArmStats",
    "Comparison",
    "ExperimentReport",
    "LabeledFeedback",
    "add_experiment_parser",
    "compute_report",
    "compute_reports",
    "feedback_to_labels",
    "plot_report",
    "report_table",
]


# ---------------------------------------------------------------------- data
@dataclass(frozen=True)
class ArmStats:
    """What happened in one arm.

    Attributes:
        arm: the arm's name.
        exposures: calls served (including failed ones).
        errors: calls whose arm raised.
        feedback_count: exposures with a score for the metric.
        mean_score: mean of those scores (``None`` without any).
        ci_low: lower end of the confidence interval of the mean (``None`` below 2 scores).
        ci_high: upper end.
        std_score: sample standard deviation of the scores (``None`` below 2 scores).
        models: exposures per model (``"?"`` where unknown).
        total_cost: USD summed over the exposures with a known cost (``None``: none known).
        mean_cost: USD per exposure with a known cost.
        cost_known: exposures with a known cost.
        mean_latency_s: mean latency in seconds.
        p95_latency_s: 95th percentile of the latency.
        mean_tokens: mean total tokens over exposures that report usage.

    Example:
        >>> report.arms[0].mean_score  # doctest: +SKIP
        0.71
    """

    arm: str
    exposures: int
    errors: int
    feedback_count: int
    mean_score: float | None
    ci_low: float | None
    ci_high: float | None
    std_score: float | None
    models: dict[str, int]
    total_cost: float | None
    mean_cost: float | None
    cost_known: int
    mean_latency_s: float | None
    p95_latency_s: float | None
    mean_tokens: float | None


@dataclass(frozen=True)
class Comparison:
    """One arm against the baseline arm.

    Attributes:
        arm: the arm.
        baseline: the baseline arm.
        difference: ``mean_score(arm) - mean_score(baseline)``.
        test: ``"two_proportion_z"``, ``"welch_t"`` or ``"none"`` (too few scores).
        statistic: z or t.
        p_value: two-sided p-value.
        p_adjusted: Bonferroni-adjusted over the report's comparisons.
        significant: ``p_adjusted < alpha``.

    Example:
        >>> report.comparisons[0].significant  # doctest: +SKIP
        True
    """

    arm: str
    baseline: str
    difference: float | None
    test: str
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool


@dataclass(frozen=True)
class ExperimentReport:
    """The report of one experiment.

    Attributes:
        experiment: the experiment's name.
        metric: the feedback metric reported.
        alpha: significance level (the intervals are ``1 - alpha`` intervals).
        baseline: the arm the others are compared with.
        arms: per-arm statistics, in order of first exposure.
        comparisons: each other arm against the baseline.

    Example:
        >>> report = compute_report("ab.sqlite", "router-vs-small")  # doctest: +SKIP
        >>> report.to_dict()["arms"][0]["arm"]  # doctest: +SKIP
        'router'
    """

    experiment: str
    metric: str
    alpha: float
    baseline: str
    arms: list[ArmStats]
    comparisons: list[Comparison] = field(default_factory=list)

    def arm(self, name: str) -> ArmStats:
        """The statistics of one arm."""
        for a in self.arms:
            if a.arm == name:
                return a
        msg = f"no arm {name!r} in experiment {self.experiment!r}"
        raise KeyError(msg)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the report."""
        out: dict[str, Any] = _json_safe(asdict(self))
        return out


@dataclass(frozen=True)
class LabeledFeedback:
    """Feedback of an experiment as labelled inputs for ``Router.add_labeled``.

    Attributes:
        inputs: the texts.
        model_scores: per model, one score per input (``None`` where that model did not
            answer that input); several scores of one model on one text are averaged.
        skipped: scored runs left out (text unknown, model unknown or unknown to the router).

    Example:
        >>> labels = feedback_to_labels("ab.sqlite", "exp", prompts)  # doctest: +SKIP
        >>> router.add_labeled(labels.inputs, labels.model_scores)  # doctest: +SKIP
    """

    inputs: list[str]
    model_scores: dict[str, list[float | None]]
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.inputs)


# ---------------------------------------------------------------------- statistics
def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _latest_scores(feedback: Sequence[Feedback], metric: str) -> dict[str, float]:
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


def _as_log(log: ExposureLog | str | os.PathLike[str]) -> ExposureLog:
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
    the_log = _as_log(log)
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
    scores = _latest_scores(the_log.feedback(experiment, metric), metric)
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
    the_log = _as_log(log)
    names = [experiment] if experiment is not None else _experiment_names(the_log)
    return [compute_report(the_log, n, **kwargs) for n in names]


# ---------------------------------------------------------------------- presentation
def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def report_table(report: ExperimentReport) -> Table:
    """A rich table of a report (one row per arm)."""
    level = f"{100 * (1 - report.alpha):g}% CI"
    table = Table(title=f"experiment {report.experiment!r} (metric {report.metric!r})")
    table.add_column("arm")
    for col in ("exposed", "errors", "scored", "mean", level, "$/call", "$ total"):
        table.add_column(col, justify="right")
    for col in ("latency", "p95", "tokens"):
        table.add_column(col, justify="right")
    table.add_column("models")
    for a in report.arms:
        ci = f"{_fmt(a.ci_low)}-{_fmt(a.ci_high)}" if a.ci_low is not None else "-"
        models = ", ".join(f"{m} {n}" for m, n in list(a.models.items())[:3])
        if len(a.models) > 3:
            models += f", +{len(a.models) - 3}"
        table.add_row(
            a.arm + (" *" if a.arm == report.baseline else ""),
            str(a.exposures),
            str(a.errors),
            str(a.feedback_count),
            _fmt(a.mean_score),
            ci,
            _fmt(a.mean_cost, ".2g"),
            _fmt(a.total_cost, ".3g"),
            _fmt(a.mean_latency_s, ".3f"),
            _fmt(a.p95_latency_s, ".3f"),
            _fmt(a.mean_tokens, ".0f"),
            models,
        )
    table.caption = "* baseline; latency in seconds, cost in USD"
    return table


def comparison_lines(report: ExperimentReport) -> list[str]:
    """One line per comparison: the difference, the test and whether it is significant."""
    lines = []
    for c in report.comparisons:
        if c.p_value is None:
            lines.append(f"{c.arm} vs {c.baseline}: too few scores or no variance to test")
            continue
        verdict = "SIGNIFICANT" if c.significant else "not significant"
        lines.append(
            f"{c.arm} vs {c.baseline}: difference {c.difference:+.3f}, {c.test} "
            f"statistic {_fmt(c.statistic, '.3f')}, p = {c.p_value:.4g} "
            f"(adjusted {c.p_adjusted:.4g}): {verdict} at alpha = {report.alpha:g}"
        )
    return lines


def print_report(report: ExperimentReport, console: Console | None = None) -> None:
    """Print the table and the comparisons of a report."""
    console = console or Console()
    console.print(report_table(report))
    for line in comparison_lines(report):
        console.print(line)


def plot_report(report: ExperimentReport, out_dir: str | os.PathLike[str]) -> Path:
    """Save a figure of a report: score with CI, cost, latency and model mix per arm.

    Needs matplotlib (the ``plots`` extra); imported only here. Uses matplotlib's
    object API, so no global backend is changed.

    Args:
        report: the report.
        out_dir: the directory (created if missing).

    Returns:
        The PNG's path, ``<out_dir>/<experiment>.png``.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is a test dependency
        msg = "plots need matplotlib: pip install 'langchain-benchrouter[plots]'"
        raise ExperimentError(msg) from exc
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [a.arm for a in report.arms]
    x = np.arange(len(names))
    fig = Figure(figsize=(14, 3.6), layout="constrained")
    axes = fig.subplots(1, 4)
    means = [a.mean_score if a.mean_score is not None else np.nan for a in report.arms]
    err = np.array(
        [
            [
                (a.mean_score - a.ci_low)
                if a.ci_low is not None and a.mean_score is not None
                else 0,
                (a.ci_high - a.mean_score)
                if a.ci_high is not None and a.mean_score is not None
                else 0,
            ]
            for a in report.arms
        ]
    ).T
    axes[0].bar(x, means, yerr=err, capsize=4, color="tab:blue")
    axes[0].set_title(f"mean {report.metric} ({100 * (1 - report.alpha):g}% CI)")
    costs = [a.mean_cost if a.mean_cost is not None else 0.0 for a in report.arms]
    axes[1].bar(x, costs, color="tab:green")
    axes[1].set_title("cost per call (USD)")
    lat = [a.mean_latency_s or 0.0 for a in report.arms]
    p95 = [a.p95_latency_s or 0.0 for a in report.arms]
    axes[2].bar(x - 0.2, lat, width=0.4, label="mean")
    axes[2].bar(x + 0.2, p95, width=0.4, label="p95")
    axes[2].set_title("latency (s)")
    axes[2].legend(fontsize="small")
    models = sorted({m for a in report.arms for m in a.models})
    bottom = np.zeros(len(names))
    for model in models:
        share = np.array([a.models.get(model, 0) / max(a.exposures, 1) for a in report.arms])
        axes[3].bar(x, share, bottom=bottom, label=model)
        bottom += share
    axes[3].set_title("model mix")
    if len(models) <= 10:
        axes[3].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for ax in axes:
        ax.set_xticks(x, names, rotation=20)
    fig.suptitle(f"experiment {report.experiment}")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in report.experiment)
    path = out / f"{safe}.png"
    fig.savefig(path, dpi=100)
    return path


# ---------------------------------------------------------------------- feedback -> labels
def feedback_to_labels(
    log: ExposureLog | str | os.PathLike[str],
    experiment: str,
    texts: Sequence[str] | Mapping[str, str],
    *,
    router: Router | None = None,
    metric: str = "score",
    salt: str | None = None,
    since: float | None = None,
) -> LabeledFeedback:
    """Turn an experiment's feedback into labelled inputs (and optionally add them).

    The log stores only the hash of each unit key, so the texts come from you: either
    the prompts themselves (matched by hashing them like the experiment's default unit
    key, the text of the latest human message) or a mapping from run id to text (for
    experiments keyed by a user id). Each scored run gives one label: the score of the
    model that answered it (a router arm's choice, or a fixed arm's model).

    Args:
        log: the log or a SQLite path.
        experiment: the experiment.
        texts: the prompts, or ``{run_id: text}``.
        router: if given, keep only its models and add the labels to it with
            :meth:`~langchain_benchrouter.core.router.Router.add_labeled`.
        metric: the feedback metric (scores must lie in [0, 1]).
        salt: the experiment's salt if it is not its name.
        since: only feedback recorded at or after this time (seconds since the epoch),
            to add new labels without repeating old ones.

    Returns:
        The labels (``len`` 0 when nothing matched).

    Raises:
        ExperimentError: a score outside [0, 1].

    Example:
        >>> labels = feedback_to_labels("ab.sqlite", "exp", prompts, router=rt)  # doctest: +SKIP
        >>> len(labels), labels.skipped  # doctest: +SKIP
        (180, 3)
    """
    the_log = _as_log(log)
    feedback = [
        fb for fb in the_log.feedback(experiment, metric) if since is None or fb.timestamp >= since
    ]
    scores = _latest_scores(feedback, metric)
    if isinstance(texts, Mapping):
        by_run: dict[str, str] = {str(k): v for k, v in texts.items()}
        by_hash: dict[str, str] = {}
    else:
        if isinstance(texts, str):
            msg = "texts must be a list of prompts or a {run_id: text} mapping, not one string"
            raise ExperimentError(msg)
        by_run = {}
        the_salt = experiment if salt is None else salt
        # hashed like the experiment's default unit key (the stripped message text)
        by_hash = {unit_hash(the_salt, routing_text(t)): t for t in texts}
    allowed = set(router.model_names) if router is not None else None
    sums: dict[str, dict[str, list[float]]] = {}
    skipped = 0
    for e in the_log.exposures(experiment):
        if e.run_id not in scores:
            continue
        score = scores[e.run_id]
        if not 0.0 <= score <= 1.0:
            msg = f"run {e.run_id}: score {score} is outside [0, 1]; router labels need [0, 1]"
            raise ExperimentError(msg)
        text = by_run.get(e.run_id) or by_hash.get(e.unit_hash)
        if text is None or e.model is None or (allowed is not None and e.model not in allowed):
            skipped += 1
            continue
        sums.setdefault(text, {}).setdefault(e.model, []).append(score)
    inputs = list(sums)
    models = sorted({m for per in sums.values() for m in per})
    if router is not None:
        models = [m for m in router.model_names if m in models]
    model_scores: dict[str, list[float | None]] = {
        m: [(math.fsum(sums[t][m]) / len(sums[t][m])) if m in sums[t] else None for t in inputs]
        for m in models
    }
    labels = LabeledFeedback(inputs=inputs, model_scores=model_scores, skipped=skipped)
    if router is not None and inputs:
        router.add_labeled(labels.inputs, labels.model_scores)
    return labels


# ---------------------------------------------------------------------- command line
def _open_existing_log(db: str) -> tuple[Path, SQLiteExposureLog]:
    """The exposure log at ``db``; a missing file is an error, never a new empty log."""
    path = Path(db)
    if not path.is_file():
        msg = f"{path}: no such exposure log"
        raise FileNotFoundError(msg)
    return path, SQLiteExposureLog(path, create=False)


def _cmd_report(args: argparse.Namespace, console: Console) -> int:
    path, log = _open_existing_log(args.db)
    try:
        reports = compute_reports(
            log, args.experiment, metric=args.metric, alpha=args.alpha, baseline=args.baseline
        )
        if not reports:
            console.print(f"{path}: the log holds no exposures")
            return 1
        for report in reports:
            print_report(report, console)
        if args.json:
            out = Path(args.json)
            out.parent.mkdir(parents=True, exist_ok=True)
            data = {"experiments": [r.to_dict() for r in reports]}
            out.write_text(json.dumps(data, indent=2), encoding="utf-8")
            console.print(f"wrote {out}")
        if args.plots:
            for report in reports:
                console.print(f"wrote {plot_report(report, args.plots)}")
    finally:
        log.close()
    return 0


def _cmd_feedback(args: argparse.Namespace, console: Console) -> int:
    _, log = _open_existing_log(args.db)
    try:
        log.log_feedback(
            [Feedback(args.run_id, args.score, metric=args.metric, comment=args.comment)]
        )
    finally:
        log.close()
    console.print(f"recorded {args.metric} = {args.score:g} for run {args.run_id}")
    return 0


def add_experiment_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``experiment report`` and ``experiment feedback`` on a subparsers object.

    Each command sets ``func(args, console) -> exit code``, like the other
    ``benchrouter`` commands.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The ``experiment`` parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="benchrouter")
        >>> _ = add_experiment_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["experiment", "report", "ab.sqlite"]).db
        'ab.sqlite'
    """
    exp = subparsers.add_parser("experiment", help="A/B experiments: report, record feedback")
    sub = exp.add_subparsers(dest="experiment_command", required=True)

    rep = sub.add_parser(
        "report",
        help="per arm: exposures, feedback, mean score with CI, cost, latency, significance",
    )
    rep.add_argument("db", help="the SQLite exposure log")
    rep.add_argument("--experiment", default=None, help="one experiment (default: all)")
    rep.add_argument("--metric", default="score", help="feedback metric (default: score)")
    rep.add_argument("--baseline", default=None, help="arm to compare with (default: first)")
    rep.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    rep.add_argument("--json", default=None, metavar="OUT", help="also write the report as JSON")
    rep.add_argument("--plots", default=None, metavar="DIR", help="also save a PNG per experiment")
    rep.set_defaults(func=_cmd_report)

    fb = sub.add_parser("feedback", help="record a score for a run id")
    fb.add_argument("db", help="the SQLite exposure log")
    fb.add_argument("run_id")
    fb.add_argument("score", type=float)
    fb.add_argument("--metric", default="score")
    fb.add_argument("--comment", default=None)
    fb.set_defaults(func=_cmd_feedback)
    return exp  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``experiment ...`` alone (``python -m langchain_benchrouter.experiments.report``)."""
    from langchain_benchrouter.errors import BenchRouterError

    parser = argparse.ArgumentParser(prog="benchrouter")
    add_experiment_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args, Console())
    except (BenchRouterError, FileNotFoundError, ValueError) as exc:
        print(f"benchrouter: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
