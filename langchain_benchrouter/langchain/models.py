"""Chat models given as ``init_chat_model`` strings (``"openai:gpt-4o-mini"``) or instances.

:func:`resolve_chat_model` turns a string into a chat model at once (a missing provider
package or API key is a :class:`~langchain_benchrouter.errors.ModelConfigError` naming
the fix); :class:`LazyChatModel` checks the string's form at once but creates the model
only when it is first needed, so a router can list models whose provider is not set up
on this machine and still route among the others.

Strings need the optional ``langchain`` package (``init_chat_model``).
"""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.utils import ConfigurableFieldSpec
from pydantic import PrivateAttr
from typing_extensions import override

from langchain_benchrouter.errors import ModelConfigError
from langchain_benchrouter.langchain._options import check_options

__all__ = ["LazyChatModel", "parse_model_string", "resolve_chat_model"]

_EXAMPLE = "'openai:gpt-4o-mini' or 'ollama:llama3'"

# The environment variable each hosted provider's chat model reads its API key from.
_API_KEY_ENV = {
    "anthropic": "ANTHROPIC_API_KEY",
    "azure_openai": "AZURE_OPENAI_API_KEY",
    "cohere": "COHERE_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "fireworks": "FIREWORKS_API_KEY",
    "google_genai": "GOOGLE_API_KEY",
    "groq": "GROQ_API_KEY",
    "mistralai": "MISTRAL_API_KEY",
    "nvidia": "NVIDIA_API_KEY",
    "openai": "OPENAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "perplexity": "PPLX_API_KEY",
    "together": "TOGETHER_API_KEY",
    "upstage": "UPSTAGE_API_KEY",
    "xai": "XAI_API_KEY",
}


def _providers() -> dict[str, str] | None:
    """Provider name -> pip package, from ``init_chat_model``'s registry (``None``: unknown)."""
    try:
        from langchain.chat_models import base
    except ImportError:
        return None
    registry = getattr(base, "_BUILTIN_PROVIDERS", None)
    if not isinstance(registry, dict):
        return None
    out: dict[str, str] = {}
    for provider, entry in registry.items():
        module = entry[0] if isinstance(entry, tuple) and entry else f"langchain_{provider}"
        out[str(provider)] = str(module).split(".", 1)[0].replace("_", "-")
    return out


def _package(provider: str) -> str:
    return (_providers() or {}).get(provider, f"langchain-{provider.replace('_', '-')}")


def parse_model_string(spec: str, *, name: str) -> tuple[str, str]:
    """Split an ``init_chat_model`` string into ``(provider, model)``, checking its form.

    Args:
        spec: ``"provider:model"``, e.g. ``"openai:gpt-4o-mini"`` (the model part may
            itself contain colons: ``"ollama:llama3:8b"``).
        name: the configured model name, for error messages.

    Returns:
        The provider (lower-cased, ``-`` as ``_``) and the model.

    Raises:
        ModelConfigError: the string is empty, names no provider or no model, or names a
            provider ``init_chat_model`` does not know.

    Example:
        >>> parse_model_string("ollama:llama3:8b", name="local")
        ('ollama', 'llama3:8b')
    """
    provider, sep, model = spec.strip().partition(":")
    provider = provider.strip().replace("-", "_").lower()
    model = model.strip()
    if not sep or not provider or not model:
        msg = (
            f"chat model {name!r}: {spec!r} is not an init_chat_model string; "
            f"write it as 'provider:model', e.g. {_EXAMPLE}"
        )
        raise ModelConfigError(msg)
    known = _providers()
    if known is not None and provider not in known:
        close = difflib.get_close_matches(provider, list(known), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        msg = (
            f"chat model {name!r}: unknown provider {provider!r} in {spec!r}; {hint}"
            f"known providers: {sorted(known)}"
        )
        raise ModelConfigError(msg)
    return provider, model


def resolve_chat_model(spec: str | Runnable[Any, Any], *, name: str) -> Runnable[Any, Any]:
    """The chat model for ``spec``: an instance as is, a string created now.

    Args:
        spec: a chat model (or any runnable taking chat input), or an
            ``init_chat_model`` string ``"provider:model"``.
        name: the name the model is configured under, for error messages.

    Returns:
        The chat model (a :class:`LazyChatModel` is created now and unwrapped).

    Raises:
        ModelConfigError: ``spec`` is neither a runnable nor a well-formed string, the
            provider's integration package is not installed (the message names the
            ``pip install``), or the model could not be created (e.g. a missing API key:
            the message names the environment variable).

    Example:
        >>> chat = resolve_chat_model("openai:gpt-4o-mini", name="small")  # doctest: +SKIP
    """
    if isinstance(spec, LazyChatModel):
        return spec.get()
    if isinstance(spec, Runnable):
        return spec
    if not isinstance(spec, str):
        msg = (
            f"chat model {name!r}: expected a chat model instance or an init_chat_model "
            f"string such as {_EXAMPLE}, got {type(spec).__name__}"
        )
        raise ModelConfigError(msg)
    provider, model = parse_model_string(spec, name=name)
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        msg = (
            f"chat model {name!r} ({spec!r}): model strings need the langchain package; "
            "pip install 'langchain-benchrouter[agents]' (or pass a chat model instance)"
        )
        raise ModelConfigError(msg) from exc
    try:
        return init_chat_model(model, model_provider=provider)
    except ImportError as exc:
        pkg = _package(provider)
        msg = (
            f"chat model {name!r} ({spec!r}) needs the {pkg} package, which is not "
            f"installed: pip install {pkg}"
        )
        raise ModelConfigError(msg) from exc
    except Exception as exc:
        env = _API_KEY_ENV.get(provider)
        hint = (
            f"; set the {env} environment variable (it is not set)"
            if env is not None and not os.environ.get(env)
            else ""
        )
        msg = (
            f"chat model {name!r} ({spec!r}) could not be created: {type(exc).__name__}: {exc}"[
                :600
            ]
            + hint
        )
        raise ModelConfigError(msg) from exc


class LazyChatModel(RunnableSerializable[Any, Any]):
    """A chat model given as an ``init_chat_model`` string, created on first use.

    The string's form is checked at construction; the model itself (its provider
    package, its API key) only when :meth:`get` or a call first needs it, and then
    once (thread-safe). A failure is a :class:`~langchain_benchrouter.errors.ModelConfigError`
    naming the model, the string and the fix, raised again on every later use.

    Args:
        spec: ``"provider:model"``, e.g. ``"openai:gpt-4o-mini"``.
        name: the name the model is configured under.

    Example:
        >>> lazy = LazyChatModel(spec="anthropic:claude-x", name="claude")
        >>> lazy.resolved
        False
    """

    spec: str
    name: str

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _model: Runnable[Any, Any] | None = PrivateAttr(default=None)
    _error: ModelConfigError | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        check_options(type(self).__name__, data, ("spec", "name"))
        super().__init__(**data)
        parse_model_string(self.spec, name=self.name)

    @property
    def resolved(self) -> bool:
        """Whether the model has been created."""
        return self._model is not None

    def get(self) -> Runnable[Any, Any]:
        """The chat model, created on the first call.

        Returns:
            The chat model.

        Raises:
            ModelConfigError: the model cannot be created (see :func:`resolve_chat_model`).
        """
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                if self._error is not None:
                    raise self._error
                try:
                    self._model = resolve_chat_model(self.spec, name=self.name)
                except ModelConfigError as exc:
                    self._error = exc
                    raise
            return self._model

    @property
    @override
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        """The model's config specs once created (none before: listing must not create it)."""
        return self._model.config_specs if self._model is not None else []

    @override
    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Create the model if needed and invoke it."""
        return self.get().invoke(input, config, **kwargs)

    @override
    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Create the model if needed and ``ainvoke`` it."""
        return await self.get().ainvoke(input, config, **kwargs)

    @override
    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> Iterator[Any]:
        """Create the model if needed and stream from it."""
        yield from self.get().stream(input, config, **kwargs)

    @override
    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[Any]:
        """Create the model if needed and ``astream`` from it."""
        async for chunk in self.get().astream(input, config, **kwargs):
            yield chunk

    @override
    def batch(self, inputs: list[Any], config: Any = None, **kwargs: Any) -> list[Any]:
        """Create the model if needed and ``batch`` on it (``return_exceptions`` ... passed on)."""
        return self.get().batch(inputs, config, **kwargs)

    @override
    async def abatch(self, inputs: list[Any], config: Any = None, **kwargs: Any) -> list[Any]:
        """Create the model if needed and ``abatch`` on it."""
        return await self.get().abatch(inputs, config, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        """Delegate ``bind_tools``, ``with_structured_output`` ... to the created model."""
        if attr.startswith("_") or attr in ("spec", "name"):
            return super().__getattr__(attr)  # type: ignore[misc]
        return getattr(self.get(), attr)
