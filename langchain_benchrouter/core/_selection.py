"""Task selection internals of :class:`~langchain_benchrouter.core.router.Router`.

:meth:`Router.select_model` delegates here: the paper's S1/S2/S3 scores with the
shrinkage toward the best model on average (:func:`select`) and the calibrated methods
``calibrated`` / ``eb_select`` (:func:`_select_calibrated`). Functions take the fitted
router and read its fitted state; none of them changes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core.calibration import beta_binomial_mean, select_with_margin
from langchain_benchrouter.core.decisions import Selection
from langchain_benchrouter.core.familiarity import (
    FAMILIAR_PVALUE,
    MAX_INPUTS,
    same_distribution_pvalue,
)
from langchain_benchrouter.core.index import Neighbors
from langchain_benchrouter.core.metric_prior import (
    MetricEstimate,
    metric_estimate,
    metric_posterior,
)
from langchain_benchrouter.core.scoring import (
    gaussian_kernel_smooth,
    prob_beats,
    s1,
    s2,
    s3,
    task_descriptor,
)
from langchain_benchrouter.errors import RoutingInputError, UnknownModelError

if TYPE_CHECKING:
    from langchain_benchrouter.core.router import Method, Router


def select(
    router: Router,
    task_inputs: Sequence[str],
    method: Method,
    models: Sequence[str] | None,
    p: Mapping[str, float] | Sequence[float] | None,
    metric: str | None,
) -> Selection:
    """The body of :meth:`Router.select_model` (see there), for a fitted router."""
    if method not in ("s1", "s2", "s3", "calibrated", "eb_select"):
        msg = f"unknown method {method!r}; use 'eb_select', 'calibrated', 's1', 's2' or 's3'"
        raise RoutingInputError(msg)
    if metric is not None:
        check_metric(router, metric, method)
    allowed = router._allowed(models)
    Q, nb = router._search(task_inputs, "task_inputs")
    g = router._proba(Q, nb)
    n = g.shape[0]
    u = task_descriptor(nb.distances[:, : router.descriptor_neighbors])
    sc1, sc2 = s1(g), s2(g, router.correctness_threshold)
    names = router.model_names_
    p_arr: NDArray[np.float64] | None
    if p is not None:
        p_arr = p_override(router, p)
    elif len(router.ref_u_):
        p_arr = gaussian_kernel_smooth(u, router.ref_u_, router.ref_p_, router.bandwidth)
        # A model without any reference value: trust its predictor at the mean reliability.
        p_arr = np.where(
            np.isnan(p_arr), np.nanmean(p_arr) if np.isfinite(p_arr).any() else 0.5, p_arr
        )
    else:
        p_arr = None
    sc3 = s3(sc2, p_arr) if p_arr is not None else None
    paper = {
        "s1": _as_dict(names, sc1),
        "s2": _as_dict(names, sc2),
        "s3": _as_dict(names, sc3),
        "p": _as_dict(names, p_arr),
    }
    if method in ("calibrated", "eb_select"):
        # The paper's scores ride along in the Selection, for comparison and traces.
        return _select_calibrated(router, Q, nb, method, allowed, paper, metric)
    if method == "s3" and p_arr is None:
        msg = (
            "S3 needs reference pairs from at least two benchmark tasks; this router was "
            "fitted on one task. Use method='s2' or 's1', or fit on more tasks."
        )
        raise RoutingInputError(msg)
    score = {"s1": sc1, "s2": sc2, "s3": sc3}[method]
    assert score is not None
    cand = router._argmax(score, allowed)
    bma = router._bma_within(allowed)
    chosen, prob = cand, None
    why = f"{method.upper()} ranks {names[cand]} first ({score[cand]:.3f})"
    if method == "s3" and router.shrink_threshold is not None and cand != bma:
        assert p_arr is not None
        n_plus = np.rint(sc2 * n).astype(int)
        prob = prob_beats(
            int(n_plus[cand]), float(p_arr[cand]), int(n_plus[bma]), float(p_arr[bma]), n
        )
        if prob < router.shrink_threshold:
            chosen = bma
            why += (
                f", but P(it beats {names[bma]}) = {prob:.2f} < {router.shrink_threshold}:"
                f" keeping the best model on average"
            )
        else:
            why += f"; P(it beats the best model on average {names[bma]}) = {prob:.2f}"
    elif cand == bma:
        why += "; it is also the best model on average"
    why += f" (u = {u:.3f} over {n} inputs)"

    return _selection(names, method, paper, u, chosen, cand, bma, n, why, prob_beats_bma=prob)


def _select_calibrated(
    router: Router,
    Q: np.ndarray,
    nb: Neighbors,
    method: Method,
    allowed: NDArray[np.bool_] | None,
    paper: dict[str, dict[str, float]],
    metric: str | None = None,
) -> Selection:
    """``calibrated`` / ``eb_select``: see :meth:`select_model`."""
    cal = router.calibration_
    names = router.model_names_
    n = Q.shape[0]
    u = task_descriptor(nb.distances[:, : router.descriptor_neighbors])
    bma = router._bma_within(allowed)
    labeled = router.task_index_ < 0
    n_labeled = int(labeled.sum())
    # Which benchmark task does the task resemble, and is it that task itself? The
    # margin was tuned leave-one-task-out, for tasks that merely resemble the
    # benchmark's; when a two-sample test cannot tell the task's inputs from those of
    # the benchmark task it resembles, the benchmark's measured accuracy on that task
    # is the estimate (hundreds of labels per model, not kNN averages), trusted
    # without a margin.
    like = int(np.argmax(router.task_classifier_.predict_proba(Q).mean(axis=0)))
    rows = np.flatnonzero(router.task_index_ == like)
    if rows.size > MAX_INPUTS:  # a seeded sample: no copy of a large task's rows
        rows = np.sort(np.random.default_rng(0).choice(rows, MAX_INPUTS, replace=False))
    pvalue = same_distribution_pvalue(Q, np.asarray(router.embeddings_[rows], np.float32))
    familiar = bool(pvalue >= FAMILIAR_PVALUE)
    by_metric: MetricEstimate | None = None
    if familiar:
        own = router.task_accuracy_[like]
        est = np.where(np.isnan(own), router.model_prior_, own)
        # A model never scored on that task has only its overall mean as estimate:
        # no evidence to prefer it over a model the task has measured.
        scored = ~np.isnan(own) if allowed is None else allowed & ~np.isnan(own)
        if scored.any():
            allowed = scored
    elif metric is not None:
        by_metric = metric_estimate(
            router.task_accuracy_, router.task_metrics_, metric, router.bma_
        )
        est = by_metric.accuracy
    else:
        est = router._calibrated_proba(nb, cal.task_k, cal.task_prior).mean(axis=0)
    # No tuned margin for the metric's estimate: its shrinkage is the guard, and a
    # margin cannot be tuned leave-one-task-out when a metric has two tasks (the
    # inner folds of one hold no other task of its metric).
    delta = 0.0 if familiar or by_metric is not None else cal.delta
    if method == "eb_select" and n_labeled:
        y = router.labels_[labeled].astype(np.float64)
        if by_metric is not None:
            # The metric's prior has a variance of its own: a conjugate update, nothing
            # tuned (and no margin, as without labels).
            est = metric_posterior(by_metric, y)
        else:
            est = beta_binomial_mean(
                np.nansum(y, axis=0), (~np.isnan(y)).sum(axis=0).astype(np.float64), est, cal.a0
            )
            delta = cal.delta_labeled
    # Far from every benchmark task the inputs' kNN estimate is not to be trusted;
    # the metric's estimate does not rest on the inputs' neighbours.
    abstain = bool(
        n_labeled == 0
        and by_metric is None
        and len(router.ref_u_)
        and u > float(np.max(router.ref_u_))
    )
    if abstain:
        chosen = cand = bma
        why = (
            f"{method}: the task is farther from the benchmark (u = {u:.3f}) than any "
            f"benchmark task was from the others; abstaining: {names[bma]}, the best model "
            "on average"
        )
    else:
        chosen, cand = select_with_margin(est, bma, delta, allowed)
        why = f"{method} ranks {names[cand]} first ({est[cand]:.3f})"
        if cand == bma:
            why += "; it is also the best model on average"
        elif chosen == bma and delta >= 1.0:
            why += (
                f", but on the benchmark's own tasks no such zero-shot switch away from the "
                f"best model on average paid off (tuned margin {delta:g}): keeping "
                f"{names[bma]} ({est[bma]:.3f})"
            )
        elif chosen == bma:
            why += (
                f", not more than {delta:g} above {names[bma]} ({est[bma]:.3f}):"
                " keeping the best model on average"
            )
        else:
            above = f"more than {delta:g} above" if delta > 0 else "above"
            why += f", {above} the best model on average {names[bma]} ({est[bma]:.3f})"
        if method == "eb_select" and n_labeled:
            how = (
                "by the conjugate normal update of the metric's estimate"
                if by_metric is not None
                else f"with prior strength {cal.a0:g}"
            )
            why += f" ({n_labeled} labelled inputs pooled {how})"
        elif familiar:
            why += (
                f"; its inputs look like those of benchmark task {router.task_names_[like]!r}"
                f" (two-sample p = {pvalue:.2f}), so the benchmark's accuracy on that task"
                " is the estimate and no margin is asked"
            )
        if by_metric is not None and not familiar:
            why += (
                f"; the estimate is what the {by_metric.n_tasks} benchmark task(s) scored by"
                f" {metric!r} say (weight {by_metric.weight[cand]:.2f} against the benchmark"
                " mean)"
            )
        why += f" (u = {u:.3f} over {n} inputs)"
    return _selection(
        names,
        method,
        paper,
        u,
        chosen,
        cand,
        bma,
        n,
        why,
        prob_beats_bma=None,
        estimate={m: float(v) for m, v in zip(names, est, strict=True)},
        abstained=abstain,
        likely_task=router.task_names_[like],
        familiar=familiar,
        metric=metric,
        metric_tasks=sum(m == metric for m in router.task_metrics_) if metric else 0,
    )


def check_metric(router: Router, metric: object, method: str) -> None:
    """A metric must be one the benchmark's tasks are scored by, for a calibrated method."""
    if not isinstance(metric, str) or not metric.strip():
        msg = f"metric must be a non-empty string, got {metric!r}"
        raise RoutingInputError(msg)
    if method not in ("calibrated", "eb_select"):
        msg = (
            f"metric= applies to the calibrated methods ('eb_select', 'calibrated'), not {method!r}"
        )
        raise RoutingInputError(msg)
    if metric not in router.task_metrics_:
        known = router.metrics
        where = f"known metrics: {known}" if known else "this router's benchmark names none"
        msg = (
            f"no benchmark task is scored by metric {metric!r} ({where}); pass metric=None"
            " to select from the inputs alone"
        )
        raise RoutingInputError(msg)


def p_override(router: Router, p: Mapping[str, float] | Sequence[float]) -> NDArray[np.float64]:
    """``p=`` of :meth:`Router.select_model` as an array in the router's model order."""
    if isinstance(p, Mapping):
        unknown = [m for m in p if m not in router.model_names_]
        if unknown:
            msg = f"p names unknown model(s) {unknown}"
            raise UnknownModelError(msg)
        arr = np.array([p.get(m, np.nan) for m in router.model_names_], dtype=np.float64)
    else:
        arr = np.asarray(p, dtype=np.float64)
    if (
        arr.shape != (len(router.model_names_),)
        or np.isnan(arr).any()
        or ((arr < 0) | (arr > 1)).any()
    ):
        msg = f"p must give a value in [0, 1] for each of the {len(router.model_names_)} models"
        raise RoutingInputError(msg)
    return arr


def _selection(
    names: Sequence[str],
    method: str,
    paper: dict[str, dict[str, float]],
    u: float,
    chosen: int,
    cand: int,
    bma: int,
    n: int,
    why: str,
    **extra: Any,
) -> Selection:
    """The :class:`Selection` of both paths: the choice, the paper's scores and ``extra``."""
    return Selection(
        model=names[chosen],
        method=method,
        s1=paper["s1"],
        s2=paper["s2"],
        s3=paper["s3"],
        p=paper["p"],
        u=u,
        candidate=names[cand],
        bma=names[bma],
        n_inputs=n,
        why=why,
        **extra,
    )


def _as_dict(names: Sequence[str], arr: np.ndarray | None) -> dict[str, float]:
    """Per-model values as a plain dict (empty when the score is unavailable)."""
    return {} if arr is None else {m: float(v) for m, v in zip(names, arr, strict=True)}
