"""Saving and loading state dicts and checkpoints -- without pickle.

``save(obj, path)`` writes a nested structure (dicts, lists, tuples) whose leaves are arrays/Tensors or
JSON values (int, float, bool, str, None) to

* ``.npz`` (default for any other suffix): a zip of ``.npy`` members plus a JSON description, readable
  with ``np.load(path, allow_pickle=False)``;
* ``.safetensors``: the safetensors layout -- 8-byte little-endian header length, a JSON header
  ``{name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}``, then the raw little-endian
  buffers -- implemented here with no dependency, readable by other safetensors tools.

The JSON description holds the structure (so int dict keys, tuples and scalars round-trip), a format
version, the library version, the creation date and the user's ``metadata``. Arrays are named by their
path (``"model/fc1.weight"``). Writes are atomic: a temporary file in the same directory is moved over
the target with ``os.replace`` only once complete. Loading never unpickles anything: a corrupt or
foreign file raises :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import math
import os
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["save", "load", "load_metadata", "save_checkpoint", "load_checkpoint", "CheckpointError",
           "FORMAT_VERSION"]

FORMAT_VERSION = 1
_META_NAME = "__chainrule__"  # npz member holding the JSON description (uint8 bytes)
_MAX_HEADER = 100 * 1024 * 1024

_ST_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}
_ST_CODE = {np.dtype(v).newbyteorder("<").str: k for k, v in _ST_DTYPES.items()}
_ST_CODE[np.dtype("?").str] = "BOOL"


class CheckpointError(ValueError):
    """A file cannot be read as a chainrule/npz/safetensors checkpoint, or an object cannot be saved."""


# ----------------------------------------------------------------------------- structure <-> JSON tree
def _library_version() -> str:
    v = getattr(sys.modules.get("chainrule"), "__version__", None)
    if v:
        return str(v)
    try:
        return importlib.metadata.version("chainrule")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class _Encoder:
    """Turns a nested object into a JSON tree plus a flat {name: array} map."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _name(self, path: list[str]) -> str:
        base = "/".join(path) or "array"
        name, k = base, 1
        while name in self.arrays or name == _META_NAME:
            name, k = f"{base}#{k}", k + 1
        return name

    def encode(self, obj: Any, path: list[str]) -> Any:
        if isinstance(obj, Tensor | np.ndarray):
            arr = obj.data if isinstance(obj, Tensor) else obj
            if arr.dtype.hasobject or arr.dtype.kind not in "biuf":
                raise CheckpointError(
                    f"cannot save array at {'/'.join(path) or '<root>'}: dtype {arr.dtype} is not a numeric "
                    "dtype (only bool/int/uint/float arrays are stored; object arrays would need pickle)"
                )
            name = self._name(path)
            self.arrays[name] = arr
            node: dict[str, Any] = {"__array__": name}
            if isinstance(obj, Tensor):
                node["tensor"] = True
                if obj.requires_grad:
                    node["requires_grad"] = True
            return node
        if isinstance(obj, np.generic):
            if obj.dtype.kind not in "biuf":
                raise CheckpointError(f"cannot save NumPy scalar of dtype {obj.dtype} at {'/'.join(path)}")
            return {"__scalar__": _json_number(obj.item()), "dtype": obj.dtype.str}
        if obj is None or isinstance(obj, bool | int | str):
            return obj
        if isinstance(obj, float):
            return _json_number(obj)
        if isinstance(obj, Mapping):
            items = []
            for k, v in obj.items():
                if isinstance(k, np.generic) and k.dtype.kind in "biuf":
                    k = k.item()
                if not (k is None or isinstance(k, bool | int | float | str)) or isinstance(k, np.generic):
                    raise CheckpointError(
                        f"cannot save dict key {k!r} ({type(k).__name__}) at {'/'.join(path) or '<root>'}:"
                        " keys must be str, int, float, bool or None"
                    )
                items.append([k, self.encode(v, path + [str(k)])])
            return {"__dict__": items}
        if isinstance(obj, tuple | list):
            tag = "__tuple__" if isinstance(obj, tuple) else "__list__"
            return {tag: [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]}
        raise CheckpointError(
            f"cannot save object of type {type(obj).__name__} at {'/'.join(path) or '<root>'}: leaves must be "
            "arrays/Tensors or JSON values (int, float, bool, str, None); convert it first (e.g. call "
            ".state_dict())"
        )


def _json_number(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return {"__float__": repr(x)}  # 'nan', 'inf', '-inf' -- keeps the JSON standard
    return x


def _decode(node: Any, arrays: Mapping[str, np.ndarray], tensors: bool, where: str) -> Any:
    if isinstance(node, dict):
        if "__array__" in node:
            name = node["__array__"]
            if name not in arrays:
                raise CheckpointError(f"{where}: the description names array {name!r} but the file lacks it")
            arr = arrays[name]
            if tensors and node.get("tensor"):
                return Tensor(arr, requires_grad=bool(node.get("requires_grad")))
            return arr
        if "__dict__" in node:
            return {(k if not isinstance(k, list) else tuple(k)): _decode(v, arrays, tensors, where)
                    for k, v in node["__dict__"]}
        if "__list__" in node:
            return [_decode(v, arrays, tensors, where) for v in node["__list__"]]
        if "__tuple__" in node:
            return tuple(_decode(v, arrays, tensors, where) for v in node["__tuple__"])
        if "__scalar__" in node:
            value = _decode(node["__scalar__"], arrays, tensors, where)
            return np.dtype(node["dtype"]).type(value)
        if "__float__" in node:
            return float(node["__float__"])
        raise CheckpointError(f"{where}: unknown node {sorted(node)} in the description")
    return node


# ----------------------------------------------------------------------------- atomic write
def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _write_npz(f: Any, arrays: Mapping[str, np.ndarray], meta_json: bytes, compress: bool) -> None:
    comp = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, "w", compression=comp, allowZip64=True) as zf:
        members = dict(arrays)
        members[_META_NAME] = np.frombuffer(meta_json, dtype=np.uint8)
        for name, arr in members.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asarray(arr), allow_pickle=False)


def _write_safetensors(f: Any, arrays: Mapping[str, np.ndarray], meta_json: bytes) -> None:
    header: dict[str, Any] = {
        "__metadata__": {"format": "chainrule", "chainrule": meta_json.decode("utf-8")},
    }
    bufs, offset = [], 0
    for name, arr in arrays.items():
        le = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype)
        raw = le.tobytes()
        header[name] = {"dtype": _ST_CODE[le.dtype.str], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        bufs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)  # align the data to 8 bytes, as the reference writer does
    f.write(len(hjson).to_bytes(8, "little"))
    f.write(hjson)
    for raw in bufs:
        f.write(raw)


def save(obj: Any, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None,
         format: str | None = None, compress: bool = False) -> Path:
    """Save a nested state dict to ``path`` (``.safetensors`` or, otherwise, ``.npz``); atomic, no pickle.

    ``obj``: dicts (str/int keys), lists, tuples; leaves are Tensors/arrays (bool, int, float) or JSON
    values. ``metadata``: JSON-serializable user data stored with the library version and date (read it
    back with :func:`load_metadata`). ``format``: 'npz' or 'safetensors' (default from the suffix).
    ``compress``: deflate the npz members (smaller, slower).
    """
    path = Path(path)
    fmt = format or ("safetensors" if path.suffix == ".safetensors" else "npz")
    if fmt not in ("npz", "safetensors"):
        raise ValueError(f"save: format must be 'npz' or 'safetensors', got {format!r}")
    enc = _Encoder()
    tree = enc.encode(obj, [])
    info = {
        "format": "chainrule",
        "format_version": FORMAT_VERSION,
        "library_version": _library_version(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "metadata": dict(metadata) if metadata is not None else {},
        "tree": tree,
    }
    try:
        meta_json = json.dumps(info, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"save: metadata must be JSON-serializable (str, int, float, bool, None, lists, dicts with str "
            f"keys; no NaN), got {metadata!r}: {e}"
        ) from None
    if fmt == "npz":
        _atomic_write(path, lambda f: _write_npz(f, enc.arrays, meta_json, compress))
    else:
        _atomic_write(path, lambda f: _write_safetensors(f, enc.arrays, meta_json))
    return path


# ----------------------------------------------------------------------------- reading
_FOREIGN = ("it is neither an .npz (zip of .npy) nor a .safetensors file. chainrule never unpickles; "
            "re-save the data with chainrule.save (for a PyTorch .pt file: torch.load it, convert tensors "
            "with .numpy(), then save)")


def _read_npz(path: Path) -> tuple[dict[str, np.ndarray], dict | None]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
        arrays = {k: (a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))) for k, a in arrays.items()}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise CheckpointError(
            f"{path}: cannot read as .npz ({type(e).__name__}: {e}); the file is corrupt, truncated or holds "
            "pickled objects (not loaded for safety). Re-save it with chainrule.save"
        ) from None
    meta = arrays.pop(_META_NAME, None)
    if meta is None:
        return arrays, None
    return arrays, _parse_info(path, bytes(meta.astype(np.uint8)))


def _parse_info(path: Path, raw: bytes) -> dict:
    try:
        info = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: the chainrule description is not valid JSON ({e}); file corrupt") from None
    if not isinstance(info, dict) or info.get("format") != "chainrule" or "tree" not in info:
        raise CheckpointError(f"{path}: the chainrule description lacks 'format'/'tree'; file corrupt")
    version = info.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written with checkpoint format version {version}, this chainrule reads up to "
            f"{FORMAT_VERSION}; upgrade chainrule"
        )
    return info


def _read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict | None]:
    size = path.stat().st_size
    buf = bytearray(size)
    with open(path, "rb") as f:
        f.readinto(buf)
    n = int.from_bytes(buf[:8], "little")
    if size < 8 or n > min(_MAX_HEADER, size - 8):
        raise CheckpointError(
            f"{path}: safetensors header length {n} does not fit the file of {size} bytes; corrupt or truncated"
        )
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: safetensors header is not valid JSON ({e}); corrupt file") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: safetensors header must be a JSON object, found {type(header).__name__}")
    meta = header.pop("__metadata__", None) or {}
    start, data_len = 8 + n, size - 8 - n
    arrays: dict[str, np.ndarray] = {}
    end_max = 0
    for name, spec in header.items():
        try:
            dtype = np.dtype(_ST_DTYPES[spec["dtype"]])
            shape = tuple(int(s) for s in spec["shape"])
            b, e = (int(v) for v in spec["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(
                f"{path}: bad safetensors entry {name!r}: {spec!r} (dtype must be one of {sorted(_ST_DTYPES)})"
            ) from None
        count = math.prod(shape)
        if any(s < 0 for s in shape) or not 0 <= b <= e <= data_len or e - b != count * dtype.itemsize:
            raise CheckpointError(
                f"{path}: safetensors entry {name!r} (shape {shape}, {spec['dtype']}) needs "
                f"{count * dtype.itemsize} bytes at offsets [{b}, {e}) of a {data_len}-byte buffer; the file "
                "is corrupt or truncated"
            )
        end_max = max(end_max, e)
        arr = np.frombuffer(buf, dtype=dtype, count=count, offset=start + b).reshape(shape)
        arrays[name] = arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))
    if end_max != data_len:
        raise CheckpointError(
            f"{path}: safetensors data buffer is {data_len} bytes but the entries use {end_max}; corrupt file"
        )
    raw = meta.get("chainrule") if isinstance(meta, dict) and meta.get("format") == "chainrule" else None
    return arrays, (_parse_info(path, raw.encode("utf-8")) if isinstance(raw, str) else None)


def _read(path: str | os.PathLike) -> tuple[Path, dict[str, np.ndarray], dict | None]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} does not exist")
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:2] == b"PK":
        arrays, info = _read_npz(path)
    elif len(head) == 9 and head[8:9] == b"{":
        arrays, info = _read_safetensors(path)
    else:
        raise CheckpointError(f"{path}: not a checkpoint: first bytes {head[:8]!r}; {_FOREIGN}")
    return path, arrays, info


def load(path: str | os.PathLike, tensors: bool = False) -> Any:
    """Load what :func:`save` wrote: the nested dict of NumPy arrays and scalars (never unpickles).

    ``tensors=True`` returns leaves that were saved as Tensors as Tensors again (with their
    ``requires_grad``). A plain ``.npz`` or ``.safetensors`` written by other tools loads as a flat
    ``{name: array}`` dict. Corrupt or foreign files raise :class:`CheckpointError` naming the file.
    """
    path, arrays, info = _read(path)
    if info is None:
        return dict(arrays)
    return _decode(info["tree"], arrays, tensors, str(path))


def load_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The description saved with a file: format_version, library_version, created, metadata (user's)."""
    path, _, info = _read(path)
    if info is None:
        return {"format": "foreign", "metadata": {}}
    return {k: v for k, v in info.items() if k != "tree"}


# ----------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None,
                    metadata: Mapping[str, Any] | None = None, **extra: Any) -> Path:
    """Save ``{"model": model.state_dict(), "optimizer": optimizer.state_dict(), **extra}`` atomically.

    ``model``/``optimizer`` are duck-typed (anything with ``state_dict()``); the optimizer's PyTorch-style
    ``{"state": {int: {...}}, "param_groups": [...]}`` round-trips, int keys included. ``extra`` holds
    e.g. ``epoch=3`` or ``history=[...]``.
    """
    obj: dict[str, Any] = {}
    if model is not None:
        obj["model"] = model.state_dict()
    if optimizer is not None:
        obj["optimizer"] = optimizer.state_dict()
    obj.update(extra)
    return save(obj, path, metadata=metadata)


def load_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None) -> dict[str, Any]:
    """Load a checkpoint; restore ``model``/``optimizer`` via their ``load_state_dict``; return the dict.

    Values saved as Tensors come back as Tensors, arrays as arrays, so ``load_state_dict`` sees the
    types ``state_dict`` produced.
    """
    obj = load(path, tensors=True)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a checkpoint dict, found {type(obj).__name__}")
    for name, target in (("model", model), ("optimizer", optimizer)):
        if target is None:
            continue
        if name not in obj:
            raise CheckpointError(
                f"{path}: has no {name!r} entry (keys: {sorted(map(str, obj))}); was it saved with "
                f"save_checkpoint({name}=...)?"
            )
        target.load_state_dict(obj[name])
    return obj
