"""Delta-delta rule: per-weight learning rates adapted by products of successive gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizer import Optimizer, check_lr, check_range


class DeltaDelta(Optimizer):
    r"""Delta-delta rule (Barto–Sutton, Jacobs 1988).  (spec: OPT-DELTA-DELTA, OPT-PER-PARAM-LR)

    State: per-weight rates η (initialised to ``lr``) and the previous gradient g⁽ᵗ⁻¹⁾:

        η⁽ᵗ⁾ = η⁽ᵗ⁻¹⁾ + γ g⁽ᵗ⁾ ⊙ g⁽ᵗ⁻¹⁾     (unchanged at t = 1)
        w ← w − η⁽ᵗ⁾ ⊙ g⁽ᵗ⁾

    Rates grow while successive gradients agree and shrink when they alternate; they can turn negative
    under oscillation (the rule's known flaw) — ``min_lr`` clamps them: η ← max(η, min_lr).
    """

    def __init__(self, params, lr: float = 0.01, gamma: float = 1e-3, min_lr: float | None = None,
                 weight_decay: float = 0.0, maximize: bool = False):
        check_lr(lr)
        check_range("gamma", gamma, 0.0, hint="γ is the meta learning rate of the rates, e.g. 1e-3")
        if min_lr is not None:
            check_range("min_lr", min_lr, hint="a lower bound on the per-weight rates, e.g. 0")
        check_range("weight_decay", weight_decay, 0.0)
        super().__init__(params, dict(lr=lr, gamma=gamma, min_lr=min_lr, weight_decay=weight_decay,
                                      maximize=maximize))

    def step(self, closure: Callable | None = None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            gamma, min_lr, wd = group["gamma"], group["min_lr"], group["weight_decay"]
            for p in self._params_with_grad(group):
                g = self._grad(p, group)
                if wd:
                    g = g + wd * p.data
                st = self.state.get(p)
                if not st:
                    st = self.state[p] = {"step": 0, "lr": np.broadcast_to(
                        np.asarray(group["lr"], dtype=p.dtype), p.shape).copy(), "prev_grad": None}
                st["step"] += 1
                eta = st["lr"]
                if st["prev_grad"] is not None:
                    eta += gamma * (g * st["prev_grad"])
                    if min_lr is not None:
                        np.maximum(eta, min_lr, out=eta)
                st["prev_grad"] = np.array(g, copy=True)
                p.data -= eta * g
                p._version += 1
        return loss
