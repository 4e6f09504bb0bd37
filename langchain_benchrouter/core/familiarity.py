"""Is a new task one of the benchmark's tasks? A nearest-neighbour two-sample test.

The zero-shot switching margin of the calibrated task selection is tuned leave-one-task-out:
on tasks that merely *resemble* a benchmark task (gsm8k and agentverse-mgsm look alike, yet
different models win them). When the new task's inputs are indistinguishable from those of
the benchmark task they resemble, it is that task: the benchmark's measured accuracy on it
is the estimate, trusted without the margin. The distance to the benchmark cannot tell
these cases apart (a diverse task such as natural_qa is farther from itself than a
templated one is from its sibling); a two-sample test can.

Schilling's nearest-neighbour test (Schilling 1986, "Multivariate two-sample tests based
on nearest neighbors", JASA 81): pool the two samples, count how many of each point's k
nearest neighbours come from its own sample; under the null of one distribution that
share is what random labels give. The p-value is from label permutations on the fixed
neighbour graph. scikit-learn and SciPy have no such test, hence the ~30 lines here.

Example:
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(80, 4)), rng.normal(size=(80, 4))
    >>> same_distribution_pvalue(a, b) > 0.05
    True
    >>> same_distribution_pvalue(a, b + 2.0) < 0.05
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["FAMILIAR_PVALUE", "MAX_INPUTS", "MIN_INPUTS", "same_distribution_pvalue"]

#: A task is "the benchmark task it resembles" when the test's p-value is at least this.
FAMILIAR_PVALUE = 0.05
#: Fewer inputs than this on either side: the test is not run (p-value 0).
MIN_INPUTS = 20
#: Inputs drawn from each side (a seeded sample): bounds the cost of the test.
MAX_INPUTS = 300
#: Neighbours per point and label permutations of the null distribution.
NEIGHBORS = 5
PERMUTATIONS = 200


def same_distribution_pvalue(a: NDArray[Any], b: NDArray[Any], *, seed: int = 0) -> float:
    """P-value of "``a`` and ``b`` are samples of one distribution" (cosine kNN graph).

    Args:
        a: (n, d) embeddings of one sample (the new task's inputs).
        b: (m, d) embeddings of the other (a benchmark task's inputs).
        seed: seed of the subsampling and the permutations (fixed: same inputs, same answer).

    Returns:
        The permutation p-value in (0, 1]; 0.0 when either side has fewer than
        :data:`MIN_INPUTS` rows.
    """
    if len(a) < MIN_INPUTS or len(b) < MIN_INPUTS:
        return 0.0
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b), MAX_INPUTS)  # equal sizes: the null share does not depend on them
    pooled = np.vstack(
        [
            np.asarray(a, dtype=np.float64)[rng.choice(len(a), n, replace=False)],
            np.asarray(b, dtype=np.float64)[rng.choice(len(b), n, replace=False)],
        ]
    )
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    sim = pooled @ pooled.T
    np.fill_diagonal(sim, -np.inf)
    graph = np.argpartition(-sim, NEIGHBORS, axis=1)[:, :NEIGHBORS]
    labels = np.repeat([0, 1], n)

    def same_share(lab: NDArray[np.int64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = (lab[..., graph] == lab[..., :, None]).mean(axis=(-1, -2))
        return out

    observed = float(same_share(labels))
    null = same_share(np.stack([rng.permutation(labels) for _ in range(PERMUTATIONS)]))
    return float((1 + np.count_nonzero(null >= observed)) / (1 + PERMUTATIONS))
