"""Weight sharing: hard (tied parameters) and soft (Nowlan–Hinton Gaussian-mixture prior).

Hard sharing: one Parameter used by several layers.  Reverse mode adds the contributions of every use,
so the shared gradient is the *sum* of the gradients the copies would get (tested).  ``model.parameters()``
lists a tied parameter once, so optimizers update it once.

Soft sharing (spec: REG-SOFT-WEIGHT-SHARING): the weights are pulled toward a few learned centres by the
negative log-likelihood under a mixture prior, p(w) = Σⱼ αⱼ N(w; μⱼ, σⱼ²).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import ops
from ..nn.module import Module, Parameter
from ..tensor import Tensor
from .penalties import select_parameters

__all__ = ["tie_parameters", "TiedLinear", "GaussianMixturePrior"]


def tie_parameters(dst: Module, dst_name: str, src: Module, src_name: str | None = None) -> Parameter:
    """Make ``dst.<dst_name>`` the very same Parameter as ``src.<src_name>`` (shapes must agree).

    Afterwards both modules compute with one tensor; its gradient is the sum of both uses.  Returns the
    shared Parameter.
    """
    src_name = dst_name if src_name is None else src_name
    p = src._parameters.get(src_name)
    if p is None:
        raise KeyError(f"{type(src).__name__} has no parameter {src_name!r} (it has {list(src._parameters)})")
    old = dst._parameters.get(dst_name)
    if dst_name not in dst._parameters:
        raise KeyError(f"{type(dst).__name__} has no parameter {dst_name!r} (it has {list(dst._parameters)})")
    if old is not None and old.shape != p.shape:
        raise ValueError(f"cannot tie {dst_name} of shape {old.shape} to {src_name} of shape {p.shape}; "
                         "for a transposed tie (autoencoder decoder) use TiedLinear(encoder_layer)")
    dst._parameters[dst_name] = p
    return p


class TiedLinear(Module):
    """Decoder layer sharing the *transpose* of an encoder's weight: Y = X W + b, W = ``source.weight``
    of shape (out_src, in_src), so this maps out_src → in_src features (tied autoencoders).  Only the
    bias (in_src,) is its own parameter."""

    def __init__(self, source: Module, bias: bool = True):
        super().__init__()
        w = source._parameters.get("weight")
        if w is None or w.ndim != 2:
            raise ValueError("TiedLinear needs a source layer with a 2-D 'weight' (e.g. nn.Linear)")
        object.__setattr__(self, "_source", source)
        self.bias = Parameter(np.zeros(w.shape[1], dtype=w.dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)

    @property
    def weight(self) -> Tensor:
        return self._source.weight

    def forward(self, x) -> Tensor:
        y = ops.matmul(x, self._source.weight)
        return y + self.bias if self.bias is not None else y


class GaussianMixturePrior(Module):
    """Soft weight sharing (Nowlan & Hinton 1992).  (spec: REG-SOFT-WEIGHT-SHARING)

    ``GaussianMixturePrior(n_components, means=None, stds=None, learn=True)``; trainable centres μⱼ, log σⱼ
    and mixing logits γⱼ (αⱼ = softmax(γ)ⱼ).  Calling it on parameters (a Module → its weights, or a list
    of tensors) returns

        Ω(w) = −Σᵢ log p(wᵢ),   p(w) = Σⱼ αⱼ N(w; μⱼ, σⱼ²)      (computed with logsumexp)

    whose gradients are ∂Ω/∂wᵢ = Σⱼ rⱼ(wᵢ)(wᵢ − μⱼ)/σⱼ², ∂Ω/∂μⱼ = −Σᵢ rⱼ(wᵢ)(wᵢ − μⱼ)/σⱼ²,
    ∂Ω/∂σⱼ = Σᵢ rⱼ(wᵢ)(1/σⱼ − (wᵢ − μⱼ)²/σⱼ³), ∂Ω/∂γⱼ = −Σᵢ(rⱼ(wᵢ) − αⱼ), with the responsibility
    rⱼ(w) = αⱼN(w; μⱼ, σⱼ²)/p(w) = p(j | w) — the *posterior* of component j (erratum N9: the notes call it
    p(w | j)).  Add ``lam * prior(model)`` to the loss and put ``prior.parameters()`` in the optimizer
    (often with a smaller learning rate).  One component reduces to L2 toward μ with strength 1/σ².
    Default init: means spread over [−0.5, 0.5] (one at 0), σ = 0.25, equal mixing.
    """

    def __init__(self, n_components: int = 3, means: Sequence[float] | None = None,
                 stds: Sequence[float] | float | None = None, mixing: Sequence[float] | None = None,
                 learn: bool = True, dtype=np.float64):
        super().__init__()
        J = int(n_components)
        if J < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        mu = np.linspace(-0.5, 0.5, J) if means is None else np.asarray(means, dtype=np.float64)
        if J == 1 and means is None:
            mu = np.zeros(1)
        sd = np.full(J, 0.25) if stds is None else np.broadcast_to(np.asarray(stds, dtype=np.float64), (J,)).copy()
        if np.any(sd <= 0):
            raise ValueError(f"mixture stds must be > 0, got {sd}")
        al = np.full(J, 1.0 / J) if mixing is None else np.asarray(mixing, dtype=np.float64)
        if mu.shape != (J,) or al.shape != (J,) or np.any(al <= 0):
            raise ValueError(f"means and mixing need {J} entries (mixing > 0), got {mu.shape} and {al}")
        vals = {"mu": mu, "log_sigma": np.log(sd), "gamma": np.log(al / al.sum())}
        for k, v in vals.items():
            v = v.astype(dtype)
            if learn:
                setattr(self, k, Parameter(v))
            else:
                self.register_buffer(k, Tensor(v))
        self.n_components = J

    @property
    def sigma(self) -> np.ndarray:
        return np.exp(self.log_sigma.data)

    @property
    def mixing(self) -> np.ndarray:
        g = self.gamma.data
        e = np.exp(g - g.max())
        return e / e.sum()

    def _flat(self, params) -> Tensor:
        ps = select_parameters(params)
        if not ps:
            raise ValueError("GaussianMixturePrior got no parameters to act on")
        for p in ps:
            if p.dtype != self.mu.dtype:
                raise TypeError(f"prior dtype {self.mu.dtype} and weight dtype {p.dtype} differ; build the prior "
                                f"with dtype={p.dtype} (GaussianMixturePrior(..., dtype=np.{p.dtype}))")
        flat = [ops.reshape(p, (-1,)) for p in ps]
        return flat[0] if len(flat) == 1 else ops.concatenate(flat)

    def _log_joint(self, w: Tensor) -> Tensor:
        """log αⱼ + log N(wᵢ; μⱼ, σⱼ²), shape (n, J)."""
        z = (ops.reshape(w, (-1, 1)) - self.mu) * ops.exp(-self.log_sigma)
        log_alpha = ops.log_softmax(self.gamma, -1)
        return log_alpha - z * z * 0.5 - self.log_sigma - 0.5 * math.log(2 * math.pi)

    def forward(self, params) -> Tensor:
        """Ω = −Σᵢ log p(wᵢ) (a scalar Tensor)."""
        lj = self._log_joint(self._flat(params))
        return -ops.logsumexp(lj, -1).sum()

    def responsibilities(self, params) -> np.ndarray:
        """rⱼ(wᵢ) = p(j | wᵢ), shape (n_weights, J)."""
        lj = self._log_joint(self._flat(params)).data
        lj = lj - lj.max(axis=1, keepdims=True)
        e = np.exp(lj)
        return e / e.sum(axis=1, keepdims=True)

    def extra_repr(self) -> str:
        return f"n_components={self.n_components}"
