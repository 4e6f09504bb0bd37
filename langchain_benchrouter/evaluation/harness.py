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
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
from langchain_benchrouter.core.scoring import predictor_accuracy
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.evaluation._cost import _cost_curve, aiq, pareto_hull
from langchain_benchrouter.evaluation._protocols import (
    PROTOCOLS,
    Fold,
    leave_one_task_out,
    random_split,
)
from langchain_benchrouter.evaluation._results import (
    DEFAULT_METHOD,
    DEFAULT_ROUTE_METHOD,
    METHODS,
    PER_INPUT_METHODS,
    TASK_METHODS,
    CostCurve,
    EvaluationResult,
    MethodSummary,
    SweepResult,
    TaskResult,
)

__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_ROUTE_METHOD",
    "METHODS",
    "PER_INPUT_METHODS",
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
    "random_split",
]

#: Bins of the expected calibration error.
ECE_BINS = 10

ProgressCallback = Callable[[str, int, int], None]
"""``progress(stage, done, total)``, called as the harness advances."""


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


class _SearchMemo:
    """A memo of the last neighbour search of an index (``Router._search_memo``).

    Scoring one task asks the router six times for the neighbours of the same inputs
    (S1, S2, S3, predict_proba, S3 with true p, per-input routing); the search dominates
    the harness's run time, and the answer cannot change in between. The memo answers
    again only for the same index object (a router grown by ``add_labeled`` has another).
    """

    def __init__(self) -> None:
        self._index: Any = None
        self._key: tuple[Any, ...] | None = None
        self._value: Any = None

    def search(self, index: Any, queries: NDArray[np.float32], n_neighbors: int) -> Any:
        q = np.ascontiguousarray(queries)
        key = (q.shape, q.dtype.str, int(n_neighbors), hashlib.blake2b(q.tobytes()).digest())
        if index is not self._index or key != self._key:
            self._value = index.search(queries, n_neighbors)
            self._index, self._key = index, key
        return self._value


class _MemoSearch:
    """A neighbour index that remembers its last search (a :class:`_SearchMemo` of one index).

    For callers that put it in place of ``router.index_`` to share one search among
    routers that hold the same rows (``evaluation.new_model``).
    """

    def __init__(self, index: Any) -> None:
        self.index = index
        self._memo = _SearchMemo()

    def search(self, queries: NDArray[np.float32], n_neighbors: int) -> Any:
        return self._memo.search(self.index, queries, n_neighbors)

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
            if MEMO_SEARCH:
                routers[f]._search_memo = _SearchMemo()
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
