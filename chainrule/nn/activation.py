"""Activation functions as modules (the ops, with formulas and derivative conventions, are in
``chainrule.ops.activation``), the second-order unit, and ``get_activation``.

Names and constructor arguments follow ``torch.nn``.  ``inplace=`` is accepted for compatibility and
ignored: chainrule always computes out of place (an in-place activation would corrupt saved values).

Output units (spec: ACT-OUTPUT-UNITS): linear (f' = 1) for regression, sigmoid for binary targets,
softmax for classes with ∂softmaxᵢ/∂s_k = softmaxᵢ(δᵢₖ − softmax_k), i.e. the Jacobian diag(p) − ppᵀ —
``get_activation('identity' | 'sigmoid' | 'softmax')``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..backend import Generator, _gen, get_default_dtype
from ..tensor import Tensor
from .module import Module, Parameter


class ReLU(Module):
    """max(0, x); derivative 0 at 0 (PyTorch).  (spec: ACT-RELU, ACT-BASIC-000)"""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return ops.relu(x)


class Sigmoid(Module):
    """σ(x) = 1/(1 + e^{−x}).  (spec: ACT-SIGMOID, ACT-BASIC-000)"""

    def forward(self, x):
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh x.  (spec: ACT-TANH)"""

    def forward(self, x):
        return ops.tanh(x)


class LeakyReLU(Module):
    """x (x > 0), negative_slope·x otherwise (default 0.01).  (spec: ACT-LEAKY-RELU)"""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """Parametric ReLU: x (x > 0), a·x otherwise with a *learnable* slope a — one shared
    (``num_parameters=1``) or one per channel (axis 1 of (N, C, …)) — initialised to ``init`` = 0.25.
    Gradient ∂L/∂a = Σ g·x·1[x ≤ 0].  (spec: ACT-LEAKY-RELU)"""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=None):
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be >= 1, got {num_parameters}")
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_parameters = int(num_parameters)
        self.weight = Parameter(np.full(self.num_parameters, init, dtype=dt))

    def forward(self, x):
        return ops.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x (x > 0), α(eˣ − 1) otherwise; negative outputs pull mean activations towards 0.  (spec: ACT-ELU)"""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return ops.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class SELU(Module):
    """λ·elu(x, α) with α₀₁ = 1.6732632423543772, λ₀₁ = 1.0507009873554805: with LeCun-normal weights
    the activations of a deep net stay at mean 0, variance 1 (``nn.snn``).  (spec: ACT-SELU)"""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return ops.selu(x)


class CELU(Module):
    """max(0, x) + min(0, α(e^{x/α} − 1)) (C¹ for every α)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return ops.celu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softplus(Module):
    """(1/β)·log(1 + e^{βx}), linear above ``threshold``; finite at ±1000.  (spec: ACT-BASIC-000)"""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return ops.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """log σ(x) = −softplus(−x) (finite at ±1000)."""

    def forward(self, x):
        return ops.logsigmoid(x)


class GELU(Module):
    """x·Φ(x), or the tanh approximation with ``approximate='tanh'``."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return ops.gelu(x, self.approximate)


class SiLU(Module):
    """x·σ(x) (swish with β = 1)."""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return ops.silu(x)


Swish = SiLU


class Mish(Module):
    """x·tanh(softplus(x))."""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return ops.mish(x)


class Softsign(Module):
    """x/(1 + |x|)."""

    def forward(self, x):
        return ops.softsign(x)


class Hardtanh(Module):
    """clip(x, min_val, max_val) (default [−1, 1])."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        return ops.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Module):
    """min(max(0, x), 6)."""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return ops.relu6(x)


class Hardsigmoid(Module):
    """clip(x/6 + 1/2, 0, 1)."""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return ops.hardsigmoid(x)


class Hardswish(Module):
    """x·relu6(x + 3)/6."""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return ops.hardswish(x)


class Softmax(Module):
    """exp(sᵢ)/Σ_k exp(s_k) along ``dim``; Jacobian diag(p) − ppᵀ.  (spec: ACT-OUTPUT-UNITS)"""

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


# ------------------------------------------------------------------ second-order units (spec: ACT-HIGHER-ORDER)
class SecondOrderLinear(Module):
    """Second-order (sigma-pi) units: sᵢ = Σ_{j₁,j₂=0}^{J} w_{ij₁j₂}·a_{j₁}·a_{j₂} with a₀ = 1, so the
    constant (w_{i00}), linear (w_{i0j} + w_{ij0}) and all pairwise product terms are included.

    ``weight`` has shape (out, J + 1, J + 1) and S = einsum('nj,ijk,nk->ni', Ã, W, Ã), Ã = [1 | A]
    (computed as a Linear map of the flattened outer products ÃÃᵀ).  Only W[:, 0, :] non-zero gives an
    ordinary Linear layer (W[:, 0, 0] = b, W[:, 0, 1:] = W_lin).  With ``symmetric=True`` only the
    (J + 1)(J + 2)/2 entries j₁ ≤ j₂ are stored per output (``weight`` of shape (out, (J+1)(J+2)/2)),
    since a_{j₁}a_{j₂} = a_{j₂}a_{j₁}.  Init: U(±1/√P), P = number of stored entries per output.
    (spec: ACT-HIGHER-ORDER)"""

    def __init__(self, in_features: int, out_features: int, symmetric: bool = False, dtype=None,
                 generator: Generator | None = None):
        super().__init__()
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.in_features, self.out_features, self.symmetric = int(in_features), int(out_features), bool(symmetric)
        J1 = self.in_features + 1
        if symmetric:
            rows, cols = np.triu_indices(J1)
            self._pairs = rows * J1 + cols  # flat indices of the j₁ ≤ j₂ products
            shape = (self.out_features, J1 * (J1 + 1) // 2)
        else:
            self._pairs = None
            shape = (self.out_features, J1, J1)
        p = int(np.prod(shape[1:]))
        bound = 1.0 / math.sqrt(p)
        self.weight = Parameter(_gen(generator).rng.uniform(-bound, bound, size=shape).astype(dt))

    def features(self, x) -> Tensor:
        """The flattened products ã_{j₁}ã_{j₂} (N, (J + 1)²) — or (N, (J+1)(J+2)/2) if symmetric."""
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"SecondOrderLinear({self.in_features}, {self.out_features}): expected input "
                             f"(N, {self.in_features}), got {x.shape}")
        ones = Tensor._wrap(np.ones((x.shape[0], 1), dtype=x.dtype))
        at = ops.concatenate([ones, x], axis=1)
        J1 = self.in_features + 1
        outer = ops.reshape(ops.unsqueeze(at, 2) * ops.unsqueeze(at, 1), (x.shape[0], J1 * J1))
        if self._pairs is not None:
            outer = outer[:, self._pairs]
        return outer

    def forward(self, x) -> Tensor:
        f = self.features(x)
        w = self.weight if self.symmetric else ops.reshape(self.weight, (self.out_features, -1))
        return ops.linear(f, w)

    def full_weight(self) -> np.ndarray:
        """The (out, J + 1, J + 1) weight array (upper-triangular if symmetric)."""
        if not self.symmetric:
            return self.weight.data.copy()
        J1 = self.in_features + 1
        W = np.zeros((self.out_features, J1 * J1), dtype=self.weight.dtype)
        W[:, self._pairs] = self.weight.data
        return W.reshape(self.out_features, J1, J1)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, symmetric={self.symmetric}"


ACTIVATIONS = {
    "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "leaky_relu": LeakyReLU, "prelu": PReLU, "elu": ELU,
    "selu": SELU, "celu": CELU, "softplus": Softplus, "logsigmoid": LogSigmoid, "gelu": GELU, "silu": SiLU,
    "swish": SiLU, "mish": Mish, "softsign": Softsign, "hardtanh": Hardtanh, "relu6": ReLU6,
    "hardsigmoid": Hardsigmoid, "hardswish": Hardswish, "identity": None, "linear": None, None: None,
}


def get_activation(name):
    """A module for an activation given by name (or a module/callable passed through); 'identity',
    'linear' and None give None (no layer), 'softmax' a Softmax over the last axis.
    (spec: ACT-OUTPUT-UNITS)"""
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
