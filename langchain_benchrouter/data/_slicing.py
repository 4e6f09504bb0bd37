"""Taking rows and columns of a Benchmark: which ones, and the derived benchmark.

The ``Benchmark`` methods that select inputs or models (``subset``, ``select_tasks``,
``drop_tasks``, ``select_models``, ``sample``, ``random_split``) check their arguments
and pick rows here, then :func:`_derive` builds the new benchmark without re-validating
what the original already checked.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.data._checks import _listing, _name_list, _short
from langchain_benchrouter.data._layouts import _unscored
from langchain_benchrouter.errors import BenchmarkFormatError, UnknownModelError

if TYPE_CHECKING:  # pragma: no cover
    from langchain_benchrouter.data.benchmark import Benchmark


def _derive(
    bench: Benchmark,
    rows: npt.NDArray[np.intp],
    columns: npt.NDArray[np.intp] | None = None,
    *,
    name: str | None = None,
    note: str | None = None,
) -> Benchmark:
    """A new benchmark on some rows (and columns) of ``bench``, without re-validation.

    Models left with no scores are kept (their column is all ``NaN``) and reported
    in :attr:`notes`, so that splits of one benchmark share their models.
    """
    if rows.size == 0:
        msg = f"the selection leaves no inputs of benchmark {bench.name!r}"
        raise BenchmarkFormatError(msg)
    cols = np.arange(bench.n_models) if columns is None else columns
    new = object.__new__(type(bench))
    old_index = bench.task_index[rows]
    present, first = np.unique(old_index, return_index=True)
    ordered = present[np.argsort(first, kind="stable")]
    remap = np.full(bench.n_tasks, -1, dtype=np.int64)
    remap[ordered] = np.arange(ordered.size, dtype=np.int64)
    row_list = rows.tolist()
    new.texts = [bench.texts[i] for i in row_list]
    new.instance_ids = [bench.instance_ids[i] for i in row_list]
    new.splits = [bench.splits[i] for i in row_list]
    new.metrics = [bench.metrics[i] for i in row_list]
    new.references = [bench.references[i] for i in row_list]
    new.costs = None if bench.costs is None else bench.costs[np.ix_(rows, cols)]
    new.models = [bench.models[j] for j in cols.tolist()]
    new.task_names = [bench.task_names[k] for k in ordered.tolist()]
    new.task_index = remap[old_index]
    new.scores = bench.scores[np.ix_(rows, cols)]
    new.model_info = {m: dict(bench.model_info[m]) for m in new.models}
    new.threshold = bench.threshold
    new.name = bench.name if name is None else name
    new.notes = list(bench.notes)
    if note:
        new.notes.append(note)
    unscored = _unscored(new.models, new.mask)
    if unscored:
        new.notes.append(f"model(s) {_listing(unscored)} have no scores in this selection")
    return new


def _picked_rows(rows: npt.ArrayLike, n: int) -> npt.NDArray[np.intp]:
    """Row indices (kept in order, negatives counted from the end) or a mask, as indices."""
    index = np.asarray(rows)
    if index.dtype == np.bool_:
        if index.shape != (n,):
            msg = f"a row mask must have shape ({n},), got {index.shape}"
            raise BenchmarkFormatError(msg)
        picked = np.flatnonzero(index)
    elif index.size == 0:
        picked = np.empty(0, dtype=np.intp)
    elif np.issubdtype(index.dtype, np.integer) and index.ndim == 1:
        if index.min() < -n or index.max() >= n:
            msg = f"row indices must be in [0, {n}), got {index.min()}..{index.max()}"
            raise BenchmarkFormatError(msg)
        picked = np.where(index < 0, index + n, index).astype(np.intp)
        if np.unique(picked).size != picked.size:
            msg = "row indices must not repeat (inputs must stay unique)"
            raise BenchmarkFormatError(msg)
    else:
        msg = (
            "rows must be a 1-D array of integer indices or a boolean mask,"
            f" got {index.dtype} {index.shape}"
        )
        raise BenchmarkFormatError(msg)
    return picked.astype(np.intp)


def _known_names(
    value: str | Iterable[str],
    kind: str,
    known: Sequence[str],
    limit: int,
    error: type[Exception],
) -> list[str]:
    """The names given, each a ``kind`` among ``known``, else ``error`` names the others."""
    names = _name_list(value, f"{kind} names")
    unknown = [x for x in names if x not in known]
    if unknown:
        msg = f"unknown {kind}(s) {_listing(unknown)}; known {kind}s: {_listing(known, limit)}"
        raise error(msg)
    return names


def _task_rows(bench: Benchmark, tasks: str | Iterable[str]) -> npt.NDArray[np.bool_]:
    """``bool (n,)``: the inputs of the named tasks (all known)."""
    names = _known_names(tasks, "task", bench.task_names, 30, BenchmarkFormatError)
    wanted = np.zeros(bench.n_tasks, dtype=bool)
    wanted[[bench.task_names.index(t) for t in names]] = True
    return wanted[bench.task_index]


def _model_columns(bench: Benchmark, models: str | Iterable[str]) -> npt.NDArray[np.intp]:
    """The columns of the named models (known, at least one, none repeated), in order."""
    names = _known_names(models, "model", bench.models, 40, UnknownModelError)
    if not names:
        msg = "select_models needs at least one model"
        raise BenchmarkFormatError(msg)
    if len(set(names)) != len(names):
        msg = f"a model is repeated in {names!r}"
        raise BenchmarkFormatError(msg)
    return np.array([bench.models.index(m) for m in names], dtype=np.intp)


def _sample_rows(bench: Benchmark, per_task: int, seed: int) -> npt.NDArray[np.intp]:
    """A seeded draw of at most ``per_task`` rows of every task, in row order."""
    if isinstance(per_task, bool) or not isinstance(per_task, int) or per_task < 1:
        msg = f"per_task must be a positive integer, got {per_task!r}"
        raise BenchmarkFormatError(msg)
    rng = np.random.default_rng(seed)
    keep = [
        rng.choice(rows, size=min(per_task, rows.size), replace=False)
        for rows in (np.flatnonzero(bench.task_index == t) for t in range(bench.n_tasks))
    ]
    return np.sort(np.concatenate(keep)).astype(np.intp)


def _test_rows(bench: Benchmark, test_size: float, seed: int) -> npt.NDArray[np.bool_]:
    """``bool (n,)``: a seeded, task-stratified draw of ``round(test_size * n)`` rows."""
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, numbers.Real)
        or not 0.0 < float(test_size) < 1.0
    ):
        msg = f"test_size must be a fraction in (0, 1), got {_short(test_size)}"
        raise BenchmarkFormatError(msg)
    n_test = round(float(test_size) * bench.n_inputs)
    if not 0 < n_test < bench.n_inputs:
        msg = f"test_size={test_size} of {bench.n_inputs} inputs leaves an empty train or test part"
        raise BenchmarkFormatError(msg)
    counts = np.bincount(bench.task_index, minlength=bench.n_tasks)
    exact = counts * float(test_size)
    quota = np.floor(exact).astype(np.int64)
    remainder = exact - quota
    extra = n_test - int(quota.sum())
    if extra > 0:  # largest remainders first, ties by task order
        order = np.argsort(-remainder, kind="stable")
        quota[order[:extra]] += 1
    rng = np.random.default_rng(seed)
    is_test = np.zeros(bench.n_inputs, dtype=bool)
    for task in range(bench.n_tasks):
        members = np.flatnonzero(bench.task_index == task)
        is_test[rng.permutation(members)[: int(quota[task])]] = True
    return is_test
