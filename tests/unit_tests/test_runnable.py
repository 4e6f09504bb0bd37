"""RoutedChatModel: routing, call styles, batch grouping, streaming, declarative ops, knobs."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel
from test_lexical import _records as lexical_records
from test_runnable_support import (
    CODE,
    CODE_Q,
    MATH,
    MATH_Q,
    MODELS,
    TRIVIA,
    TRIVIA_Q,
    Collector,
    FakeChat,
    fakes,
    make_router,
)

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import (
    ModelConfigError,
    NotFittedError,
    RoutingInputError,
    UnknownModelError,
)
from langchain_benchrouter.langchain.runnable import RoutedChatModel, error_decision


@pytest.fixture(scope="module")
def router() -> Router:
    return make_router()


def make(router: Router, **kwargs: Any) -> tuple[RoutedChatModel, dict[str, FakeChat]]:
    models = kwargs.pop("models", None) or fakes()
    return RoutedChatModel(router=router, models=models, **kwargs), models


def chosen(output: Any) -> str:
    return str(output.response_metadata["benchrouter"]["model"])


# --------------------------------------------------------------------------- construction


def test_model_names_must_match(router: Router) -> None:
    models = fakes()
    with pytest.raises(UnknownModelError, match="unknown to the router"):
        RoutedChatModel(router=router, models={**models, "gpt-9": FakeChat()})
    with pytest.raises(UnknownModelError, match="allow_subset=True") as info:
        RoutedChatModel(router=router, models={MATH: models[MATH]})
    assert CODE in str(info.value) and TRIVIA in str(info.value)
    with pytest.raises(RoutingInputError, match="empty"):
        RoutedChatModel(router=router, models={}, allow_subset=True)
    with pytest.raises(ValueError, match="no cost is known"):
        RoutedChatModel(router=router, models=models, costs={MATH: 1.0}, cost_weight=1.0)
    with pytest.raises(UnknownModelError, match="default_model"):
        RoutedChatModel(router=router, models=models, default_model="nope")


def test_unfitted_router_is_refused() -> None:
    with pytest.raises(NotFittedError):
        RoutedChatModel(router=Router(embedder="hashing"), models=fakes())


def test_subset_routes_only_among_configured(router: Router) -> None:
    models = fakes()
    llm = RoutedChatModel(
        router=router, models={CODE: models[CODE], TRIVIA: models[TRIVIA]}, allow_subset=True
    )
    out = llm.invoke(MATH_Q)
    assert chosen(out) in {CODE, TRIVIA}
    assert set(out.response_metadata["benchrouter"]["proba"]) == set(MODELS)
    assert not models[MATH].calls


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("question", "expected"), [(MATH_Q, MATH), (CODE_Q, CODE), (TRIVIA_Q, TRIVIA)]
)
def test_invoke_routes_each_input(router: Router, question: str, expected: str) -> None:
    llm, models = make(router)
    out = llm.invoke(question)
    assert isinstance(out, AIMessage)
    assert out.content == f"{expected}: {question}"
    assert len(models[expected].calls) == 1
    assert sum(len(m.calls) for m in models.values()) == 1
    decision = out.response_metadata["benchrouter"]
    assert decision == router.route([question]).decision(0)
    assert decision["mode"] == "per_input"
    assert 0.0 <= decision["distance"] <= 2.0


def test_accepts_every_chat_input_form(router: Router) -> None:
    llm, _ = make(router)
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
    forms: list[Any] = [
        CODE_Q,
        prompt.invoke({"q": CODE_Q}),
        [SystemMessage("sys"), HumanMessage(CODE_Q)],
        [("human", CODE_Q)],
        [{"role": "user", "content": CODE_Q}],
    ]
    assert [chosen(llm.invoke(f)) for f in forms] == [CODE] * len(forms)


def test_routes_on_latest_human_message_by_default(router: Router) -> None:
    llm, _ = make(router)
    conv = [HumanMessage(CODE_Q), AIMessage("sure"), HumanMessage(MATH_Q)]
    assert chosen(llm.invoke(conv)) == MATH
    whole = "\n".join([CODE_Q, "sure", MATH_Q])
    expected = router.route([whole])[0]
    scoped, _ = make(router, routing_scope="conversation")
    assert chosen(scoped.invoke(conv)) == expected
    knob = {"configurable": {"benchrouter_routing_scope": "conversation"}}
    assert llm.invoke(conv, knob).response_metadata["benchrouter"] == router.route(
        [whole]
    ).decision(0)


def test_non_text_blocks_ignored_and_textless_input(router: Router) -> None:
    llm, _ = make(router)
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    mixed = HumanMessage(content=[image, {"type": "text", "text": TRIVIA_Q}])
    assert chosen(llm.invoke([mixed])) == TRIVIA
    image_only = [HumanMessage(content=[image])]
    with pytest.raises(RoutingInputError, match="no text to route on"):
        llm.invoke(image_only)
    with pytest.raises(RoutingInputError, match="no text"):
        llm.invoke([SystemMessage("only a system message")])
    fallback, models = make(router, default_model=CODE)
    out = fallback.invoke(image_only)
    assert out.response_metadata["benchrouter"]["mode"] == "default"
    assert chosen(out) == CODE and len(models[CODE].calls) == 1


@pytest.mark.parametrize("bad", [42, None, "   ", {"q": 1}])
def test_bad_inputs_raise_clear_errors(router: Router, bad: Any) -> None:
    llm, models = make(router)
    with pytest.raises(RoutingInputError):
        llm.invoke(bad)
    assert not any(m.calls for m in models.values())


# --------------------------------------------------------------------------- LCEL and call styles


def test_lcel_composition(router: Router) -> None:
    llm, _ = make(router)
    prompt = ChatPromptTemplate.from_messages([("system", "Answer."), ("human", "{question}")])
    chain = prompt | llm | StrOutputParser()
    assert chain.invoke({"question": CODE_Q}) == f"{CODE}: {CODE_Q}"
    assert chain.batch([{"question": MATH_Q}, {"question": TRIVIA_Q}]) == [
        f"{MATH}: {MATH_Q}",
        f"{TRIVIA}: {TRIVIA_Q}",
    ]
    assert "".join(chain.stream({"question": TRIVIA_Q})) == f"{TRIVIA}: {TRIVIA_Q}"


async def test_async_call_styles(router: Router) -> None:
    llm, models = make(router)
    out = await llm.ainvoke(MATH_Q)
    assert chosen(out) == MATH
    outs = await llm.abatch([TRIVIA_Q, CODE_Q, MATH_Q])
    assert [chosen(o) for o in outs] == [TRIVIA, CODE, MATH]
    assert [o.content for o in outs] == [
        f"{TRIVIA}: {TRIVIA_Q}",
        f"{CODE}: {CODE_Q}",
        f"{MATH}: {MATH_Q}",
    ]
    chunks = [c async for c in llm.astream(CODE_Q)]
    assert "".join(str(c.content) for c in chunks) == f"{CODE}: {CODE_Q}"
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert models[CODE].batch_calls == 1 and models[TRIVIA].batch_calls == 1


def test_batch_groups_by_model_keeps_order_and_embeds_once(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = router.embedder_

    class Counting:
        name = real.name

        def embed(self, texts: Any) -> Any:
            calls.append(len(texts))
            return real.embed(texts)

    monkeypatch.setattr(router, "embedder_", Counting())
    llm, models = make(router)
    inputs = [MATH_Q, CODE_Q, MATH_Q + " again", TRIVIA_Q, CODE_Q + " again"]
    outs = llm.batch(inputs)
    assert calls == [5]
    assert [chosen(o) for o in outs] == [MATH, CODE, MATH, TRIVIA, CODE]
    assert [o.content for o in outs] == [
        f"{m}: {q}" for m, q in zip([MATH, CODE, MATH, TRIVIA, CODE], inputs, strict=False)
    ]
    assert {m: f.batch_calls for m, f in models.items()} == {MATH: 1, CODE: 1, TRIVIA: 1}
    assert {m: len(f.calls) for m, f in models.items()} == {MATH: 2, CODE: 2, TRIVIA: 1}
    assert llm.batch([]) == []


@pytest.mark.parametrize("use_async", [False, True])
async def test_batch_return_exceptions(router: Router, use_async: bool) -> None:
    models = fakes()
    models[CODE].error = RuntimeError("code model is down")
    llm = RoutedChatModel(router=router, models=models)
    inputs: list[Any] = [MATH_Q, CODE_Q, 42, TRIVIA_Q]
    outs = (
        await llm.abatch(inputs, return_exceptions=True)
        if use_async
        else llm.batch(inputs, return_exceptions=True)
    )
    assert chosen(outs[0]) == MATH and chosen(outs[3]) == TRIVIA
    assert isinstance(outs[1], RuntimeError) and "down" in str(outs[1])
    assert isinstance(outs[2], RoutingInputError)
    with pytest.raises((RuntimeError, RoutingInputError)):
        if use_async:
            await llm.abatch(inputs)
        else:
            llm.batch(inputs)


def test_stream_chunk_order_and_decision_on_first_chunk(router: Router) -> None:
    llm, models = make(router)
    chunks = list(llm.stream(TRIVIA_Q))
    text = f"{TRIVIA}: {TRIVIA_Q}"
    assert [c.content for c in chunks] == [t for t in __import__("re").split(r"(\s)", text) if t]
    assert chunks[0].response_metadata["benchrouter"]["model"] == TRIVIA
    assert all("benchrouter" not in c.response_metadata for c in chunks[1:])
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert merged.content == text
    assert merged.response_metadata["benchrouter"]["model"] == TRIVIA
    assert merged.usage_metadata is not None and merged.usage_metadata["total_tokens"] == 7
    assert len(models[TRIVIA].calls) == 1


# --------------------------------------------------------------------------- declarative ops


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return str(eval(expression, {"__builtins__": {}}))


def test_bind_tools_applies_to_chosen_model(router: Router) -> None:
    call = AIMessage(
        "", tool_calls=[{"name": "calculator", "args": {"expression": "6*7"}, "id": "c1"}]
    )
    models = fakes(math=[call])
    llm = RoutedChatModel(router=router, models=models).bind_tools([calculator], tool_choice="auto")
    assert isinstance(llm, RoutedChatModel)
    out = llm.invoke(MATH_Q)
    assert out.tool_calls[0]["name"] == "calculator" and out.tool_calls[0]["args"] == {
        "expression": "6*7"
    }
    kwargs = models[MATH].calls[0]["kwargs"]
    assert kwargs["tools"][0]["function"]["name"] == "calculator"
    assert kwargs["tool_choice"] == "auto"
    llm.invoke(CODE_Q)
    assert models[CODE].calls[0]["kwargs"]["tools"][0]["function"]["name"] == "calculator"


def test_bind_tools_streams_tool_call_chunks(router: Router) -> None:
    call = AIMessage(
        "", tool_calls=[{"name": "calculator", "args": {"expression": "1+1"}, "id": "c9"}]
    )
    llm = RoutedChatModel(router=router, models=fakes(math=[call])).bind_tools([calculator])
    chunks = list(llm.stream(MATH_Q))
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert merged.tool_calls == [
        {"name": "calculator", "args": {"expression": "1+1"}, "id": "c9", "type": "tool_call"}
    ]


class Answer(BaseModel):
    """The final answer."""

    value: int
    unit: str


def test_with_structured_output_on_routed_model(router: Router) -> None:
    call = AIMessage(
        "", tool_calls=[{"name": "Answer", "args": {"value": 42, "unit": "apples"}, "id": "s1"}]
    )
    models = fakes(code=[call, call.model_copy()])
    llm = RoutedChatModel(router=router, models=models)
    structured = llm.with_structured_output(Answer)
    assert structured.invoke(CODE_Q) == Answer(value=42, unit="apples")
    raw = llm.with_structured_output(Answer, include_raw=True).invoke(CODE_Q)
    assert raw["parsed"] == Answer(value=42, unit="apples")
    assert raw["raw"].response_metadata["benchrouter"]["model"] == CODE
    assert models[CODE].calls[0]["kwargs"]["tools"][0]["function"]["name"] == "Answer"


def test_bind_and_with_retry_apply_to_chosen_model(router: Router) -> None:
    class Flaky(FakeChat):
        failures: int = 2

        def _generate(
            self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> Any:
            if self.failures:
                self.failures -= 1
                self.calls.append({"failed": True})
                raise ConnectionError("transient")
            return super()._generate(messages, stop, run_manager, **kw)

    models: dict[str, FakeChat] = {**fakes(), MATH: Flaky(label=MATH)}
    llm = RoutedChatModel(router=router, models=models).bind(stop=["\n"])
    assert isinstance(llm, RoutedChatModel)
    llm = llm.with_retry(stop_after_attempt=3, wait_exponential_jitter=False)
    out = llm.invoke(MATH_Q)
    assert chosen(out) == MATH
    assert len(models[MATH].calls) == 3 and models[MATH].calls[-1]["stop"] == ["\n"]
    failing = RoutedChatModel(
        router=router, models={**fakes(), MATH: Flaky(label=MATH, failures=5)}
    )
    with pytest.raises(ConnectionError):
        failing.with_retry(stop_after_attempt=2, wait_exponential_jitter=False).invoke(MATH_Q)


def test_with_config_survives_later_declarative_ops(router: Router) -> None:
    llm, models = make(router)
    configured = llm.with_config(configurable={"benchrouter_model": TRIVIA}, tags=["t1"])
    assert isinstance(configured, RoutedChatModel)
    out = configured.bind_tools([calculator]).invoke(MATH_Q)
    assert chosen(out) == TRIVIA and out.response_metadata["benchrouter"]["mode"] == "forced"
    assert models[TRIVIA].calls[0]["kwargs"]["tools"]


# --------------------------------------------------------------------------- knobs and costs


def test_config_specs_document_the_knobs(router: Router) -> None:
    llm, _ = make(router)
    ids = {s.id for s in llm.config_specs}
    assert {
        "benchrouter_model",
        "benchrouter_cost_weight",
        "benchrouter_mode",
        "benchrouter_routing_scope",
    } <= ids
    other, _ = make(router, config_prefix="r2")
    assert "r2_model" in {s.id for s in other.config_specs}


def test_forced_model_via_config(router: Router) -> None:
    llm, _models = make(router)
    out = llm.invoke(MATH_Q, {"configurable": {"benchrouter_model": CODE}})
    assert chosen(out) == CODE and out.response_metadata["benchrouter"] == {
        "model": CODE,
        "mode": "forced",
    }
    with pytest.raises(UnknownModelError, match="gpt-9"):
        llm.invoke(MATH_Q, {"configurable": {"benchrouter_model": "gpt-9"}})
    with pytest.raises(ValueError, match="cost_weight"):
        llm.invoke(MATH_Q, {"configurable": {"benchrouter_cost_weight": -1}})
    with pytest.raises(ValueError, match="mode"):
        llm.invoke(MATH_Q, {"configurable": {"benchrouter_mode": "sometimes"}})


def test_cost_weight_trades_score_for_cost(router: Router) -> None:
    costs = {MATH: 10.0, CODE: 0.0, TRIVIA: 0.0}
    llm, _ = make(router, costs=costs)
    assert chosen(llm.invoke(MATH_Q)) == MATH  # cost ignored at weight 0
    out = llm.invoke(MATH_Q, {"configurable": {"benchrouter_cost_weight": 1.0}})
    assert chosen(out) != MATH
    assert out.response_metadata["benchrouter"]["cost"][MATH] == 10.0
    per_token, _ = make(router, token_costs={MATH: 1e-2, CODE: 0.0, TRIVIA: 0.0}, cost_weight=1.0)
    assert chosen(per_token.invoke(MATH_Q)) != MATH
    # Without explicit costs the router's known prices are used, as Router.route does.
    priced, _ = make(router, cost_weight=3.0)
    assert [chosen(o) for o in priced.batch([MATH_Q, CODE_Q, TRIVIA_Q])] == list(
        router.route([MATH_Q, CODE_Q, TRIVIA_Q], cost_weight=3.0)
    )
    with pytest.raises(ValueError, match="no cost is known"):
        make(router, costs={MATH: 1.0}, cost_weight=1.0)


def test_cost_aware_route_keeps_the_lexical_decision() -> None:
    # Model b wins the "integral" inputs the kNN does not tell apart: the lexical step
    # switches the third input to b, with costs as without.
    router = Router(embedder="hashing", cache_dir=False).fit(
        Benchmark.from_records(lexical_records())
    )
    queries = [
        "history question garden winter integral",
        "history question garden winter letter",
        "physics question bridge forest market integral",
    ]
    costs = {"a": 0.0, "b": 0.01}
    expected = router.route(queries, cost_weight=1.0, costs=costs)
    assert expected.lexical is not None and expected.lexical.tolist() == [False, False, True]
    models = {"a": FakeChat(label="a"), "b": FakeChat(label="b")}
    llm = RoutedChatModel(router=router, models=models, costs=costs, cost_weight=1.0)
    infos = [o.response_metadata["benchrouter"] for o in llm.batch(queries)]
    assert [i["model"] for i in infos] == list(expected) == ["b", "a", "b"]
    assert [i["lexical_switch"] for i in infos] == [False, False, True]
    assert infos[2]["cost"] == costs and infos[2]["cost_weight"] == 1.0
    # Per-token costs (per input) keep the flag too.
    per_token = RoutedChatModel(
        router=router, models=models, token_costs={"a": 0.0, "b": 1e-6}, cost_weight=1.0
    )
    infos = [o.response_metadata["benchrouter"] for o in per_token.batch(queries)]
    assert [i["lexical_switch"] for i in infos] == [False, False, True]
    assert [i["model"] for i in infos] == ["b", "a", "b"]


# --------------------------------------------------------------------------- per task


def test_for_task_pins_one_model(router: Router) -> None:
    llm, models = make(router)
    texts = [MATH_Q, "compute the total number: solve plus times divide", "sum the integer product"]
    sample = [*texts[:2], [("human", texts[2])]]
    pinned = llm.for_task(sample)
    assert pinned.selection == router.select_model(texts)
    s2 = llm.for_task(sample, method="s2")
    assert s2.selection is not None and s2.selection.model == MATH
    assert s2.selection == router.select_model(texts, method="s2")
    out = s2.invoke(CODE_Q)
    assert chosen(out) == MATH
    assert out.response_metadata["benchrouter"]["mode"] == "per_task"
    assert out.response_metadata["benchrouter"]["why"] == s2.selection.why
    assert [chosen(o) for o in s2.batch([CODE_Q, TRIVIA_Q])] == [MATH, MATH]
    assert models[MATH].batch_calls == 1
    back = s2.invoke(CODE_Q, {"configurable": {"benchrouter_mode": "per_input"}})
    assert chosen(back) == CODE
    with pytest.raises(RoutingInputError, match="single string"):
        llm.for_task(MATH_Q)
    with pytest.raises(RoutingInputError):
        llm.for_task([])


def test_per_task_mode_without_selection_selects_once_per_batch(router: Router) -> None:
    llm, models = make(router, mode="per_task")
    outs = llm.batch([CODE_Q, CODE_Q + " list", MATH_Q])
    assert len({chosen(o) for o in outs}) == 1
    assert chosen(outs[0]) == router.select_model([CODE_Q, CODE_Q + " list", MATH_Q]).model
    assert sum(m.batch_calls for m in models.values()) == 1


# --------------------------------------------------------------------------- strict options


def test_unknown_option_names_the_closest(router: Router) -> None:
    with pytest.raises(
        RoutingInputError, match=r"unknown option 'cost_wieght'; did you mean 'cost_weight'\?"
    ):
        RoutedChatModel(router=router, models=fakes(), cost_wieght=1.0)
    with pytest.raises(RoutingInputError, match="unknown option 'temperature'; valid options"):
        RoutedChatModel(router=router, models=fakes(), temperature=0)
    # the replay state of bind_tools/with_config is no constructor option
    for internal in ("queued_operations", "bound_config", "_queued"):
        with pytest.raises(RoutingInputError, match=f"unknown option '{internal}'"):
            RoutedChatModel(router=router, models=fakes(), **{internal: []})


@pytest.mark.parametrize("bad", [None, "router_dir", object()])
def test_router_must_be_a_router(bad: Any) -> None:
    with pytest.raises(RoutingInputError, match=r"router= a fitted Router \(Router.load"):
        RoutedChatModel(router=bad, models=fakes())
    with pytest.raises(RoutingInputError, match="router= a fitted Router"):
        RoutedChatModel(models=fakes())


@pytest.mark.parametrize("weight", [float("inf"), float("nan"), -0.5, True, "1"])
def test_cost_weight_out_of_range_is_refused(router: Router, weight: Any) -> None:
    with pytest.raises(RoutingInputError, match="cost_weight must be a finite number >= 0"):
        RoutedChatModel(router=router, models=fakes(), cost_weight=weight)


@pytest.mark.parametrize("table", ["costs", "token_costs"])
@pytest.mark.parametrize("value", ["x", -1.0, float("nan"), float("inf"), None])
def test_bad_costs_are_refused(router: Router, table: str, value: Any) -> None:
    with pytest.raises(RoutingInputError, match=rf"{table}\['{MATH}'\] must be a finite number"):
        RoutedChatModel(router=router, models=fakes(), **{table: {MATH: value, CODE: 1.0}})
    with pytest.raises(RoutingInputError, match="must be a dict"):
        RoutedChatModel(router=router, models=fakes(), **{table: [1.0, 2.0]})


def test_models_must_be_a_mapping_of_chat_models(router: Router) -> None:
    with pytest.raises(RoutingInputError, match="models must be a dict"):
        RoutedChatModel(router=router, models=list(fakes().values()))
    with pytest.raises(ModelConfigError, match=f"chat model '{MATH}'.*got int"):
        RoutedChatModel(router=router, models={**fakes(), MATH: 3})


def test_bound_config_and_queued_operations_survive_each_other(router: Router) -> None:
    llm, models = make(router)
    forced: Any = {"configurable": {"benchrouter_model": CODE}}
    both = llm.bind(stop=["\n"]).with_config(forced).bind(stop=["END"])
    assert "queued_operations" not in repr(both) and "bound_config" not in repr(both)
    out = both.invoke(MATH_Q)
    assert chosen(out) == CODE and out.response_metadata["benchrouter"]["mode"] == "forced"
    assert models[CODE].calls[-1]["stop"] == ["END"] and not models[MATH].calls
    assert chosen(llm.invoke(MATH_Q)) == MATH  # the original is untouched


# --------------------------------------------------------------------------- model strings

ABSENT = "anthropic:claude-x"  # langchain-anthropic is not installed in the test env


def test_model_string_is_created_only_when_chosen(router: Router) -> None:
    models: dict[str, Any] = {**fakes(), TRIVIA: ABSENT}
    llm = RoutedChatModel(router=router, models=models)
    assert llm.config_specs  # listing specs does not create the model
    assert chosen(llm.invoke(MATH_Q)) == MATH
    with pytest.raises(ModelConfigError) as info:
        llm.invoke(TRIVIA_Q)
    text = str(info.value)
    assert f"'{TRIVIA}'" in text and ABSENT in text and "pip install langchain-anthropic" in text
    assert error_decision(info.value)["model"] == TRIVIA  # type: ignore[index]
    outs = llm.batch([MATH_Q, TRIVIA_Q], return_exceptions=True)
    assert chosen(outs[0]) == MATH and isinstance(outs[1], ModelConfigError)


async def test_model_string_failure_falls_back_when_allowed(router: Router) -> None:
    models: dict[str, Any] = {**fakes(), TRIVIA: ABSENT}
    llm = RoutedChatModel(router=router, models=models, fallbacks=1)
    out = await llm.ainvoke(TRIVIA_Q)
    meta = out.response_metadata["benchrouter"]
    assert meta["routed_model"] == TRIVIA and meta["model"] != TRIVIA
    assert "ModelConfigError" in meta["fallback_from"][0]["error"]
    outs = await llm.abatch([TRIVIA_Q, CODE_Q])
    assert chosen(outs[0]) != TRIVIA and chosen(outs[1]) == CODE


def test_malformed_model_string_fails_at_construction(router: Router) -> None:
    with pytest.raises(ModelConfigError, match="'provider:model'"):
        RoutedChatModel(router=router, models={**fakes(), TRIVIA: "claude-x"})
    with pytest.raises(ModelConfigError, match="did you mean 'anthropic'"):
        RoutedChatModel(router=router, models={**fakes(), TRIVIA: "antropic:claude-x"})


# --------------------------------------------------------------------------- aliases


def test_alias_routes_a_configured_model_under_a_benchmark_name(router: Router) -> None:
    mine = FakeChat(label="mine")
    models = {**fakes(), "my-math": mine}
    del models[MATH]
    llm = RoutedChatModel(router=router, models=models, aliases={"my-math": MATH})
    tracer = Collector()
    out = llm.invoke(MATH_Q, {"callbacks": [tracer]})
    meta = out.response_metadata["benchrouter"]
    assert meta["model"] == "my-math" and meta["scored_as"] == MATH
    assert set(meta["proba"]) == set(MODELS)  # the router's scores, by benchmark name
    assert len(mine.calls) == 1
    run_meta = tracer.roots[0].extra["metadata"]
    assert run_meta["benchrouter_model"] == "my-math"
    assert run_meta["benchrouter"]["scored_as"] == MATH
    code = llm.invoke(CODE_Q).response_metadata["benchrouter"]
    assert code["model"] == CODE and "scored_as" not in code
    forced = llm.invoke(CODE_Q, {"configurable": {"benchrouter_model": "my-math"}})
    assert forced.response_metadata["benchrouter"]["scored_as"] == MATH


def test_alias_with_allow_subset_and_costs(router: Router) -> None:
    mine = FakeChat(label="mine")
    models = {"my-math": mine, CODE: FakeChat(label=CODE)}
    llm = RoutedChatModel(
        router=router, models=models, aliases={"my-math": MATH}, allow_subset=True
    )
    outs = llm.batch([MATH_Q, CODE_Q, TRIVIA_Q])
    assert [chosen(o) for o in outs[:2]] == ["my-math", CODE]
    assert chosen(outs[2]) in {"my-math", CODE}
    with pytest.raises(RoutingInputError, match=r"no cost is known for \['my-math'\].*aliased"):
        RoutedChatModel(
            router=router,
            models=models,
            aliases={"my-math": MATH},
            allow_subset=True,
            cost_weight=1.0,
        )
    priced = RoutedChatModel(
        router=router,
        models=models,
        aliases={"my-math": MATH},
        allow_subset=True,
        cost_weight=1e-6,
        costs={"my-math": 0.1, CODE: 0.2},
    )
    meta = priced.invoke(MATH_Q).response_metadata["benchrouter"]
    assert meta["cost"] == {"my-math": 0.1, CODE: 0.2} and meta["model"] == "my-math"


def test_alias_for_task_names_the_configured_model(router: Router) -> None:
    models = {**fakes(), "my-math": FakeChat(label="mine")}
    del models[MATH]
    llm = RoutedChatModel(router=router, models=models, aliases={"my-math": MATH})
    pinned = llm.for_task([MATH_Q, "sum the integer product"], method="s2")
    assert pinned.selection is not None and pinned.selection.model == MATH
    meta = pinned.invoke(CODE_Q).response_metadata["benchrouter"]
    assert (meta["model"], meta["scored_as"], meta["mode"]) == ("my-math", MATH, "per_task")


def test_alias_validation(router: Router) -> None:
    chat = FakeChat()
    base = {CODE: FakeChat(), TRIVIA: FakeChat()}
    with pytest.raises(UnknownModelError, match="alias targets must be router models") as info:
        RoutedChatModel(router=router, models={**base, "mine": chat}, aliases={"mine": "gpt-9"})
    assert all(m in str(info.value) for m in MODELS)
    with pytest.raises(UnknownModelError, match=r"not configured in models"):
        RoutedChatModel(router=router, models={**base, MATH: chat}, aliases={"ghost": MATH})
    with pytest.raises(RoutingInputError, match=f"would all be scored as router model '{MATH}'"):
        RoutedChatModel(
            router=router,
            models={**base, "a": chat, "b": FakeChat()},
            aliases={"a": MATH, "b": MATH},
        )
    with pytest.raises(RoutingInputError, match="would all be scored as"):
        RoutedChatModel(
            router=router, models={**base, MATH: chat, "a": FakeChat()}, aliases={"a": MATH}
        )
    with pytest.raises(UnknownModelError, match=r"pass aliases=\{'mine'"):
        RoutedChatModel(router=router, models={**base, "mine": chat})
