"""AdaGrad: per-weight rates from the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizer import Optimizer, check_lr, check_range


class Adagrad(Optimizer):
    r"""AdaGrad (Duchi et al.), PyTorch's algorithm.  (spec: OPT-ADAGRAD)

    With g (+ λw if ``weight_decay``), step t (v₀ = ``initial_accumulator_value``):

        v ← v + g²
        clr = η / (1 + (t − 1)·lr_decay)
        w ← w − clr · g / (√v + ε)          (``eps_inside=True``: g / √(v + ε), the notes' form, ε ≈ 1e-8)

    The effective per-weight rates clr/(√v + ε) only shrink.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, eps_inside: bool = False,
                 maximize: bool = False):
        check_lr(lr)
        check_range("lr_decay", lr_decay, 0.0)
        check_range("weight_decay", weight_decay, 0.0)
        check_range("initial_accumulator_value", initial_accumulator_value, 0.0)
        check_range("eps", eps, 0.0, hint="ε keeps the division finite, e.g. 1e-10")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      eps_inside=eps_inside, maximize=maximize))

    def step(self, closure: Callable | None = None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            for p in self._params_with_grad(group):
                g = self._grad(p, group)
                if wd:
                    g = g + wd * p.data
                st = self.state.get(p)
                if not st:
                    st = self.state[p] = {"step": 0, "sum": np.full_like(p.data, group["initial_accumulator_value"])}
                st["step"] += 1
                clr = lr / (1 + (st["step"] - 1) * group["lr_decay"])
                v = st["sum"]
                v += g * g
                std = np.sqrt(v + eps) if group["eps_inside"] else np.sqrt(v) + eps
                p.data -= (clr * g) / std
                p._version += 1
        return loss
