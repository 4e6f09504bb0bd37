"""Saving and loading routers: identical decisions after a round trip; bad artifacts rejected."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_benchrouter.core.artifact import read_artifact
from langchain_benchrouter.core.embeddings import HashingEmbedder
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import ArtifactError, EmbedderError, EmbedderMismatchError

Data = tuple[list[dict[str, Any]], Any]


@pytest.fixture
def saved(tmp_path: Path, clustered_data: Data) -> tuple[Router, Path, Any]:
    rows, emb = clustered_data
    router = Router(embedder=emb, cache_dir=False).fit(Benchmark.from_records(rows))
    return router, router.save(tmp_path / "router"), emb


def _rehash(path: Path) -> None:
    """Make the manifest's checksum match a tampered array file (a deliberate attacker)."""
    import hashlib

    manifest = json.loads((path / "manifest.json").read_text())
    manifest["sha256"] = hashlib.sha256((path / "arrays.npz").read_bytes()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_round_trip_gives_identical_decisions(saved: tuple[Router, Path, Any]) -> None:
    router, path, emb = saved
    again = Router.load(path, embedder=emb)
    texts = [f"new{t} {i}" for t in range(3) for i in range(4)]
    assert again.model_names == router.model_names
    assert list(again.route(texts)) == list(router.route(texts))
    assert np.array_equal(again.predict_proba(texts), router.predict_proba(texts))
    assert again.select_model(texts[:4]).to_dict() == router.select_model(texts[:4]).to_dict()
    assert np.array_equal(again.ref_p_, router.ref_p_)
    assert sorted(p.name for p in path.iterdir()) == ["arrays.npz", "manifest.json"]


def test_round_trip_bundled_hashing_and_mlp(tmp_path: Path) -> None:
    bench = Benchmark.bundled().select_tasks(["mmlu", "gsm8k", "mbpp"])
    for predictor in ("knn", "mlp"):
        router = Router(
            embedder="hashing",
            predictor=predictor,
            predictor_params={"epochs": 2, "hidden": (32, 16)} if predictor == "mlp" else None,
        )
        router.fit(bench)
        again = Router.load(router.save(tmp_path / predictor))  # hashing embedder restored by name
        texts = bench.texts[:7]
        assert list(again.route(texts)) == list(router.route(texts))
        assert again.select_model(texts).to_dict() == router.select_model(texts).to_dict()


def test_wrong_embedder_is_rejected(saved: tuple[Router, Path, Any]) -> None:
    _, path, _ = saved
    with pytest.raises(EmbedderMismatchError, match="table-test"):
        Router.load(path, embedder=HashingEmbedder())
    with pytest.raises(EmbedderError, match="pass the same embedder"):
        Router.load(path)  # a custom embedder cannot be guessed from its name


@pytest.mark.parametrize(
    "damage",
    [
        "flip_byte",
        "truncate",
        "delete_arrays",
        "bad_json",
        "old_version",
        "other_format",
        "extra_key",
    ],
)
def test_corrupted_artifacts_are_rejected(saved: tuple[Router, Path, Any], damage: str) -> None:
    _, path, emb = saved
    arrays, manifest = path / "arrays.npz", path / "manifest.json"
    meta = json.loads(manifest.read_text())
    if damage == "flip_byte":
        data = bytearray(arrays.read_bytes())
        data[len(data) // 2] ^= 0xFF
        arrays.write_bytes(bytes(data))
    elif damage == "truncate":
        arrays.write_bytes(arrays.read_bytes()[:100])
    elif damage == "delete_arrays":
        arrays.unlink()
    elif damage == "bad_json":
        manifest.write_text("{not json")
    elif damage == "old_version":
        meta["format_version"] = 99
        manifest.write_text(json.dumps(meta))
    elif damage == "other_format":
        meta["format"] = "something-else"
        manifest.write_text(json.dumps(meta))
    elif damage == "extra_key":
        meta["surprise"] = 1
        manifest.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError):
        Router.load(path, embedder=emb)


def _rewrite_npz(path: Path, mutate: Any) -> None:
    with np.load(path / "arrays.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    mutate(arrays)
    np.savez(path / "arrays.npz", **arrays)
    _rehash(path)


def test_swapped_or_reshaped_arrays_are_rejected_even_with_a_valid_checksum(
    saved: tuple[Router, Path, Any],
) -> None:
    _, path, emb = saved

    def swap(a: dict[str, np.ndarray]) -> None:
        a["labels"], a["ref_p"] = a["ref_p"], a["labels"]

    _rewrite_npz(path, swap)
    with pytest.raises(ArtifactError, match="manifest says"):
        Router.load(path, embedder=emb)


def test_consistent_but_wrong_shapes_are_rejected(saved: tuple[Router, Path, Any]) -> None:
    _, path, emb = saved

    def drop_rows(a: dict[str, np.ndarray]) -> None:
        a["labels"] = a["labels"][:10]

    _rewrite_npz(path, drop_rows)
    meta = json.loads((path / "manifest.json").read_text())
    meta["arrays"]["labels"]["shape"] = [10, 3]
    (path / "manifest.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="labels shape"):
        Router.load(path, embedder=emb)


def test_planted_pickle_is_never_executed(saved: tuple[Router, Path, Any], tmp_path: Path) -> None:
    _, path, emb = saved
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (marker.write_text, ("executed",))

    buf = io.BytesIO()
    np.save(buf, np.array([Evil()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path / "arrays.npz", "a") as zf:
        zf.writestr("labels.npy", buf.getvalue())  # shadows the real labels entry
    _rehash(path)
    with pytest.raises(ArtifactError):
        read_artifact(path)
    with pytest.raises(ArtifactError):
        Router.load(path, embedder=emb)
    assert not marker.exists()


def test_missing_directory_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no saved router"):
        Router.load(tmp_path / "nope")


def test_tampered_task_classifier_is_rejected(saved: tuple[Router, Path, Any]) -> None:
    _, path, emb = saved

    def poison(a: dict[str, np.ndarray]) -> None:
        a["task_clf_coef"] = np.full_like(a["task_clf_coef"], np.nan)

    _rewrite_npz(path, poison)
    with pytest.raises(ArtifactError, match="invalid task classifier"):
        Router.load(path, embedder=emb)


def test_artifact_from_before_the_task_classifier_loads_and_routes_the_same(
    saved: tuple[Router, Path, Any],
) -> None:
    router, path, emb = saved

    def drop(a: dict[str, np.ndarray]) -> None:
        del a["task_clf_coef"], a["task_clf_intercept"]

    _rewrite_npz(path, drop)
    meta = json.loads((path / "manifest.json").read_text())
    del meta["arrays"]["task_clf_coef"], meta["arrays"]["task_clf_intercept"]
    (path / "manifest.json").write_text(json.dumps(meta))
    again = Router.load(path, embedder=emb)
    texts = [f"new{t} {i}" for t in range(3) for i in range(4)]
    np.testing.assert_allclose(again.task_classifier_.coef_, router.task_classifier_.coef_)
    assert again.calibration_ == router.calibration_  # re-tuned on the stored rows
    assert list(again.route(texts)) == list(router.route(texts))
