"""Flat Minimum Search (Hochreiter & Schmidhuber 1997).  (spec: REG-FMS)

FMS prefers weights that can be perturbed a lot without changing the outputs by more than ε: a "flat"
minimum needs few bits of precision per weight.  Per example, with the output Jacobian J_kᵢ = ∂ŷ_k/∂wᵢ
(K × W),

    Sᵢ = Σ_k J_kᵢ²,   T_k = Σᵢ |J_kᵢ|/√Sᵢ,
    Ω = ½(−W log ε + Σᵢ log Sᵢ + W log Σ_k T_k²),

    ∂Ω/∂J_kᵢ = J_kᵢ/Sᵢ + (W/Σ_m T_m²)(T_k sign(J_kᵢ)/√Sᵢ − (J_kᵢ/Sᵢ^{3/2}) Σ_m T_m|J_mᵢ|),

    ∇_wΩ = Σ_k H⁽ᵏ⁾ v_k,   v_k = ∂Ω/∂J_{k,:},  H⁽ᵏ⁾ = Hessian of ŷ_k,

the last by double backward: ∇_w Σ_k ⟨∇_wŷ_k, v_k⟩ with v_k held constant — O(KW) per example (erratum
N14: not K·KW).  Sᵢ is floored at 1e-12.  Ω is computed per example and averaged over the batch (N14:
the notes show one example).  Ω(cJ) = Ω(J) + W log c, so it penalises large output sensitivities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..autodiff import grad as _grad
from ..backend import Generator, _gen
from ..nn.module import Module
from ..ops._base import _make
from ..tensor import Tensor, enable_grad

__all__ = ["FlatMinimumSearch", "fms_omega", "fms_grad_J"]

_S_FLOOR = 1e-12


def fms_omega(J: np.ndarray, eps: float) -> float:
    """Ω for one example's output Jacobian J (K × W).  (spec: REG-FMS)"""
    J = np.asarray(J, dtype=np.float64)
    W = J.shape[1]
    S = np.maximum((J * J).sum(axis=0), _S_FLOOR)
    T = (np.abs(J) / np.sqrt(S)).sum(axis=1)
    return 0.5 * (-W * math.log(eps) + float(np.log(S).sum()) + W * math.log(float((T * T).sum())))


def fms_grad_J(J: np.ndarray, eps: float | None = None) -> np.ndarray:
    """∂Ω/∂J (K × W) for one example (independent of ε).  (spec: REG-FMS)"""
    J = np.asarray(J, dtype=np.float64)
    W = J.shape[1]
    S = np.maximum((J * J).sum(axis=0), _S_FLOOR)
    rS = np.sqrt(S)
    A = np.abs(J)
    T = (A / rS).sum(axis=1)
    T2 = float((T * T).sum())
    cross = (T[:, None] * A).sum(axis=0)  # Σ_m T_m |J_mi|
    return J / S + (W / T2) * (T[:, None] * np.sign(J) / rS - J / (S * rS) * cross)


class FlatMinimumSearch:
    """``FlatMinimumSearch(model, eps=0.01, lam=1e-3)``: the FMS regularizer Ω and its gradient.

    ``fms(x)`` returns Ω averaged over the examples of ``x`` as a scalar Tensor whose backward adds ∇_wΩ
    (computed with the forward, by double backward) to the parameters' gradients; use
    ``loss = data_loss + fms.lam * fms(x)``.  It is first-order only (its gradient is not differentiable
    again).  ``params``: the weights W counts (default: all parameters).  ``max_examples``: evaluate Ω on a
    random subset of the batch (an unbiased estimate; cost is K + 1 backward passes per example).
    :meth:`adapt` implements the λ schedule (raise λ while the training error is below the tolerance,
    lower it otherwise).  (spec: REG-FMS)
    """

    def __init__(self, model: Module, eps: float = 0.01, lam: float = 1e-3, params: Sequence[Tensor] | None = None,
                 max_examples: int | None = None, generator: Generator | None = None):
        if eps <= 0:
            raise ValueError(f"eps (tolerable output change) must be > 0, got {eps}")
        self.model = model
        self.eps = float(eps)
        self.lam = float(lam)
        self.params = list(model.parameters()) if params is None else list(params)
        self.max_examples = max_examples
        self.generator = generator

    @property
    def n_weights(self) -> int:
        return int(sum(p.size for p in self.params))

    def _example(self, x1: Tensor) -> tuple[float, list[np.ndarray]]:
        ps = self.params
        with enable_grad():
            y = self.model(x1).reshape((-1,))
            Js = []
            for k in range(y.shape[0]):
                gk = _grad(y[k], ps, create_graph=True, retain_graph=True, materialize=True)
                Js.append([gk] if isinstance(gk, Tensor) else list(gk))
            J = np.stack([np.concatenate([t.data.ravel() for t in row]).astype(np.float64) for row in Js])
            omega = fms_omega(J, self.eps)
            V = fms_grad_J(J)
            total = None
            for k, row in enumerate(Js):
                off = 0
                for t, p in zip(row, ps):
                    if t.requires_grad:
                        v = V[k, off:off + p.size].reshape(p.shape).astype(p.dtype)
                        term = (t * v).sum()
                        total = term if total is None else total + term
                    off += p.size
            if total is None:  # Jacobian independent of w (a linear model): ∇Ω = 0
                return omega, [np.zeros(p.shape, dtype=np.float64) for p in ps]
            gw = _grad(total, ps, materialize=True, allow_unused=True)
        gw = [gw] if isinstance(gw, Tensor) else gw
        return omega, [g.data.astype(np.float64) for g in gw]

    def value_and_grad(self, x) -> tuple[float, list[np.ndarray]]:
        """(Ω, ∇_wΩ) averaged over the examples of x (first axis)."""
        xd = x.data if isinstance(x, Tensor) else np.asarray(x)
        n = xd.shape[0]
        idx = np.arange(n)
        if self.max_examples is not None and self.max_examples < n:
            idx = _gen(self.generator).rng.choice(n, size=self.max_examples, replace=False)
        total = 0.0
        grads = [np.zeros(p.shape) for p in self.params]
        for i in idx:
            om, gs = self._example(Tensor._wrap(xd[i:i + 1]))
            total += om
            for acc, g in zip(grads, gs):
                acc += g
        m = len(idx)
        return total / m, [g / m for g in grads]

    def __call__(self, x) -> Tensor:
        om, gs = self.value_and_grad(x)
        ps = self.params
        dt = ps[0].dtype
        gs = [g.astype(p.dtype) for g, p in zip(gs, ps)]

        def vjp(g, out, *_):
            return tuple(g * gi for gi in gs)

        return _make(np.asarray(om, dtype=dt), tuple(ps), vjp)

    def adapt(self, train_error: float, tolerance: float, delta: float = 0.01) -> float:
        """λ ← λ(1 + δ) if the training error is below ``tolerance`` (room to flatten), else λ(1 − δ)."""
        self.lam *= (1 + delta) if train_error < tolerance else (1 - delta)
        return self.lam
