"""langchain-benchrouter: pick the right LLM for the job from benchmark evaluations.

The core (``Benchmark``, ``Router``, embedders, predictors, scores) knows nothing of
LangChain; the LangChain faces (``RoutedChatModel``, ``RouterMiddleware``) are imported
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

from langchain_benchrouter.core.decisions import Routes, Selection
from langchain_benchrouter.core.embeddings import (
    CachedEmbedder,
    CheckedEmbedder,
    Embedder,
    HashingEmbedder,
    LangChainEmbedder,
    SentenceTransformerEmbedder,
    resolve_embedder,
)
from langchain_benchrouter.core.predictors import KNNCorrectnessPredictor, MLPCorrectnessPredictor
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import (
    ArtifactError,
    BenchmarkFormatError,
    BenchRouterError,
    EmbedderError,
    EmbedderMismatchError,
    ExperimentError,
    ModelOutputError,
    ModelTimeoutError,
    NotFittedError,
    RoutingError,
    RoutingInputError,
    RoutingTimeoutError,
    UnknownModelError,
)
from langchain_benchrouter.experiments.exposure_log import ExposureLog, SQLiteExposureLog

if TYPE_CHECKING:  # pragma: no cover
    from langchain_benchrouter.experiments.experiment import Experiment
    from langchain_benchrouter.experiments.report import compute_report, feedback_to_labels
    from langchain_benchrouter.langchain.middleware import RouterMiddleware
    from langchain_benchrouter.langchain.runnable import RoutedChatModel, error_decision

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
    "RoutedChatModel",
    "Router",
    "RouterMiddleware",
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
    "RoutedChatModel": "langchain_benchrouter.langchain.runnable",
    "RouterMiddleware": "langchain_benchrouter.langchain.middleware",
    "error_decision": "langchain_benchrouter.langchain.runnable",
    "Experiment": "langchain_benchrouter.experiments.experiment",
    "compute_report": "langchain_benchrouter.experiments.report",
    "feedback_to_labels": "langchain_benchrouter.experiments.report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
