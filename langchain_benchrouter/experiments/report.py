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

The statistics live in ``_report_stats``, the report's dataclasses in ``_report_model``,
the table and the figure in ``_report_render`` and the labels in ``_feedback_labels``;
this module is their public face and the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from langchain_benchrouter.experiments._feedback_labels import feedback_to_labels
from langchain_benchrouter.experiments._report_model import (
    ArmStats,
    Comparison,
    ExperimentReport,
    LabeledFeedback,
)
from langchain_benchrouter.experiments._report_render import (
    comparison_lines,
    plot_report,
    print_report,
    report_table,
)
from langchain_benchrouter.experiments._report_stats import (
    compare_scores,
    compute_report,
    compute_reports,
)
from langchain_benchrouter.experiments.exposure_log import Feedback, SQLiteExposureLog

__all__ = [
    "ArmStats",
    "Comparison",
    "ExperimentReport",
    "LabeledFeedback",
    "add_experiment_parser",
    "compare_scores",
    "comparison_lines",
    "compute_report",
    "compute_reports",
    "feedback_to_labels",
    "plot_report",
    "print_report",
    "report_table",
]


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
