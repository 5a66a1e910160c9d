"""Activation functions as modules (the ops are in ``chainrule.ops.activation``)."""

from __future__ import annotations

from .. import ops
from .module import Module


class ReLU(Module):
    def forward(self, x):
        return ops.relu(x)


class Sigmoid(Module):
    def forward(self, x):
        return ops.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return ops.tanh(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return ops.elu(x, self.alpha)


class SELU(Module):
    def forward(self, x):
        return ops.selu(x)


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return ops.softplus(x, self.beta, self.threshold)


class GELU(Module):
    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return ops.gelu(x, self.approximate)


class SiLU(Module):
    def forward(self, x):
        return ops.silu(x)


class Softmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ops.softmax(x, self.dim)


class LogSoftmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ops.log_softmax(x, self.dim)


class Sign(Module):
    """Threshold unit sign(x) (no gradient: perceptron rule only)."""

    def forward(self, x):
        return ops.sign(x)


class Step(Module):
    def forward(self, x):
        return ops.step(x)


ACTIVATIONS = {
    "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "leaky_relu": LeakyReLU, "elu": ELU, "selu": SELU,
    "softplus": Softplus, "gelu": GELU, "silu": SiLU, "identity": None, "linear": None, None: None,
}


def get_activation(name):
    """A module for an activation given by name (or a module/callable passed through)."""
    if name is None or isinstance(name, Module):
        return name
    if callable(name) and not isinstance(name, str):
        return name()
    key = name.lower()
    if key == "softmax":
        return Softmax(-1)
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(k for k in ACTIVATIONS if k)} or softmax")
    cls = ACTIVATIONS[key]
    return cls() if cls is not None else None
