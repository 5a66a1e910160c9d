"""Functional forms of layers and losses.

Every loss is the negative log-likelihood of a named distribution (spec: LOSS-MLE-RECIPE):

| loss | distribution of y | link |
|---|---|---|
| ``mse_loss``, ``gaussian_nll_loss`` | Gaussian (fixed / predicted variance) | identity |
| ``binary_cross_entropy(_with_logits)`` | Bernoulli | sigmoid |
| ``cross_entropy``, ``nll_loss`` | categorical | softmax / log-softmax |
| ``poisson_nll_loss`` | Poisson | exp |

Reductions follow PyTorch: ``'mean'`` (default) over all elements, ``'sum'``, ``'none'``.
The fused losses (MSE, BCE with logits, cross-entropy) compute the output delta ``a − y`` directly
(spec: MLP-OUTPUT-DELTA, LOSS-OUTPUT-DELTA).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special as _sp

from .. import ops
from ..backend import _gen
from ..ops._base import _plain, as_tensor, is_t, operands
from ..ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: F401
from ..ops.pool import (  # noqa: F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from ..tensor import Tensor, _make
from .batchnorm import batch_norm  # noqa: F401

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(x: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return ops.mean(x)
    if reduction == "sum":
        return ops.sum(x)
    if reduction == "none":
        return x
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _same_shape(name: str, a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name}: input shape {a.shape} and target shape {b.shape} differ. Broadcasting them "
            "is almost always a bug (e.g. (N, 1) against (N,)); reshape one of them to match.")


# ------------------------------------------------------------------ layers
linear = ops.linear
relu, sigmoid, tanh, softmax, log_softmax = ops.relu, ops.sigmoid, ops.tanh, ops.softmax, ops.log_softmax
leaky_relu, elu, selu, softplus, gelu, silu = ops.leaky_relu, ops.elu, ops.selu, ops.softplus, ops.gelu, ops.silu
celu, prelu, hardtanh, relu6 = ops.celu, ops.prelu, ops.hardtanh, ops.relu6
hardsigmoid, hardswish = ops.hardsigmoid, ops.hardswish
softsign, mish, logsigmoid, swish = ops.softsign, ops.mish, ops.logsigmoid, ops.swish


def dropout(x, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Inverted dropout: keep each unit with probability 1 − p and scale by 1/(1 − p) during training;
    identity in evaluation, so no rescaling is needed at test time.  (spec: REG-DROPOUT)"""
    if not 0.0 <= p < 1.0:
        if p == 1.0:
            return x * 0.0
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    x = as_tensor(x)
    keep = _gen(generator).rng.random(x.shape) >= p
    mask = keep.astype(x.dtype) * (1.0 / (1.0 - p))
    return x * mask


# ------------------------------------------------------------------ regression losses
def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """mean (ŷ − y)² (no ½, as PyTorch).  The notes' S = ½·mse_loss(reduction='sum').  (spec: LOSS-MSE)"""
    input, target = operands(input, target)
    _same_shape("mse_loss", input, target)
    if reduction == "none":
        d = input - target
        return d * d
    d = input.data - target.data
    n = d.size
    val = np.asarray(np.vdot(d.ravel(), d.ravel()), dtype=d.dtype)
    scale = 2.0 / n if reduction == "mean" else 2.0
    if reduction == "mean":
        val = val / n
    elif reduction != "sum":
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")

    def vjp(g, out, x, t):
        gx = (x - t) * (g * scale)
        return gx, -gx

    return _make(np.asarray(val, dtype=d.dtype), (input, target), vjp)


def l1_loss(input, target, reduction: str = "mean") -> Tensor:
    """mean |ŷ − y|; subgradient sign(ŷ − y), 0 at 0.  (spec: LOSS-LP)"""
    input, target = operands(input, target)
    _same_shape("l1_loss", input, target)
    return _reduce(ops.abs(input - target), reduction)


def lp_loss(input, target, p: float = 2.0, reduction: str = "mean") -> Tensor:
    """Per-sample p-norm of the error over the last axis, ‖ŷ_n − y_n‖_p = (Σ_j |ŷ_nj − y_nj|^p)^{1/p},
    reduced over the samples.  (spec: LOSS-LP; erratum F5: the norm sums over components j.)

    Relations: Σ_n ‖·‖₁ = l1_loss(reduction='sum'); Σ_n ‖·‖₂² = mse_loss(reduction='sum'); the
    tutorial's cost J = (1/m)Σ_n ½‖ŷ_n − y_n‖₂² = (K/2)·mse_loss.  Not differentiable where ŷ_n = y_n.
    """
    input, target = operands(input, target)
    _same_shape("lp_loss", input, target)
    if p <= 0:
        raise ValueError(f"lp_loss: p must be > 0, got {p}")
    per = ops.sum(ops.abs(input - target) ** p, -1) ** (1.0 / p)
    return _reduce(per, reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """½d² for |d| < δ, δ(|d| − ½δ) otherwise (d = ŷ − y), as ``torch.nn.functional.huber_loss``."""
    input, target = operands(input, target)
    _same_shape("huber_loss", input, target)
    d = input - target
    a = ops.abs(d)
    small = a.data < delta
    return _reduce(ops.where(small, 0.5 * d * d, delta * (a - 0.5 * delta)), reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """½(log var + (y − μ)²/var) (+ ½ log 2π if ``full``); var clamped ≥ eps without blocking its
    gradient (as PyTorch).  With var ≡ 1 this is ½·MSE + const.  (spec: LOSS-GAUSSIAN-NLL, LOSS-MLE-KL)"""
    input, target = operands(input, target)
    var = as_tensor(var, input)
    if var.shape != input.shape:  # PyTorch's rules: one variance per sample, (N, 1) or (N,)
        if var.shape == input.shape[:-1]:
            var = ops.unsqueeze(var, -1)
        elif not (var.shape[:-1] == input.shape[:-1] and var.shape[-1:] == (1,)):
            raise ValueError(f"gaussian_nll_loss: var has shape {var.shape}; it must have the input's shape "
                             f"{input.shape}, or that shape with the last axis 1 or removed")
    if np.any(var.data < 0):
        raise ValueError("gaussian_nll_loss: var has negative entries; predict it through softplus or exp")
    clamped = np.maximum(var.data, eps)
    v = var + Tensor._wrap((clamped - var.data).astype(var.dtype))
    d = input - target
    loss = 0.5 * (ops.log(v) + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                     reduction: str = "mean") -> Tensor:
    """Poisson NLL −log(λ^y e^{−λ}/y!) = λ − y log λ (+ log y! if ``full``); exp link: λ = e^z for
    ``log_input`` (gradient e^z − y), else λ = input (log(λ + eps)).  (spec: LOSS-POISSON)

    ``full`` adds log y! exactly (lgamma(y + 1)), as the spec asks; PyTorch adds Stirling's
    approximation y log y − y + ½ log(2πy) for y > 1 instead, so only ``full=False`` equals PyTorch.
    """
    input, target = operands(input, target)
    if log_input:
        loss = ops.exp(input) - target * input
    else:
        loss = input - target * ops.log(input + eps)
    if full:
        loss = loss + Tensor._wrap(_sp.gammaln(target.data + 1).astype(input.dtype))
    return _reduce(loss, reduction)


# ------------------------------------------------------------------ classification losses
_BCE_EPS = float(np.float32(1e-12))  # PyTorch's clamp, a C float


def _bce_grad_input(a, y, w):
    """∂/∂a of −[y log a + (1 − y) log(1 − a)] = (a − y)/(a(1 − a)), denominator clamped at 1e-12 (PyTorch)."""
    if is_t(a):
        return (a - y) * w / ops.clip(a * (1.0 - a), _BCE_EPS, None)
    return (a - y) * w / np.maximum(a * (1.0 - a), _BCE_EPS)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean") -> Tensor:
    """−w[y log a + (1 − y) log(1 − a)] on probabilities a ∈ [0, 1] (Bernoulli NLL, sigmoid link).

    Each log is clamped at ≥ −100 (PyTorch), so a = 0 or 1 gives a finite loss; the gradient
    (a − y)/(a(1 − a)) has its denominator clamped at 1e-12.  Prefer ``binary_cross_entropy_with_logits``
    (stable for any logit).  (spec: LOSS-BCE, LOSS-BERNOULLI)
    """
    input, target = operands(input, target)
    _same_shape("binary_cross_entropy", input, target)
    a, y = input.data, target.data
    if np.any((a < 0) | (a > 1)) or np.any(np.isnan(a)):
        raise ValueError("binary_cross_entropy: input must be probabilities in [0, 1] (got values in "
                         f"[{np.nanmin(a):.4g}, {np.nanmax(a):.4g}]); for raw scores use "
                         "binary_cross_entropy_with_logits")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    w = 1.0 if weight is None else np.asarray(_plain(weight), dtype=a.dtype)
    with np.errstate(divide="ignore"):
        la = np.maximum(np.log(a), -100.0)
        l1a = np.maximum(np.log(1.0 - a), -100.0)
    elem = -(y * la + (1.0 - y) * l1a) * w
    scale = 1.0 / elem.size if reduction == "mean" else 1.0
    val = elem if reduction == "none" else np.asarray(elem.sum() * scale, dtype=a.dtype)

    def vjp(g, out, x, t):
        gs = g * scale
        if is_t(x):
            lx = ops.clip(ops.log(x), -100.0, None)
            l1x = ops.clip(ops.log(1.0 - x), -100.0, None)
            return _bce_grad_input(x, t, w) * gs, (l1x - lx) * w * gs
        return _bce_grad_input(x, t, w) * gs, (l1a - la) * w * gs

    return _make(np.asarray(val, dtype=a.dtype), (input, target), vjp)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """max(s, 0) − s·y + log(1 + e^{−|s|}) on logits s: finite for any s; d/ds = σ(s) − y."""
    input, target = operands(input, target)
    _same_shape("binary_cross_entropy_with_logits", input, target)
    if pos_weight is not None:
        pw = as_tensor(pos_weight, input)
        lw = 1.0 + (pw - 1.0) * target
        loss = (1.0 - target) * input + lw * (ops.log1p(ops.exp(-ops.abs(input))) + ops.relu(-input))
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction)
    z, y = input.data, target.data
    elem = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    if weight is not None or reduction == "none":
        s = input
        loss = ops.relu(s) - s * target + ops.log1p(ops.exp(-ops.abs(s)))
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction)
    n = elem.size
    scale = 1.0 / n if reduction == "mean" else 1.0
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    val = np.asarray(elem.sum() * scale, dtype=z.dtype)

    def vjp(g, out, s, t):
        sig = ops.sigmoid(s) if is_t(s) else _sp.expit(s)
        return (sig - t) * (g * scale), -s * (g * scale)

    return _make(val, (input, target), vjp)


def _check_logits_targets(fn: str, input: Tensor, target) -> None:
    if input.ndim not in (1, 2):
        raise ValueError(f"{fn}: expected logits of shape (N, C) or (C,), got {input.shape}. "
                         "For images, move the class axis last and flatten: x.permute(0, 2, 3, 1).reshape(-1, C)")


def cross_entropy(input, target, weight=None, reduction: str = "mean", label_smoothing: float = 0.0,
                  ignore_index: int = -100) -> Tensor:
    """Softmax cross-entropy from logits S (N, C): −Σ_k y_k log softmax(S)_k (categorical NLL).

    ``target``: class indices (N,) (integers) or probabilities (N, C).  d/dS = (softmax(S) − Y)/N.
    As PyTorch: ``weight`` (C,) rescales classes ('mean' then divides by Σ w[target]);
    ``label_smoothing`` ε mixes the target with the uniform distribution, y(1 − ε) + ε/C; rows whose
    class index equals ``ignore_index`` contribute nothing and are not counted by 'mean'.
    (spec: LOSS-CE, LOSS-CATEGORICAL)
    """
    input = as_tensor(input)
    _check_logits_targets("cross_entropy", input, target)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    squeeze = input.ndim == 1
    if squeeze:
        input = ops.reshape(input, (1, -1))
        t = t.reshape(1, -1) if t.dtype.kind == "f" else t.reshape(1)
    N, C = input.shape
    w = None if weight is None else np.asarray(_plain(weight), dtype=input.dtype)
    denom = None  # the divisor of 'mean' when it is not N
    if t.dtype.kind in "iu":
        valid = _check_class_indices("cross_entropy", t, N, C, ignore_index)
        if w is None and label_smoothing == 0.0 and reduction in ("mean", "sum") and valid is None:
            return _ce_index_fused(input, t, reduction)
        tc = t if valid is None else np.where(valid, t, 0)
        probs = np.zeros((N, C), dtype=input.dtype)
        probs[np.arange(N), tc] = 1
        if label_smoothing:
            probs = probs * (1 - label_smoothing) + label_smoothing / C
        row_w = np.ones(N, dtype=input.dtype) if w is None else w[tc]
        if valid is not None:
            probs *= valid[:, None]
            row_w = row_w * valid
        if w is not None or valid is not None:
            denom = float(row_w.sum())
    elif t.dtype.kind == "f":
        if t.shape != (N, C):
            raise ValueError(f"cross_entropy: probability target must have shape ({N}, {C}), got {t.shape}")
        if isinstance(target, Tensor) and target.requires_grad:  # soft targets can be learned too
            probs = ops.reshape(target, (N, C))
        else:
            probs = t.astype(input.dtype, copy=False)
        if label_smoothing:
            probs = probs * (1 - label_smoothing) + label_smoothing / C
    else:
        raise TypeError(f"cross_entropy: target must be integer class indices or float probabilities, got {t.dtype}")
    logp = ops.log_softmax(input, 1)
    per = -(logp * (probs if w is None else probs * w)).sum(axis=1)
    if reduction == "mean" and denom is not None:
        return ops.sum(per) * (1.0 / denom if denom else math.nan)
    if squeeze and reduction == "none":
        per = ops.reshape(per, ())
    return _reduce(per, reduction)


def _check_class_indices(fn: str, t: np.ndarray, N: int, C: int, ignore_index: int) -> np.ndarray | None:
    """Validate class indices; return the mask of rows to use, or None when no row is ignored."""
    if t.dtype.kind not in "iu" or t.shape != (N,):
        raise ValueError(f"{fn}: class-index target must be integers of shape ({N},), got {t.dtype} {t.shape}")
    valid = t != ignore_index
    used = t[valid]
    if used.size and (used.min() < 0 or used.max() >= C):
        raise ValueError(f"{fn}: class indices must be in [0, {C - 1}] (or ignore_index={ignore_index}), "
                         f"got range [{used.min()}, {used.max()}]")
    return None if valid.all() else valid


def _ce_index_fused(input: Tensor, t: np.ndarray, reduction: str) -> Tensor:
    z = input.data
    N = z.shape[0]
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    se = e.sum(axis=1, keepdims=True)
    rows = np.arange(N)
    lse = np.log(se[:, 0]) + m[:, 0]
    total = (lse - z[rows, t]).sum()
    scale = 1.0 / N if reduction == "mean" else 1.0
    p = e / se

    def vjp(g, out, s):
        if is_t(s):
            oh = np.zeros(s.shape, dtype=s.dtype)
            oh[rows, t] = 1
            return ((ops.softmax(s, 1) - oh) * (g * scale),)
        d = p.copy()
        d[rows, t] -= 1
        return (d * (g * scale),)

    return _make(np.asarray(total * scale, dtype=z.dtype), (input,), vjp)


def nll_loss(input, target, weight=None, reduction: str = "mean", ignore_index: int = -100) -> Tensor:
    """−w[c]·log p[c] from log-probabilities (N, C) and class indices c (N,); 'mean' divides by
    Σ w[c] over the rows not equal to ``ignore_index`` (PyTorch).  (spec: LOSS-CE)"""
    input = as_tensor(input)
    _check_logits_targets("nll_loss", input, target)
    t = np.asarray(_plain(target))
    squeeze = input.ndim == 1
    if squeeze:
        input = ops.reshape(input, (1, -1))
        t = t.reshape(1)
    N, C = input.shape
    valid = _check_class_indices("nll_loss", t, N, C, ignore_index)
    tc = t if valid is None else np.where(valid, t, 0)
    picked = -input[np.arange(N), tc]
    if weight is not None or valid is not None:
        row_w = np.ones(N, dtype=input.dtype) if weight is None else np.asarray(_plain(weight), dtype=input.dtype)[tc]
        if valid is not None:
            row_w = row_w * valid
        picked = picked * row_w
        if reduction == "mean":
            denom = float(row_w.sum())
            return ops.sum(picked) * (1.0 / denom if denom else math.nan)
    if squeeze and reduction == "none":
        picked = ops.reshape(picked, ())
    return _reduce(picked, reduction)


def kl_div(input, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise q·(log q − input) with input = log p (PyTorch semantics); 'batchmean' divides by N,
    which is the true KL(q‖p) per sample.  (spec: LOSS-KL-DIVERGENCE)"""
    input, target = operands(input, target)
    if log_target:
        loss = ops.exp(target) * (target - input)
    else:  # q log q with 0 log 0 = 0 (xlogy); its derivative log q + 1 reaches the target
        pos = target.data > 0
        loss = ops.where(pos, target * ops.log(ops.where(pos, target, 1.0)), 0.0) - target * input
    if reduction == "batchmean":
        return ops.sum(loss) * (1.0 / input.shape[0])
    return _reduce(loss, reduction)


def kl_divergence(q, p, eps: float = 0.0) -> float:
    """KL(q‖p) = Σ q log(q/p) in nats for probability vectors (numbers, not a graph)."""
    q = np.asarray(_plain(q), dtype=np.float64)
    p = np.asarray(_plain(p), dtype=np.float64)
    mask = q > 0
    return float(np.sum(q[mask] * (np.log(q[mask]) - np.log(p[mask] + eps))))


def one_hot(y, num_classes: int | None = None, dtype=np.float32):
    """Class indices → one-hot rows along a new last axis; see ``chainrule.data.transforms.one_hot``."""
    from ..data.transforms import one_hot as _one_hot

    return _one_hot(y, num_classes, dtype)


# functional forms of layers defined in their own modules (imported last: they build on this file's helpers)
from .alpha_dropout import alpha_dropout  # noqa: E402,F401
from .normalization import layer_norm  # noqa: E402,F401
