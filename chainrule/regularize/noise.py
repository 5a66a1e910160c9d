"""Noise injection: Gaussian noise on inputs / hidden units, noise on weights, and the Tikhonov link.

(spec: REG-NOISE, AUG-INVARIANCE)

* :class:`GaussianNoise` — a layer adding N(0, σ²) noise in training, identity in eval.  Put it first
  for input noise, between layers for hidden-unit (activation) noise.
* :class:`WeightNoise` — wraps a module; every training forward uses w̃ = w + ε, ε ~ N(0, σ²), drawn
  afresh.  w̃ is a node of the graph (w̃ = w + const), so the gradient is computed *at the perturbed
  weights* and accumulated into the clean parameters, which the optimizer then updates.
* :func:`weight_noise` — the same as a context manager over a whole model (perturb, restore on exit).

Tikhonov link (Bishop 1995).  For small input noise ε ~ N(0, σ²I),

    E_ε[½‖y − g(x + ε)‖²] ≈ ½‖y − g(x)‖² + (σ²/2)·Σ_k‖∇ₓg_k(x)‖²  (+ a term that vanishes at a perfect fit),

exact for a linear model g = wᵀx: ½(y − wᵀx)² + ½σ²‖w‖² (ridge).  :func:`input_gradient_penalty`
computes Σ_k‖∇ₓg_k‖² (averaged over the batch) as a differentiable Tensor, so the deterministic
regularizer can be trained directly.  Weight noise on a linear model adds ½σ²‖x‖² (the optimum is
unchanged).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from ..autodiff import grad as _grad
from ..backend import Generator, _gen
from ..nn.module import Module
from ..ops._base import as_tensor
from ..tensor import Tensor, enable_grad
from .penalties import select_parameters

__all__ = ["GaussianNoise", "gaussian_noise", "WeightNoise", "weight_noise", "input_gradient_penalty",
           "tikhonov_penalty"]


def gaussian_noise(x, std: float, training: bool = True, generator: Generator | None = None) -> Tensor:
    """x + ε, ε ~ N(0, std²) elementwise (training); x unchanged otherwise.  (spec: REG-NOISE)"""
    if std < 0:
        raise ValueError(f"noise std must be >= 0, got {std}")
    x = as_tensor(x)
    if not training or std == 0:
        return x
    if x.dtype.kind != "f":
        raise TypeError(f"gaussian_noise needs a floating input, got dtype {x.dtype}; convert it first")
    eps = _gen(generator).normal(0.0, std, size=x.shape, dtype=x.dtype)
    return x + eps


class GaussianNoise(Module):
    """``GaussianNoise(std)``: adds N(0, std²) noise in training mode, identity in eval.

    First layer → input noise; between layers → activation (hidden-unit) noise.  (spec: REG-NOISE)
    """

    def __init__(self, std: float, generator: Generator | None = None):
        super().__init__()
        if std < 0:
            raise ValueError(f"GaussianNoise std must be >= 0, got {std}")
        self.std = float(std)
        self.generator = generator

    def forward(self, x):
        return gaussian_noise(x, self.std, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"std={self.std}"


def _owners(model: Module, params: list[Tensor]) -> list[tuple[Module, str, Tensor]]:
    ids = {id(p) for p in params}
    out = []
    for m in model.modules():
        for k, p in m._parameters.items():
            if p is not None and id(p) in ids:
                out.append((m, k, p))
    return out


@contextlib.contextmanager
def _swapped(model: Module, params: list[Tensor], std: float, generator: Generator | None) -> Iterator[dict]:
    """Replace each selected parameter by w + ε inside the modules that own it (tied parameters get the
    same ε); restore on exit.  Yields {id(param): noise array}."""
    owners = _owners(model, params)
    g = _gen(generator)
    noise: dict[int, np.ndarray] = {}
    noisy: dict[int, Tensor] = {}
    with enable_grad():
        for _m, _k, p in owners:
            if id(p) not in noisy:
                e = g.normal(0.0, std, size=p.shape, dtype=p.dtype)
                noise[id(p)] = e
                noisy[id(p)] = p + e
    try:
        for m, k, p in owners:
            m._parameters[k] = noisy[id(p)]
        yield noise
    finally:
        for m, k, p in owners:
            m._parameters[k] = p


@contextlib.contextmanager
def weight_noise(model: Module, std: float, params=None, generator: Generator | None = None) -> Iterator[dict]:
    """Context manager: inside, ``model`` computes with w̃ = w + ε (one draw for the whole block), the
    gradient flowing to the clean w; restored on exit.  ``params``: the tensors to perturb (default: the
    weights, biases and normalization parameters excluded).  Yields {id(param): ε}.  (spec: REG-NOISE)

    >>> with weight_noise(model, 0.01):
    ...     loss = loss_fn(model(x), y)
    >>> loss.backward(); opt.step()
    """
    if std < 0:
        raise ValueError(f"weight noise std must be >= 0, got {std}")
    ps = select_parameters(model) if params is None else select_parameters(params)
    with _swapped(model, ps, std, generator) as noise:
        yield noise


class WeightNoise(Module):
    """``WeightNoise(module, std)``: each *training* forward perturbs the wrapped module's weights afresh,
    w̃ = w + ε with ε ~ N(0, std²); eval uses the clean weights.  The gradient is taken at w̃ and applied to
    w.  ``params``: which tensors (default: weights, not biases/normalization).  (spec: REG-NOISE,
    AUG-INVARIANCE)
    """

    def __init__(self, module: Module, std: float = 0.01, params=None, generator: Generator | None = None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"WeightNoise wraps a Module, got {type(module).__name__}; "
                            "use WeightNoise(model, std=0.01)")
        if std < 0:
            raise ValueError(f"WeightNoise std must be >= 0, got {std}")
        self.module = module
        self.std = float(std)
        self._sel = params
        self.generator = generator

    def _params(self) -> list[Tensor]:
        return select_parameters(self.module) if self._sel is None else select_parameters(self._sel)

    def forward(self, *args, **kwargs):
        if not self.training or self.std == 0:
            return self.module(*args, **kwargs)
        with _swapped(self.module, self._params(), self.std, self.generator):
            return self.module(*args, **kwargs)

    def extra_repr(self) -> str:
        return f"std={self.std}"


def input_gradient_penalty(model, x) -> Tensor:
    """Σ_k‖∇ₓg_k(xⁿ)‖² averaged over the batch, as a Tensor differentiable w.r.t. the model's parameters.

    ``model``: any callable x ↦ g(x) with output (N, K) (or (N,)); rows must be independent (no batch
    statistics).  Cost: K backward passes with ``create_graph``.  (σ²/2)·this is the Tikhonov regularizer
    equivalent to small input noise of variance σ² on the loss ½‖y − g(x)‖²: see :func:`tikhonov_penalty`.
    (spec: REG-NOISE)
    """
    xd = x.data if isinstance(x, Tensor) else np.asarray(x)
    if xd.dtype.kind != "f":
        raise TypeError(f"input_gradient_penalty needs floating inputs, got {xd.dtype}")
    xt = Tensor(xd, requires_grad=True)
    with enable_grad():
        y = model(xt)
        n = xd.shape[0]
        y2 = y.reshape((n, -1))
        total = None
        for k in range(y2.shape[1]):
            gk = _grad(y2[:, k].sum(), [xt], create_graph=True, retain_graph=True, materialize=True)[0]
            term = (gk * gk).sum()
            total = term if total is None else total + term
    return total * (1.0 / n)


def tikhonov_penalty(model, x, std: float) -> Tensor:
    """(σ²/2)·Σ_k‖∇ₓg_k‖² (batch mean): the second-order expansion of input noise N(0, σ²) on the loss
    ½‖y − g(x)‖² (summed over outputs, mean over samples).  (spec: REG-NOISE)"""
    return input_gradient_penalty(model, x) * (0.5 * std * std)
