"""Hand-made nonlinearity versus learned features on two concentric rings.
(spec: THEORY-POLAR-FEATURES)

Rings of radius 1 and 2 are not linearly separable in (x₁, x₂): a logistic regression on the raw
inputs stays near chance (no line does much better than ≈ 67 %).  In polar coordinates
(r, θ) = (√(x₁² + x₂²), atan2(x₂, x₁)) the classes are split by r = 1.5, so the same linear model is
almost perfect; an MLP(2, 16, 1) learns such a feature from the raw inputs.  Erratum: θ must be
atan2 (quadrant-correct), not arctan(x₂/x₁).
"""

from __future__ import annotations

import numpy as np


def make_rings(n_per_ring: int = 500, radii=(1.0, 2.0), noise: float = 0.1,
               seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points on concentric circles (uniform angle, Gaussian noise of std ``noise`` on each coordinate);
    label k for ring k.  Returns X (n_rings·n, 2), y (n_rings·n,) int."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k, r in enumerate(radii):
        t = rng.uniform(0, 2 * np.pi, n_per_ring)
        X.append(np.stack([r * np.cos(t), r * np.sin(t)], 1) + rng.normal(0, noise, (n_per_ring, 2)))
        y.append(np.full(n_per_ring, k))
    return np.concatenate(X), np.concatenate(y)


def polar_features(X) -> np.ndarray:
    """(r, θ) = (√(x₁² + x₂²), atan2(x₂, x₁)) with θ ∈ (−π, π]."""
    X = np.asarray(getattr(X, "data", X), dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"polar_features expects points of shape (N, 2), got {X.shape}")
    return np.stack([np.hypot(X[:, 0], X[:, 1]), np.arctan2(X[:, 1], X[:, 0])], axis=1)
