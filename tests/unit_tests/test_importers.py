"""The importers read real output of lm-eval, Inspect AI, HELM and RouterBench-style tables.

lm-eval and HELM fixtures are real tool output (see tests/fixtures/importers/README.md);
the Inspect logs are produced here by Inspect itself with its mock model provider.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_benchrouter.data.importers import (
    from_helm,
    from_inspect,
    from_lm_eval,
    from_routerbench,
)
from langchain_benchrouter.errors import BenchmarkFormatError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "importers"
LM_EVAL = FIXTURES / "lm_eval"
HELM = FIXTURES / "helm"
ROUTERBENCH = FIXTURES / "routerbench" / "routerbench_excerpt.csv"


def _copy(src: Path, tmp_path: Path) -> Path:
    dest = tmp_path / src.name
    shutil.copytree(src, dest)
    return dest


def _samples_file(run_dir: Path, task: str) -> Path:
    (path,) = run_dir.glob(f"samples_{task}_*.jsonl")
    return path


def _rewrite_lines(path: Path, edit: Any) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = edit(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


# --------------------------------------------------------------------------- lm-eval


def test_lm_eval_reads_real_log_samples_of_two_models() -> None:
    bench = from_lm_eval(LM_EVAL)
    assert bench.models == ["dummy-seed1", "dummy-seed2"]
    assert bench.task_names == ["tiny_capitals", "tiny_sums"]
    assert bench.n_inputs == 7
    assert bench.instance_ids == ["0", "1", "2", "3", "0", "1", "2"]
    assert bench.texts[0] == "Question: What is the capital of France?\nAnswer:"
    # multiple choice: the reference is the target choice's text, not its index
    assert bench.references == ["Paris", "Tokyo", "Ottawa", "Canberra", "5", "13", "31"]
    assert bench.task_metrics == ["acc", "exact_match"]
    assert bench.splits[0] == "test"
    assert not np.isnan(bench.scores).any()
    assert any("filter 'strict-match'" in n and "flexible-extract" in n for n in bench.notes)


def test_lm_eval_metric_override_reads_that_metric() -> None:
    bench = from_lm_eval(LM_EVAL, metric={"tiny_capitals": "acc_norm"})
    rows = [i for i, t in enumerate(bench.tasks) if t == "tiny_capitals"]
    # seed 2's random loglikelihoods ranked Canberra first on doc 3 (acc_norm 1.0)
    assert bench.scores[rows, 1].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert bench.scores[rows, 0].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert bench.task_metrics[0] == "acc_norm"


def test_lm_eval_filter_option_and_its_errors() -> None:
    bench = from_lm_eval(LM_EVAL / "dummy-seed1", filter={"tiny_sums": "flexible-extract"})
    assert any("filter 'flexible-extract'" in n for n in bench.notes)
    with pytest.raises(BenchmarkFormatError, match=r"filter 'loose'.*'strict-match'"):
        from_lm_eval(LM_EVAL / "dummy-seed1", filter={"tiny_sums": "loose"})
    with pytest.raises(BenchmarkFormatError, match=r"metric 'f1'.*'acc', 'acc_norm'"):
        from_lm_eval(LM_EVAL / "dummy-seed1", metric="f1")
    with pytest.raises(BenchmarkFormatError, match=r"task\(s\) 'mmlu' that are not in the data"):
        from_lm_eval(LM_EVAL / "dummy-seed1", metric={"mmlu": "acc"})


def test_lm_eval_model_names() -> None:
    one = from_lm_eval(LM_EVAL / "dummy-seed1", model="mine")
    assert one.models == ["mine"]
    with pytest.raises(BenchmarkFormatError, match=r"1 name but 2 runs were found"):
        from_lm_eval(LM_EVAL, model="mine")
    both = from_lm_eval(LM_EVAL, model=["a", "b"])
    assert both.models == ["a", "b"]


def test_lm_eval_without_results_file_needs_model(tmp_path: Path) -> None:
    run = _copy(LM_EVAL / "dummy-seed1", tmp_path)
    for f in run.glob("results_*.json"):
        f.unlink()
    with pytest.raises(BenchmarkFormatError, match="pass model="):
        from_lm_eval(run)
    assert from_lm_eval(run, model="x").models == ["x"]


def test_lm_eval_reads_the_older_list_arguments(tmp_path: Path) -> None:
    run = _copy(LM_EVAL / "dummy-seed2", tmp_path)
    path = _samples_file(run, "tiny_capitals")

    def to_lists(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            args = row["arguments"]
            row["arguments"] = [[a["arg_0"], a["arg_1"]] for a in args.values()]
            del row["metrics"]
        return rows

    _rewrite_lines(path, to_lists)
    bench = from_lm_eval(run)
    assert bench.references[:4] == ["Paris", "Tokyo", "Ottawa", "Canberra"]
    assert bench.texts[1] == "Question: What is the capital of Japan?\nAnswer:"


def test_lm_eval_truncated_line_names_file_and_line(tmp_path: Path) -> None:
    run = _copy(LM_EVAL / "dummy-seed1", tmp_path)
    path = _samples_file(run, "tiny_capitals")
    lines = path.read_text().splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BenchmarkFormatError, match=rf"{path.name}, line 3: invalid JSON"):
        from_lm_eval(run)


def test_lm_eval_missing_field_out_of_range_and_duplicates(tmp_path: Path) -> None:
    run = _copy(LM_EVAL / "dummy-seed1", tmp_path)
    path = _samples_file(run, "tiny_capitals")
    original = path.read_text()

    def drop_args(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        del rows[1]["arguments"]
        return rows

    _rewrite_lines(path, drop_args)
    with pytest.raises(BenchmarkFormatError, match=r"line 2: missing field 'arguments'"):
        from_lm_eval(run)

    path.write_text(original)

    def too_big(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[3]["acc"] = 1.5
        return rows

    _rewrite_lines(path, too_big)
    with pytest.raises(BenchmarkFormatError, match=r"line 4: metric 'acc' 1.5 is not in \[0, 1\]"):
        from_lm_eval(run)

    path.write_text(original)
    _rewrite_lines(path, lambda rows: [*rows, rows[0]])
    with pytest.raises(BenchmarkFormatError, match=r"lines 1 and 5: duplicate doc_id '0'"):
        from_lm_eval(run)


def test_lm_eval_missing_value_stays_nan(tmp_path: Path) -> None:
    run = _copy(LM_EVAL / "dummy-seed1", tmp_path)

    def null(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[0]["acc"] = None
        return rows

    _rewrite_lines(_samples_file(run, "tiny_capitals"), null)
    bench = from_lm_eval(run)
    assert math.isnan(bench.scores[0, 0])
    assert any("1 sample without a 'acc' value" in n for n in bench.notes)


def test_lm_eval_not_a_samples_dir(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkFormatError, match="no lm-eval samples"):
        from_lm_eval(tmp_path)
    with pytest.raises(BenchmarkFormatError, match="not found"):
        from_lm_eval(tmp_path / "nope")


# --------------------------------------------------------------------------- Inspect


@pytest.fixture(scope="module")
def inspect_logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two real Inspect logs: a tiny task run on two mock models (one priced)."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelInfo, ModelOutput, ModelUsage, get_model, set_model_info
    from inspect_ai.model._model_data.model_data import ModelCost
    from inspect_ai.model._model_info import clear_model_info_cache
    from inspect_ai.scorer import match
    from inspect_ai.solver import generate

    answers = {
        "mockllm/model": {"What is 1+1?": "2", "Capital of France?": "Paris"},
        "mockllm/other": {"Capital of Spain?": "Madrid"},
    }

    def answer(name: str) -> Any:
        def out(messages: Any, tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
            reply = answers[name].get(messages[-1].text, "I do not know")
            output = ModelOutput.from_content(model=name, content=reply)
            output.usage = ModelUsage(input_tokens=10, output_tokens=2, total_tokens=12)
            return output

        return out

    task = Task(
        name="tiny_qa",
        dataset=[
            Sample(id="a", input="What is 1+1?", target="2"),
            Sample(id=2, input="Capital of Spain?", target="Madrid"),
            Sample(id=3, input="Capital of France?", target="Paris"),
        ],
        solver=[generate()],
        scorer=match(),
    )
    log_dir = tmp_path_factory.mktemp("inspect_logs")
    set_model_info(
        "mockllm/model",
        ModelInfo(cost=ModelCost(input=1.0, output=2.0, input_cache_write=0, input_cache_read=0)),
    )
    try:
        models = [get_model(n, custom_outputs=answer(n)) for n in answers]
        logs = inspect_eval(task, model=models, log_dir=str(log_dir), display="none")
    finally:
        clear_model_info_cache()
    assert [log.status for log in logs] == ["success", "success"]
    return sorted(Path(log.location) for log in logs)


def test_inspect_reads_real_logs(inspect_logs: list[Path]) -> None:
    bench = from_inspect(inspect_logs[0].parent)
    assert sorted(bench.models) == ["mockllm/model", "mockllm/other"]
    assert bench.task_names == ["tiny_qa"]
    by_id = {iid: i for i, iid in enumerate(bench.instance_ids)}
    assert set(by_id) == {"a", "2", "3"}
    assert bench.texts[by_id["2"]] == "Capital of Spain?"
    assert bench.references[by_id["3"]] == "Paris"
    main = bench.models.index("mockllm/model")
    other = bench.models.index("mockllm/other")
    assert bench.scores[[by_id["a"], by_id["2"], by_id["3"]], main].tolist() == [1.0, 0.0, 1.0]
    assert bench.scores[[by_id["a"], by_id["2"], by_id["3"]], other].tolist() == [0.0, 1.0, 0.0]
    assert bench.task_metrics == ["match"]
    # Inspect priced the calls of the model it has costs for: 10 in, 2 out at $1/$2 per M
    assert bench.costs is not None
    assert np.allclose(bench.costs[:, main], 14e-6)
    assert np.isnan(bench.costs[:, other]).all()
    assert bench.model_info["mockllm/model"]["cost_per_call"] == pytest.approx(14e-6)
    assert bench.model_info["mockllm/other"]["mean_output_tokens"] == 2.0


def test_inspect_options_and_errors(inspect_logs: list[Path]) -> None:
    renamed = from_inspect(inspect_logs[0], model="mine")
    assert renamed.models == ["mine"]
    with pytest.raises(BenchmarkFormatError, match=r"scorer 'includes'.*'match'"):
        from_inspect(inspect_logs[0], scorer="includes")
    with pytest.raises(BenchmarkFormatError, match=r"text must be one of 'input', 'user'"):
        from_inspect(inspect_logs[0], text="prompt")
    with pytest.raises(BenchmarkFormatError, match="2 logs"):
        from_inspect(inspect_logs, model="one")


def test_inspect_truncated_log_names_the_file(inspect_logs: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / inspect_logs[0].name
    data = inspect_logs[0].read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(BenchmarkFormatError, match=rf"{broken.name}: not a readable Inspect log"):
        from_inspect(broken)


def test_inspect_score_out_of_range_and_json_logs(inspect_logs: list[Path], tmp_path: Path) -> None:
    from inspect_ai.log import read_eval_log, write_eval_log

    log = read_eval_log(str(inspect_logs[0]))
    as_json = tmp_path / "log.json"
    write_eval_log(log, str(as_json), format="json")
    assert from_inspect(as_json).n_inputs == 3
    assert log.samples is not None
    log.samples[0].scores["match"].value = 7  # type: ignore[index]
    with pytest.raises(BenchmarkFormatError, match=r"sample '.*': scorer 'match' value 7.0 is not"):
        from_inspect(log)
    log.samples[0].scores["match"].value = "maybe"  # type: ignore[index]
    with pytest.raises(BenchmarkFormatError, match="'maybe', which is not C, I, P, N"):
        from_inspect(log)
    log.samples[0].scores = None
    bench = from_inspect(log)
    assert int(np.isnan(bench.scores).sum()) == 1
    assert any("1 sample without a 'match' score" in n for n in bench.notes)


# --------------------------------------------------------------------------- HELM


def test_helm_reads_real_runs_of_three_models() -> None:
    bench = from_helm(HELM)
    assert bench.models == [
        "google/gemini-1.5-pro-001",
        "meta/llama-3-8b",
        "openai/gpt-4o-2024-05-13",
    ]
    assert bench.task_names == ["bbq:subject=all,method=multiple_choice_joint"]
    assert bench.instance_ids == ["id58485", "id58351"]
    assert bench.references == ["Cannot be determined", "Not known"]
    assert bench.texts[1].startswith("At the bar, two different individuals")
    assert bench.scores.tolist() == [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    assert bench.task_metrics == ["exact_match"]
    assert bench.splits == ["test", "test"]
    assert bench.costs is None


def test_helm_prompt_text_and_metric_override() -> None:
    run = HELM / "bbq_meta_llama-3-8b"
    bench = from_helm(run, text="prompt", metric="quasi_exact_match")
    assert bench.texts[0].startswith("The following are multiple choice questions")
    assert bench.texts[0].endswith("Answer:")
    assert bench.task_metrics == ["quasi_exact_match"]
    with pytest.raises(BenchmarkFormatError, match=r"metric 'bleu'.*'exact_match'"):
        from_helm(run, metric="bleu")
    with pytest.raises(BenchmarkFormatError, match=r"text must be one of 'input', 'prompt'"):
        from_helm(run, text="question")


def test_helm_malformed_files(tmp_path: Path) -> None:
    run = _copy(HELM / "bbq_meta_llama-3-8b", tmp_path)
    stats = run / "per_instance_stats.json"
    original = stats.read_text()
    stats.write_text(original[: len(original) // 3])
    with pytest.raises(BenchmarkFormatError, match=r"per_instance_stats.json, line \d+: invalid"):
        from_helm(run)

    doc = json.loads(original)
    del doc[1]["instance_id"]
    stats.write_text(json.dumps(doc))
    with pytest.raises(BenchmarkFormatError, match=r"entry 1: missing field 'instance_id'"):
        from_helm(run)

    doc = json.loads(original)
    for stat in doc[0]["stats"]:
        if stat["name"]["name"] == "exact_match":
            stat["mean"] = 3.0
    stats.write_text(json.dumps(doc))
    with pytest.raises(BenchmarkFormatError, match=r"metric 'exact_match' 3.0 is not in \[0, 1\]"):
        from_helm(run)

    doc = json.loads(original)
    doc[0]["instance_id"] = "id-unknown"
    stats.write_text(json.dumps(doc))
    with pytest.raises(BenchmarkFormatError, match=r"'id-unknown'.*not in scenario_state\.json"):
        from_helm(run)

    (run / "scenario_state.json").unlink()
    with pytest.raises(BenchmarkFormatError, match="not a HELM run directory"):
        from_helm(run)


def test_helm_instance_without_stats_stays_missing(tmp_path: Path) -> None:
    run = _copy(HELM / "bbq_openai_gpt-4o-2024-05-13", tmp_path)
    stats = run / "per_instance_stats.json"
    stats.write_text(json.dumps(json.loads(stats.read_text())[:1]))
    bench = from_helm(run)
    assert bench.scores[0, 0] == 1.0
    assert math.isnan(bench.scores[1, 0])
    assert any("1 instance without a 'exact_match' value" in n for n in bench.notes)


# --------------------------------------------------------------------------- RouterBench


def test_routerbench_duplicate_ids_error_names_the_rows() -> None:
    with pytest.raises(BenchmarkFormatError) as info:
        from_routerbench(ROUTERBENCH)
    message = str(info.value)
    assert "lines 14, 15" in message
    assert "'gsm8k.test.12'" in message
    assert "'first', 'drop', 'suffix'" in message


@pytest.mark.parametrize(
    ("option", "ids"),
    [
        ("first", ["mmlu-abstract-algebra.val.3", "mmlu-abstract-algebra.val.7", "gsm8k.test.12"]),
        ("drop", ["mmlu-abstract-algebra.val.3", "mmlu-abstract-algebra.val.7"]),
        (
            "suffix",
            [
                "mmlu-abstract-algebra.val.3",
                "mmlu-abstract-algebra.val.7",
                "gsm8k.test.12",
                "gsm8k.test.12#2",
            ],
        ),
    ],
)
def test_routerbench_on_duplicate_options(option: str, ids: list[str]) -> None:
    bench = from_routerbench(ROUTERBENCH, on_duplicate=option)
    assert bench.instance_ids == [*ids, "mt-bench.81"]
    assert any(f"on_duplicate={option!r}" in n for n in bench.notes)
    if option == "first":
        assert bench.texts[2].startswith("Janet has 3 apples")


def test_routerbench_scores_costs_and_missing() -> None:
    bench = from_routerbench(ROUTERBENCH, on_duplicate="suffix")
    assert bench.models == [
        "gpt-3.5-turbo-1106",
        "gpt-4-1106-preview",
        "mistralai/mixtral-8x7b-chat",
    ]
    assert bench.task_names == ["mmlu-abstract-algebra", "gsm8k", "mt-bench"]
    assert math.isnan(bench.scores[2, 2])  # empty cell: missing, not 0
    assert bench.scores[4].tolist() == pytest.approx([0.8, 0.9, 0.7])
    assert bench.costs is not None
    assert bench.costs[0].tolist() == pytest.approx([6.2e-05, 6.3e-04, 3.66e-05])
    mean = float(np.mean(bench.costs[:, 1]))
    assert bench.model_info["gpt-4-1106-preview"]["cost_per_call"] == pytest.approx(mean)
    assert any("oracle_model_to_route_to" in n for n in bench.notes)
    assert bench.texts[0].startswith("Find the degree")


def test_routerbench_parquet_and_jsonl_read_the_same(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pacsv.read_csv(ROUTERBENCH)
    pq.write_table(table, tmp_path / "rb.parquet")
    rows = table.to_pylist()
    with (tmp_path / "rb.jsonl").open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    reference = from_routerbench(ROUTERBENCH, on_duplicate="first")
    for name in ("rb.parquet", "rb.jsonl"):
        other = from_routerbench(tmp_path / name, on_duplicate="first")
        assert other.instance_ids == reference.instance_ids
        assert other.texts == reference.texts
        np.testing.assert_array_equal(other.scores, reference.scores)
        assert other.costs is not None and reference.costs is not None
        np.testing.assert_allclose(other.costs, reference.costs)
    assert isinstance(table, pa.Table)


def test_routerbench_refuses_pickles_and_bad_options(tmp_path: Path) -> None:
    pickled = tmp_path / "routerbench_0shot.pkl"
    pickled.write_bytes(b"\x80\x04\x95" + b"\x00" * 16)
    with pytest.raises(BenchmarkFormatError, match="pickle, which is never loaded"):
        from_routerbench(pickled)
    with pytest.raises(BenchmarkFormatError, match="'error', 'first', 'drop', 'suffix'"):
        from_routerbench(ROUTERBENCH, on_duplicate="last")
    with pytest.raises(BenchmarkFormatError, match=r"model column.*'claude-v2'"):
        from_routerbench(ROUTERBENCH, models=["claude-v2"], on_duplicate="first")


def test_routerbench_malformed_tables(tmp_path: Path) -> None:
    text = ROUTERBENCH.read_text()
    bad = tmp_path / "rb.csv"
    bad.write_text(text.replace("mt-bench.81,", "mt-bench.81,").replace(",0.9,", ",9,"))
    with pytest.raises(
        BenchmarkFormatError,
        match=r"line 16: score of model 'gpt-4-1106-preview' 9.0 is not in \[0, 1\]",
    ):
        from_routerbench(bad, on_duplicate="first")

    bad.write_text(text.replace("0.00063000", "-0.1"))
    with pytest.raises(BenchmarkFormatError, match=r"line 2: gpt-4-1106-preview\|total_cost"):
        from_routerbench(bad, on_duplicate="first")

    bad.write_text(text.replace("sample_id,prompt,", "id,prompt,", 1))
    with pytest.raises(BenchmarkFormatError, match=r"missing column\(s\) 'sample_id'"):
        from_routerbench(bad)

    jsonl = tmp_path / "rb.jsonl"
    jsonl.write_text('{"sample_id": "a", "prompt": "hi", "eval_name": "t", "m": 1, "m|total_c')
    with pytest.raises(BenchmarkFormatError, match=r"rb.jsonl, line 1: invalid JSON"):
        from_routerbench(jsonl)

    jsonl.write_text(
        '{"sample_id": "a", "prompt": "  ", "eval_name": "t", "m": 1, "m|total_cost": 0}'
    )
    with pytest.raises(BenchmarkFormatError, match="line 1: prompt is empty"):
        from_routerbench(jsonl)
