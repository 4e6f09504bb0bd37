"""The benchmark a run returns: graded scores, measured costs and latencies, and notes.

:func:`assemble` builds it from the store; :func:`graded_benchmark` grades what is
ungraded first (what both ``collect`` and ``regrade`` end with).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from langchain_benchrouter.collect._grading import GradingJob, grade_all
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import CollectionError

if TYPE_CHECKING:
    pass

__all__ = ["assemble", "graded_benchmark"]


def assemble(
    job: GradingJob,
    *,
    name: str,
    notes: Sequence[str] = (),
    ungradable: Mapping[str, Sequence[str]] | None = None,
) -> Benchmark:
    """The benchmark of the job's models on its inputs, from the store's results and grades.

    Raises:
        CollectionError: A model has no graded answer at all.
    """
    store, inputs, positions, models, graders = job
    names = job.grader_names()
    n, m = len(positions), len(models)
    scores = np.full((n, m), np.nan)
    costs = np.full((n, m), np.nan)
    info: dict[str, dict[str, Any]] = {}
    out_notes = list(notes)
    by_grader: dict[str, list[str]] = {}
    for task, g in graders.items():
        by_grader.setdefault(g.name, []).append(task)
    out_notes.append(
        f"collected {m} model(s) on {n} inputs of {len(graders)} task(s); graded by "
        + "; ".join(f"{g} ({', '.join(ts)})" for g, ts in by_grader.items())
    )
    dead: list[str] = []
    for j, model in enumerate(models):
        results = store.results(model)
        grades = store.grades(model, names)
        latencies: list[float] = []
        tokens: list[tuple[int, int]] = []
        errors: Counter[str] = Counter()
        first_error = ""
        estimated = missing = 0
        for pos, idx in enumerate(positions):
            row = results.get(idx)
            if row is None:
                missing += 1
                continue
            if row.cost is not None:
                costs[pos, j] = row.cost
                estimated += row.cost_source == "estimate"
            if not row.ok:
                errors[row.error_kind or "error"] += 1
                first_error = first_error or (row.error or "")
                continue
            if row.latency_s is not None:
                latencies.append(row.latency_s)
            if row.usage is not None and row.input_tokens is not None:
                tokens.append((row.input_tokens or 0, row.output_tokens or 0))
            score = grades.get((idx, graders[inputs.tasks[pos]].name))
            if score is not None:
                scores[pos, j] = score
        known = costs[:, j][~np.isnan(costs[:, j])]
        info[model] = {
            **store.model_info(model),
            "cost_per_call": float(known.mean()) if known.size else None,
            "latency_s": statistics.median(latencies) if latencies else None,
            "latency_mean_s": statistics.fmean(latencies) if latencies else None,
            "input_tokens_per_call": statistics.fmean(t[0] for t in tokens) if tokens else None,
            "output_tokens_per_call": statistics.fmean(t[1] for t in tokens) if tokens else None,
            "calls": n - missing,
            "failed_calls": sum(errors.values()),
        }
        failed = sum(errors.values())
        if failed:
            kinds = ", ".join(f"{c} {k}" for k, c in errors.most_common())
            out_notes.append(
                f"{model}: {failed} of {n} calls failed after retries ({kinds}; e.g. "
                f"{first_error[:200]}); their scores are NaN"
            )
        if missing:
            out_notes.append(f"{model}: {missing} of {n} inputs were not called; NaN")
        lost = (ungradable or {}).get(model, [])
        if lost:
            out_notes.append(
                f"{model}: {len(lost)} answer(s) could not be graded, their scores are NaN "
                f"(e.g. {lost[0][:300]})"
            )
            first_error = first_error or lost[0]
        if estimated:
            out_notes.append(
                f"{model}: the cost of {estimated} call(s) is estimated from text length "
                "(the model reported no usage_metadata)"
            )
        if np.isnan(scores[:, j]).all():
            dead.append(f"{model!r} ({first_error[:200] or 'no stored answers'})")
    if dead:
        msg = (
            f"model(s) {', '.join(dead)} have no graded answer on these inputs, so no "
            "benchmark can hold them; the store keeps every result: fix the model and run "
            "again with retry_failed=True, or leave it out"
        )
        raise CollectionError(msg)
    out_notes.append(
        "model_info: cost_per_call is the mean measured cost of a call (USD, from "
        "usage_metadata and the prices), latency_s the median latency of a successful "
        "call in seconds (latency_mean_s the mean)"
    )
    has_costs = not np.isnan(costs).all()
    return Benchmark(
        texts=[inputs.texts[p] for p in range(n)],
        tasks=[inputs.tasks[p] for p in range(n)],
        instance_ids=[inputs.instance_ids[p] for p in range(n)],
        scores=scores,
        models=list(models),
        model_info=info,
        threshold=inputs.threshold,
        name=name,
        notes=out_notes,
        splits=list(inputs.splits),
        metrics=list(inputs.metrics),
        references=list(inputs.references),
        costs=costs if has_costs else None,
    )


async def graded_benchmark(
    job: GradingJob, *, concurrency: int, progress: bool, name: str, notes: Sequence[str]
) -> Benchmark:
    """Grade every stored answer not yet graded, then :func:`assemble` the benchmark."""
    ungradable = await grade_all(job, concurrency=concurrency, progress=progress)
    return assemble(job, name=name, notes=notes, ungradable=ungradable)
