"""The exception hierarchy of langchain-benchrouter.

Every error the library raises on bad input derives from :class:`BenchRouterError`,
so callers can catch one type. Each subclass also derives from the built-in exception
that best describes it (``ValueError``, ``RuntimeError``), so generic handlers work too.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "BenchRouterError",
    "BenchmarkFormatError",
    "EmbedderError",
    "EmbedderMismatchError",
    "NotFittedError",
    "RoutingInputError",
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
