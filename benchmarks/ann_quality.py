"""Approximate index quality: recall@k against exact search, and selection accuracy.

* recall@k of the approximate (faiss IVF) index against exact search, k = 5 and 19, on
  synthetic benchmarks (held-out queries from the same distribution), with and without
  a task mask (the leave-one-task-out search);
* on the shared real benchmarks (MiniLM embeddings, from the embedding cache), the same
  recall, and the leave-one-task-out evaluation (``evaluation.evaluate``) run once with
  exact search and once with the approximate index forced on (the benchmarks are small:
  the default ``nprobe`` scans a large share of them, so a starved ``nprobe=2`` is run
  too).

    .venv/bin/python benchmarks/ann_quality.py
    .venv/bin/python benchmarks/ann_quality.py --sizes 100000 --real llmrouter mmlu_pro
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from _common import SHARED, index_options, machine, print_table, synthetic, timed, write_json

from langchain_benchrouter import Benchmark
from langchain_benchrouter.core.embeddings import CachedEmbedder, resolve_embedder
from langchain_benchrouter.core.index import NeighborIndex
from langchain_benchrouter.evaluation.harness import evaluate


def recall(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a, b, strict=True)]))


def recall_rows(
    name: str, X: np.ndarray, Q: np.ndarray, dtype: str, nprobes: list[int | None], **kw: Any
) -> list[dict[str, Any]]:
    exact = NeighborIndex(X, dtype=dtype)  # type: ignore[arg-type]
    truth = exact.search(Q, 19)
    rows = []
    for nprobe in nprobes:
        build_s, ann = timed(
            lambda nprobe=nprobe: NeighborIndex(X, dtype=dtype, approximate=True, nprobe=nprobe)  # type: ignore[arg-type]
        )
        search_s, nb = timed(lambda ann=ann: ann.search(Q, 19))
        row = {
            "data": name,
            "N": len(X),
            "dtype": dtype,
            "nlist": ann.nlist,
            "nprobe": ann.nprobe,
            "recall@5": recall(nb.indices[:, :5], truth.indices[:, :5]),
            "recall@19": recall(nb.indices, truth.indices),
            "build_s": build_s,
            "ms_per_query": 1e3 * search_s / len(Q),
        }
        if "task" in kw:  # masked (leave-one-task-out) search of one task's rows
            task = kw["task"]
            inside = task == 0
            t_truth = exact.search(X[inside][:500], 19, allowed=~inside)
            t_nb = ann.search(X[inside][:500], 19, allowed=~inside)
            row["loto_recall@19"] = recall(t_nb.indices, t_truth.indices)
        rows.append(row)
        print_table([row], list(row))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--real", nargs="*", default=["llmrouter"], help="shared data sets")
    ap.add_argument("--out", default="ann_quality")
    args = ap.parse_args()
    t_start = time.time()
    rows: list[dict[str, Any]] = []
    for n in args.sizes:
        X, _, task = synthetic(n + args.queries, 30, 1, seed=3)
        Q, X, task = X[n:], X[:n], task[:n]
        dtype = "float32" if n < 500_000 else "float16"
        rows += recall_rows("synthetic", X, Q, dtype, [8, 16, None], task=task)
        del X, Q
    sel_rows: list[dict[str, Any]] = []
    if args.real:
        emb = CachedEmbedder(resolve_embedder(None), None)
        for name in args.real:
            bench = Benchmark.load(SHARED / name / "instances.jsonl.gz")
            X = emb.embed(bench.texts)
            Q = X[np.random.default_rng(0).choice(len(X), 500, replace=False)]
            rows += recall_rows(name, X, Q, "float32", [2, None], task=bench.task_index)
            for label, approximate, extra in [
                ("exact", False, {}),
                ("ivf default nprobe", True, {}),
                ("ivf nprobe=2", True, {"nprobe": 2}),
            ]:
                with index_options(approximate=approximate, **extra):
                    res = evaluate(bench, embedder=emb, embeddings=X, cost_curve=False)
                m = res.methods
                sel_rows.append(
                    {
                        "data": name,
                        "search": label,
                        **{
                            f"{k}": m[k].accuracy
                            for k in (
                                "s1",
                                "s2",
                                "s3",
                                "eb_select",
                                "per_instance",
                                "route_calibrated",
                            )
                        },
                        "oracle": m["oracle"].accuracy,
                        "bma": m["bma"].accuracy,
                    }
                )
                print_table(sel_rows[-1:], list(sel_rows[-1]))
    print("\nRecall of the approximate index against exact search")
    print_table(rows, list(rows[0]))
    if sel_rows:
        print("\nLeave-one-task-out selection accuracy, exact vs approximate search")
        print_table(sel_rows, list(sel_rows[0]))
    path = write_json(
        args.out,
        {
            "machine": machine(),
            "wall_s": time.time() - t_start,
            "args": vars(args),
            "recall": rows,
            "selection": sel_rows,
        },
    )
    print(f"\nwrote {path}; load average now {machine()['loadavg']}")


if __name__ == "__main__":
    main()
