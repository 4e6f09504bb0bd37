"""The examples in the core modules' docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "langchain_benchrouter",
    "langchain_benchrouter.core.scoring",
    "langchain_benchrouter.core.predictors",
    "langchain_benchrouter.core.index",
    "langchain_benchrouter.core.router",
    "langchain_benchrouter.data.benchmark",
    "langchain_benchrouter.evaluation.harness",
    "langchain_benchrouter.core.reference",
    "langchain_benchrouter.core.engines",
    "langchain_benchrouter.core.calibration",
    "langchain_benchrouter.core.task_classifier",
    "langchain_benchrouter.core.familiarity",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
