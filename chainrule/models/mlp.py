"""Multilayer perceptron built from Linear layers and activations.  (spec: MLP-FORWARD)"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import nn
from ..backend import Generator, _gen


class MLP(nn.Module):
    """``MLP(sizes=[D, n1, ..., K], activation='sigmoid', output_activation=None, init='default')``.

    Layer l computes s = a W_lᵀ + b_l, a = f(s); the output layer applies ``output_activation``
    (None/'identity', 'sigmoid' or 'softmax').  #params = Σ_l n_l(n_{l−1} + 1).
    ``init``: 'default' (PyTorch's U(±1/√fan_in)), 'normal' (N(0, 1) weights and biases, the
    classic MNIST recipe), 'fanin' (N(0, 1/fan_in), biases 0), 'kaiming' (N(0, 2/fan_in), biases 0).
    """

    def __init__(self, sizes: Sequence[int], activation="sigmoid", output_activation=None,
                 init: str = "default", dtype=None, generator: Generator | None = None):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least input and output sizes, got {list(sizes)}")
        self.sizes = list(sizes)
        g = _gen(generator)
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            lin = nn.Linear(a, b, dtype=dtype, generator=g)
            _init_linear(lin, init, g)
            layers.append(lin)
            act = nn.get_activation(activation if i < len(sizes) - 2 else output_activation)
            if act is not None:
                layers.append(act)
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}"


def _init_linear(lin: nn.Linear, how: str, g: Generator) -> None:
    if how == "default":
        return
    fan_in = lin.in_features
    if how == "normal":
        nn.init.normal_(lin.weight, 0.0, 1.0, g)
        nn.init.normal_(lin.bias, 0.0, 1.0, g)
    elif how in ("fanin", "lecun"):
        nn.init.normal_(lin.weight, 0.0, 1.0 / np.sqrt(fan_in), g)
        nn.init.zeros_(lin.bias)
    elif how in ("kaiming", "he"):
        nn.init.normal_(lin.weight, 0.0, np.sqrt(2.0 / fan_in), g)
        nn.init.zeros_(lin.bias)
    else:
        raise ValueError(f"unknown init {how!r}: use 'default', 'normal', 'fanin' or 'kaiming'")


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameter entries (shared parameters counted once).  (spec: CNN-PARAM-COUNT)"""
    return int(sum(p.size for p in model.parameters() if p.requires_grad or not trainable_only))
