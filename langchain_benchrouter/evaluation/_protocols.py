"""Evaluation protocols: how a benchmark is split into folds of train and test rows.

``harness`` re-exports :class:`Fold`, :func:`leave_one_task_out`, :func:`random_split`
and :data:`PROTOCOLS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.data.benchmark import Benchmark


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
