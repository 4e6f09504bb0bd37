"""Figures of an evaluation result (matplotlib, PNG).

matplotlib is imported lazily with the non-interactive Agg backend, so importing this
module costs nothing and works without a display.

Example:
    >>> from langchain_benchrouter.evaluation.harness import evaluate  # doctest: +SKIP
    >>> paths = write_plots(evaluate(bench), "figures/")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from langchain_benchrouter.evaluation.harness import METHODS, EvaluationResult, pareto_hull

__all__ = ["write_plots"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - matplotlib is in the plots extra
        msg = "plots need matplotlib: pip install 'langchain-benchrouter[plots]'"
        raise ImportError(msg) from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def write_plots(
    result: EvaluationResult, directory: str | os.PathLike[str], prefix: str = ""
) -> list[Path]:
    """Write the evaluation's figures as PNG files into ``directory``.

    Figures: accuracy per method; per-task accuracy of S3 vs BMA vs oracle; accuracy vs
    labelled inputs per task (when several values were evaluated); the cost-quality curve
    of cost-aware per-input routing with its AIQ (when costs are known).

    Args:
        result: what :func:`~langchain_benchrouter.evaluation.harness.evaluate` returned.
        directory: output directory (created).
        prefix: prepended to each file name (e.g. the dataset's name and ``"_"``).

    Returns:
        The paths written.
    """
    plt = _pyplot()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    title = f"{result.dataset} ({result.embedder}, {result.config.get('protocol', 'loto')})"

    def save(fig: Any, name: str) -> None:
        path = out / f"{prefix}{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    # 1. accuracy per method
    fig, ax = plt.subplots(figsize=(7.5, 4))
    shown = [m for m in METHODS if m in result.methods]
    accs = [result.methods[m].accuracy for m in shown]
    colors = ["#555555" if m in ("oracle", "bma", "random") else "#1f77b4" for m in shown]
    bars = ax.bar(shown, accs, color=colors)
    for bar, value in zip(bars, accs, strict=True):
        ax.annotate(
            f"{value:.3f}",
            (bar.get_x() + bar.get_width() / 2, value),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.axhline(
        result.methods["bma"].accuracy,
        color="#d62728",
        ls="--",
        lw=1,
        label="best model on average",
    )
    ax.set_ylabel("mean accuracy over held-out tasks")
    low = min(accs)
    ax.set_ylim(max(0.0, low - 0.1), min(1.0, max(accs) + 0.05))
    ax.set_title(f"Accuracy per method: {title}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.tick_params(axis="x", labelrotation=30)
    save(fig, "accuracy_by_method")

    # 2. per-task accuracy: S3 vs BMA vs oracle
    tasks = result.tasks
    fig, ax = plt.subplots(figsize=(max(7.0, 0.6 * len(tasks) + 2), 4.2))
    width = 0.27
    xs = range(len(tasks))
    for k, (method, color) in enumerate(
        (("oracle", "#2ca02c"), ("bma", "#d62728"), ("s3", "#1f77b4"))
    ):
        ax.bar(
            [x + (k - 1) * width for x in xs],
            [t.accuracy[method] for t in tasks],
            width,
            label=method,
            color=color,
        )
    ax.set_xticks(list(xs))
    ax.set_xticklabels([t.task for t in tasks], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("accuracy on the held-out task")
    ax.set_title(f"Per task: S3 vs BMA vs oracle: {title}", fontsize=10)
    ax.legend(fontsize=8)
    save(fig, "per_task")

    # 3. accuracy vs labelled inputs
    if len(result.sweeps) > 1:
        fig, ax = plt.subplots(figsize=(7, 4))
        shots = [s.labeled_per_task for s in result.sweeps]
        for method in [m for m in METHODS if m in result.methods]:
            style = "--" if method in ("oracle", "bma", "random") else "-"
            ax.plot(
                shots,
                [s.methods[method].accuracy for s in result.sweeps],
                style,
                marker="o",
                label=method,
            )
        ax.set_xlabel("labelled inputs of the held-out task added to the memory")
        ax.set_ylabel("mean accuracy (on the unlabelled rest)")
        ax.set_title(f"Few-shot: {title}", fontsize=10)
        ax.legend(fontsize=7, ncol=2)
        save(fig, "few_shot")

    # 4. cost-quality curve
    curve = result.cost_curve
    if curve is not None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ax.plot(
            curve.cost,
            curve.quality,
            "o",
            ms=3,
            color="#1f77b4",
            label="cost-aware per-input routing",
        )
        hx, hy = pareto_hull(curve.cost, curve.quality)
        ax.plot(hx, hy, "-", color="#1f77b4", label=f"routing hull, AIQ {curve.aiq:.3f}")
        mc = list(curve.model_cost.values())
        mq = list(curve.model_quality.values())
        ax.plot(mc, mq, "s", color="#d62728", label="single models")
        for name in curve.model_cost:
            ax.annotate(
                name, (curve.model_cost[name], curve.model_quality[name]), fontsize=6, alpha=0.8
            )
        mx, my = pareto_hull(mc, mq)
        ax.plot(
            mx, my, "--", color="#d62728", label=f"single-model hull, AIQ {curve.models_aiq:.3f}"
        )
        ax.set_xlabel("mean cost of the chosen model (USD per million tokens)")
        ax.set_ylabel("mean accuracy over held-out tasks")
        ax.set_title(f"Cost-quality: {title}", fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
        save(fig, "cost_quality")
    return written
