# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LINT_PATHS := $(wildcard langchain_benchrouter tests examples benchmarks)

.PHONY: install demo test lint unit integration ci clean

install: $(VENV)/.installed

# The CPU build of torch goes in first: a bare sentence-transformers install would pull
# a multi-GB CUDA build. torch==2.13.0 is served from this machine's local wheel cache.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: install
	$(BIN)/benchrouter demo

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

# Fast unit tests (the README's test command runs them after the linters).
unit: install
	$(BIN)/pytest -q tests/unit_tests

# Slower end-to-end tests: every example script with the real embedding model,
# subprocess crash tests. CI runs them after `make test`.
integration: install
	$(BIN)/pytest -q tests/integration_tests

test: lint unit

ci: test integration

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
