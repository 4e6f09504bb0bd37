"""The saved router's array file: an uncompressed npz written reproducibly, read with checks.

Every member must be ``<identifier>.npy``, stored (not compressed, not encrypted), once;
the members must be exactly the manifest's arrays; each ``.npy`` header is checked against
the declared dtype and shape and against the member's byte size before anything is
allocated; nothing is unpickled.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from langchain_benchrouter.core._artifact_schema import ARRAY_NAME, MAX_ARRAY_ELEMENTS, Manifest
from langchain_benchrouter.errors import ArtifactError

__all__ = ["npz_bytes", "parse_arrays"]

#: Upper bound on an ``.npy`` header.
MAX_NPY_HEADER = 10_000
#: Fixed zip timestamp: the same arrays always give the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Arrays as an uncompressed npz, byte-for-byte reproducible (fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                npy_format.write_array(fh, np.asanyarray(arr), allow_pickle=False)
    return buf.getvalue()


def _npy_header(fh: Any, where: str) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    version = npy_format.read_magic(fh)
    if version == (1, 0):
        return npy_format.read_array_header_1_0(fh, max_header_size=MAX_NPY_HEADER)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(fh, max_header_size=MAX_NPY_HEADER)
    msg = f"{where}: .npy format version {version} is not supported"
    raise ArtifactError(msg)


def parse_arrays(data: bytes, manifest: Manifest, where: str) -> dict[str, np.ndarray]:
    """The arrays of an npz held in memory, every header checked before allocating."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    infos = zf.infolist()
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if not (name.endswith(".npy") and ARRAY_NAME.fullmatch(name[:-4])):
            msg = f"{where}: unexpected member {name!r} (only <identifier>.npy allowed)"
            raise ArtifactError(msg)
        if name in seen:
            msg = f"{where}: member {name!r} appears twice"
            raise ArtifactError(msg)
        seen.add(name)
        if info.compress_type != zipfile.ZIP_STORED or info.file_size > len(data):
            msg = f"{where}: member {name!r} is compressed or larger than the file"
            raise ArtifactError(msg)
        if info.flag_bits & 0x1:
            msg = f"{where}: member {name!r} is encrypted"
            raise ArtifactError(msg)
    names = {n[:-4] for n in seen}
    if names != set(manifest.arrays):
        listed = sorted(manifest.arrays)
        msg = f"{where}: arrays {sorted(names)} differ from the manifest's {listed}"
        raise ArtifactError(msg)
    arrays: dict[str, np.ndarray] = {}
    for info in infos:
        name = info.filename[:-4]
        declared = manifest.arrays[name]
        with zf.open(info) as fh:
            shape, fortran, dtype = _npy_header(fh, where)
            if (
                dtype.hasobject
                or str(dtype) != declared.dtype
                or list(shape) != declared.shape
                or any(not isinstance(d, int) or d < 0 for d in shape)
            ):
                msg = (
                    f"{where}: array {name!r} is {dtype}{list(shape)}, "
                    f"manifest says {declared.dtype}{declared.shape}"
                )
                raise ArtifactError(msg)
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            available = info.file_size - fh.tell()
            if count > MAX_ARRAY_ELEMENTS or nbytes != available:
                msg = (
                    f"{where}: array {name!r} claims {count} elements ({nbytes} bytes) but "
                    f"its member holds {available} bytes"
                )
                raise ArtifactError(msg)
            raw = fh.read(nbytes)
        if len(raw) != nbytes:
            msg = f"{where}: array {name!r} is truncated"
            raise ArtifactError(msg)
        flat = np.frombuffer(raw, dtype=dtype, count=count)
        arrays[name] = flat.reshape(shape, order="F" if fortran else "C").copy(order="K")
    return arrays
