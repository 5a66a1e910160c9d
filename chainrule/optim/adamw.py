"""AdamW: Adam with decoupled weight decay."""

from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter), PyTorch's algorithm.  (spec: OPT-ADAMW)

        w ← w (1 − η λ)          (decoupled decay, applied first)
        then the Adam step (OPT-ADAM) on the raw gradient g (no λw added to g)

    so Adam(weight_decay=λ) (L2 added to g, then rescaled by 1/√v̂) ≠ AdamW(weight_decay=λ).
    Default λ = 0.01.
    """

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)
