"""Shared helpers for ops: operand conversion, broadcasting reduction, array/Tensor dispatch.

Vector-Jacobian rules receive NumPy arrays (plain backward) or Tensors (``create_graph=True``).
The ``_xxx`` helpers below call NumPy for arrays and the differentiable op for Tensors, so every rule
is written once.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_default_dtype
from ..tensor import Tensor, _make, _share_version  # noqa: F401  (re-exported for op modules)


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """Turn an operand into a Tensor.

    Constants (Python numbers, NumPy scalars and arrays) next to a floating tensor ``like`` take its
    dtype, so a float32 graph stays float32 (NEP 50: scalars never upcast).  Next to an integer tensor
    a float constant gets the default floating dtype.
    """
    if isinstance(x, Tensor):
        return x
    if like is not None:
        arr = np.asarray(x)
        dt = like.data.dtype
        if arr.dtype != dt and arr.dtype.kind in "fiub":
            if dt.kind == "f":
                arr = arr.astype(dt)
            elif arr.dtype.kind == "f":
                arr = arr.astype(get_default_dtype())
        return Tensor._wrap(arr)
    return Tensor(x)


def operands(a, b) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors of one dtype.

    float32 and float64 tensors are never mixed (TypeError: cast explicitly); an integer or bool
    tensor next to a floating one is converted to the floating dtype.
    """
    if not isinstance(a, Tensor):
        a = as_tensor(a, b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = as_tensor(b, a)
    da, db = a.data.dtype, b.data.dtype
    if da != db:
        ka, kb = da.kind, db.kind
        if ka == "f" and kb == "f":
            raise TypeError(
                f"operands have dtypes {da} and {db}; chainrule does not upcast silently. "
                f"Cast one explicitly, e.g. t.to(np.{da if da.itemsize > db.itemsize else db}) "
                f"or t.to(np.{db if da.itemsize > db.itemsize else da}).")
        if ka == "f":
            b = Tensor._wrap(b.data.astype(da))
        elif kb == "f":
            a = Tensor._wrap(a.data.astype(db))
    return a, b


def unbroadcast(g, shape: tuple):
    """Sum a gradient over the axes that broadcasting expanded, so it has ``shape``."""
    gshape = g.shape
    if gshape == shape:
        return g
    nd = len(gshape) - len(shape)
    axes = tuple(range(nd)) + tuple(i + nd for i, s in enumerate(shape) if s == 1 and gshape[i + nd] != 1)
    if axes:
        g = np.asarray(g.sum(axis=axes)) if not isinstance(g, Tensor) else g.sum(axis=axes)
    if g.shape != shape:
        g = g.reshape(shape)
    return g


def is_t(x) -> bool:
    return isinstance(x, Tensor)


def const(x):
    """A value that takes part in a rule but receives no gradient (a mask, an index, a sign)."""
    return x.detach() if isinstance(x, Tensor) else x


def _plain(x):
    return x.data if isinstance(x, Tensor) else x
