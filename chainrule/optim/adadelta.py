"""Adadelta: rate-free steps whose units match the parameters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizer import Optimizer, check_lr, check_range


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012), PyTorch's algorithm.  (spec: OPT-ADADELTA)

    With g (+ λw if ``weight_decay``), v and u running means (init 0):

        v ← ρ v + (1 − ρ) g²
        Δ = √(u + ε) / √(v + ε) · g
        u ← ρ u + (1 − ρ) Δ²
        w ← w − η Δ

    η = 1 is Zeiler's rate-free method (the units of Δ match the parameters); the first step is
    ≈ √(ε/(1 − ρ)) per coordinate.  Erratum N5: the notes' (7.50) lacks the minus sign — the update is
    Δw⁽ᵗ⁾ = −(√(d⁽ᵗ⁻¹⁾ + ε)/√(v⁽ᵗ⁾ + ε)) g⁽ᵗ⁾.  Zeiler's paper uses ρ = 0.95, ε = 1e-6.
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
                 maximize: bool = False):
        check_lr(lr)
        check_range("rho", rho, 0.0, 1.0, hint="ρ is the decay of the running averages, e.g. 0.9")
        check_range("eps", eps, 0.0)
        check_range("weight_decay", weight_decay, 0.0)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def step(self, closure: Callable | None = None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, rho, eps, wd = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            for p in self._params_with_grad(group):
                g = self._grad(p, group)
                if wd:
                    g = g + wd * p.data
                st = self.state.get(p)
                if not st:
                    st = self.state[p] = {"step": 0, "square_avg": np.zeros_like(p.data),
                                          "acc_delta": np.zeros_like(p.data)}
                st["step"] += 1
                v, u = st["square_avg"], st["acc_delta"]
                v *= rho
                v += (1 - rho) * g * g
                delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
                u *= rho
                u += (1 - rho) * delta * delta
                p.data -= lr * delta
                p._version += 1
        return loss
