"""The ``benchrouter`` command, run in-process: exit codes, output, one-line errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from langchain_benchrouter.cli import main
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.evaluation.harness import METHODS

TASKS = ["gsm8k", "mbpp", "mmlu"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-task, 90-input slice of the bundled data, written in the shared layout."""
    full = Benchmark.bundled().select_tasks(TASKS)
    rows = np.concatenate([np.flatnonzero(full.task_index == t)[:30] for t in range(full.n_tasks)])
    bench = full.subset(np.sort(rows))
    folder = tmp_path_factory.mktemp("data") / "slice"
    folder.mkdir()
    with gzip.open(folder / "instances.jsonl.gz", "wt", encoding="utf-8") as fh:
        for i in range(bench.n_inputs):
            rec: dict[str, object] = {
                "instance_id": bench.instance_ids[i],
                "task": bench.task_names[bench.task_index[i]],
                "text": bench.texts[i],
                "metric": bench.metrics[i],
            }
            for j, m in enumerate(bench.models):
                v = float(bench.scores[i, j])
                rec[m] = None if np.isnan(v) else v
            fh.write(json.dumps(rec) + "\n")
    models = [{"name": m, **bench.model_info[m]} for m in bench.models]
    (folder / "models.json").write_text(json.dumps(models))
    return folder


def _one_line_error(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("benchrouter")
    assert "error" in lines[0]
    assert "Traceback" not in err


def test_evaluate_prints_tables_and_writes_json_and_plots(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    plots = tmp_path / "figs"
    code = main(
        [
            "evaluate",
            str(data_dir),
            "--embedder",
            "hashing",
            "--format",
            "plain",
            "--labeled-per-task",
            "0,5",
            "--repeats",
            "2",
            "--json",
            str(out),
            "--plots",
            str(plots),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for method in (m for m in METHODS if m not in ("task_best_train", "labels_best")):
        assert f"\n{method} " in captured.out
    for task in TASKS:
        assert f"\n{task} " in captured.out
    assert "5 labelled inputs per task, 2 repeats" in captured.out
    data = json.loads(out.read_text())
    assert data["embedder"] == "hashing-256"
    assert data["config"]["data"] == str(data_dir)
    assert data["config"]["labeled_per_task"] == [0, 5]
    assert set(data["methods"]) == set(METHODS) - {"task_best_train", "labels_best"}
    assert sorted(t["task"] for t in data["tasks"]) == sorted(TASKS)
    assert all(t["n"] == 30 for t in data["tasks"])
    assert [s["labeled_per_task"] for s in data["sweeps"]] == [0, 5]
    # the naive few-shot baseline appears where there are labels, and only there
    assert "labels_best" in data["sweeps"][1]["methods"]
    assert "labels_best" not in data["sweeps"][0]["methods"]
    assert "\nlabels_best " in captured.out
    # The printed oracle accuracy is the JSON's.
    oracle_row = next(line for line in captured.out.splitlines() if line.startswith("oracle "))
    assert oracle_row.split()[1] == f"{data['methods']['oracle']['accuracy']:.3f}"
    assert "wrote " + str(out) in captured.out
    figures = sorted(p.name for p in plots.iterdir())
    assert figures == ["accuracy_by_method.png", "cost_quality.png", "few_shot.png", "per_task.png"]


def test_evaluate_markdown_and_method_subset(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "evaluate",
            str(data_dir),
            "--embedder",
            "hashing",
            "--format",
            "markdown",
            "--methods",
            "bma,s3",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "| method | accuracy | ratio to oracle | BMA rate | mean cost |" in out
    assert "| s3 |" in out and "| bma |" in out
    assert "| s1 |" not in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["evaluate", "/no/such/benchmark"], "/no/such/benchmark"),
        (["evaluate", "{data}", "--embedder", "/no/such/model"], "/no/such/model"),
        (["evaluate", "{data}", "--embedder", "hashing", "--methods", "s4"], "unknown method"),
        (["evaluate", "{data}", "--protocol", "bogus"], "invalid choice"),
        (["evaluate", "{data}", "--labeled-per-task", "x"], "non-negative integers"),
        (
            ["evaluate", "{data}", "--embedder", "hashing", "--labeled-per-task", "30"],
            "leaves no input",
        ),
        (["evaluate", "bundled:nope"], "nope"),
        (["route", "/no/such/router", "hello"], "/no/such/router"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_errors_are_one_line(
    argv: list[str], needle: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([a.replace("{data}", str(data_dir)) for a in argv])
    captured = capsys.readouterr()
    assert code == 2
    _one_line_error(captured.err)
    assert needle in captured.err


def test_bad_layout_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "t", "text": "x", "m": 7}\n')
    assert main(["evaluate", str(bad), "--embedder", "hashing"]) == 2
    _one_line_error(capsys.readouterr().err)


def test_fit_then_route(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    router_dir = tmp_path / "router"
    assert main(["fit", str(data_dir), "-o", str(router_dir), "--embedder", "hashing"]) == 0
    assert "saved to" in capsys.readouterr().out
    models = Benchmark.load(data_dir).models
    assert (
        main(
            ["route", str(router_dir), "What is 12 * 7?", "Write a Python function to sort a list."]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "per-input routing" in out
    assert any(m in out for m in models)
    tasks = Benchmark.load(data_dir).task_names
    assert "looks like" in out and any(f"{t} (" in out for t in tasks)
    assert (
        main(["route", str(router_dir), "--task", "What is 12 * 7?", "How many eggs are left?"])
        == 0
    )
    out = capsys.readouterr().out
    assert "chosen:" in out
    chosen = out.split("chosen:")[1].split()[0]
    assert chosen in models
    # the task's metric (mbpp is the slice's code_eval task)
    assert main(["route", str(router_dir), "--task", "def f(x):", "--metric", "code_eval"]) == 0
    # three tasks, three metrics: no two tasks to measure agreement, weight 0
    said = " ".join(capsys.readouterr().out.split())
    assert "1 benchmark task(s) scored by 'code_eval' say (weight 0.00" in said
    assert main(["route", str(router_dir), "--task", "def f(x):", "--metric", "nope"]) == 2
    err = capsys.readouterr().err
    _one_line_error(err)
    assert "metric 'nope'" in err and "code_eval" in err


def test_demo_runs_on_a_small_benchmark(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--data", str(data_dir), "--embedder", "hashing", "--task", "mbpp"]) == 0
    out = capsys.readouterr().out
    # the slice's three tasks have three metrics: mbpp's code_eval is no other task's
    assert "the task's metric 'code_eval' scores no other benchmark task" in " ".join(out.split())
    assert "S3 (paper) chose" in out and "eb_select (default) chose" in out
    assert "per-input routing" in out and "decided by" in out
    from langchain_benchrouter.cli import DEMO_PROMPTS

    # one "decided by" cell per prompt
    assert out.count("kNN") + out.count("(lexical)") >= len(DEMO_PROMPTS)
