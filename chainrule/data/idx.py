"""Reader and writer for the IDX format of MNIST and Fashion-MNIST (spec: DATA-MNIST).

IDX layout: a 4-byte big-endian magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian
uint32 dimension sizes, then the values in C order (big-endian for multi-byte types). MNIST images have
magic 0x00000803 (2051: uint8, 3 dims), labels 0x00000801 (2049: uint8, 1 dim). Files may be gzipped
(detected from the gzip magic bytes, not the name).

Every problem -- truncated download, wrong file, corrupt gzip -- raises :class:`IDXError` (a
``ValueError``) naming the file, what was expected and what was found, and how to fix it.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["IDXError", "read_idx", "write_idx", "IDX_TYPES", "MAGIC_IMAGES", "MAGIC_LABELS"]

MAGIC_IMAGES = 0x00000803  # 2051
MAGIC_LABELS = 0x00000801  # 2049

# IDX type code -> big-endian dtype
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {np.dtype(v).newbyteorder("=").str: k for k, v in IDX_TYPES.items()}

_FIX = "the file is damaged or is not this IDX file; delete it and download it again (check its md5)"


class IDXError(ValueError):
    """A file is not a valid IDX file of the expected kind."""


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"IDX file {path} does not exist; pass the directory that holds it (or download=True)"
        ) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise IDXError(
                f"{path}: gzip data is corrupt or truncated ({type(e).__name__}: {e}); compressed size "
                f"{len(raw)} bytes; {_FIX}"
            ) from None
    return raw


def read_idx(path: str | os.PathLike, expected_magic: int | None = None,
             expected_shape: Sequence[int | None] | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into a native-byte-order NumPy array.

    ``expected_magic`` (e.g. ``MAGIC_IMAGES``) and ``expected_shape`` (``None`` entries are free) are
    checked; the file must hold exactly ``prod(dims)`` values -- no more, no less.
    """
    path = Path(path)
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise IDXError(f"{path}: expected at least a 4-byte IDX header, found {len(buf)} bytes; {_FIX}")
    magic = int.from_bytes(buf[:4], "big")
    if buf[0] != 0 or buf[1] != 0 or buf[2] not in IDX_TYPES or buf[3] == 0:
        raise IDXError(
            f"{path}: bad IDX magic number 0x{magic:08X}; expected 0x0000TTDD with type TT in "
            f"{{{', '.join(f'0x{k:02X}' for k in IDX_TYPES)}}} and DD >= 1 dims"
            + (f" (here 0x{expected_magic:08X})" if expected_magic is not None else "") + f"; {_FIX}"
        )
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(
            f"{path}: expected IDX magic 0x{expected_magic:08X} ({expected_magic}), found 0x{magic:08X} "
            f"({magic}); is this the right file (images vs labels)? Otherwise {_FIX}"
        )
    dtype = IDX_TYPES[buf[2]]
    ndim = buf[3]
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise IDXError(
            f"{path}: expected a {header}-byte header for {ndim} dims, found only {len(buf)} bytes; {_FIX}"
        )
    dims = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    if expected_shape is not None:
        exp = tuple(expected_shape)
        if len(exp) != ndim or any(e is not None and e != d for e, d in zip(exp, dims)):
            shown = tuple("*" if e is None else e for e in exp)
            raise IDXError(f"{path}: expected shape {shown}, the header says {dims}; {_FIX}")
    count = int(np.prod(dims, dtype=np.int64))
    need = header + count * dtype.itemsize
    if len(buf) != need:
        what = "truncated" if len(buf) < need else "has trailing bytes"
        raise IDXError(
            f"{path}: file {what}: header {dims} ({dtype.name}) needs {need} bytes of IDX data, found "
            f"{len(buf)}; {_FIX}"
        )
    arr = np.frombuffer(buf, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # native order, writable copy


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzipped when ``compress`` or, if None, when the name ends in .gz).

    Supported dtypes: uint8, int8, int16, int32, float32, float64. The write is atomic.
    """
    path = Path(path)
    arr = np.asarray(array)
    code = _CODE_OF.get(arr.dtype.newbyteorder("=").str)
    if code is None:
        raise TypeError(
            f"write_idx: dtype {arr.dtype} has no IDX type code; use one of "
            f"{[np.dtype(v).name for v in IDX_TYPES.values()]}"
        )
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"write_idx: need 1 to 255 dims, got shape {arr.shape}")
    head = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    payload = head + np.ascontiguousarray(arr, dtype=IDX_TYPES[code]).tobytes()
    if compress is None:
        compress = path.name.endswith(".gz")
    if compress:
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
