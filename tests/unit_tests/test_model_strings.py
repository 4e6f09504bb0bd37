"""Chat models given as init_chat_model strings: form checks, lazy creation, clear errors."""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_benchrouter.errors import ModelConfigError, RoutingInputError
from langchain_benchrouter.langchain.models import (
    LazyChatModel,
    parse_model_string,
    resolve_chat_model,
)

ABSENT = "anthropic:claude-x"  # langchain-anthropic is not a test dependency


def test_absent_provider_package_is_really_absent() -> None:
    assert importlib.util.find_spec("langchain_anthropic") is None


@pytest.mark.parametrize("spec", ["", "   ", "gpt-4o", ":gpt-4o", "openai:", "openai: "])
def test_malformed_strings_are_refused(spec: str) -> None:
    with pytest.raises(ModelConfigError, match=r"'provider:model'") as info:
        resolve_chat_model(spec, name="small")
    assert "'small'" in str(info.value)


def test_unknown_provider_suggests_the_closest() -> None:
    with pytest.raises(ModelConfigError, match="did you mean 'openai'"):
        parse_model_string("opnai:gpt-4o", name="small")


def test_lazy_model_refuses_unknown_keywords_naming_the_closest() -> None:
    with pytest.raises(RoutingInputError, match=r"unknown option 'nmae'; did you mean 'name'\?"):
        LazyChatModel(spec=ABSENT, nmae="claude")
    assert LazyChatModel(spec=ABSENT, name="claude").name == "claude"


def test_parse_keeps_colons_in_the_model_part() -> None:
    assert parse_model_string("Ollama:llama3:8b", name="x") == ("ollama", "llama3:8b")


def test_instances_pass_through_and_other_types_are_refused() -> None:
    chat = FakeListChatModel(responses=["a"])
    assert resolve_chat_model(chat, name="x") is chat
    with pytest.raises(ModelConfigError, match="got int"):
        resolve_chat_model(3, name="x")  # type: ignore[arg-type]


def test_missing_package_names_the_pip_install() -> None:
    with pytest.raises(ModelConfigError) as info:
        resolve_chat_model(ABSENT, name="claude")
    text = str(info.value)
    assert "'claude'" in text and ABSENT in text and "pip install langchain-anthropic" in text


def test_creation_failure_names_the_api_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain.chat_models as chat_models

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("The api_key client option must be set")

    monkeypatch.setattr(chat_models, "init_chat_model", refuse)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelConfigError, match="set the OPENAI_API_KEY environment variable"):
        resolve_chat_model("openai:gpt-4o-mini", name="small")


def test_string_is_created_by_init_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain.chat_models as chat_models

    seen: list[tuple[str, str]] = []
    chat = FakeListChatModel(responses=["hi"])

    def fake_init(model: str, *, model_provider: str) -> Any:
        seen.append((model, model_provider))
        return chat

    monkeypatch.setattr(chat_models, "init_chat_model", fake_init)
    assert resolve_chat_model("ollama:llama3:8b", name="local") is chat
    assert seen == [("llama3:8b", "ollama")]


def test_lazy_model_checks_form_now_and_creates_later(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelConfigError):
        LazyChatModel(spec="claude-x", name="claude")
    lazy = LazyChatModel(spec=ABSENT, name="claude")  # package absent: still fine now
    assert not lazy.resolved and lazy.config_specs == []
    with pytest.raises(ModelConfigError, match="langchain-anthropic"):
        lazy.invoke("hi")
    with pytest.raises(ModelConfigError, match="langchain-anthropic"):
        lazy.bind_tools([])  # delegated attributes need the model too


def test_lazy_model_is_created_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain.chat_models as chat_models

    calls: list[str] = []

    def fake_init(model: str, *, model_provider: str) -> Any:
        calls.append(model)
        return FakeListChatModel(responses=["ok"] * 20)

    monkeypatch.setattr(chat_models, "init_chat_model", fake_init)
    lazy = LazyChatModel(spec="ollama:llama3", name="local")
    threads = [threading.Thread(target=lazy.invoke, args=("hi",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["llama3"] and lazy.resolved
    assert lazy.invoke("hi").content == "ok"


async def test_lazy_model_async_calls_delegate(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain.chat_models as chat_models

    monkeypatch.setattr(
        chat_models,
        "init_chat_model",
        lambda model, *, model_provider: FakeListChatModel(responses=["yo"]),
    )
    lazy = LazyChatModel(spec="ollama:llama3", name="local")
    assert (await lazy.ainvoke("hi")).content == "yo"
    assert "".join([str(c.content) async for c in lazy.astream("hi")]) == "yo"
