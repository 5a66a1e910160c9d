"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizer import Optimizer, _required, check_lr, check_range


class SGD(Optimizer):
    r"""SGD (PyTorch's algorithm).  (spec: OPT-SGD, OPT-GD, OPT-SGD-MOMENTUM, OPT-NESTEROV, OPT-MOMENTUM)

    g = ∇R(w) on the current mini-batch 𝓑 (g̃ = (1/B)Σ_{n∈𝓑}∇L(yⁿ, g(xⁿ; w)); B = 1 online, B = N full
    batch), then

    - weight decay:  g ← g + λw   (the L2 penalty (λ/2)‖w‖², spec REG-L2-WEIGHT-DECAY)
    - plain:         w ← w − η g
    - momentum μ:    b ← g at the first step, else b ← μ b + (1 − τ) g   (τ = ``dampening``);
                     w ← w − η b
    - Nesterov:      w ← w − η (g + μ b)    (needs μ > 0 and τ = 0)

    **Two sign conventions for momentum.**  The notes (01/03) write the heavy ball with a velocity
    v ← αv − εg, w ← w + v (v₀ = 0), i.e. v is the (negative) step.  PyTorch — and this class — keep
    b ← μb + g and step w ← w − ηb.  With v = −ηb the two are the same trajectory while η is constant;
    after a learning-rate change they differ (the velocity form keeps the old η inside v).  The notes'
    velocity form and the EMA form m ← μm + (1 − μ)g are in :class:`chainrule.optim.Momentum`;
    ``SGD.ema(params, lr=η, momentum=μ)`` is the EMA form as an SGD (spec: OPT-MOMENTUM-EMA).

    ``lr`` may be an array/tensor shaped like the parameter (per-weight learning rates, Δw = −η⊙g,
    spec OPT-PER-PARAM-LR) or differ per parameter group.
    """

    def __init__(self, params, lr: float = _required, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        check_lr(lr)
        check_range("momentum", momentum, 0.0, hint="momentum μ is usually 0.9; 0 disables it")
        check_range("dampening", dampening, 0.0, 1.0)
        check_range("weight_decay", weight_decay, 0.0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"Nesterov momentum requires momentum > 0 and dampening = 0, got momentum={momentum}, "
                             f"dampening={dampening}")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    @classmethod
    def ema(cls, params, lr: float = _required, momentum: float = 0.9, **kwargs) -> SGD:
        r"""The notes' momentum as an exponential moving average of gradients (spec: OPT-MOMENTUM-EMA):

            m⁽ᵗ⁾ = μ m⁽ᵗ⁻¹⁾ + (1 − μ) g⁽ᵗ⁾  (m⁽⁰⁾ = 0),   w⁽ᵗ⁺¹⁾ = w⁽ᵗ⁾ − η m⁽ᵗ⁾

        which is exactly ``SGD(lr=η(1 − μ), momentum=μ)`` (m = (1 − μ)b).  Velocity form m ← μm − η′g,
        Δw = m with η′ = +η(1 − μ) (erratum N3: the notes' η′ = −η(1 − μ) ascends).  With a constant
        gradient the step tends to ηg (the PyTorch form with the same lr: ηg/(1 − μ)).
        """
        lr = check_lr(lr)
        check_range("momentum", momentum, 0.0, 1.0, high_open=True)
        return cls(params, lr=lr * (1 - momentum), momentum=momentum, **kwargs)

    def step(self, closure: Callable | None = None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, mu, damp = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
            state = self.state
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g = grad.data
                if maximize:
                    g = -g
                if wd:
                    g = g + wd * p.data
                if mu:
                    st = state.get(p)
                    if st is None:
                        st = state[p] = {}
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
                    else:
                        buf *= mu
                        if damp:
                            buf += (1 - damp) * g
                        else:
                            buf += g
                    g = g + mu * buf if nesterov else buf
                p.data -= lr * g
                p._version += 1
        return loss
