"""Activation functions as differentiable ops (forward + vector-Jacobian rule).

sigmoid and tanh differentiate from their saved output: σ' = σ(1 − σ), tanh' = 1 − tanh²
(spec: MLP-SIGMOID-DERIV).  ReLU'(0) = 0 (spec: CNN-RELU).  softplus is computed as
max(x, 0) + log1p(e^{−|x|}) so it is finite at ±1000 (spec: ACT-BASIC-000).
"""

from __future__ import annotations

import numpy as np
from scipy import special as _sp

from ._base import Tensor, _make, _plain, as_tensor, is_t
from .arith import _erf, _exp

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid_vjp(g, out, a):
    return (g * out * (1 - out),)


def sigmoid(a) -> Tensor:
    """σ(x) = 1/(1 + e^{−x}); rule g·σ(1 − σ) from the saved output."""
    a = as_tensor(a)
    return _make(_sp.expit(a.data), (a,), _sigmoid_vjp)


def _tanh_vjp(g, out, a):
    return (g * (1 - out * out),)


def tanh(a) -> Tensor:
    a = as_tensor(a)
    return _make(np.tanh(a.data), (a,), _tanh_vjp)


def _relu_vjp(g, out, a):
    return (g * (_plain(a) > 0),)


def relu(a) -> Tensor:
    """max(0, x); derivative 1[x > 0] (0 at 0)."""
    a = as_tensor(a)
    return _make(np.maximum(a.data, 0), (a,), _relu_vjp)


def leaky_relu(a, negative_slope: float = 0.01) -> Tensor:
    a = as_tensor(a)
    s = negative_slope

    def vjp(g, out, x):
        xd = _plain(x)
        return (g * np.where(xd > 0, 1, s).astype(xd.dtype),)

    return _make(np.where(a.data > 0, a.data, a.data * s), (a,), vjp)


def elu(a, alpha: float = 1.0) -> Tensor:
    """x for x > 0, α(eˣ − 1) otherwise; derivative 1 or out + α."""
    a = as_tensor(a)

    def vjp(g, out, x):
        pos = _plain(x) > 0
        return (g * (pos + ~pos * (out + alpha)),)

    return _make(np.where(a.data > 0, a.data, alpha * np.expm1(np.minimum(a.data, 0))), (a,), vjp)


def selu(a) -> Tensor:
    """scale·elu(x, α) with the self-normalizing constants (Klambauer et al.)."""
    return elu(a, SELU_ALPHA) * SELU_SCALE


def softplus(a, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """(1/β)·log(1 + e^{βx}), linear above the threshold (PyTorch); derivative σ(βx)."""
    a = as_tensor(a)
    bx = a.data * beta
    val = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
    lin = bx > threshold

    def vjp(g, out, x):
        s = sigmoid(x * beta) if is_t(x) else _sp.expit(x * beta)
        return (g * (lin + ~lin * s),)

    return _make(np.where(lin, a.data, val).astype(a.dtype, copy=False), (a,), vjp)


def gelu(a, approximate: str = "none") -> Tensor:
    """x·Φ(x) (exact, with erf) or the tanh approximation (``approximate='tanh'``)."""
    a = as_tensor(a)
    if approximate == "tanh":
        c = np.sqrt(2.0 / np.pi)
        return 0.5 * a * (1 + tanh(c * (a + 0.044715 * a * a * a)))
    if approximate != "none":
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    r2 = np.sqrt(0.5)

    def vjp(g, out, x):
        cdf = 0.5 * (1 + _erf(x * r2))
        pdf = _exp(-0.5 * x * x) * (1 / np.sqrt(2 * np.pi))
        return (g * (cdf + x * pdf),)

    return _make(0.5 * a.data * (1 + _sp.erf(a.data * r2)), (a,), vjp)


def silu(a) -> Tensor:
    """x·σ(x) (swish)."""
    a = as_tensor(a)
    return a * sigmoid(a)


def _sigmoid(x):
    return sigmoid(x) if is_t(x) else _sp.expit(x)
