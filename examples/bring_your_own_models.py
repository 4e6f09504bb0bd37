"""Bring your own models: from three chat models to a routed LCEL chain (offline).

Your app has its own candidate models (API models, local models), not the benchmark's.
This script evaluates three chat models on a sample of the bundled benchmark's inputs
(graded against the reference answers), fits a router on their scores, and puts it in
an LCEL chain. The "user code" block below is the whole workflow: with real models you
would pass ``"openai:gpt-4o-mini"``-style strings or chat model instances instead.

The three models here are offline fakes that behave differently per task (a math tutor,
a quiz master, a generalist), so the router has to learn who is good at what. Their
answers are deterministic: each fake answers an input correctly with its per-task skill,
decided by a hash of the input, and otherwise gives a wrong answer of the right kind.

Run: ``python examples/bring_your_own_models.py`` (any directory; about a minute on two
cores the first time, while the embedding model loads and embeds the inputs).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from pydantic import Field

from langchain_benchrouter import Benchmark, RoutedChatModel, Router

TASKS = ["gsm8k", "trivia_qa", "mmlu", "arc_challenge"]
SKILLS = {  # P(correct) per task: nobody is best everywhere
    "math-tutor": {"gsm8k": 0.9, "trivia_qa": 0.2, "mmlu": 0.5, "arc_challenge": 0.55},
    "quiz-master": {"gsm8k": 0.2, "trivia_qa": 0.9, "mmlu": 0.55, "arc_challenge": 0.5},
    "generalist": {"gsm8k": 0.5, "trivia_qa": 0.5, "mmlu": 0.85, "arc_challenge": 0.85},
}


class SkilledFake(BaseChatModel):
    """A deterministic offline chat model with a per-task skill (a test double)."""

    persona: str
    skill: dict[str, float]
    # text -> (task, reference answer, metric) of the bundled inputs it may be asked
    answers: dict[str, tuple[str, str, str]] = Field(default_factory=dict, repr=False)

    @property
    def _llm_type(self) -> str:
        return "skilled-fake"

    def _reply(self, text: str) -> str:
        if text not in self.answers:  # e.g. the collection's preflight call, a new prompt
            return f"{self.persona} here: happy to help."
        task, reference, metric = self.answers[text]
        digest = hashlib.sha256(f"{self.persona}|{text}".encode()).digest()
        correct = digest[0] / 255 < self.skill.get(task, 0.3)
        if metric == "em_mc":
            letter = reference if correct else "ABCD"[("ABCD".index(reference) + 1) % 4]
            return f"The answer is ({letter})."
        if metric == "GSM8K":
            number = reference.rsplit("####", 1)[-1].strip()
            return f"#### {number}" if correct else "#### 12345"
        return reference if correct else "I am not sure, perhaps Lisbon."

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        text = str(messages[-1].content)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self._reply(text)))])


def make_fakes(bench: Benchmark) -> dict[str, SkilledFake]:
    """The three fakes, told the reference answers of the bundled inputs they may see."""
    answers = {
        text: (bench.task_names[t], ref or "", bench.metrics[i] or "")
        for i, (text, t, ref) in enumerate(
            zip(bench.texts, bench.task_index, bench.references, strict=True)
        )
    }
    return {
        name: SkilledFake(persona=name, skill=skill, answers=answers)
        for name, skill in SKILLS.items()
    }


def main() -> None:
    fakes = make_fakes(Benchmark.bundled().select_tasks(TASKS))
    store = Path(tempfile.mkdtemp()) / "runs.sqlite"

    # ---- user code: three chat models -> evaluated, graded, fitted, routed in a chain
    models = fakes  # or {"gpt": "openai:gpt-4o-mini", "local": "ollama:llama3", ...}
    inputs = Benchmark.bundled().select_tasks(TASKS).sample(per_task=25)
    mine = inputs.collect(models, store=store, progress=False)  # graded, resumable
    router = Router().fit(mine)
    llm = RoutedChatModel(router=router, models=models)
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    chain = prompt | llm | StrOutputParser()
    # ---- end of user code

    print(mine)
    print("measured accuracy per task (rows) and model (columns):")
    accuracy = mine.task_accuracy()
    print(f"{'':>15}" + "".join(f"{m:>13}" for m in mine.models))
    for task, row in zip(mine.task_names, accuracy, strict=True):
        print(f"{task:>15}" + "".join(f"{v:>13.2f}" for v in row))

    # Held-out inputs (not collected): which model does the router pick, and how often
    # is that model right, compared with always using one model?
    held_out = Benchmark.bundled().select_tasks(TASKS)
    seen = set(zip(mine.task_index.tolist(), mine.instance_ids, strict=True))
    rows = [
        i
        for i in range(held_out.n_inputs)
        if (int(held_out.task_index[i]), held_out.instance_ids[i]) not in seen
    ][::10]
    test = held_out.subset(rows)
    routes = router.route(test.texts)
    right = {name: 0 for name in models}
    routed_right = 0
    for text, choice in zip(test.texts, routes, strict=True):
        for name, fake in fakes.items():
            reply = fake._reply(text)
            task, reference, metric = fake.answers[text]
            ok = _is_right(reply, reference, metric)
            right[name] += ok
            routed_right += ok and name == choice
    n = len(test.texts)
    print(
        f"\n{n} held-out inputs: routed accuracy {routed_right / n:.3f}; single models: "
        + ", ".join(f"{m} {c / n:.3f}" for m, c in right.items())
    )
    answer = chain.invoke({"question": test.texts[0]})
    print(
        f"\nchain answer to a held-out {test.task_names[int(test.task_index[0])]} input: {answer}"
    )
    assert routed_right >= max(right.values()), "the router should beat every single model"


def _is_right(reply: str, reference: str, metric: str) -> bool:
    if metric == "em_mc":
        return f"({reference})" in reply
    if metric == "GSM8K":
        return reply == "#### " + reference.rsplit("####", 1)[-1].strip()
    return reference in reply


if __name__ == "__main__":
    main()
