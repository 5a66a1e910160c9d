"""The implicit regularization of SGD: its steady state minimises free energy with temperature η/(2b).
(spec: REG-SGD-TEMPERATURE)

Chaudhari & Soatto (2018): SGD with learning rate η and batch size b behaves like Langevin dynamics whose
steady state is ρ^ss = argmin_ρ E_{w~ρ}[Φ(w)] − β⁻¹H(ρ) with β⁻¹ = η/(2b) (times the per-sample gradient
variance when the noise is isotropic, in which case Φ = R).  Larger η or smaller b ⇒ a stronger entropy
term ⇒ wider (flatter) regions are preferred.  Keep η/b fixed when changing the batch size.  Batches
drawn without replacement from N samples reduce the noise by (1 − b/N).
"""

from __future__ import annotations

import math

__all__ = ["sgd_temperature", "expected_coverage"]


def sgd_temperature(lr: float, batch_size: int, n: int | None = None) -> float:
    """β⁻¹ = η/(2b); with the data-set size ``n`` (sampling without replacement) η/(2b)·(1 − b/n).
    (spec: REG-SGD-TEMPERATURE)"""
    if lr < 0 or batch_size < 1:
        raise ValueError(f"need lr >= 0 and batch_size >= 1, got lr={lr}, batch_size={batch_size}")
    t = lr / (2.0 * batch_size)
    if n is not None:
        if n < batch_size:
            raise ValueError(f"data-set size n={n} is smaller than the batch size {batch_size}")
        t *= 1.0 - batch_size / n
    return t


def expected_coverage(n: int, draws: int | None = None) -> float:
    """Expected fraction of the n indices seen at least once in ``draws`` (default n) uniform draws with
    replacement: 1 − (1 − 1/n)^draws → 1 − e⁻¹ ≈ 0.632 for draws = n → ∞.  (spec: REG-SGD-TEMPERATURE)"""
    d = n if draws is None else draws
    return 1.0 - math.exp(d * math.log1p(-1.0 / n)) if n > 1 else 1.0
