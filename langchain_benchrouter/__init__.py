"""langchain-benchrouter: pick the right LLM for the job from benchmark evaluations.

The core (``Benchmark``, ``Router``, embedders, predictors, scores) knows nothing of
LangChain; the LangChain faces (``RouterRunnable``, ``RouterMiddleware``) are imported
lazily, so ``import langchain_benchrouter`` stays light.

Example:
    >>> from langchain_benchrouter import Benchmark, Router
    >>> router = Router(embedder="hashing").fit(Benchmark.bundled())
    >>> router.best_model_on_average
    'llama-3.1-nemotron-51b-instruct'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from langchain_benchrouter.benchmark import Benchmark
from langchain_benchrouter.decisions import Routes, Selection
from langchain_benchrouter.embeddings import (
    CachedEmbedder,
    CheckedEmbedder,
    Embedder,
    HashingEmbedder,
    LangChainEmbedder,
    SentenceTransformerEmbedder,
    resolve_embedder,
)
from langchain_benchrouter.errors import (
    ArtifactError,
    BenchmarkFormatError,
    BenchRouterError,
    EmbedderError,
    EmbedderMismatchError,
    ModelOutputError,
    ModelTimeoutError,
    NotFittedError,
    RoutingError,
    RoutingInputError,
    RoutingTimeoutError,
    UnknownModelError,
)
from langchain_benchrouter.exposure_log import ExposureLog, SQLiteExposureLog
from langchain_benchrouter.predictors import KNNCorrectnessPredictor, MLPCorrectnessPredictor
from langchain_benchrouter.router import Router

if TYPE_CHECKING:  # pragma: no cover
    from langchain_benchrouter.experiment_report import compute_report, feedback_to_labels
    from langchain_benchrouter.experiments import Experiment, ExperimentError
    from langchain_benchrouter.middleware import RouterMiddleware
    from langchain_benchrouter.runnable import RouterRunnable, error_decision

__all__ = [
    "ArtifactError",
    "BenchRouterError",
    "Benchmark",
    "BenchmarkFormatError",
    "CachedEmbedder",
    "CheckedEmbedder",
    "Embedder",
    "EmbedderError",
    "EmbedderMismatchError",
    "Experiment",
    "ExperimentError",
    "ExposureLog",
    "HashingEmbedder",
    "KNNCorrectnessPredictor",
    "LangChainEmbedder",
    "MLPCorrectnessPredictor",
    "ModelOutputError",
    "ModelTimeoutError",
    "NotFittedError",
    "Router",
    "RouterMiddleware",
    "RouterRunnable",
    "Routes",
    "RoutingError",
    "RoutingInputError",
    "RoutingTimeoutError",
    "SQLiteExposureLog",
    "Selection",
    "SentenceTransformerEmbedder",
    "UnknownModelError",
    "compute_report",
    "error_decision",
    "feedback_to_labels",
    "resolve_embedder",
]

# The LangChain faces load on first use, so the core imports without them.
_LAZY = {
    "RouterRunnable": "langchain_benchrouter.runnable",
    "RouterMiddleware": "langchain_benchrouter.middleware",
    "error_decision": "langchain_benchrouter.runnable",
    "Experiment": "langchain_benchrouter.experiments",
    "ExperimentError": "langchain_benchrouter.experiments",
    "compute_report": "langchain_benchrouter.experiment_report",
    "feedback_to_labels": "langchain_benchrouter.experiment_report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
