"""Dropout as a module (inverted: scaled during training, identity in eval)."""

from __future__ import annotations

from ..backend import Generator
from . import functional as F
from .module import Module


class Dropout(Module):
    """Zero each unit with probability p in training and scale the rest by 1/(1 − p).  (spec: REG-DROPOUT)"""

    def __init__(self, p: float = 0.5, generator: Generator | None = None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"
