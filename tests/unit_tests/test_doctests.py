"""The examples in the core modules' docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "langchain_benchrouter",
    "langchain_benchrouter.scoring",
    "langchain_benchrouter.predictors",
    "langchain_benchrouter.index",
    "langchain_benchrouter.router",
    "langchain_benchrouter.benchmark",
    "langchain_benchrouter.evaluation",
    "langchain_benchrouter.reference",
    "langchain_benchrouter.engines",
    "langchain_benchrouter.calibration",
    "langchain_benchrouter.task_classifier",
    "langchain_benchrouter.familiarity",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
