"""Curse of dimensionality: coefficient counts and the Gaussian shell.  (spec: THEORY-CURSE-DIM)

* A polynomial of degree ≤ M in D variables has C(D + M, M) coefficients — fixed bases explode with D.
* For x ~ N(0, σ²I_D) the radius r = ‖x‖ has density
      p(r) = S_D r^{D−1} e^{−r²/(2σ²)} / (2πσ²)^{D/2},   S_D = 2π^{D/2}/Γ(D/2),
  mode r* = σ√(D − 1) ≈ σ√D, and near the mode log p(r* + ε) − log p(r*) ≈ −ε²/σ² (the curvature of
  the log-density at the mode is −2/σ²; erratum: the notes' exp(−3ε²/(2σ²)) is wrong).  So the mass
  concentrates in a thin shell of radius ≈ σ√D and width ≈ σ/√2, independent of D: in high
  dimension almost no sample is near the centre.  Manifold hypothesis: natural data lie near
  low-dimensional manifolds, which is why learned features beat fixed bases.
"""

from __future__ import annotations

from math import comb, lgamma, log, pi, sqrt

import numpy as np


def polynomial_coefficient_count(n_vars: int, degree: int) -> int:
    """C(D + M, M): monomials of degree ≤ M in D variables."""
    if n_vars < 0 or degree < 0:
        raise ValueError(f"need n_vars >= 0 and degree >= 0, got {n_vars}, {degree}")
    return comb(int(n_vars) + int(degree), int(degree))


def gaussian_radius_logpdf(r, dim: int, sigma: float = 1.0) -> np.ndarray:
    """log p(r) of the radius of an isotropic D-dimensional Gaussian (exact, via lgamma)."""
    r = np.asarray(r, dtype=np.float64)
    log_sd = log(2.0) + 0.5 * dim * log(pi) - lgamma(0.5 * dim)
    with np.errstate(divide="ignore"):
        return log_sd + (dim - 1) * np.log(r) - r**2 / (2 * sigma**2) - 0.5 * dim * log(2 * pi * sigma**2)


def gaussian_radius_mode(dim: int, sigma: float = 1.0) -> float:
    """r* = σ√(D − 1)."""
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    return sigma * sqrt(dim - 1)


def sample_gaussian_radii(dim: int, n: int, sigma: float = 1.0, seed: int | None = 0,
                          chunk: int = 2_000_000) -> np.ndarray:
    """‖x‖ for n samples x ~ N(0, σ²I_D) (drawn in chunks to bound memory)."""
    rng = np.random.default_rng(seed)
    out = np.empty(n)
    rows = max(1, chunk // max(dim, 1))
    for s in range(0, n, rows):
        m = min(rows, n - s)
        out[s:s + m] = np.linalg.norm(rng.standard_normal((m, dim)), axis=1) * sigma
    return out


def shell_statistics(dims, n: int = 20_000, sigma: float = 1.0, seed: int = 0) -> dict[str, np.ndarray]:
    """For each D: mean r/(σ√D) and std of r from ``n`` samples (→ 1 and → σ/√2 ≈ 0.707σ)."""
    dims = np.asarray(list(dims))
    mean_ratio, std = [], []
    for D in dims:
        r = sample_gaussian_radii(int(D), n, sigma, seed)
        mean_ratio.append(r.mean() / (sigma * sqrt(D)))
        std.append(r.std())
    return {"dim": dims, "mean_r_over_sqrtD": np.array(mean_ratio), "std_r": np.array(std)}
