"""Growing a fitted router with new model columns (private: see :meth:`Router.add_models`).

A new model's evaluations join the router without refitting from scratch: the benchmark
inputs are not embedded again (the new model's inputs are matched to the router's rows
by their embeddings; only unseen inputs are embedded and appended), the task classifier
and the calibrated methods' tuned hyper-parameters are kept (they do not depend on the
model columns), and only what is per model is computed for the new columns: the labels,
the per-task accuracies, the leave-one-task-out reference pairs (recomputed for every
model, since appended inputs move the task descriptors) and the lexical correction's
coefficients (fitted with the vocabulary and penalty already tuned).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import BenchmarkFormatError, RoutingInputError

if TYPE_CHECKING:  # pragma: no cover
    from langchain_benchrouter.core.router import Router

# Two embeddings of one text are identical in float32; float16 storage and faiss
# reconstruction round them, so "the same input" means a cosine distance below this.
SAME_INPUT_DISTANCE = 1e-3
_CANDIDATES = 4  # neighbours searched per input, to prefer a same-task duplicate


def match_rows(router: Router, bench: Benchmark, X: NDArray[np.float32]) -> NDArray[np.int64]:
    """The router row of each benchmark input (-1 for an input the router has not seen)."""
    k = min(_CANDIDATES, router.index_.size)
    nb = router.index_.search(X, k)
    task_of = {name: d for d, name in enumerate(router.task_names_)}
    rows = np.full(bench.n_inputs, -1, dtype=np.int64)
    taken: set[int] = set()  # one router row per input: repeated texts match in turn
    for i in range(bench.n_inputs):
        close = [
            int(r)
            for r in nb.indices[i][nb.distances[i] <= SAME_INPUT_DISTANCE]
            if int(r) not in taken
        ]
        if not close:
            continue
        want = task_of.get(bench.task_names[int(bench.task_index[i])], -2)
        same_task = [r for r in close if router.task_index_[r] == want]
        rows[i] = same_task[0] if same_task else close[0]
        taken.add(int(rows[i]))
    return rows


def place_inputs(
    router: Router, bench: Benchmark, names: Sequence[str]
) -> tuple[Benchmark, NDArray[np.int64]]:
    """The inputs ``names`` are scored on, and the router row of each.

    Inputs the router holds are matched by their embeddings; unseen ones join its
    memory, in their task when the router knows the task name, else with the labelled
    user inputs (task -1) as ``add_labeled`` does; every column already held is unknown
    (NaN) there.

    Returns:
        ``bench`` restricted to ``names`` and to the inputs with a score, and the router
        row of each of its inputs.
    """
    sub = bench.select_models(list(names))
    scored = ~np.isnan(sub.scores).all(axis=1)
    if not scored.any():
        msg = f"the model(s) {list(names)} have no scores in benchmark {bench.name!r}"
        raise RoutingInputError(msg)
    sub = sub.subset(np.flatnonzero(scored))
    X = router.embedder_.embed(sub.texts)
    rows = match_rows(router, sub, X)
    fresh = np.flatnonzero(rows < 0)
    if fresh.size:
        task_of = {name: d for d, name in enumerate(router.task_names_)}
        fresh_tasks = np.array(
            [task_of.get(sub.task_names[int(sub.task_index[i])], -1) for i in fresh],
            dtype=np.int64,
        )
        n_old, m_old = router.labels_.shape
        router.embeddings_ = np.concatenate(
            [router.embeddings_, X[fresh].astype(router.embeddings_.dtype)]
        )
        router.task_index_ = np.concatenate([router.task_index_, fresh_tasks])
        grown = np.full((n_old + fresh.size, m_old), np.nan, dtype=np.float32)
        grown[:n_old] = router.labels_
        router.labels_ = grown
        rows[fresh] = n_old + np.arange(fresh.size)
    return sub, rows


def add_model_columns(router: Router, bench: Benchmark, models: Sequence[str] | None) -> None:
    """Add ``models`` (default: every model of ``bench`` the router lacks) to ``router``."""
    if not isinstance(bench, Benchmark):
        msg = f"add_models() expects a Benchmark, got {type(bench).__name__}"
        raise BenchmarkFormatError(msg)
    names = (
        [m for m in bench.models if m not in router.model_names_]
        if models is None
        else list(models)
    )
    if not names:
        msg = (
            f"benchmark {bench.name!r} holds no model the router lacks (it routes among"
            f" {router.model_names_}); use add_labeled() for more evaluations of known models"
        )
        raise RoutingInputError(msg)
    unknown = [m for m in names if m not in bench.models]
    if unknown:
        msg = f"model(s) {unknown} are not in benchmark {bench.name!r} (it has {bench.models})"
        raise RoutingInputError(msg)
    known = [m for m in names if m in router.model_names_]
    estimated = [m for m in known if "estimated" in router.model_info_.get(m, {})]
    if estimated and len(estimated) == len(names):
        # Real evaluations of an estimated model (Router.add_model) replace its
        # estimated cells input by input.
        replace_estimated(router, bench, names)
        return
    if known:
        msg = (
            f"the router already routes {known}; add evaluations of a known model with"
            " add_labeled(), or rename the new column (Benchmark.rename_models)"
        )
        raise RoutingInputError(msg)
    if len(set(names)) != len(names):
        msg = f"a model is repeated in {names!r}"
        raise RoutingInputError(msg)

    sub, rows = place_inputs(router, bench, names)
    n_new = router.embeddings_.shape[0]

    scores = sub.scores.astype(np.float64)
    known_cell = ~np.isnan(scores)
    labels = np.full((n_new, len(names)), np.nan, dtype=np.float32)
    labels[rows] = np.where(known_cell, scores >= router.score_threshold_, np.nan)
    append_columns(router, names, rows, scores, labels, sub.texts, sub.model_info)


def append_columns(
    router: Router,
    names: Sequence[str],
    rows: NDArray[np.int64],
    scores: NDArray[np.float64],
    labels: NDArray[np.float32],
    texts: Sequence[str],
    infos: Mapping[str, Mapping[str, Any]],
    *,
    task_accuracy: NDArray[np.float64] | None = None,
    reference: bool = True,
) -> None:
    """Append model columns to a router whose rows already hold the new inputs.

    Args:
        router: the fitted router (``embeddings_`` and ``task_index_`` already grown).
        names: the new models.
        rows: the router row of each evaluated input (the rows of ``scores``).
        scores: (len(rows), len(names)) the evaluated scores (NaN: not evaluated).
        labels: (n_rows, len(names)) the new columns of ``labels_``: 0/1 where measured,
            NaN where unknown, or soft labels in [0, 1] for an estimated column.
        texts: the text of each evaluated input (the lexical correction's coefficients);
            empty: the new columns get no lexical correction (zero coefficients).
        infos: per model, what is known about it (``model_info_``).
        task_accuracy: (T, len(names)) per-task accuracies to use instead of the mean
            score on the evaluated inputs (an estimated column's).
        reference: recompute the leave-one-task-out reference pairs (False: only for
            evaluation runs that route and never select, leaving ``ref_p_`` stale).
    """
    n_new = router.embeddings_.shape[0]
    n_old, m_old = router.labels_.shape
    known_cell = ~np.isnan(scores)
    old_labels = np.full((n_new, m_old), np.nan, dtype=np.float32)
    old_labels[:n_old] = router.labels_
    router.labels_ = np.concatenate([old_labels, labels], axis=1)

    # Per benchmark task, the mean score of each new model on its evaluated inputs.
    acc = np.full((len(router.task_names_), len(names)), np.nan)
    row_task = router.task_index_[rows]
    for d in range(len(router.task_names_)):
        inside = row_task == d
        if inside.any() and task_accuracy is None:
            with np.errstate(invalid="ignore"):
                count = known_cell[inside].sum(axis=0)
                total = np.nansum(scores[inside], axis=0)
            acc[d] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    if task_accuracy is not None:
        acc = np.asarray(task_accuracy, dtype=np.float64).reshape(len(router.task_names_), -1)
    router.task_accuracy_ = np.concatenate([router.task_accuracy_, acc], axis=1)
    router.model_names_ = [*router.model_names_, *names]
    for name in names:
        router.model_info_[name] = dict(infos.get(name, {}))

    lexical = getattr(router, "lexical_", None)
    if lexical is not None and not texts:
        lexical.add_columns([], np.zeros((0, len(names))))
    elif lexical is not None:
        in_task = row_task >= 0
        prior = np.where(in_task[:, None], acc[np.maximum(row_task, 0)], np.nan)
        lexical.add_columns(
            [texts[int(i)] for i in np.flatnonzero(in_task)], (scores - prior)[in_task]
        )
    router._finish_fit(fit_reference=False)
    if reference:
        router.ref_u_, router.ref_p_ = router._reference_pairs()


def overwrite_estimated(
    router: Router, col: int, rows: NDArray[np.int64], scores: NDArray[np.float64]
) -> int:
    """Write measured scores over an estimated column's cells; returns how many changed.

    The column's per-task accuracy moves by the difference between each measured score
    and the estimate it replaces (exact for 0/1 scores, where the soft label is the
    expected score), and its ``model_info_["estimated"]`` record counts the measured
    inputs. The caller refreshes the derived state (``_finish_fit``).
    """
    keep = ~np.isnan(scores)
    rows, scores = rows[keep], scores[keep]
    if rows.size == 0:
        return 0
    old = router.labels_[rows, col].astype(np.float64)
    new = (scores >= router.score_threshold_).astype(np.float32)
    labels = router.labels_.copy()
    labels[rows, col] = new
    router.labels_ = labels
    acc = router.task_accuracy_.copy()
    tasks = router.task_index_[rows]
    for d in np.unique(tasks[tasks >= 0]):
        size = int((router.task_index_ == d).sum())
        inside = tasks == d
        before = np.where(np.isnan(old[inside]), acc[d, col], old[inside])
        acc[d, col] += float((scores[inside] - before).sum()) / size
    router.task_accuracy_ = acc
    name = router.model_names_[col]
    info = dict(router.model_info_[name])
    record = dict(info.get("estimated", {}))
    measured = {int(r) for r in record.get("measured_rows", [])} | {int(r) for r in rows}
    record["measured_rows"] = sorted(measured)
    info["estimated"] = record
    router.model_info_[name] = info
    return int(rows.size)


def replace_estimated(router: Router, bench: Benchmark, names: Sequence[str]) -> None:
    """Real evaluations of estimated models replace their estimated cells input by input.

    Inputs the router holds are matched by their embeddings; unseen inputs join its
    memory (the other models' cells there are unknown), as in :func:`add_model_columns`.
    """
    sub, rows = place_inputs(router, bench, names)
    scores = sub.scores.astype(np.float64)
    for j, name in enumerate(names):
        overwrite_estimated(router, router.model_names_.index(name), rows, scores[:, j])
    router._finish_fit(fit_reference=False)
    router.ref_u_, router.ref_p_ = router._reference_pairs()


def absorb_labeled(router: Router, start: int) -> int:
    """Move measured labels of estimated models from rows ``start:`` onto the rows they repeat.

    :meth:`Router.add_labeled` appends the user's labelled inputs as new rows; for a model
    whose column is estimated, a label on an input the router already holds replaces the
    estimate of that input (the appended row keeps its labels too). Returns the number
    of cells replaced. The caller refreshes the derived state (``_finish_fit``).
    """
    cols = [
        j for j, m in enumerate(router.model_names_) if "estimated" in router.model_info_.get(m, {})
    ]
    n = router.labels_.shape[0]
    if not cols or start >= n or start <= 0:
        return 0
    new = np.asarray(router.embeddings_[start:], dtype=np.float32)
    old = np.asarray(router.embeddings_[:start], dtype=np.float32)
    # Cosine distance of unit vectors; the earlier rows only (an exact, small search).
    dist = 1.0 - new @ old.T
    nearest = np.argmin(dist, axis=1)
    same = dist[np.arange(new.shape[0]), nearest] <= SAME_INPUT_DISTANCE
    changed = 0
    for j in cols:
        vals = router.labels_[start:, j].astype(np.float64)
        hit = same & ~np.isnan(vals)
        changed += overwrite_estimated(router, j, nearest[hit].astype(np.int64), vals[hit])
    return changed
