"""Convolutions (NCHW / NCL, cross-correlation) as differentiable ops, and convolution arithmetic.

"Convolution" means cross-correlation, as in every deep-learning library (spec: CNN-CONV-DEF)::

    Y[n,k,a,b] = b_k + Σ_c Σ_{i<kH} Σ_{j<kW} W[k,c,i,j] · X̃[n,c, a·s + d·i, b·s + d·j]

with X̃ the input zero-padded by p, W of shape (C_out, C_in/groups, kH, kW) and one bias per output
channel (spec: CNN-CONV2D, CONV2D-LAYER, CNN-CONV1D, CONV1D-DILATED, CONV-DILATED).  Output size per
axis o = ⌊(i + 2p − d(k − 1) − 1)/s⌋ + 1 (spec: CNN-CONV-OUTSIZE, CONV-OUTSIZE; errata E16/F1/N28: a
floor, +2p).

Implementation: im2col + one GEMM.  The input is laid out channel-major, X̃ᵀ of shape (C, N, H, W),
and the columns (C·kH·kW, N·H_out·W_out) are filled by one strided slice copy per kernel offset
(kH·kW copies, no loop over pixels or samples); Y = W₂ · cols is a single GEMM (batched over groups).
The backward reuses the saved columns: ∂L/∂W = Δ colsᵀ (spec: CNN-CONV2D-BACKWARD-W) and ∂L/∂X is a
*transposed convolution*: dcols = W₂ᵀ Δ scattered back by col2im as kH·kW slice-adds — vectorised and
deterministic, no ``np.add.at`` (spec: CNN-CONV2D-BACKWARD-X).

Exact higher derivatives.  The three bilinear maps of one convolution geometry,

    conv(X, W) → Y,      conv_t(Δ, W) → X-shaped (= ∂⟨conv(X, W), Δ⟩/∂X),
    conv_w(X, Δ) → W-shaped (= ∂⟨conv(X, W), Δ⟩/∂W),

are each a primitive op whose vector-Jacobian rules are the other two (all derivatives of the
trilinear form ⟨conv(X, W), Δ⟩), so with ``create_graph=True`` the backward of a CNN is recorded as
convolutions and Hessians / Hessian-vector products of CNNs are exact.

``conv_transpose2d`` is ``conv_t`` with PyTorch's weight layout (C_in, C_out/groups, kH, kW) and output
size o′ = s(i′ − 1) + a + d(k − 1) + 1 − 2p (spec: CONV-TRANSPOSED, errata N30: with the input size i′,
not the stretched size).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from scipy import fft as _fft

from ._base import Tensor, _make, _plain, as_tensor, is_t, operands
from .linalg import linear
from .shape import reshape

__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "conv_output_size",
    "conv_transpose_output_size", "same_padding", "conv_matrix", "conv_transpose_via_conv", "convolve2d",
    "correlate2d", "from_hwck", "to_hwck", "normalized_cross_correlation", "pad_nd",
]


# ----------------------------------------------------------------------------- arithmetic
def _tuple(v, n: int, name: str) -> tuple:
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    t = tuple(int(x) for x in v)
    if len(t) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def conv_output_size(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """o = ⌊(i + 2p − d(k − 1) − 1)/s⌋ + 1 for one axis (input i, kernel k, stride s, padding p each side,
    dilation d).  Raises ValueError when the effective kernel d(k − 1) + 1 exceeds i + 2p.
    (spec: CONV-OUTSIZE, CNN-CONV-OUTSIZE, CONV-DILATED; errata E16, F1, N28)"""
    return _out_size(i, k, s, p, p, d, "conv_output_size")


def _out_size(i, k, s, pl, pr, d, who) -> int:
    eff = d * (k - 1) + 1
    if k < 1 or s < 1 or d < 1:
        raise ValueError(f"{who}: kernel size, stride and dilation must be >= 1, got k={k}, s={s}, d={d}")
    if eff > i + pl + pr:
        raise ValueError(
            f"{who}: the effective kernel d(k-1)+1 = {eff} (k={k}, d={d}) is larger than the padded input "
            f"i + padding = {i} + {pl + pr} = {i + pl + pr}, so the output would have size < 1. Use a "
            "smaller kernel or dilation, more padding, or a larger input.")
    return (i + pl + pr - eff) // s + 1


def conv_transpose_output_size(i: int, k: int, s: int = 1, p: int = 0, a: int = 0, d: int = 1) -> int:
    """o′ = s(i′ − 1) + a + d(k − 1) + 1 − 2p (a = output_padding < max(s, d)).  (spec: CONV-TRANSPOSED,
    errata N30)"""
    if not 0 <= a < max(s, d):
        raise ValueError(f"output_padding must be in [0, max(stride, dilation) - 1] = [0, {max(s, d) - 1}], "
                         f"got {a}")
    o = s * (i - 1) + a + d * (k - 1) + 1 - 2 * p
    if o < 1:
        raise ValueError(f"conv_transpose: output size s(i-1)+a+d(k-1)+1-2p = {o} < 1 for i={i}, k={k}, s={s}, "
                         f"p={p}, a={a}, d={d}; reduce the padding")
    return o


def same_padding(k: int, d: int = 1) -> tuple[int, int]:
    """Padding (before, after) that keeps the size at stride 1: total d(k − 1), ⌊total/2⌋ before and the
    rest after (PyTorch's padding='same').  (spec: CONV-PAD-SAME)"""
    total = d * (k - 1)
    return total // 2, total - total // 2


def _resolve_padding(padding, ks: tuple, ds: tuple, ss: tuple, who: str) -> tuple:
    """Per-axis (before, after) pads from an int, a tuple, 'valid', 'same' or 'full'."""
    n = len(ks)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * n
        if mode == "same":
            if any(s != 1 for s in ss):
                raise ValueError(f"{who}: padding='same' needs stride 1 (got stride {ss}); give the padding "
                                 "explicitly for strided convolutions")
            return tuple(same_padding(k, d) for k, d in zip(ks, ds))
        if mode == "full":  # spec: CONV-PAD-FULL (library extension): p = d(k − 1), o = i + d(k − 1)
            return tuple((d * (k - 1), d * (k - 1)) for k, d in zip(ks, ds))
        raise ValueError(f"{who}: padding must be an int, a tuple, 'valid', 'same' or 'full', got {padding!r}")
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * n
    pads = tuple(padding)
    if len(pads) == n and all(isinstance(p, (int, np.integer)) for p in pads):
        return tuple((int(p), int(p)) for p in pads)
    if len(pads) == n and all(len(p) == 2 for p in pads):
        return tuple((int(p[0]), int(p[1])) for p in pads)
    raise ValueError(f"{who}: padding {padding!r} must be an int, {n} ints, {n} (before, after) pairs, or a string")


# ----------------------------------------------------------------------------- geometry and kernels
class _Geom:
    """Static description of one 2-D convolution: kernel, stride, dilation, pads, groups, the sizes of
    its input (H, W) and output (Ho, Wo), and how it is computed.

    Algorithms (chosen per call from the shapes; all exact up to float rounding, all deterministic):

    - im2col + GEMM.  Columns are (C, kH, kW, <spatial and batch>), Y = W₂ · cols.  The order of the
      trailing axes decides the length of the contiguous runs of the kH·kW slice copies:
      ``nlast=False``: X̃ᵀ (C, N, Hp, Wp), cols (C, kH, kW, N, Ho, Wo) — runs of Wo values, cheap
      NCHW transposes (whole planes move); ``nlast=True``: X̃ (C, Hp, Wp, N), cols (C, kH, kW, Ho, Wo, N)
      — runs of Wo·N values (stride 1): im2col/col2im 2–4× faster, but element-wise transposes of input
      and output.  Batch-last pays for C_in·kH·kW/groups ≥ 64.
    - FFT (stride 1, dilation 1, groups 1, large kernels and channel counts): per frequency one complex
      (N × C)·(C × K) product instead of C·kH·kW real multiply-adds per output.  Circular correlation
      with period P ≥ H + max(pad) equals the zero-padded linear one on every output (wrapped indices
      land on zero padding).  Used when its estimated cost is below 0.6× the GEMM's (e.g. the TF-CNN's
      32→64 5×5 conv on 14×14: 3× fewer operations); measurements in docs/cnn/conv_algorithms.md.
    """

    __slots__ = ("kh", "kw", "sh", "sw", "dh", "dw", "pt", "pb", "pl", "pr", "groups", "H", "W", "Ho", "Wo",
                 "Hp", "Wp", "nlast", "fft", "P", "Q")

    def __init__(self, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups, H, W, C=1, N=1, K=1, who="conv2d"):
        self.kh, self.kw, self.sh, self.sw, self.dh, self.dw = kh, kw, sh, sw, dh, dw
        self.pt, self.pb, self.pl, self.pr, self.groups, self.H, self.W = pt, pb, pl, pr, groups, H, W
        if min(pt, pb, pl, pr) < 0:
            raise ValueError(f"{who}: padding must be >= 0, got {(pt, pb, pl, pr)}")
        self.Ho = _out_size(H, kh, sh, pt, pb, dh, who)
        self.Wo = _out_size(W, kw, sw, pl, pr, dw, who)
        self.Hp, self.Wp = H + pt + pb, W + pl + pr
        self.nlast = (C // groups) * kh * kw >= _NLAST_MIN
        self.fft = False
        if sh == sw == dh == dw == groups == 1 and _FFT_MODE != "never":
            self.P = _fft.next_fast_len(max(H + max(pt, pb), kh, self.Ho), real=True)
            self.Q = _fft.next_fast_len(max(W + max(pl, pr), kw, self.Wo), real=True)
            F = self.P * (self.Q // 2 + 1)
            direct = 2.0 * N * self.Ho * self.Wo * K * C * kh * kw
            planes = (N * C + K * C + N * K) * self.P * self.Q * np.log2(self.P * self.Q)
            fft_cost = 10.0 * F * N * C * K + 22.0 * planes       # flop-equivalents, measured on the CPU
            self.fft = _FFT_MODE == "always" or fft_cost < 0.6 * direct

    @property
    def padded(self) -> bool:
        return bool(self.pt or self.pb or self.pl or self.pr)

    def hs(self, i: int) -> slice:
        return slice(i * self.dh, i * self.dh + self.sh * (self.Ho - 1) + 1, self.sh)

    def ws(self, j: int) -> slice:
        return slice(j * self.dw, j * self.dw + self.sw * (self.Wo - 1) + 1, self.sw)

    def to_nchw(self, a: np.ndarray) -> np.ndarray:
        """(C, N, H, W) or (C, H, W, N) (this layout) → contiguous (N, C, H, W)."""
        return np.ascontiguousarray(a.transpose(3, 0, 1, 2) if self.nlast else a.transpose(1, 0, 2, 3))

    def from_nchw(self, a: np.ndarray) -> np.ndarray:
        """(N, C, H, W) → a view in this layout, (C, H, W, N) or (C, N, H, W)."""
        return a.transpose(1, 2, 3, 0) if self.nlast else a.transpose(1, 0, 2, 3)


_NLAST_MIN = 64      # C_in·kH·kW/groups from which the batch-last column layout is used
_FFT_MODE = "auto"   # 'auto' (cost model) | 'always' (where applicable) | 'never'


def _fft_workers() -> int:
    """Threads for the batched FFTs: the BLAS thread budget if the environment sets one, else the CPUs."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        v = os.environ.get(var)
        if v and v.isdigit():
            return max(1, int(v))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------- im2col + GEMM kernels
def _im2col(x: np.ndarray, g: _Geom) -> np.ndarray:
    """Columns (C, kH, kW, N, Ho, Wo) or (C, kH, kW, Ho, Wo, N) (``g.nlast``): one strided slice copy per
    kernel offset, no loop over pixels or samples."""
    N, C, H, W = x.shape
    xt = g.from_nchw(x)
    if g.padded:
        shape = (C, g.Hp, g.Wp, N) if g.nlast else (C, N, g.Hp, g.Wp)
        xp = np.zeros(shape, dtype=x.dtype)
        if g.nlast:
            xp[:, g.pt:g.pt + H, g.pl:g.pl + W, :] = xt
        else:
            xp[:, :, g.pt:g.pt + H, g.pl:g.pl + W] = xt
    else:
        xp = np.ascontiguousarray(xt) if g.nlast else xt
    if g.nlast:
        cols = np.empty((C, g.kh, g.kw, g.Ho, g.Wo, N), dtype=x.dtype)
        for i in range(g.kh):
            hs = g.hs(i)
            for j in range(g.kw):
                cols[:, i, j] = xp[:, hs, g.ws(j), :]
    else:
        cols = np.empty((C, g.kh, g.kw, N, g.Ho, g.Wo), dtype=x.dtype)
        for i in range(g.kh):
            hs = g.hs(i)
            for j in range(g.kw):
                cols[:, i, j] = xp[:, :, hs, g.ws(j)]
    return cols


def _col2im(dcols: np.ndarray, N: int, C: int, g: _Geom) -> np.ndarray:
    """Adjoint of ``_im2col``: add each offset's columns back (kH·kW slice-adds), crop the padding and
    return NCHW.  Deterministic (fixed summation order), no ``np.add.at``."""
    if g.nlast:
        dcols = dcols.reshape(C, g.kh, g.kw, g.Ho, g.Wo, N)
        dxp = np.zeros((C, g.Hp, g.Wp, N), dtype=dcols.dtype)
        for i in range(g.kh):
            hs = g.hs(i)
            for j in range(g.kw):
                dxp[:, hs, g.ws(j), :] += dcols[:, i, j]
        return g.to_nchw(dxp[:, g.pt:g.pt + g.H, g.pl:g.pl + g.W, :])
    dcols = dcols.reshape(C, g.kh, g.kw, N, g.Ho, g.Wo)
    dxp = np.zeros((C, N, g.Hp, g.Wp), dtype=dcols.dtype)
    for i in range(g.kh):
        hs = g.hs(i)
        for j in range(g.kw):
            dxp[:, :, hs, g.ws(j)] += dcols[:, i, j]
    return g.to_nchw(dxp[:, :, g.pt:g.pt + g.H, g.pl:g.pl + g.W])


def _gemm_nt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ bᵀ for a (K, M), b (R, M) (the weight gradient Δ colsᵀ).  Two measured shape rules for
    OpenBLAS: with R > K it is ~2× faster to form (b aᵀ)ᵀ (e.g. LeNet-5's conv2, 16 × 150 over 6,400
    columns); and when K·R is tiny and M long (first layers: C_in·kH·kW ≈ 25) one BLAS call streams both
    operands through memory for a handful of outputs, so summing the products of cache-sized column
    blocks (≈256 KiB) is faster.  Fixed block order: deterministic."""
    swap = b.shape[0] > a.shape[0]
    if swap:
        a, b = b, a
    K, M = a.shape
    R = b.shape[0]
    if K * R > 4096 or M < 4096:
        out = a @ b.T
    else:
        c = max(256, 1 << int(np.log2(65536 / (K + R))))
        out = a[:, :c] @ b[:, :c].T
        for i in range(c, M, c):
            out += a[:, i:i + c] @ b[:, i:i + c].T
    return out.T if swap else out


def _gemm_wide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for a (K, R) with very few rows and b (R, M) long (a first layer's Y = W₂ cols with K ≤ 8
    output channels).  OpenBLAS packs all of b for a handful of output rows; products of column blocks
    of ≈ 400 KiB run 1.4–2.3× faster here (LeNet-5's C1: 6 × 25 over 50,176 columns)."""
    K, R = a.shape
    M = b.shape[1]
    if K > 8 or M < 16384:
        return a @ b
    c = max(512, 1 << int(np.log2(102400 / R)))
    out = np.empty((K, M), dtype=np.result_type(a, b))
    for i in range(0, M, c):
        np.matmul(a, b[:, i:i + c], out=out[:, i:i + c])
    return out


# --------------------------------------------------------------------- FFT kernels
def _rfft(buf: np.ndarray, g: _Geom) -> np.ndarray:
    """2-D real FFT over the two leading axes of (P, Q, a, b) → (F, a, b), F = P·(Q//2 + 1)."""
    z = _fft.rfft2(buf, axes=(0, 1), workers=_fft_workers())
    return z.reshape((-1,) + buf.shape[2:])


def _irfft(z: np.ndarray, g: _Geom) -> np.ndarray:
    """Inverse of ``_rfft``: (F, a, b) → real (P, Q, a, b)."""
    z = z.reshape((g.P, g.Q // 2 + 1) + z.shape[1:])
    return _fft.irfft2(z, s=(g.P, g.Q), axes=(0, 1), workers=_fft_workers())


def _fft_x(x: np.ndarray, g: _Geom) -> np.ndarray:
    N, C, H, W = x.shape
    buf = np.zeros((g.P, g.Q, N, C), dtype=x.dtype)
    buf[g.pt:g.pt + H, g.pl:g.pl + W] = x.transpose(2, 3, 0, 1)
    return _rfft(buf, g)


def _fft_w(w: np.ndarray, g: _Geom) -> np.ndarray:
    K, C = w.shape[:2]
    buf = np.zeros((g.P, g.Q, C, K), dtype=w.dtype)
    buf[:g.kh, :g.kw] = w.transpose(2, 3, 1, 0)
    return _rfft(buf, g)


def _fft_dy(dy: np.ndarray, g: _Geom) -> np.ndarray:
    N, K = dy.shape[:2]
    buf = np.zeros((g.P, g.Q, N, K), dtype=dy.dtype)
    buf[:g.Ho, :g.Wo] = dy.transpose(2, 3, 0, 1)
    return _rfft(buf, g)


# --------------------------------------------------------------------- the kernels behind the three ops
# Each operand is first "prepared" for the chosen algorithm (columns / Δ matrix / weight for im2col,
# spectra for FFT); the three bilinear maps then take prepared operands, so a forward's prepared input
# is reused by the weight gradient.
def _prep_x(x: np.ndarray, g: _Geom) -> np.ndarray:
    return _fft_x(x, g) if g.fft else _im2col(x, g)


def _prep_dy(dy: np.ndarray, g: _Geom) -> np.ndarray:
    if g.fft:
        return _fft_dy(dy, g)
    return np.ascontiguousarray(g.from_nchw(dy)).reshape(dy.shape[1], -1)   # (K, M) in the columns' order


def _prep_w(w: np.ndarray, g: _Geom) -> np.ndarray:
    return _fft_w(w, g) if g.fft else w


def _apply_conv(xr: np.ndarray, wr: np.ndarray, g: _Geom, N: int, K: int) -> np.ndarray:
    """Y = conv(X, W) (N, K, Ho, Wo) from prepared operands."""
    if g.fft:   # Ŷ = X̂ · conj(Ŵ) per frequency: cross-correlation
        y = _irfft(np.matmul(xr, np.conj(wr)), g)[:g.Ho, :g.Wo]
        return np.ascontiguousarray(y.transpose(2, 3, 0, 1))
    M = xr.size // (xr.shape[0] * g.kh * g.kw)
    cols2 = xr.reshape(-1, M)
    G = g.groups
    if G == 1:
        y = _gemm_wide(wr.reshape(K, -1), cols2)
    else:
        y = np.matmul(wr.reshape(G, K // G, -1), cols2.reshape(G, -1, M)).reshape(K, -1)
    return g.to_nchw(y.reshape((K,) + xr.shape[3:]))


def _apply_conv_t(dr: np.ndarray, wr: np.ndarray, g: _Geom, N: int, C: int) -> np.ndarray:
    """conv_t(Δ, W) = ∂⟨conv(X, W), Δ⟩/∂X (N, C, H, W): col2im(W₂ᵀ Δ), or Δ̂ · Ŵᵀ (a convolution)."""
    if g.fft:
        dx = _irfft(np.matmul(dr, wr.transpose(0, 2, 1)), g)[g.pt:g.pt + g.H, g.pl:g.pl + g.W]
        return np.ascontiguousarray(dx.transpose(2, 3, 0, 1))
    K = dr.shape[0]
    G = g.groups
    if G == 1:
        dcols = wr.reshape(K, -1).T @ dr
    else:
        w3 = wr.reshape(G, K // G, -1)
        dcols = np.matmul(w3.transpose(0, 2, 1), dr.reshape(G, K // G, -1))
    return _col2im(dcols, N, C, g)


def _apply_conv_w(xr: np.ndarray, dr: np.ndarray, g: _Geom, w_shape: tuple) -> np.ndarray:
    """conv_w(X, Δ) = ∂⟨conv(X, W), Δ⟩/∂W: Δ colsᵀ per group, or X̂ᵀ · conj(Δ̂) (a correlation of X with Δ)."""
    if g.fft:
        dw = _irfft(np.matmul(xr.transpose(0, 2, 1), np.conj(dr)), g)[:g.kh, :g.kw]
        return np.ascontiguousarray(dw.transpose(3, 2, 0, 1))
    K = w_shape[0]
    G = g.groups
    M = dr.shape[1]
    c2 = xr.reshape(G, -1, M)
    if G == 1:
        dw = _gemm_nt(dr, c2[0])
    else:
        dw = np.matmul(dr.reshape(G, K // G, M), c2.transpose(0, 2, 1))
    return dw.reshape(w_shape)


# ----------------------------------------------------------------------------- the three primitives
def _conv_prim(x: Tensor, w: Tensor, g: _Geom) -> Tensor:
    """conv(X, W) (no bias).  Rules: dX = conv_t(Δ, W), dW = conv_w(X, Δ)."""
    need_x, need_w = x.requires_grad, w.requires_grad
    N, C = x.shape[:2]
    K = w.shape[0]
    w_shape = w.shape
    xr = _prep_x(x.data, g)
    wr = _prep_w(w.data, g)
    y = _apply_conv(xr, wr, g, N, K)
    if not need_w:
        xr = None   # the columns / spectra are kept only for the weight gradient

    def vjp(dy, out, X, Wt):
        if is_t(dy):
            gx = _conv_t_prim(dy, Wt, g, C) if need_x else None
            gw = _conv_w_prim(X, dy, w_shape, g) if need_w else None
            return gx, gw
        dr = _prep_dy(dy, g)
        gx = _apply_conv_t(dr, wr, g, N, C) if need_x else None
        gw = _apply_conv_w(xr, dr, g, w_shape) if need_w else None
        return gx, gw

    return _make(y, (x, w), vjp)


def _conv_t_prim(dy: Tensor, w: Tensor, g: _Geom, C: int) -> Tensor:
    """conv_t(Δ, W): the transposed convolution.  Rules: dΔ = conv(G, W), dW = conv_w(G, Δ)."""
    dy, w = operands(dy, w)
    N, K = dy.shape[:2]
    out = _apply_conv_t(_prep_dy(dy.data, g), _prep_w(w.data, g), g, N, C)
    need_d, need_w = dy.requires_grad, w.requires_grad
    w_shape = w.shape

    def vjp(gx, o, D, Wt):
        if is_t(gx):
            gd = _conv_prim(gx, Wt, g) if need_d else None
            gw = _conv_w_prim(gx, D, w_shape, g) if need_w else None
            return gd, gw
        xr = _prep_x(gx, g)
        gd = _apply_conv(xr, _prep_w(Wt, g), g, N, K) if need_d else None
        gw = _apply_conv_w(xr, _prep_dy(D, g), g, w_shape) if need_w else None
        return gd, gw

    return _make(out, (dy, w), vjp)


def _conv_w_prim(x: Tensor, dy: Tensor, w_shape: tuple, g: _Geom) -> Tensor:
    """conv_w(X, Δ): the weight gradient as an op.  Rules: dX = conv_t(Δ, G_W), dΔ = conv(X, G_W)."""
    x, dy = operands(x, dy)
    N, C = x.shape[:2]
    K = w_shape[0]
    xr = _prep_x(x.data, g)
    out = _apply_conv_w(xr, _prep_dy(dy.data, g), g, w_shape)
    need_x, need_d = x.requires_grad, dy.requires_grad

    def vjp(gw, o, X, D):
        if is_t(gw):
            gx = _conv_t_prim(D, gw, g, C) if need_x else None
            gd = _conv_prim(X, gw, g) if need_d else None
            return gx, gd
        wr = _prep_w(gw, g)
        gx = _apply_conv_t(_prep_dy(D, g), wr, g, N, C) if need_x else None
        gd = _apply_conv(xr, wr, g, N, K) if need_d else None
        return gx, gd

    return _make(out, (x, dy), vjp)


# ----------------------------------------------------------------------------- public ops
def _check_dtypes(who: str, *ts) -> None:
    dts = {t.dtype for t in ts if t is not None}
    if len(dts) > 1:
        raise TypeError(f"{who}: operands have dtypes {sorted(str(d) for d in dts)}; chainrule does not upcast "
                        "silently. Cast the input or the module (model.double() / x.float()) to one dtype.")


def _add_bias(y: Tensor, b: Tensor | None) -> Tensor:
    if b is None:
        return y
    nd = y.ndim

    def vjp(g, out, Y, B):
        return g, (g.sum(axis=(0,) + tuple(range(2, nd))) if B is not None else None)

    shape = (1, -1) + (1,) * (nd - 2)
    return _make(y.data + b.data.reshape(shape), (y, b), vjp)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple = 1,
           padding: int | tuple | str = 0, dilation: int | tuple = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation, ``torch.nn.functional.conv2d`` semantics.  (spec: CNN-CONV2D, CONV2D-LAYER)

    Y[n,k,a,b] = b_k + Σ_c Σ_{i,j} W[k,c,i,j] · X̃[n,c,a·s + d·i, b·s + d·j].  ``input`` (N, C_in, H, W),
    ``weight`` (C_out, C_in/groups, kH, kW), ``bias`` (C_out,).  ``padding``: int, (pH, pW), ((top, bottom),
    (left, right)), 'valid', 'same' (stride 1; total d(k−1), ⌊·/2⌋ before — spec: CONV-PAD-SAME) or 'full'
    (p = d(k−1), spec: CONV-PAD-FULL).  Output H_out = ⌊(H + 2p − d(kH − 1) − 1)/s⌋ + 1 (spec: CONV-OUTSIZE);
    stride s equals the stride-1 output subsampled, Y_s = Y_1[..., ::s, ::s] (spec: CONV-STRIDE-SUBSAMPLE).
    """
    input, weight = operands(input, weight)
    if bias is not None:
        bias = as_tensor(bias, weight)
    _check_dtypes("conv2d", input, weight, bias)
    if input.ndim != 4:
        raise ValueError(f"conv2d: expected input of shape (N, C_in, H, W), got {input.shape}; add a batch "
                         "axis with x.unsqueeze(0) for a single image")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected weight of shape (C_out, C_in/groups, kH, kW), got {weight.shape}")
    G = int(groups)
    N, C, H, W = input.shape
    K, Cg, kh, kw = weight.shape
    if G < 1 or C % G or K % G:
        raise ValueError(f"conv2d: groups={G} must divide both C_in={C} and C_out={K}")
    if Cg * G != C:
        raise ValueError(
            f"conv2d: input has C_in = {C} channels (input shape {input.shape}) but the weight "
            f"{weight.shape} = (C_out, C_in/groups, kH, kW) expects C_in = {Cg * G} (groups={G}). Check the "
            "layer's in_channels or the previous layer's out_channels.")
    if bias is not None and bias.shape != (K,):
        raise ValueError(f"conv2d: bias must have shape (C_out,) = ({K},), got {bias.shape}")
    sh, sw = _tuple(stride, 2, "stride")
    dh, dw = _tuple(dilation, 2, "dilation")
    (pt, pb), (pl, pr) = _resolve_padding(padding, (kh, kw), (dh, dw), (sh, sw), "conv2d")
    g = _Geom(kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, G, H, W, C, N, K)
    if G == 1 and (kh, kw) == (H, W) and not g.padded:
        # the kernel covers the whole input (LeNet-5's C5): a fully connected layer on the flattened image,
        # Y = X₂ W₂ᵀ + b — no columns to build, and still differentiable to any order
        return reshape(linear(reshape(input, (N, C * H * W)), reshape(weight, (K, Cg * kh * kw)), bias), (N, K, 1, 1))
    return _add_bias(_conv_prim(input, weight, g), bias)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple = 1,
           padding: int | tuple | str = 0, dilation: int | tuple = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation on (N, C_in, L), weight (C_out, C_in/groups, k):
    y[n,k,t] = b_k + Σ_c Σ_r W[k,c,r]·x̃[n,c,t·s + d·r]; L_out = ⌊(L + 2p − d(k − 1) − 1)/s⌋ + 1.
    Computed as conv2d with H = 1.  (spec: CNN-CONV1D, CONV1D-DILATED)"""
    input, weight = operands(input, weight)
    if input.ndim != 3:
        raise ValueError(f"conv1d: expected input of shape (N, C_in, L), got {input.shape}")
    if weight.ndim != 3:
        raise ValueError(f"conv1d: expected weight of shape (C_out, C_in/groups, k), got {weight.shape}")
    (p0, p1), = _resolve_padding(padding, (weight.shape[2],), _tuple(dilation, 1, "dilation"),
                                 _tuple(stride, 1, "stride"), "conv1d")
    y = conv2d(reshape(input, (input.shape[0], input.shape[1], 1, input.shape[2])),
               reshape(weight, weight.shape[:2] + (1, weight.shape[2])), bias,
               (1, _tuple(stride, 1, "stride")[0]), ((0, 0), (p0, p1)), (1, _tuple(dilation, 1, "dilation")[0]),
               groups)
    return reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple = 1,
                     padding: int | tuple = 0, output_padding: int | tuple = 0, groups: int = 1,
                     dilation: int | tuple = 1) -> Tensor:
    """Transposed (fractionally strided) convolution, ``torch.nn.functional.conv_transpose2d`` semantics.

    ``weight`` (C_in, C_out/groups, kH, kW).  It is the adjoint Cᵀ of the convolution sharing the kernel
    (its input gradient), so ⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩; it restores the shape, not the
    values.  H_out = s(H − 1) + a + d(kH − 1) + 1 − 2p with a = output_padding < max(s, d).
    Backward = that convolution.  (spec: CONV-TRANSPOSED, CNN-CONV2D-BACKWARD-X; errata N30)
    """
    input, weight = operands(input, weight)
    if bias is not None:
        bias = as_tensor(bias, weight)
    _check_dtypes("conv_transpose2d", input, weight, bias)
    if input.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv_transpose2d: expected input (N, C_in, H, W) and weight (C_in, C_out/groups, kH, kW), "
                         f"got {input.shape} and {weight.shape}")
    G = int(groups)
    N, Ci, Hi, Wi = input.shape
    if weight.shape[0] != Ci:
        raise ValueError(f"conv_transpose2d: input has C_in = {Ci} channels (shape {input.shape}) but the weight "
                         f"{weight.shape} = (C_in, C_out/groups, kH, kW) expects {weight.shape[0]}")
    if Ci % G:
        raise ValueError(f"conv_transpose2d: groups={G} must divide C_in={Ci}")
    kh, kw = weight.shape[2:]
    Co = weight.shape[1] * G
    sh, sw = _tuple(stride, 2, "stride")
    dh, dw = _tuple(dilation, 2, "dilation")
    ah, aw = _tuple(output_padding, 2, "output_padding")
    ph, pw = _tuple(padding, 2, "padding")
    Ho = conv_transpose_output_size(Hi, kh, sh, ph, ah, dh)
    Wo = conv_transpose_output_size(Wi, kw, sw, pw, aw, dw)
    g = _Geom(kh, kw, sh, sw, dh, dw, ph, ph, pw, pw, G, Ho, Wo, Co, N, Ci, "conv_transpose2d")
    if (g.Ho, g.Wo) != (Hi, Wi):  # output_padding >= stride (allowed when < dilation): pad the input
        from .shape import pad
        input = pad(input, ((0, 0), (0, 0), (0, g.Ho - Hi), (0, g.Wo - Wi)))
    return _add_bias(_conv_t_prim(input, weight, g, Co), bias)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple = 1,
                     padding: int | tuple = 0, output_padding: int | tuple = 0, groups: int = 1,
                     dilation: int | tuple = 1) -> Tensor:
    """1-D transposed convolution on (N, C_in, L), weight (C_in, C_out/groups, k).  (spec: CONV-TRANSPOSED)"""
    input, weight = operands(input, weight)
    y = conv_transpose2d(reshape(input, (input.shape[0], input.shape[1], 1, input.shape[2])),
                         reshape(weight, weight.shape[:2] + (1, weight.shape[2])), bias,
                         (1, _tuple(stride, 1, "stride")[0]), (0, _tuple(padding, 1, "padding")[0]),
                         (0, _tuple(output_padding, 1, "output_padding")[0]), groups,
                         (1, _tuple(dilation, 1, "dilation")[0]))
    return reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


# ----------------------------------------------------------------------------- padding modes
def pad_nd(x: Tensor, pads: Sequence[tuple[int, int]], mode: str = "zeros") -> Tensor:
    """Pad the trailing len(pads) axes by (before, after) each: 'zeros' | 'circular' | 'reflect' |
    'replicate' (``Conv2d(padding_mode=...)``).  Circular padding makes convolution exactly
    translation-equivariant under circular shifts (spec: CONV2D-LAYER, CONV1D-DILATED)."""
    from .shape import getitem, pad
    x = as_tensor(x)
    n = len(pads)
    lead = x.ndim - n
    if mode == "zeros":
        return pad(x, ((0, 0),) * lead + tuple(tuple(p) for p in pads))
    idx = []
    for (b, a), size in zip(pads, x.shape[lead:]):
        r = np.arange(-b, size + a)
        if mode == "circular":
            if b > size or a > size:
                raise ValueError(f"circular padding ({b}, {a}) larger than the axis size {size}")
            r = r % size
        elif mode == "reflect":
            if b >= size or a >= size:
                raise ValueError(f"reflect padding ({b}, {a}) must be smaller than the axis size {size}")
            r = np.abs(r)
            r = np.where(r >= size, 2 * (size - 1) - r, r)
        elif mode == "replicate":
            r = np.clip(r, 0, size - 1)
        else:
            raise ValueError(f"padding_mode must be 'zeros', 'circular', 'reflect' or 'replicate', got {mode!r}")
        idx.append(r)
    grids = np.ix_(*idx)
    return getitem(x, (slice(None),) * lead + tuple(grids))


# ----------------------------------------------------------------------------- references and helpers
def conv_matrix(weight, input_size: int | tuple, stride: int | tuple = 1, padding: int | tuple = 0,
                dilation: int | tuple = 1) -> np.ndarray:
    """The convolution as a sparse matrix, dense here: y.ravel() = C · x.ravel() per sample (row-major;
    shape (C_out·∏o, C_in·∏i)).  Weight (C_out, C_in, k) or (C_out, C_in, kH, kW); ``input_size`` = i or
    (iH, iW).  Backward ∂L/∂x = Cᵀ ∂L/∂y; the transposed convolution is Cᵀ.  (spec: CONV-AS-MATRIX,
    CONV1D-DILATED: row i of a 1-D conv has w_j in column i·s + j·d − p)"""
    w = np.asarray(_plain(weight), dtype=np.float64)
    nd = w.ndim - 2
    if nd not in (1, 2):
        raise ValueError(f"conv_matrix: weight must be (C_out, C_in, k) or (C_out, C_in, kH, kW), got {w.shape}")
    isz = _tuple(input_size, nd, "input_size")
    ss, ps, ds = _tuple(stride, nd, "stride"), _tuple(padding, nd, "padding"), _tuple(dilation, nd, "dilation")
    ks = w.shape[2:]
    osz = tuple(conv_output_size(i, k, s, p, d) for i, k, s, p, d in zip(isz, ks, ss, ps, ds))
    K, C = w.shape[:2]
    M = np.zeros((K,) + osz + (C,) + isz)
    for o in np.ndindex(*osz):
        for kk in np.ndindex(*ks):
            pos = tuple(oi * s + ki * d - p for oi, ki, s, d, p in zip(o, kk, ss, ds, ps))
            if all(0 <= q < i for q, i in zip(pos, isz)):
                M[(slice(None),) + o + (slice(None),) + pos] += w[(slice(None), slice(None)) + kk]
    return M.reshape(K * int(np.prod(osz)), C * int(np.prod(isz)))


def conv_transpose_via_conv(x, w, stride: int | tuple = 1, padding: int | tuple = 0,
                            output_padding: int | tuple = 0) -> np.ndarray:
    """Reference transposed convolution through a direct one (wasteful, for tests): 1. stretch the input
    with s − 1 zeros between units, 2. pad k − p − 1 per side plus a at the bottom/right (negative =
    crop), 3. unit-stride cross-correlation with the kernel rotated 180° and in/out channels swapped.
    ``x`` (N, C_in, H, W), ``w`` (C_in, C_out, kH, kW) as conv_transpose2d.  (spec: CONV-TRANSPOSED-EQUIV,
    errata N31: the rotated kernel)"""
    x = np.asarray(_plain(x), dtype=np.float64)
    w = np.asarray(_plain(w), dtype=np.float64)
    sh, sw = _tuple(stride, 2, "stride")
    ph, pw = _tuple(padding, 2, "padding")
    ah, aw = _tuple(output_padding, 2, "output_padding")
    N, C, H, W = x.shape
    kh, kw = w.shape[2:]
    st = np.zeros((N, C, (H - 1) * sh + 1, (W - 1) * sw + 1))
    st[:, :, ::sh, ::sw] = x
    pads = [(kh - ph - 1, kh - ph - 1 + ah), (kw - pw - 1, kw - pw - 1 + aw)]
    for ax, (b, a) in zip((2, 3), pads):
        st = np.pad(st, [(0, 0)] * ax + [(max(b, 0), max(a, 0))] + [(0, 0)] * (3 - ax))
        n = st.shape[ax]
        st = st.take(np.arange(max(-b, 0), n - max(-a, 0)), axis=ax)
    wf = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    with_grad = conv2d(Tensor._wrap(st), Tensor._wrap(np.ascontiguousarray(wf)))
    return with_grad.data


def correlate2d(x, k) -> np.ndarray:
    """Valid 2-D cross-correlation of two 2-D arrays: Σᵢⱼ h(a + i, b + j)k(i, j).  (spec: CNN-CONV-DEF)"""
    x = np.asarray(_plain(x))
    k = np.asarray(_plain(k))
    return conv2d(Tensor._wrap(x[None, None]), Tensor._wrap(k[None, None].astype(x.dtype))).data[0, 0]


def convolve2d(x, k, mode: str = "valid") -> np.ndarray:
    """True 2-D convolution (h ∗ k)(a, b) = Σᵢⱼ h(a − i, b − j)k(i, j) of 2-D arrays = cross-correlation
    with the kernel flipped on both axes.  ``mode`` 'valid' or 'full' (the full convolution commutes).
    (spec: CNN-CONV-DEF, CONV2D-LAYER: [S3]'s true convolution is conv2d with the flipped kernel)"""
    x = np.asarray(_plain(x))
    k = np.asarray(_plain(k))
    if x.ndim != 2 or k.ndim != 2:
        raise ValueError(f"convolve2d works on 2-D arrays, got shapes {x.shape} and {k.shape}")
    dt = np.result_type(x.dtype, k.dtype, np.float32)
    kf = np.ascontiguousarray(k[::-1, ::-1]).astype(dt)[None, None]
    pad = "full" if mode == "full" else 0
    if mode not in ("valid", "full"):
        raise ValueError(f"convolve2d: mode must be 'valid' or 'full', got {mode!r}")
    return conv2d(Tensor._wrap(x.astype(dt)[None, None]), Tensor._wrap(kf), padding=pad).data[0, 0]


def normalized_cross_correlation(image, template) -> np.ndarray:
    """Valid map ⟨X_ab, T⟩ / (‖X_ab‖·‖T‖) of every template-sized window X_ab with the template.
    By Cauchy–Schwarz it is ≤ 1, with equality iff X_ab = cT, c > 0 — a template copy scores exactly 1.
    (spec: CONV2D-EDGE-TEMPLATE)"""
    x = np.asarray(_plain(image), dtype=np.float64)
    t = np.asarray(_plain(template), dtype=np.float64)
    num = correlate2d(x, t)
    energy = correlate2d(x * x, np.ones_like(t))
    den = np.sqrt(np.maximum(energy, 0)) * np.linalg.norm(t)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def from_hwck(kernel) -> np.ndarray:
    """Tutorial kernel layout K[m, n, c, k] (f, f, C_in, C_out) → library W[k, c, m, n].  The tutorial's
    1-based M_{i,j,k} = Σ_cΣ_mΣ_n x_{i+m−1, j+n−1, c} w_{m,n,c,k} + b_k is conv2d with X[n, c, i−1, j−1] and
    W[k, c, m−1, n−1] = K[m, n, c, k].  (spec: CNN-CONV-VOLUME)"""
    k = np.asarray(_plain(kernel))
    if k.ndim != 4:
        raise ValueError(f"from_hwck: expected a kernel (f, f, C_in, C_out), got shape {k.shape}")
    return np.ascontiguousarray(k.transpose(3, 2, 0, 1))


def to_hwck(weight) -> np.ndarray:
    """Library W (C_out, C_in, kH, kW) → tutorial layout (kH, kW, C_in, C_out); inverse of ``from_hwck``.
    (spec: CNN-CONV-VOLUME)"""
    w = np.asarray(_plain(weight))
    if w.ndim != 4:
        raise ValueError(f"to_hwck: expected a weight (C_out, C_in, kH, kW), got shape {w.shape}")
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))
