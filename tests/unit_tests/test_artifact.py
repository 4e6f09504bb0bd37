"""Saving and loading routers: identical decisions after a round trip; bad artifacts rejected."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_benchrouter.core import _artifact_store
from langchain_benchrouter.core.artifact import read_artifact, read_manifest_json, replace_manifest
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


def current_files(path: Path) -> tuple[Path, Path]:
    """The manifest and array files of the version ``CURRENT`` names."""
    version = (path / "CURRENT").read_text().splitlines()[1]
    return path / version / "manifest.json", path / version / "arrays.npz"


def rewrite(path: Path, meta: dict[str, Any] | None = None, arrays: bytes | None = None) -> None:
    """A deliberate rewrite: new files whose checksums match (what an attacker can do)."""
    meta = read_manifest_json(path) if meta is None else meta
    data = current_files(path)[1].read_bytes() if arrays is None else arrays
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    _artifact_store.commit(path, json.dumps(meta).encode(), data)


def test_round_trip_gives_identical_decisions(saved: tuple[Router, Path, Any]) -> None:
    router, path, emb = saved
    again = Router.load(path, embedder=emb)
    texts = [f"new{t} {i}" for t in range(3) for i in range(4)]
    assert again.model_names == router.model_names
    assert list(again.route(texts)) == list(router.route(texts))
    assert np.array_equal(again.predict_proba(texts), router.predict_proba(texts))
    assert again.select_model(texts[:4]).to_dict() == router.select_model(texts[:4]).to_dict()
    assert np.array_equal(again.ref_p_, router.ref_p_)
    manifest, _ = current_files(path)
    assert sorted(p.name for p in path.iterdir()) == [".lock", "CURRENT", manifest.parent.name]
    assert sorted(p.name for p in manifest.parent.iterdir()) == ["arrays.npz", "manifest.json"]
    assert manifest.parent.name == "v-" + hashlib.sha256(manifest.read_bytes()).hexdigest()


def test_round_trip_bundled_hashing_and_mlp(tmp_path: Path) -> None:
    bench = Benchmark.bundled().select_tasks(["mmlu", "gsm8k", "mbpp"]).sample(60)
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
        "flip_manifest",
        "pointer_garbage",
        "pointer_elsewhere",
        "old_version",
        "other_format",
        "extra_key",
    ],
)
def test_corrupted_artifacts_are_rejected(saved: tuple[Router, Path, Any], damage: str) -> None:
    _, path, emb = saved
    manifest, arrays = current_files(path)
    meta = json.loads(manifest.read_text())
    pointer = path / "CURRENT"
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
    elif damage == "flip_manifest":  # well-formed and schema-valid, but not what was saved
        manifest.write_text(json.dumps({**meta, "score_threshold": 0.25}))
    elif damage == "pointer_garbage":
        pointer.write_bytes(b"\x00garbage")
    elif damage == "pointer_elsewhere":
        pointer.write_text(pointer.read_text().replace(manifest.parent.name, "v-" + "0" * 64))
    elif damage == "old_version":
        replace_manifest(path, {**meta, "format_version": 99})
    elif damage == "other_format":
        replace_manifest(path, {**meta, "format": "something-else"})
    elif damage == "extra_key":
        replace_manifest(path, {**meta, "surprise": 1})
    with pytest.raises(ArtifactError):
        Router.load(path, embedder=emb)


def _rewrite_npz(path: Path, mutate: Any) -> None:
    with np.load(current_files(path)[1], allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    mutate(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    rewrite(path, arrays=buf.getvalue())


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
    meta = read_manifest_json(path)
    meta["arrays"]["labels"]["shape"] = [10, 3]
    replace_manifest(path, meta)
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
    npz = io.BytesIO(current_files(path)[1].read_bytes())
    with zipfile.ZipFile(npz, "a") as zf:
        zf.writestr("labels.npy", buf.getvalue())  # shadows the real labels entry
    rewrite(path, arrays=npz.getvalue())
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
    meta = read_manifest_json(path)
    del meta["arrays"]["task_clf_coef"], meta["arrays"]["task_clf_intercept"]
    replace_manifest(path, meta)
    again = Router.load(path, embedder=emb)
    texts = [f"new{t} {i}" for t in range(3) for i in range(4)]
    np.testing.assert_allclose(again.task_classifier_.coef_, router.task_classifier_.coef_)
    assert again.calibration_ == router.calibration_  # re-tuned on the stored rows
    assert list(again.route(texts)) == list(router.route(texts))


def test_earlier_layout_loads_and_is_replaced_safely(saved: tuple[Router, Path, Any]) -> None:
    """manifest.json + arrays.npz directly in the directory (before CURRENT) still load."""
    router, path, emb = saved
    legacy = path.parent / "legacy"
    legacy.mkdir()
    for f in current_files(path):
        shutil.copy(f, legacy / f.name)
    (legacy / "tmpab12.npz.tmp").write_bytes(b"left by a killed save of the old code")
    texts = [f"new{t} {i}" for t in range(3) for i in range(4)]
    assert list(Router.load(legacy, embedder=emb).route(texts)) == list(router.route(texts))
    router.save(legacy)  # the earlier files stay one save longer: a reader may be on them
    assert (legacy / "CURRENT").exists() and (legacy / "manifest.json").exists()
    assert not (legacy / "tmpab12.npz.tmp").exists()
    router.save(legacy)
    assert not (legacy / "manifest.json").exists() and not (legacy / "arrays.npz").exists()
    assert list(Router.load(legacy, embedder=emb).route(texts)) == list(router.route(texts))


def test_a_version_directory_loaded_directly_is_checked_against_its_name(
    saved: tuple[Router, Path, Any],
) -> None:
    router, path, emb = saved
    manifest, _ = current_files(path)
    assert Router.load(manifest.parent, embedder=emb).model_names == router.model_names
    manifest.write_text(
        manifest.read_text().replace('"score_threshold": 0.5', '"score_threshold": 0.25')
    )
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        Router.load(manifest.parent, embedder=emb)


def test_saving_is_deterministic_and_idempotent(saved: tuple[Router, Path, Any]) -> None:
    router, path, emb = saved
    before = current_files(path)[0].parent.name
    router.save(path)
    assert current_files(path)[0].parent.name == before
    assert sorted(p.name for p in path.iterdir()) == [".lock", "CURRENT", before]
    assert Router.load(path, embedder=emb).model_names == router.model_names
