"""The ``new-model`` protocol: how well does a router route with a model known from a few inputs?

For each model of the benchmark in turn (leave one model out), on one seeded 80/20
split of the inputs: a router holding the other models is given ``budget`` evaluations
of the held-out model on inputs the library chooses (:meth:`Router.anchor_inputs`) and
adds it with :meth:`Router.add_model`. Reported per budget, as means over held-out
models:

- ``task_accuracy_mae``: mean over tasks of |estimated - true| per-task accuracy (the
  truth: the model's mean score on the task's training rows, what the full column says);
- ``auroc``: AUROC (scikit-learn) of the router's predicted correctness of the model on
  the test inputs; ``auroc_full``: the same for a router holding the model's full
  training column (its kNN predictor); ``auroc_rows``: AUROC of the latent model's
  prediction on the training rows it did not evaluate;
- ``routing_accuracy``: mean score of the model :meth:`Router.route` picks per test
  input, with the estimated column; ``routing_accuracy_full``: with the full column;
  ``routing_accuracy_without``: without the model;
- ``random``: the same keys with ``budget`` inputs drawn uniformly (mean over seeds, and
  ``*_se``: the standard error over seeds of the mean over models).

One router is fitted per split on all models; the router without a model is that router
with the model's column removed (the calibrated route's tuned hyper-parameters and the
lexical correction's vocabulary were tuned with every column: a mild leak, equal for all
three routers); the full and estimated routers grow it back through ``add_models`` /
``add_model``.

Example:
    >>> from langchain_benchrouter import Benchmark
    >>> bench = Benchmark.bundled().sample(40).select_models(
    ...     ["qwen2.5-7b-instruct", "gemma-2-9b-it", "llama-3.1-8b-instruct",
    ...      "mistral-7b-instruct-v0.3"])
    >>> out = evaluate_new_model(bench, budgets=[10], embedder="hashing", random_seeds=2,
    ...                          models=["gemma-2-9b-it"])
    >>> sorted(out["new_model"]["budgets"]["10"])[:3]
    ['auroc', 'auroc_full', 'auroc_ratio']
"""

from __future__ import annotations

import copy
import functools
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core.new_model import (
    LatentCorrectnessModel,
    add_estimated_model,
    fit_latent,
)
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark

__all__ = [
    "DEFAULT_BUDGETS",
    "METRICS",
    "evaluate_new_model",
    "plot_new_model",
    "save_new_model",
]

#: Budgets of ``benchrouter evaluate --protocol new-model`` without ``--budget``.
DEFAULT_BUDGETS: tuple[int, ...] = (10, 25, 50, 100)
#: The reported keys of a budget (and of its ``random`` entry).
METRICS: tuple[str, ...] = (
    "task_accuracy_mae",
    "auroc",
    "auroc_rows",
    "routing_accuracy",
)
_F = NDArray[np.float64]


def _drop_column(router: Router, j: int) -> Router:
    """A copy of ``router`` without model column ``j`` (nothing refitted but the index)."""
    out = copy.copy(router)
    name = router.model_names_[j]
    out.labels_ = np.delete(router.labels_, j, axis=1)
    out.task_accuracy_ = np.delete(router.task_accuracy_, j, axis=1)
    out.ref_p_ = np.delete(router.ref_p_, j, axis=1)
    out.model_names_ = [m for m in router.model_names_ if m != name]
    out.model_info_ = {m: dict(v) for m, v in router.model_info_.items() if m != name}
    lex = getattr(router, "lexical_", None)
    if lex is not None:
        lex = copy.deepcopy(lex)
        lex.coef_ = np.ascontiguousarray(np.delete(lex.coef_, j, axis=1))
        lex._coef64 = None
        out.lexical_ = lex
    out._finish_fit(fit_reference=False)
    return out


def _grown(router: Router) -> Router:
    """A copy that add_models/add_model may grow without touching ``router``."""
    out = copy.copy(router)
    out.model_info_ = {m: dict(v) for m, v in router.model_info_.items()}
    if getattr(router, "lexical_", None) is not None:
        out.lexical_ = copy.deepcopy(router.lexical_)
    return out


def _auroc(truth: _F, score: _F) -> float:
    from sklearn.metrics import roc_auc_score

    ok = ~np.isnan(truth)
    y = truth[ok] >= 0.5
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, score[ok]))


def _routing_accuracy(router: Router, texts: list[str], scores: _F, models: list[str]) -> float:
    """Mean true score of the routed model over the test inputs (missing cells skipped)."""
    chosen = router.route(texts)
    col = {m: i for i, m in enumerate(models)}
    got = scores[np.arange(len(texts)), [col[m] for m in chosen]]
    return float(np.nanmean(got))


def evaluate_new_model(
    benchmark: Benchmark,
    *,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    embedder: Any = None,
    router_params: Mapping[str, Any] | None = None,
    seed: int = 0,
    random_seeds: int = 10,
    models: Sequence[str] | None = None,
    strategy: str = "cluster",
    cache_dir: str | os.PathLike[str] | bool | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the ``new-model`` protocol (see the module docstring); returns the JSON dict.

    Args:
        benchmark: the scored benchmark (three models or more).
        budgets: anchor budgets (each >= 1).
        embedder: as :func:`~langchain_benchrouter.evaluation.harness.evaluate`.
        router_params: other :class:`Router` parameters.
        seed: seed of the 80/20 split and of the library's anchor choice.
        random_seeds: random anchor draws per budget and model (>= 1).
        models: the models to hold out (default: every model).
        strategy: the library's anchor strategy (``"cluster"``, ``"information"``).
        cache_dir: embedding cache directory (``None``: the default; ``False``: none).
        progress: ``progress(stage, done, total)`` callback.

    Returns:
        ``{"new_model": {"budgets": {"50": {...}}, "models": {...}, "config": {...}}}``.

    Raises:
        ValueError: bad budgets, seeds or models.
    """
    from langchain_benchrouter.evaluation.harness import (
        _LookupEmbedder,
        _make_embedder,
        _MemoSearch,
        random_split,
    )

    budgets = [int(b) for b in budgets]
    if not budgets or any(b < 1 for b in budgets):
        msg = f"budgets must be integers >= 1, got {budgets}"
        raise ValueError(msg)
    if random_seeds < 1:
        msg = f"random_seeds must be >= 1, got {random_seeds}"
        raise ValueError(msg)
    if benchmark.n_models < 3:
        msg = f"the new-model protocol needs three models or more, {benchmark.name!r} has 2"
        raise ValueError(msg)
    held = list(benchmark.models) if models is None else list(models)
    if unknown := [m for m in held if m not in benchmark.models]:
        msg = f"unknown model(s) {unknown}; the benchmark has {benchmark.models}"
        raise ValueError(msg)
    notify = progress or (lambda stage, done, total: None)
    params = dict(router_params or {})
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    base = _make_embedder(embedder, cache_dir)
    X = np.asarray(base.embed(benchmark.texts), dtype=np.float32)
    lookup = _LookupEmbedder(base, benchmark.texts, X)
    timings["embed_s"] = time.perf_counter() - t0

    fold = random_split(benchmark, seed)[0]
    train = benchmark.subset(fold.train)
    test_texts = [benchmark.texts[i] for i in fold.test]
    test_scores = benchmark.scores[fold.test].astype(np.float64)
    max_budget = max(budgets)
    if max_budget > train.n_inputs:
        msg = f"budget {max_budget} exceeds the {train.n_inputs} training inputs"
        raise ValueError(msg)
    t0 = time.perf_counter()
    full_router = Router(**params, embedder=lookup, cache_dir=False).fit(
        train, embeddings=X[fold.train]
    )
    timings["fit_s"] = time.perf_counter() - t0
    all_models = list(benchmark.models)
    # Every router below holds the same rows (add_models finds each training input; an
    # estimated column adds none), so one remembered search of the test inputs serves all.
    memo = _MemoSearch(full_router.index_)

    def shared(router: Router) -> Router:
        if router.embeddings_.shape[0] != full_router.embeddings_.shape[0]:
            msg = "a grown router holds other rows than the fitted one"
            raise RuntimeError(msg)
        router.index_ = memo  # type: ignore[assignment]
        return router

    per_model: dict[str, Any] = {}
    t0 = time.perf_counter()
    total = len(held) * len(budgets) * (1 + random_seeds)
    done = 0
    for h in held:
        j = all_models.index(h)
        others = [m for m in all_models if m != h]
        without = shared(_drop_column(full_router, j))
        with_full = shared(_grown(without).add_models(train, models=[h]))
        est = fit_latent(without)
        truth_rows = train.scores[:, j].astype(np.float64)
        truth_acc = with_full.task_accuracy_[:, -1]
        test_truth = test_scores[:, j]
        col_order = [*others, h]
        test_matrix = test_scores[:, [all_models.index(m) for m in col_order]]
        row: dict[str, Any] = {
            "auroc_full": _auroc(
                test_truth, with_full.predict_proba(test_texts)[:, -1].astype(np.float64)
            ),
            "routing_accuracy_full": _routing_accuracy(
                with_full, test_texts, test_matrix, col_order
            ),
            "routing_accuracy_without": _routing_accuracy(
                without, test_texts, test_matrix[:, :-1], others
            ),
            "budgets": {},
        }
        for budget in budgets:
            run = functools.partial(
                _one_run,
                without,
                est,
                h,
                budget,
                truth_rows=truth_rows,
                truth_acc=truth_acc,
                test_texts=test_texts,
                test_truth=test_truth,
                test_matrix=test_matrix,
                col_order=col_order,
                shared=shared,
            )
            library = run("library", seed, strategy)
            done += 1
            notify("evaluate", done, total)
            runs = []
            for r in range(random_seeds):
                runs.append(run("random", 1000 + r, "random"))
                done += 1
                notify("evaluate", done, total)
            row["budgets"][str(budget)] = {**library, "random_runs": runs}
        per_model[h] = row
    timings["evaluate_s"] = time.perf_counter() - t0

    summary: dict[str, Any] = {}
    for budget in budgets:
        key = str(budget)
        entry: dict[str, Any] = {}
        for metric in METRICS:
            entry[metric] = _mean([per_model[m]["budgets"][key][metric] for m in held])
        for metric in ("auroc_full", "routing_accuracy_full", "routing_accuracy_without"):
            entry[metric] = _mean([per_model[m][metric] for m in held])
        rand: dict[str, Any] = {}
        for metric in METRICS:
            # Per seed, the mean over models; then the mean and standard error over seeds.
            by_seed = [
                _mean([per_model[m]["budgets"][key]["random_runs"][r][metric] for m in held])
                for r in range(random_seeds)
            ]
            rand[metric] = _mean(by_seed)
            rand[f"{metric}_se"] = (
                float(np.nanstd(by_seed, ddof=1) / np.sqrt(random_seeds))
                if random_seeds > 1
                else None
            )
        rand["auroc_full"] = entry["auroc_full"]
        rand["routing_accuracy_full"] = entry["routing_accuracy_full"]
        rand["routing_accuracy_without"] = entry["routing_accuracy_without"]
        entry["random"] = rand
        entry["auroc_ratio"] = entry["auroc"] / entry["auroc_full"]
        entry["routing_gap_to_full"] = entry["routing_accuracy_full"] - entry["routing_accuracy"]
        summary[key] = entry
    config = {
        "protocol": "new-model",
        "dataset": benchmark.name,
        "n_inputs": benchmark.n_inputs,
        "n_models": benchmark.n_models,
        "n_tasks": benchmark.n_tasks,
        "held_out_models": held,
        "budgets": budgets,
        "seed": seed,
        "random_seeds": random_seeds,
        "strategy": strategy,
        "split": "random 80/20 (evaluation.harness.random_split)",
        "embedder": base.name,
        "router_params": params,
        "latent_model": LatentCorrectnessModel().get_params(),
    }
    return {
        "new_model": {
            "budgets": summary,
            "models": per_model,
            "config": config,
            "timings": timings,
        }
    }


def _mean(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def _one_run(
    without: Router,
    est: LatentCorrectnessModel,
    h: str,
    budget: int,
    kind: str,
    seed: int,
    strategy: str,
    truth_rows: _F,
    truth_acc: _F,
    test_texts: list[str],
    test_truth: _F,
    test_matrix: _F,
    col_order: list[str],
    shared: Callable[[Router], Router],
) -> dict[str, float]:
    """Add ``h`` from ``budget`` anchors to a copy of ``without``; score the estimate."""
    rows = est.choose_anchors(budget, strategy=strategy, seed=seed)  # type: ignore[arg-type]
    rows = rows[~np.isnan(truth_rows[rows])]  # a model with no result there: not evaluated
    router = _grown(without)
    add_estimated_model(
        router,
        h,
        {int(r): float(truth_rows[r]) for r in rows},
        budget=budget,
        estimator=est,
        _reference=False,  # route() does not read the reference pairs
    )
    shared(router)
    soft = router.labels_[:, -1].astype(np.float64)
    rest = np.setdiff1d(np.flatnonzero(~np.isnan(truth_rows)), rows)
    acc = router.task_accuracy_[:, -1]
    ok = ~np.isnan(truth_acc) & ~np.isnan(acc)
    return {
        "kind": kind,  # type: ignore[dict-item]
        "task_accuracy_mae": float(np.abs(acc[ok] - truth_acc[ok]).mean()),
        "auroc": _auroc(test_truth, router.predict_proba(test_texts)[:, -1].astype(np.float64)),
        "auroc_rows": _auroc(truth_rows[rest], soft[rest]),
        "routing_accuracy": _routing_accuracy(router, test_texts, test_matrix, col_order),
        "anchors": int(rows.size),
    }


def plot_new_model(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Error against budget (library vs random choice), AUROC and routing accuracy; a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = result["new_model"]
    keys = sorted(data["budgets"], key=int)
    b = [int(k) for k in keys]
    s = [data["budgets"][k] for k in keys]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = [
        ("task_accuracy_mae", "per-task accuracy MAE"),
        ("auroc", "AUROC of predicted correctness"),
        ("routing_accuracy", "routing accuracy (test split)"),
    ]
    for ax, (metric, title) in zip(axes, panels, strict=True):
        ax.plot(b, [e[metric] for e in s], "o-", label="library's anchors")
        ax.errorbar(
            b,
            [e["random"][metric] for e in s],
            yerr=[e["random"][f"{metric}_se"] or 0.0 for e in s],
            fmt="s--",
            capsize=3,
            label="random anchors (±SE)",
        )
        if metric == "auroc":
            ax.axhline(s[0]["auroc_full"], color="k", lw=1, label="full column (kNN)")
        if metric == "routing_accuracy":
            ax.axhline(s[0]["routing_accuracy_full"], color="k", lw=1, label="full column")
            ax.axhline(s[0]["routing_accuracy_without"], color="grey", ls=":", label="without")
        ax.set_xscale("log")
        ax.set_xticks(b, [str(v) for v in b])
        ax.set_xlabel("evaluations of the new model (budget)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    cfg = data["config"]
    fig.suptitle(
        f"A new model from a few evaluations: {cfg['dataset']} "
        f"({len(cfg['held_out_models'])} held-out models)",
        fontsize=11,
    )
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def save_new_model(result: Mapping[str, Any], path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the JSON and, next to it, the plot (same name, ``.png``)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(_json_safe(result), indent=1, allow_nan=False))
    tmp.replace(out)
    return out, plot_new_model(result, out.with_suffix(".png"))


def _json_safe(value: Any) -> Any:
    """NaN and infinities -> None, numpy scalars -> Python, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
