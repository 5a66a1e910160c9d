"""Batch normalization: the functional op and the BatchNorm1d / BatchNorm2d layers (PyTorch semantics).

Training forward, per feature j over the N rows of H (N, F) — or per channel over the N·H·W values of a
feature map (N, C, H, W) (spec: BN-BATCHNORM, BN-BATCHNORM2D, NORM-BATCHNORM)::

    μ_j = (1/N) Σᵢ h_ij,   σ²_j = (1/N) Σᵢ (h_ij − μ_j)²   (biased),
    ĥ = (h − μ_j)/√(σ²_j + eps),   out = γ_j ĥ + β_j          (γ ← 1, β ← 0)

(errata F4: the constant goes under the root, σ_j = √((1/m)Σ(a − μ_j)² + eps), and one μ, σ per unit.)
Backward, with σ = √(σ² + eps) and g = ∂L/∂out (spec: BN-BACKWARD)::

    ∂L/∂β = Σᵢ gᵢ,   ∂L/∂γ = Σᵢ gᵢ ĥᵢ,   ∂L/∂hᵢ = (γ/σ)(gᵢ − mean(g) − ĥᵢ·mean(g ⊙ ĥ))

The rule runs on saved arrays in a plain backward and is re-derived from differentiable ops under
``create_graph=True``, so second derivatives through batch norm are exact.

Running statistics (spec: BN-RUNNING-STATS): in training
running_mean ← (1 − m)·running_mean + m·μ_B, running_var ← (1 − m)·running_var + m·σ²_B·n/(n − 1)
(n values per channel, unbiased), m = 0.1; ``momentum=None`` → cumulative average
running += (stat − running)/t over the t batches seen.  Evaluation uses
ĥ = (h − running_mean)/√(running_var + eps), so a prediction no longer depends on its batch.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..ops._base import as_tensor, is_t
from ..tensor import Tensor, _make, no_grad
from .module import Module, Parameter


def _bn_axes(ndim: int) -> tuple:
    return (0,) + tuple(range(2, ndim))


def _cshape(ndim: int, C: int) -> tuple:
    return (1, C) + (1,) * (ndim - 2)


def batch_norm(input, running_mean=None, running_var=None, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization of (N, C) / (N, C, L) / (N, C, H, W) over every axis but C,
    ``torch.nn.functional.batch_norm`` semantics.  In training the batch statistics are used and the
    running buffers (if given) are updated in place with factor ``momentum``; in evaluation the running
    statistics are used.  (spec: BN-BATCHNORM, BN-BACKWARD, BN-RUNNING-STATS, BN-BATCHNORM2D,
    NORM-BATCHNORM)"""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C, ...), got shape {x.shape}")
    C = x.shape[1]
    axes = _bn_axes(x.ndim)
    cs = _cshape(x.ndim, C)
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"batch_norm: {name} must have shape (C,) = ({C},) for input {x.shape}, "
                             f"got {tuple(t.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if isinstance(t, Tensor) and t.dtype != x.dtype and x.dtype.kind == "f":
            raise TypeError(f"batch_norm: input is {x.dtype} but {name} is {t.dtype}; chainrule does not upcast "
                            "silently. Cast the module (bn.double() / bn.float()) or the input to one dtype.")
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation mode needs running_mean and running_var (or pass training=True)")
        rm = np.asarray(running_mean.data if isinstance(running_mean, Tensor) else running_mean, dtype=x.dtype)
        rv = np.asarray(running_var.data if isinstance(running_var, Tensor) else running_var, dtype=x.dtype)
        inv = (1.0 / np.sqrt(rv + eps)).astype(x.dtype)
        scale = Tensor._wrap(inv) if weight is None else as_tensor(weight, x) * Tensor._wrap(inv)
        y = (x - Tensor._wrap(rm.reshape(cs))) * ops.reshape(scale, cs)
        return y if bias is None else y + ops.reshape(as_tensor(bias, x), cs)
    n = x.size // C
    if n <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of shape "
                         f"{x.shape} ({n} value per channel). Use a batch of at least 2 samples, or call "
                         "model.eval() to use the running statistics.")
    xd = x.data
    mu = xd.mean(axis=axes, keepdims=True)
    d = xd - mu
    var = (d * d).mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    xhat = d * inv
    if running_mean is not None or running_var is not None:
        m = float(momentum)
        with no_grad():
            if running_mean is not None:
                rmd = running_mean.data if isinstance(running_mean, Tensor) else running_mean
                rmd *= 1.0 - m
                rmd += (m * mu.reshape(C)).astype(rmd.dtype, copy=False)
                if isinstance(running_mean, Tensor):
                    running_mean._version += 1
            if running_var is not None:
                rvd = running_var.data if isinstance(running_var, Tensor) else running_var
                rvd *= 1.0 - m
                rvd += (m * var.reshape(C) * (n / (n - 1.0))).astype(rvd.dtype, copy=False)
                if isinstance(running_var, Tensor):
                    running_var._version += 1
    parents = [x]
    w = b = None
    if weight is not None:
        w = as_tensor(weight, x)
        parents.append(w)
    if bias is not None:
        b = as_tensor(bias, x)
        parents.append(b)
    out = xhat if w is None else xhat * w.data.reshape(cs)
    if b is not None:
        out = out + b.data.reshape(cs)
    has_w, has_b = w is not None, b is not None
    need_x = x.requires_grad

    def vjp(g, o, X, *params):
        W = params[0] if has_w else None
        if is_t(g):  # differentiable form: recompute the statistics from X
            mu_t = ops.mean(X, axes, keepdims=True)
            d_t = X - mu_t
            inv_t = (ops.mean(d_t * d_t, axes, keepdims=True) + eps) ** -0.5
            xh = d_t * inv_t
            scale = inv_t if W is None else inv_t * ops.reshape(W, cs)
        else:
            xh = xhat
            scale = inv if W is None else inv * W.reshape(cs)
        res = []
        if need_x:
            gm = g.mean(axis=axes, keepdims=True)
            gxh = (g * xh).mean(axis=axes, keepdims=True)
            res.append(scale * (g - gm - xh * gxh))
        else:
            res.append(None)
        if has_w:
            res.append((g * xh).sum(axis=axes))
        if has_b:
            res.append(g.sum(axis=axes))
        return tuple(res)

    return _make(out.astype(x.dtype, copy=False), tuple(parents), vjp)


class _BatchNorm(Module):
    _expected = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=None):
        super().__init__()
        from ..backend import get_default_dtype
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_features = int(num_features)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            self.bias = Parameter(np.zeros(num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data = np.array(0, dtype=np.int64)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def _check_input(self, x) -> None:
        raise NotImplementedError

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        self._check_input(x)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected {self._expected} with "
                             f"C = {self.num_features} channels, got input of shape {x.shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average: running += (stat - running)/t
                factor = 1.0 / float(self.num_batches_tracked.data)
        # batch statistics in training, and always when no running statistics are kept
        use_batch = self.training or not self.track_running_stats
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch, factor,
                          self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """``BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)`` on
    (N, F) or (N, C, L): out = γ (h − μ_B)/√(σ²_B + eps) + β per feature in training, running statistics
    in evaluation.  Buffers running_mean (0), running_var (1), num_batches_tracked (0) are saved in the
    state_dict.  (spec: BN-BATCHNORM, BN-BACKWARD, BN-RUNNING-STATS, NORM-BATCHNORM)"""

    _expected = "input (N, C) or (N, C, L)"

    def _check_input(self, x) -> None:
        if x.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d({self.num_features}): expected input (N, C) or (N, C, L), got {x.shape}")


class BatchNorm2d(_BatchNorm):
    """``BatchNorm2d(num_features, ...)`` on feature maps (N, C, H, W): statistics per channel over the
    N·H·W values (the unbiased running-variance factor uses n = N·H·W).  Equals BatchNorm1d applied to
    the (N·H·W, C) reshape.  (spec: BN-BATCHNORM2D, BN-RUNNING-STATS)"""

    _expected = "input (N, C, H, W)"

    def _check_input(self, x) -> None:
        if x.ndim != 4:
            raise ValueError(f"BatchNorm2d({self.num_features}): expected input (N, C, H, W), got {x.shape}")
