"""Adam (with the AMSGrad option)."""

from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), PyTorch's algorithm.  With g (+ λw if ``weight_decay``), step t:

        m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²
        m̂ = m/(1 − β₁ᵗ),  v̂ = v/(1 − β₂ᵗ)      (bias correction: m, v start at 0)
        w ← w − η m̂ / (√v̂ + ε)

    ``amsgrad=True`` uses v_max = max(v_max, v) in place of v.  (spec: OPT-ADAM)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid Adam hyperparameters lr={lr}, betas={betas}, eps={eps}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _decay(self, p, g, group):
        """Coupled L2: g + λw (AdamW overrides this with decoupled decay)."""
        wd = group["weight_decay"]
        return g + wd * p.data if wd else g

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, (b1, b2), eps, ams = group["lr"], group["betas"], group["eps"], group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if group["maximize"]:
                    g = -g
                g = self._decay(p, g, group)
                st = self.state.get(p)
                if not st:
                    st = self.state[p] = {"step": 0, "exp_avg": np.zeros_like(p.data),
                                          "exp_avg_sq": np.zeros_like(p.data)}
                    if ams:
                        st["max_exp_avg_sq"] = np.zeros_like(p.data)
                st["step"] += 1
                t = st["step"]
                m, v = st["exp_avg"], st["exp_avg_sq"]
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * (g * g)
                bc1 = 1 - b1 ** t
                bc2 = 1 - b2 ** t
                if ams:
                    vm = st["max_exp_avg_sq"]
                    np.maximum(vm, v, out=vm)
                    denom = np.sqrt(vm) / math.sqrt(bc2) + eps
                else:
                    denom = np.sqrt(v) / math.sqrt(bc2) + eps
                p.data -= (lr / bc1) * (m / denom)
                p._version += 1
        return loss
