"""Receptive-field arithmetic for stacks of convolutions and pooling, and its gradient-based measurement.
(spec: RF-RECEPTIVE-FIELD)

With r₀ = 1, j₀ = 1 and layer l of kernel k_l, stride s_l, dilation d_l (a pooling layer counts as
kernel = stride = pool size):

    r_l = r_{l−1} + (k_l − 1)·d_l·j_{l−1},      j_l = j_{l−1}·s_l.

r_l is the input extent one unit of layer l sees, j_l the input distance between neighbouring units
("jump").  A kernel-3, stride-1 stack gives r = 3, 5, 7, … (2l + 1); conv5–pool2–conv5–pool2 gives
r = 5, 6, 14, 16 with jump 4.  Padding does not change r, only where the field starts:
the centre of unit 0 of layer l sits at c_l = c_{l−1} + ((k_l − 1)d_l/2 − p_l)·j_{l−1} (c₀ = 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..tensor import Tensor, enable_grad


@dataclass(frozen=True)
class LayerGeometry:
    """Kernel size, stride, dilation and (left) padding of one layer, per spatial axis."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[int, ...]
    name: str = ""


def _tup(v, n: int) -> tuple[int, ...]:
    if isinstance(v, (tuple, list)):
        if len(v) != n and len(v) != 1:
            raise ValueError(f"expected {n} value(s) per layer, got {v!r}")
        return tuple(int(x) for x in v) if len(v) == n else (int(v[0]),) * n
    return (int(v),) * n


def _ndim_of(v) -> int:
    return len(v) if isinstance(v, (tuple, list)) else 1


_CONV_NAMES = ("Conv1d", "Conv2d", "Conv3d")
_POOL_NAMES = ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "LPPool2d")
_TRANSPARENT = ("ReLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "GELU", "SELU", "SiLU", "Identity", "Dropout",
                "BatchNorm1d", "BatchNorm2d", "Softplus", "Step", "Sign", "Dropout2d", "LocalResponseNorm")


def _from_module(m) -> list[dict]:
    name = type(m).__name__
    if name in _CONV_NAMES or name in _POOL_NAMES or hasattr(m, "kernel_size"):
        k = m.kernel_size
        s = getattr(m, "stride", None) or k
        d = getattr(m, "dilation", 1)
        p = getattr(m, "padding", 0)
        if isinstance(p, str):
            if p == "same":
                kk = k if isinstance(k, (tuple, list)) else (k,)
                dd = d if isinstance(d, (tuple, list)) else (d,) * len(kk)
                p = tuple((int(di) * (int(ki) - 1)) // 2 for ki, di in zip(kk, dd))
            elif p == "valid":
                p = 0
            else:
                raise ValueError(f"{name}: unknown padding {p!r}")
        elif isinstance(p, (tuple, list)) and p and isinstance(p[0], (tuple, list)):
            p = tuple(int(pair[0]) for pair in p)  # (left, right) pairs: the field starts at the left pad
        return [dict(kernel_size=k, stride=s, dilation=d, padding=p, name=name)]
    children = [c for c in getattr(m, "_modules", {}).values() if c is not None]
    if children:
        out = []
        for child in children:
            out += _from_module(child)
        return out
    if name in ("Linear", "Flatten"):
        raise ValueError(f"receptive_field: {name} mixes all positions (the field becomes the whole input); "
                         "pass only the convolutional part of the model")
    if name in _TRANSPARENT or not getattr(m, "_parameters", None):
        return []
    raise ValueError(f"receptive_field: cannot read the geometry of {name}; pass (kernel, stride[, dilation]) tuples")


def _normalise(layers) -> list[LayerGeometry]:
    if hasattr(layers, "_modules"):
        raw = _from_module(layers)
    else:
        raw = []
        for L in layers:
            if hasattr(L, "_modules"):
                raw += _from_module(L)
            elif isinstance(L, dict):
                raw.append(dict(L))
            elif isinstance(L, (tuple, list)):
                if not 1 <= len(L) <= 4:
                    raise ValueError(f"a layer tuple is (kernel, stride[, dilation[, padding]]), got {L!r}")
                keys = ("kernel_size", "stride", "dilation", "padding")
                raw.append(dict(zip(keys, L)))
            else:
                raise TypeError(f"cannot read layer {L!r}: use a (kernel, stride, dilation) tuple, a dict or a module")
    n = max([_ndim_of(r.get(k, 1)) for r in raw for k in ("kernel_size", "stride", "dilation", "padding")] + [1])
    out = []
    for r in raw:
        if "kernel_size" not in r:
            raise ValueError(f"layer {r!r} lacks kernel_size")
        k = _tup(r["kernel_size"], n)
        s = _tup(r.get("stride", 1) if r.get("stride") is not None else 1, n)
        d = _tup(r.get("dilation", 1), n)
        p = _tup(r.get("padding", 0), n)
        if min(k) < 1 or min(s) < 1 or min(d) < 1:
            raise ValueError(f"kernel, stride and dilation must be >= 1, got {r!r}")
        out.append(LayerGeometry(k, s, d, p, r.get("name", "")))
    return out


def receptive_field(layers) -> list[tuple]:
    """(r_l, j_l) after every layer.  (spec: RF-RECEPTIVE-FIELD)

    ``layers``: a sequence of ``(kernel, stride)``, ``(kernel, stride, dilation)`` or
    ``(kernel, stride, dilation, padding)`` tuples (a pool is ``(size, size)``), dicts with
    ``kernel_size``/``stride``/``dilation``/``padding``, or modules (Conv*/MaxPool*/AvgPool*; containers
    are walked, activations ignored; any module with ``kernel_size`` (and optionally ``stride``,
    ``dilation``, ``padding``) attributes is read as a sliding-window layer).  Values may be per-axis
    tuples; then r and j are tuples too.
    """
    geo = _normalise(layers)
    n = len(geo[0].kernel) if geo else 1
    r, j = np.ones(n, dtype=np.int64), np.ones(n, dtype=np.int64)
    out = []
    for g in geo:
        r = r + (np.array(g.kernel) - 1) * np.array(g.dilation) * j
        j = j * np.array(g.stride)
        if n == 1 or (np.all(r == r[0]) and np.all(j == j[0])):
            out.append((int(r[0]), int(j[0])))
        else:
            out.append((tuple(int(v) for v in r), tuple(int(v) for v in j)))
    return out


def receptive_field_info(layers) -> list[dict]:
    """Per layer: ``r``, ``jump`` and ``start`` = input coordinate of the centre of unit 0's field
    (c_l = c_{l−1} + ((k_l − 1)d_l/2 − p_l)·j_{l−1}), per axis as tuples."""
    geo = _normalise(layers)
    n = len(geo[0].kernel) if geo else 1
    r, j, c = np.ones(n), np.ones(n), np.zeros(n)
    out = []
    for g in geo:
        k, s, d, p = (np.array(v, dtype=float) for v in (g.kernel, g.stride, g.dilation, g.padding))
        c = c + ((k - 1) * d / 2 - p) * j
        r = r + (k - 1) * d * j
        j = j * s
        out.append({"name": g.name, "r": tuple(int(v) for v in r), "jump": tuple(int(v) for v in j),
                    "start": tuple(float(v) for v in c)})
    return out


def measure_receptive_field(model, input_shape: Sequence[int], out_index: Sequence[int] | None = None,
                            dtype=np.float64) -> tuple[tuple[int, ...], np.ndarray]:
    """Measure the receptive field by backpropagation: the support of ∂y_u/∂x for one output unit u.

    ``input_shape`` is (N, C, L) or (N, C, H, W) (N = 1 is enough).  ``out_index`` picks the unit
    (default: channel 0 at the spatial centre of the output).  Returns (widths per spatial axis,
    |∂y_u/∂x| summed over batch and channels).  For an exact width use weights 1, biases 0, identity
    (or monotone) activations and *average* pooling: max pooling routes the gradient to one input and
    random weights may cancel.  (spec: RF-RECEPTIVE-FIELD)
    """
    x = Tensor(np.random.default_rng(0).random(tuple(input_shape)).astype(dtype), requires_grad=True)
    with enable_grad():
        y = model(x)
    if y.ndim < 3:
        raise ValueError(f"the model output has shape {y.shape}; need (N, C, spatial...) feature maps")
    idx = tuple(out_index) if out_index is not None else (0, 0) + tuple(s // 2 for s in y.shape[2:])
    if len(idx) != y.ndim:
        raise ValueError(f"out_index must have {y.ndim} entries for output shape {y.shape}, got {idx}")
    seed = np.zeros(y.shape, dtype=y.dtype)
    seed[idx] = 1.0
    y.backward(Tensor(seed))
    g = np.abs(x.grad.data).sum(axis=(0, 1))
    widths = []
    for ax in range(g.ndim):
        prof = g.sum(axis=tuple(a for a in range(g.ndim) if a != ax))
        nz = np.flatnonzero(prof > 0)
        widths.append(int(nz[-1] - nz[0] + 1) if nz.size else 0)
    return tuple(widths), g
