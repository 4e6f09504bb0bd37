"""Artifacts: read-only shared loading by several processes, path traversal, zip tricks.

(Flipped bytes, truncation, swapped arrays, wrong shapes and a planted pickle are covered
in test_artifact.py; crashes and concurrent saves in test_artifact_crash.py.)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.lib import format as npy_format
from test_artifact import current_files, rewrite
from test_runnable_support import CODE_Q, MATH_Q, TRIVIA_Q, make_router

from langchain_benchrouter.core import _artifact_store
from langchain_benchrouter.core.artifact import (
    read_artifact,
    read_manifest_json,
    replace_manifest,
    write_artifact,
)
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.errors import ArtifactError, BenchRouterError

TEXTS = [MATH_Q, CODE_Q, TRIVIA_Q, "who wrote the python function", "naïve 🙂 question"]

# Run in each child process: record every file opened under the artifact directory (with
# its mode) through an audit hook, load the router, route, and print it all as JSON.
CHILD = r"""
import json, os, sys
root = os.path.realpath(sys.argv[1])
opened = []

def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(root):
            opened.append([os.path.relpath(path, root), str(args[1]), int(args[2] or 0)])

sys.addaudithook(hook)
from langchain_benchrouter.core.router import Router
router = Router.load(root)
texts = json.loads(sys.argv[2])
routes = router.route(texts)
print(json.dumps({"routes": list(routes), "proba": routes.proba.tolist(), "opened": opened}))
"""

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir",
            p.stat().st_mtime_ns,
        )
        for p in sorted(root.rglob("*"))
    }


def _chmod_tree(root: Path, files: int, dirs: int) -> None:
    for p in sorted(root.rglob("*"), reverse=True):
        p.chmod(dirs if p.is_dir() else files)
    root.chmod(dirs)


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A saved router in a directory tree made read-only (dirs 0555, files 0444)."""
    root = make_router().save(tmp_path / "shared-router")
    _chmod_tree(root, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH, 0o555)
    yield root
    root.chmod(0o755)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)


def test_four_processes_load_one_read_only_router(shared: Path) -> None:
    before = snapshot(shared)
    router = make_router()
    expected = router.route(TEXTS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(shared), json.dumps(TEXTS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        result = json.loads(out.strip().splitlines()[-1])
        assert result["routes"] == list(expected)
        assert np.array_equal(np.array(result["proba"], np.float32), expected.proba)
        # Only the pointer and the two files it names are opened, and only for reading.
        version = current_files(shared)[0].parent.name
        names = {name for name, _, _ in result["opened"]}
        wanted = {"CURRENT", f"{version}/manifest.json", f"{version}/arrays.npz"}
        assert names == wanted, result["opened"]
        for name, mode, flags in result["opened"]:
            assert "w" not in mode and "a" not in mode and "+" not in mode, (name, mode)
            assert not flags & WRITE_FLAGS, (name, flags)
    assert snapshot(shared) == before  # nothing written, touched or added


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return make_router().save(tmp_path / "router")


@pytest.mark.parametrize(
    "key, value",
    [
        ("files", {"arrays": "../../outside.npz"}),
        ("arrays_file", "/etc/passwd"),
        ("manifest", "../manifest.json"),
    ],
)
def test_file_names_in_the_manifest_are_refused(saved: Path, key: str, value: object) -> None:
    manifest = read_manifest_json(saved)
    manifest[key] = value
    replace_manifest(saved, manifest)
    with pytest.raises(ArtifactError, match="invalid manifest"):
        Router.load(saved)


@pytest.mark.parametrize("name", ["../../evil", "/tmp/evil", "sub/evil", "a\\b", "..", ""])
def test_path_like_array_names_are_refused(saved: Path, tmp_path: Path, name: str) -> None:
    manifest = read_manifest_json(saved)
    manifest["arrays"][name] = {"dtype": "float32", "shape": [1]}
    npz = io.BytesIO(current_files(saved)[1].read_bytes())
    with zipfile.ZipFile(npz, "a") as zf:
        buf = io.BytesIO()
        np.save(buf, np.zeros(1, np.float32))
        zf.writestr(f"{name}.npy", buf.getvalue())
    rewrite(saved, manifest, npz.getvalue())
    with pytest.raises(ArtifactError, match="invalid manifest at 'arrays"):
        read_artifact(saved)
    assert not (tmp_path / "evil.npy").exists() and not Path("/tmp/evil.npy").exists()


def test_stray_zip_member_is_refused(saved: Path) -> None:
    npz = io.BytesIO(current_files(saved)[1].read_bytes())
    with zipfile.ZipFile(npz, "a") as zf:
        zf.writestr("../../escape.npy", b"\x93NUMPY")
    rewrite(saved, arrays=npz.getvalue())
    with pytest.raises(ArtifactError, match="unexpected member"):
        Router.load(saved)


def test_compressed_members_are_refused(saved: Path) -> None:
    """A deflated member could be a zip bomb: the format stores arrays uncompressed only."""
    with np.load(current_files(saved)[1]) as npz:
        arrays = {k: npz[k] for k in npz.files}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    rewrite(saved, arrays=buf.getvalue())
    with pytest.raises(ArtifactError, match="compressed"):
        Router.load(saved)


def test_writer_refuses_path_like_array_names(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="plain identifier"):
        write_artifact(tmp_path / "r", {}, {"../x": np.zeros(1, np.float32)})
    assert not (tmp_path / "x.npy").exists()


def test_symlinked_router_directory_loads(saved: Path, tmp_path: Path) -> None:
    """The documented update pattern: readers follow a symlink swapped to a new version."""
    link = tmp_path / "current"
    link.symlink_to(saved, target_is_directory=True)
    assert list(Router.load(link).route([MATH_Q])) == list(make_router().route([MATH_Q]))


# --------------------------------------------------------------- bit flips (checksummed)


def manifest_file(root: Path) -> Path:
    """The manifest a load reads (the current version's; the root's in the earlier layout)."""
    return current_files(root)[0] if (root / "CURRENT").exists() else root / "manifest.json"


def fingerprint(router: Router) -> tuple[Any, ...]:
    """Everything a manifest decides, plus the labels and a few routes."""
    return (
        router.model_names_,
        router.task_names_,
        router.task_metrics_,
        router._params(),
        router.model_info_,
        router.score_threshold_,
        router.calibration_,
        router.embedder_.name,
        router.labels_.tobytes(),
        list(router.route(TEXTS)),
    )


def _load_or_artifact_error(root: Path, reference: tuple[Any, ...]) -> bool:
    """True if the router loaded (then it must be identical); False on ArtifactError."""
    try:
        loaded = Router.load(root)
    except ArtifactError:
        return False
    assert fingerprint(loaded) == reference
    return True


def test_bit_flips_in_manifest_and_pointer_load_the_same_router_or_fail_clearly(
    saved: Path,
) -> None:
    """200 seeded one-bit flips of manifest.json and 200 of CURRENT."""
    reference = fingerprint(Router.load(saved))
    rng = random.Random(20240607)
    targets = [manifest_file(saved)] * 200
    if (saved / "CURRENT").exists():
        targets += [saved / "CURRENT"] * 200
    loaded = 0
    for target in targets:
        original = target.read_bytes()
        data = bytearray(original)
        bit = rng.randrange(8 * len(data))
        data[bit // 8] ^= 1 << (bit % 8)
        target.write_bytes(bytes(data))
        try:
            loaded += _load_or_artifact_error(saved, reference)
        finally:
            target.write_bytes(original)
    assert loaded == 0  # the manifest's checksum is its version's name
    assert fingerprint(Router.load(saved)) == reference


def test_resigned_bit_flips_never_raise_a_raw_exception(saved: Path) -> None:
    """Flips whose checksums were recomputed (a hand edit, an attacker): schema-checked."""
    manifest = current_files(saved)[0].read_bytes()
    arrays = current_files(saved)[1].read_bytes()
    rng = random.Random(7)
    outcomes: dict[str, int] = {}
    for _ in range(60):
        data = bytearray(manifest)
        bit = rng.randrange(8 * len(data))
        data[bit // 8] ^= 1 << (bit % 8)
        _artifact_store.commit(saved, bytes(data), arrays)
        try:
            Router.load(saved)
            kind = "loaded"
        except BenchRouterError as exc:  # ArtifactError, or EmbedderError for a renamed embedder
            kind = type(exc).__name__
        outcomes[kind] = outcomes.get(kind, 0) + 1
    assert set(outcomes) <= {"loaded", "ArtifactError", "EmbedderError"}, outcomes
    assert outcomes.get("ArtifactError", 0) > 30, outcomes


# --------------------------------------------------------------- crafted arrays and JSON


def _npy(shape: tuple[int, ...], payload: bytes, descr: str = "<f8") -> bytes:
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


def _replace_member(root: Path, name: str, member: bytes) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(current_files(root)[1]) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info, member if info.filename == f"{name}.npy" else src.read(info))
    return out.getvalue()


@pytest.mark.parametrize(
    "header_shape, declared, match",
    [
        ((2**40,), "same", "invalid manifest at 'arrays.ref_u'.*exceeds"),  # beyond the cap
        ((2**40,), "real", "manifest says"),  # header disagrees with the manifest
        ((10**8,), "same", "claims 100000000 elements"),  # agrees, but 800 MB from 8 bytes
        ((3, 2**62), "same", "exceeds"),  # element count overflows int64
    ],
)
def test_npy_header_bombs_are_refused_before_allocating(
    saved: Path, header_shape: tuple[int, ...], declared: str, match: str
) -> None:
    arrays = _replace_member(saved, "ref_u", _npy(header_shape, b"\0" * 8))
    meta = read_manifest_json(saved)
    if declared == "same":
        meta["arrays"]["ref_u"]["shape"] = list(header_shape)
    rewrite(saved, meta, arrays)
    with pytest.raises(ArtifactError, match=match):
        Router.load(saved)


@pytest.mark.parametrize("descr", ["|O", "<U10", "[('a', '<f8')]", "<c16"])
def test_npy_headers_with_other_dtypes_are_refused(saved: Path, descr: str) -> None:
    header = {"descr": eval(descr) if descr.startswith("[") else descr}
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {**header, "fortran_order": False, "shape": (1,)})
    rewrite(saved, arrays=_replace_member(saved, "ref_u", buf.getvalue() + b"\0" * 16))
    with pytest.raises(ArtifactError):
        read_artifact(saved)


@pytest.mark.parametrize("depth", [40, 200_000])
def test_deeply_nested_manifest_is_an_artifact_error(saved: Path, depth: int) -> None:
    text = json.dumps(read_manifest_json(saved))
    nested = "[" * depth + "]" * depth
    bomb = text.replace('"model_info": {', f'"model_info": {{"x": {{"deep": {nested}}}, ', 1)
    _artifact_store.commit(saved, bomb.encode(), current_files(saved)[1].read_bytes())
    with pytest.raises(ArtifactError, match="nested too deeply"):
        Router.load(saved)


def test_oversized_or_irregular_files_are_refused(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_artifact_store, "MAX_MANIFEST_BYTES", 100)
    with pytest.raises(ArtifactError, match="implausibly large"):
        Router.load(saved)
    monkeypatch.undo()
    (saved / "CURRENT").unlink()
    (saved / "CURRENT").mkdir()
    with pytest.raises(ArtifactError, match="CURRENT"):
        Router.load(saved)


# --------------------------------------------------------------- the manifest schema


def _edit(meta: dict[str, Any], where: str, value: Any) -> None:
    if where.startswith("model_info."):  # model names hold dots
        meta["model_info"][where.split(".", 1)[1]] = value
        return
    *parents, key = where.split(".")
    for part in parents:
        meta = meta[part]
    meta[key] = value


@pytest.mark.parametrize(
    "where, value",
    [
        ("params.k", 0),
        ("params.k", 2.5),
        ("params.descriptor_neighbors", 0),
        ("params.bandwidth", -0.09),
        ("params.shrink_threshold", 1.5),
        ("params.correctness_threshold", 1.0),
        ("params.tie_break", "0.01"),
        ("params.index_dtype", "float64"),
        ("params.approximate_above", 0),
        ("params.lexical", "yes"),
        ("params.predictor_params", {"hidden": [0, 16]}),
        ("params.surprise", 1),
        ("predictor.k", 59),
        ("predictor.calibration.route_k", 0),
        ("predictor.calibration.delta", -1.0),
        ("embedder.name", "hashing-99999999999"),
        ("embedder.name", "hashing-256\n"),
        ("embedder.name", "x" * 10_000),
        ("embedder.dimension", 10**9),
        ("models", ["m1", "m1", "m3"]),
        ("models", ["", "m2", "m3"]),
        ("tasks", ["t", "t", "t"]),
        ("task_metrics", ["em", None]),
        ("model_info.m1", {"input_price": -1.0}),
        ("model_info.m1", {"output_price": float("inf")}),
        ("model_info.m1", {"cost_per_call": float("nan")}),
        ("model_info.somebody", {}),
        ("score_threshold", 0.0),
        ("library_version", 1),
        ("arrays.labels.dtype", "object"),
        ("arrays.labels.shape", [-1, 3]),
        ("sha256", "not-a-digest"),
    ],
)
def test_manifest_schema_refuses_bad_values(saved: Path, where: str, value: Any) -> None:
    meta = read_manifest_json(saved)
    if where.startswith("models"):
        value = value[: len(meta["models"])] + [f"m{i}" for i in range(4, len(meta["models"]) + 1)]
    if where.startswith("model_info.m1"):
        where = f"model_info.{meta['models'][0]}"
    if where == "tasks":
        value = [meta["tasks"][0]] * len(meta["tasks"])
    _edit(meta, where, value)
    replace_manifest(saved, meta)
    field = where.split(".")[0]
    with pytest.raises(ArtifactError, match=rf"invalid manifest.*{field}|not valid JSON"):
        Router.load(saved)


def test_files_are_0644_under_the_usual_umask_and_follow_the_umask(tmp_path: Path) -> None:
    router = make_router()
    for umask, file_mode, dir_mode in [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]:
        old = os.umask(umask)
        try:
            root = router.save(tmp_path / f"umask-{umask:o}")
        finally:
            os.umask(old)
        manifest, arrays = current_files(root)
        for p in (root / "CURRENT", manifest, arrays):
            assert stat.S_IMODE(p.stat().st_mode) == file_mode, (p.name, oct(p.stat().st_mode))
        assert stat.S_IMODE(manifest.parent.stat().st_mode) == dir_mode
