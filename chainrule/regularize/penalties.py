"""Weight penalties Ω(w), parameter selection, weight-decay variants and weight constraints.

The penalized objective is R_reg(w) = R_emp(w) + λ Ω(w)  (spec: REG-PENALTY).  Every penalty here is a
function ``Ω(params) -> scalar Tensor`` built from differentiable ops, so ``(loss + lam * Ω).backward()``
gives its gradient and ``create_graph=True`` its second derivatives.

| function | Ω(w) | ∇Ω | prior | spec |
|---|---|---|---|---|
| :func:`l2_penalty` | ½‖w‖² | w | Gaussian | REG-L2, REG-L2-WEIGHT-DECAY, REG-LP-PENALTY |
| :func:`l1_penalty` | ‖w‖₁ | sign(w) (0 at 0) | Laplace | REG-L1 |
| :func:`lp_penalty` | Σ\\|w\\|ᵖ | p\\|w\\|ᵖ⁻¹ sign(w) (0 at 0) | generalised Gaussian | REG-LP-PENALTY |
| :func:`cauchy_penalty` | log(1 + wᵀw) | 2w/(1 + wᵀw) | Cauchy | REG-CAUCHY |
| :func:`weight_elimination_penalty` | Σ (w²/w₀²)/(1 + w²/w₀²) | (2w/w₀²)/(1 + w²/w₀²)² | — | REG-WEIGHT-ELIM |

**Which parameters are penalized.**  Passed a :class:`~chainrule.nn.Module`, every penalty selects with
:func:`select_parameters`: weights only — biases and the parameters of normalization layers (BatchNorm,
LayerNorm, …) are excluded by default, as the spec asks (REG-L2-WEIGHT-DECAY: "biases and normalization
parameters excluded by default"; REG-LP-PENALTY: "weights only").  Passed ``model.named_parameters()`` the
same filter works on the names.  Passed plain tensors (``model.parameters()``) the caller has chosen:
all of them are penalized.  :func:`param_groups` builds optimizer parameter groups with the same split.

**L2 penalty vs weight decay.**  With the penalty (λ/2)‖w‖² in the loss the gradient becomes g + λw.
*Coupled* weight decay (``SGD(weight_decay=λ)``, ``Adam(weight_decay=λ)``) adds exactly this λw to the
gradient before the optimizer's update, so it *is* the L2 penalty.  *Decoupled* weight decay
(:func:`decoupled_weight_decay_`, AdamW) instead shrinks w ← (1 − ηλ)w outside the optimizer's update:

* plain SGD: w ← w − η(g + λw) = (1 − ηλ)w − ηg — penalty, coupled and decoupled decay coincide;
* Adam: the penalty's λw passes through the adaptive scaling m̂/(√v̂ + ε) (weights with large gradient
  history are decayed *less*), while decoupled decay shrinks every weight by the same factor (1 − ηλ).
  They differ (spec: OPT-ADAMW "Adam(weight_decay=λ) ≠ AdamW(λ)"; tested in tests/regularize).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import ops
from ..autodiff import grad as _grad
from ..ops._base import _make, _plain
from ..tensor import Tensor, no_grad

__all__ = [
    "select_parameters", "param_groups", "l2_penalty", "l1_penalty", "lp_penalty", "cauchy_penalty",
    "weight_elimination_penalty", "Penalty", "penalty_loss", "add_penalty_grads", "decoupled_weight_decay_",
    "l1_proximal_", "max_norm_", "MaxNorm",
]

ParamSource = Any  # Module | Iterable[Tensor] | Iterable[tuple[str, Tensor]]


# ----------------------------------------------------------------------------- selection
def _is_norm_module(m) -> bool:
    name = type(m).__name__
    return "Norm" in name or name.startswith("BN")


def _is_bias_name(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return leaf.startswith("bias")


def select_parameters(source: ParamSource, include_bias: bool = False, include_norm: bool = False,
                      filter: Callable[[str, Tensor], bool] | str | None = None) -> list[Tensor]:
    """The tensors a penalty acts on.

    ``source`` is a Module (filtered: weights of non-normalization layers unless ``include_bias`` /
    ``include_norm``), an iterable of ``(name, tensor)`` pairs (filtered by name: ``*.bias*`` and names
    containing ``norm``/``bn`` dropped), or an iterable of tensors (returned unchanged: the caller chose).
    ``filter``: an extra predicate ``f(name, tensor) -> bool`` or a regular expression matched against
    the dotted name (``re.search``).  Shared (tied) parameters are returned once.
    """
    from ..nn.module import Module

    pred = filter
    if isinstance(filter, str):
        rx = re.compile(filter)
        pred = lambda n, p: rx.search(n) is not None  # noqa: E731
    out: list[Tensor] = []
    seen: set[int] = set()

    def add(name, p, is_norm):
        if p is None or id(p) in seen:
            return
        if not include_bias and _is_bias_name(name):
            return
        if not include_norm and is_norm:
            return
        if pred is not None and not pred(name, p):
            return
        seen.add(id(p))
        out.append(p)

    if isinstance(source, Module):
        for mname, m in source.named_modules():
            norm = _is_norm_module(m)
            for k, p in m._parameters.items():
                add(f"{mname}.{k}" if mname else k, p, norm)
        return out
    if isinstance(source, Tensor):
        return [source]
    items = list(source)
    if items and isinstance(items[0], tuple):
        for name, p in items:
            low = name.lower()
            add(name, p, "norm" in low or re.search(r"(^|\.)bn\d*(\.|$)", low) is not None)
        return out
    for p in items:
        if id(p) not in seen:
            if pred is not None and not pred("", p):
                continue
            seen.add(id(p))
            out.append(p)
    return out


def _params(source: ParamSource) -> list[Tensor]:
    ps = select_parameters(source)
    if not ps:
        raise ValueError(
            "the penalty got no parameters: the source selected nothing (a Module's penalties act on "
            "weights only; pass model.parameters() or include_bias=True to penalize biases too)")
    return ps


def param_groups(model, weight_decay: float, include_bias: bool = False,
                 include_norm: bool = False) -> list[dict]:
    """Optimizer parameter groups ``[{params: weights, weight_decay: λ}, {params: rest, weight_decay: 0}]``.

    ``SGD(param_groups(model, 1e-4), lr=0.1)`` decays only the weights (biases and normalization
    parameters excluded by default; spec: REG-L2-WEIGHT-DECAY).  An empty second group is omitted.
    """
    decay = select_parameters(model, include_bias=include_bias, include_norm=include_norm)
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups = [{"params": decay, "weight_decay": float(weight_decay)}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups


# ----------------------------------------------------------------------------- penalties
def _total(terms: list[Tensor]) -> Tensor:
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def l2_penalty(params: ParamSource) -> Tensor:
    """Ω = ½‖w‖² = ½Σᵢwᵢ², gradient w (Gaussian prior).  (spec: REG-L2, REG-L2-WEIGHT-DECAY, REG-LP-PENALTY)

    ``loss + lam * l2_penalty(model)`` gives the step w ← (1 − ηλ)w − η∇R_emp, exactly what
    ``SGD(weight_decay=lam)`` does.  MAP view (spec: LOSS-MAP-L2): a prior w ~ N(0, σ_p²I) with Gaussian
    noise σ² on m targets gives (1/m)Σ½(y − f)² + (α/2)‖w‖² with α = σ²/(mσ_p²).
    """
    return _total([(p * p).sum() * 0.5 for p in _params(params)])


def l1_penalty(params: ParamSource) -> Tensor:
    """Ω = ‖w‖₁ = Σᵢ|wᵢ|, subgradient sign(w) with 0 at w = 0 (Laplace prior; sparsity).  (spec: REG-L1)

    For exact zeros use the proximal step :func:`l1_proximal_` after the optimizer step instead.
    """
    return _total([ops.abs(p).sum() for p in _params(params)])


def _abs_pow_sum(w: Tensor, p: float) -> Tensor:
    """Σ|w|ᵖ with the rule p|w|ᵖ⁻¹sign(w), and 0 at w = 0 for every p (the subgradient the spec uses for
    p ≤ 1, where the true derivative is unbounded).  Written with array/Tensor-generic operators, so it is
    twice differentiable away from 0."""
    wd = w.data
    out = np.asarray(np.sum(np.abs(wd) ** p), dtype=wd.dtype)

    def vjp(g, o, x):
        xd = _plain(x)
        s = np.sign(xd).astype(xd.dtype)
        nz = (xd != 0).astype(xd.dtype)
        a = x * s + (1 - nz)  # |x| where x ≠ 0, 1 at 0 (keeps a^(p−1) finite; masked out below)
        if p == 2:
            return (g * x * 2.0,)
        return (g * (a ** (p - 1)) * (s * p),)

    return _make(out, (w,), vjp)


def lp_penalty(params: ParamSource, p: float = 2.0) -> Tensor:
    """Ω = Σᵢ|wᵢ|ᵖ, ∂Ω/∂w = p|w|ᵖ⁻¹sgn(w) (0 at w = 0).  (spec: REG-LP-PENALTY)

    p = 2 is 2·:func:`l2_penalty`, p = 1 is :func:`l1_penalty`; Σ|w|ᵖ → #non-zero weights as p → 0, so
    p ≤ 1 favours sparsity — but for p < 1 the penalty is non-convex and its gradient unbounded near 0:
    p ≥ 1 is recommended.
    """
    if p <= 0:
        raise ValueError(f"lp_penalty needs p > 0, got p={p}")
    return _total([_abs_pow_sum(w, float(p)) for w in _params(params)])


def cauchy_penalty(params: ParamSource, per_weight: bool = False) -> Tensor:
    """Ω = log(1 + wᵀw) over the concatenation w of the selected parameters, ∇Ω = 2w/(1 + wᵀw)
    (Williams' Cauchy prior).  ``per_weight=True`` gives Σᵢlog(1 + wᵢ²) instead.  (spec: REG-CAUCHY)"""
    ps = _params(params)
    if per_weight:
        return _total([ops.log1p(w * w).sum() for w in ps])
    return ops.log1p(_total([(w * w).sum() for w in ps]))


def weight_elimination_penalty(params: ParamSource, w0: float = 0.2) -> Tensor:
    """Weigend's weight elimination Ω = Σᵢ(wᵢ²/w₀²)/(1 + wᵢ²/w₀²).  (spec: REG-WEIGHT-ELIM)

    ∂Ω/∂wᵢ = (2wᵢ/w₀²)/(1 + wᵢ²/w₀²)²: weights |w| ≪ w₀ are shrunk like L2 (strength 1/w₀²), weights
    |w| ≫ w₀ cost ≈ 1 each and are hardly shrunk; Ω = ½ per weight at |w| = w₀ and |∂Ω/∂w| peaks at
    |w| = w₀/√3.  Default w₀ = 0.2 (the notes' example).
    """
    if w0 <= 0:
        raise ValueError(f"weight elimination threshold w0 must be > 0, got {w0}")
    inv = 1.0 / (w0 * w0)
    terms = []
    for w in _params(params):
        r = w * w * inv
        terms.append((r / (r + 1.0)).sum())
    return _total(terms)


# ----------------------------------------------------------------------------- penalized objective
class Penalty:
    """One regularizer ``(select, Ω, λ)`` of R_reg = R_emp + Σ λ Ω(selected w).  (spec: REG-PENALTY)

    ``select``: a Module (e.g. one layer, for a per-layer λ — an own λ on the input layer ranks the
    inputs), a list of tensors, a regular expression on parameter names, or None (the model's weights,
    see :func:`select_parameters`).  ``omega``: a penalty function (``l2_penalty``, ``l1_penalty``, …) or a
    name ('l2', 'l1', 'cauchy', 'weight_elimination', 'lp').  Extra keyword arguments go to Ω (e.g.
    ``p=1.5``, ``w0=0.2``).
    """

    _NAMES = {"l2": l2_penalty, "l1": l1_penalty, "lp": lp_penalty, "cauchy": cauchy_penalty,
              "weight_elimination": weight_elimination_penalty}

    def __init__(self, omega: Callable | str, lam: float, select: Any = None, **kwargs: Any):
        if isinstance(omega, str):
            if omega not in self._NAMES:
                raise ValueError(f"unknown penalty {omega!r}; choose one of {sorted(self._NAMES)} or pass a function")
            omega = self._NAMES[omega]
        self.omega, self.lam, self.select, self.kwargs = omega, float(lam), select, kwargs

    def parameters(self, model=None) -> list[Tensor]:
        sel = self.select
        if sel is None:
            if model is None:
                raise ValueError("Penalty without select= needs the model: penalty.parameters(model)")
            return select_parameters(model)
        if isinstance(sel, str):
            if model is None:
                raise ValueError("a name filter needs the model: penalty.parameters(model)")
            return select_parameters(model.named_parameters(), filter=sel, include_bias=True, include_norm=True)
        if isinstance(sel, Tensor):
            return [sel]
        return select_parameters(sel) if hasattr(sel, "named_modules") else list(sel)

    def value(self, model=None) -> Tensor:
        """Ω of the selected parameters (without λ)."""
        return self.omega(self.parameters(model), **self.kwargs)

    def __call__(self, model=None) -> Tensor:
        """λ·Ω (a scalar Tensor to add to the loss)."""
        return self.value(model) * self.lam

    def __repr__(self) -> str:
        return f"Penalty({getattr(self.omega, '__name__', self.omega)}, lam={self.lam})"


def penalty_loss(model, penalties: Sequence[Penalty]) -> Tensor:
    """Σ λ·Ω over the penalties (add it to the empirical loss before backward)."""
    if not penalties:
        raise ValueError("penalty_loss got no penalties")
    return _total([pen(model) for pen in penalties])


def add_penalty_grads(model, penalties: Sequence[Penalty], balance: bool = False) -> list[float]:
    """Add the penalties' gradients to ``p.grad`` *after* ``R_emp.backward()``.  (spec: REG-PENALTY)

    Without ``balance`` this adds λ∇Ω (the result equals the gradient of R_emp + ΣλΩ).  With
    ``balance=True`` each penalty's gradient is rescaled to λ‖∇R_emp‖·∇Ω/‖∇Ω‖, the norms taken over the
    penalty's own parameters, so λ sets the penalty's strength *relative* to the data gradient.  Returns
    the norms of the added gradients.
    """
    norms = []
    for pen in penalties:
        ps = pen.parameters(model)
        with_grad = [p for p in ps if p.requires_grad]
        if not with_grad:
            continue
        val = pen.value(model)
        gs = _grad(val, with_grad, materialize=True)
        gs = [gs] if isinstance(gs, Tensor) else list(gs)
        scale = pen.lam
        if balance:
            g_emp = math.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum())
                                  for p in with_grad if p.grad is not None))
            g_pen = math.sqrt(sum(float((g.data.astype(np.float64) ** 2).sum()) for g in gs))
            scale = pen.lam * g_emp / g_pen if g_pen > 0 else 0.0
        total = 0.0
        for p, g in zip(with_grad, gs):
            add = g.data * p.dtype.type(scale)
            total += float((add.astype(np.float64) ** 2).sum())
            p.grad = Tensor._wrap(add.copy()) if p.grad is None else Tensor._wrap(p.grad.data + add)
        norms.append(math.sqrt(total))
    return norms


# ----------------------------------------------------------------------------- in-place updates
def _as_list(params: ParamSource) -> list[Tensor]:
    return select_parameters(params)


def decoupled_weight_decay_(params: ParamSource, lr: float, weight_decay: float) -> None:
    """Decoupled weight decay w ← (1 − ηλ)w, applied *outside* the optimizer (before ``opt.step()``).

    With SGD this equals the L2 penalty / ``SGD(weight_decay=λ)``; with Adam it is AdamW's decay, which is
    not the same as ``Adam(weight_decay=λ)`` (see the module docstring).  (spec: REG-L2, OPT-ADAMW)
    """
    f = 1.0 - lr * weight_decay
    with no_grad():
        for p in _as_list(params):
            p.data *= p.dtype.type(f)
            p._version += 1


def l1_proximal_(params: ParamSource, threshold: float) -> None:
    """Proximal step of the L1 penalty: w ← sign(w)·max(|w| − ηλ, 0) (``threshold`` = ηλ), after the
    optimizer's step on R_emp; gives exact zeros.  (spec: REG-L1, ``proximal=True``)"""
    if threshold < 0:
        raise ValueError(f"threshold (= lr·λ) must be >= 0, got {threshold}")
    with no_grad():
        for p in _as_list(params):
            d = p.data
            np.copyto(d, np.sign(d) * np.maximum(np.abs(d) - threshold, 0).astype(d.dtype))
            p._version += 1


def max_norm_(params: ParamSource, max_norm: float = 3.0, dim: int = 1, eps: float = 1e-12) -> int:
    """Max-norm constraint: rescale every unit's incoming weight vector to norm ≤ c, in place.

    For W (out, in) the incoming weights of unit i are the row W[i, :] (``dim=1``, the default: the norm
    is over all axes but 0, so a conv weight (C_out, C_in, kH, kW) is constrained per output channel);
    ``dim=0`` constrains the columns (each input's outgoing weights).  Call after each optimizer step
    (Srebro & Shraibman; used with dropout by Srivastava et al., c ≈ 3–4).  1-D tensors are constrained as one vector.
    Returns how many vectors were rescaled.
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    n = 0
    with no_grad():
        for p in _as_list(params):
            d = p.data
            if d.ndim <= 1:
                norm = np.sqrt((d.astype(np.float64) ** 2).sum())
                if norm > max_norm:
                    d *= d.dtype.type(max_norm / (norm + eps))
                    n += 1
            else:
                axes = tuple(range(1, d.ndim)) if dim == 1 else (0,)
                norm = np.sqrt((d.astype(np.float64) ** 2).sum(axis=axes, keepdims=True))
                over = norm > max_norm
                scale = np.where(over, max_norm / (norm + eps), 1.0).astype(d.dtype)
                d *= scale
                n += int(over.sum())
            p._version += 1
    return n


class MaxNorm:
    """Callable constraint ``MaxNorm(model, c)()`` = :func:`max_norm_` on the model's weights."""

    def __init__(self, params: ParamSource, max_norm: float = 3.0, dim: int = 1):
        self.params, self.max_norm, self.dim = params, max_norm, dim

    def __call__(self) -> int:
        return max_norm_(self.params, self.max_norm, self.dim)
