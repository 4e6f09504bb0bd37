"""Benchmark.save / merge / rename_models, reference answers and per-call costs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from langchain_benchrouter import Benchmark
from langchain_benchrouter.errors import BenchmarkFormatError, UnknownModelError

NAN = float("nan")


def _bench(**kw: object) -> Benchmark:
    args: dict[str, object] = {
        "texts": ["1+1?", "Capital of France?", "2*3?"],
        "tasks": ["math", "geo", "math"],
        "scores": [[1.0, 0.0], [1.0, NAN], [0.0, 1.0]],
        "models": ["small", "large"],
        "instance_ids": ["m1", "g1", "m2"],
        "metrics": ["MATH", "f1_score", "MATH"],
        "references": ["2", "Paris", None],
        "name": "base",
    }
    args.update(kw)
    return Benchmark(**args)  # type: ignore[arg-type]


def test_save_load_round_trip_keeps_everything(tmp_path: Path) -> None:
    costs = [[0.001, 0.01], [NAN, NAN], [0.002, 0.03]]
    bench = _bench(
        costs=costs,
        model_info={"small": {"input_price": 0.1, "size": "7B"}, "large": {"latency_s": 1.5}},
        splits=["train", None, "test"],
    )
    out = bench.save(tmp_path / "mine")
    assert sorted(p.name for p in out.iterdir()) == ["instances.jsonl.gz", "models.json"]
    again = Benchmark.load(out)
    assert again.texts == bench.texts and again.instance_ids == bench.instance_ids
    assert again.task_names == bench.task_names and again.models == bench.models
    np.testing.assert_array_equal(again.scores, bench.scores)
    assert again.metrics == bench.metrics and again.references == bench.references
    assert again.splits == bench.splits
    assert again.costs is not None
    np.testing.assert_allclose(again.costs, np.array(costs), equal_nan=True)
    assert again.model_info["small"]["size"] == "7B"
    assert again.model_info["small"]["cost_per_call"] == pytest.approx(0.0015)
    assert again.model_info["large"]["latency_s"] == 1.5
    assert again.notes == []  # no column ignored: cost and reference columns are understood
    with gzip.open(out / "instances.jsonl.gz", "rt") as handle:
        line = json.loads(handle.readline())
    assert line["small|cost"] == 0.001 and line["reference"] == "2"


def test_bundled_round_trip_is_exact(tmp_path: Path) -> None:
    bench = Benchmark.bundled()
    again = Benchmark.load(bench.save(tmp_path / "b"))
    np.testing.assert_array_equal(again.scores, bench.scores)
    assert again.references == bench.references and again.metrics == bench.metrics
    assert again.model_info == bench.model_info and again.texts == bench.texts


def test_save_refuses_a_file_and_clashing_model_names(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(BenchmarkFormatError, match="not a directory"):
        _bench().save(tmp_path / "f")
    clash = _bench(models=["text", "large"])
    with pytest.raises(BenchmarkFormatError, match="rename_models"):
        clash.save(tmp_path / "c")


def test_costs_are_validated() -> None:
    with pytest.raises(BenchmarkFormatError, match="shape"):
        _bench(costs=[[0.1, 0.2]])
    with pytest.raises(BenchmarkFormatError, match=r"row 2.*not a finite number >= 0"):
        _bench(costs=[[0.1, 0.2], [-1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(BenchmarkFormatError, match="references"):
        _bench(references=["a"])
    with pytest.raises(BenchmarkFormatError, match="not among the models"):
        _bench(model_info={"nobody": {}})
    with pytest.raises(BenchmarkFormatError, match="cost_per_call"):
        _bench(model_info={"small": {"cost_per_call": -2}})


def test_wide_file_cost_columns_and_long_layout_cost(tmp_path: Path) -> None:
    rows = [
        {"task": "t", "instance_id": "1", "text": "a", "m": 1, "m|total_cost": 0.5, "answer": 3},
        {"task": "t", "instance_id": "2", "text": "b", "m": 0, "m|total_cost": "", "answer": [1]},
    ]
    path = tmp_path / "w.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    bench = Benchmark.load(path)
    assert bench.models == ["m"]  # the cost column is not taken for a model
    assert bench.costs is not None and bench.costs[0, 0] == 0.5 and np.isnan(bench.costs[1, 0])
    assert bench.references == ["3", "[1]"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**rows[0], "m|total_cost": -1}))
    with pytest.raises(BenchmarkFormatError, match=r"line 1.*finite number >= 0"):
        Benchmark.load(bad)
    long = tmp_path / "long.csv"
    long.write_text("task,instance_id,text,model,score,cost\nt,1,a,m,1,0.25\nt,1,a,n,0,\n")
    lb = Benchmark.load(long)
    assert lb.costs is not None and lb.costs[0].tolist()[0] == 0.25 and np.isnan(lb.costs[0, 1])


def test_merge_unions_inputs_and_models_and_keeps_missing() -> None:
    base = _bench()
    mine = Benchmark(
        texts=["2*3?", "New?"],
        tasks=["math", "math"],
        scores=[[1.0], [0.0]],
        models=["mine"],
        instance_ids=["m2", "m3"],
        references=["6", "x"],
        costs=[[0.002], [0.004]],
        name="mine",
    )
    merged = Benchmark.merge(base, mine)
    assert merged.models == ["small", "large", "mine"]
    assert merged.instance_ids == ["m1", "g1", "m2", "m3"]
    assert np.isnan(merged.scores[0, 2]) and merged.scores[2, 2] == 1.0  # missing stays NaN
    assert np.isnan(merged.scores[3, :2]).all()
    assert merged.references == ["2", "Paris", "6", "x"]  # a missing reference is filled
    assert merged.costs is not None and merged.costs[3, 2] == 0.004
    assert merged.model_info["mine"]["cost_per_call"] == pytest.approx(0.003)
    assert base.merge(mine).models == merged.models  # also an instance method


def test_merge_refuses_conflicts_unless_told() -> None:
    base = _bench()
    other = _bench(scores=[[0.0, 0.0], [1.0, NAN], [0.0, 1.0]], name="other")
    with pytest.raises(BenchmarkFormatError, match="on_conflict"):
        base.merge(other)
    assert base.merge(other, on_conflict="first").scores[0, 0] == 1.0
    last = base.merge(other, on_conflict="last")
    assert last.scores[0, 0] == 0.0 and any("conflicting" in n for n in last.notes)
    with pytest.raises(BenchmarkFormatError, match="on_conflict must be one of"):
        base.merge(other, on_conflict="newest")  # type: ignore[arg-type]
    renamed_text = _bench(texts=["1+1=?", "Capital of France?", "2*3?"])
    with pytest.raises(BenchmarkFormatError, match="different texts"):
        base.merge(renamed_text)
    with pytest.raises(BenchmarkFormatError, match="threshold"):
        base.merge(_bench(threshold=0.7))
    with pytest.raises(BenchmarkFormatError, match="different reference"):
        base.merge(_bench(references=["3", None, None]))


def test_rename_models() -> None:
    bench = _bench(model_info={"small": {"size": "1B"}})
    renamed = bench.rename_models({"small": "gpt-4o-mini"})
    assert renamed.models == ["gpt-4o-mini", "large"]
    assert renamed.model_info["gpt-4o-mini"] == {"size": "1B"}
    np.testing.assert_array_equal(renamed.scores, bench.scores)
    assert bench.models == ["small", "large"]  # the original is untouched
    with pytest.raises(UnknownModelError, match="nope"):
        bench.rename_models({"nope": "x"})
    with pytest.raises(BenchmarkFormatError, match="several models"):
        bench.rename_models({"small": "large"})


def test_sample_per_task() -> None:
    bench = Benchmark.bundled()
    sample = bench.sample(20, seed=1)
    counts = np.bincount(sample.task_index)
    assert sample.task_names == bench.task_names and counts.tolist() == [20] * bench.n_tasks
    assert sample.instance_ids == bench.sample(20, seed=1).instance_ids  # seeded
    assert sample.instance_ids != bench.sample(20, seed=2).instance_ids
    assert _bench().sample(5).n_inputs == 3  # a smaller task is kept whole
    for bad in (0, -1, 2.5, True):
        with pytest.raises(BenchmarkFormatError, match="positive integer"):
            bench.sample(bad)  # type: ignore[arg-type]
