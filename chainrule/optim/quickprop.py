"""Fahlman's quickprop: a per-weight secant (parabola) step with a maximum growth factor."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizer import Optimizer, check_lr, check_range


class Quickprop(Optimizer):
    r"""Quickprop (Fahlman 1988).  (spec: OPT-QUICKPROP)  Meant for full batches.

    Each weight is treated independently (a separable model of R): R(w + Δ) ≈ R + gΔ + ½g′Δ² gives
    Δ = −g/g′, and the secant g′ ≈ (g − g_prev)/Δw_prev gives Δw = (g/(g_prev − g))·Δw_prev.  With the
    shrink factor s = μ/(1 + μ), per weight (g includes weight_decay·w):

    1. if Δw_prev = 0 (first step or unmoved weight): Δw = −ηg;
    2. else Δw = 0, and if ``grad_term`` and g·Δw_prev < 0 (slope still along the last step): Δw += −ηg;
    3. then, if ``mu`` is set and sign(Δw_prev)(g − s·g_prev) < 0 (the secant step would exceed
       μ|Δw_prev|, be infinite or reverse): Δw += μΔw_prev (maximum growth factor);
       elif g ≠ g_prev: Δw += (g/(g_prev − g))Δw_prev;  else Δw = −ηg;
    4. w += Δw; keep Δw_prev = Δw, g_prev = g.

    ``mu=None`` removes the growth limit (then f = w₁² + 5w₂² is minimized exactly in two steps with
    ``grad_term=False``).  Erratum N7: the notes give only the bare secant rule, which is unbounded when
    g ≈ g_prev and goes uphill when |g| ≥ |g_prev| with equal signs; these safeguards fix that.
    """

    def __init__(self, params, lr: float = 0.01, mu: float | None = 1.75, weight_decay: float = 0.0,
                 grad_term: bool = True, maximize: bool = False):
        check_lr(lr)
        if mu is not None:
            check_range("mu", mu, 0.0, low_open=True, hint="the maximum growth factor μ is 1.75 in Fahlman "
                        "(1988); mu=None removes the limit")
        check_range("weight_decay", weight_decay, 0.0)
        super().__init__(params, dict(lr=lr, mu=mu, weight_decay=weight_decay, grad_term=grad_term,
                                      maximize=maximize))

    def step(self, closure: Callable | None = None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["mu"], group["weight_decay"]
            for p in self._params_with_grad(group):
                g = self._grad(p, group)
                if wd:
                    g = g + wd * p.data
                st = self.state.get(p)
                if not st:
                    st = self.state[p] = {"step": 0, "prev_grad": np.zeros_like(p.data),
                                          "prev_delta": np.zeros_like(p.data)}
                st["step"] += 1
                gp, dp = st["prev_grad"], st["prev_delta"]
                lrg = np.broadcast_to(lr * g, p.shape)
                first = dp == 0
                moved = ~first
                dw = np.where(first, -lrg, 0.0).astype(p.dtype)
                if group["grad_term"]:
                    gt = moved & (g * dp < 0)
                    dw[gt] -= lrg[gt]
                if mu is not None:
                    s = mu / (1 + mu)
                    cap = moved & (np.sign(dp) * (g - s * gp) < 0)
                    dw[cap] += mu * dp[cap]
                else:
                    cap = np.zeros(p.shape, dtype=bool)
                rest = moved & ~cap
                sec = rest & (g != gp)
                with np.errstate(divide="ignore", invalid="ignore"):
                    secant = g / (gp - g) * dp
                dw[sec] += secant[sec]
                same = rest & (g == gp)
                dw[same] = -lrg[same]
                p.data += dw
                p._version += 1
                st["prev_delta"] = dw
                st["prev_grad"] = np.array(g, dtype=p.dtype, copy=True)
        return loss
