"""Reductions and the softmax family: sum, mean, var, std, max/min, logsumexp, softmax, log_softmax.

max/min: at ties the gradient is split evenly between the tied entries (as ``torch.amax``).
softmax/log_softmax/logsumexp shift by the maximum, so they are finite for logits of any size.
(spec: MLP-SOFTMAX, AD-SOFTMAX-JACOBIAN)
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import get_default_dtype
from ._base import Tensor, _make, _plain, as_tensor
from .arith import _exp
from .shape import _broadcast_to


def _axes(axis, ndim: int):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        return (int(axis) % ndim,) if ndim else ()
    return tuple(int(a) % ndim for a in axis)


def _kshape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand_back(g, shape, axes):
    """Bring a reduced gradient back to the input shape (insert size-1 axes, broadcast)."""
    return _broadcast_to(g.reshape(_kshape(shape, axes)), shape)


def sum(a, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    a = as_tensor(a)
    axes = _axes(axis, a.ndim)
    shape = a.shape

    def vjp(g, out, x):
        return (_expand_back(g, shape, axes),)

    return _make(np.asarray(a.data.sum(axis=axes, keepdims=keepdims)), (a,), vjp)


def mean(a, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over axes (all by default); an integer tensor gives the default float dtype."""
    a = as_tensor(a)
    if a.data.dtype.kind != "f":
        a = Tensor._wrap(a.data.astype(get_default_dtype()))
    axes = _axes(axis, a.ndim)
    shape = a.shape
    n = int(np.prod([shape[i] for i in axes])) if axes else 1

    def vjp(g, out, x):
        return (_expand_back(g, shape, axes) * (1.0 / n),)

    return _make(np.asarray(a.data.mean(axis=axes, keepdims=keepdims)), (a,), vjp)


def var(a, axis=None, ddof: int = 0, keepdims: bool = False, correction: int | None = None) -> Tensor:
    """Variance; ``ddof``/``correction`` = 0 is the biased (1/N) estimate, 1 the unbiased one."""
    a = as_tensor(a)
    if correction is not None:
        ddof = correction
    axes = _axes(axis, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes])) if axes else 1
    d = a - mean(a, axes, keepdims=True)
    return sum(d * d, axes, keepdims=keepdims) * (1.0 / (n - ddof) if n - ddof > 0 else math.inf)


def std(a, axis=None, ddof: int = 0, keepdims: bool = False, correction: int | None = None) -> Tensor:
    return var(a, axis, ddof, keepdims, correction) ** 0.5


def _extreme(a, axis, keepdims, fn):
    a = as_tensor(a)
    axes = _axes(axis, a.ndim)
    shape = a.shape
    out = fn(a.data, axis=axes, keepdims=True)

    def vjp(g, o, x):
        xd = _plain(x)
        mask = (xd == out)
        w = (mask / mask.sum(axis=axes, keepdims=True)).astype(xd.dtype)
        return (_expand_back(g, shape, axes) * w,)

    res = out if keepdims else out.reshape(tuple(s for i, s in enumerate(shape) if i not in axes))
    return _make(res, (a,), vjp)


def max(a, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over axes; tied maxima share the gradient equally (documented choice)."""
    return _extreme(a, axis, keepdims, np.max)


def min(a, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _extreme(a, axis, keepdims, np.min)


def argmax(a, axis=None, keepdims: bool = False) -> Tensor:
    return Tensor._wrap(np.asarray(np.argmax(_plain(as_tensor(a)), axis=axis, keepdims=keepdims)))


def argmin(a, axis=None, keepdims: bool = False) -> Tensor:
    return Tensor._wrap(np.asarray(np.argmin(_plain(as_tensor(a)), axis=axis, keepdims=keepdims)))


def logsumexp(a, axis=-1, keepdims: bool = False) -> Tensor:
    """log Σ exp(x) computed as m + log Σ exp(x − m), m = max x; gradient softmax(x)."""
    a = as_tensor(a)
    axes = _axes(axis, a.ndim)
    shape = a.shape
    m = np.max(a.data, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # all entries −inf: the result is −inf
        outk = np.log(np.sum(np.exp(a.data - m), axis=axes, keepdims=True)) + m

    def vjp(g, out, x):
        ok = out.reshape(_kshape(shape, axes))
        return (_expand_back(g, shape, axes) * _exp(x - ok),)

    return _make(outk if keepdims else outk.reshape(tuple(s for i, s in enumerate(shape) if i not in axes)),
                 (a,), vjp)


def _softmax_np(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax(a, axis: int = -1) -> Tensor:
    """softmax(s)_k = e^{s_k}/Σ_j e^{s_j} (shift-invariant). Rule: Jᵀg = a ⊙ (g − aᵀg)."""
    a = as_tensor(a)

    def vjp(g, out, x):
        return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)

    return _make(_softmax_np(a.data, axis), (a,), vjp)


def log_softmax(a, axis: int = -1) -> Tensor:
    """s − logsumexp(s). Rule: g − softmax(s)·Σg."""
    a = as_tensor(a)
    x = a.data
    m = np.max(x, axis=axis, keepdims=True)
    sh = x - m
    res = sh - np.log(np.exp(sh).sum(axis=axis, keepdims=True))

    def vjp(g, out, x):
        return (g - _exp(out) * g.sum(axis=axis, keepdims=True),)

    return _make(res, (a,), vjp)
