from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import BenchmarkFormatError, UnknownModelError

# ../shared/data beside the repository (present in CI too)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
LLMROUTER = SHARED / "llmrouter"
MMLU_PRO = SHARED / "mmlu_pro"

MODELS = ["m1", "m2", "m3"]
# Texts exercise CSV quoting, newlines, unicode and a raw U+2028 inside a JSON string.
ROWS: list[dict[str, Any]] = [
    {
        "instance_id": "a1",
        "task": "arith",
        "split": "train",
        "text": "1+1?",
        "m1": 1.0,
        "m2": 0.0,
        "m3": None,
        "metric": "em",
    },
    {
        "instance_id": "g1",
        "task": "geo",
        "split": "train",
        "text": 'Capital of "France", please?\nAnswer:',
        "m1": 1.0,
        "m2": None,
        "m3": 0.75,
        "metric": "em",
    },
    {
        "instance_id": "a2",
        "task": "arith",
        "split": "test",
        "text": "2+2? \u00e9\u2028ok",
        "m1": 0.0,
        "m2": 1.0,
        "m3": 0.25,
        "metric": "em",
    },
    {
        "instance_id": "g2",
        "task": "geo",
        "split": "test",
        "text": "Longest river?",
        "m1": 0.5,
        "m2": 1.0,
        "m3": 1.0,
        "metric": "f1",
    },
]


# --------------------------------------------------------------------------- writers


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return buffer.getvalue()


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> Path:
    text = csv_text(rows, columns)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def to_long(rows: list[dict[str, Any]], models: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "task": r["task"],
            "instance_id": r["instance_id"],
            "text": r["text"],
            "split": r["split"],
            "model": m,
            "score": r[m],
        }
        for r in rows
        for m in models
    ]


WIDE_COLUMNS = ["instance_id", "task", "split", "text", *MODELS, "metric"]
LONG_COLUMNS = ["task", "instance_id", "text", "split", "model", "score"]


def assert_same(a: Benchmark, b: Benchmark) -> None:
    assert a.texts == b.texts
    assert a.instance_ids == b.instance_ids
    assert a.models == b.models
    assert a.task_names == b.task_names
    np.testing.assert_array_equal(a.task_index, b.task_index)
    np.testing.assert_array_equal(a.scores, b.scores)  # NaN == NaN here
    assert a.scores.dtype == b.scores.dtype == np.float32
    assert a.threshold == b.threshold


def check_expected(b: Benchmark) -> None:
    assert b.n_inputs == 4 and b.n_models == 3 and b.n_tasks == 2
    assert b.models == MODELS
    assert b.task_names == ["arith", "geo"]
    assert b.instance_ids == ["a1", "g1", "a2", "g2"]
    assert b.task_index.dtype == np.int64
    assert b.task_index.tolist() == [0, 1, 0, 1]
    assert b.texts[2] == "2+2? \u00e9\u2028ok"
    expected = np.array(
        [[1, 0, np.nan], [1, np.nan, 0.75], [0, 1, 0.25], [0.5, 1, 1]], dtype=np.float32
    )
    np.testing.assert_array_equal(b.scores, expected)


def expect_error(path: Path | str, *fragments: str, **kwargs: Any) -> str:
    with pytest.raises(BenchmarkFormatError) as info:
        Benchmark.load(path, **kwargs)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --------------------------------------------------------------------------- good files


@pytest.fixture
def reference() -> Benchmark:
    return Benchmark.from_records(ROWS)


def test_reference(reference: Benchmark) -> None:
    check_expected(reference)
    assert reference.splits == ["train", "train", "test", "test"]
    assert reference.model_info == {m: {} for m in MODELS}
    # the metric column is read, not ignored; task geo mixes em and f1
    assert reference.metrics == ["em", "em", "em", "f1"]
    assert reference.task_metrics == ["em", None]
    assert [n for n in reference.notes if "metric" in n] == [
        "task(s) 'geo' mix several metrics: their metric counts as unknown"
    ]


@pytest.mark.parametrize(
    "filename", ["b.jsonl", "b.jsonl.gz", "b.json", "b.ndjson", "b.json.gz", "b_no_suffix"]
)
def test_wide_json_lines(tmp_path: Path, reference: Benchmark, filename: str) -> None:
    path = write_jsonl(tmp_path / filename, ROWS)
    bench = Benchmark.load(path)
    check_expected(bench)
    assert_same(bench, reference)
    assert bench.splits == reference.splits


def test_gzip_detected_by_magic_bytes(tmp_path: Path, reference: Benchmark) -> None:
    path = tmp_path / "b.jsonl"  # gzipped content without a .gz suffix
    path.write_bytes(gzip.compress(write_jsonl(tmp_path / "x.jsonl", ROWS).read_bytes()))
    assert_same(Benchmark.load(path), reference)


def test_json_array_document(tmp_path: Path, reference: Benchmark) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(ROWS, indent=1), encoding="utf-8")
    assert_same(Benchmark.load(path), reference)


@pytest.mark.parametrize("filename", ["b.csv", "b.csv.gz"])
def test_wide_csv(tmp_path: Path, reference: Benchmark, filename: str) -> None:
    bench = Benchmark.load(write_csv(tmp_path / filename, ROWS, WIDE_COLUMNS))
    check_expected(bench)
    assert_same(bench, reference)
    assert bench.task_metrics == ["em", None]


def test_tsv(tmp_path: Path, reference: Benchmark) -> None:
    path = tmp_path / "b.tsv"
    path.write_text(csv_text(ROWS, WIDE_COLUMNS).replace(",", "\t"), encoding="utf-8")
    # The comma inside the quoted text became a tab inside quotes: same rows otherwise.
    bench = Benchmark.load(path)
    assert bench.instance_ids == reference.instance_ids
    np.testing.assert_array_equal(bench.scores, reference.scores)


def test_wide_parquet(tmp_path: Path, reference: Benchmark) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.Table.from_pylist(ROWS)
    pq.write_table(table, tmp_path / "b.parquet")
    bench = Benchmark.load(tmp_path / "b.parquet")
    check_expected(bench)
    assert_same(bench, reference)


def test_long_parquet(tmp_path: Path, reference: Benchmark) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.Table.from_pylist(to_long(ROWS, MODELS)), tmp_path / "b.parquet")
    assert_same(Benchmark.load(tmp_path / "b.parquet"), reference)


@pytest.mark.parametrize("filename", ["long.jsonl", "long.jsonl.gz"])
def test_long_jsonl(tmp_path: Path, reference: Benchmark, filename: str) -> None:
    bench = Benchmark.load(write_jsonl(tmp_path / filename, to_long(ROWS, MODELS)))
    check_expected(bench)
    assert_same(bench, reference)
    assert bench.splits == reference.splits


def test_long_csv_with_input_id_and_omitted_missing_rows(
    tmp_path: Path, reference: Benchmark
) -> None:
    rows = [r for r in to_long(ROWS, MODELS) if r["score"] is not None]  # missing = absent
    for r in rows:
        r["input_id"] = r.pop("instance_id")
    columns = ["task", "input_id", "text", "split", "model", "score"]
    bench = Benchmark.load(write_csv(tmp_path / "long.csv", rows, columns))
    assert_same(bench, reference)


def test_long_with_explicit_layout_and_models(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "long.csv", to_long(ROWS, MODELS), LONG_COLUMNS)
    bench = Benchmark.load(path, layout="long", models=["m3", "m1"])
    assert bench.models == ["m3", "m1"]
    assert any("m2" in note and "ignored" in note for note in bench.notes)
    np.testing.assert_array_equal(bench.scores[:, 1], [1, 1, 0, 0.5])


def test_from_records_long_and_wide_agree(reference: Benchmark) -> None:
    long = Benchmark.from_records(to_long(ROWS, MODELS))
    assert_same(long, reference)
    # NaN (e.g. from pandas) also means missing in Python records.
    rows = [{**r, "m3": math.nan if r["m3"] is None else r["m3"]} for r in ROWS]
    assert_same(Benchmark.from_records(rows), reference)


def test_from_records_numpy_values_and_int_ids() -> None:
    rows = [
        {"instance_id": 7, "task": "t", "text": "x", "a": np.float32(0.5), "b": np.bool_(True)},
        {"instance_id": 8, "task": "t", "text": "y", "a": np.int64(1), "b": False},
    ]
    bench = Benchmark.from_records(rows)
    assert bench.instance_ids == ["7", "8"]
    np.testing.assert_array_equal(bench.scores, [[0.5, 1.0], [1.0, 0.0]])


def test_generated_instance_ids_are_reported() -> None:
    rows = [{k: v for k, v in r.items() if k != "instance_id"} for r in ROWS]
    bench = Benchmark.from_records(rows)
    assert bench.instance_ids == ["arith-1", "geo-2", "arith-3", "geo-4"]
    assert any("generated instance_id" in note for note in bench.notes)
    direct = Benchmark(texts=["a", "b"], tasks=["t", "t"], scores=[[1.0], [0.0]], models=["m"])
    assert direct.instance_ids == ["t-1", "t-2"]


def test_auto_model_detection_rules(tmp_path: Path) -> None:
    rows = [
        {
            "instance_id": "1",
            "task": "t",
            "text": "x",
            "good": 1,
            "flag": True,
            "note": "free text",
            "answer": 1,
            "id": 3,
            "mixed": 1,
        },
        {
            "instance_id": "2",
            "task": "t",
            "text": "y",
            "good": 0.5,
            "flag": False,
            "note": None,
            "answer": 0,
            "id": 4,
            "mixed": "n/a",
        },
    ]
    bench = Benchmark.load(write_jsonl(tmp_path / "b.jsonl", rows))
    assert bench.models == ["good", "flag"]  # bools count as 0/1
    np.testing.assert_array_equal(bench.scores, [[1, 1], [0.5, 0]])
    (note,) = [n for n in bench.notes if "ignored" in n]
    for column in ("note", "id", "mixed"):
        assert repr(column) in note
    assert "'answer'" not in note  # the reference answer column, kept
    assert bench.references == ["1", "0"]


def test_models_json_discovery_info_and_cost(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "instances.jsonl", ROWS)
    (tmp_path / "models.json").write_text(
        json.dumps(
            [
                {"name": "m2", "size": "7B", "input_price": 0.2, "output_price": 0.4},
                {"name": "m1", "input_price": 1.0},
                {"name": "m3"},
            ]
        )
    )
    bench = Benchmark.load(tmp_path / "instances.jsonl")
    assert bench.models == ["m2", "m1", "m3"]  # column order from models.json
    assert bench.name == tmp_path.name  # generic stem -> directory name
    assert bench.model_info["m2"] == {"size": "7B", "input_price": 0.2, "output_price": 0.4}
    assert bench.model_cost("m2") == pytest.approx(0.3)
    assert bench.model_cost("m1") == 1.0
    assert bench.model_cost("m3") is None
    with pytest.raises(UnknownModelError, match="nope"):
        bench.model_cost("nope")
    assert bench.task_metrics == ["em", None]  # models.json: metric is still no model
    assert not any("ignored" in n and "metric" in n for n in bench.notes)
    # models= overrides the list (info still comes from models.json); a plain name list.
    only = Benchmark.load(tmp_path / "instances.jsonl", models=["m1"])
    assert only.models == ["m1"] and only.model_info["m1"] == {"input_price": 1.0}
    assert any("'m2'" in n and "'m3'" in n for n in only.notes)
    (tmp_path / "names.json").write_text('["m3", "m1"]')
    named = Benchmark.load(tmp_path / "instances.jsonl", models_file=tmp_path / "names.json")
    assert named.models == ["m3", "m1"]
    # A directory loads its instances file.
    assert_same(Benchmark.load(tmp_path), bench)


def test_models_file_makes_extra_numeric_columns_ignored(tmp_path: Path) -> None:
    rows = [{**r, "extra_score": 1.0} for r in ROWS]
    write_jsonl(tmp_path / "data.jsonl", rows)
    (tmp_path / "models.json").write_text(json.dumps(MODELS))
    bench = Benchmark.load(tmp_path / "data.jsonl")
    assert bench.models == MODELS
    assert any("extra_score" in n for n in bench.notes)


def test_identical_duplicates_are_merged_and_reported(tmp_path: Path) -> None:
    rows = [*ROWS, dict(ROWS[0]), {**ROWS[1], "m2": 1.0}]  # exact copy; fills a missing cell
    bench = Benchmark.load(write_jsonl(tmp_path / "b.jsonl", rows))
    assert bench.n_inputs == 4
    assert bench.scores[1, 1] == 1.0
    assert any("merged 2 duplicate" in n and "lines 1 and 5" in n for n in bench.notes)

    long = [*to_long(ROWS, MODELS), to_long(ROWS, MODELS)[0]]
    bench = Benchmark.load(write_jsonl(tmp_path / "long.jsonl", long))
    assert bench.n_inputs == 4
    assert any("merged 1 duplicate" in n and "lines 1 and 13" in n for n in bench.notes)


def test_labels_mask_and_threshold(reference: Benchmark) -> None:
    labels = reference.labels
    assert labels.dtype == np.float32
    expected = np.array([[1, 0, np.nan], [1, np.nan, 1], [0, 1, 0], [1, 1, 1]], dtype=np.float32)
    np.testing.assert_array_equal(labels, expected)
    strict = Benchmark.from_records(ROWS, threshold=0.75).labels
    np.testing.assert_array_equal(strict[:, 2], [np.nan, 1, 0, 1])
    np.testing.assert_array_equal(strict[3], [0, 1, 1])
    assert reference.mask.tolist() == [
        [True, True, False],
        [True, False, True],
        [True, True, True],
        [True, True, True],
    ]
    # float32 storage does not break ties at the threshold
    tie = Benchmark(texts=["x"], tasks=["t"], scores=[[0.7]], models=["m"], threshold=0.7)
    assert tie.labels[0, 0] == 1.0


def test_task_accuracy_skips_missing() -> None:
    nan = math.nan
    bench = Benchmark(
        texts=["a", "b", "c", "d", "e"],
        tasks=["t1", "t2", "t1", "t1", "t2"],
        scores=[[1.0, nan], [0.5, nan], [0.0, 1.0], [0.5, nan], [nan, nan]],
        models=["x", "y"],
    )
    acc = bench.task_accuracy()
    assert acc.dtype == np.float64 and acc.shape == (2, 2)
    assert acc[0, 0] == pytest.approx(0.5)  # (1 + 0 + 0.5) / 3
    assert acc[0, 1] == pytest.approx(1.0)  # only c is scored
    assert acc[1, 0] == pytest.approx(0.5)  # e is missing, not 0
    assert math.isnan(acc[1, 1])


def test_repr_and_len(reference: Benchmark) -> None:
    text = repr(reference)
    assert text.startswith("Benchmark('records'")
    assert "4 inputs" in text and "2 tasks" in text and "3 models" in text
    assert "2 missing scores" in text
    assert len(reference) == 4


# --------------------------------------------------------------------------- slicing


def test_subset(reference: Benchmark) -> None:
    sub = reference.subset(np.array([3, 0]))
    assert sub.instance_ids == ["g2", "a1"]
    assert sub.task_names == ["geo", "arith"]
    assert sub.task_index.tolist() == [0, 1]
    np.testing.assert_array_equal(sub.scores, reference.scores[[3, 0]])
    masked = reference.subset(np.array([True, False, True, False]))
    assert masked.instance_ids == ["a1", "a2"] and masked.task_names == ["arith"]
    assert masked.models == reference.models and masked.splits == ["train", "test"]
    with pytest.raises(BenchmarkFormatError, match="shape"):
        reference.subset(np.array([True, False]))
    with pytest.raises(BenchmarkFormatError, match="no inputs"):
        reference.subset(np.zeros(4, dtype=bool))
    with pytest.raises(BenchmarkFormatError, match=r"must be in \[0, 4\)"):
        reference.subset([7])
    with pytest.raises(BenchmarkFormatError, match="repeat"):
        reference.subset([1, 1])


def test_subset_keeps_models_without_scores(reference: Benchmark) -> None:
    sub = reference.subset([0])  # m3 is missing on a1
    assert sub.models == MODELS
    assert np.isnan(sub.scores[0, 2])
    assert any("'m3'" in n and "no scores" in n for n in sub.notes)


def test_select_and_drop_tasks(reference: Benchmark) -> None:
    geo = reference.select_tasks(["geo"])
    assert geo.instance_ids == ["g1", "g2"] and geo.task_names == ["geo"]
    assert geo.task_index.tolist() == [0, 0]
    assert reference.select_tasks("arith").instance_ids == ["a1", "a2"]
    dropped = reference.drop_tasks(["geo"])
    assert dropped.instance_ids == ["a1", "a2"]
    with pytest.raises(BenchmarkFormatError, match="'history'"):
        reference.select_tasks(["history"])
    with pytest.raises(ValueError, match="'history'"):
        reference.drop_tasks(["geo", "history"])
    with pytest.raises(BenchmarkFormatError, match="no inputs"):
        reference.drop_tasks(["geo", "arith"])


def test_select_models(reference: Benchmark) -> None:
    sub = reference.select_models(["m3", "m1"])
    assert sub.models == ["m3", "m1"]
    np.testing.assert_array_equal(sub.scores, reference.scores[:, [2, 0]])
    assert list(sub.model_info) == ["m3", "m1"]
    with pytest.raises(UnknownModelError, match="'gpt-9'"):
        reference.select_models(["m1", "gpt-9"])
    with pytest.raises(BenchmarkFormatError, match="repeated"):
        reference.select_models(["m1", "m1"])


def test_random_split_is_stratified_disjoint_and_reproducible() -> None:
    rng = np.random.default_rng(1)
    n = 100
    tasks = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    bench = Benchmark(
        texts=[f"q{i}" for i in range(n)],
        tasks=tasks,
        scores=rng.random((n, 2)),
        models=["x", "y"],
    )
    train, test = bench.random_split(test_size=0.2, seed=3)
    assert train.n_inputs == 80 and test.n_inputs == 20
    assert set(train.texts).isdisjoint(test.texts)
    assert sorted(train.texts + test.texts) == sorted(bench.texts)
    assert sorted(test.tasks) == ["a"] * 10 + ["b"] * 6 + ["c"] * 4
    assert train.models == test.models == bench.models
    _, again_test = bench.random_split(test_size=0.2, seed=3)
    assert again_test.texts == test.texts
    assert bench.random_split(test_size=0.2, seed=4)[1].texts != test.texts
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(BenchmarkFormatError, match="test_size"):
            bench.random_split(test_size=bad)


# --------------------------------------------------------------------------- constructor


def test_constructor_validation() -> None:
    ok: dict[str, Any] = {
        "texts": ["a", "b"],
        "tasks": ["t", "t"],
        "scores": [[1.0, 0.0], [0.5, math.nan]],
        "models": ["x", "y"],
    }
    Benchmark(**ok)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"texts": ["a", " "]}, "row 2: text is empty"),
        ({"texts": ["a", 3]}, "row 2: text is not a string"),
        ({"tasks": ["t"]}, "2 texts but 1 tasks"),
        ({"scores": [[1.0, 0.0], [1.5, 0.0]]}, "row 2: score 1.5"),
        ({"scores": [[1.0, 0.0], [math.inf, 0.0]]}, "row 2: score inf"),
        ({"scores": [[1.0, math.nan], [0.5, math.nan]]}, "'y' have no scores"),
        ({"scores": [[1.0, 0.0]]}, "shape"),
        ({"scores": [["a", 0.0], [1.0, 0.0]]}, "numeric"),
        ({"models": ["x", "x"]}, "duplicate model"),
        ({"instance_ids": ["i", "i"]}, "rows 1 and 2: duplicate input"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"texts": [], "tasks": [], "scores": np.zeros((0, 2))}, "no rows"),
        ({"model_info": {"x": {"input_price": "cheap"}}}, "input_price"),
    ]
    for change, fragment in cases:
        with pytest.raises(BenchmarkFormatError) as info:
            Benchmark(**{**ok, **change})
        assert fragment in str(info.value), (change, str(info.value))
    # the same instance_id under two tasks is fine
    Benchmark(**{**ok, "tasks": ["t", "u"], "instance_ids": ["i", "i"]})


# --------------------------------------------------------------------------- bad files


def test_file_not_found(tmp_path: Path) -> None:
    expect_error(tmp_path / "missing.jsonl", "file not found")
    write_jsonl(tmp_path / "b.jsonl", ROWS)
    with pytest.raises(BenchmarkFormatError, match=r"nope\.json: file not found"):
        Benchmark.load(tmp_path / "b.jsonl", models_file=tmp_path / "nope.json")


def test_missing_required_columns(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "text"} for r in ROWS]
    expect_error(write_jsonl(tmp_path / "a.jsonl", rows), "missing required column", "'text'")
    rows = [{k: v for k, v in r.items() if k != "task"} for r in ROWS]
    expect_error(write_csv(tmp_path / "b.csv", rows, ["instance_id", "text", "m1"]), "'task'")
    long = [{k: v for k, v in r.items() if k != "score"} for r in to_long(ROWS, MODELS)]
    expect_error(write_jsonl(tmp_path / "c.jsonl", long), "'score'", "long layout", layout="long")
    # a key missing from a single line is named with its line
    rows = [dict(r) for r in ROWS]
    del rows[2]["text"]
    expect_error(write_jsonl(tmp_path / "d.jsonl", rows), "line 3", "missing 'text'")


def test_invalid_json_and_non_object_lines(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in ROWS]
    bad = write_lines(tmp_path / "a.jsonl", [lines[0], "", lines[1][:-5], lines[2]])
    expect_error(bad, "line 3", "invalid JSON")
    bad = write_lines(tmp_path / "b.jsonl", [lines[0], "[1, 2]"])
    expect_error(bad, "line 2", "expected a JSON object", "list")
    bad = write_lines(tmp_path / "c.jsonl", [lines[0], '"text"'])
    expect_error(bad, "line 2", "expected a JSON object")


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ('"0.5"', ("line 2", "'m1'", "the string '0.5'")),
        ('"abc"', ("line 2", "'m1'", "must be a number")),
        ("[1]", ("line 2", "'m1'", "list")),
        ("NaN", ("line 2", "'m1'", "NaN", "use null")),
        ("Infinity", ("line 2", "'m1'", "Infinity", "use null")),
        ("1e999", ("line 2", "'m1'", "not finite")),
        ("1.5", ("line 2", "'m1'", "outside [0, 1]")),
        ("-0.1", ("line 2", "'m1'", "outside [0, 1]")),
        ("1" + "0" * 400, ("line 2", "'m1'", "outside [0, 1]")),
    ],
)
def test_bad_json_scores_with_models_json(
    tmp_path: Path, value: str, fragments: tuple[str, ...]
) -> None:
    line = json.dumps({**ROWS[1], "m1": 0.125}).replace("0.125", value)
    path = write_lines(tmp_path / "b.jsonl", [json.dumps(ROWS[0]), line])
    (tmp_path / "models.json").write_text(json.dumps(MODELS))
    expect_error(path, *fragments)


def test_numeric_strings_among_numbers_without_models_json(tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[2]["m2"] = "1.0"
    expect_error(write_jsonl(tmp_path / "b.jsonl", rows), "line 3", "'m2'", "'1.0'")


def test_nan_token_without_models_json(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in ROWS]
    lines[3] = lines[3].replace('"m3": 1.0', '"m3": NaN')
    expect_error(write_lines(tmp_path / "b.jsonl", lines), "line 4", "'m3'", "null")


@pytest.mark.parametrize(
    ("cell", "fragments"),
    [
        ("abc", ("'m1'", "not a number")),
        ("nan", ("'m1'", "leave the cell empty")),
        ("inf", ("'m1'", "not finite", "leave the cell empty")),
        ("2", ("'m1'", "outside [0, 1]")),
    ],
)
def test_bad_csv_scores(tmp_path: Path, cell: str, fragments: tuple[str, ...]) -> None:
    rows = [dict(r) for r in ROWS]
    rows[1]["text"] = "single line"  # so rows[2] is on line 4 (line 1 is the header)
    rows[2]["m1"] = cell
    path = write_csv(tmp_path / "b.csv", rows, WIDE_COLUMNS)
    (tmp_path / "models.json").write_text(json.dumps(MODELS))
    expect_error(path, "line 4", *fragments)


def test_csv_line_numbers_count_multiline_cells(tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[2]["m1"] = "nan"  # rows[1]'s text holds a newline: rows[2] starts on line 5
    (tmp_path / "models.json").write_text(json.dumps(MODELS))
    expect_error(write_csv(tmp_path / "b.csv", rows, WIDE_COLUMNS), "line 5", "'m1'")


def test_csv_nan_without_models_json_and_structure(tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[3]["m2"] = "NaN"
    expect_error(write_csv(tmp_path / "a.csv", rows, WIDE_COLUMNS), "'m2'", "empty")
    path = tmp_path / "b.csv"
    path.write_text("task,text,m1\nt,x,1\nt,y\n")
    expect_error(path, "line 3", "2 fields", "header has 3")
    path.write_text("task,text,m1,m1\nt,x,1,1\n")
    expect_error(path, "line 1", "duplicate column")
    path.write_text("task,text,m1\n")
    expect_error(path, "no rows")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "'text' is empty"), ("  \n\t", "'text' is empty"), (42, "'text' must be a string")],
)
def test_bad_text(tmp_path: Path, text: Any, fragment: str) -> None:
    rows = [dict(r) for r in ROWS]
    rows[1]["text"] = text
    expect_error(write_jsonl(tmp_path / "b.jsonl", rows), "line 2", fragment)


def test_empty_text_in_csv(tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[3]["text"] = "   "
    rows[1]["text"] = "one line"
    expect_error(write_csv(tmp_path / "b.csv", rows, WIDE_COLUMNS), "line 5", "'text' is empty")


def test_conflicting_duplicates(tmp_path: Path) -> None:
    rows = [*ROWS, {**ROWS[0], "m1": 0.0}]
    expect_error(
        write_jsonl(tmp_path / "a.jsonl", rows),
        "lines 1 and 5",
        "conflicting scores",
        "'m1'",
        "'a1'",
    )
    rows = [*ROWS, {**ROWS[0], "text": "other"}]
    expect_error(write_jsonl(tmp_path / "b.jsonl", rows), "lines 1 and 5", "different texts")
    long = to_long(ROWS, MODELS)
    long.append({**long[4], "score": 0.0})  # g1 / m2 was missing: a value fills it...
    long.append({**long[3], "score": 0.5})  # ...but g1 / m1 = 1.0 disagrees
    expect_error(write_jsonl(tmp_path / "c.jsonl", long), "lines 4 and 14", "conflicting", "'m1'")


def test_model_without_scores(tmp_path: Path) -> None:
    rows = [{**r, "m2": None} for r in ROWS]
    expect_error(write_jsonl(tmp_path / "a.jsonl", rows), "'m2'", "no scores")
    (tmp_path / "models.json").write_text(json.dumps(MODELS))
    expect_error(write_jsonl(tmp_path / "b.jsonl", rows), "'m2'", "no scores")


def test_listed_model_absent_from_file(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", ROWS)
    message = expect_error(path, "'m9'", "not in the data", models=["m1", "m9"])
    assert "models=" in message
    (tmp_path / "models.json").write_text(json.dumps([*MODELS, "m9"]))
    expect_error(path, "'m9'", "models.json")


def test_empty_files(tmp_path: Path) -> None:
    for name, content in [("a.jsonl", b""), ("b.jsonl", b"\n \n"), ("c.csv", b"")]:
        path = tmp_path / name
        path.write_bytes(content)
        expect_error(path, "no rows")
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b""))
    expect_error(path, "no rows")
    with pytest.raises(BenchmarkFormatError, match="no rows"):
        Benchmark.from_records([])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("b.jsonl.zst", b'{"task": "t"}\n'),
        ("b.jsonl.bz2", b'{"task": "t"}\n'),
        ("b.jsonl.xz", b'{"task": "t"}\n'),
        ("b.zip", b'{"task": "t"}\n'),
        ("b.jsonl", b"\x28\xb5\x2f\xfd" + b"\x00" * 20),  # zstd magic bytes
        ("b.jsonl", b"BZh91AY&SY" + b"\x00" * 20),
        ("b.jsonl", b"\xfd7zXZ\x00" + b"\x00" * 20),
        ("b.csv", b"PK\x03\x04" + b"\x00" * 20),
    ],
)
def test_unknown_compression(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    expect_error(path, "unknown compression")


def test_corrupt_gzip_and_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"task": "t"}\n' * 100)[:30])
    expect_error(path, "corrupt gzip")
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"task": "t", "text": "x", "m": 1}\n\xff\xfe\n')
    expect_error(path, "line 2", "UTF-8")
    path = tmp_path / "d.dat"
    path.write_bytes(b"hello")
    expect_error(path, "file format")
    path = tmp_path / "e.parquet"
    path.write_bytes(b"PAR1 not really")
    expect_error(path, "Parquet")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "invalid JSON"),
        ('{"a": 1}', "expected a non-empty list"),
        ("[]", "expected a non-empty list"),
        ('[{"size": "7B"}]', "entry 1"),
        ('["m1", 3]', "entry 2"),
        ('["m1", "m1"]', "listed twice"),
        ('[{"name": "m1", "input_price": "cheap"}]', "input_price"),
        ('[{"name": "m1", "output_price": -1}]', "output_price"),
    ],
)
def test_malformed_models_json(tmp_path: Path, content: str, fragment: str) -> None:
    write_jsonl(tmp_path / "b.jsonl", ROWS)
    (tmp_path / "models.json").write_text(content)
    with pytest.raises(BenchmarkFormatError) as info:
        Benchmark.load(tmp_path / "b.jsonl")
    message = str(info.value)
    assert "models.json" in message and "malformed" in message and fragment in message


def test_parquet_nan_is_an_error(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [dict(r) for r in ROWS]
    rows[2]["m3"] = math.nan
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "b.parquet")
    expect_error(tmp_path / "b.parquet", "row 3", "'m3'", "use null")


def test_bad_instance_ids_and_tasks(tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[1]["instance_id"] = [1]
    expect_error(write_jsonl(tmp_path / "a.jsonl", rows), "line 2", "instance_id")
    rows = [dict(r) for r in ROWS]
    rows[3]["task"] = ""
    expect_error(write_jsonl(tmp_path / "b.jsonl", rows), "line 4", "'task' is empty")


def test_bad_arguments(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", ROWS)
    with pytest.raises(BenchmarkFormatError, match="layout"):
        Benchmark.load(path, layout="diagonal")  # type: ignore[arg-type]
    with pytest.raises(BenchmarkFormatError, match="threshold"):
        Benchmark.load(path, threshold=0)
    with pytest.raises(BenchmarkFormatError, match="row 2"):
        Benchmark.from_records([ROWS[0], ["not", "a", "mapping"]])  # type: ignore[list-item]
    with pytest.raises(BenchmarkFormatError, match="no bundled benchmark 'nope'"):
        Benchmark.bundled("nope")


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def llmrouter() -> Benchmark:
    return Benchmark.load(LLMROUTER / "instances.jsonl.gz")


def test_llmrouter(llmrouter: Benchmark) -> None:
    b = llmrouter
    assert (b.n_inputs, b.n_tasks, b.n_models) == (6108, 14, 9)
    counts = dict(zip(b.task_names, np.bincount(b.task_index).tolist(), strict=True))
    assert counts["mmlu"] == 550 and counts["human_eval"] == 214 and counts["commongen"] == 200
    assert b.models[0] == "codegemma-7b"
    assert b.model_info["llama3-chatqa-1.5-70b"]["size"] == "70B"
    assert b.model_cost("llama-3.1-nemotron-51b-instruct") == pytest.approx(0.9)
    assert not np.isnan(b.scores).any()
    assert b.splits.count("test") == 500
    acc = b.task_accuracy()
    assert acc.mean(axis=0).max() == pytest.approx(0.615, abs=5e-4)  # README baselines
    assert acc.max(axis=1).mean() == pytest.approx(0.665, abs=5e-4)
    assert not any("ground_truth" in n for n in b.notes)  # kept as the references
    assert b.references[0] == "C" and None not in b.references
    train, test = b.random_split(0.2, seed=0)
    assert train.n_inputs + test.n_inputs == 6108 and test.n_tasks == 14


def test_bundled_matches_shared_copy(llmrouter: Benchmark) -> None:
    bundled = Benchmark.bundled()
    assert bundled.name == "llmrouter"
    assert_same(bundled, llmrouter)
    assert bundled.model_info == llmrouter.model_info


def test_mmlu_pro_keeps_missing_as_nan() -> None:
    b = Benchmark.load(MMLU_PRO)  # the directory
    assert (b.n_inputs, b.n_tasks, b.n_models) == (12032, 14, 29)
    assert int(np.isnan(b.scores).sum()) == 1713
    assert int(np.isnan(b.labels).sum()) == 1713
    assert int((~b.mask).sum()) == 1713
    deepseek = b.models.index("DeepSeek-Coder-V2")
    assert int(b.mask[:, deepseek].sum()) == 10351
    acc = b.task_accuracy()
    assert not np.isnan(acc).any()
    assert np.nanmean(acc, axis=0).max() == pytest.approx(0.716, abs=5e-4)
    # leave-one-task-out selection still works with sparse models
    assert b.drop_tasks(["engineering"]).n_tasks == 13


def test_all_numeric_strings_are_named_when_no_model_is_found(tmp_path: Path) -> None:
    rows = [{"task": "t", "text": "x", "m1": "0.5"}, {"task": "t", "text": "y", "m1": "1"}]
    expect_error(
        write_jsonl(tmp_path / "b.jsonl", rows), "no model score columns", "'m1'", "line 1"
    )


def test_long_rows_without_ids_group_by_text() -> None:
    rows = [
        {"task": "t", "text": "x", "model": "a", "score": 1},
        {"task": "t", "text": "x", "model": "b", "score": 0},
        {"task": "t", "text": "y", "model": "a", "score": None},
        {"task": "u", "text": "x", "model": "a", "score": 0.5},
    ]
    bench = Benchmark.from_records(rows)
    assert bench.instance_ids == ["t-1", "t-3", "u-4"]
    np.testing.assert_array_equal(bench.scores, [[1, 0], [np.nan, np.nan], [0.5, np.nan]])
    assert any("no score from any model" in n for n in bench.notes)
    with pytest.raises(BenchmarkFormatError, match="row 2: 'model' must be a string"):
        Benchmark.from_records([rows[0], {**rows[1], "model": 3}])


# --------------------------------------------------------------------------- metrics


# ROWS with one metric per task
CLEAN = [dict(r, metric="em" if r["task"] == "arith" else "f1") for r in ROWS]


def test_metrics_in_every_layout_and_through_slicing(tmp_path: Path) -> None:
    long = [
        {**r, "metric": m} for r, m in zip(to_long(CLEAN, MODELS), _long_metrics(), strict=True)
    ]
    columns = [*LONG_COLUMNS, "metric"]
    for bench in (
        Benchmark.load(write_jsonl(tmp_path / "w.jsonl", CLEAN)),
        Benchmark.load(write_csv(tmp_path / "l.csv", long, columns)),
        Benchmark.from_records(long),
    ):
        assert bench.metrics == ["em", "f1", "em", "f1"], bench
        assert bench.task_metrics == ["em", "f1"]
    ref = Benchmark.from_records(CLEAN)
    assert ref.select_tasks(["geo"]).task_metrics == ["f1"]
    assert ref.subset([3, 0]).metrics == ["f1", "em"]
    train, test = ref.random_split(0.5, seed=0)
    assert sorted(train.task_metrics + test.task_metrics) == ["em", "em", "f1", "f1"]
    # a long file may name the metric on one of an input's rows only
    sparse = [dict(r, metric=None) if r["model"] != "m1" else r for r in long]
    assert Benchmark.from_records(sparse).metrics == ["em", "f1", "em", "f1"]


def _long_metrics() -> list[str]:
    return [r["metric"] for r in CLEAN for _ in MODELS]


def test_unknown_and_mixed_metrics() -> None:
    rows = [{k: v for k, v in r.items() if k != "metric"} for r in ROWS]
    assert Benchmark.from_records(rows).task_metrics == [None, None]
    mixed = [dict(r) for r in CLEAN]
    mixed[2]["metric"] = "f1"  # arith now mixes em and f1
    bench = Benchmark.from_records(mixed)
    assert bench.task_metrics == [None, "f1"]
    assert any("'arith'" in n and "several metrics" in n for n in bench.notes)
    blank = [dict(r) for r in CLEAN]
    blank[0]["metric"] = "  "  # empty: unknown, as for split
    assert Benchmark.from_records(blank).metrics[0] is None


def test_bad_metrics_are_errors(tmp_path: Path) -> None:
    bad = [dict(r) for r in ROWS]
    bad[1]["metric"] = 3
    path = write_jsonl(tmp_path / "b.jsonl", bad)
    expect_error(path, "line 2", "'metric' must be a string, got int")
    long = [{**r, "metric": "em"} for r in to_long(ROWS, MODELS)]
    long[1]["metric"] = "f1"  # input a1, second model row
    with pytest.raises(BenchmarkFormatError, match="appears with different metrics"):
        Benchmark.from_records(long)
    dupes = [dict(ROWS[0]), dict(ROWS[0], metric="f1")]
    with pytest.raises(BenchmarkFormatError, match=r"different metrics \('em' and 'f1'\)"):
        Benchmark.from_records(dupes)
    with pytest.raises(BenchmarkFormatError, match="metric must be a non-empty string"):
        Benchmark(texts=["x"], tasks=["t"], scores=[[1.0]], models=["m"], metrics=[""])
    with pytest.raises(BenchmarkFormatError, match="1 texts but 2 metrics"):
        Benchmark(texts=["x"], tasks=["t"], scores=[[1.0]], models=["m"], metrics=["a", "b"])


def test_llmrouter_metrics(llmrouter: Benchmark) -> None:
    metrics = dict(zip(llmrouter.task_names, llmrouter.task_metrics, strict=True))
    assert metrics["mbpp"] == metrics["human_eval"] == "code_eval"
    assert metrics["math"] == metrics["agentverse-mgsm"] == "MATH"
    assert sum(m == "em_mc" for m in metrics.values()) == 6
