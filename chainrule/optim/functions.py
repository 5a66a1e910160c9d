"""Standard objective functions for testing and visualising optimizers (values are chainrule Tensors,
so every optimizer can run on them).  Used by the tests and examples/optimizers.

- ``quadratic(w, A, b)``: Q(w) = ½wᵀAw − bᵀw (the spec's fixture: A = [[3, 1], [1, 2]], b = (1, −1),
  minimum (0.6, −0.8); ``ill_conditioned_quadratic`` uses A = diag(1, κ)).
- ``rosenbrock(w)``: ρ(x, y) = (1 − x)² + 100(y − x²)², minimum (1, 1); ``rosenbrock_residuals`` gives
  r = (10(y − x²), 1 − x) with ρ = ‖r‖² (for Gauss-Newton / Levenberg-Marquardt).
- ``beale(w)``: Σᵢ (cᵢ − x + x yⁱ)², c = (1.5, 2.25, 2.625), minimum (3, 0.5); ``beale_residuals``.
- ``gabor_model(x, phi)`` / ``gabor_data``: the non-convex two-parameter model of OPT-GABOR-LANDSCAPE,
  f(x; φ) = sin(φ₀ + 0.06φ₁x)·exp(−(φ₀ + 0.06φ₁x)²/32), L = mean (f − y)²; gradient descent from different
  starts ends in different local minima.  (spec: OPT-GABOR-LANDSCAPE; erratum [S2]: the model is this
  1-input, 2-parameter nonlinear one, not a linear image filter)
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..tensor import Tensor

A_Q = np.array([[3.0, 1.0], [1.0, 2.0]])
B_Q = np.array([1.0, -1.0])
_BEALE_C = (1.5, 2.25, 2.625)


def quadratic(w: Tensor, A: np.ndarray = A_Q, b: np.ndarray = B_Q) -> Tensor:
    """Q(w) = ½wᵀAw − bᵀw (minimum A⁻¹b)."""
    At, bt = Tensor(np.asarray(A, dtype=w.dtype)), Tensor(np.asarray(b, dtype=w.dtype))
    return 0.5 * (w * (At @ w)).sum() - (bt * w).sum()


def quadratic_residuals(w: Tensor, A: np.ndarray = A_Q, b: np.ndarray = B_Q) -> Tensor:
    """r = Lᵀw − L⁻¹b with A = LLᵀ, so ½‖r‖² = Q(w) + const."""
    L = np.linalg.cholesky(A)
    return Tensor(L.T.astype(w.dtype)) @ w - Tensor(np.linalg.solve(L, b).astype(w.dtype))


def ill_conditioned_quadratic(w: Tensor, kappa: float = 50.0) -> Tensor:
    """½(x² + κy²): condition number κ, minimum (0, 0)."""
    return quadratic(w, np.diag([1.0, kappa]), np.zeros(2))


def rosenbrock(w: Tensor) -> Tensor:
    """ρ(x, y) = (1 − x)² + 100(y − x²)²."""
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


def rosenbrock_residuals(w: Tensor) -> Tensor:
    """r = (10(y − x²), 1 − x): ρ = ‖r‖²."""
    return ops.stack([10 * (w[1] - w[0] ** 2), 1 - w[0]])


def beale_residuals(w: Tensor) -> Tensor:
    """rᵢ = cᵢ − x + x yⁱ, i = 1, 2, 3."""
    return ops.stack([c - w[0] + w[0] * w[1] ** i for i, c in enumerate(_BEALE_C, start=1)])


def beale(w: Tensor) -> Tensor:
    """Beale's function Σᵢ (cᵢ − x + x yⁱ)², minimum 0 at (3, 0.5)."""
    return (beale_residuals(w) ** 2).sum()


def gabor_model(x, phi: Tensor) -> Tensor:
    """f(x; φ) = sin(φ₀ + 0.06φ₁x)·exp(−(φ₀ + 0.06φ₁x)²/32).  ``phi`` has shape (..., 2): a batch of parameter
    pairs gives one row of predictions per pair.  (spec: OPT-GABOR-LANDSCAPE)"""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=phi.dtype))
    z = phi[..., 0:1] + 0.06 * phi[..., 1:2] * x
    return ops.sin(z) * ops.exp(-(z * z) / 32)


def gabor_data(n: int = 100, noise: float = 0.1, phi_true=(0.0, 25.0), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U[−15, 15] (n points), y = f(x; φ*) + N(0, noise²)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-15, 15, n)
    z = phi_true[0] + 0.06 * phi_true[1] * x
    y = np.sin(z) * np.exp(-z * z / 32) + noise * rng.standard_normal(n)
    return x, y


def gabor_loss(x, y, phi: Tensor) -> Tensor:
    """L(φ) = mean (f(x; φ) − y)², one value per parameter pair (shape phi.shape[:-1])."""
    yt = Tensor(np.asarray(y, dtype=phi.dtype))
    return ((gabor_model(x, phi) - yt) ** 2).mean(axis=-1)
