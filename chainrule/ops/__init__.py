"""Differentiable operations, grouped by family.  Each op is a forward computation plus its
vector-Jacobian rule; this module also gives ``Tensor`` its operators and methods."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .activation import (
    celu,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_sigmoid,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softplus,
    softsign,
    swish,
    tanh,
)
from .arith import (
    abs,
    add,
    clamp,
    clip,
    cos,
    div,
    erf,
    exp,
    expm1,
    log,
    log1p,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    rpow,
    sign,
    sin,
    sqrt,
    step,
    sub,
    where,
)
from .conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from .linalg import dot, linear, matmul, outer
from .pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    global_avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from .reduce import argmax, argmin, log_softmax, logsumexp, max, mean, min, softmax, std, sum, var
from .shape import (
    broadcast_to,
    cast,
    cat,
    chunk,
    clone,
    concatenate,
    expand,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    scatter_add,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)

__all__ = [
    "celu", "hardsigmoid", "hardswish", "hardtanh", "log_sigmoid", "logsigmoid", "mish", "prelu", "relu6", "softsign", "swish",
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "global_avg_pool2d",
    "abs", "add", "argmax", "argmin", "broadcast_to", "cast", "cat", "chunk", "clamp", "clip", "clone",
    "concatenate", "cos", "div", "dot", "elu", "erf", "exp", "expand", "expm1", "flatten", "gelu",
    "getitem", "leaky_relu", "linear", "log", "log1p", "log_softmax", "logsumexp", "matmul", "max",
    "maximum", "mean", "min", "minimum", "mul", "neg", "outer", "pad", "permute", "pow", "relu",
    "reshape", "scatter_add", "selu", "sigmoid", "sign", "silu", "sin", "softmax", "softplus", "split",
    "sqrt", "squeeze", "stack", "std", "step", "sub", "sum", "tanh", "transpose", "unsqueeze", "var",
    "where",
]


def _dim(dim, axis):
    return axis if dim is None else dim


def _kd(keepdim, keepdims):
    return keepdim if keepdims is None else keepdims


def _cmp(op):
    def f(self, other):
        o = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(np.asarray(op(self.data, o)))
    return f


def _bind() -> None:
    T = Tensor
    T.__add__ = add
    T.__radd__ = lambda s, o: add(o, s)
    T.__sub__ = sub
    T.__rsub__ = lambda s, o: sub(o, s)
    T.__mul__ = mul
    T.__rmul__ = lambda s, o: mul(o, s)
    T.__truediv__ = div
    T.__rtruediv__ = lambda s, o: div(o, s)
    T.__neg__ = neg
    T.__pos__ = lambda s: s
    T.__pow__ = pow
    T.__rpow__ = rpow
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda s, o: matmul(o, s)
    T.__abs__ = abs
    T.__getitem__ = getitem
    T.__lt__ = _cmp(np.less)
    T.__le__ = _cmp(np.less_equal)
    T.__gt__ = _cmp(np.greater)
    T.__ge__ = _cmp(np.greater_equal)
    T.__eq__ = _cmp(np.equal)
    T.__ne__ = _cmp(np.not_equal)
    T.__invert__ = lambda s: Tensor._wrap(~s.data)
    T.__and__ = _cmp(np.logical_and)
    T.__or__ = _cmp(np.logical_or)
    T.__iter__ = lambda s: (s[i] for i in range(len(s)))

    T.add, T.sub, T.mul, T.div, T.pow, T.matmul = add, sub, mul, div, pow, matmul
    T.exp, T.log, T.log1p, T.expm1, T.sqrt, T.abs, T.sin, T.cos, T.erf = exp, log, log1p, expm1, sqrt, abs, sin, cos, erf
    T.sign, T.step = sign, step
    T.clip = clip
    T.clamp = lambda s, min=None, max=None: clip(s, min, max)
    T.maximum, T.minimum = maximum, minimum
    T.sigmoid, T.tanh, T.relu = sigmoid, tanh, relu
    T.sum = lambda s, dim=None, keepdim=False, *, axis=None, keepdims=None: sum(s, _dim(dim, axis), _kd(keepdim, keepdims))
    T.mean = lambda s, dim=None, keepdim=False, *, axis=None, keepdims=None: mean(s, _dim(dim, axis), _kd(keepdim, keepdims))
    T.var = lambda s, dim=None, keepdim=False, *, axis=None, keepdims=None, ddof=0, correction=None: var(
        s, _dim(dim, axis), ddof, _kd(keepdim, keepdims), correction)
    T.std = lambda s, dim=None, keepdim=False, *, axis=None, keepdims=None, ddof=0, correction=None: std(
        s, _dim(dim, axis), ddof, _kd(keepdim, keepdims), correction)
    T.max = lambda s, dim=None, keepdim=False, *, axis=None, keepdims=None: max(s, _dim(dim, axis), _kd(keepdim, keepdims))
    T.min = lambda s, dim=None, keepdim=False, *, axis=None, keepdims=None: min(s, _dim(dim, axis), _kd(keepdim, keepdims))
    T.amax, T.amin = T.max, T.min
    T.argmax = lambda s, dim=None, keepdim=False, *, axis=None: argmax(s, _dim(dim, axis), keepdim)
    T.argmin = lambda s, dim=None, keepdim=False, *, axis=None: argmin(s, _dim(dim, axis), keepdim)
    T.logsumexp = lambda s, dim=-1, keepdim=False: logsumexp(s, dim, keepdim)
    T.softmax = lambda s, dim=-1: softmax(s, dim)
    T.log_softmax = lambda s, dim=-1: log_softmax(s, dim)
    T.reshape = reshape
    T.view = reshape
    T.flatten = flatten
    T.permute = permute
    T.transpose = transpose
    T.expand = expand
    T.squeeze = squeeze
    T.unsqueeze = unsqueeze
    T.T = property(lambda s: permute(s, tuple(reversed(range(s.ndim)))))
    T.mT = property(lambda s: transpose(s, -2, -1))
    T.any = lambda s, *a, **k: Tensor._wrap(np.asarray(s.data.any(*a, **k)))
    T.all = lambda s, *a, **k: Tensor._wrap(np.asarray(s.data.all(*a, **k)))
    T.split = split
    T.chunk = chunk


_bind()
