"""Jacobs' delta-bar-delta: additive increase / multiplicative decrease of per-weight rates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizer import Optimizer, check_lr, check_range


class DeltaBarDelta(Optimizer):
    r"""Delta-bar-delta (Jacobs 1988).  (spec: OPT-DELTA-BAR-DELTA, OPT-PER-PARAM-LR)

    State: per-weight rates η (init ``lr``), the gradient average ḡ (init 0), the last step Δw:

        Δη = κ            if ḡ⁽ᵗ⁻¹⁾ g⁽ᵗ⁾ > 0
             −φ η⁽ᵗ⁻¹⁾     if ḡ⁽ᵗ⁻¹⁾ g⁽ᵗ⁾ < 0
             0            otherwise
        η⁽ᵗ⁾ = η⁽ᵗ⁻¹⁾ + Δη,     ḡ⁽ᵗ⁾ = θ ḡ⁽ᵗ⁻¹⁾ + (1 − θ) g⁽ᵗ⁾
        Δw = −η⁽ᵗ⁾ ⊙ g⁽ᵗ⁾ + μ Δw_prev

    Additive increase, decrease by the factor (1 − φ): η stays positive and keeps growing on plateaus.
    Erratum N4: the notes compare g⁽ᵗ⁾ with ḡ⁽ᵗ⁾, which already contains (1 − θ)g⁽ᵗ⁾ (a positive bias that
    misses sign flips); Jacobs uses ḡ⁽ᵗ⁻¹⁾ (``compare='previous'``, default); ``compare='current'``
    reproduces the notes.
    """

    def __init__(self, params, lr: float = 0.01, kappa: float = 1e-3, phi: float = 0.1, theta: float = 0.7,
                 momentum: float = 0.0, compare: str = "previous", weight_decay: float = 0.0,
                 maximize: bool = False):
        check_lr(lr)
        check_range("kappa", kappa, 0.0, low_open=True, hint="κ > 0 is the additive rate increase")
        check_range("phi", phi, 0.0, 1.0, low_open=True, high_open=True,
                    hint="φ is the multiplicative rate decrease, 0 < φ < 1")
        check_range("theta", theta, 0.0, 1.0, low_open=True, high_open=True,
                    hint="θ is the averaging constant of ḡ, 0 < θ < 1")
        check_range("momentum", momentum, 0.0, 1.0, high_open=True)
        check_range("weight_decay", weight_decay, 0.0)
        if compare not in ("previous", "current"):
            raise ValueError(f"compare must be 'previous' (Jacobs, ḡ⁽ᵗ⁻¹⁾) or 'current' (the notes, ḡ⁽ᵗ⁾), "
                             f"got {compare!r}")
        super().__init__(params, dict(lr=lr, kappa=kappa, phi=phi, theta=theta, momentum=momentum,
                                      compare=compare, weight_decay=weight_decay, maximize=maximize))

    def step(self, closure: Callable | None = None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            kappa, phi, theta, mu = group["kappa"], group["phi"], group["theta"], group["momentum"]
            wd = group["weight_decay"]
            for p in self._params_with_grad(group):
                g = self._grad(p, group)
                if wd:
                    g = g + wd * p.data
                st = self.state.get(p)
                if not st:
                    st = self.state[p] = {
                        "step": 0,
                        "lr": np.broadcast_to(np.asarray(group["lr"], dtype=p.dtype), p.shape).copy(),
                        "grad_avg": np.zeros_like(p.data), "prev_delta": np.zeros_like(p.data)}
                st["step"] += 1
                eta, gbar = st["lr"], st["grad_avg"]
                if group["compare"] == "current":
                    gbar *= theta
                    gbar += (1 - theta) * g
                    prod = gbar * g
                else:
                    prod = gbar * g
                    gbar *= theta
                    gbar += (1 - theta) * g
                dec = prod < 0
                eta[dec] -= phi * eta[dec]
                eta[prod > 0] += kappa
                delta = -(eta * g)
                if mu:
                    delta += mu * st["prev_delta"]
                st["prev_delta"] = delta
                p.data += delta
                p._version += 1
        return loss
