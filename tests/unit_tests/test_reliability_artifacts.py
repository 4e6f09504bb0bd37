"""Artifacts: read-only shared loading by several processes, path traversal, zip tricks.

(Flipped bytes, truncation, swapped arrays, wrong shapes and a planted pickle are covered
in test_artifact.py.)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_runnable_support import CODE_Q, MATH_Q, TRIVIA_Q, make_router

from langchain_benchrouter.core.artifact import read_artifact, write_artifact
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.errors import ArtifactError

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
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.iterdir())
    }


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A saved router in a directory made read-only (dir 0555, files 0444)."""
    root = make_router().save(tmp_path / "shared-router")
    for p in root.iterdir():
        p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    root.chmod(0o555)
    yield root
    root.chmod(0o755)
    for p in root.iterdir():
        p.chmod(0o644)


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
        # Only the two fixed file names are opened, and only for reading.
        names = {name for name, _, _ in result["opened"]}
        assert names == {"manifest.json", "arrays.npz"}, result["opened"]
        for name, mode, flags in result["opened"]:
            assert "w" not in mode and "a" not in mode and "+" not in mode, (name, mode)
            assert not flags & WRITE_FLAGS, (name, flags)
    assert snapshot(shared) == before  # nothing written, touched or added


def _rehash(path: Path) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["sha256"] = hashlib.sha256((path / "arrays.npz").read_bytes()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


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
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest[key] = value
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="invalid manifest"):
        Router.load(saved)


@pytest.mark.parametrize("name", ["../../evil", "/tmp/evil", "sub/evil", "a\\b", "..", ""])
def test_path_like_array_names_are_refused(saved: Path, tmp_path: Path, name: str) -> None:
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["arrays"][name] = {"dtype": "float32", "shape": [1]}
    with zipfile.ZipFile(saved / "arrays.npz", "a") as zf:
        buf = io.BytesIO()
        np.save(buf, np.zeros(1, np.float32))
        zf.writestr(f"{name}.npy", buf.getvalue())
    (saved / "manifest.json").write_text(json.dumps(manifest))
    _rehash(saved)
    with pytest.raises(ArtifactError, match="not plain identifiers"):
        read_artifact(saved)
    assert not (tmp_path / "evil.npy").exists() and not Path("/tmp/evil.npy").exists()


def test_stray_zip_member_is_refused(saved: Path) -> None:
    with zipfile.ZipFile(saved / "arrays.npz", "a") as zf:
        zf.writestr("../../escape.npy", b"\x93NUMPY")
    _rehash(saved)
    with pytest.raises(ArtifactError, match="unexpected member"):
        Router.load(saved)


def test_compressed_members_are_refused(saved: Path) -> None:
    """A deflated member could be a zip bomb: the format stores arrays uncompressed only."""
    with np.load(saved / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    with (saved / "arrays.npz").open("wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
    _rehash(saved)
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
