"""An experiment's report shown: a rich table, one line per comparison, a figure."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from langchain_benchrouter.errors import ExperimentError
from langchain_benchrouter.experiments._report_model import ExperimentReport

__all__ = ["comparison_lines", "plot_report", "print_report", "report_table"]


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
