"""Shape and indexing ops: reshape, transpose/permute, expand, getitem, concatenate, stack, split, pad.

Their rules move gradients back to where the values came from: an inverse reshape/permutation, a sum
over expanded axes, and for indexing a scatter-add (duplicate integer indices add up).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..tensor import _unwrap_index
from ._base import Tensor, _make, _share_version, as_tensor, is_t, unbroadcast


def _norm_shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(a, *shape) -> Tensor:
    a = as_tensor(a)
    shape = _norm_shape(shape)
    in_shape = a.shape

    def vjp(g, out, x):
        return (g.reshape(in_shape),)

    return _share_version(_make(a.data.reshape(shape), (a,), vjp), a)


def flatten(a, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    a = as_tensor(a)
    nd = a.ndim
    s, e = start_dim % nd if nd else 0, end_dim % nd if nd else 0
    new = a.shape[:s] + (-1,) + a.shape[e + 1:]
    return reshape(a, new)


def permute(a, *axes) -> Tensor:
    a = as_tensor(a)
    axes = _norm_shape(axes) or tuple(reversed(range(a.ndim)))
    axes = tuple(ax % a.ndim for ax in axes)
    inv = tuple(np.argsort(axes))

    def vjp(g, out, x):
        return (_transpose(g, inv),)

    return _share_version(_make(a.data.transpose(axes), (a,), vjp), a)


def transpose(a, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two axes (PyTorch semantics; ``permute`` takes a full order)."""
    a = as_tensor(a)
    axes = list(range(a.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return permute(a, tuple(axes))


def expand(a, *shape) -> Tensor:
    """Broadcast to ``shape`` (a view); the rule sums over the expanded axes."""
    a = as_tensor(a)
    shape = _norm_shape(shape)
    nd = len(shape) - a.ndim
    shape = tuple(a.shape[i - nd] if s == -1 else s for i, s in enumerate(shape))
    in_shape = a.shape

    def vjp(g, out, x):
        return (unbroadcast(g, in_shape),)

    return _share_version(_make(np.broadcast_to(a.data, shape), (a,), vjp), a)


broadcast_to = expand


def squeeze(a, dim=None) -> Tensor:
    a = as_tensor(a)
    if dim is None:
        new = tuple(s for s in a.shape if s != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else dim
        dims = {d % a.ndim for d in dims}
        new = tuple(s for i, s in enumerate(a.shape) if not (i in dims and s == 1))
    return reshape(a, new)


def unsqueeze(a, dim: int) -> Tensor:
    a = as_tensor(a)
    d = dim % (a.ndim + 1)
    return reshape(a, a.shape[:d] + (1,) + a.shape[d:])


def _is_basic(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    for i in items:
        if not (i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))):
            return False
    return True


def scatter_add(g, idx, shape: tuple) -> Tensor:
    """zeros(shape) with ``g`` added at ``idx`` (the adjoint of ``x[idx]``)."""
    g = as_tensor(g)
    basic = _is_basic(idx)
    z = np.zeros(shape, dtype=g.dtype)
    if basic:
        z[idx] = g.data
    else:
        np.add.at(z, idx, g.data)

    def vjp(gg, out, x):
        return (gg[idx],)

    return _make(z, (g,), vjp)


def _scatter(g, idx, shape):
    if is_t(g):
        return scatter_add(g, idx, shape)
    z = np.zeros(shape, dtype=g.dtype)
    if _is_basic(idx):
        z[idx] = g
    else:
        np.add.at(z, idx, g)
    return z


def getitem(a, idx) -> Tensor:
    """a[idx] with NumPy semantics (basic and integer/bool-array indexing).

    Backward scatters the gradient back; repeated integer indices accumulate (scatter-add).
    """
    a = as_tensor(a)
    idx = _unwrap_index(idx)
    in_shape = a.shape

    def vjp(g, out, x):
        return (_scatter(g, idx, in_shape),)

    return _share_version(_make(a.data[idx], (a,), vjp), a)


def concatenate(tensors: Sequence, axis: int = 0) -> Tensor:
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate needs at least one tensor")
    ts = [t if t.dtype == ts[0].dtype or t.dtype.kind != "f" else _dtype_error(ts) for t in ts]
    ax = axis % ts[0].ndim
    sizes = [t.shape[ax] for t in ts]
    offsets = np.cumsum([0] + sizes)

    def vjp(g, out, *xs):
        pre = (slice(None),) * ax
        return tuple(g[pre + (slice(int(offsets[i]), int(offsets[i + 1])),)] for i in range(len(xs)))

    return _make(np.concatenate([t.data for t in ts], axis=ax), tuple(ts), vjp)


cat = concatenate


def _dtype_error(ts):
    raise TypeError(f"cannot join tensors of dtypes {[str(t.dtype) for t in ts]}; cast them to one dtype first")


def stack(tensors: Sequence, axis: int = 0) -> Tensor:
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack needs at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    ax = axis % (ts[0].ndim + 1)

    def vjp(g, out, *xs):
        pre = (slice(None),) * ax
        return tuple(g[pre + (i,)] for i in range(len(xs)))

    return _make(np.stack([t.data for t in ts], axis=ax), tuple(ts), vjp)


def split(a, split_size_or_sections, axis: int = 0) -> list[Tensor]:
    """Split into pieces of ``split_size`` (int) or of the given sizes (list), as torch.split."""
    a = as_tensor(a)
    ax = axis % a.ndim
    n = a.shape[ax]
    if isinstance(split_size_or_sections, (int, np.integer)):
        k = int(split_size_or_sections)
        sizes = [k] * (n // k) + ([n % k] if n % k else [])
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split sizes {sizes} sum to {sum(sizes)}, but the axis has length {n}")
    out, o = [], 0
    pre = (slice(None),) * ax
    for s in sizes:
        out.append(getitem(a, pre + (slice(o, o + s),)))
        o += s
    return out


def chunk(a, chunks: int, axis: int = 0) -> list[Tensor]:
    a = as_tensor(a)
    n = a.shape[axis]
    return split(a, -(-n // chunks), axis)


def pad(a, pad_width, value: float = 0.0) -> Tensor:
    """Constant padding; ``pad_width`` as NumPy: ((before, after), ...) per axis."""
    a = as_tensor(a)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=int), (a.ndim, 2)) if np.ndim(pad_width) < 2 \
        else np.asarray(pad_width, dtype=int)
    sl = tuple(slice(int(b), int(b) + s) for (b, _), s in zip(pw, a.shape))

    def vjp(g, out, x):
        return (g[sl],)

    return _make(np.pad(a.data, pw, mode="constant", constant_values=value), (a,), vjp)


def clone(a) -> Tensor:
    a = as_tensor(a)
    return _make(a.data.copy(), (a,), lambda g, out, x: (g,))


def cast(a, dtype) -> Tensor:
    a = as_tensor(a)
    dt = np.dtype(dtype)
    src = a.dtype
    if dt == src:
        return a
    if dt.kind != "f":
        return Tensor._wrap(a.data.astype(dt))

    def vjp(g, out, x):
        return (_cast(g, src),)

    return _make(a.data.astype(dt), (a,), vjp)


# ------------------------------------------------------------------ dispatch helpers for rules
def _transpose(x, axes):
    return permute(x, axes) if is_t(x) else x.transpose(axes)


def _cast(x, dtype):
    return cast(x, dtype) if is_t(x) else x.astype(dtype, copy=False)


def _broadcast_to(x, shape):
    return expand(x, shape) if is_t(x) else np.broadcast_to(x, shape)


def _mT(x):
    return transpose(x, -2, -1) if is_t(x) else np.swapaxes(x, -1, -2)
