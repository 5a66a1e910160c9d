"""Shallow networks: parameter count, joints, and the collapse of stacked linear layers.
(spec: SHALLOW-NET-PARAMS)

y = φ₀ + Σ_{d=1}^{D} φ_d a[θ_{d0} + θ_{d1}x] (erratum: φ₀ appears once, not in every term).  In
matrix form H = a(XW₁ᵀ + b₁), W₁ (D, D_i); Y = HW₂ᵀ + b₂, W₂ (D_o, D).  Parameters:
D(D_i + 1) + D_o(D + 1) — MLP(2, 3, 1) has 9 + 4 = 13, MLP(1, 3, 1) has 10.  With one input, unit d
has its joint at x = −θ_{d0}/θ_{d1}; the output is piecewise linear with at most D + 1 pieces, and
inactive units contribute nothing.  Without an activation the stack is affine:
W₂(W₁x + b₁) + b₂ = W*x + b*, W* = W₂W₁, rank W* ≤ min(rank W₁, rank W₂) (erratum: ≤, not =).
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..models import count_parameters


def shallow_param_count(n_inputs: int, n_hidden: int, n_outputs: int = 1) -> int:
    """D(D_i + 1) + D_o(D + 1): weights and biases of a one-hidden-layer network."""
    for name, v in (("n_inputs", n_inputs), ("n_hidden", n_hidden), ("n_outputs", n_outputs)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(n_hidden * (n_inputs + 1) + n_outputs * (n_hidden + 1))


def count_params(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameter entries of a model (shared parameters once)."""
    return count_parameters(model, trainable_only)


def collapse_linear(model) -> tuple[np.ndarray, np.ndarray]:
    """(W*, b*) of a stack of Linear layers with no activation: y = W*x + b*, W* = W_L⋯W₁,
    b* = W_L(⋯(W₂b₁ + b₂)⋯) + b_L.  Raises if the stack contains anything non-linear."""
    mods = list(model.modules())[1:] if hasattr(model, "modules") else list(model)
    W, b = None, None
    for m in mods:
        if isinstance(m, nn.Linear):
            Wl = np.asarray(m.weight.data, dtype=np.float64)
            bl = np.zeros(m.out_features) if m.bias is None else np.asarray(m.bias.data, dtype=np.float64)
            W, b = (Wl, bl) if W is None else (Wl @ W, Wl @ b + bl)
        elif isinstance(m, (nn.Identity, nn.Sequential)):
            continue
        else:
            raise ValueError(f"collapse_linear: {type(m).__name__} is not linear; only stacks of Linear layers "
                             "collapse to one affine map")
    if W is None:
        raise ValueError("collapse_linear: no Linear layer found")
    return W, b


def relu_joints(model) -> np.ndarray:
    """Joint positions x = −θ_{d0}/θ_{d1} of the hidden units of a 1-input shallow ReLU net (sorted;
    units with θ_{d1} = 0 have no joint)."""
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    if first.in_features != 1:
        raise ValueError(f"relu_joints needs one input, the first layer has {first.in_features}")
    w = first.weight.data[:, 0].astype(np.float64)
    b = first.bias.data.astype(np.float64) if first.bias is not None else np.zeros_like(w)
    ok = w != 0
    return np.sort(-b[ok] / w[ok])
