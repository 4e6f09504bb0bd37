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
    └── ModelOutputError (ValueError)          the chosen model returned no chat message

An error raised by a chosen chat model itself is surfaced unchanged (same type), with the
routing decision attached (see :mod:`langchain_benchrouter.runnable`).
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "BenchRouterError",
    "BenchmarkFormatError",
    "EmbedderError",
    "EmbedderMismatchError",
    "ModelOutputError",
    "ModelTimeoutError",
    "NotFittedError",
    "RoutingError",
    "RoutingInputError",
    "RoutingTimeoutError",
    "UnknownModelError",
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
