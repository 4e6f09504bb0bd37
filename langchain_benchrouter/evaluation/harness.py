"""Evaluation harness: does routing beat using one model? (the protocol of METHOD.md).

The default protocol is **leave-one-task-out** (``"loto"``): for each benchmark task t,
a :class:`~langchain_benchrouter.core.router.Router` is fitted on every other task and must
choose a model for t from t's unlabeled inputs. The router's own reference pairs (the
data behind the OOD confidence model p) are in turn leave-one-task-out among the
remaining tasks, so t never influences its own selection: a clean nested protocol.

The benchmark is embedded **once**; each fold's router receives its slice through
``fit(embeddings=...)`` and an in-memory lookup embedder serves the held-out texts.

Methods (accuracy = mean score of the chosen model on the held-out inputs, averaged
over held-out tasks; missing scores are skipped everywhere):

- ``oracle``: the model with the best true mean score on the held-out task.
- ``bma``: the best model on average over the other tasks (the router's BMA).
- ``random``: the expected accuracy of a uniformly random model (the mean over models
  of their accuracy on the held-out task; deterministic).
- ``s1``, ``s2``, ``s3``: the router's task scores (S3 with shrinkage toward BMA).
- ``s3_true_p``: S3 with p set to the predictor's actual accuracy on the held-out task.
- ``per_instance``: per-input argmax routing; its accuracy is the mean over inputs of the
  chosen model's score, so it is *not* bounded by the per-task oracle.
- ``calibrated``, ``eb_select``, ``route_calibrated``: the calibrated methods (see
  :mod:`langchain_benchrouter.core.calibration`); ``route_lexical``: ``route_calibrated``
  with the lexical correction (:mod:`langchain_benchrouter.core.lexical`), the default route;
  ``task_best_train`` (random split) and ``labels_best`` (with labelled inputs: the best
  mean on them) are baselines.

Models without any score on a held-out task's inputs are excluded from the candidates
of that task (all methods, oracle included).

Example:
    >>> from langchain_benchrouter import Benchmark
    >>> bench = Benchmark.bundled().select_tasks(["gsm8k", "mbpp", "mmlu"])
    >>> result = evaluate(bench, embedder="hashing")
    >>> sorted(result.methods) == sorted(set(METHODS) - {"task_best_train", "labels_best"})
    True
    >>> result.methods["oracle"].accuracy >= result.methods["bma"].accuracy
    True
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core.calibration import expected_calibration_error
from langchain_benchrouter.core.embeddings import (
    CachedEmbedder,
    Embedder,
    HashingEmbedder,
    resolve_embedder,
)
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.core.scoring import per_input_utility, predictor_accuracy
from langchain_benchrouter.data.benchmark import Benchmark

__all__ = [
    "METHODS",
    "PROTOCOLS",
    "TASK_METHODS",
    "CostCurve",
    "EvaluationResult",
    "Fold",
    "MethodSummary",
    "SweepResult",
    "TaskResult",
    "aiq",
    "evaluate",
    "leave_one_task_out",
    "pareto_hull",
]

METHODS: tuple[str, ...] = (
    "oracle",
    "bma",
    "random",
    "task_best_train",
    "labels_best",
    "s1",
    "s2",
    "s3",
    "s3_true_p",
    "calibrated",
    "eb_select",
    "eb_select_text",
    "per_instance",
    "route_calibrated",
    "route_lexical",
)
"""Every method the harness can report, in table order (``task_best_train`` only exists
in protocols whose test tasks have training rows, e.g. ``"random-split"``;
``labels_best`` only with labelled inputs of the test task, ``labeled_per_task`` > 0).
``calibrated`` and ``eb_select`` are told the test task's metric when the benchmark
names one that a training task shares (``select_model(metric=...)``);
``eb_select_text`` is ``eb_select`` from the inputs alone."""

PER_INPUT_METHODS: tuple[str, ...] = ("per_instance", "route_calibrated", "route_lexical")
"""Methods that pick one model per input (not bounded by the per-task ``oracle``)."""

TASK_METHODS: tuple[str, ...] = tuple(m for m in METHODS if m not in PER_INPUT_METHODS)
"""Methods that pick one model per task (bounded above by ``oracle``)."""

DEFAULT_METHOD = "eb_select"
"""The harness name of :meth:`Router.select_model`'s default method."""

DEFAULT_ROUTE_METHOD = "route_lexical"
"""The harness name of :meth:`Router.route`'s default method."""

#: Bins of the expected calibration error.
ECE_BINS = 10

#: Cost weights of the cost-quality curve, as multiples of 1 / (max cost - min cost).
COST_WEIGHT_GRID: tuple[float, ...] = (0.0, *np.geomspace(1e-3, 1e2, 31).tolist())

ProgressCallback = Callable[[str, int, int], None]
"""``progress(stage, done, total)``, called as the harness advances."""


# --------------------------------------------------------------------------- protocols


@dataclass(frozen=True)
class Fold:
    """One train/test split of a protocol; the test rows are scored task by task.

    Attributes:
        name: a label for the fold (the held-out task for leave-one-task-out).
        train: row indices of the benchmark the router is fitted on.
        test: row indices scored; grouped by task, each group is one "new task".

    Example:
        >>> Fold("gsm8k", np.array([0, 1]), np.array([2, 3])).name
        'gsm8k'
    """

    name: str
    train: NDArray[np.intp]
    test: NDArray[np.intp]


def leave_one_task_out(benchmark: Benchmark, seed: int = 0) -> list[Fold]:
    """One fold per task: fit on the other tasks, score the task (``seed`` is unused).

    Raises:
        ValueError: fewer than three tasks.

    Example:
        >>> bench = Benchmark.bundled().select_tasks(["gsm8k", "mbpp", "mmlu"])
        >>> sorted(f.name for f in leave_one_task_out(bench))
        ['gsm8k', 'mbpp', 'mmlu']
    """
    del seed
    if benchmark.n_tasks < 3:
        msg = (
            "leave-one-task-out needs at least three tasks (S3's reference pairs need two "
            f"tasks besides the held-out one); {benchmark.name!r} has {benchmark.n_tasks}"
        )
        raise ValueError(msg)
    folds = []
    for t, name in enumerate(benchmark.task_names):
        inside = benchmark.task_index == t
        folds.append(Fold(name, np.flatnonzero(~inside), np.flatnonzero(inside)))
    return folds


def random_split(benchmark: Benchmark, seed: int = 0) -> list[Fold]:
    """One in-distribution fold: a seeded random 80/20 split of all inputs.

    The test rows are grouped by task and scored like held-out tasks, but every task
    also has training rows, so the per-task best model from training labels
    (``task_best_train``) is the baseline to beat.

    Example:
        >>> bench = Benchmark.bundled().select_tasks(["gsm8k", "mbpp", "mmlu"])
        >>> fold = random_split(bench)[0]
        >>> round(fold.test.size / bench.n_inputs, 2)
        0.2
    """
    n = benchmark.n_inputs
    perm = np.random.default_rng(seed).permutation(n)
    n_test = n // 5
    if n_test < 1 or n - n_test < 1:
        msg = f"random-split needs at least 5 inputs, {benchmark.name!r} has {n}"
        raise ValueError(msg)
    return [Fold("random-split", np.sort(perm[n_test:]), np.sort(perm[:n_test]))]


PROTOCOLS: dict[str, Callable[[Benchmark, int], list[Fold]]] = {
    "loto": leave_one_task_out,
    "random-split": random_split,
}
"""Registered protocols: name -> ``folds(benchmark, seed)`` (test rows grouped by task
are scored exactly like a held-out task)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TaskResult:
    """The outcome of every method on one held-out task (averaged over few-shot repeats).

    Attributes:
        task: the task's name.
        n: inputs scored (the task's inputs minus the labelled ones).
        selected: per method, the chosen model (the most frequent one over repeats; for
            ``per_instance`` the most frequently routed model; ``None`` for ``random``).
        accuracy: per method, the chosen model's mean score on the scored inputs.
        cost: per method, the cost of the choice (``None`` when unknown).
        is_bma: per method, how often the choice was the best model on average (for
            ``per_instance`` the fraction of inputs, for ``random`` 1 / #candidates).
        p_true: mean over models of the predictor's true accuracy on the task.
        p_estimated: mean over models of the router's estimate of it (S3's p).

    Example:
        >>> TaskResult("t", 3, {}, {"oracle": 1.0}, {}, {}, 0.6, 0.7).accuracy["oracle"]
        1.0
    """

    task: str
    n: int
    selected: dict[str, str | None]
    accuracy: dict[str, float]
    cost: dict[str, float | None]
    is_bma: dict[str, float]
    p_true: float
    p_estimated: float
    ece: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON form: ``task``, ``n``, ``selected``, ``accuracy`` (and ``cost``, ``p``)."""
        return {
            "task": self.task,
            "n": self.n,
            "selected": dict(self.selected),
            "accuracy": {m: _num(v) for m, v in self.accuracy.items()},
            "cost": {m: _num(v) for m, v in self.cost.items()},
            "ece": {m: _num(v) for m, v in self.ece.items()},
            "predictor_accuracy": _num(self.p_true),
            "estimated_predictor_accuracy": _num(self.p_estimated),
        }


@dataclass(frozen=True)
class MethodSummary:
    """One method's numbers over all held-out tasks.

    Attributes:
        accuracy: mean over tasks of the task accuracy.
        oracle_ratio: ``accuracy / oracle accuracy`` (a ratio of means).
        bma_rate: fraction of tasks where the method chose the best model on average.
        mean_cost: mean over tasks of the choice's cost; ``None`` if a cost is unknown.
        ece: mean over tasks of the expected calibration error (10 bins) of the predicted
            correctness the method decides with, on the scored inputs (``None`` for the
            baselines, which predict nothing).

    Example:
        >>> MethodSummary(0.6, 0.9, 0.5, None).to_json()["oracle_ratio"]
        0.9
    """

    accuracy: float
    oracle_ratio: float
    bma_rate: float
    mean_cost: float | None
    ece: float | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"accuracy", "oracle_ratio", "bma_rate", "mean_cost", "ece"}``."""
        return {
            "accuracy": _num(self.accuracy),
            "oracle_ratio": _num(self.oracle_ratio),
            "bma_rate": _num(self.bma_rate),
            "mean_cost": _num(self.mean_cost),
            "ece": _num(self.ece),
        }


@dataclass(frozen=True)
class SweepResult:
    """All methods at one number of labelled inputs per held-out task.

    Attributes:
        labeled_per_task: labelled inputs of each held-out task added to the memory.
        repeats: random draws of those inputs averaged over (1 when none are labelled).
        methods: per method, its summary.
        tasks: per held-out task, its result.
        diagnostics: predictor accuracy (true and estimated) and the per-input oracle.

    Example:
        >>> result.sweeps[0].methods["s3"].accuracy  # doctest: +SKIP
    """

    labeled_per_task: int
    repeats: int
    methods: dict[str, MethodSummary]
    tasks: list[TaskResult]
    diagnostics: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this sweep point."""
        return {
            "labeled_per_task": self.labeled_per_task,
            "repeats": self.repeats,
            "methods": {m: s.to_json() for m, s in self.methods.items()},
            "tasks": [t.to_json() for t in self.tasks],
            "diagnostics": {k: _num(v) for k, v in self.diagnostics.items()},
        }


@dataclass(frozen=True)
class CostCurve:
    """Cost-quality curve of cost-aware per-input routing (RouterBench's AIQ).

    Each point routes every held-out input with ``Router.route(cost_weight=w,
    method="calibrated")`` (the lexical correction is not re-decided per weight); cost
    and quality are means over held-out tasks of the per-task means. ``aiq`` is the
    area under the non-decreasing convex hull of the points over the cost range of the
    single models, divided by that range; ``models_aiq`` is the same for the single
    models (always using one model), the baseline routing must beat.

    Example:
        >>> curve.aiq > curve.models_aiq  # doctest: +SKIP
    """

    cost_weights: list[float]
    cost: list[float]
    quality: list[float]
    model_cost: dict[str, float]
    model_quality: dict[str, float]
    aiq: float
    models_aiq: float
    bma_quality: float | None = None
    bma_cost: float | None = None
    cost_at_bma_quality: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form of the curve."""
        return {
            "bma_quality": _num(self.bma_quality),
            "bma_cost": _num(self.bma_cost),
            "cost_at_bma_quality": _num(self.cost_at_bma_quality),
            "cost_weights": [_num(v) for v in self.cost_weights],
            "cost": [_num(v) for v in self.cost],
            "quality": [_num(v) for v in self.quality],
            "model_cost": {m: _num(v) for m, v in self.model_cost.items()},
            "model_quality": {m: _num(v) for m, v in self.model_quality.items()},
            "aiq": _num(self.aiq),
            "models_aiq": _num(self.models_aiq),
        }


@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate` measured.

    ``methods`` and ``tasks`` are those of the first sweep point (usually 0 labelled
    inputs); ``sweeps`` holds every ``labeled_per_task`` value.

    Example:
        >>> bench = Benchmark.bundled().select_tasks(["gsm8k", "mbpp", "mmlu"])
        >>> result = evaluate(bench, embedder="hashing")
        >>> result.to_json()["methods"]["oracle"]["oracle_ratio"]
        1.0
    """

    dataset: str
    embedder: str
    config: dict[str, Any]
    sweeps: list[SweepResult]
    cost_curve: CostCurve | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def methods(self) -> dict[str, MethodSummary]:
        """Per-method summaries of the first sweep point."""
        return self.sweeps[0].methods

    @property
    def tasks(self) -> list[TaskResult]:
        """Per-task results of the first sweep point."""
        return self.sweeps[0].tasks

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``dataset``, ``embedder``, ``config``, ``methods``, ``tasks``, ...)."""
        first = self.sweeps[0].to_json()
        return {
            "dataset": self.dataset,
            "embedder": self.embedder,
            "config": dict(self.config),
            "default_method": DEFAULT_METHOD,
            "default_route_method": DEFAULT_ROUTE_METHOD,
            "methods": first["methods"],
            "tasks": first["tasks"],
            "diagnostics": first["diagnostics"],
            "sweeps": [s.to_json() for s in self.sweeps],
            "cost_curve": None if self.cost_curve is None else self.cost_curve.to_json(),
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
        }

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` to ``path`` (parents created); returns the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return out


def _num(value: float | None) -> float | None:
    """A JSON-safe float: ``None`` for missing or non-finite values."""
    if value is None:
        return None
    v = float(value)
    return v if np.isfinite(v) else None


# --------------------------------------------------------------------------- embedding


class _LookupEmbedder:
    """Serve precomputed vectors by text; embed anything else with the inner embedder."""

    def __init__(self, inner: Embedder, texts: Sequence[str], vectors: NDArray[np.float32]) -> None:
        self.inner = inner
        self.vectors = vectors
        self.row = {t: i for i, t in enumerate(texts)}
        self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        rows = [self.row.get(t, -1) for t in texts]
        out = self.vectors[np.maximum(np.asarray(rows, dtype=np.intp), 0)].copy()
        missing = [i for i, r in enumerate(rows) if r < 0]
        if missing:
            self.misses += len(missing)
            out[missing] = self.inner.embed([texts[i] for i in missing])
        return out


class _MemoSearch:
    """A neighbour index that remembers its last search.

    Scoring one task asks the router six times for the neighbours of the same inputs
    (S1, S2, S3, predict_proba, S3 with true p, per-input routing); the search dominates
    the harness's run time, and the answer cannot change in between.
    """

    def __init__(self, index: Any) -> None:
        self.index = index
        self._key: tuple[Any, ...] | None = None
        self._value: Any = None

    def search(self, queries: NDArray[np.float32], n_neighbors: int) -> Any:
        q = np.ascontiguousarray(queries)
        key = (q.shape, q.dtype.str, int(n_neighbors), hashlib.blake2b(q.tobytes()).digest())
        if key != self._key:
            self._key, self._value = key, self.index.search(queries, n_neighbors)
        return self._value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)


#: Reuse one neighbour search across the methods of a task (identical results, ~5x faster).
MEMO_SEARCH = True


def _make_embedder(spec: Any, cache_dir: str | os.PathLike[str] | bool | None) -> Embedder:
    emb = resolve_embedder(spec)
    if cache_dir is False or isinstance(emb, HashingEmbedder | CachedEmbedder):
        return emb
    return CachedEmbedder(emb, None if cache_dir is True else cache_dir)


# --------------------------------------------------------------------------- scoring one task


@dataclass
class _Outcome:
    selected: dict[str, str | None]
    accuracy: dict[str, float]
    cost: dict[str, float]
    is_bma: dict[str, float]
    p_true: float
    p_estimated: float
    ece: dict[str, float] = field(default_factory=dict)


def _col_mean(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    known = ~np.isnan(scores)
    counts = known.sum(axis=0)
    sums = np.where(known, scores, 0.0).sum(axis=0)
    out = np.full(scores.shape[1], np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


def _score_task(
    router: Router,
    texts: list[str],
    scores: NDArray[np.float64],
    labels: NDArray[np.float64],
    costs: NDArray[np.float64],
    train_best: int | None = None,
    metric: str | None = None,
) -> _Outcome:
    """Run every method on one held-out task and score the choices."""
    if not MEMO_SEARCH:
        return _run_methods(router, texts, scores, labels, costs, train_best, metric)
    index = router.index_
    router.index_ = _MemoSearch(index)  # type: ignore[assignment]
    try:
        return _run_methods(router, texts, scores, labels, costs, train_best, metric)
    finally:
        router.index_ = index


def _run_methods(
    router: Router,
    texts: list[str],
    scores: NDArray[np.float64],
    labels: NDArray[np.float64],
    costs: NDArray[np.float64],
    train_best: int | None = None,
    metric: str | None = None,
) -> _Outcome:
    names = router.model_names
    acc = _col_mean(scores)
    candidate = ~np.isnan(acc)
    if not candidate.any():
        msg = "no model has a score on this task"
        raise ValueError(msg)
    allowed = None if candidate.all() else [m for m, ok in zip(names, candidate, strict=True) if ok]
    col = {m: j for j, m in enumerate(names)}

    selected: dict[str, str | None] = {}
    sel = {
        meth: router.select_model(texts, method=meth, models=allowed) for meth in ("s1", "s2", "s3")
    }
    for meth, s in sel.items():
        selected[meth] = s.model
    bma = sel["s3"].bma
    selected["bma"] = bma
    selected["oracle"] = names[int(np.nanargmax(acc))]
    g = router.predict_proba(texts)
    p_true = predictor_accuracy(g, labels, router.correctness_threshold)
    p_fill = np.where(np.isnan(p_true), 0.5, p_true)  # a model without labels here: uninformative
    selected["s3_true_p"] = router.select_model(
        texts, method="s3", models=allowed, p=p_fill.tolist()
    ).model
    selected["random"] = None
    if metric is not None and metric not in router.task_metrics_:
        metric = None  # no training task is scored by it: the inputs alone
    calibrated = {
        meth: router.select_model(texts, method=meth, models=allowed, metric=metric)
        for meth in ("calibrated", "eb_select")
    }
    calibrated["eb_select_text"] = (
        calibrated["eb_select"]
        if metric is None  # the same call
        else router.select_model(texts, method="eb_select", models=allowed)
    )
    for meth, s in calibrated.items():
        selected[meth] = s.model
    if train_best is not None:
        selected["task_best_train"] = names[train_best]
    user = router.task_index_ < 0
    if user.any():  # the naive few-shot baseline: the best mean on the labelled inputs
        # A candidate without any label ranks below every labelled one (-1).
        mean = np.nan_to_num(_col_mean(router.labels_[user].astype(np.float64)), nan=-1.0)
        mean = np.where(candidate, np.round(mean, 12), -np.inf)
        selected["labels_best"] = names[int(np.lexsort((router.model_prior_, mean))[-1])]

    accuracy = {m: float(acc[col[s]]) for m, s in selected.items() if s is not None}
    accuracy["random"] = float(np.mean(acc[candidate]))
    cost = {m: float(costs[col[s]]) for m, s in selected.items() if s is not None}
    cost["random"] = float(np.mean(costs[candidate]))
    is_bma = {m: float(s == bma) for m, s in selected.items() if s is not None}
    is_bma["random"] = 1.0 / int(candidate.sum())

    for meth, how in (
        ("per_instance", "knn"),
        ("route_calibrated", "calibrated"),
        ("route_lexical", "lexical"),
    ):
        routes = router.route(texts, models=allowed, method=how)  # type: ignore[arg-type]
        chosen = np.array([col[m] for m in routes.models], dtype=np.intp)
        got = scores[np.arange(len(texts)), chosen]
        accuracy[meth] = float(np.nanmean(got)) if (~np.isnan(got)).any() else float("nan")
        cost[meth] = float(np.mean(costs[chosen]))
        is_bma[meth] = float(np.mean(chosen == col[bma]))
        selected[meth] = Counter(routes.models).most_common(1)[0][0]

    cand_cols = candidate
    ece_knn = expected_calibration_error(g[:, cand_cols], labels[:, cand_cols], ECE_BINS)
    g_task = router.predict_calibrated(texts, level="task")
    g_route = router.predict_calibrated(texts, level="route")
    ece = {m: ece_knn for m in ("s1", "s2", "s3", "s3_true_p", "per_instance")}
    ece_task = expected_calibration_error(g_task[:, cand_cols], labels[:, cand_cols], ECE_BINS)
    for meth, s in calibrated.items():
        if s.metric is None or s.familiar:
            ece[meth] = ece_task
        else:  # the metric's estimate: one predicted accuracy per model for every input
            est = np.asarray([s.estimate[m] for m in names], dtype=np.float64)
            tiled = np.broadcast_to(est, labels.shape)[:, cand_cols]
            ece[meth] = expected_calibration_error(tiled, labels[:, cand_cols], ECE_BINS)
    ece["route_calibrated"] = expected_calibration_error(
        g_route[:, cand_cols], labels[:, cand_cols], ECE_BINS
    )
    # The lexical route reports the same predicted correctness (its switches are
    # decisions on a residual, not probabilities).
    ece["route_lexical"] = ece["route_calibrated"]

    p_est = np.asarray([sel["s3"].p.get(m, np.nan) for m in names], dtype=np.float64)
    ok = candidate & ~np.isnan(p_true)
    return _Outcome(
        selected=selected,
        accuracy=accuracy,
        cost=cost,
        is_bma=is_bma,
        p_true=float(np.mean(p_true[ok])) if ok.any() else float("nan"),
        p_estimated=float(np.nanmean(p_est[ok]))
        if ok.any() and np.isfinite(p_est[ok]).any()
        else float("nan"),
        ece=ece,
    )


def _combine(task: str, n: int, outcomes: list[_Outcome]) -> TaskResult:
    """Average the outcomes of the repeats of one task."""
    methods = [m for m in METHODS if m in outcomes[0].accuracy]
    selected: dict[str, str | None] = {}
    for m in methods:
        picks = [o.selected.get(m) for o in outcomes]
        known = [p for p in picks if p is not None]
        selected[m] = Counter(known).most_common(1)[0][0] if known else None

    def mean(values: Iterable[float]) -> float:
        arr = np.asarray(list(values), dtype=np.float64)
        return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")

    def cost_mean(values: Iterable[float]) -> float | None:
        arr = np.asarray(list(values), dtype=np.float64)
        return None if np.isnan(arr).any() else float(arr.mean())

    return TaskResult(
        task=task,
        n=n,
        selected={m: selected[m] for m in methods},
        accuracy={m: mean(o.accuracy[m] for o in outcomes) for m in methods},
        cost={m: cost_mean(o.cost[m] for o in outcomes) for m in methods},
        is_bma={m: mean(o.is_bma[m] for o in outcomes) for m in methods},
        p_true=mean(o.p_true for o in outcomes),
        p_estimated=mean(o.p_estimated for o in outcomes),
        ece={m: mean(o.ece[m] for o in outcomes) for m in outcomes[0].ece},
    )


def _summarize(tasks: list[TaskResult]) -> dict[str, MethodSummary]:
    oracle = float(np.nanmean([t.accuracy["oracle"] for t in tasks]))
    out = {}
    for m in [m for m in METHODS if m in tasks[0].accuracy]:
        acc = float(np.nanmean([t.accuracy[m] for t in tasks]))
        costs = [t.cost[m] for t in tasks]
        eces = [t.ece[m] for t in tasks if m in t.ece]
        out[m] = MethodSummary(
            accuracy=acc,
            oracle_ratio=acc / oracle if oracle > 0 else float("nan"),
            bma_rate=float(np.mean([t.is_bma[m] for t in tasks])),
            mean_cost=None
            if any(c is None for c in costs)
            else float(np.mean([c for c in costs if c is not None])),
            ece=float(np.nanmean(eces)) if eces and np.isfinite(eces).any() else None,
        )
    return out


# --------------------------------------------------------------------------- cost-quality curve


def pareto_hull(cost: Sequence[float], quality: Sequence[float]) -> tuple[list[float], list[float]]:
    """The non-decreasing upper convex hull of (cost, quality) points, by increasing cost.

    Example:
        >>> pareto_hull([1, 2, 3, 4], [0.5, 0.4, 0.9, 0.8])
        ([1.0, 3.0], [0.5, 0.9])
    """
    pts = sorted(
        (
            (float(c), float(q))
            for c, q in zip(cost, quality, strict=True)
            if np.isfinite(c) and np.isfinite(q)
        ),
        key=lambda p: (p[0], -p[1]),
    )
    front: list[tuple[float, float]] = []
    for c, q in pts:
        if not front or q > front[-1][1]:
            front.append((c, q))
    hull: list[tuple[float, float]] = []
    for p in front:
        while len(hull) >= 2:
            (x0, y0), (x1, y1) = hull[-2], hull[-1]
            if (x1 - x0) * (p[1] - y0) - (y1 - y0) * (p[0] - x0) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return [p[0] for p in hull], [p[1] for p in hull]


def aiq(cost: Sequence[float], quality: Sequence[float], lo: float, hi: float) -> float:
    """Average quality over the cost range [lo, hi] of the hull (RouterBench's AIQ).

    Below the hull's cheapest point the quality is 0 (not reachable at that cost);
    above its most expensive point it stays at the best quality.

    Example:
        >>> round(aiq([0.0, 1.0], [0.5, 1.0], 0.0, 1.0), 3)
        0.75
    """
    hx, hy = pareto_hull(cost, quality)
    if not hx or not hi > lo:
        return float(hy[-1]) if hy else float("nan")
    grid = np.unique(np.concatenate([[lo, hi], [x for x in hx if lo <= x <= hi]]))
    # Exact integral of the piecewise-linear hull, with a step up at its first point.
    total = 0.0
    for a, b in itertools.pairwise(grid):
        if b <= hx[0]:
            continue
        ya = float(np.interp(a, hx, hy)) if a >= hx[0] else 0.0
        yb = float(np.interp(b, hx, hy))
        total += 0.5 * (ya + yb) * (b - a)
    return float(total / (hi - lo))


def _cost_curve(
    folds: list[tuple[Router, list[str], NDArray[np.float64], list[str] | None]],
    costs: NDArray[np.float64],
    models: list[str],
    task_acc: NDArray[np.float64],
) -> CostCurve:
    span = float(np.nanmax(costs) - np.nanmin(costs))
    weights = [w / span if span > 0 else w for w in COST_WEIGHT_GRID]
    col = {m: j for j, m in enumerate(models)}
    cost_map = dict(zip(models, costs.tolist(), strict=True))
    per_task = []
    for router, texts, scores, allowed in folds:
        # One search per task; the utility of each cost weight is recomputed exactly as
        # Router.route(cost_weight=w, method="calibrated") does (per_input_utility over
        # the same g). The curve is the calibrated route's: the lexical correction's
        # switches are not re-decided per weight.
        routes = router.route(
            texts, models=allowed, cost_weight=weights[-1], costs=cost_map, method="calibrated"
        )
        mask = None if allowed is None else np.isin(np.array(models), allowed)
        per_task.append((router, routes.proba, scores, mask, routes.models))
    cost_pts, qual_pts = [], []
    for i, w in enumerate(weights):
        tc, tq = [], []
        for router, g, scores, mask, last in per_task:
            utility = per_input_utility(
                g,
                router.model_prior_,
                tie_break=router.tie_break,
                costs=costs,
                cost_weight=w,
                allowed=mask,
            )
            chosen = np.argmax(utility, axis=1)
            if i == len(weights) - 1:
                assert [models[j] for j in chosen] == list(last)
            got = scores[np.arange(len(chosen)), chosen]
            tq.append(float(np.nanmean(got)) if (~np.isnan(got)).any() else np.nan)
            tc.append(float(np.mean(costs[chosen])))
        cost_pts.append(float(np.mean(tc)))
        qual_pts.append(float(np.nanmean(tq)))
    model_quality = {m: float(np.nanmean(task_acc[:, j])) for m, j in col.items()}
    model_cost = {m: float(costs[j]) for m, j in col.items()}
    lo, hi = float(np.nanmin(costs)), float(np.nanmax(costs))
    bma = models[int(per_task[0][0].bma_)]
    bma_q = model_quality[bma]
    reach = [c for c, q in zip(cost_pts, qual_pts, strict=True) if q >= bma_q]
    return CostCurve(
        bma_quality=bma_q,
        bma_cost=model_cost[bma],
        cost_at_bma_quality=min(reach) if reach else None,
        cost_weights=weights,
        cost=cost_pts,
        quality=qual_pts,
        model_cost=model_cost,
        model_quality=model_quality,
        aiq=aiq(cost_pts, qual_pts, lo, hi),
        models_aiq=aiq(list(model_cost.values()), list(model_quality.values()), lo, hi),
    )


# --------------------------------------------------------------------------- the harness


def evaluate(
    benchmark: Benchmark,
    *,
    embedder: Any = None,
    router_params: Mapping[str, Any] | None = None,
    protocol: str = "loto",
    labeled_per_task: Sequence[int] = (0,),
    repeats: int = 1,
    seed: int = 0,
    embeddings: NDArray[np.float32] | None = None,
    cache_dir: str | os.PathLike[str] | bool | None = None,
    cost_curve: bool = True,
    progress: ProgressCallback | None = None,
) -> EvaluationResult:
    """Evaluate routing on a benchmark with the leave-one-task-out protocol of the paper.

    Args:
        benchmark: the scored benchmark (two tasks or more).
        embedder: as :class:`~langchain_benchrouter.core.router.Router`'s ``embedder``
            (``None``: the offline MiniLM; ``"hashing"``; a model path; an Embedder).
        router_params: other :class:`Router` parameters (``k``, ``predictor``,
            ``bandwidth``, ...), applied to every fold's router.
        protocol: a key of :data:`PROTOCOLS` (``"loto"``).
        labeled_per_task: the few-shot sweep: for each value N, N random labelled inputs
            of the held-out task are added to the router's memory and excluded from
            scoring; every method (oracle included) is scored on the remaining inputs.
        repeats: random draws of the labelled inputs per N > 0 (N = 0 runs once).
        seed: seed of those draws (and of random protocols).
        embeddings: precomputed (n, d) embeddings of ``benchmark.texts`` made with
            ``embedder`` (skips embedding).
        cache_dir: embedding cache directory (``None``: the default; ``False``: no cache).
        cost_curve: compute the cost-quality curve when every model has a known cost.
        progress: ``progress(stage, done, total)`` callback (stages ``"embed"``,
            ``"evaluate"``, ``"cost curve"``).

    Returns:
        The :class:`EvaluationResult`.

    Raises:
        ValueError: unknown protocol, bad ``labeled_per_task``/``repeats``, or a task too
            small for the requested labelled inputs.
    """
    import time

    if protocol not in PROTOCOLS:
        msg = f"unknown protocol {protocol!r}; available: {', '.join(sorted(PROTOCOLS))}"
        raise ValueError(msg)
    shots = [int(n) for n in labeled_per_task] or [0]
    if any(n < 0 for n in shots):
        msg = f"labeled_per_task must be >= 0, got {shots}"
        raise ValueError(msg)
    if repeats < 1:
        msg = f"repeats must be >= 1, got {repeats}"
        raise ValueError(msg)
    params = dict(router_params or {})
    for reserved in ("embedder", "cache_dir"):
        if reserved in params:
            msg = f"router_params must not set {reserved!r}; pass it to evaluate() directly"
            raise ValueError(msg)
    timings: dict[str, float] = {}
    notify = progress or (lambda stage, done, total: None)

    start = time.perf_counter()
    base = _make_embedder(embedder, cache_dir)
    if embeddings is None:
        notify("embed", 0, 1)
        X = np.asarray(base.embed(benchmark.texts), dtype=np.float32)
        notify("embed", 1, 1)
    else:
        X = np.asarray(embeddings, dtype=np.float32)
        if X.shape[0] != benchmark.n_inputs or X.ndim != 2:
            msg = f"embeddings have shape {X.shape}, expected ({benchmark.n_inputs}, d)"
            raise ValueError(msg)
    lookup = _LookupEmbedder(base, benchmark.texts, X)
    timings["embed_s"] = time.perf_counter() - start

    folds = PROTOCOLS[protocol](benchmark, seed)
    models = list(benchmark.models)
    costs = np.array(
        [np.nan if (c := benchmark.model_cost(m)) is None else c for m in models], dtype=np.float64
    )
    scores_all = benchmark.scores.astype(np.float64)
    labels_all = benchmark.labels.astype(np.float64)
    max_shot = max(shots)

    groups: list[tuple[int, str, NDArray[np.intp]]] = []  # (fold, task, rows)
    for f, fold in enumerate(folds):
        for t in np.unique(benchmark.task_index[fold.test]):
            rows = fold.test[benchmark.task_index[fold.test] == t]
            if max_shot >= rows.size:
                msg = (
                    f"--labeled-per-task {max_shot} leaves no input to score in task "
                    f"{benchmark.task_names[int(t)]!r} ({rows.size} inputs)"
                )
                raise ValueError(msg)
            groups.append((f, benchmark.task_names[int(t)], rows))

    total = sum(1 if n == 0 else repeats for n in shots) * len(groups)
    done = 0
    outcomes: dict[int, list[tuple[str, int, list[_Outcome]]]] = {n: [] for n in shots}
    curve_inputs: list[tuple[Router, list[str], NDArray[np.float64], list[str] | None]] = []
    start = time.perf_counter()
    fit_s = 0.0
    routers: dict[int, Router] = {}
    task_metrics = benchmark.task_metrics
    for f, task, rows in groups:
        if f not in routers:
            routers.clear()
            t0 = time.perf_counter()
            train = benchmark.subset(folds[f].train)
            routers[f] = Router(**params, embedder=lookup, cache_dir=False).fit(
                train, embeddings=X[folds[f].train]
            )
            fit_s += time.perf_counter() - t0
        router = routers[f]
        texts = [benchmark.texts[i] for i in rows]
        same = folds[f].train[benchmark.task_index[folds[f].train] == benchmark.task_index[rows[0]]]
        train_acc = _col_mean(scores_all[same]) if same.size else None
        train_best = (
            None if train_acc is None or np.isnan(train_acc).all() else int(np.nanargmax(train_acc))
        )
        task_metric = task_metrics[int(benchmark.task_index[rows[0]])]
        for n in shots:
            runs = []
            for r in range(1 if n == 0 else repeats):
                if n == 0:
                    fold_router, keep = router, np.arange(rows.size)
                else:
                    rng = np.random.default_rng([seed, f, int(rows[0]), n, r])
                    perm = rng.permutation(rows.size)
                    lab, keep = np.sort(perm[:n]), np.sort(perm[n:])
                    fold_router = copy.copy(router).add_labeled(
                        [texts[i] for i in lab], scores_all[rows[lab]]
                    )
                runs.append(
                    _score_task(
                        fold_router,
                        [texts[i] for i in keep],
                        scores_all[rows[keep]],
                        labels_all[rows[keep]],
                        costs,
                        train_best,
                        task_metric,
                    )
                )
                done += 1
                notify("evaluate", done, total)
            outcomes[n].append((task, int(rows.size - n), runs))
        if cost_curve and not np.isnan(costs).any():
            acc = _col_mean(scores_all[rows])
            allowed = (
                None
                if (~np.isnan(acc)).all()
                else [m for m, a in zip(models, acc, strict=True) if not np.isnan(a)]
            )
            curve_inputs.append((router, texts, scores_all[rows], allowed))
    timings["fit_s"] = fit_s
    timings["evaluate_s"] = time.perf_counter() - start - fit_s

    sweeps = []
    per_input_oracle = _per_input_oracle(scores_all, [rows for _, _, rows in groups])
    for n in shots:
        tasks = [_combine(task, size, runs) for task, size, runs in outcomes[n]]
        sweeps.append(
            SweepResult(
                labeled_per_task=n,
                repeats=1 if n == 0 else repeats,
                methods=_summarize(tasks),
                tasks=tasks,
                diagnostics={
                    "predictor_accuracy": float(np.nanmean([t.p_true for t in tasks])),
                    "estimated_predictor_accuracy": float(
                        np.nanmean([t.p_estimated for t in tasks])
                    ),
                    "per_input_oracle": per_input_oracle if n == 0 else float("nan"),
                },
            )
        )

    curve = None
    if curve_inputs:
        start = time.perf_counter()
        notify("cost curve", 0, 1)
        task_acc = np.stack([_col_mean(s) for _, _, s, _ in curve_inputs])
        curve = _cost_curve(curve_inputs, costs, models, task_acc)
        notify("cost curve", 1, 1)
        timings["cost_curve_s"] = time.perf_counter() - start

    config = {
        "protocol": protocol,
        "n_tasks": benchmark.n_tasks,
        "n_inputs": benchmark.n_inputs,
        "n_models": benchmark.n_models,
        "router_params": {k: v for k, v in params.items()},
        "labeled_per_task": shots,
        "repeats": repeats,
        "seed": seed,
        "oracle_ratio": "ratio of means: method accuracy / oracle accuracy",
        "random": "expected accuracy of a uniformly random candidate model",
    }
    return EvaluationResult(
        dataset=benchmark.name,
        embedder=base.name,
        config=config,
        sweeps=sweeps,
        cost_curve=curve,
        timings=timings,
    )


def _per_input_oracle(scores: NDArray[np.float64], groups: list[NDArray[np.intp]]) -> float:
    """Mean over tasks of the mean over inputs of the best score any model got."""
    vals = []
    for rows in groups:
        s = scores[rows]
        has = ~np.isnan(s).all(axis=1)
        if has.any():
            vals.append(float(np.nanmax(s[has], axis=1).mean()))
    return float(np.mean(vals)) if vals else float("nan")
