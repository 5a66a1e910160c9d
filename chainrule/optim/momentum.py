"""The notes' two momentum forms as an optimizer: velocity (heavy ball) and EMA of gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizer import Optimizer, _required, check_lr, check_range


class Momentum(Optimizer):
    r"""Momentum in the notes' own forms (the PyTorch form is ``SGD(momentum=μ)``).

    ``form='velocity'`` (01 OPT-SGD-MOMENTUM, 03 OPT-MOMENTUM; v₀ = 0):

        v ← μ v − η g,      w ← w + v

    v is the step itself; unrolled v_k = −η Σ_{i<k} μⁱ g_{k−1−i} (an exponentially weighted *sum*, weights
    total 1/(1 − μ), erratum F20); 1 − μ acts as friction; a constant gradient gives the step ηg/(1 − μ).

    ``form='ema'`` (02 OPT-MOMENTUM-EMA; m₀ = 0):

        m ← μ m + (1 − μ) g,   w ← w − η m

    an average of gradients: a constant gradient gives the step ηg.  Continuous limit dm/dt = −(1 − μ)m −
    η′g, dw/dt = m.

    Relation to ``SGD(lr, momentum=μ)`` (b ← μb + g, w ← w − ηb): velocity form = SGD with the same η
    (v = −ηb) while η is constant, but after a learning-rate change the velocity form keeps the old η
    inside v; EMA form = SGD(lr = η(1 − μ)) always (m = (1 − μ)b).  ``weight_decay`` λ adds λw to g.
    """

    def __init__(self, params, lr: float = _required, momentum: float = 0.9, form: str = "velocity",
                 weight_decay: float = 0.0, maximize: bool = False):
        check_lr(lr)
        check_range("momentum", momentum, 0.0, 1.0, hint="the notes use 0 <= μ <= 1, usually 0.9")
        check_range("weight_decay", weight_decay, 0.0)
        if form not in ("velocity", "ema"):
            raise ValueError(f"unknown momentum form {form!r}: use 'velocity' (v ← μv − ηg, w ← w + v) or "
                             "'ema' (m ← μm + (1 − μ)g, w ← w − ηm)")
        super().__init__(params, dict(lr=lr, momentum=momentum, form=form, weight_decay=weight_decay,
                                      maximize=maximize))

    def step(self, closure: Callable | None = None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, mu, wd, form = group["lr"], group["momentum"], group["weight_decay"], group["form"]
            for p in self._params_with_grad(group):
                g = self._grad(p, group)
                if wd:
                    g = g + wd * p.data
                st = self.state.setdefault(p, {})
                if "buffer" not in st:
                    st["buffer"] = np.zeros_like(p.data)
                buf = st["buffer"]
                if form == "velocity":
                    buf *= mu
                    buf -= lr * g
                    p.data += buf
                else:
                    buf *= mu
                    buf += (1 - mu) * g
                    p.data -= lr * buf
                p._version += 1
        return loss
