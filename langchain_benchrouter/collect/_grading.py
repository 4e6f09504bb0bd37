"""Grading a run's answers: one grader per task, every stored answer graded once per grader.

:func:`resolve_graders` picks each task's grader (from ``graders=`` or the task's
metric) and checks the references it needs; :func:`grade_all` grades the stored answers
that have no grade under it yet and commits the grades in batches.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from langchain_benchrouter.collect._progress import progress_bars
from langchain_benchrouter.collect._retries import describe
from langchain_benchrouter.collect.graders import (
    CodeTests,
    Grader,
    grader_for_metric,
    resolve_grader,
    why_no_grader,
)
from langchain_benchrouter.errors import CollectionError, GraderError

if TYPE_CHECKING:
    from langchain_benchrouter.collect.store import CollectionStore, StoredInputs

__all__ = ["GraderSpec", "GradingJob", "grade_all", "resolve_graders"]

#: What ``graders=`` takes per task: a built-in grader name (``"exact_match"``...), a
#: :class:`~langchain_benchrouter.collect.graders.Grader`, or a function
#: ``(output, reference[, text]) -> score`` (see ``graders.resolve_grader``).
GraderSpec = str | Grader | Callable[..., Any]


def _as_grader(spec: GraderSpec, *, allow_code_execution: bool, task: str) -> Grader:
    try:
        if isinstance(spec, str) and spec.strip().lower() == "code":
            grader = resolve_grader(spec, allow_execution=allow_code_execution)
        else:
            grader = resolve_grader(spec)
    except GraderError as exc:
        msg = f"grader for task {task!r}: {exc}"
        raise GraderError(msg) from exc
    if isinstance(grader, CodeTests) and not grader.allow_execution:
        msg = (
            f"grader for task {task!r}: {grader.name} runs the models' code on this machine:"
            " pass allow_code_execution=True (CLI: --allow-code-execution) to accept that"
        )
        raise GraderError(msg)
    return grader


def _task_metrics(inputs: StoredInputs) -> dict[str, str | None]:
    found: dict[str, set[str]] = {}
    for task, metric in zip(inputs.tasks, inputs.metrics, strict=True):
        bucket = found.setdefault(task, set())
        if metric is not None:
            bucket.add(metric)
    return {t: (next(iter(m)) if len(m) == 1 else None) for t, m in found.items()}


def resolve_graders(
    graders: GraderSpec | Mapping[str, GraderSpec] | None,
    inputs: StoredInputs,
    *,
    allow_code_execution: bool,
) -> dict[str, Grader]:
    """One grader per task, checked against the references it needs."""
    metrics = _task_metrics(inputs)
    chosen: dict[str, Grader] = {}
    per_task: Mapping[str, GraderSpec] = {}
    if isinstance(graders, Mapping):
        per_task = graders
        unknown = sorted(set(per_task) - set(metrics))
        if unknown:
            msg = (
                f"graders= names task(s) {unknown} that the inputs do not have; their "
                f"tasks are {sorted(metrics)}"
            )
            raise GraderError(msg)
    for task, metric in metrics.items():
        if task in per_task:
            chosen[task] = _as_grader(
                per_task[task], allow_code_execution=allow_code_execution, task=task
            )
        elif graders is not None and not isinstance(graders, Mapping):
            chosen[task] = _as_grader(graders, allow_code_execution=allow_code_execution, task=task)
        else:
            found = grader_for_metric(metric, allow_code_execution=allow_code_execution)
            if found is None:
                why = why_no_grader(metric, allow_code_execution=allow_code_execution)
                msg = (
                    f"no grader for task {task!r}: {why}. Or pass graders={{{task!r}: "
                    "'exact_match'} (any grader), or leave the task out (CLI: --tasks; "
                    "Benchmark.drop_tasks)"
                )
                raise GraderError(msg)
            chosen[task] = found
    for task, grader in chosen.items():
        if not grader.requires_reference:
            continue
        rows = [r for t, r in zip(inputs.tasks, inputs.references, strict=True) if t == task]
        missing = sum(r is None for r in rows)
        if missing:
            msg = (
                f"task {task!r}: {missing} of {len(rows)} inputs have no reference answer, "
                f"which the grader {grader.name!r} needs: give the inputs references (a "
                "'reference' or 'answer' column) or choose a grader that needs none with "
                f"graders={{{task!r}: ...}}"
            )
            raise GraderError(msg)
    return chosen


class GradingJob(NamedTuple):
    """What to grade: the stored answers of ``models`` to ``inputs``, by each task's grader.

    ``positions[i]`` is the store's row number of input ``i`` (the store keys results by it).
    """

    store: CollectionStore
    inputs: StoredInputs
    positions: Sequence[int]
    models: Sequence[str]
    graders: Mapping[str, Grader]

    def grader_names(self) -> list[str]:
        """The names of the job's graders, sorted (grades are stored by them)."""
        return sorted({g.name for g in self.graders.values()})


async def grade_all(job: GradingJob, *, concurrency: int, progress: bool) -> dict[str, list[str]]:
    """Grade every stored answer that has no grade under its task's grader yet.

    Grades are committed in batches (a crash loses at most a batch, graded again later).
    An answer a grader cannot grade (it raises ``GraderError``, e.g. a reference without
    a number) stays ungraded (``NaN``) and is reported; any other grader exception stops.

    Returns:
        Per model, why each answer it could not grade was ungradable.
    """
    store, inputs, positions, models, graders = job
    names = job.grader_names()
    todo: list[tuple[str, int, int, str, Grader]] = []
    for model in models:
        results = store.results(model)
        done = store.grades(model, names)
        for pos, idx in enumerate(positions):
            row = results.get(idx)
            grader = graders[inputs.tasks[pos]]
            if row is not None and row.ok and (idx, grader.name) not in done:
                todo.append((model, pos, idx, row.output or "", grader))
    ungradable: dict[str, list[str]] = {}
    if not todo:
        return ungradable
    sem = asyncio.Semaphore(concurrency)
    batch: list[tuple[str, int, str, float]] = []
    counts = Counter(item[0] for item in todo)
    with progress_bars(progress, counts, "grading") as advance:

        async def one(model: str, pos: int, idx: int, output: str, grader: Grader) -> None:
            async with sem:
                try:
                    score = await grader.agrade(
                        output, inputs.references[pos], text=inputs.texts[pos]
                    )
                except GraderError as exc:
                    where = f"task {inputs.tasks[pos]!r}, instance {inputs.instance_ids[pos]!r}"
                    ungradable.setdefault(model, []).append(f"{where}: {exc}")
                    advance(model, 1, "")
                    return
                except Exception as exc:
                    msg = (
                        f"grader {grader.name!r} failed on model {model!r}, task "
                        f"{inputs.tasks[pos]!r}, instance {inputs.instance_ids[pos]!r}: "
                        f"{describe(exc)}. The answers are kept in the store: fix the grader"
                        " and call regrade(store, graders=...)"
                    )
                    raise CollectionError(msg) from exc
            ok = isinstance(score, int | float) and not isinstance(score, bool)
            if not ok or not 0.0 <= float(score) <= 1.0:
                msg = f"grader {grader.name!r} returned {score!r}, not a score in [0, 1]"
                raise GraderError(msg)
            batch.append((model, idx, grader.name, float(score)))
            advance(model, 1, "")
            if len(batch) >= 200:
                store.put_grades(batch)
                batch.clear()

        try:
            await asyncio.gather(*(one(*item) for item in todo))
        finally:
            if batch:
                store.put_grades(batch)
    return ungradable
