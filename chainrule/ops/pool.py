"""Pooling ops (NCHW / NCL): max, average, adaptive max/average and global average pooling.

Max pooling (spec: CNN-MAXPOOL)::

    O[n,c,i,j] = max_{u,v < k} X̃[n,c, i·s + d·u, j·s + d·v]      (X̃ padded with −∞, errata F17)

Its backward routes δ_out wholly to the arg-max of each window (errata F16: one element, not every
element equal to the max); overlapping windows add.  The arg-max is PyTorch's CPU scan over the window's
in-bounds elements in row-major order, ``if (val > max || isnan(val))`` from max = −∞: the *first*
maximum at ties, the *last* NaN when the window has one (its output is NaN), the first in-bounds element
when all are −∞ — on every path, and for ``return_indices``.  Non-overlapping windows (stride = kernel, no
padding) use two separable stages; the general case loops over the k·k kernel offsets (never over
pixels).  The NaN-aware arg-max runs only when an output maximum is NaN (one sum over the output).
Adaptive max pooling takes PyTorch's windows [⌊i·n/o⌋, ⌈(i + 1)·n/o⌉) with the same arg-max rule.

Average pooling (spec: CNN-AVGPOOL): O = (1/k²) Σ_window X̃ (zero padding counted,
``count_include_pad=True`` by default), backward spreads δ/k² (overlaps add); global average pooling is
the mean over H, W.  Output sizes o = ⌊(i + 2p − d(k − 1) − 1)/s⌋ + 1, ``ceil_mode`` rounds up but drops
a last window that would start in the right padding (spec: POOL-OUTSIZE, CNN-CONV-OUTSIZE).
"""

from __future__ import annotations

import numpy as np

from ..tensor import is_grad_enabled
from ._base import Tensor, _make, _plain, as_tensor, is_t
from .conv import _tuple
from .reduce import mean
from .shape import _scatter, getitem, reshape, scatter_add

__all__ = [
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "global_avg_pool2d", "pool_output_size", "max_unpool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
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


def _quiet_sum(a: np.ndarray):
    """Σa as a cheap non-finite probe (NaN when a NaN, or +inf and −inf, are present), without the
    RuntimeWarning of inf − inf or of an overflow."""
    with np.errstate(invalid="ignore", over="ignore"):
        return a.sum()


def _plane_starts(N: int, C: int, plane: int) -> np.ndarray:
    """(N, C, 1, 1) flat offset of each (n, c) plane of ``plane`` elements: per-plane index → flat index."""
    return np.arange(N * C).reshape(N, C, 1, 1) * plane


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
    """Offset index u·kW + v of each window's arg-max under PyTorch's CPU rule, a scan in row-major window
    order over the window's *in-bounds* elements that updates ``if (val > max || isnan(val))`` from
    max = −∞ at the first in-bounds element (spec: CNN-MAXPOOL):

    - no NaN: the *first* maximum (offsets are visited last to first, the earliest one equal to the
      maximum wins);
    - a NaN in the window: the window's maximum is NaN and the *last* NaN wins (a second pass, run only
      when the maxima contain a NaN: the clean case costs one sum over the output);
    - all in-bounds elements −∞: the first in-bounds element, never the −∞ padding (only when the
      windows reach padding and a maximum is −∞).
    """
    K = g.kh * g.kw
    arg = np.full(best.shape, K - 1, dtype=np.uint8 if K < 256 else np.int64)
    for o in range(K - 2, -1, -1):
        u, v = divmod(o, g.kw)
        np.copyto(arg, o, where=xp[:, :, g.hs(u), g.ws(v)] == best)
    total = _quiet_sum(best)
    if np.isfinite(total):
        return arg
    if np.isnan(total):   # a NaN maximum (or +inf and -inf maxima that cancel): last NaN of each window
        for o in range(K):
            u, v = divmod(o, g.kw)
            np.copyto(arg, o, where=np.isnan(xp[:, :, g.hs(u), g.ws(v)]))
    if xp.shape[2:] != (g.H, g.W):   # windows reach the -inf padding: an all -inf window takes its first
        ninf = np.isneginf(best)       # in-bounds element (PyTorch's scan start), as offset u0·kW + v0
        if ninf.any():
            np.copyto(arg, _first_inbounds_offset(g).astype(arg.dtype), where=ninf)
    return arg


def _first_inbounds_offset(g: _PGeom) -> np.ndarray:
    """(Ho, Wo) offset u0·kW + v0 of the first window position at or after the input's top/left edge:
    u0 = max(0, ⌈(p − i·s)/d⌉) (PyTorch's ``while (ih0 < 0) ih0 += d``)."""
    u0 = np.maximum(0, -((np.arange(g.Ho) * g.sh - g.ph) // g.dh))
    v0 = np.maximum(0, -((np.arange(g.Wo) * g.sw - g.pw) // g.dw))
    return u0[:, None] * g.kw + v0[None, :]


def _rows_cols(arg: np.ndarray, g: _PGeom) -> tuple[np.ndarray, np.ndarray]:
    """Offset index → input row h and column w of the arg-max (outside [0, H) × [0, W) only for a window
    wholly in the padding, possible with dilation)."""
    u, v = np.divmod(arg.astype(np.int64), g.kw)
    return np.arange(g.Ho)[:, None] * g.sh + u * g.dh - g.ph, np.arange(g.Wo)[None, :] * g.sw + v * g.dw - g.pw


def _flat_indices(arg: np.ndarray, g: _PGeom) -> np.ndarray:
    """Offset index → flat index h·W + w into each (unpadded) input plane (PyTorch's return_indices)."""
    rows, cols = _rows_cols(arg, g)
    return rows * g.W + cols


def _max_pool_route(dy, arg: np.ndarray, g: _PGeom, x_shape: tuple):
    """The max-pool backward on arrays: δ to the arg-max of each window (overlaps add), one masked pass
    per kernel offset."""
    N, C, H, W = x_shape
    finite = np.isfinite(_quiet_sum(dy))

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
        arg = arg.astype(np.uint8 if len(views) <= 256 else np.int64)
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
    if not np.isfinite(_quiet_sum(dy)):   # inf·0 = NaN: route exactly (rare; an overflowing sum lands here too)
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
    padding −∞, at most half the kernel).  Gradient routed to the first arg-max of each window (to the last
    NaN of a window holding a NaN, whose output is NaN; as PyTorch's CPU kernel).
    With ``return_indices`` also returns the flat arg-max index h·W + w per (n, c) plane (int64).
    (spec: CNN-MAXPOOL, CONV2D-LAYER, POOL-OUTSIZE; errata F2, F16, F17)"""
    x = as_tensor(input)
    _check4(x, "max_pool2d")
    g = _PGeom(x.shape[2], x.shape[3], kernel_size, stride, padding, dilation, ceil_mode)
    x_shape = x.shape
    cache: dict = {}
    if g.tiled and g.kh * g.kw > 1:
        need = return_indices or (x.requires_grad and is_grad_enabled())
        best, ac, ar = _tiled_max(x.data, g, need)
        if need and np.isnan(_quiet_sum(best)):   # NaN (or ±inf that cancel): redo with PyTorch's NaN arg-max rule
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
            rows, cols = _rows_cols(argmax_of(X.data), g)
            base = _plane_starts(N, C, g.H * g.W)
            flat = (rows * g.W + cols + base).ravel()
            d = reshape(dy, (-1,))
            inside = ((rows >= 0) & (rows < g.H) & (cols >= 0) & (cols < g.W)).ravel()
            if not inside.all():   # a window wholly in the padding (dilation): its δ is dropped, as PyTorch
                d, flat = getitem(d, np.flatnonzero(inside)), flat[inside]
            return (reshape(_scatter(d, flat, (int(np.prod(x_shape)),)), x_shape),)
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
    flat = (idx + _plane_starts(N, C, H * W)).ravel()
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


# ----------------------------------------------------------------------------- adaptive max pooling
def _adaptive_windows(n: int, o: int) -> np.ndarray:
    """(o, K) input positions of PyTorch's adaptive windows [⌊i·n/o⌋, ⌈(i + 1)·n/o⌉), K the largest window
    size; a shorter window repeats its last position, which changes neither its maximum nor which input
    element the first maximum or the last NaN is.  (spec: POOL-OUTSIZE)"""
    i = np.arange(o)
    a, b = (i * n) // o, -(-((i + 1) * n) // o)
    return np.minimum(a[:, None] + np.arange(int((b - a).max())), b[:, None] - 1)


def _adaptive_max_arrays(x: np.ndarray, ri: np.ndarray, ci: np.ndarray, need_arg: bool, nan_aware: bool):
    """(maxima (N, C, oH, oW), input rows and columns of the arg-maxes, or None) over the windows ``ri`` × ``ci``.

    Two separable ``_stage_max`` stages on gathered views (one per window position): the maxima of each
    row's column window, then the first row-window entry holding the largest.  Row-major first occurrence
    decomposes this way (and so does PyTorch's last NaN with ``nan_aware``), so the column is then found
    only in the chosen row: the first position equal to the maximum (visited last to first), or its last
    NaN — gathers of the output's size instead of tracking an arg-max over every input row."""
    m, _ = _stage_max([x[..., ci[:, t]] for t in range(ci.shape[1])], False)
    best, ar = _stage_max([m[:, :, ri[:, t], :] for t in range(ri.shape[1])], need_arg, nan_aware)
    if not need_arg:
        return best, None, None
    N, C, oh, ow = best.shape
    H, W = x.shape[2:]
    rows = np.broadcast_to(ri[np.arange(oh)[:, None], 0 if ar is None else ar.astype(np.intp)], best.shape)
    Kw = ci.shape[1]
    pos = np.full(best.shape, Kw - 1, dtype=np.intp)
    if Kw > 1:
        xf = x.reshape(-1)
        row_start = _plane_starts(N, C, H * W) + rows * W

        def at(t):   # x at the chosen row and column-window position t: (N, C, oH, oW)
            return xf[row_start + ci[:, t]]
        for t in range(Kw - 2, -1, -1):
            np.copyto(pos, t, where=at(t) == best)
        if nan_aware:
            for t in range(Kw):
                np.copyto(pos, t, where=np.isnan(at(t)))
    return best, rows, ci[np.arange(ow), pos]


def _adaptive_output_size(output_size, n: int, who: str) -> tuple[int | None, ...]:
    """Validate ``output_size``: an int or a length-``n`` tuple of ints (n = 2: None entries keep that input
    size) → n entries."""
    def bad(why: str) -> ValueError:
        what = "a positive int or a tuple of 2 positive ints/None (None keeps that input size)" if n == 2 else \
            "a positive int (or a 1-tuple)"
        return ValueError(f"{who}: output_size must be {what}, got {output_size!r} ({why})")
    if n == 1 and output_size is None:
        raise bad("None")
    sizes = (output_size,) * n if output_size is None or isinstance(output_size, (int, np.integer)) else output_size
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise bad("not an int or a tuple") from None
    if len(sizes) != n:
        raise bad(f"{len(sizes)} entries")
    for o in sizes:
        if (o is None and n == 1) or (o is not None and (isinstance(o, bool) or not isinstance(o, (int, np.integer)))):
            raise bad(f"entry {o!r} is not an int")
        if o is not None and o < 1:
            raise bad(f"entry {o} < 1")
    return sizes


def adaptive_max_pool2d(input: Tensor, output_size: int | tuple | None,
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over PyTorch's adaptive windows, ``torch.nn.functional.adaptive_max_pool2d`` semantics::

        O[n,c,i,j] = max_{h ∈ [⌊i·H/oH⌋, ⌈(i+1)·H/oH⌉), w ∈ [⌊j·W/oW⌋, ⌈(j+1)·W/oW⌉)} X[n,c,h,w]

    on (N, C, H, W) or (C, H, W); ``output_size`` an int, a pair, None entries keep that axis.  The
    gradient goes wholly to the arg-max of each window (overlapping windows add): the first maximum in
    row-major window order, or the last NaN (a NaN is the maximum), as PyTorch's CPU kernel.  With
    ``return_indices`` also returns the flat arg-max index h·W + w per plane (int64).
    Divisible sizes are max_pool2d with kernel = stride = (H/oH, W/oW); otherwise two separable stages on
    gathered windows: the row maxima over each column window, then the maximum over each row window.
    (spec: CNN-MAXPOOL, POOL-OUTSIZE)"""
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_max_pool2d: expected input of shape (N, C, H, W) or (C, H, W), got {x.shape}; "
                         "add or remove the batch axis")
    H, W = x.shape[-2:]
    if H < 1 or W < 1:
        raise ValueError(f"adaptive_max_pool2d: the spatial size must be >= 1, got {(H, W)}")
    oh, ow = _adaptive_output_size(output_size, 2, "adaptive_max_pool2d")
    oh, ow = H if oh is None else int(oh), W if ow is None else int(ow)
    if x.ndim == 3:
        r = adaptive_max_pool2d(reshape(x, (1,) + x.shape), (oh, ow), return_indices)
        if return_indices:
            return reshape(r[0], r[0].shape[1:]), Tensor._wrap(r[1].data[0])
        return reshape(r, r.shape[1:])
    if H % oh == 0 and W % ow == 0:   # non-overlapping windows of one size: the max-pool paths
        return max_pool2d(x, (H // oh, W // ow), return_indices=return_indices)
    N, C = x.shape[:2]
    ci, ri = _adaptive_windows(W, ow), _adaptive_windows(H, oh)
    need = return_indices or (x.requires_grad and is_grad_enabled())
    best, rows, cols = _adaptive_max_arrays(x.data, ri, ci, need, False)
    if not need:   # values only (np.maximum propagates NaN)
        return _make(best, (x,), None)
    if np.isnan(_quiet_sum(best)):   # NaN (or ±inf that cancel): redo with PyTorch's NaN arg-max rule
        best, rows, cols = _adaptive_max_arrays(x.data, ri, ci, True, True)
    flat = rows * W + cols
    base = _plane_starts(N, C, H * W)
    scatter_idx = (flat + base).ravel()
    size = N * C * H * W

    def vjp(dy, out, X):   # δ to the arg-max, overlaps add (a scatter-add: exact for infinite δ too)
        return (_scatter(dy.reshape(-1), scatter_idx, (size,)).reshape(x.shape),)

    out = _make(best, (x,), vjp)
    if return_indices:
        return out, Tensor._wrap(flat.astype(np.int64))
    return out


def adaptive_max_pool1d(input: Tensor, output_size: int | tuple,
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Adaptive max pooling of (N, C, L) or (C, L) to ``output_size`` values: O[.., i] = max over
    [⌊i·L/o⌋, ⌈(i+1)·L/o⌉); arg-max, ties and NaN as ``adaptive_max_pool2d``; indices are positions in L.
    (spec: CNN-MAXPOOL, POOL-OUTSIZE)"""
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise ValueError(f"adaptive_max_pool1d: expected input of shape (N, C, L) or (C, L), got {x.shape}; "
                         "add or remove the batch axis")
    (o,) = _adaptive_output_size(output_size, 1, "adaptive_max_pool1d")
    r = adaptive_max_pool2d(reshape(x, x.shape[:-1] + (1, x.shape[-1])), (1, o), return_indices)
    y = r[0] if return_indices else r
    y = reshape(y, x.shape[:-1] + (y.shape[-1],))
    if return_indices:
        return y, Tensor._wrap(r[1].data[..., 0, :])
    return y


def global_avg_pool2d(input: Tensor, keepdim: bool = False) -> Tensor:
    """Mean over H, W: (N, C, H, W) → (N, C) (or (N, C, 1, 1) with ``keepdim``).  (spec: CNN-AVGPOOL)"""
    x = as_tensor(input)
    _check4(x, "global_avg_pool2d")
    return mean(x, (2, 3), keepdims=keepdim)
