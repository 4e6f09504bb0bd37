"""What an experiment's report holds: per-arm statistics, comparisons, labelled feedback.

Plain frozen dataclasses, computed by
:func:`~langchain_benchrouter.experiments.report.compute_report` and
:func:`~langchain_benchrouter.experiments.report.feedback_to_labels`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ArmStats", "Comparison", "ExperimentReport", "LabeledFeedback"]


@dataclass(frozen=True)
class ArmStats:
    """What happened in one arm.

    Attributes:
        arm: the arm's name.
        exposures: calls served (including failed ones).
        errors: calls whose arm raised.
        feedback_count: exposures with a score for the metric.
        mean_score: mean of those scores (``None`` without any).
        ci_low: lower end of the confidence interval of the mean (``None`` below 2 scores).
        ci_high: upper end.
        std_score: sample standard deviation of the scores (``None`` below 2 scores).
        models: exposures per model (``"?"`` where unknown).
        total_cost: USD summed over the exposures with a known cost (``None``: none known).
        mean_cost: USD per exposure with a known cost.
        cost_known: exposures with a known cost.
        mean_latency_s: mean latency in seconds.
        p95_latency_s: 95th percentile of the latency.
        mean_tokens: mean total tokens over exposures that report usage.

    Example:
        >>> report.arms[0].mean_score  # doctest: +SKIP
        0.71
    """

    arm: str
    exposures: int
    errors: int
    feedback_count: int
    mean_score: float | None
    ci_low: float | None
    ci_high: float | None
    std_score: float | None
    models: dict[str, int]
    total_cost: float | None
    mean_cost: float | None
    cost_known: int
    mean_latency_s: float | None
    p95_latency_s: float | None
    mean_tokens: float | None


@dataclass(frozen=True)
class Comparison:
    """One arm against the baseline arm.

    Attributes:
        arm: the arm.
        baseline: the baseline arm.
        difference: ``mean_score(arm) - mean_score(baseline)``.
        test: ``"two_proportion_z"``, ``"welch_t"`` or ``"none"`` (too few scores).
        statistic: z or t.
        p_value: two-sided p-value.
        p_adjusted: Bonferroni-adjusted over the report's comparisons.
        significant: ``p_adjusted < alpha``.

    Example:
        >>> report.comparisons[0].significant  # doctest: +SKIP
        True
    """

    arm: str
    baseline: str
    difference: float | None
    test: str
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool


@dataclass(frozen=True)
class ExperimentReport:
    """The report of one experiment.

    Attributes:
        experiment: the experiment's name.
        metric: the feedback metric reported.
        alpha: significance level (the intervals are ``1 - alpha`` intervals).
        baseline: the arm the others are compared with.
        arms: per-arm statistics, in order of first exposure.
        comparisons: each other arm against the baseline.

    Example:
        >>> report = compute_report("ab.sqlite", "router-vs-small")  # doctest: +SKIP
        >>> report.to_dict()["arms"][0]["arm"]  # doctest: +SKIP
        'router'
    """

    experiment: str
    metric: str
    alpha: float
    baseline: str
    arms: list[ArmStats]
    comparisons: list[Comparison] = field(default_factory=list)

    def arm(self, name: str) -> ArmStats:
        """The statistics of one arm."""
        for a in self.arms:
            if a.arm == name:
                return a
        msg = f"no arm {name!r} in experiment {self.experiment!r}"
        raise KeyError(msg)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the report."""
        out: dict[str, Any] = _json_safe(asdict(self))
        return out


@dataclass(frozen=True)
class LabeledFeedback:
    """Feedback of an experiment as labelled inputs for ``Router.add_labeled``.

    Attributes:
        inputs: the texts.
        model_scores: per model, one score per input (``None`` where that model did not
            answer that input); several scores of one model on one text are averaged.
        skipped: scored runs left out (text unknown, model unknown or unknown to the router).

    Example:
        >>> labels = feedback_to_labels("ab.sqlite", "exp", prompts)  # doctest: +SKIP
        >>> router.add_labeled(labels.inputs, labels.model_scores)  # doctest: +SKIP
    """

    inputs: list[str]
    model_scores: dict[str, list[float | None]]
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.inputs)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
