"""Shared fixtures. Unit tests never touch the network (pytest-socket is on in pyproject)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the embedding cache of every test inside pytest's temporary directory."""
    cache = Path(os.environ.get("BENCHROUTER_TEST_CACHE", tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("BENCHROUTER_CACHE_DIR", str(cache))


class TableEmbedder:
    """A test embedder: a fixed vector per known text (unknown text is an error)."""

    def __init__(self, table: dict[str, np.ndarray], name: str = "table-test") -> None:
        self.table = table
        self._name = name
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        dim = len(next(iter(self.table.values())))
        if not texts:
            return np.zeros((0, dim), np.float32)
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def clustered(
    n_tasks: int = 3, per_task: int = 20, dim: int = 8, seed: int = 0
) -> tuple[list[dict[str, object]], TableEmbedder]:
    """Wide records of a synthetic benchmark whose tasks are clusters in embedding space.

    Model ``a`` is right on task 0 only, ``b`` on task 1 only, ``c`` on 60% of every task
    (so ``c`` is the best model on average).
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    table: dict[str, np.ndarray] = {}
    for t in range(n_tasks):
        for i in range(per_task):
            v = np.zeros(dim)
            v[t] = 1.0
            v += rng.normal(scale=0.15, size=dim)
            v /= np.linalg.norm(v)
            text = f"task{t} input {i}"
            table[text] = v
            rows.append(
                {
                    "instance_id": f"{t}-{i}",
                    "task": f"task{t}",
                    "text": text,
                    "a": float(t == 0),
                    "b": float(t == 1),
                    "c": float(rng.random() < 0.6),
                }
            )
    for t in range(n_tasks):  # unseen inputs near each task, for queries
        for i in range(10):
            v = np.zeros(dim)
            v[t] = 1.0
            v += rng.normal(scale=0.15, size=dim)
            table[f"new{t} {i}"] = v / np.linalg.norm(v)
    return rows, TableEmbedder(table)


@pytest.fixture
def clustered_data() -> tuple[list[dict[str, object]], TableEmbedder]:
    """Records and embedder of the synthetic clustered benchmark (see :func:`clustered`)."""
    return clustered()
