"""What the router decides: a :class:`Selection` for a task, :class:`Routes` for single inputs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

__all__ = ["Routes", "Selection"]


@dataclass(frozen=True)
class Selection:
    """The model chosen for a whole task, with the evidence behind it.

    Attributes:
        model: the chosen model.
        method: the score that chose it (``"s1"``, ``"s2"`` or ``"s3"``).
        s1: per-model S1 (average predicted correctness).
        s2: per-model S2 (fraction of inputs predicted correct).
        s3: per-model S3 (expected accuracy under predictor unreliability p); empty
            when the router has no reference pairs.
        p: per-model estimated accuracy of the correctness predictor on this task.
        u: the task descriptor (mean cosine distance to the nearest benchmark inputs).
        candidate: the argmax of the method's score before shrinkage toward BMA.
        bma: the best model on average over the benchmark.
        prob_beats_bma: P(candidate answers more inputs correctly than BMA), when computed.
        n_inputs: number of task inputs scored.
        why: a one-line human-readable explanation.
        estimate: per-model estimated accuracy on the task of the calibrated methods
            (``"calibrated"``, ``"eb_select"``); empty for the paper's scores.
        abstained: the task looked far from every benchmark task and the safe choice
            (the best model on average) was returned without comparing models.
        likely_task: the benchmark task the task's inputs resemble most (the router's task
            classifier), for the calibrated methods; ``None`` for the paper's scores.
        familiar: the task looked like ``likely_task`` itself, not merely a neighbour of it,
            so ``estimate`` is the benchmark's measured accuracy on ``likely_task`` and
            no margin was asked.
        metric: the task's metric the caller named (``select_model(metric=...)``), or
            ``None``.
        metric_tasks: how many benchmark tasks share that metric; when the task is not
            ``familiar``, ``estimate`` is what those tasks say (a random-effects estimate,
            :mod:`~langchain_benchrouter.core.metric_prior`).
        estimated_models: per model whose column is estimated from a few evaluations
            (:meth:`Router.add_model`): its ``budget``, ``anchors``, ``measured`` inputs and
            ``accuracy_sd`` (posterior standard deviation of its mean accuracy); empty
            when every column is measured.

    Example:
        >>> sel = router.select_model(["What is 2 + 2?", "Solve x^2 = 4."])  # doctest: +SKIP
        >>> sel.model, sel.why  # doctest: +SKIP
    """

    model: str
    method: str
    s1: dict[str, float]
    s2: dict[str, float]
    s3: dict[str, float]
    p: dict[str, float]
    u: float
    candidate: str
    bma: str
    prob_beats_bma: float | None
    n_inputs: int
    why: str
    estimate: dict[str, float] = field(default_factory=dict)
    abstained: bool = False
    likely_task: str | None = None
    familiar: bool = False
    metric: str | None = None
    metric_tasks: int = 0
    estimated_models: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def scores(self) -> dict[str, float]:
        """The per-model scores of the method that chose (S1, S2, S3 or ``estimate``)."""
        paper = {"s1": self.s1, "s2": self.s2, "s3": self.s3}
        return paper.get(self.method, self.estimate)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the whole decision."""
        return {
            "model": self.model,
            "method": self.method,
            "s1": dict(self.s1),
            "s2": dict(self.s2),
            "s3": dict(self.s3),
            "p": dict(self.p),
            "u": self.u,
            "candidate": self.candidate,
            "bma": self.bma,
            "prob_beats_bma": self.prob_beats_bma,
            "n_inputs": self.n_inputs,
            "why": self.why,
            "estimate": dict(self.estimate),
            "abstained": self.abstained,
            "likely_task": self.likely_task,
            "familiar": self.familiar,
            "metric": self.metric,
            "metric_tasks": self.metric_tasks,
            "estimated_models": {m: dict(v) for m, v in self.estimated_models.items()},
        }


@dataclass(frozen=True)
class Routes(Sequence[str]):
    """Per-input routing decisions; behaves as the sequence of chosen model names.

    Attributes:
        models: the chosen model of each input.
        model_names: the router's models, the column order of ``proba``.
        proba: (n, M) predicted correctness of each model on each input.
        distance: (n,) mean cosine distance of each input to its k nearest benchmark inputs
            (how familiar the input is: 0 = seen before, ~1 = unrelated).
        utility: (n, M) the quantity maximized (proba + tie-break - cost term; for an
            input the lexical correction switched, the lexical estimate's), whose order is
            the fallback order of :meth:`ranking`.
        tasks: the benchmark task each input most resembles (the router's task classifier;
            ``"(labelled inputs)"`` for the user's own labelled inputs), or empty.
        task_proba: (n,) the probability of that task, or ``None``.
        lexical: (n,) whether the lexical correction changed the calibrated choice of
            each input (``method="lexical"`` with a fitted correction), or ``None``.

    Example:
        >>> routes = router.route(["What is 2 + 2?"])  # doctest: +SKIP
        >>> routes[0], routes.decision(0)["proba"]  # doctest: +SKIP
    """

    models: list[str]
    model_names: list[str]
    proba: NDArray[np.float32]
    distance: NDArray[np.float32]
    utility: NDArray[np.float64] = field(repr=False)
    tasks: list[str] = field(default_factory=list)
    task_proba: NDArray[np.float32] | None = field(default=None, repr=False)
    lexical: NDArray[np.bool_] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.models)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        return self.models[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self.models)

    def ranking(self, i: int) -> list[str]:
        """Models for input ``i``, best first (for fallbacks)."""
        order = np.argsort(-self.utility[i], kind="stable")
        return [self.model_names[j] for j in order if np.isfinite(self.utility[i, j])]

    def decision(self, i: int) -> dict[str, Any]:
        """A JSON-safe dict of input ``i``'s decision (for traces and response metadata)."""
        return {
            "model": self.models[i],
            "mode": "per_input",
            "proba": {
                m: round(float(v), 6) for m, v in zip(self.model_names, self.proba[i], strict=True)
            },
            "distance": round(float(self.distance[i]), 6),
            **(
                {"task": self.tasks[i], "task_proba": round(float(self.task_proba[i]), 6)}
                if self.tasks and self.task_proba is not None
                else {}
            ),
            **({} if self.lexical is None else {"lexical_switch": bool(self.lexical[i])}),
        }
