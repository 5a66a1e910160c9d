"""Self-normalizing networks (Klambauer et al. 2017): alpha dropout and the SELU moment map.

An SNN is a stack of Linear layers with LeCun-normal weights (N(0, 1/J): ω = Σⱼwⱼ ≈ 0, τ = Σⱼwⱼ² ≈ 1)
and SELU units (``nn.SELU``, ``ops.selu``).  If a layer's inputs have mean μ and variance ν, the
next layer's activations have mean/variance (μ̃, ν̃) = ``moment_map(μ, ν, ω, τ)``; for ω = 0, τ = 1 this
map has the stable attracting fixed point (0, 1) (spectral norm of its Jacobian 0.7877 < 1), so
activations converge to zero mean and unit variance through depth without batch statistics.
Ordinary dropout would break this (it changes the variance, and 0 is not the SELU's saturation value),
hence :class:`AlphaDropout`.  (spec: NORM-SNN-MAP, ACT-SELU, REG-ALPHA-DROPOUT)

This module is also available as ``chainrule.nn.snn``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special as _sp

from ..backend import Generator, _gen
from ..ops._base import as_tensor
from ..ops.activation import SELU_ALPHA, SELU_SCALE
from ..tensor import Tensor
from .module import Module

#: α′ = −λα, the value SELU saturates to for x → −∞  (spec: REG-ALPHA-DROPOUT)
ALPHA_PRIME = -SELU_SCALE * SELU_ALPHA


# ------------------------------------------------------------------ alpha dropout
def alpha_dropout_params(p: float) -> tuple[float, float]:
    """(a, b) of alpha dropout with drop probability p, q = 1 − p:
    a = (q + α′²q(1 − q))^{−1/2}, b = −a(1 − q)α′, so that zero-mean unit-variance inputs keep mean 0 and
    variance 1.  p = 0.05: (0.954844476005031, 0.0839355721938103); p = 0.1: (0.921284516149711,
    0.161970970057570).  (spec: REG-ALPHA-DROPOUT)"""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"alpha dropout probability must be in [0, 1), got {p}")
    q = 1.0 - p
    a = (q + ALPHA_PRIME ** 2 * q * (1 - q)) ** -0.5
    b = -a * (1 - q) * ALPHA_PRIME
    return a, b


def alpha_dropout(x, p: float = 0.5, training: bool = False, generator: Generator | None = None) -> Tensor:
    """y = a(x⊙d + α′(1 − d)) + b with d ~ Bernoulli(1 − p): dropped units are set to the SELU saturation
    value α′ = −λα (not 0), then the affine map (a, b) of :func:`alpha_dropout_params` restores mean 0
    and variance 1.  In general the dropped variable has mean qμ + (1 − q)α′ and variance
    q((1 − q)(α′ − μ)² + ν).  Identity when not training or p = 0.  ∂y/∂x = a·d.
    (spec: REG-ALPHA-DROPOUT)"""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"alpha dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    x = as_tensor(x)
    if p == 1.0:  # PyTorch: everything dropped gives zeros
        return x * 0.0
    a, b = alpha_dropout_params(p)
    keep = _gen(generator).rng.random(x.shape) >= p
    scale = (keep * a).astype(x.dtype)
    shift = ((~keep) * (a * ALPHA_PRIME) + b).astype(x.dtype)
    return x * scale + shift


class AlphaDropout(Module):
    """``AlphaDropout(p=0.5)``: dropout for SELU networks that keeps zero mean and unit variance (see
    :func:`alpha_dropout`); identity in eval mode.  Rates 0.05 or 0.10 work well for SNNs.
    (spec: REG-ALPHA-DROPOUT)"""

    def __init__(self, p: float = 0.5, generator: Generator | None = None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"alpha dropout probability must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def forward(self, x):
        return alpha_dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ------------------------------------------------------------------ SELU moment map (spec: NORM-SNN-MAP)
def _exp_erfc(e_arg, y):
    """e^{e_arg}·erfc(y) for e_arg = y² − k (k = a²/(2c) ≥ 0): e^{−k}·erfcx(y) for Re y ≥ 0 (no overflow,
    no underflow to 0·∞), the direct product otherwise."""
    k = y * y - e_arg
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        direct = np.exp(e_arg) * _sp.erfc(y)
        scaled = np.exp(-k) * _sp.erfcx(y)
    return np.where(np.real(y) >= 0, scaled, direct)


def _map_raw(mu, nu, omega, tau, lam, alpha):
    a = mu * omega
    c = nu * tau
    r = np.sqrt(2 * c)
    sc = np.sqrt(c)
    ear = _sp.erfc(a / r)
    gauss = math.sqrt(2 / math.pi) * sc * np.exp(-(a * a) / (2 * c))
    e1 = _exp_erfc(a + c / 2, (a + c) / r)
    e2 = _exp_erfc(2 * (a + c), (a + 2 * c) / r)
    mu_t = 0.5 * lam * (a * _sp.erf(a / r) + alpha * e1 - alpha * ear + gauss + a)
    xi_t = 0.5 * lam * lam * ((a * a + c) * (2 - ear) + alpha * alpha * (-2 * e1 + e2 + ear) + a * gauss)
    return mu_t, xi_t - mu_t * mu_t


def moment_map(mu: float, nu: float, omega: float = 0.0, tau: float = 1.0, lam: float = SELU_SCALE,
               alpha: float = SELU_ALPHA) -> tuple[float, float]:
    """The SELU moment map (μ, ν) ↦ (μ̃, ν̃): mean and variance of y = selu(s) when the inputs of a unit
    have mean μ and variance ν and its weights have sum ω = Σⱼwⱼ and "J × second moment" τ = Σⱼwⱼ²
    (erratum N21), with s ~ N(μω, ντ) by the CLT.  With a = μω, c = ντ, r = √(2c):

        μ̃ = ½λ[a·erf(a/r) + α·e^{a+c/2}·erfc((a + c)/r) − α·erfc(a/r) + √(2/π)·√c·e^{−a²/(2c)} + a]
        ξ̃ = ½λ²[(a² + c)(2 − erfc(a/r)) + α²(−2e^{a+c/2}erfc((a + c)/r) + e^{2(a+c)}erfc((a + 2c)/r)
             + erfc(a/r)) + √(2/π)·a·√c·e^{−a²/(2c)}],     ν̃ = ξ̃ − μ̃².

    The products e^{x}·erfc(y) are evaluated as e^{−a²/(2c)}·erfcx(y) (finite for large y).  Inputs may
    be NumPy arrays (broadcast) or complex (for complex-step derivatives).  Fixed point: (0, 1) ↦ (0, 1)
    for ω = 0, τ = 1.  (spec: NORM-SNN-MAP)"""
    m, v = _map_raw(np.asarray(mu), np.asarray(nu), np.asarray(omega), np.asarray(tau), lam, alpha)
    if np.ndim(m) == 0:
        return (m.item() if np.iscomplexobj(m) else float(m)), (v.item() if np.iscomplexobj(v) else float(v))
    return m, v


def jacobian(mu: float = 0.0, nu: float = 1.0, omega: float = 0.0, tau: float = 1.0, lam: float = SELU_SCALE,
             alpha: float = SELU_ALPHA) -> np.ndarray:
    """J = ∂(μ̃, ν̃)/∂(μ, ν), 2 × 2, by complex-step differentiation (f'(x) = Im f(x + ih)/h, h = 1e-30:
    no subtractive cancellation, exact to rounding).  At (0, 1), ω = 0, τ = 1:
    [[0, 0.0888347551068901], [0, 0.782647883196813]], spectral norm 0.7876733 < 1 — the fixed point
    attracts (erratum N21: J₁₂ = 0.088835, printed 0.088834).  (spec: NORM-SNN-MAP)"""
    h = 1e-30
    J = np.zeros((2, 2))
    for k in range(2):
        args = [complex(mu), complex(nu)]
        args[k] += 1j * h
        m, v = moment_map(args[0], args[1], omega, tau, lam, alpha)
        J[0, k] = np.imag(m) / h
        J[1, k] = np.imag(v) / h
    return J


def solve_alpha_lambda(mu: float = 0.0, nu: float = 1.0, omega: float = 0.0, tau: float = 1.0,
                       x0: tuple[float, float] = (1.67, 1.05), tol: float = 1e-16,
                       max_iter: int = 100) -> tuple[float, float]:
    """(α, λ) making (μ, ν) a fixed point of the moment map for weights with (ω, τ): solves
    moment_map(μ, ν, ω, τ, λ, α) = (μ, ν) by Newton's method with complex-step Jacobians.
    For (0, 1) it returns α₀₁ = 1.6732632423543772…, λ₀₁ = 1.0507009873554804… (``SELU_ALPHA``,
    ``SELU_SCALE``).  (spec: NORM-SNN-MAP, ACT-SELU)"""
    h = 1e-30
    z = np.array(x0, dtype=float)

    def resid(al, la):
        m, v = moment_map(mu, nu, omega, tau, la, al)
        return m - mu, v - nu

    for _ in range(max_iter):
        f = np.array(resid(z[0], z[1]), dtype=float)
        J = np.zeros((2, 2))
        for k in range(2):
            zz = z.astype(complex)
            zz[k] += 1j * h
            J[:, k] = np.imag(np.array(resid(zz[0], zz[1]))) / h
        step = np.linalg.solve(J, f)
        z = z - step
        if np.all(np.abs(step) <= tol * np.maximum(1.0, np.abs(z))):
            break
    else:
        raise RuntimeError(f"solve_alpha_lambda did not converge from x0={x0} for (mu, nu)=({mu}, {nu}); "
                           "try another starting point")
    return float(z[0]), float(z[1])


def iterate_moments(mu0: float, nu0: float, depth: int, omega: float = 0.0, tau: float = 1.0) -> np.ndarray:
    """[(μ₀, ν₀), (μ₁, ν₁), …]: the moment map applied ``depth`` times (the mean-field prediction of an
    SNN's activation statistics per layer)."""
    out = [(float(mu0), float(nu0))]
    for _ in range(depth):
        out.append(moment_map(out[-1][0], out[-1][1], omega, tau))
    return np.asarray(out)


__all__ = ["ALPHA_PRIME", "AlphaDropout", "SELU_ALPHA", "SELU_SCALE", "alpha_dropout", "alpha_dropout_params",
           "iterate_moments", "jacobian", "moment_map", "solve_alpha_lambda"]
