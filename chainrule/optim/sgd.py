"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _required


class SGD(Optimizer):
    r"""SGD (PyTorch's algorithm).  With g = ∇R(w) (+ λw if ``weight_decay``):

    - plain:     w ← w − η g                                       (spec: OPT-SGD, OPT-GD)
    - momentum:  b ← μ b + (1 − τ) g  (b₁ = g),  w ← w − η b        (spec: OPT-SGD-MOMENTUM, OPT-MOMENTUM)
    - Nesterov:  w ← w − η (g + μ b)                                (spec: OPT-NESTEROV)

    The notes' form v ← αv − εg, w ← w + v gives the same trajectory (v = −εb) while ε is constant,
    but differs after a learning-rate change; this class uses the PyTorch form.
    ``weight_decay`` λ adds λw to g: the L2 penalty (λ/2)‖w‖² (spec: REG-L2-WEIGHT-DECAY).
    """

    def __init__(self, params, lr: float = _required, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        if lr is not _required and lr < 0:
            raise ValueError(f"invalid learning rate {lr}: must be >= 0")
        if momentum < 0:
            raise ValueError(f"invalid momentum {momentum}: must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, mu, damp = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if maximize:
                    g = -g
                if wd:
                    g = g + wd * p.data
                if mu:
                    st = self.state.setdefault(p, {})
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
                    else:
                        buf *= mu
                        buf += (1 - damp) * g
                    g = g + mu * buf if nesterov else buf
                p.data -= lr * g
                p._version += 1
        return loss
