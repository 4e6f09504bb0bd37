"""Evaluate your own chat models into a benchmark: graders, the resumable run, its store.

Example:
    >>> from langchain_benchrouter import Benchmark
    >>> from langchain_benchrouter.collect import collect
    >>> inputs = Benchmark.bundled().select_tasks("mmlu").sample(per_task=10)
    >>> plan = collect({"mini": "openai:gpt-4o-mini"}, inputs, dry_run=True)  # doctest: +SKIP
"""

from __future__ import annotations

from langchain_benchrouter.collect.graders import (
    GRADERS,
    Grader,
    grader_for_metric,
    resolve_grader,
)
from langchain_benchrouter.collect.runner import (
    CallResult,
    CollectionPlan,
    CollectOptions,
    RegradeOptions,
    acollect,
    aregrade,
    collect,
    regrade,
)
from langchain_benchrouter.collect.store import CollectionStore

__all__ = [
    "GRADERS",
    "CallResult",
    "CollectOptions",
    "CollectionPlan",
    "CollectionStore",
    "Grader",
    "RegradeOptions",
    "acollect",
    "aregrade",
    "collect",
    "grader_for_metric",
    "regrade",
    "resolve_grader",
]
