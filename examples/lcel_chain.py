"""An LCEL chain that routes each question to one of nine chat models (offline).

The chat models are fakes that say who they are, so the script runs without keys or
network; swap in real ones (ChatOpenAI, ChatOllama, ...) keyed by the same names.
The router uses the fast hashing embedder here; drop ``embedder="hashing"`` to use the
packaged all-MiniLM-L6-v2 (better routing, slower first fit).

Run: python examples/lcel_chain.py
"""

from __future__ import annotations

import itertools

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.langchain.runnable import RoutedChatModel


def fake_chat(name: str) -> GenericFakeChatModel:
    # itertools.repeat, not a generator: batch threads may share the model, and a
    # generator entered from two threads at once raises "generator already executing".
    return GenericFakeChatModel(messages=itertools.repeat(f"[{name}] Here is my answer."))


def main() -> None:
    router = Router(embedder="hashing").fit(Benchmark.bundled())
    llm = RoutedChatModel(router=router, models={m: fake_chat(m) for m in router.model_names})

    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a concise assistant."), ("human", "{question}")]
    )
    chain = prompt | llm | StrOutputParser()

    questions = [
        "Janet has 3 apples and buys 5 more. How many apples does she have?",
        "Write a Python function that returns the n-th Fibonacci number.",
        "Which river flows through Paris?",
    ]
    print("== chain.batch: one embedding call, one batch call per chosen model")
    for q, answer in zip(questions, chain.batch([{"question": q} for q in questions]), strict=True):
        print(f"{q[:60]:60s} -> {answer}")

    print("\n== the decision travels with the message")
    msg = llm.invoke(questions[0])
    decision = msg.response_metadata["benchrouter"]
    top = sorted(decision["proba"].items(), key=lambda kv: -kv[1])[:3]
    print("chosen:", decision["model"], "| distance to benchmark:", decision["distance"])
    print("top predicted correctness:", ", ".join(f"{m}={p:.2f}" for m, p in top))

    print("\n== streaming (tokens of the chosen model, once)")
    print("|".join(chunk for chunk in chain.stream({"question": questions[1]})))

    print("\n== runtime knobs via config['configurable']")
    forced = chain.invoke(
        {"question": questions[2]}, {"configurable": {"benchrouter_model": "gemma-2-9b-it"}}
    )
    print("forced model:", forced)
    cheap = llm.invoke(questions[1], {"configurable": {"benchrouter_cost_weight": 1.0}})
    print("with cost_weight=1.0:", cheap.response_metadata["benchrouter"]["model"])


if __name__ == "__main__":
    main()
