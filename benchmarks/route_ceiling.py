"""Can per-input routing beat the per-task best model in distribution, for any (k, a, margin)?

On the harness's random 80/20 split, over several split seeds, the per-input route of the
router (``route_calibrated``: a beta-binomial kNN over the k nearest training inputs,
shrunk with strength a toward sum_t P(t | x) acc(t, m), the accuracy on the tasks the
input resembles) is scored on a wide grid of fixed (k, a) and of a margin: leave the
prior's own best model only when the kNN estimate beats it by more than the margin.
Every grid point's mean over seeds is compared with ``task_best_train``, the per-task best
model on the training labels (which is told each test input's true task).

The best grid point, chosen by looking at the test splits, is an optimistic ceiling of
this family of routes, not a method; the router tunes (k, a) inside the training rows.

    .venv/bin/python benchmarks/route_ceiling.py ../shared/data/llmrouter
    .venv/bin/python benchmarks/route_ceiling.py ../shared/data/mmlu_pro --seeds 5
    .venv/bin/python benchmarks/route_ceiling.py ../shared/data/llmrouter --embedder PATH

The embeddings come through the embedding cache (``$BENCHROUTER_CACHE_DIR``): the first
run of an embedder on a dataset embeds it (minutes).
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from _common import embedded_benchmark
from numpy.typing import NDArray

from langchain_benchrouter import Router
from langchain_benchrouter.core.calibration import shrunk_knn, task_posterior_prior
from langchain_benchrouter.core.embeddings import resolve_embedder
from langchain_benchrouter.core.scoring import per_input_utility
from langchain_benchrouter.evaluation.harness import random_split

K_GRID = (5, 10, 20, 50, 100, 200)
A_GRID = (1.0, 5.0, 20.0, 50.0, 200.0, 1000.0)
MARGINS = (0.0, 0.02, 0.05, 0.1)


def decide(g: NDArray[np.float64], model_prior: NDArray[np.float64]) -> NDArray[np.intp]:
    """Each input's model as ``Router.route`` picks it: argmax of g plus its tie-break."""
    utility = per_input_utility(g.astype(np.float32), model_prior, tie_break=0.01)
    choice: NDArray[np.intp] = np.argmax(utility, axis=1)
    return choice


def mean_over_tasks(
    scores: NDArray[np.float64], groups: list[NDArray[np.bool_]], choice: NDArray[np.intp]
) -> float:
    """Mean over tasks of the chosen model's score (the harness's task-mean accuracy)."""
    got = scores[np.arange(len(scores)), choice]
    return float(np.mean([np.nanmean(got[g]) for g in groups]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data")
    ap.add_argument("--seeds", type=int, default=5, help="split seeds 0 .. N-1 (default 5)")
    ap.add_argument("--embedder", default=None, help="a model path; default: the offline MiniLM")
    args = ap.parse_args()
    bench, X = embedded_benchmark(args.data, args.embedder)
    S = bench.scores.astype(np.float64)
    ti = bench.task_index
    cells = list(itertools.product(K_GRID, A_GRID, MARGINS))
    grid = np.zeros((args.seeds, len(cells)))
    task_best = np.zeros(args.seeds)
    tuned = np.zeros(args.seeds)
    for seed in range(args.seeds):
        fold = random_split(bench, seed)[0]
        router = Router(cache_dir=False).fit(bench.subset(fold.train), embeddings=X[fold.train])
        Q = X[fold.test]
        nb = router.index_.search(Q, max(K_GRID))
        # The user's own task (last column of the prior table) is empty here.
        posterior = np.hstack([router.task_classifier_.predict_proba(Q), np.zeros((len(Q), 1))])
        prior = task_posterior_prior(posterior, router.prior_table_, router.model_prior_)
        s, tt = S[fold.test], ti[fold.test]
        train_s, train_t = S[fold.train], ti[fold.train]
        groups = [tt == t for t in np.unique(tt)]
        best_of = {
            int(t): int(np.nanargmax(np.nanmean(train_s[train_t == t], axis=0))) for t in set(tt)
        }
        task_best[seed] = mean_over_tasks(s, groups, np.array([best_of[int(t)] for t in tt]))
        cal = router.calibration_
        g = shrunk_knn(router.labels_, nb.indices[:, : cal.route_k], prior, cal.route_prior)
        mp = router.model_prior_
        tuned[seed] = mean_over_tasks(s, groups, decide(g, mp))
        rows = np.arange(len(Q))
        own = decide(prior, mp)
        for c, (k, a, margin) in enumerate(cells):
            g = shrunk_knn(router.labels_, nb.indices[:, :k], prior, a)
            top = decide(g, mp)
            grid[seed, c] = mean_over_tasks(
                s, groups, np.where(g[rows, top] - g[rows, own] > margin, top, own)
            )
    name = resolve_embedder(args.embedder).name
    print(f"{bench.name}: {args.seeds} random splits; embedder {name}")
    print(f"task_best_train  {task_best.mean():.4f}  per seed {np.round(task_best, 4).tolist()}")
    diff = np.round(tuned - task_best, 4).tolist()
    print(f"route (tuned)    {tuned.mean():.4f}  minus task_best {diff}")
    order = np.argsort(-grid.mean(axis=0))
    print("best fixed (k, a, margin), chosen on the test splits:")
    for c in order[:5]:
        k, a, margin = cells[c]
        diff = grid[:, c] - task_best
        print(
            f"  k={k:<4d} a={a:<7g} margin={margin:<5g} {grid[:, c].mean():.4f}  "
            f"minus task_best {diff.mean():+.4f} (per seed {np.round(diff, 4).tolist()})"
        )
    share = float((grid.mean(axis=0) > task_best.mean()).mean())
    print(f"grid points above task_best_train on average: {share:.0%} of {len(cells)}")


if __name__ == "__main__":
    main()
