"""Property tests: any string through a hashing-embedder router gives a model or a library error."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage
from test_runnable_support import MODELS, fakes, make_router

from langchain_benchrouter.core.embeddings import HashingEmbedder
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.errors import BenchRouterError, RoutingInputError
from langchain_benchrouter.langchain.runnable import RoutedChatModel

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

any_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec=None), max_size=100),  # lone surrogates included
    st.sampled_from(["", " ", "\x00", "\u200b" * 10, "🙂" * 50, "a" * 20_000, "\n" * 500]),
)


@pytest.fixture(scope="module")
def router() -> Router:
    return make_router()


@pytest.fixture(scope="module")
def llm(router: Router) -> RoutedChatModel:
    return RoutedChatModel(router=router, models=fakes())


@SETTINGS
@given(texts=st.lists(any_text, min_size=1, max_size=5))
@example(texts=["\ud800", "solve x \udc00"])
def test_router_route_gives_a_known_model_or_a_library_error(
    router: Router, texts: list[str]
) -> None:
    try:
        routes = router.route(texts)
    except RoutingInputError:
        assert any(not t.strip() for t in texts)
        return
    assert all(t.strip() for t in texts)
    assert len(routes) == len(texts)
    assert set(routes) <= set(MODELS)
    assert np.isfinite(routes.proba).all()
    assert ((routes.proba >= 0) & (routes.proba <= 1)).all()
    assert np.isfinite(routes.distance).all()


@SETTINGS
@given(text=any_text)
@example(text="\x90ÅÅ\U00072c5dJ")  # hashes orthogonal to many rows: a tie at the k-th place
def test_routing_is_deterministic_and_single_equals_batch(router: Router, text: str) -> None:
    if not text.strip():
        return
    one = router.route([text])
    many = router.route([text, "solve the equation", text])
    assert one[0] == many[0] == many[2]
    assert np.array_equal(one.proba[0], many.proba[0])


@SETTINGS
@given(text=any_text)
@example(text="\ud800")  # a lone surrogate: UTF-8 cannot encode it
@example(text="a\udfff b")
def test_hashing_embedder_accepts_any_string(text: str) -> None:
    vec = HashingEmbedder().embed([text])
    assert vec.shape == (1, 256)
    assert np.isfinite(vec).all()
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-4


@SETTINGS
@given(
    value=st.one_of(
        any_text,
        st.lists(
            st.one_of(
                st.builds(HumanMessage, content=any_text),
                st.builds(AIMessage, content=any_text),
                st.tuples(st.sampled_from(["user", "assistant", "robot"]), any_text),
                st.integers(),
                st.none(),
            ),
            max_size=4,
        ),
        st.integers(),
        st.none(),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    )
)
def test_runnable_invoke_answers_or_raises_a_library_error(
    llm: RoutedChatModel, value: Any
) -> None:
    try:
        out = llm.invoke(value)
    except BenchRouterError as exc:
        assert str(exc)
        return
    decision = out.response_metadata["benchrouter"]
    assert decision["model"] in MODELS
    assert out.content.startswith(f"{decision['model']}: ")
