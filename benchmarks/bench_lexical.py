"""Fit time and saved size of the lexical correction on a real benchmark.

Prints one JSON line: rows, models, vocabulary size, the tuned alpha and margin, the fit
seconds, the seconds to predict the residuals of 1,000 inputs in one call and the p50 /
p95 milliseconds of one input per call, and the bytes the correction adds to a saved
router (its arrays and its vocabulary in the manifest).

    .venv/bin/python benchmarks/bench_lexical.py ../shared/data/llmrouter
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

import numpy as np

from langchain_benchrouter import Benchmark
from langchain_benchrouter.core.lexical import LexicalResidualModel


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", help="benchmark directory or file")
    args = parser.parse_args(argv)
    bench = Benchmark.load(args.data)
    t0 = time.perf_counter()
    lex = LexicalResidualModel().fit(bench.texts, bench.scores, bench.task_index)
    fit_s = time.perf_counter() - t0
    queries = list(bench.texts[:1000])
    t0 = time.perf_counter()
    lex.residual(queries)
    predict_s = time.perf_counter() - t0
    single = []
    for text in queries[:300]:  # one input per call, as RoutedChatModel.invoke routes
        t0 = time.perf_counter()
        lex.residual([text])
        single.append(time.perf_counter() - t0)
    params, arrays = lex.get_state()
    size = sum(a.nbytes for a in arrays.values()) + len(json.dumps(params).encode())
    print(
        json.dumps(
            {
                "dataset": bench.name,
                "rows": bench.n_inputs,
                "models": bench.n_models,
                "vocabulary": len(lex.vocabulary_),
                "alpha": lex.alpha_,
                "margin": lex.margin_,
                "fit_s": round(fit_s, 1),
                "predict_1000_s": round(predict_s, 3),
                "single_input_ms_p50": round(1e3 * float(np.percentile(single, 50)), 3),
                "single_input_ms_p95": round(1e3 * float(np.percentile(single, 95)), 3),
                "saved_bytes": size,
            }
        )
    )


if __name__ == "__main__":
    main()
