"""Dense layers and shape helpers: Linear, Identity, Flatten."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..backend import Generator, get_default_dtype
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


class Linear(Module):
    """Y = X Wᵀ + b with W of shape (out_features, in_features), X of shape (..., in_features).
    (spec: MLP-FORWARD, CLS-LINEAR-MODEL)

    Initialised as PyTorch: W, b ~ U(±1/√in_features) (``reset_parameters``); ``generator`` makes the
    initialisation reproducible independently of the global seed.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None,
                 generator: Generator | None = None):
        super().__init__()
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dt))
        self.bias = Parameter(np.empty(out_features, dtype=dt)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Generator | None = None) -> None:
        """Draw W, b ~ U(±1/√in_features) again."""
        init.default_init_(self.weight, self.bias, generator)

    def forward(self, x) -> Tensor:
        if isinstance(x, Tensor) and x.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear({self.in_features}, {self.out_features}): expected input (..., "
                             f"{self.in_features}), got {x.shape}")
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    """Flatten axes start_dim..end_dim (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return ops.flatten(x, self.start_dim, self.end_dim)


class Unflatten(Module):
    def __init__(self, dim: int, sizes: tuple):
        super().__init__()
        self.dim, self.sizes = dim, tuple(sizes)

    def forward(self, x):
        d = self.dim % x.ndim
        return ops.reshape(x, x.shape[:d] + self.sizes + x.shape[d + 1:])
