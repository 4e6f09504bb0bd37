"""The exception hierarchy of langchain-benchrouter.

Every error the library raises on bad input derives from :class:`BenchRouterError`,
so callers can catch one type. Each subclass also derives from the built-in exception
that best describes it (``ValueError``, ``RuntimeError``, ``TimeoutError``), so generic
handlers work too::

    BenchRouterError
    ├── BenchmarkFormatError (ValueError)      a benchmark file or record is malformed
    ├── EmbedderError (RuntimeError)           the embedder failed or returned bad vectors
    │   └── EmbedderMismatchError (ValueError) a saved router met a different embedder
    ├── ArtifactError (ValueError)             a saved router is corrupted or tampered with
    ├── NotFittedError (RuntimeError)          used before fit
    ├── UnknownModelError (KeyError)           a model name the router does not know
    ├── RoutingInputError (ValueError)         an input or option that cannot be routed
    ├── RoutingError (RuntimeError)            routing itself failed (the cause is chained)
    │   └── RoutingTimeoutError (TimeoutError) routing took longer than ``routing_timeout``
    ├── ModelTimeoutError (TimeoutError)       the chosen model exceeded ``model_timeout``
    ├── ModelOutputError (ValueError)          the chosen model returned no chat message
    ├── ModelConfigError (ValueError)          a chat model string or instance cannot be used
    ├── GraderError (ValueError)               a grader is misconfigured or cannot grade
    ├── CollectionError (RuntimeError)         evaluating chat models into a benchmark failed
    │   ├── CollectionConfigError (ValueError) a run's option or argument is unusable
    │   └── CostLimitError                     the run would exceed ``max_cost``
    ├── ExperimentError (ValueError)           an experiment is misconfigured or misused
    ├── ExposureLogError (RuntimeError)        the exposure log cannot be opened or written
    └── UnknownRunError (LookupError)          feedback names a run no exposure has

An error raised by a chosen chat model itself is surfaced unchanged (same type), with the
routing decision attached (see :mod:`langchain_benchrouter.langchain.runnable`).
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "BenchRouterError",
    "BenchmarkFormatError",
    "CollectionConfigError",
    "CollectionError",
    "CostLimitError",
    "EmbedderError",
    "EmbedderMismatchError",
    "ExperimentError",
    "ExposureLogError",
    "GraderError",
    "ModelConfigError",
    "ModelOutputError",
    "ModelTimeoutError",
    "NotFittedError",
    "RoutingError",
    "RoutingInputError",
    "RoutingTimeoutError",
    "UnknownModelError",
    "UnknownRunError",
]


class BenchRouterError(Exception):
    """Base class of every error raised by langchain-benchrouter."""


class BenchmarkFormatError(BenchRouterError, ValueError):
    """A benchmark file or record is malformed.

    The message names the file (when there is one), the line or row, and the problem.
    """


class EmbedderError(BenchRouterError, RuntimeError):
    """The embedding model could not be found, loaded or run, or returned bad vectors."""


class EmbedderMismatchError(EmbedderError, ValueError):
    """A saved router was fitted with a different embedder than the one supplied."""


class ArtifactError(BenchRouterError, ValueError):
    """A saved router artifact is missing, corrupted, tampered with or incompatible."""


class NotFittedError(BenchRouterError, RuntimeError):
    """A router or predictor was used before ``fit``."""


class UnknownModelError(BenchRouterError, KeyError):
    """A model name is not one the router knows."""

    def __str__(self) -> str:
        # KeyError.__str__ wraps the message in quotes; keep it readable.
        return str(self.args[0]) if self.args else ""


class RoutingInputError(BenchRouterError, ValueError):
    """An input to route is empty, not text, or otherwise unusable."""


class RoutingError(BenchRouterError, RuntimeError):
    """Routing could not be completed: the embedder or the router failed on valid input.

    The original exception is chained as ``__cause__``.
    """


class RoutingTimeoutError(RoutingError, TimeoutError):
    """Routing (embedding and neighbour search) took longer than ``routing_timeout``."""


class ModelTimeoutError(BenchRouterError, TimeoutError):
    """The chosen chat model did not answer within ``model_timeout``."""


class ModelOutputError(BenchRouterError, ValueError):
    """The chosen chat model returned something that is not a chat message."""


class ModelConfigError(BenchRouterError, ValueError):
    """A chat model cannot be used as configured.

    Raised for a malformed ``init_chat_model`` string (``"provider:model"``), a provider
    whose integration package is not installed, or missing credentials; the message
    names the model and the fix.
    """


class GraderError(BenchRouterError, ValueError):
    """A grader is misconfigured, unknown, or cannot grade an output (no reference)."""


class CollectionError(BenchRouterError, RuntimeError):
    """Evaluating chat models over a benchmark's inputs failed or was refused."""


class CollectionConfigError(CollectionError, ValueError):
    """A collection run's option or argument is unusable (refused before anything is spent)."""


class CostLimitError(CollectionError):
    """An evaluation run would cost more than its ``max_cost`` (nothing was spent beyond it)."""


class ExperimentError(BenchRouterError, ValueError):
    """An experiment is misconfigured (arms, weights, price table) or misused."""


class ExposureLogError(BenchRouterError, RuntimeError):
    """The exposure log could not be opened, read or written."""


class UnknownRunError(BenchRouterError, LookupError):
    """Feedback names a run id (or unit key) that no logged exposure has."""
