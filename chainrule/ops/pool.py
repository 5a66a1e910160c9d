"""Pooling ops (NCHW / NCL): max, average, adaptive and global average pooling.

Max pooling (spec: CNN-MAXPOOL)::

    O[n,c,i,j] = max_{u,v < k} X̃[n,c, i·s + d·u, j·s + d·v]      (X̃ padded with −∞, errata F17)

Its backward routes δ_out wholly to the arg-max of each window (errata F16: one element, not every
element equal to the max); overlapping windows add; at ties the *first* maximum in row-major window order
wins, as in PyTorch.  Non-overlapping windows (stride = kernel, no padding) use a reshape to
(N, C, H/k, k, W/k, k); the general case loops over the k·k kernel offsets (never over pixels).

Average pooling (spec: CNN-AVGPOOL): O = (1/k²) Σ_window X̃ (zero padding counted,
``count_include_pad=True`` by default), backward spreads δ/k² (overlaps add); global average pooling is
the mean over H, W.  Output sizes o = ⌊(i + 2p − d(k − 1) − 1)/s⌋ + 1, ``ceil_mode`` rounds up but drops
a last window that would start in the right padding (spec: POOL-OUTSIZE, CNN-CONV-OUTSIZE).
"""

from __future__ import annotations

import numpy as np

from ._base import Tensor, _make, _plain, as_tensor, is_t
from .conv import _tuple
from .reduce import mean
from .shape import _scatter, getitem, reshape, scatter_add

__all__ = [
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "global_avg_pool2d", "pool_output_size", "max_unpool2d",
]


def pool_output_size(i: int, k: int, s: int | None = None, p: int = 0, d: int = 1,
                     ceil_mode: bool = False) -> int:
    """o = ⌊(i + 2p − d(k − 1) − 1)/s⌋ + 1 (⌈·⌉ with ``ceil_mode``, dropping a last window that starts in
    the right padding: (o − 1)s ≥ i + p ⇒ o − 1).  s defaults to k.  (spec: POOL-OUTSIZE, CNN-CONV-OUTSIZE)"""
    s = k if s is None else s
    if k < 1 or s < 1 or d < 1:
        raise ValueError(f"pooling: kernel size, stride and dilation must be >= 1, got k={k}, s={s}, d={d}")
    if p < 0 or 2 * p > k:
        raise ValueError(f"pooling: padding must be between 0 and kernel_size/2 = {k / 2}, got {p} (PyTorch "
                         "rule: a window must always overlap the input)")
    num = i + 2 * p - d * (k - 1) - 1
    if num < 0:
        raise ValueError(f"pooling: the window d(k-1)+1 = {d * (k - 1) + 1} is larger than the padded input "
                         f"{i} + 2*{p} = {i + 2 * p}; the output would have size < 1")
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (o - 1) * s >= i + p:
        o -= 1
    return o


class _PGeom:
    __slots__ = ("kh", "kw", "sh", "sw", "dh", "dw", "ph", "pw", "H", "W", "Ho", "Wo")

    def __init__(self, H, W, kernel_size, stride, padding, dilation, ceil_mode):
        self.kh, self.kw = _tuple(kernel_size, 2, "kernel_size")
        st = (self.kh, self.kw) if stride is None or (not isinstance(stride, int) and len(stride) == 0) else stride
        self.sh, self.sw = _tuple(st, 2, "stride")
        self.ph, self.pw = _tuple(padding, 2, "padding")
        self.dh, self.dw = _tuple(dilation, 2, "dilation")
        self.H, self.W = H, W
        self.Ho = pool_output_size(H, self.kh, self.sh, self.ph, self.dh, ceil_mode)
        self.Wo = pool_output_size(W, self.kw, self.sw, self.pw, self.dw, ceil_mode)

    @property
    def tiled(self) -> bool:
        """Non-overlapping, unpadded, undilated windows: the reshape fast path applies."""
        return (self.sh == self.kh and self.sw == self.kw and self.ph == self.pw == 0 and self.dh == self.dw == 1
                and self.Ho * self.kh <= self.H and self.Wo * self.kw <= self.W)

    def padded_shape(self) -> tuple[int, int]:
        """Rows/cols of X̃ that the windows reach (≥ the padded input in ceil mode)."""
        Hn = max(self.H + 2 * self.ph, (self.Ho - 1) * self.sh + self.dh * (self.kh - 1) + 1)
        Wn = max(self.W + 2 * self.pw, (self.Wo - 1) * self.sw + self.dw * (self.kw - 1) + 1)
        return Hn, Wn

    def hs(self, u: int) -> slice:
        return slice(u * self.dh, u * self.dh + self.sh * (self.Ho - 1) + 1, self.sh)

    def ws(self, v: int) -> slice:
        return slice(v * self.dw, v * self.dw + self.sw * (self.Wo - 1) + 1, self.sw)


def _check4(x: Tensor, who: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{who}: expected input of shape (N, C, H, W), got {x.shape}")


# ----------------------------------------------------------------------------- max pooling
def _windows_source(x: np.ndarray, g: _PGeom) -> np.ndarray:
    """The array the windows slide over: x itself for non-overlapping unpadded windows, else a copy
    padded with −∞ (errata F17: max pooling pads with −∞, not zeros)."""
    if g.tiled:
        return x
    N, C = x.shape[:2]
    Hn, Wn = g.padded_shape()
    xp = np.full((N, C, Hn, Wn), -np.inf, dtype=x.dtype)
    xp[:, :, g.ph:g.ph + g.H, g.pw:g.pw + g.W] = x
    return xp


def _window_max(xp: np.ndarray, g: _PGeom) -> np.ndarray:
    """max over each window: one ``np.maximum`` per kernel offset on strided views."""
    best = xp[:, :, g.hs(0), g.ws(0)].copy()
    for u in range(g.kh):
        for v in range(g.kw):
            if u or v:
                np.maximum(best, xp[:, :, g.hs(u), g.ws(v)], out=best)
    return best


def _window_argmax(xp: np.ndarray, best: np.ndarray, g: _PGeom) -> np.ndarray:
    """Offset index u·kW + v of the *first* maximum of each window in row-major window order (PyTorch's
    tie rule): offsets are visited last to first, so the earliest one equal to the maximum wins."""
    K = g.kh * g.kw
    arg = np.full(best.shape, K - 1, dtype=np.uint8 if K < 256 else np.int64)
    for o in range(K - 2, -1, -1):
        u, v = divmod(o, g.kw)
        np.copyto(arg, o, where=xp[:, :, g.hs(u), g.ws(v)] == best)
    return arg


def _flat_indices(arg: np.ndarray, g: _PGeom) -> np.ndarray:
    """Offset index → flat index h·W + w into each (unpadded) input plane (PyTorch's return_indices)."""
    u, v = np.divmod(arg.astype(np.int64), g.kw)
    rows = np.arange(g.Ho)[:, None] * g.sh + u * g.dh - g.ph
    cols = np.arange(g.Wo)[None, :] * g.sw + v * g.dw - g.pw
    return rows * g.W + cols


def _max_pool_route(dy, arg: np.ndarray, g: _PGeom, x_shape: tuple):
    """The max-pool backward on arrays: δ to the arg-max of each window (overlaps add), one masked pass
    per kernel offset."""
    N, C, H, W = x_shape
    finite = np.isfinite(dy.sum())

    def routed(o):  # δ where the offset is the arg-max, else 0 (δ·mask would turn an infinite δ into NaN)
        return dy * (arg == o) if finite else np.where(arg == o, dy, np.zeros((), dy.dtype))

    if g.tiled:  # windows do not overlap: each input gets at most one δ, plain assignment
        dx = np.zeros(x_shape, dtype=dy.dtype)
        o = 0
        for u in range(g.kh):
            for v in range(g.kw):
                dx[:, :, g.hs(u), g.ws(v)] = routed(o)
                o += 1
        return dx
    Hn, Wn = g.padded_shape()
    dxp = np.zeros((N, C, Hn, Wn), dtype=dy.dtype)
    o = 0
    for u in range(g.kh):
        for v in range(g.kw):
            dxp[:, :, g.hs(u), g.ws(v)] += routed(o)
            o += 1
    return dxp[:, :, g.ph:g.ph + H, g.pw:g.pw + W]


# Non-overlapping windows (the common 2×2/stride-2 case) in two separable stages: the max over each
# row's kW columns, then over the kH rows.  Row-major first occurrence decomposes: a row's first
# maximum, then the first row whose maximum is the largest.  Two passes of 1/kW and 1/(kH·kW) of the
# input instead of kH·kW strided passes, and the stage arg-maxes are kept for the backward (2–3× faster
# than the offset loop on LeNet-5's pools).
def _stage_max(views: list, need_arg: bool, nan_aware: bool = False):
    """Max over a list of same-shape views and the index of its first maximum (bool for two views,
    uint8 beyond).  ``nan_aware``: PyTorch's rule ``val > max or isnan(val)`` (a NaN wins, the last
    one in the window), used only when the fast pass found a NaN."""
    def gt(a, m):
        return (a > m) | np.isnan(a) if nan_aware else a > m
    if len(views) == 1:
        return np.ascontiguousarray(views[0]), None
    arg = gt(views[1], views[0]) if need_arg else None
    m = np.maximum(views[0], views[1])
    if len(views) > 2 and need_arg:
        arg = arg.astype(np.uint8)
    for v in range(2, len(views)):
        if need_arg:
            np.copyto(arg, v, where=gt(views[v], m))
        np.maximum(m, views[v], out=m)
    return m, arg


def _tiled_max(x: np.ndarray, g: _PGeom, need_arg: bool, nan_aware: bool = False):
    """(best, column arg-max (N, C, Ho·kH, Wo), row arg-max (N, C, Ho, Wo)) of non-overlapping windows."""
    Hc, Wc = g.Ho * g.kh, g.Wo * g.kw
    m, ac = _stage_max([x[:, :, :Hc, v:Wc:g.kw] for v in range(g.kw)], need_arg, nan_aware)
    best, ar = _stage_max([m[:, :, u::g.kh] for u in range(g.kh)], need_arg, nan_aware)
    return best, ac, ar


def _stage_route(d: np.ndarray, arg, outs: list) -> None:
    """Send d to the view chosen by arg (the adjoint of ``_stage_max``); every view is written."""
    if len(outs) == 1:
        outs[0][...] = d
    elif arg.dtype == np.bool_:
        np.multiply(d, arg, out=outs[1])    # d·[arg]: a multiply is ~10× faster than np.where here
        np.subtract(d, outs[1], out=outs[0])
    else:
        for v, o in enumerate(outs):
            np.multiply(d, arg == v, out=o)


def _tiled_route(dy: np.ndarray, ac, ar, g: _PGeom, x_shape: tuple) -> np.ndarray:
    N, C, H, W = x_shape
    Hc, Wc = g.Ho * g.kh, g.Wo * g.kw
    if not np.isfinite(dy.sum()):   # inf·0 = NaN: route exactly (rare, slow path; a sum that overflows lands here too)
        return _max_pool_route(dy, _tiled_offsets(ac, ar, g), g, x_shape)
    drow = np.empty((N, C, Hc, g.Wo), dtype=dy.dtype)
    _stage_route(dy, ar, [drow[:, :, u::g.kh] for u in range(g.kh)])
    dx = np.empty(x_shape, dtype=dy.dtype) if (Hc, Wc) == (H, W) else np.zeros(x_shape, dtype=dy.dtype)
    _stage_route(drow, ac, [dx[:, :, :Hc, v:Wc:g.kw] for v in range(g.kw)])
    return dx


def _tiled_offsets(ac, ar, g: _PGeom) -> np.ndarray:
    """The two stage arg-maxes as one kernel-offset index u·kW + v per window (``_window_argmax``'s form)."""
    N, C = ar.shape[:2] if ar is not None else ac.shape[:2]
    u = np.zeros((N, C, g.Ho, g.Wo), np.int64) if ar is None else ar.astype(np.int64)
    if ac is None:
        return u * g.kw
    acr = ac.astype(np.int64).reshape(N, C, g.Ho, g.kh, g.Wo)
    v = np.take_along_axis(acr, u[:, :, :, None, :], axis=3)[:, :, :, 0, :]
    return u * g.kw + v


def max_pool2d(input: Tensor, kernel_size: int | tuple, stride: int | tuple | None = None, padding: int | tuple = 0,
               dilation: int | tuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """2-D max pooling, ``torch.nn.functional.max_pool2d`` semantics (stride defaults to the kernel size,
    padding −∞, at most half the kernel).  Gradient routed to the first arg-max of each window.
    With ``return_indices`` also returns the flat arg-max index h·W + w per (n, c) plane (int64).
    (spec: CNN-MAXPOOL, CONV2D-LAYER, POOL-OUTSIZE; errata F2, F16, F17)"""
    x = as_tensor(input)
    _check4(x, "max_pool2d")
    g = _PGeom(x.shape[2], x.shape[3], kernel_size, stride, padding, dilation, ceil_mode)
    x_shape = x.shape
    cache: dict = {}
    if g.tiled and g.kh * g.kw > 1:
        need = x.requires_grad or return_indices
        best, ac, ar = _tiled_max(x.data, g, need)
        if need and np.isnan(best.sum()):   # NaN (or ±inf that cancel): redo with PyTorch's NaN arg-max rule
            best, ac, ar = _tiled_max(x.data, g, True, nan_aware=True)
        cache["stages"] = (ac, ar)
    else:
        xp = _windows_source(x.data, g)
        best = _window_max(xp, g)
        if return_indices:
            cache["arg"] = _window_argmax(xp, best, g)
        del xp  # the backward recomputes the (padded) source from its input

    def argmax_of(X: np.ndarray) -> np.ndarray:
        if "arg" not in cache:  # computed on first use: a forward without backward never pays for it
            cache["arg"] = (_tiled_offsets(*cache["stages"], g) if "stages" in cache
                            else _window_argmax(_windows_source(X, g), best, g))
        return cache["arg"]

    def vjp(dy, out, X):
        if is_t(dy):  # differentiable form: a scatter-add of δ (its own rule is a gather)
            N, C = x_shape[:2]
            base = np.arange(N * C).reshape(N, C, 1, 1) * (g.H * g.W)
            flat = (_flat_indices(argmax_of(X.data), g) + base).ravel()
            return (reshape(_scatter(reshape(dy, (-1,)), flat, (int(np.prod(x_shape)),)), x_shape),)
        if "stages" in cache:
            return (_tiled_route(dy, *cache["stages"], g, x_shape),)
        return (_max_pool_route(dy, argmax_of(X), g, x_shape),)

    out = _make(best, (x,), vjp)
    if return_indices:
        return out, Tensor._wrap(_flat_indices(argmax_of(x.data), g).astype(np.int64))
    return out


def max_pool1d(input: Tensor, kernel_size: int, stride: int | None = None, padding: int = 0, dilation: int = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """1-D max pooling on (N, C, L) (as max_pool2d with H = 1).  (spec: CNN-MAXPOOL)"""
    x = as_tensor(input)
    if x.ndim != 3:
        raise ValueError(f"max_pool1d: expected input of shape (N, C, L), got {x.shape}")
    k = _tuple(kernel_size, 1, "kernel_size")[0]
    s = k if stride is None else _tuple(stride, 1, "stride")[0]
    r = max_pool2d(reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2])), (1, k), (1, s),
                   (0, _tuple(padding, 1, "padding")[0]), (1, _tuple(dilation, 1, "dilation")[0]), ceil_mode,
                   return_indices)
    if return_indices:
        y, idx = r
        return reshape(y, (y.shape[0], y.shape[1], y.shape[3])), Tensor._wrap(idx.data[:, :, 0, :])
    return reshape(r, (r.shape[0], r.shape[1], r.shape[3]))


def max_unpool2d(input: Tensor, indices, output_size: tuple) -> Tensor:
    """Place each value at its recorded arg-max (indices from ``max_pool2d(return_indices=True)``); zeros
    elsewhere.  ``output_size`` = (H, W)."""
    x = as_tensor(input)
    idx = np.asarray(_plain(indices))
    N, C = x.shape[:2]
    H, W = output_size[-2:]
    flat = (idx + np.arange(N * C).reshape(N, C, 1, 1) * (H * W)).ravel()
    return reshape(scatter_add(reshape(x, (-1,)), flat, (N * C * H * W,)), (N, C, H, W))


# ----------------------------------------------------------------------------- average pooling
def _sum_pool(x: Tensor, g: _PGeom) -> Tensor:
    """Σ over each window of the zero-padded input (linear; its rule is the adjoint ``_sum_pool_t``)."""
    return _make(_k_sum_pool(x.data, g), (x,), lambda dy, out, X: (_sum_pool_t_any(dy, g),))


def _k_sum_pool(x: np.ndarray, g: _PGeom) -> np.ndarray:
    N, C = x.shape[:2]
    Hn, Wn = g.padded_shape()
    xp = np.zeros((N, C, Hn, Wn), dtype=x.dtype)
    xp[:, :, g.ph:g.ph + g.H, g.pw:g.pw + g.W] = x
    acc = xp[:, :, g.hs(0), g.ws(0)].copy()
    for u in range(g.kh):
        for v in range(g.kw):
            if u or v:
                acc += xp[:, :, g.hs(u), g.ws(v)]
    return acc


def _k_sum_pool_t(dy: np.ndarray, g: _PGeom) -> np.ndarray:
    N, C = dy.shape[:2]
    Hn, Wn = g.padded_shape()
    dxp = np.zeros((N, C, Hn, Wn), dtype=dy.dtype)
    for u in range(g.kh):
        for v in range(g.kw):
            dxp[:, :, g.hs(u), g.ws(v)] += dy
    return np.ascontiguousarray(dxp[:, :, g.ph:g.ph + g.H, g.pw:g.pw + g.W])


def _sum_pool_t_any(dy, g: _PGeom):
    if is_t(dy):
        return _make(_k_sum_pool_t(dy.data, g), (dy,), lambda gg, out, D: (_sum_pool_any(gg, g),))
    return _k_sum_pool_t(dy, g)


def _sum_pool_any(x, g: _PGeom):
    return _sum_pool(x, g) if is_t(x) else _k_sum_pool(x, g)


def _divisors(g: _PGeom, count_include_pad: bool) -> np.ndarray:
    """PyTorch's per-window divisor: window clipped to the padded input (count_include_pad) or to the
    input itself."""
    def axis(o, s, k, p, n):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        size_pad = end - start
        size_in = np.minimum(end, n) - np.maximum(start, 0)
        return size_pad if count_include_pad else size_in
    return np.outer(axis(g.Ho, g.sh, g.kh, g.ph, g.H), axis(g.Wo, g.sw, g.kw, g.pw, g.W))


def avg_pool2d(input: Tensor, kernel_size: int | tuple, stride: int | tuple | None = None, padding: int | tuple = 0,
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling, ``torch.nn.functional.avg_pool2d`` semantics: O = (1/k²)Σ_window X̃ with
    zero padding counted (``count_include_pad=True``); backward spreads δ/k² (overlaps add).
    (spec: CNN-AVGPOOL, POOL-OUTSIZE)"""
    x = as_tensor(input)
    _check4(x, "avg_pool2d")
    g = _PGeom(x.shape[2], x.shape[3], kernel_size, stride, padding, 1, ceil_mode)
    N, C = x.shape[:2]
    if g.tiled and divisor_override is None:
        xc = x if (g.Ho * g.kh, g.Wo * g.kw) == x.shape[2:] else getitem(
            x, (slice(None), slice(None), slice(0, g.Ho * g.kh), slice(0, g.Wo * g.kw)))
        return mean(reshape(xc, (N, C, g.Ho, g.kh, g.Wo, g.kw)), (3, 5))
    s = _sum_pool(x, g)
    if divisor_override is not None:
        return s * (1.0 / float(divisor_override))
    div = _divisors(g, count_include_pad)
    if np.all(div == div.flat[0]):
        return s * (1.0 / float(div.flat[0]))
    return s * Tensor._wrap((1.0 / div).astype(x.dtype))


def avg_pool1d(input: Tensor, kernel_size: int, stride: int | None = None, padding: int = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling on (N, C, L).  (spec: CNN-AVGPOOL)"""
    x = as_tensor(input)
    if x.ndim != 3:
        raise ValueError(f"avg_pool1d: expected input of shape (N, C, L), got {x.shape}")
    k = _tuple(kernel_size, 1, "kernel_size")[0]
    s = k if stride is None else _tuple(stride, 1, "stride")[0]
    y = avg_pool2d(reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2])), (1, k), (1, s),
                   (0, _tuple(padding, 1, "padding")[0]), ceil_mode, count_include_pad)
    return reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


def _adaptive_matrix(n: int, o: int, dtype) -> np.ndarray:
    """(o, n) averaging matrix of PyTorch's adaptive windows [⌊i·n/o⌋, ⌈(i + 1)·n/o⌉)."""
    P = np.zeros((o, n), dtype=dtype)
    for i in range(o):
        a, b = (i * n) // o, -(-((i + 1) * n) // o)
        P[i, a:b] = 1.0 / (b - a)
    return P


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple) -> Tensor:
    """Average over PyTorch's adaptive windows so the output is ``output_size`` (an int, a pair; None keeps
    that axis): O = P_H X P_Wᵀ with row-averaging matrices (exact, differentiable to any order).
    (spec: CNN-AVGPOOL)"""
    from .linalg import matmul
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected (N, C, H, W) or (C, H, W), got {x.shape}")
    H, W = x.shape[-2:]
    oh, ow = (output_size, output_size) if isinstance(output_size, int) or output_size is None else output_size
    oh = H if oh is None else int(oh)
    ow = W if ow is None else int(ow)
    if oh < 1 or ow < 1:
        raise ValueError(f"adaptive_avg_pool2d: output size must be >= 1, got {(oh, ow)}")
    if H % oh == 0 and W % ow == 0:
        kh, kw = H // oh, W // ow
        if kh == H and kw == W:
            return mean(x, (-2, -1), keepdims=True)
        return mean(reshape(x, x.shape[:-2] + (oh, kh, ow, kw)), (-3, -1))
    Ph = Tensor._wrap(_adaptive_matrix(H, oh, x.dtype))
    Pw = Tensor._wrap(np.ascontiguousarray(_adaptive_matrix(W, ow, x.dtype).T))
    return matmul(matmul(Ph, x), Pw)


def adaptive_avg_pool1d(input: Tensor, output_size: int) -> Tensor:
    """Adaptive average pooling of (N, C, L) to ``output_size`` values.  (spec: CNN-AVGPOOL)"""
    x = as_tensor(input)
    y = adaptive_avg_pool2d(reshape(x, x.shape[:-1] + (1, x.shape[-1])), (1, output_size))
    return reshape(y, x.shape[:-1] + (y.shape[-1],))


def global_avg_pool2d(input: Tensor, keepdim: bool = False) -> Tensor:
    """Mean over H, W: (N, C, H, W) → (N, C) (or (N, C, 1, 1) with ``keepdim``).  (spec: CNN-AVGPOOL)"""
    x = as_tensor(input)
    _check4(x, "global_avg_pool2d")
    return mean(x, (2, 3), keepdims=keepdim)
