"""Routing overhead: embedding vs everything else, per input and in batches, vs naive kNN.

For each benchmark size N (synthetic embeddings and labels, d = 384) and model count M,
a Router is fitted on precomputed embeddings (one task: routing does not use the
reference pairs) and routes real prompts embedded by the offline MiniLM. Each call's
time is split into the embedding (timed inside the embedder) and the rest (neighbour
search, masked label means, utilities, policy). The naive alternative fits one
scikit-learn ``KNeighborsClassifier`` per model on that model's labelled rows.

    .venv/bin/python benchmarks/bench_route.py            # N = 10k, 100k, 1M
    .venv/bin/python benchmarks/bench_route.py --sizes 10000 --queries 50
"""

from __future__ import annotations

import os

# After an embedding call, torch's OpenMP threads spin-wait for more work and steal the
# 2 cores from the neighbour search that follows (measured here: ~10 ms instead of
# ~1 ms). Passive waiting is the setting to use in a router process; honour a user value.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import gc
import time
from typing import Any

import numpy as np
from _common import (
    TimedEmbedder,
    benchmark_from_arrays,
    index_options,
    machine,
    percentiles,
    print_table,
    real_texts,
    synthetic,
    timed,
    write_json,
)
from sklearn.neighbors import KNeighborsClassifier

from langchain_benchrouter import Router
from langchain_benchrouter.core.embeddings import resolve_embedder
from langchain_benchrouter.core.index import NeighborIndex

K = 5


class LookupEmbedder:
    """The real embedder, or (``active``) precomputed vectors of the same texts."""

    def __init__(self, inner: Any, texts: list[str]) -> None:
        self.inner = inner
        self.table = dict(zip(texts, inner.embed(texts), strict=True))
        self.active = False

    @property
    def name(self) -> str:
        return str(self.inner.name)

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.active:
            return np.stack([self.table[t] for t in texts])
        return np.asarray(self.inner.embed(texts))


def engines_for(n: int) -> list[tuple[str, str, bool]]:
    """(label, dtype, approximate) per size: what "auto" picks, plus the exact reference."""
    if n < 50_000:
        return [("exact f32", "float32", False)]
    if n < 500_000:
        return [("exact f32", "float32", False), ("ivf f32 (auto)", "float32", True)]
    return [("exact f16", "float16", False), ("ivf f16 (auto)", "float16", True)]


def naive_batch(X: np.ndarray, Y: np.ndarray, Q: np.ndarray) -> tuple[float, float]:
    """(fit seconds, predict seconds) of one KNeighborsClassifier per model."""
    fit_s = pred_s = 0.0
    for j in range(Y.shape[1]):
        known = ~np.isnan(Y[:, j])
        clf = KNeighborsClassifier(n_neighbors=K, metric="cosine", algorithm="brute")
        dt, _ = timed(lambda clf=clf, known=known, j=j: clf.fit(X[known], Y[known, j]))
        fit_s += dt
        dt, _ = timed(lambda clf=clf: clf.predict_proba(Q))
        pred_s += dt
    return fit_s, pred_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--models", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--queries", type=int, default=100, help="single-input routes per config")
    ap.add_argument("--slow-queries", type=int, default=10, help="for exact search at 1M")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--naive-size", type=int, default=100_000)
    ap.add_argument("--naive-models", type=int, default=50)
    ap.add_argument("--out", default="bench_route")
    args = ap.parse_args()

    inner = resolve_embedder(None)
    texts = real_texts(args.batch + args.queries)
    batch_texts, single_texts = texts[: args.batch], texts[args.batch :]
    lookup = LookupEmbedder(inner, single_texts)
    rows: list[dict[str, Any]] = []
    naive_rows: list[dict[str, Any]] = []
    t_start = time.time()
    for n in args.sizes:
        models = sorted(set(args.models) | ({args.naive_models} if n == args.naive_size else set()))
        X, Y, _ = synthetic(n, 30, max(models), seed=1)
        for label, dtype, approx in engines_for(n):
            build_s, index = timed(
                lambda X=X, dtype=dtype, approx=approx: NeighborIndex(
                    X, dtype=dtype, approximate=approx
                )
            )
            for m in models:
                emb = TimedEmbedder(lookup)
                bench = benchmark_from_arrays(Y[:, :m], np.zeros(n, np.int64))
                with index_options(prebuilt=index):
                    router = Router(k=K, embedder=emb, cache_dir=False).fit(bench, embeddings=X)
                del bench
                nq = args.slow_queries if (n >= 500_000 and not approx) else args.queries
                totals, embeds = [], []
                for text in single_texts[:nq]:
                    dt, _ = timed(lambda text=text, router=router: router.route([text]))
                    totals.append(dt)
                    embeds.append(emb.times[-1])
                rest = [t - e for t, e in zip(totals, embeds, strict=True)]
                # The same routes with the embeddings looked up (no model call in between).
                lookup.active = True
                alone = [
                    timed(lambda text=text, router=router: router.route([text]))[0]
                    for text in single_texts[:nq]
                ]
                lookup.active = False
                batch_s, _ = timed(lambda router=router: router.route(batch_texts))
                batch_embed = emb.times[-1]
                row = {
                    "N": n,
                    "M": m,
                    "engine": label,
                    "index_GB": index.nbytes / 1e9,
                    "build_s": build_s,
                    "embed_p50_ms": percentiles(embeds)["p50_ms"],
                    "embed_p95_ms": percentiles(embeds)["p95_ms"],
                    "rest_p50_ms": percentiles(rest)["p50_ms"],
                    "rest_p95_ms": percentiles(rest)["p95_ms"],
                    "alone_p50_ms": percentiles(alone)["p50_ms"],
                    "alone_p95_ms": percentiles(alone)["p95_ms"],
                    "queries": nq,
                    "batch_inputs_per_s": args.batch / batch_s,
                    "batch_rest_inputs_per_s": args.batch / (batch_s - batch_embed),
                    "batch_rest_s": batch_s - batch_embed,
                }
                rows.append(row)
                print_table([row], list(row))
                if n == args.naive_size and m == args.naive_models:
                    Q = inner.embed(batch_texts)
                    fit_s, pred_s = naive_batch(X, Y[:, :m], Q)
                    naive_rows.append(
                        {
                            "N": n,
                            "M": m,
                            "vs_engine": label,
                            "naive_fit_s": fit_s,
                            "naive_predict_s": pred_s,
                            "router_rest_s": row["batch_rest_s"],
                            "speedup": pred_s / row["batch_rest_s"],
                        }
                    )
                    print_table(naive_rows[-1:], list(naive_rows[-1]))
                del router
                gc.collect()
            del index
            gc.collect()
        del X, Y
        gc.collect()
    print("\nRouting one input (ms) and batches of", args.batch)
    print_table(rows, list(rows[0]))
    if naive_rows:
        print(f"\nNaive: one KNeighborsClassifier per model, batch of {args.batch} inputs")
        print_table(naive_rows, list(naive_rows[0]))
    path = write_json(
        args.out,
        {
            "machine": machine(),
            "wall_s": time.time() - t_start,
            "args": vars(args),
            "route": rows,
            "naive": naive_rows,
        },
    )
    print(f"\nwrote {path}; load average now {machine()['loadavg']}")


if __name__ == "__main__":
    main()
