"""Experiment reports: numbers against hand-computed values, significance, the CLI."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
from rich.console import Console
from scipy import stats

from langchain_benchrouter.errors import ExperimentError
from langchain_benchrouter.experiments.exposure_log import Exposure, Feedback, SQLiteExposureLog
from langchain_benchrouter.experiments.report import (
    add_experiment_parser,
    compare_scores,
    compute_report,
    compute_reports,
    main,
    report_table,
)

T_975_DF2 = 4.302652729911275  # t quantile 0.975 with 2 degrees of freedom (tables)
T_975_DF3 = 3.182446305284263


def build(path: Path) -> SQLiteExposureLog:
    """Arm "ctl": scores 0.5, 0.7, 0.9 (+1 unscored); arm "new": 0.1, 0.2, 0.3, 0.4."""
    log = SQLiteExposureLog(path)
    rows = [
        Exposure(
            "exp", "ctl", "u1", run_id="c1", model="m1", latency_s=0.1, cost=0.01, total_tokens=10
        ),
        Exposure(
            "exp", "ctl", "u2", run_id="c2", model="m1", latency_s=0.2, cost=0.03, total_tokens=20
        ),
        Exposure("exp", "ctl", "u3", run_id="c3", model="m2", latency_s=0.3),
        Exposure("exp", "ctl", "u4", run_id="c4", model="m1", latency_s=0.4, error="Boom: x"),
        Exposure("exp", "new", "u5", run_id="n1", model="m3", latency_s=1.0, cost=0.5),
        Exposure("exp", "new", "u6", run_id="n2", model="m3", latency_s=1.0, cost=0.5),
        Exposure("exp", "new", "u7", run_id="n3", model=None, latency_s=1.0),
        Exposure("exp", "new", "u8", run_id="n4", model="m3", latency_s=1.0),
        Exposure("other", "x", "u9", run_id="o1", model="m1"),
    ]
    log.log_exposures(rows)
    log.log_feedback(
        [
            Feedback("c1", 0.0, timestamp=1.0),  # corrected below: the latest counts
            Feedback("c2", 0.7),
            Feedback("c3", 0.9),
            Feedback("c1", 0.5, timestamp=2.0),
            Feedback("n1", 0.1),
            Feedback("n2", 0.2),
            Feedback("n3", 0.3),
            Feedback("n4", 0.4),
            Feedback("n4", 1.0, metric="other-metric"),
        ]
    )
    return log


def test_report_numbers_match_hand_computation(tmp_path: Path) -> None:
    report = compute_report(build(tmp_path / "ab.sqlite"), "exp")
    assert report.baseline == "ctl" and [a.arm for a in report.arms] == ["ctl", "new"]
    ctl, new = report.arm("ctl"), report.arm("new")
    assert (ctl.exposures, ctl.errors, ctl.feedback_count) == (4, 1, 3)
    assert (new.exposures, new.errors, new.feedback_count) == (4, 0, 4)
    # ctl: mean 0.7, sd 0.2, half-width t(0.975, 2) * 0.2 / sqrt(3)
    assert ctl.mean_score == pytest.approx(0.7)
    assert ctl.std_score == pytest.approx(0.2)
    half = T_975_DF2 * 0.2 / math.sqrt(3)
    assert ctl.ci_low == pytest.approx(0.7 - half) and ctl.ci_high == pytest.approx(0.7 + half)
    # new: mean 0.25, sd sqrt(0.05 / 3)
    sd = math.sqrt(0.05 / 3)
    assert new.mean_score == pytest.approx(0.25) and new.std_score == pytest.approx(sd)
    assert new.ci_high == pytest.approx(0.25 + T_975_DF3 * sd / 2)
    # cost: known costs only
    assert ctl.total_cost == pytest.approx(0.04) and ctl.mean_cost == pytest.approx(0.02)
    assert ctl.cost_known == 2 and new.total_cost == pytest.approx(1.0)
    # latency: mean and linear-interpolated 95th percentile of 0.1..0.4
    assert ctl.mean_latency_s == pytest.approx(0.25)
    assert ctl.p95_latency_s == pytest.approx(0.3 + 0.85 * 0.1)
    assert ctl.mean_tokens == pytest.approx(15.0) and new.mean_tokens is None
    assert ctl.models == {"m1": 3, "m2": 1} and new.models == {"m3": 3, "?": 1}
    # Welch: se^2 = 0.04/3 + (0.05/3)/4; t = (0.25 - 0.7) / se; Welch-Satterthwaite df
    va, vb = 0.04 / 3, (0.05 / 3) / 4
    t = (0.25 - 0.7) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)
    (cmp,) = report.comparisons
    assert (cmp.arm, cmp.baseline, cmp.test) == ("new", "ctl", "welch_t")
    assert cmp.difference == pytest.approx(-0.45)
    assert cmp.statistic == pytest.approx(t)
    assert cmp.p_value == pytest.approx(2 * stats.t.sf(abs(t), df))
    assert cmp.p_adjusted == cmp.p_value
    assert cmp.p_value is not None and cmp.significant == (cmp.p_value < 0.05)
    assert cmp.significant  # p ~ 0.036
    # another metric, another baseline
    other = compute_report(tmp_path / "ab.sqlite", "exp", metric="other-metric", baseline="new")
    assert other.baseline == "new" and other.arm("new").mean_score == 1.0
    assert other.arm("ctl").feedback_count == 0 and other.arm("ctl").mean_score is None
    assert other.comparisons[0].test == "none" and not other.comparisons[0].significant


def test_binary_scores_use_the_two_proportion_z_test() -> None:
    test, z, p = compare_scores([1, 1, 1, 0], [0, 0, 1, 0])
    # pooled p = 0.5, se = sqrt(0.25 * (1/4 + 1/4)), z = 0.5 / se
    assert test == "two_proportion_z"
    assert z == pytest.approx(0.5 / math.sqrt(0.125))
    assert p == pytest.approx(0.1572992070502851)
    assert compare_scores([1, 1], [1, 1]) == ("two_proportion_z", 0.0, 1.0)
    assert compare_scores([1], [0, 1]) == ("none", None, None)
    assert compare_scores([0.5, 0.5], [0.2, 0.2])[2] is None  # no variance: undefined


def test_three_arms_bonferroni_and_significance(tmp_path: Path) -> None:
    log = SQLiteExposureLog(tmp_path / "ab.sqlite")
    scores = {
        "base": [1] * 60 + [0] * 40,
        "same": [1] * 58 + [0] * 42,
        "better": [1] * 90 + [0] * 10,
    }
    for arm, values in scores.items():
        log.log_exposures([Exposure("e3", arm, "h", run_id=f"{arm}{i}") for i in range(100)])
        log.log_feedback([Feedback(f"{arm}{i}", float(v)) for i, v in enumerate(values)])
    report = compute_report(log, baseline="base")
    by_arm = {c.arm: c for c in report.comparisons}
    for c in by_arm.values():
        assert c.p_value is not None and c.p_adjusted == pytest.approx(min(1.0, 2 * c.p_value))
    assert by_arm["better"].significant and by_arm["better"].difference == pytest.approx(0.3)
    assert not by_arm["same"].significant


def test_report_errors(tmp_path: Path) -> None:
    log = build(tmp_path / "ab.sqlite")
    with pytest.raises(ExperimentError, match="2 experiments"):
        compute_report(log)
    with pytest.raises(ExperimentError, match="no exposures"):
        compute_report(log, "nope")
    with pytest.raises(ExperimentError, match="baseline"):
        compute_report(log, "exp", baseline="nope")
    with pytest.raises(ExperimentError, match="alpha"):
        compute_report(log, "exp", alpha=1.5)
    assert [r.experiment for r in compute_reports(log)] == ["exp", "other"]


def run_cli(argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="benchrouter")
    add_experiment_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    console = Console(record=True, width=160)
    code = args.func(args, console)
    return code, console.export_text()


def test_cli_report_json_and_plots(tmp_path: Path) -> None:
    build(tmp_path / "ab.sqlite").close()
    out_json, plots = tmp_path / "out" / "report.json", tmp_path / "plots"
    code, text = run_cli(
        [
            "experiment", "report", str(tmp_path / "ab.sqlite"),
            "--experiment", "exp", "--json", str(out_json), "--plots", str(plots),
        ]
    )  # fmt: skip
    assert code == 0
    assert "ctl" in text and "new" in text and "0.700" in text
    assert "new vs ctl: difference -0.450, welch_t" in text and "SIGNIFICANT" in text
    data = json.loads(out_json.read_text())
    (exp,) = data["experiments"]
    expected = compute_report(tmp_path / "ab.sqlite", "exp").to_dict()
    assert exp == json.loads(json.dumps(expected))
    assert exp["arms"][1]["models"] == {"m3": 3, "?": 1}
    png = plots / "exp.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_cli_feedback_then_report_all(tmp_path: Path) -> None:
    build(tmp_path / "ab.sqlite").close()
    code, text = run_cli(["experiment", "feedback", str(tmp_path / "ab.sqlite"), "o1", "0.25"])
    assert code == 0 and "o1" in text
    code, text = run_cli(["experiment", "report", str(tmp_path / "ab.sqlite")])
    assert code == 0 and "'exp'" in text and "'other'" in text and "0.250" in text


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "report", str(tmp_path / "missing.sqlite")]) == 2
    assert "no such exposure log" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite").exists()  # the report never creates a log
    build(tmp_path / "ab.sqlite").close()
    assert main(["experiment", "feedback", str(tmp_path / "ab.sqlite"), "zzz", "1"]) == 2
    assert "zzz" in capsys.readouterr().err


def test_table_marks_the_baseline(tmp_path: Path) -> None:
    report = compute_report(build(tmp_path / "ab.sqlite"), "exp")
    console = Console(record=True, width=200)
    console.print(report_table(report))
    text = console.export_text()
    assert "ctl *" in text and "0.200-1.200" not in text
    assert f"{report.arm('ctl').ci_low:.3f}-{report.arm('ctl').ci_high:.3f}" in text
