"""Dropout (inverted and weight-scaling modes) and Monte-Carlo dropout prediction.

``p`` is the probability of *dropping* a unit (PyTorch's convention; the notes' p is the keep
probability, erratum N10).  Keep probability q = 1 − p; mask dᵢ ~ Bernoulli(q), drawn afresh in every
training forward and used again by the backward pass (the gradient is g ⊙ d · scale).

| mode | training | evaluation |
|---|---|---|
| ``'inverted'`` (default; the notes' "state scaling") | y = d ⊙ x / q | y = x |
| ``'weight_scaling'`` (classic rule) | y = d ⊙ x | y = q·x (= next layer's weights × q) |

Both match the expected pre-activation of the next layer: E[Σᵢwᵢdᵢaᵢ] = qΣᵢwᵢaᵢ (exact only through the
linear map, the variance is not matched).  (spec: REG-DROPOUT, REG-DROPOUT-MODES)
"""

from __future__ import annotations

import numpy as np

from ..backend import Generator, _gen
from ..ops._base import as_tensor
from ..tensor import Tensor, no_grad
from . import functional as F
from .module import Module

__all__ = ["Dropout", "mc_predict", "is_dropout"]

_MODES = ("inverted", "weight_scaling")


class Dropout(Module):
    """``Dropout(p=0.5, mode='inverted', generator=None)``: zero each unit with probability p in training.

    ``mode='inverted'``: survivors scaled by 1/(1 − p) in training, identity in eval (PyTorch).
    ``mode='weight_scaling'``: no scaling in training, output × (1 − p) in eval (the classic test-time rule
    "halve the outgoing weights" at p = ½).  Typical p: 0.5 for hidden units, 0.1 for inputs (keep 0.9).
    (spec: REG-DROPOUT, REG-DROPOUT-MODES)
    """

    def __init__(self, p: float = 0.5, mode: str = "inverted", generator: Generator | None = None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p} (p is the DROP probability; "
                             "keep probability 0.8 means p=0.2)")
        if mode not in _MODES:
            raise ValueError(f"dropout mode must be one of {_MODES}, got {mode!r}")
        self.p = float(p)
        self.mode = mode
        self.generator = generator

    def forward(self, x):
        if self.mode == "inverted":
            return F.dropout(x, self.p, self.training, self.generator)
        x = as_tensor(x)
        q = 1.0 - self.p
        if not self.training:
            return x * q
        if self.p == 0.0:
            return x
        keep = (_gen(self.generator).rng.random(x.shape) >= self.p).astype(x.dtype)
        return x * keep

    def extra_repr(self) -> str:
        return f"p={self.p}" + ("" if self.mode == "inverted" else f", mode={self.mode!r}")


def is_dropout(m: Module) -> bool:
    """True for dropout layers (this module's Dropout and any class whose name ends in 'Dropout',
    e.g. AlphaDropout)."""
    return isinstance(m, Dropout) or type(m).__name__.endswith("Dropout")


def mc_predict(model: Module, x, n_samples: int = 100, ddof: int = 0) -> tuple[Tensor, Tensor]:
    """Monte-Carlo dropout: the mean and variance of ``n_samples`` stochastic forward passes.

    Dropout layers run in training mode, every other module in eval mode (BatchNorm uses its running
    statistics); the model's modes are restored afterwards.  Cost: n_samples forward passes, no graph.
    Returns ``(mean, var)`` with the output's shape (``var`` with ``ddof`` as in ``np.var``).  Hundreds to
    thousands of passes are typical.  (spec: REG-MC-DROPOUT)
    """
    if n_samples < 1 or (ddof and n_samples <= ddof):
        raise ValueError(f"mc_predict needs n_samples >= {max(1, ddof + 1)}, got {n_samples}")
    modes = [(m, m.training) for m in model.modules()]
    drops = [m for m in model.modules() if is_dropout(m)]
    if not drops:
        raise ValueError(f"mc_predict: {type(model).__name__} has no dropout layer, so every pass would be "
                         "identical; add nn.Dropout layers (or use model(x) in eval mode)")
    try:
        model.eval()
        for m in drops:
            object.__setattr__(m, "training", True)
        with no_grad():
            mean = m2 = None
            for k in range(1, n_samples + 1):  # Welford's running mean and sum of squared deviations
                y = model(x)
                yd = y.data.astype(np.float64)
                dtype = y.dtype
                if mean is None:
                    mean, m2 = yd.copy(), np.zeros_like(yd)
                else:
                    d = yd - mean
                    mean += d / k
                    m2 += d * (yd - mean)
    finally:
        for m, t in modes:
            object.__setattr__(m, "training", t)
    var = m2 / (n_samples - ddof)
    return Tensor._wrap(mean.astype(dtype)), Tensor._wrap(var.astype(dtype))
