"""The cost-quality curve of cost-aware per-input routing (RouterBench's AIQ).

``harness`` re-exports :func:`pareto_hull` and :func:`aiq`; :func:`_cost_curve` is what
:func:`~langchain_benchrouter.evaluation.harness.evaluate` measures with them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core.scoring import per_input_utility
from langchain_benchrouter.evaluation._results import CostCurve

if TYPE_CHECKING:
    from langchain_benchrouter.core.router import Router

#: Cost weights of the cost-quality curve, as multiples of 1 / (max cost - min cost).
COST_WEIGHT_GRID: tuple[float, ...] = (0.0, *np.geomspace(1e-3, 1e2, 31).tolist())


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
