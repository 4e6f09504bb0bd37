"""The examples in the core modules' docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import langchain_benchrouter

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
    "langchain_benchrouter.collect.graders",
    "langchain_benchrouter.langchain.models",
]

ALL_MODULES = sorted(
    ["langchain_benchrouter"]
    + [
        info.name
        for info in pkgutil.walk_packages(
            langchain_benchrouter.__path__, prefix="langchain_benchrouter."
        )
        if info.name != "langchain_benchrouter.__main__"
    ]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


@pytest.mark.parametrize("name", [m for m in ALL_MODULES if m not in MODULES])
def test_every_other_module_examples_pass(name: str) -> None:
    """Docstring examples anywhere else in the package run too (those not skipped)."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_modules_are_walked() -> None:
    assert len(ALL_MODULES) > 40 and set(MODULES) <= set(ALL_MODULES)
