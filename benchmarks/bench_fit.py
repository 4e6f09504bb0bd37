"""Fitting cost: index build + leave-one-task-out reference pairs, and peak memory.

Synthetic benchmark (d = 384) with T tasks and M models; embeddings are given to
``Router.fit`` so embedding time is excluded. Each configuration runs in a fresh
process so its peak resident memory (``getrusage``) is its own.

    .venv/bin/python benchmarks/bench_fit.py                       # N = 100k and 1M
    .venv/bin/python benchmarks/bench_fit.py --sizes 100000 --engines exact
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from _common import (
    benchmark_from_arrays,
    index_options,
    machine,
    peak_rss_gb,
    print_table,
    run_isolated,
    synthetic,
    write_json,
)

from langchain_benchrouter import Router

ENGINES = {
    # label: (dtype, approximate)
    "auto f32": ("float32", "auto"),
    "auto f16": ("float16", "auto"),
    "exact f32": ("float32", False),
}


def one(n: int, tasks: int, models: int, engine: str) -> dict[str, Any]:
    dtype, approximate = ENGINES[engine]
    X, Y, task = synthetic(n, tasks, models, seed=2)
    bench = benchmark_from_arrays(Y, task)
    data_gb = (X.nbytes + Y.nbytes + bench.scores.nbytes) / 1e9
    rss_before = peak_rss_gb()
    t0 = time.perf_counter()
    with index_options(dtype=dtype, approximate=approximate):
        router = Router(k=5, embedder="hashing", cache_dir=False).fit(bench, embeddings=X)
    fit_s = time.perf_counter() - t0
    return {
        "N": n,
        "T": tasks,
        "M": models,
        "engine": engine,
        "approximate": bool(router.index_.approximate),
        "fit_s": fit_s,
        "ref_pairs": len(router.ref_u_),
        "index_GB": router.index_.nbytes / 1e9,
        "data_GB": data_gb,
        "peak_rss_before_fit_GB": rss_before,
        "peak_rss_GB": peak_rss_gb(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--tasks", type=int, default=30)
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--engines", nargs="+", default=None, help=f"of {sorted(ENGINES)}")
    ap.add_argument("--with-exact", action="store_true", help="also exact search at <= 100k")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="bench_fit")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.sizes[0], args.tasks, args.models, args.engines[0])))
        return
    rows = []
    t_start = time.time()
    for n in args.sizes:
        if args.engines:
            engines = args.engines
        elif n <= 100_000:
            engines = ["auto f32", "exact f32"] if args.with_exact else ["auto f32"]
        else:
            engines = ["auto f16"]
        for engine in engines:
            argv = [sys.executable, __file__, "--one", "--sizes", str(n)]
            argv += ["--tasks", str(args.tasks), "--models", str(args.models)]
            argv += ["--engines", engine]
            rows.append(run_isolated(argv))
            print_table(rows[-1:], list(rows[-1]))
    print("\nFit (embedding excluded), reference pairs included")
    print_table(rows, list(rows[0]))
    path = write_json(
        args.out,
        {"machine": machine(), "wall_s": time.time() - t_start, "args": vars(args), "fit": rows},
    )
    print(f"\nwrote {path}; load average now {machine()['loadavg']}")


if __name__ == "__main__":
    main()
