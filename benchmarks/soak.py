"""Soak test: route 100,000 inputs through one RoutedChatModel and report memory growth.

Uses the hashing embedder and echo chat models (no network, no model download). Inputs
are routed in calls of ``--batch`` inputs (``batch``), with every ``--invoke-every``-th
call made with ``invoke`` instead, a share of over-long inputs (truncated to
``max_routing_chars``) and a share of inputs whose first model fails (fallback path).
Resident memory is read from ``/proc/self/statm`` (Linux; peak RSS from ``resource``
elsewhere) after a warm-up and then at every tenth of the run; the target is flat.

Run::

    .venv/bin/python benchmarks/soak.py            # 100,000 routings
    .venv/bin/python benchmarks/soak.py --n 20000  # quicker
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit_tests"))

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from test_runnable_support import MODELS, VOCAB, make_router

from langchain_benchrouter.langchain.messages import routing_text
from langchain_benchrouter.langchain.runnable import RoutedChatModel

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Current resident set size in MB (peak RSS where /proc is unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE / 2**20
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def make_inputs(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = [w for ws in VOCAB.values() for w in ws]
    out = []
    for i in range(n):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 20))) + f" #{i}"
        if i % 97 == 0:
            text += " pad" * 5_000  # ~20 KB: over max_routing_chars, truncated
        if i % 11 == 0:
            text += " #fail"
        out.append(text)
    return out


def echo(name: str) -> RunnableLambda[Any, AIMessage]:
    def answer(value: Any) -> AIMessage:
        text = routing_text(value)
        if name == MODELS[0] and text.endswith("#fail"):
            msg = "refused"
            raise ConnectionError(msg)
        return AIMessage(f"{name}: {len(text)}")

    return RunnableLambda(answer, name=name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="routings in all")
    parser.add_argument("--batch", type=int, default=50, help="inputs per batch call")
    parser.add_argument("--invoke-every", type=int, default=10, help="every k-th call: invoke")
    args = parser.parse_args()

    llm = RoutedChatModel(router=make_router(), models={m: echo(m) for m in MODELS}, fallbacks=1)
    pool = make_inputs(5_000, seed=0)
    warm = pool[: args.batch * 20]
    llm.batch(warm)
    for t in warm[:50]:
        llm.invoke(t)
    gc.collect()
    start_rss, t0 = rss_mb(), time.perf_counter()
    print(f"after warm-up: rss {start_rss:.1f} MB, peak {peak_mb():.1f} MB")
    routed, calls, fallbacks, truncated = 0, 0, 0, 0
    checkpoints = {args.n * k // 10 for k in range(1, 11)}
    samples: list[tuple[int, float]] = []
    next_mark = min(checkpoints)
    while routed < args.n:
        calls += 1
        if calls % args.invoke_every == 0:
            chunk = [pool[routed % len(pool)]]
            outs = [llm.invoke(chunk[0])]
        else:
            size = min(args.batch, args.n - routed)
            chunk = [pool[(routed + j) % len(pool)] for j in range(size)]
            outs = llm.batch(chunk)
        for out in outs:
            info = out.response_metadata["benchrouter"]
            fallbacks += bool(info.get("fallback_from"))
            truncated += "truncated_from" in info
        routed += len(chunk)
        if routed >= next_mark:
            gc.collect()
            samples.append((routed, rss_mb()))
            elapsed = time.perf_counter() - t0
            print(
                f"{routed:>8,} routed  rss {samples[-1][1]:7.1f} MB  "
                f"{routed / elapsed:7.0f} routings/s"
            )
            checkpoints.discard(next_mark)
            next_mark = min(checkpoints) if checkpoints else args.n + 1
    elapsed = time.perf_counter() - t0
    first = samples[0][1]
    last = samples[-1][1]
    print(
        f"\n{routed:,} routings in {calls:,} calls, {elapsed:.1f} s "
        f"({routed / elapsed:.0f}/s); {fallbacks:,} fallbacks, {truncated:,} truncated inputs"
    )
    print(
        f"rss: {start_rss:.1f} MB after warm-up, {first:.1f} MB at 10%, {last:.1f} MB at the end;"
        f" growth 10%->100%: {last - first:+.1f} MB "
        f"({(last - first) * 1024 / max(1, routed - samples[0][0]):.3f} KB per routing); "
        f"peak {peak_mb():.1f} MB"
    )
    huge = "lorem ipsum dolor sit amet " * 400_000  # 10.8 MB
    before, t1 = rss_mb(), time.perf_counter()
    info = llm.invoke(huge).response_metadata["benchrouter"]
    print(
        f"one {info['truncated_from'] / 1e6:.1f} MB input: routed on its first "
        f"{llm.max_routing_chars:,} characters in {time.perf_counter() - t1:.2f} s; "
        f"rss {rss_mb() - before:+.1f} MB"
    )


if __name__ == "__main__":
    main()
