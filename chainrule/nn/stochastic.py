"""Binary neurons: deterministic threshold units and stochastic binary units, with gradient estimators.

Neuron types (spec: NEURON-TYPES), with pre-activation z = b + x·w (batch: Z = X Wᵀ + b):

==================  ==========================  =====================================================
unit                output                      derivative used by backprop
==================  ==========================  =====================================================
linear              z                           1                      (``nn.Identity``)
rectified           max(0, z)                   𝟙[z > 0]               (``nn.ReLU``)
binary threshold    𝟙[z ≥ θ]                    0 a.e.; straight-through: 1   (:class:`Threshold`)
sigmoid             σ(z)                        σ(z)(1 − σ(z))         (``nn.Sigmoid``)
stochastic binary   S ~ Bernoulli(σ(z))         none, or an *estimate* (below)  (:class:`StochasticBinary`)
==================  ==========================  =====================================================

The decision boundary of a unit is the hyperplane {x : x·w = −b}.  The library adds its bias
(b_lib = −b in the notes' σ(Σ xᵢwᵢ − b)); a threshold θ is the same as a bias −θ.

Stochastic binary neuron (spec: NEURON-STOCHASTIC-BINARY): P(S = 1 | x) = σ(b + x·w); the library draws
S = 𝟙[U < P], U ~ Uniform[0, 1) from a seeded :class:`chainrule.Generator` (same seed ⇒ same samples).
A sample has no derivative.  Two standard **estimates** of the gradient of an expected loss
E_S[f(S)] are provided — estimates, not the derivative of the sampled network:

* **straight-through** (biased, low variance): the backward pass treats the sample as if it were its
  mean, ∂S/∂z := σ'(z) = σ(z)(1 − σ(z)) (``straight_through=True``);
* **REINFORCE / score function** (unbiased, high variance): ∇_z E[f(S)] = E[f(S) ∇_z log p(S | z)]
  with ∇_z log p(S | z) = S − σ(z); :func:`reinforce_surrogate` builds a scalar whose gradient is
  (f(S) − baseline)·(S − σ(z)) — an unbiased estimate for any baseline that does not depend on S.
"""

from __future__ import annotations

import numpy as np
from scipy import special as _sp

from .. import ops
from ..backend import Generator, _gen
from ..ops._base import _plain, as_tensor, is_t
from ..tensor import Tensor, _make
from .module import Module

__all__ = ["bernoulli", "stochastic_binary", "StochasticBinary", "Threshold", "threshold",
           "bernoulli_log_prob", "reinforce_surrogate"]


def bernoulli(p, generator: Generator | None = None) -> Tensor:
    """Samples S = 𝟙[U < p] ∈ {0, 1} (dtype of p), U ~ Uniform[0, 1); no gradient."""
    pa = np.asarray(_plain(p))
    if pa.dtype.kind != "f":
        pa = pa.astype(np.float64)
    if pa.size and (np.nanmin(pa) < 0 or np.nanmax(pa) > 1 or np.isnan(pa).any()):
        raise ValueError("bernoulli: probabilities must lie in [0, 1]; for logits use stochastic_binary(z) "
                         "(which applies the sigmoid) or pass sigmoid(z)")
    u = _gen(generator).rng.random(pa.shape)
    return Tensor._wrap((u < pa).astype(pa.dtype))


def _no_grad_vjp(*_):
    raise RuntimeError(
        "a stochastic binary sample has no gradient. Use StochasticBinary(straight_through=True) for the "
        "straight-through estimate, reinforce_surrogate(...) for the unbiased score-function (REINFORCE) "
        "estimate, or deterministic=True to propagate through the probabilities σ(z).")


def stochastic_binary(z, straight_through: bool = False, generator: Generator | None = None) -> Tensor:
    """S ~ Bernoulli(σ(z)) elementwise, drawn as S = 𝟙[U < σ(z)].  (spec: NEURON-STOCHASTIC-BINARY)

    ``straight_through=True``: the backward pass uses the surrogate ∂S/∂z := σ'(z) = σ(z)(1 − σ(z)),
    i.e. dL/dz = dL/dS ⊙ σ(z)(1 − σ(z)) — a biased estimate of ∇_z E[L].  Otherwise asking for a
    gradient through S raises (a sample has none).
    """
    z = as_tensor(z)
    if z.dtype.kind != "f":
        raise TypeError(f"stochastic_binary: z must be floating point (pre-activations), got {z.dtype}")
    P = _sp.expit(z.data)
    u = _gen(generator).rng.random(z.shape)
    S = (u < P).astype(z.dtype)
    if not straight_through:
        return _make(S, (z,), _no_grad_vjp)

    def vjp(g, out, x):
        if is_t(x):
            s = ops.sigmoid(x)
            return (g * s * (1 - s),)
        return (g * (P * (1 - P)),)

    return _make(S, (z,), vjp)


class StochasticBinary(Module):
    """Stochastic binary neurons on pre-activations z: S ~ Bernoulli(σ(z)), in training *and* eval.
    (spec: NEURON-STOCHASTIC-BINARY, NEURON-TYPES)

    ``deterministic=True`` returns the probabilities P = σ(z) instead (a sigmoid layer).
    ``straight_through=True``: gradients pass with ∂S/∂z := σ'(z) (an estimate; see the module docs).
    Typical use: ``Sequential(Linear(m, n), StochasticBinary())`` gives P = σ(X Wᵀ + b), S = 𝟙[U < P].
    """

    def __init__(self, deterministic: bool = False, straight_through: bool = False,
                 generator: Generator | None = None):
        super().__init__()
        self.deterministic = bool(deterministic)
        self.straight_through = bool(straight_through)
        self.generator = generator

    def forward(self, z) -> Tensor:
        if self.deterministic:
            return ops.sigmoid(z)
        return stochastic_binary(z, self.straight_through, self.generator)

    def extra_repr(self) -> str:
        return f"deterministic={self.deterministic}, straight_through={self.straight_through}"


def threshold(z, theta: float = 0.0, straight_through: bool = False) -> Tensor:
    """Binary threshold unit 𝟙[z ≥ θ].  Derivative 0 almost everywhere (the backward pass gives zeros);
    ``straight_through=True`` passes the incoming gradient unchanged (∂y/∂z := 1).  (spec: NEURON-TYPES)"""
    z = as_tensor(z)
    out = (z.data >= theta).astype(z.dtype)
    if straight_through:
        return _make(out, (z,), lambda g, o, x: (g,))
    return _make(out, (z,), lambda g, o, x: (g * 0,))


class Threshold(Module):
    """Binary threshold neuron y = 𝟙[z ≥ θ] on pre-activations z (McCulloch–Pitts).  (spec: NEURON-TYPES)

    Equivalent to a bias of −θ with threshold 0.  The gradient is 0 a.e.; ``straight_through=True``
    passes it unchanged.  (Not PyTorch's ``nn.Threshold``, which replaces values below a threshold.)
    """

    def __init__(self, theta: float = 0.0, straight_through: bool = False):
        super().__init__()
        self.theta = float(theta)
        self.straight_through = bool(straight_through)

    def forward(self, z) -> Tensor:
        return threshold(z, self.theta, self.straight_through)

    def extra_repr(self) -> str:
        return f"theta={self.theta}, straight_through={self.straight_through}"


def bernoulli_log_prob(logits, sample) -> Tensor:
    """log p(S = s | z) = s log σ(z) + (1 − s) log(1 − σ(z)) = s·z − softplus(z), elementwise; differentiable
    in z (finite for any z); ∂/∂z = s − σ(z), the score."""
    z = as_tensor(logits)
    s = as_tensor(sample, z)
    if s.shape != z.shape:
        raise ValueError(f"bernoulli_log_prob: sample shape {s.shape} differs from logits shape {z.shape}")
    return Tensor._wrap(s.data) * z - ops.softplus(z)


def reinforce_surrogate(logits, sample, f, baseline=0.0, reduction: str = "mean") -> Tensor:
    """Score-function (REINFORCE) surrogate: a scalar whose gradient w.r.t. the logits (and everything
    upstream of them) is the unbiased estimate (f − baseline)·∇ log p(S | z) of ∇ E_S[f(S)].

    ``logits`` z (N, K…), ``sample`` S drawn from Bernoulli(σ(z)), ``f``: the cost of that sample, per
    example (N,) or per unit (same shape as S); it and ``baseline`` are treated as constants.
    Per example the log-probability is summed over units.  ``reduction='mean'`` averages over examples
    (gradient = estimate of ∇ (1/N) Σ_n E f_n), ``'sum'`` adds.  The *value* is not a loss to report.
    """
    lp = bernoulli_log_prob(logits, sample)
    fa = np.asarray(_plain(f), dtype=lp.dtype) - np.asarray(_plain(baseline), dtype=lp.dtype)
    if fa.ndim < lp.ndim:
        if fa.shape != lp.shape[:fa.ndim]:
            raise ValueError(f"reinforce_surrogate: f has shape {fa.shape}; expected one cost per example "
                             f"{lp.shape[:1]} or per unit {lp.shape}")
        lp = ops.sum(lp, tuple(range(fa.ndim, lp.ndim)))
    elif fa.shape != lp.shape:
        raise ValueError(f"reinforce_surrogate: f has shape {fa.shape}, the sample {lp.shape}")
    term = lp * Tensor._wrap(fa)
    if reduction == "mean":
        n = lp.shape[0] if lp.ndim else 1
        return ops.sum(term) * (1.0 / n)
    if reduction == "sum":
        return ops.sum(term)
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
