"""Writing, merging and renaming benchmarks (private: :class:`Benchmark` exposes them).

``merge`` is the heart of "bring your own models": the user's evaluations (collected,
imported) and the benchmark's published ones become one score table, keyed by
``(task, instance_id)``, where a model with no result on an input stays ``NaN``.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.data._checks import _listing
from langchain_benchrouter.data._layouts import COST_SUFFIXES, METADATA_COLUMNS, RESERVED_COLUMNS
from langchain_benchrouter.errors import BenchmarkFormatError, UnknownModelError

if TYPE_CHECKING:  # pragma: no cover
    from langchain_benchrouter.data.benchmark import Benchmark

OnConflict = Literal["error", "first", "last"]
"""What :meth:`Benchmark.merge` does when two benchmarks score the same model on the
same input differently: raise (``"error"``), keep the first or the last one."""

_ON_CONFLICT = ("error", "first", "last")
_COST_SUFFIX = COST_SUFFIXES[0]


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def write_benchmark(bench: Benchmark, path: str | os.PathLike[str]) -> Path:
    """Write ``bench`` as ``instances.jsonl.gz`` + ``models.json`` in directory ``path``.

    Each file is written to a temporary name and renamed into place, so a crash leaves
    either the old file or the new one.
    """
    reserved = set(RESERVED_COLUMNS) | set(METADATA_COLUMNS) | {"reference"}
    clashing = [
        m for m in bench.models if m in reserved or any(m.endswith(s) for s in COST_SUFFIXES)
    ]
    if clashing:
        msg = (
            f"model name(s) {_listing(clashing)} clash with the file layout's column names;"
            " rename them first (bench.rename_models({old: new}))"
        )
        raise BenchmarkFormatError(msg)
    out = Path(path)
    if out.exists() and not out.is_dir():
        msg = f"{out} exists and is not a directory: save() writes a benchmark directory"
        raise BenchmarkFormatError(msg)
    out.mkdir(parents=True, exist_ok=True)

    rows: list[str] = []
    scores = bench.scores.astype(np.float64)
    for i, text in enumerate(bench.texts):
        row: dict[str, Any] = {
            "instance_id": bench.instance_ids[i],
            "task": bench.task_names[int(bench.task_index[i])],
        }
        if bench.splits[i] is not None:
            row["split"] = bench.splits[i]
        row["text"] = text
        if bench.metrics[i] is not None:
            row["metric"] = bench.metrics[i]
        if bench.references[i] is not None:
            row["reference"] = bench.references[i]
        for j, model in enumerate(bench.models):
            row[model] = _json_number(float(scores[i, j]))
        if bench.costs is not None:
            for j, model in enumerate(bench.models):
                cost = float(bench.costs[i, j])
                if not math.isnan(cost):
                    row[model + _COST_SUFFIX] = cost
        rows.append(json.dumps(row, ensure_ascii=False, allow_nan=False))
    data = gzip.compress(("\n".join(rows) + "\n").encode("utf-8"), mtime=0)
    models = [{"name": m, **bench.model_info.get(m, {})} for m in bench.models]
    meta = json.dumps(models, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")
    _replace(out / "instances.jsonl.gz", data)
    _replace(out / "models.json", meta + b"\n")
    return out


def _replace(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rename_models(bench: Benchmark, mapping: Mapping[str, str]) -> Benchmark:
    """A copy of ``bench`` with some models renamed (scores, info and costs follow)."""
    if not isinstance(mapping, Mapping):
        msg = f"rename_models takes a mapping {{old: new}}, got {type(mapping).__name__}"
        raise BenchmarkFormatError(msg)
    unknown = [old for old in mapping if old not in bench.model_info]
    if unknown:
        msg = f"cannot rename unknown model(s) {_listing(unknown)}; known: {_listing(bench.models)}"
        raise UnknownModelError(msg)
    bad = [new for new in mapping.values() if not isinstance(new, str) or not new.strip()]
    if bad:
        msg = f"new model names must be non-empty strings, got {bad!r}"
        raise BenchmarkFormatError(msg)
    names = [mapping.get(m, m) for m in bench.models]
    repeated = sorted({m for m in names if names.count(m) > 1})
    if repeated:
        msg = f"renaming would give several models the name(s) {_listing(repeated)}"
        raise BenchmarkFormatError(msg)
    out = bench.subset(np.arange(bench.n_inputs))
    out.models = names
    out.model_info = {mapping.get(m, m): dict(info) for m, info in bench.model_info.items()}
    out.notes = [*bench.notes, f"renamed model(s): {dict(mapping)}"]
    return out


def merge_benchmarks(
    benches: Sequence[Benchmark],
    *,
    name: str | None,
    on_conflict: OnConflict,
    cls: type[Benchmark],
) -> Benchmark:
    """The union of several benchmarks' inputs and models (see :meth:`Benchmark.merge`)."""
    if on_conflict not in _ON_CONFLICT:
        msg = f"on_conflict must be one of {_ON_CONFLICT}, got {on_conflict!r}"
        raise BenchmarkFormatError(msg)
    for b in benches:
        if not isinstance(b, cls):
            msg = f"merge takes Benchmark objects, got {type(b).__name__}"
            raise BenchmarkFormatError(msg)
    thresholds = {b.threshold for b in benches}
    if len(thresholds) > 1:
        msg = (
            f"cannot merge benchmarks with different thresholds {sorted(thresholds)}:"
            " load them with the same threshold="
        )
        raise BenchmarkFormatError(msg)

    models: list[str] = []
    info: dict[str, dict[str, Any]] = {}
    for b in benches:
        for m in b.models:
            if m not in info:
                models.append(m)
                info[m] = dict(b.model_info.get(m, {}))
            else:
                for key, value in b.model_info.get(m, {}).items():
                    info[m].setdefault(key, value)
    col = {m: j for j, m in enumerate(models)}

    keys: dict[tuple[str, str], int] = {}
    texts: list[str] = []
    tasks: list[str] = []
    ids: list[str] = []
    splits: list[str | None] = []
    metrics: list[str | None] = []
    refs: list[str | None] = []
    where: list[str] = []
    row_of: list[npt.NDArray[np.intp]] = []
    for k, b in enumerate(benches):
        rows = np.empty(b.n_inputs, dtype=np.intp)
        for i, text in enumerate(b.texts):
            task = b.task_names[int(b.task_index[i])]
            ident = (task, b.instance_ids[i])
            r = keys.setdefault(ident, len(texts))
            if r == len(texts):
                texts.append(text)
                tasks.append(task)
                ids.append(b.instance_ids[i])
                splits.append(b.splits[i])
                metrics.append(b.metrics[i])
                refs.append(b.references[i])
                where.append(f"benchmark {k + 1} ({b.name!r})")
            else:
                if texts[r] != text:
                    msg = (
                        f"task {task!r}, instance {ident[1]!r} has different texts in"
                        f" {where[r]} and benchmark {k + 1} ({b.name!r}); merge matches inputs"
                        " by (task, instance_id): give one of them other ids"
                    )
                    raise BenchmarkFormatError(msg)
                for store, value, what in (
                    (metrics, b.metrics[i], "metrics"),
                    (refs, b.references[i], "reference answers"),
                ):
                    if value is None:
                        continue
                    if store[r] is None:
                        store[r] = value
                    elif store[r] != value:
                        msg = (
                            f"task {task!r}, instance {ident[1]!r} has different {what} in"
                            f" {where[r]} and benchmark {k + 1} ({b.name!r})"
                        )
                        raise BenchmarkFormatError(msg)
                if splits[r] is None:
                    splits[r] = b.splits[i]
            rows[i] = r
        row_of.append(rows)

    n, m_count = len(texts), len(models)
    scores = np.full((n, m_count), np.nan)
    costs = np.full((n, m_count), np.nan)
    any_costs = False
    conflicts = 0
    example = ""
    for b, rows in zip(benches, row_of, strict=True):
        cols = np.array([col[m] for m in b.models], dtype=np.intp)
        new = b.scores.astype(np.float64)
        old = scores[np.ix_(rows, cols)]
        clash = ~np.isnan(old) & ~np.isnan(new) & (old != new)
        if clash.any():
            conflicts += int(clash.sum())
            if not example:
                i, j = (int(x) for x in np.argwhere(clash)[0])
                example = (
                    f"model {b.models[j]!r} on task {tasks[rows[i]]!r}, instance"
                    f" {ids[rows[i]]!r}: {old[i, j]!r} vs {new[i, j]!r} in {b.name!r}"
                )
            if on_conflict == "error":
                msg = (
                    f"{int(clash.sum())} score(s) differ between the benchmarks (e.g. {example});"
                    " pass on_conflict='first' or 'last' to choose, or rename one model"
                )
                raise BenchmarkFormatError(msg)
        take = ~np.isnan(new) & (np.isnan(old) | (on_conflict == "last"))
        scores[np.ix_(rows, cols)] = np.where(take, new, old)
        if b.costs is not None:
            any_costs = True
            old_c = costs[np.ix_(rows, cols)]
            costs[np.ix_(rows, cols)] = np.where(take & ~np.isnan(b.costs), b.costs, old_c)
    notes = [f"merged {len(benches)} benchmarks: {_listing([b.name for b in benches])}"]
    if conflicts:
        notes.append(
            f"{conflicts} conflicting score(s) resolved by on_conflict={on_conflict!r}"
            f" (e.g. {example})"
        )
    for m in models:  # a merged model's mean cost is recomputed from the merged costs
        if any_costs and not np.isnan(costs[:, col[m]]).all():
            info[m].pop("cost_per_call", None)
    return cls(
        texts=texts,
        tasks=tasks,
        scores=scores,
        models=models,
        instance_ids=ids,
        model_info=info,
        threshold=benches[0].threshold,
        name=name or "+".join(b.name for b in benches),
        notes=notes,
        splits=splits,
        metrics=metrics,
        references=refs,
        costs=costs if any_costs else None,
    )
