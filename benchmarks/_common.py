"""Shared helpers of the performance scripts: synthetic benchmarks, timers, index wiring.

Synthetic benchmarks imitate embedded benchmark collections: each task is a cluster of
topics around a task centre (plus a component shared by all tasks), rows are
L2-normalized; each model has a skill, a per-task and a per-topic offset, labels are
Bernoulli draws, 5% of the cells are missing.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from langchain_benchrouter import Benchmark, Router
from langchain_benchrouter.core import reference as reference_mod
from langchain_benchrouter.core import router as router_mod
from langchain_benchrouter.core.embeddings import CachedEmbedder, resolve_embedder
from langchain_benchrouter.core.index import NeighborIndex

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "docs" / "performance"
SHARED = ROOT.parent / "shared" / "data"


def synthetic(
    n: int,
    n_tasks: int,
    n_models: int,
    dim: int = 384,
    topics_per_task: int = 40,
    seed: int = 0,
    shared_w: float = 0.35,
    noise_w: float = 0.9,
    topic_w: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X float32 (n, dim) normalized, Y float32 (n, M) 0/1/NaN, task int64 (n,))."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=dim) / np.sqrt(dim)
    centres = rng.normal(size=(n_tasks, dim)) / np.sqrt(dim)
    n_topics = n_tasks * topics_per_task
    topic_task = np.repeat(np.arange(n_tasks), topics_per_task)
    topics = centres[topic_task] + topic_w * rng.normal(size=(n_topics, dim)) / np.sqrt(dim)
    # Each input has a task; 60% draw a topic of their own task, the rest any topic
    # (tasks overlap, as real benchmarks do: ~2/3 of real neighbours share the task).
    task = rng.integers(0, n_tasks, size=n).astype(np.int64)
    own = task * topics_per_task + rng.integers(0, topics_per_task, size=n)
    topic = np.where(rng.random(n) < 0.6, own, rng.integers(0, n_topics, size=n))
    X = np.empty((n, dim), np.float32)
    step = 65_536
    for s in range(0, n, step):
        t = topic[s : s + step]
        noise = rng.normal(size=(len(t), dim)).astype(np.float32) / np.float32(np.sqrt(dim))
        x = shared_w * shared + topics[t] + noise_w * noise
        X[s : s + step] = x / np.linalg.norm(x, axis=1, keepdims=True)
    skill = rng.uniform(-1.0, 1.5, size=n_models)
    task_eff = rng.normal(scale=1.0, size=(n_tasks, n_models))
    topic_eff = rng.normal(scale=1.0, size=(n_topics, n_models))
    Y = np.empty((n, n_models), np.float32)
    for s in range(0, n, step):
        t = topic[s : s + step]
        logit = skill + task_eff[task[s : s + step]] + topic_eff[t]
        Y[s : s + step] = rng.random(logit.shape) < 1.0 / (1.0 + np.exp(-logit))
    Y[rng.random(Y.shape, dtype=np.float32) < 0.05] = np.nan
    return X, Y, task


def benchmark_from_arrays(Y: np.ndarray, task: np.ndarray, name: str = "synthetic") -> Benchmark:
    """A Benchmark over synthetic labels (texts are placeholders; embeddings come separately)."""
    n, m = Y.shape
    return Benchmark(
        texts=[f"input {i}" for i in range(n)],
        tasks=[f"task{t}" for t in task.tolist()],
        scores=Y,
        models=[f"model{j}" for j in range(m)],
        name=name,
    )


def router_supports_index_options() -> bool:
    """Whether the lead has wired ``Router(index_dtype=..., approximate_above=...)``."""
    params = inspect.signature(Router).parameters
    return "index_dtype" in params and "approximate_above" in params


@contextlib.contextmanager
def index_options(
    *,
    dtype: str = "float32",
    approximate: bool | str = "auto",
    approximate_above: int = 50_000,
    prebuilt: NeighborIndex | None = None,
    **index_kw: Any,
) -> Iterator[None]:
    """Make ``Router.fit`` build its index (and reference pairs) with these options.

    ``Router(index_dtype=..., approximate_above=...)`` covers dtype and the switch to
    the approximate index; this also forces options the Router does not expose (``nlist``,
    ``nprobe``, ``approximate=True``) by patching the two names router.py imports, and
    ``prebuilt`` reuses an index already built over the same rows.
    """
    opts: dict[str, Any] = {
        "dtype": dtype,
        "approximate": approximate,
        "approximate_above": approximate_above,
        **index_kw,
    }
    built: list[NeighborIndex] = []

    def make_index(embeddings: np.ndarray, **kw: Any) -> NeighborIndex:
        if prebuilt is not None and prebuilt.size == embeddings.shape[0]:
            return prebuilt
        built.append(NeighborIndex(embeddings, **{**kw, **opts}))  # the benchmark's options win
        return built[-1]

    def loto(X: np.ndarray, *args: Any, **kw: Any) -> Any:
        # The wiring proposed for router.py: reuse the router's own index (same rows).
        own = prebuilt or (built[-1] if built else None)
        if own is not None and own.size == X.shape[0]:
            kw["index"] = own
        return reference_mod.loto_reference_pairs(X, *args, **kw)

    saved = router_mod.NeighborIndex, router_mod.loto_reference_pairs
    router_mod.NeighborIndex = make_index  # type: ignore[assignment,misc]
    router_mod.loto_reference_pairs = loto  # type: ignore[assignment]
    try:
        yield
    finally:
        router_mod.NeighborIndex, router_mod.loto_reference_pairs = saved  # type: ignore[misc]


class TimedEmbedder:
    """Wraps an embedder and records the wall time of each embed call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.times: list[float] = []

    @property
    def name(self) -> str:
        return str(self.inner.name)

    def embed(self, texts: Any) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.inner.embed(texts)
        self.times.append(time.perf_counter() - t0)
        return np.asarray(out)


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    ms = sorted(v * 1e3 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {"p50_ms": statistics.median(ms), "p95_ms": p95, "n": len(ms)}


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def machine() -> dict[str, Any]:
    """What the numbers ran on, and how busy it was."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0.0
    with contextlib.suppress(OSError):
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    import faiss
    import sklearn

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "faiss-cpu": getattr(faiss, "__version__", "?"),
        "loadavg": os.getloadavg(),
    }


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """Write ``docs/performance/<name>.json``."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain fixed-width table on stdout."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def real_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` real prompts from the shared llmrouter benchmark (bundled copy as fallback)."""
    bench = Benchmark.bundled()
    rng = np.random.default_rng(seed)
    idx = rng.choice(bench.n_inputs, size=min(n, bench.n_inputs), replace=False)
    return [bench.texts[i] for i in idx]


def embedded_benchmark(data: str, embedder: str | None) -> tuple[Benchmark, np.ndarray]:
    """A benchmark directory and its float32 embeddings, through the embedding cache.

    ``embedder``: a model path, or ``None`` for the offline MiniLM.
    """
    bench = Benchmark.load(data)
    X = CachedEmbedder(resolve_embedder(embedder)).embed(bench.texts).astype(np.float32)
    return bench, X


def print_seed_gains(name: str, gains: dict[str, list[float]]) -> None:
    """Print each labelled cell's per-seed gain over ``task_best_train`` and its mean."""
    print(f"{name}: routed accuracy minus task_best_train, mean over tasks")
    for label, per_seed in gains.items():
        seeds = " ".join(f"{g:+.4f}" for g in per_seed)
        print(f"{label}: {seeds}  mean {np.mean(per_seed):+.4f}")


def run_isolated(argv: list[str]) -> dict[str, Any]:
    """Run a benchmark script in a fresh process (clean peak-memory accounting)."""
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out
