"""With N labelled inputs of a new task: does a prior from the benchmark's task profiles help?

Leave-one-task-out, N labelled inputs of the held-out task t (10 seeded draws; the rest of
t scores the choice). The estimate of each model's accuracy on t is the beta-binomial
posterior (successes + a0 * prior) / (labelled + a0), and the model is kept only if it
beats the best model on average (BMA) by more than a margin delta. The prior is a mixture
of the other tasks' accuracy vectors ("task profiles"), each weighted by the likelihood of
the N labels under it raised to a temperature tau (tau = 0: the plain mean profile):

    w_d  proportional to  prod_m Binomial(successes_m | N, acc(d, m)) ** tau

Three numbers (mean over tasks of the chosen model's true accuracy):

* ``best fixed``: the best (tau, a0, delta), chosen by looking at the held-out tasks (an
  optimistic ceiling, not a method);
* ``nested``: (tau, a0, delta) chosen by the same simulation on the other tasks, as the
  router tunes its own a0 and labelled margin;
* ``nested 1-SE``: the same with the one-standard-error rule.

Labels only, no embeddings: it runs in seconds.

    .venv/bin/python benchmarks/few_shot_ceiling.py ../shared/data/llmrouter
    .venv/bin/python benchmarks/few_shot_ceiling.py ../shared/data/mmlu_pro --labeled 20
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter import Benchmark
from langchain_benchrouter.core.calibration import one_standard_error_choice

TAUS = (0.0, 0.1, 0.3, 1.0)
A0S = (1.0, 3.0, 10.0, 30.0, 100.0)
DELTAS = (0.0, 0.02, 0.05, 1.0)
CELLS = list(itertools.product(TAUS, A0S, DELTAS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data")
    ap.add_argument("--labeled", type=int, default=20, help="labelled inputs per task (20)")
    ap.add_argument("--repeats", type=int, default=10, help="draws per task (10)")
    args = ap.parse_args()
    bench = Benchmark.load(args.data)
    S = bench.scores.astype(np.float64)
    L = bench.labels.astype(np.float64)
    ti = bench.task_index
    T = bench.n_tasks
    A = np.nan_to_num(bench.task_accuracy())
    rows_of = [np.flatnonzero(ti == t) for t in range(T)]

    def cell_scores(t: int, excluded: frozenset[int], stream: int) -> NDArray[np.float64]:
        """Mean true accuracy on task t of every (tau, a0, delta), over the draws."""
        other = [d for d in range(T) if d != t and d not in excluded]
        profiles = A[other]
        log_p, log_q = (
            np.log(np.clip(profiles, 0.01, 0.99)),
            np.log(np.clip(1 - profiles, 0.01, 0.99)),
        )
        bma = int(np.argmax(profiles.mean(axis=0)))
        out = np.zeros(len(CELLS))
        for r in range(args.repeats):
            perm = np.random.default_rng([stream, t, r]).permutation(rows_of[t].size)
            lab, keep = rows_of[t][perm[: args.labeled]], rows_of[t][perm[args.labeled :]]
            y = L[lab]
            succ, n = np.nansum(y, axis=0), (~np.isnan(y)).sum(axis=0)
            true = np.nanmean(S[keep], axis=0)
            loglik = (succ * log_p + (n - succ) * log_q).sum(axis=1)
            for i, (tau, a0, delta) in enumerate(CELLS):
                w = np.exp(tau * (loglik - loglik.max()))
                post = (succ + a0 * (w / w.sum()) @ profiles) / (n + a0)
                c = int(np.argmax(post))
                out[i] += true[c if post[c] - post[bma] > delta else bma] / args.repeats
        return out

    fixed = np.zeros(len(CELLS))
    nested = {"argmax": 0.0, "1se": 0.0}
    for t in range(T):
        outer = cell_scores(t, frozenset(), 0)
        fixed += outer / T
        inner = np.array([cell_scores(d, frozenset({t}), 1) for d in range(T) if d != t])
        mean = np.round(inner.mean(axis=0), 12)
        nested["argmax"] += outer[int(len(mean) - 1 - np.argmax(mean[::-1]))] / T
        nested["1se"] += outer[one_standard_error_choice(inner)] / T
    best = int(np.argmax(fixed))
    tau, a0, delta = CELLS[best]
    print(f"{bench.name}: N = {args.labeled}, {args.repeats} draws per task")
    print(f"best fixed {fixed[best]:.4f} (tau {tau:g}, a0 {a0:g}, delta {delta:g})")
    for tau_ in TAUS:
        at = max(fixed[i] for i, c in enumerate(CELLS) if c[0] == tau_)
        print(f"  best fixed at tau {tau_:g}: {at:.4f}")
    print(f"nested {nested['argmax']:.4f}, nested 1-SE {nested['1se']:.4f}")


if __name__ == "__main__":
    main()
