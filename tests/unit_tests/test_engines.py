"""The embedding engines: in-process, and Ray Data on a local Ray cluster (optional extra)."""

from __future__ import annotations

import numpy as np
import pytest

from langchain_benchrouter import Benchmark, Router
from langchain_benchrouter.core.embeddings import HashingEmbedder
from langchain_benchrouter.core.engines import embed_texts


def test_local_engine_equals_the_embedder() -> None:
    texts = ["What is 2 + 2?", "Name a prime number.", "def f(x): return x"]
    np.testing.assert_array_equal(embed_texts(texts, "hashing"), HashingEmbedder().embed(texts))


def test_unknown_engine_is_rejected() -> None:
    with pytest.raises(ValueError, match="engine"):
        embed_texts(["a"], "hashing", engine="spark")  # type: ignore[arg-type]


@pytest.mark.enable_socket  # the Ray driver talks to its local cluster over gRPC
def test_ray_engine_matches_the_in_process_path() -> None:
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    bench = Benchmark.bundled().select_tasks(["gsm8k", "mbpp", "mmlu"])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        X_ray = embed_texts(bench.texts, "hashing", engine="ray", batch_size=100, concurrency=1)
    finally:
        ray.shutdown()
    X_local = embed_texts(bench.texts, "hashing")
    np.testing.assert_array_equal(X_ray, X_local)
    r_ray = Router(embedder="hashing", cache_dir=False).fit(bench, embeddings=X_ray)
    r_local = Router(embedder="hashing", cache_dir=False).fit(bench)
    np.testing.assert_array_equal(r_ray.ref_p_, r_local.ref_p_)
    np.testing.assert_array_equal(r_ray.ref_u_, r_local.ref_u_)
    probe = ["Solve 3x + 5 = 11.", "Write a function that reverses a list."]
    assert r_ray.select_model(probe).model == r_local.select_model(probe).model
    assert list(r_ray.route(probe)) == list(r_local.route(probe))
