"""RMSprop: gradients scaled by a running root mean square (optionally centred, with momentum)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizer import Optimizer, check_lr, check_range


class RMSprop(Optimizer):
    r"""RMSprop (Tieleman & Hinton), PyTorch's algorithm.  (spec: OPT-RMSPROP)

    With g (+ λw if ``weight_decay``):

        v ← α v + (1 − α) g²
        D = √(v − ḡ²) + ε  with ḡ ← α ḡ + (1 − α) g   if ``centered``,   else  D = √v + ε
        momentum μ > 0:  buf ← μ buf + g / D,  w ← w − η buf;   else  w ← w − η g / D

    ``eps_inside=True`` puts ε under the root, D = √(v + ε) (the notes: AdaGrad with this running
    average, γ = α e.g. 0.9).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, eps_inside: bool = False, maximize: bool = False):
        check_lr(lr)
        check_range("alpha", alpha, 0.0, 1.0, hint="α is the decay of the squared-gradient average, e.g. 0.99")
        check_range("eps", eps, 0.0)
        check_range("weight_decay", weight_decay, 0.0)
        check_range("momentum", momentum, 0.0)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, eps_inside=eps_inside, maximize=maximize))

    def step(self, closure: Callable | None = None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, alpha, eps, wd, mu = group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
            for p in self._params_with_grad(group):
                g = self._grad(p, group)
                if wd:
                    g = g + wd * p.data
                st = self.state.get(p)
                if not st:
                    st = self.state[p] = {"step": 0, "square_avg": np.zeros_like(p.data)}
                    if mu > 0:
                        st["momentum_buffer"] = np.zeros_like(p.data)
                    if group["centered"]:
                        st["grad_avg"] = np.zeros_like(p.data)
                st["step"] += 1
                v = st["square_avg"]
                v *= alpha
                v += (1 - alpha) * g * g  # PyTorch's rounding order: ((1 − α)g)g
                if group["centered"]:
                    ga = st["grad_avg"]
                    if 1 - alpha < 0.5:  # PyTorch's lerp_(g, 1 − α)
                        ga += (1 - alpha) * (g - ga)
                    else:
                        ga[...] = g - (g - ga) * (1 - (1 - alpha))
                    var = v - ga * ga
                else:
                    var = v
                avg = np.sqrt(var + eps) if group["eps_inside"] else np.sqrt(var) + eps
                if mu > 0:
                    buf = st.setdefault("momentum_buffer", np.zeros_like(p.data))
                    buf *= mu
                    buf += g / avg
                    p.data -= lr * buf
                else:
                    p.data -= (lr * g) / avg
                p._version += 1
        return loss
