"""Activation functions as differentiable ops (forward + vector-Jacobian rule).

Every rule is written once for NumPy arrays and Tensors (see docs/DEVELOPING.md), so first *and*
second derivatives are exact (``gradgradcheck``).  Kinks follow PyTorch's conventions; they only
matter at exact ties:

=============  ===================================================  ===========================
op             f(x)                                                 f'(x) (value at the kink)
=============  ===================================================  ===========================
sigmoid        σ(x) = 1/(1 + e^{−x})                                σ(1 − σ), from the output
tanh           tanh x                                               1 − tanh², from the output
relu           max(0, x)                                            1[x > 0]          (0 at 0)
leaky_relu     x (x > 0), s·x (x ≤ 0)                               1 or s            (s at 0)
prelu          leaky_relu with a learnable slope per channel        1 or a; ∂/∂a = x·1[x ≤ 0]
elu            x (x > 0), α(eˣ − 1) (x ≤ 0)                          1 or αeˣ          (α at 0)
selu           λ·elu(x, α), α = α₀₁, λ = λ₀₁                         λ or λαeˣ         (λα at 0)
celu           max(0, x) + min(0, α(e^{x/α} − 1))                   1 or e^{x/α}      (1 at 0)
softplus       (1/β)log(1 + e^{βx}), linear above the threshold     σ(βx)
logsigmoid     log σ(x) = −softplus(−x)                             σ(−x)
gelu           x·Φ(x) (or the tanh approximation)                   Φ(x) + xφ(x)
silu / swish   x·σ(x)                                               σ(1 + x(1 − σ))
mish           x·tanh(softplus(x))                                  t + x(1 − t²)σ(x)
softsign       x/(1 + |x|)                                          1/(1 + |x|)²
hardtanh       clip(x, lo, hi)                                      1[lo < x < hi]    (0 at lo, hi)
relu6          hardtanh(x, 0, 6)                                    1[0 < x < 6]
hardsigmoid    clip(x/6 + 1/2, 0, 1)                                1/6 on (−3, 3)    (0 at ±3)
hardswish      x·relu6(x + 3)/6                                     0 (x ≤ −3), x/3 + 1/2 (x < 3), 1
=============  ===================================================  ===========================

(spec: ACT-SIGMOID, ACT-TANH, ACT-RELU, ACT-LEAKY-RELU, ACT-ELU, ACT-SELU, ACT-BASIC-000,
MLP-SIGMOID-DERIV).  Errata: ACT-SIGMOID N22 — σ' = eˣ/(1 + eˣ)² (the notes print eˣ/(1 + (eˣ)²));
ACT-RELU N23 — ReLU'(0) = 0 as PyTorch (the notes use 1); ACT-LEAKY-RELU — slope at 0 (the notes 1);
ACT-SELU N20 — the derivative at 0 is the convention λα.

Overflow: sigmoid/logsigmoid/softplus/mish/silu are computed in forms that are finite at ±1000
(spec: ACT-BASIC-000): softplus(x) = max(x, 0) + log1p(e^{−|x|}).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special as _sp

from ._base import Tensor, _make, _plain, as_tensor, is_t, operands, unbroadcast
from .arith import _erf, _exp

#: α₀₁ = −√(2/π)/(erfc(1/√2)·e^{1/2} − 1)  (spec: ACT-SELU)
SELU_ALPHA = 1.6732632423543772848170429916717
#: λ₀₁  (spec: ACT-SELU)
SELU_SCALE = 1.0507009873554804934193349852946
_SELU_LA = SELU_SCALE * SELU_ALPHA  # λα = 1.7580993408473768…, the SELU derivative at 0⁻


# ------------------------------------------------------------------ dispatch helpers for rules
def _sigmoid(x):
    return sigmoid(x) if is_t(x) else _sp.expit(x)


def _tanh(x):
    return tanh(x) if is_t(x) else np.tanh(x)


def _softplus_np(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _softplus(x):
    return softplus(x) if is_t(x) else _softplus_np(x)


def _absval(x):
    if is_t(x):
        from .arith import abs as _abs_op
        return _abs_op(x)
    return np.abs(x)


def _exp_branch(x, c: float, k: float):
    """1 (x > 0), c·e^{k·x} (x ≤ 0): the ELU-family derivative.  Computed from x, not as out + α, which
    cancels to 0 for x ≪ 0 (e.g. ELU'(−50) = 1.9e-22, not 0); e^{k·x·1[x≤0]} never overflows."""
    xd = _plain(x)
    neg = (xd <= 0).astype(xd.dtype)
    return (1 - neg) + neg * c * _exp(x * (neg * k))


# ------------------------------------------------------------------ sigmoid family
def _sigmoid_vjp(g, out, a):
    if is_t(g) or np.ndim(out) == 0:
        return (g * out * (1 - out),)
    r = np.subtract(1, out)     # arrays: one temporary instead of three (large maps pay page faults)
    r *= out
    r *= g
    return (r,)


def sigmoid(a) -> Tensor:
    """σ(x) = 1/(1 + e^{−x}) (eˣ/(1 + eˣ) for x < 0, never overflows); rule g·σ(1 − σ) from the saved
    output, σ' ≤ 1/4 with the maximum at 0.  (spec: ACT-SIGMOID, MLP-SIGMOID-DERIV)"""
    a = as_tensor(a)
    return _make(_sp.expit(a.data), (a,), _sigmoid_vjp)


def _tanh_vjp(g, out, a):
    if is_t(g) or np.ndim(out) == 0:
        return (g * (1 - out * out),)
    r = np.multiply(out, out)   # arrays: the same three operations on one temporary
    np.subtract(1, r, out=r)
    r *= g
    return (r,)


def tanh(a) -> Tensor:
    """tanh x = 2σ(2x) − 1; rule g·(1 − tanh²) from the saved output.  (spec: ACT-TANH)"""
    a = as_tensor(a)
    return _make(np.tanh(a.data), (a,), _tanh_vjp)


def _logsigmoid_vjp(g, out, a):
    return (g * _sigmoid(-a),)


def logsigmoid(a) -> Tensor:
    """log σ(x) = min(x, 0) − log1p(e^{−|x|}) (finite at ±1000); derivative σ(−x) = 1 − σ(x)."""
    a = as_tensor(a)
    x = a.data
    return _make(np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))), (a,), _logsigmoid_vjp)


log_sigmoid = logsigmoid


def softplus(a, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """ζ(x) = (1/β)·log(1 + e^{βx}) computed as (max(βx, 0) + log1p(e^{−|βx|}))/β, and x itself where
    βx > threshold (PyTorch); derivative σ(βx).  (spec: ACT-BASIC-000)"""
    a = as_tensor(a)
    bx = a.data * beta
    val = _softplus_np(bx) / beta
    lin = bx > threshold

    def vjp(g, out, x):
        s = sigmoid(x * beta) if is_t(x) else _sp.expit(x * beta)
        return (g * (lin + ~lin * s),)

    return _make(np.where(lin, a.data, val).astype(a.dtype, copy=False), (a,), vjp)


def _silu_vjp(g, out, a):
    s = _sigmoid(a)
    return (g * (s * (1 + a * (1 - s))),)


def silu(a) -> Tensor:
    """swish / SiLU: x·σ(x); derivative σ(x)(1 + x(1 − σ(x)))."""
    a = as_tensor(a)
    return _make(a.data * _sp.expit(a.data), (a,), _silu_vjp)


swish = silu


def _mish_vjp(g, out, a):
    t = _tanh(_softplus(a))
    return (g * (t + a * (1 - t * t) * _sigmoid(a)),)


def mish(a) -> Tensor:
    """x·tanh(softplus(x)) (Misra 2019); derivative t + x(1 − t²)σ(x) with t = tanh(softplus(x))."""
    a = as_tensor(a)
    return _make(a.data * np.tanh(_softplus_np(a.data)), (a,), _mish_vjp)


def _softsign_vjp(g, out, a):
    d = 1 + _absval(a)
    return (g / (d * d),)


def softsign(a) -> Tensor:
    """x/(1 + |x|), range (−1, 1); derivative 1/(1 + |x|)²."""
    a = as_tensor(a)
    return _make(a.data / (1 + np.abs(a.data)), (a,), _softsign_vjp)


# ------------------------------------------------------------------ rectifiers
def _relu_vjp(g, out, a):
    return (g * (_plain(a) > 0),)


def relu(a) -> Tensor:
    """max(0, x); derivative 1[x > 0] (0 at 0, PyTorch; erratum N23).  (spec: ACT-RELU, CNN-RELU)"""
    a = as_tensor(a)
    return _make(np.maximum(a.data, 0), (a,), _relu_vjp)


def leaky_relu(a, negative_slope: float = 0.01) -> Tensor:
    """x (x > 0), s·x (x ≤ 0), s = 0.01; derivative 1 or s (s at 0, PyTorch).  (spec: ACT-LEAKY-RELU)"""
    a = as_tensor(a)
    s = negative_slope

    def vjp(g, out, x):
        xd = _plain(x)
        return (g * np.where(xd > 0, 1, s).astype(xd.dtype),)

    return _make(np.where(a.data > 0, a.data, a.data * s), (a,), vjp)


def prelu(a, weight) -> Tensor:
    """Parametric ReLU: x (x > 0), a_c·x (x ≤ 0) with a learnable slope per channel (He et al. 2015).

    ``weight`` has shape (1,) (one slope) or (C,) with C = ``x.shape[1]`` (channel axis of (N, C, …)).
    Rules: ∂/∂x = 1[x > 0] + a·1[x ≤ 0]; ∂/∂a_c = Σ over the channel of g·x·1[x ≤ 0].
    """
    a, weight = operands(a, weight)
    if weight.ndim != 1:
        raise ValueError(f"prelu: weight must be 1-D (num_parameters,), got shape {weight.shape}")
    C = weight.shape[0]
    if C == 1:
        bshape = (1,) * max(a.ndim, 1)
    elif a.ndim >= 2 and a.shape[1] == C:
        bshape = (1, C) + (1,) * (a.ndim - 2)
    elif a.ndim == 1 and a.shape[0] == C:
        bshape = (C,)
    else:
        raise ValueError(f"prelu: weight has {C} slopes but the input {a.shape} has "
                         f"{a.shape[1] if a.ndim >= 2 else a.shape[0]} channels on axis 1; "
                         "use PReLU(num_parameters=1) or num_parameters = number of channels")
    wshape = weight.shape
    xd = a.data
    pos = xd > 0
    wb = weight.data.reshape(bshape)
    out = np.where(pos, xd, wb * xd)

    def vjp(g, o, x, w):
        wbx = w.reshape(bshape)
        gx = g * (pos + ~pos * wbx)
        gw = unbroadcast(g * x * ~pos, bshape).reshape(wshape)
        return gx, gw

    return _make(out, (a, weight), vjp)


def elu(a, alpha: float = 1.0) -> Tensor:
    """x for x > 0, α(eˣ − 1) otherwise; derivative 1 or αeˣ (α at 0).  (spec: ACT-ELU)"""
    a = as_tensor(a)

    def vjp(g, out, x):
        return (g * _exp_branch(x, alpha, 1.0),)

    return _make(np.where(a.data > 0, a.data, alpha * np.expm1(np.minimum(a.data, 0))), (a,), vjp)


def _selu_vjp(g, out, a):
    return (g * (_exp_branch(a, SELU_ALPHA, 1.0) * SELU_SCALE),)


def selu(a) -> Tensor:
    """Scaled ELU of self-normalizing networks (Klambauer et al. 2017):
    selu(x) = λx (x > 0), λα(eˣ − 1) (x ≤ 0) with α₀₁ = 1.6732632423543772…, λ₀₁ = 1.0507009873554804…
    (``SELU_ALPHA``, ``SELU_SCALE``); derivative λ, or λαeˣ = selu(x) + λα (λα at 0 as PyTorch; erratum
    N20).  Range (−λα, ∞); E[selu(Z)] = 0, E[selu(Z)²] = 1 for Z ~ N(0, 1).  (spec: ACT-SELU)"""
    a = as_tensor(a)
    x = a.data
    return _make(SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))), (a,), _selu_vjp)


def celu(a, alpha: float = 1.0) -> Tensor:
    """Continuously differentiable ELU: max(0, x) + min(0, α(e^{x/α} − 1)); derivative 1 or e^{x/α}
    (1 at 0)."""
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero (the formula divides by alpha)")
    a = as_tensor(a)
    x = a.data

    def vjp(g, out, xx):
        return (g * _exp_branch(xx, 1.0, 1.0 / alpha),)

    return _make(np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha)), (a,), vjp)


# ------------------------------------------------------------------ piecewise-linear "hard" units
def hardtanh(a, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """clip(x, min_val, max_val); derivative 1 strictly inside, 0 at and beyond the ends (PyTorch)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    a = as_tensor(a)
    lo, hi = min_val, max_val

    def vjp(g, out, x):
        xd = _plain(x)
        return (g * ((xd > lo) & (xd < hi)),)

    return _make(np.clip(a.data, lo, hi).astype(a.dtype, copy=False), (a,), vjp)


def relu6(a) -> Tensor:
    """min(max(0, x), 6) = hardtanh(x, 0, 6)."""
    return hardtanh(a, 0.0, 6.0)


def hardsigmoid(a) -> Tensor:
    """clip(x/6 + 1/2, 0, 1) (PyTorch's piecewise-linear sigmoid); derivative 1/6 on (−3, 3)."""
    a = as_tensor(a)

    def vjp(g, out, x):
        xd = _plain(x)
        return (g * (((xd > -3) & (xd < 3)).astype(xd.dtype) * (1.0 / 6.0)),)

    return _make(np.clip(a.data / 6 + 0.5, 0, 1).astype(a.dtype, copy=False), (a,), vjp)


def hardswish(a) -> Tensor:
    """x·relu6(x + 3)/6 (Howard et al. 2019); derivative 0 (x ≤ −3), x/3 + 1/2 (−3 < x < 3), 1 (x ≥ 3)."""
    a = as_tensor(a)
    x = a.data

    def vjp(g, out, xx):
        xd = _plain(xx)
        mid = (xd > -3) & (xd < 3)
        hi = xd >= 3
        return (g * (mid * (xx * (1.0 / 3.0) + 0.5) + hi),)

    return _make((x * np.clip(x + 3, 0, 6) / 6).astype(a.dtype, copy=False), (a,), vjp)


# ------------------------------------------------------------------ GELU
def gelu(a, approximate: str = "none") -> Tensor:
    """x·Φ(x) (exact, with erf) or the tanh approximation (``approximate='tanh'``)."""
    a = as_tensor(a)
    if approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        return 0.5 * a * (1 + tanh(c * (a + 0.044715 * a * a * a)))
    if approximate != "none":
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    r2 = math.sqrt(0.5)

    def vjp(g, out, x):
        cdf = 0.5 * (1 + _erf(x * r2))
        pdf = _exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return (g * (cdf + x * pdf),)

    return _make(0.5 * a.data * (1 + _sp.erf(a.data * r2)), (a,), vjp)


__all__ = [
    "SELU_ALPHA", "SELU_SCALE", "celu", "elu", "gelu", "hardsigmoid", "hardswish", "hardtanh",
    "leaky_relu", "log_sigmoid", "logsigmoid", "mish", "prelu", "relu", "relu6", "selu", "sigmoid",
    "silu", "softplus", "softsign", "swish", "tanh",
]
