"""What the evaluation harness reports: method names, per-task and per-method results, JSON.

The result types of :func:`~langchain_benchrouter.evaluation.harness.evaluate` and the
names of the methods it reports; ``harness`` re-exports all of them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
        >>> from langchain_benchrouter import Benchmark
        >>> from langchain_benchrouter.evaluation.harness import evaluate
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
