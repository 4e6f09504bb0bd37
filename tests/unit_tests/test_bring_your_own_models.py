"""The bring-your-own-models workflow end to end: collect -> fit -> route in a chain.

Uses the example's offline fakes (three chat models with different per-task skills) and
the fast hashing embedder; ``tests/integration_tests/test_examples.py`` runs the example
itself with the real embedding model.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langchain_benchrouter import Benchmark, RoutedChatModel, Router

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bring_your_own_models.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bring_your_own_models", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_user_code_is_at_most_ten_lines(example: ModuleType) -> None:
    source = EXAMPLE.read_text()
    block = re.search(r"# ---- user code.*?\n(.*?)# ---- end of user code", source, re.S)
    assert block is not None
    lines = [ln for ln in block.group(1).splitlines() if ln.strip()]
    assert 5 <= len(lines) <= 10, lines


def test_collect_fit_route_chain(tmp_path: Path, example: ModuleType) -> None:
    bundled = Benchmark.bundled().select_tasks(example.TASKS)
    models = example.make_fakes(bundled)
    inputs = bundled.sample(per_task=20, seed=3)
    mine = inputs.collect(models, store=tmp_path / "runs.sqlite", progress=False)
    assert mine.models == list(models) and mine.n_inputs == 80
    assert mine.instance_ids == inputs.instance_ids and mine.references == inputs.references
    # the graded scores follow the fakes' skills: each model is best on its own tasks
    acc = mine.task_accuracy()
    best = {
        t: mine.models[int(np.argmax(row))] for t, row in zip(mine.task_names, acc, strict=True)
    }
    assert best["gsm8k"] == "math-tutor" and best["trivia_qa"] == "quiz-master"

    router = Router(embedder="hashing").fit(mine)
    llm = RoutedChatModel(router=router, models=models)
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | llm | StrOutputParser()
    gsm = bundled.select_tasks("gsm8k")
    question = next(t for t in gsm.texts if t not in set(inputs.texts))
    msg = llm.invoke(question)
    decision = msg.response_metadata["benchrouter"]
    assert decision["model"] in models
    assert isinstance(chain.invoke({"q": question}), str)

    # resuming from the same store makes no new call: the table is read back whole
    again = inputs.collect(models, store=tmp_path / "runs.sqlite", progress=False)
    np.testing.assert_array_equal(again.scores, mine.scores)


def test_merge_with_the_bundled_benchmark_and_grow_a_router(
    tmp_path: Path, example: ModuleType
) -> None:
    bundled = Benchmark.bundled().select_tasks(example.TASKS)
    models = example.make_fakes(bundled)
    inputs = bundled.sample(per_task=15, seed=4)
    mine = inputs.collect(models, store=tmp_path / "r.sqlite", progress=False)
    merged = Benchmark.merge(bundled, mine)
    assert merged.n_inputs == bundled.n_inputs  # same inputs, matched by id
    assert merged.models == [*bundled.models, *models]
    assert np.isnan(merged.scores[:, -1]).sum() == bundled.n_inputs - inputs.n_inputs
    router = Router(embedder="hashing", lexical=False).fit(bundled.sample(per_task=40))
    router.add_models(mine)
    assert router.model_names[-3:] == list(models)
