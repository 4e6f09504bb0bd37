"""Property tests of the benchmark loaders: a valid Benchmark or a BenchmarkFormatError, always.

Whatever the bytes, rows or scores, loading either gives a benchmark whose invariants
hold (scores in [0, 1] or NaN, one task per input, non-empty texts, every model scored)
or raises the library's :class:`BenchmarkFormatError` with a message; never a
numpy/pandas/KeyError traceback, and never a benchmark with a silently changed score.
The strategies start from valid data and corrupt some of it, so both outcomes occur.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import BenchmarkFormatError

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

SUFFIXES = [".jsonl", ".json", ".csv", ".tsv", ".parquet", ".jsonl.gz", ".csv.gz", ".txt", ""]
BAD_NUMBERS = [math.nan, math.inf, -math.inf, -0.5, 1.5, -1e308, 1e308, 2, -1]

names = st.one_of(st.sampled_from(["t1", "t2", "x y"]), st.text(min_size=1, max_size=12))
junk = st.one_of(
    st.sampled_from(BAD_NUMBERS),
    st.booleans(),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
    st.none(),
)
good_scores = st.one_of(st.floats(min_value=0.0, max_value=1.0), st.sampled_from([0, 1, 0.5]))


def check_invariants(bench: Benchmark) -> None:
    event("loaded a benchmark")
    n, m = bench.scores.shape
    assert n == len(bench.texts) == len(bench.instance_ids) == len(bench.task_index) > 0
    assert m == len(bench.models) > 0
    known = ~np.isnan(bench.scores)
    assert ((bench.scores[known] >= 0) & (bench.scores[known] <= 1)).all()
    assert known.any(axis=0).all()  # every model has at least one score
    assert all(isinstance(t, str) and t.strip() for t in bench.texts)
    assert ((bench.task_index >= 0) & (bench.task_index < len(bench.task_names))).all()
    labels = bench.labels
    assert np.array_equal(np.isnan(labels), ~known)
    assert set(np.unique(labels[known]).tolist()) <= {0.0, 1.0}


def format_error(exc: BenchmarkFormatError) -> None:
    event("BenchmarkFormatError")
    assert str(exc)


def load_or_error(path: Path, **kwargs: Any) -> Benchmark | None:
    try:
        bench = Benchmark.load(path, **kwargs)
    except BenchmarkFormatError as exc:
        format_error(exc)
        return None
    check_invariants(bench)
    return bench


@st.composite
def wide_rows(draw: st.DrawFn, corrupt: bool = True) -> list[dict[str, Any]]:
    """Valid wide rows (task, text, m1, m2), then up to three corrupted cells."""
    n = draw(st.integers(min_value=1, max_value=6))
    rows: list[dict[str, Any]] = [
        {
            "task": draw(st.sampled_from(["t1", "t2"])),
            "text": draw(names.filter(str.strip)),
            "m1": draw(good_scores),
            "m2": draw(st.one_of(good_scores, st.none())),
        }
        for _ in range(n)
    ]
    rows[0]["m2"] = draw(good_scores)  # every model scored at least once
    if corrupt:
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            row = draw(st.sampled_from(rows))
            key = draw(st.sampled_from(["task", "text", "m1", "m2", "instance_id", "split"]))
            row[key] = draw(st.one_of(junk, st.integers(), st.just("")))
    return rows


# --------------------------------------------------------------------------- records


@SETTINGS
@given(rows=wide_rows(), threshold=st.one_of(st.just(0.5), st.floats(allow_nan=True)))
def test_from_records_is_valid_or_a_format_error(
    rows: list[dict[str, Any]], threshold: Any
) -> None:
    try:
        bench = Benchmark.from_records(rows, threshold=threshold)
    except BenchmarkFormatError as exc:
        format_error(exc)
        return
    check_invariants(bench)
    assert 0 < bench.threshold <= 1
    # Nothing silently altered: every kept score is the one given (NaN where None/NaN).
    for i, row in enumerate(rows):
        for j, model in enumerate(bench.models):
            given_score = row.get(model)
            got = float(bench.scores[i, j])
            if given_score is None or (isinstance(given_score, float) and math.isnan(given_score)):
                assert math.isnan(got)
            else:
                assert got == np.float32(float(given_score))


@SETTINGS
@given(rows=wide_rows())
def test_long_records_are_valid_or_a_format_error(rows: list[dict[str, Any]]) -> None:
    long = [
        {
            "task": r.get("task"),
            "instance_id": str(i),
            "text": r.get("text"),
            "model": model,
            "score": r.get(model),
        }
        for i, r in enumerate(rows)
        for model in ("m1", "m2")
    ]
    try:
        bench = Benchmark.from_records(long, layout="long")
    except BenchmarkFormatError as exc:
        format_error(exc)
        return
    check_invariants(bench)


@SETTINGS
@given(
    n=st.sampled_from([1, 2, 3, 0]),
    m=st.sampled_from([1, 2, 0]),
    data=st.data(),
)
def test_constructor_is_valid_or_a_format_error(n: int, m: int, data: st.DataObject) -> None:
    texts = data.draw(
        st.lists(st.one_of(names, names, names, names, st.integers()), min_size=n, max_size=n)
    )
    rows = data.draw(st.sampled_from([n, n, n, n + 1, max(0, n - 1)]))
    cols = data.draw(st.sampled_from([m, m, m, m + 1]))
    cell = st.one_of(good_scores, good_scores, good_scores, junk)
    matrix = data.draw(
        st.lists(st.lists(cell, min_size=cols, max_size=cols), min_size=rows, max_size=rows)
    )
    models = (
        [f"m{j}" for j in range(m)]
        if data.draw(st.booleans())
        else data.draw(
            st.lists(st.one_of(names, st.integers(), st.just("")), min_size=m, max_size=m)
        )
    )
    try:
        bench = Benchmark(texts=texts, tasks=["t"] * len(texts), scores=matrix, models=models)
    except BenchmarkFormatError as exc:
        format_error(exc)
        return
    check_invariants(bench)


# --------------------------------------------------------------------------- files


@SETTINGS
@given(data=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_bytes_never_crash_the_loader(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"instances{suffix}"
    path.write_bytes(data)
    load_or_error(path)


def wide_jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(r, allow_nan=True) for r in rows).encode()


@SETTINGS
@given(
    rows=wide_rows(corrupt=False),
    cut=st.one_of(st.just(0), st.integers(min_value=1, max_value=10_000)),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3),
    gz=st.booleans(),
)
def test_truncated_or_flipped_jsonl_is_valid_or_a_format_error(
    tmp_path: Path, rows: list[dict[str, Any]], cut: int, flips: list[tuple[int, int]], gz: bool
) -> None:
    data = bytearray(wide_jsonl(rows))
    if gz:
        data = bytearray(gzip.compress(bytes(data)))
    for pos, value in flips:
        data[pos % len(data)] = value
    if cut:
        data = data[: max(1, len(data) - cut % len(data))]
    path = tmp_path / ("instances.jsonl.gz" if gz else "instances.jsonl")
    path.write_bytes(bytes(data))
    load_or_error(path)


@SETTINGS
@given(
    rows=wide_rows(corrupt=False),
    bad=st.sampled_from(["NaN", "Infinity", "-Infinity", "-0.5", "1.5", "1e999", "-1e999"]),
)
def test_non_finite_or_out_of_range_json_scores_are_rejected(
    tmp_path: Path, rows: list[dict[str, Any]], bad: str
) -> None:
    lines = [json.dumps(r) for r in rows]
    lines[0] = lines[0].replace('"m1": ', f'"m1": {bad}, "_was": ', 1)
    path = tmp_path / "instances.jsonl"
    path.write_text("\n".join(lines))
    try:
        Benchmark.load(path, models=["m1", "m2"])
    except BenchmarkFormatError as exc:
        assert "line 1" in str(exc)
    else:  # a NaN in a JSON file must not silently become "missing"
        raise AssertionError(f"score {bad} was accepted")


csv_cells = st.one_of(
    st.sampled_from(["0", "1", "0.25", "", "nan", "NaN", "inf", "-1", "1.5", "yes", " 1 ", "1e-3"]),
    st.text(max_size=8),
)


@SETTINGS
@given(
    rows=wide_rows(corrupt=False),
    edits=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), csv_cells), max_size=3),
    extra=st.sampled_from([[], ["model"], ["score"], ["m1"], [""], ["id"]]),
    delimiter=st.sampled_from([",", "\t"]),
)
def test_corrupted_csv_is_valid_or_a_format_error(
    tmp_path: Path,
    rows: list[dict[str, Any]],
    edits: list[tuple[int, int, str]],
    extra: list[str],
    delimiter: str,
) -> None:
    header = ["task", "text", "m1", "m2", *extra]
    body = [
        [r["task"], r["text"], str(r["m1"]), "" if r["m2"] is None else str(r["m2"])]
        + ["0.5"] * len(extra)
        for r in rows
    ]
    for i, j, value in edits:
        body[i % len(body)][j] = value
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter).writerows([header, *body])
    path = tmp_path / ("instances.csv" if delimiter == "," else "instances.tsv")
    path.write_text(buf.getvalue())
    bench = load_or_error(path)
    if bench is not None:
        assert set(bench.models) <= set(header)


parquet_columns = st.one_of(
    st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none()), min_size=4),
    st.lists(st.one_of(names, st.none()), min_size=4),
    st.lists(st.integers(-(2**40), 2**40), min_size=4),
    st.lists(st.booleans(), min_size=4),
)


@SETTINGS
@given(
    rows=wide_rows(corrupt=False),
    replaced=st.dictionaries(
        st.sampled_from(["task", "text", "m1", "m2", "model", "score", "extra"]),
        parquet_columns,
        max_size=2,
    ),
)
def test_corrupted_parquet_is_valid_or_a_format_error(
    tmp_path: Path, rows: list[dict[str, Any]], replaced: dict[str, list[Any]]
) -> None:
    columns: dict[str, list[Any]] = {k: [r[k] for r in rows] for k in rows[0]}
    for key, values in replaced.items():
        columns[key] = (values * len(rows))[: len(rows)]
    path = tmp_path / "instances.parquet"
    pq.write_table(pa.table(columns), path)
    load_or_error(path)


@SETTINGS
@given(rows=wide_rows(corrupt=False), size=st.integers(min_value=1, max_value=300_000))
def test_huge_texts_load_intact(tmp_path: Path, rows: list[dict[str, Any]], size: int) -> None:
    rows[0]["text"] = "é" * size
    path = tmp_path / "instances.jsonl"
    path.write_bytes(wide_jsonl(rows))
    bench = load_or_error(path)
    assert bench is not None
    assert bench.texts[0] == "é" * size
