"""Basic parameter initialisers (in place, under no_grad), with the generator they draw from.

fan_in/fan_out of a weight (out, in, *kernel) are in·k and out·k (k = kernel size).
(spec: TRICK-INIT-FANIN, INIT-KAIMING-NORMAL)
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import Generator, _gen
from ..tensor import Tensor


def _fans(t) -> tuple[int, int]:
    shape = t.shape
    if len(shape) < 2:
        raise ValueError(f"fan in/out need a weight with at least 2 dimensions, got shape {shape}")
    rf = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * rf, shape[0] * rf


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    t.data[...] = values.astype(t.dtype, copy=False)
    t._version += 1
    return t


def constant_(t: Tensor, value: float) -> Tensor:
    return _fill(t, np.full(t.shape, value))


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
    return _fill(t, _gen(generator).rng.uniform(a, b, size=t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    return _fill(t, _gen(generator).rng.standard_normal(t.shape) * std + mean)


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Generator | None = None) -> Tensor:
    """U(±gain·√(3/fan)); PyTorch's default Linear/Conv weight init is a = √5 (→ U(±1/√fan_in))."""
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    gain = math.sqrt(2.0 / (1 + a * a)) if nonlinearity == "leaky_relu" else (
        math.sqrt(2.0) if nonlinearity == "relu" else 1.0)
    bound = gain * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu",
                    generator: Generator | None = None) -> Tensor:
    """N(0, 2/fan_in) for ReLU (He et al.).  (spec: INIT-KAIMING-NORMAL)"""
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    gain = math.sqrt(2.0 / (1 + a * a)) if nonlinearity in ("relu", "leaky_relu") else 1.0
    return normal_(t, 0.0, gain / math.sqrt(fan), generator)


def xavier_uniform_(t: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    fan_in, fan_out = _fans(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


def xavier_normal_(t: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def default_init_(weight: Tensor, bias: Tensor | None, generator: Generator | None = None) -> None:
    """PyTorch's default for Linear/Conv: W, b ~ U(±1/√fan_in)."""
    fan_in, _ = _fans(weight)
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    uniform_(weight, -bound, bound, generator)
    if bias is not None:
        uniform_(bias, -bound, bound, generator)
