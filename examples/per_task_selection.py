"""Per-task selection: choose one model for a new task from a sample of its inputs.

The router is fitted on the bundled benchmark *without* the task (math), so the task
is new to it, as a user's own task would be. ``for_task`` scores the models with the
library's default method (``eb_select``: calibrated kNN estimates, leaving the best
model on average only by a margin tuned in the fit), with it told how the task is
scored (``metric="MATH"``: the benchmark's other task scored that way speaks for it),
or with the paper's S3, and returns a runnable pinned to the winner, with the decision
attached. Offline, with fake models.

Run: python examples/per_task_selection.py
"""

from __future__ import annotations

import itertools

import numpy as np
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.langchain.runnable import RoutedChatModel

TASK = "math"


def fake_chat(name: str) -> GenericFakeChatModel:
    # itertools.repeat, not a generator: batch threads may share the model, and a
    # generator entered from two threads at once raises "generator already executing".
    return GenericFakeChatModel(messages=itertools.repeat(f"[{name}] Let's think step by step..."))


def main() -> None:
    bench = Benchmark.bundled()
    router = Router(embedder="hashing").fit(bench.drop_tasks([TASK]))
    llm = RoutedChatModel(router=router, models={m: fake_chat(m) for m in router.model_names})

    task = bench.select_tasks([TASK])
    rng = np.random.default_rng(0)
    sample = [task.texts[i] for i in rng.choice(task.n_inputs, size=50, replace=False)]

    pinned = llm.for_task(sample)
    sel = pinned.selection
    assert sel is not None
    print(f"selected ({sel.method}):", sel.model)
    print("why:", sel.why)
    print("estimated accuracy on the task:")
    for m, s in sorted(sel.scores.items(), key=lambda kv: -kv[1]):
        print(f"  {m:34s} {s:.3f}")
    metric = task.task_metrics[0]
    print(f"metrics the router knows: {router.metrics}; the task's: {metric!r}")
    told = llm.for_task(sample, metric=metric)
    by_metric = told.selection
    assert by_metric is not None
    print(f"told the metric, {by_metric.method} selects: {by_metric.model}")
    print("why:", by_metric.why)
    paper = llm.for_task(sample, method="s3").selection
    assert paper is not None
    print(f"the paper's S3 selects: {paper.model} (S3 {paper.s3[paper.model]:.3f})")

    true_acc = dict(zip(task.models, task.task_accuracy()[0], strict=True))
    best = max(true_acc, key=lambda m: true_acc[m])
    print(
        f"\ntrue accuracy on {TASK}: selected {true_acc[sel.model]:.3f}, "
        f"told the metric {true_acc[by_metric.model]:.3f}, "
        f"S3's {true_acc[paper.model]:.3f}, best {best} {true_acc[best]:.3f}"
    )
    pinned = told

    print("\n== every input of the task now goes to the pinned model")
    for out in pinned.batch(sample[:3]):
        d = out.response_metadata["benchrouter"]
        print(f"  {d['mode']}: {d['model']} -> {out.content}")
    back = pinned.invoke(sample[0], {"configurable": {"benchrouter_mode": "per_input"}})
    print("  per_input override ->", back.response_metadata["benchrouter"]["model"])


if __name__ == "__main__":
    main()
