"""A/B test the router against the best single model, offline, then feed the labels back.

Traffic is simulated with benchmark inputs the router was not fitted on; the "chat
models" are LangChain fake chat models, and the feedback for an answer is the score
the real model obtained on that input in the benchmark. Run:

    python examples/ab_experiment.py [--db ab.sqlite] [--n 1000]

then, for the same report from the command line:

    benchrouter experiment report ab.sqlite --json report.json --plots plots/
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from rich.console import Console

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.experiments.experiment import Experiment
from langchain_benchrouter.experiments.report import print_report
from langchain_benchrouter.langchain.runnable import RoutedChatModel


class InstantChat(BaseChatModel):
    """An offline chat model that answers instantly and reports some token usage.

    Each reply is built afresh, so batch threads can share it (a fake that replays one
    shared iterator fails with "generator already executing" under concurrency).
    """

    label: str

    @property
    def _llm_type(self) -> str:
        return "instant-fake"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        usage = {"input_tokens": 120, "output_tokens": 80, "total_tokens": 200}
        reply = AIMessage(content=f"[{self.label}] ...", usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=reply)])


def fake_chat(model: str) -> InstantChat:
    """A chat model that answers instantly and reports some token usage."""
    return InstantChat(label=model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="exposure log (default: a temporary file)")
    parser.add_argument("--n", type=int, default=1000, help="prompts of simulated traffic")
    args = parser.parse_args()
    db = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "ab.sqlite"
    console = Console(width=150)

    bench = Benchmark.bundled()
    train, traffic = bench.random_split(test_size=0.2, seed=0)
    router = Router(embedder="hashing").fit(train)
    bma = router.best_model_on_average
    console.print(f"router fitted on {train.n_inputs} inputs; best model on average: {bma}")

    prices = {
        m: {"input": float(info["input_price"]), "output": float(info["output_price"])}
        for m, info in bench.model_info.items()
        if info.get("input_price") is not None and info.get("output_price") is not None
    }
    experiment = Experiment(
        name="router-vs-bma",
        arms={
            "router": RoutedChatModel(
                router=router, models={m: fake_chat(m) for m in bench.models}
            ),
            "bma": fake_chat(bma),
        },
        weights={"router": 0.5, "bma": 0.5},
        arm_models={"bma": bma},
        prices=prices,
        log=db,
    )

    # Serve the traffic; every answer is graded (here: the benchmark's score for it).
    prompts: list[Any] = list(traffic.texts[: args.n])
    score = {
        (t, m): traffic.scores[i, j]
        for i, t in enumerate(prompts)
        for j, m in enumerate(traffic.models)
    }
    outputs = experiment.batch(prompts, {"max_concurrency": 4})
    for prompt, out in zip(prompts, outputs, strict=True):
        info = out.response_metadata["benchrouter_experiment"]
        value = score[(prompt, info["model"])]
        if value == value:  # not NaN
            experiment.record_feedback(float(value), run_id=info["run_id"])

    print_report(experiment.report(baseline="bma"), console)

    # Feed the graded traffic back: one call turns it into labels and adds them.
    before = len(router.embeddings_)
    labels = experiment.feedback_labels(prompts, router=router)
    console.print(
        f"added {len(labels)} labelled inputs to the router ({before} -> {len(router.embeddings_)} "
        f"in memory; {labels.skipped} scored runs skipped)"
    )
    console.print(f"exposure log: {db}\n  benchrouter experiment report {db}")


if __name__ == "__main__":
    main()
