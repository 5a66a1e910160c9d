"""Layer normalization and weight normalization (BatchNorm lives in ``nn.batchnorm``).

Invariances of normalising a dense layer's pre-activations s = Wx (Ba et al. 2016; no bias, ε = 0;
weight transforms act on W for BN/LN and on v for WN)  (spec: NORM-INVARIANCES):

=================  ==========  ============  ==========  ==========  ============  ===============
method             W re-scale  W re-centre   row scale   data scale  data centre   single-case scale
=================  ==========  ============  ==========  ==========  ============  ===============
batch norm         yes         no            yes         yes         yes           no
weight norm        yes         no            yes         no          no            no
layer norm         yes         yes           no          yes         no            yes
=================  ==========  ============  ==========  ==========  ============  ===============

(W re-centre: one vector added to every row; row scale: each row by its own factor > 0; single-case
scale: each sample by its own factor > 0.)  ``tests/nn/test_normalization.py`` checks every cell.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..backend import get_default_dtype
from ..ops._base import _make, as_tensor, is_t
from ..tensor import Tensor
from .module import Module, Parameter


# ------------------------------------------------------------------ layer norm
def _norm_axes(x_ndim: int, normalized_shape: tuple) -> tuple:
    k = len(normalized_shape)
    return tuple(range(x_ndim - k, x_ndim))


def layer_norm(x, normalized_shape: int | Sequence[int], weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims of each sample: μ = mean(s), σ² = mean((s − μ)²)
    (biased), ŝ = (s − μ)/√(σ² + ε), y = γ⊙ŝ + β (γ = ``weight``, β = ``bias``, optional).

    Fused rule (per sample, h = γ⊙∂L/∂y, means over the normalised dims):
        ∂L/∂s = (h − mean(h) − ŝ·mean(h⊙ŝ))/√(σ² + ε);  ∂L/∂γ = Σ ∂L/∂y⊙ŝ;  ∂L/∂β = Σ ∂L/∂y
    (sums over the leading dims).  With ``create_graph=True`` the same formula is evaluated on Tensors
    (ŝ and 1/√(σ² + ε) recomputed from s), so second derivatives are exact.
    ε > 0 avoids the division by zero of the notes' (10.15) for constant s (erratum N18).
    (spec: NORM-LAYERNORM)"""
    x = as_tensor(x)
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(ns):]) != ns or x.ndim < len(ns):
        raise ValueError(f"layer_norm: input shape {x.shape} does not end with normalized_shape {ns}; "
                         "normalized_shape must be the trailing dimensions of the input (e.g. features)")
    axes = _norm_axes(x.ndim, ns)
    lead = tuple(range(x.ndim - len(ns)))
    parents = [x]
    w = b = None
    if weight is not None:
        w = as_tensor(weight, x)
        _check_affine("weight", w, ns, x)
        parents.append(w)
    if bias is not None:
        b = as_tensor(bias, x)
        _check_affine("bias", b, ns, x)
        parents.append(b)
    xd = x.data
    mu = xd.mean(axis=axes, keepdims=True)
    xc = xd - mu
    var = (xc * xc).mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = xc * rstd
    y = xhat
    if w is not None:
        y = y * w.data
    if b is not None:
        y = y + b.data
    n_w = w is not None
    n_b = b is not None

    def vjp(g, out, X, *params):
        W = params[0] if n_w else None
        if is_t(X):  # differentiable form for create_graph: recompute the statistics from X
            m = X.mean(axis=axes, keepdims=True)
            c = X - m
            r = (c * c).mean(axis=axes, keepdims=True) + eps
            r = r ** -0.5
            xh = c * r
        else:
            xh, r = xhat, rstd
        h = g * W if n_w else g
        hm = h.mean(axis=axes, keepdims=True)
        hx = (h * xh).mean(axis=axes, keepdims=True)
        gx = (h - hm - xh * hx) * r
        res = [gx]
        if n_w:
            gw = g * xh
            res.append(gw.sum(axis=lead) if lead else gw)
        if n_b:
            res.append(g.sum(axis=lead) if lead else g)
        return tuple(res)

    return _make(np.asarray(y, dtype=xd.dtype), tuple(parents), vjp)


def _check_affine(name, t, ns, x):
    if tuple(t.shape) != ns:
        raise ValueError(f"layer_norm: {name} must have shape normalized_shape {ns}, got {t.shape}")
    if t.dtype != x.dtype:
        raise TypeError(f"layer_norm: {name} has dtype {t.dtype} but the input has {x.dtype}; cast one of them")


class LayerNorm(Module):
    """``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)``.

    Statistics over the trailing ``normalized_shape`` dims of *each sample* (no batch statistics, so it
    works for batch size 1 and behaves identically in train and eval):
    y = γ⊙(s − μ)/√(σ² + ε) + β with γ initialised to 1 and β to 0, both of shape ``normalized_shape``.
    The activation f is applied afterwards by a separate layer.  (spec: NORM-LAYERNORM)"""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=None):
        super().__init__()
        ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(
            int(n) for n in normalized_shape)
        self.normalized_shape = ns
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(np.ones(ns, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(ns, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


# ------------------------------------------------------------------ weight normalization
def _wn_axes(ndim: int, dim: int | None) -> tuple:
    if dim is None:
        return tuple(range(ndim))
    d = dim % ndim
    return tuple(i for i in range(ndim) if i != d)


def norm_except_dim(v, dim: int | None = 0) -> np.ndarray:
    """‖v‖ over all axes except ``dim`` (keepdims; ``dim=None``: the whole tensor)."""
    vd = v.data if isinstance(v, Tensor) else np.asarray(v)
    return np.sqrt((vd * vd).sum(axis=_wn_axes(vd.ndim, dim), keepdims=True))


def weight_norm_fn(v, g, dim: int | None = 0) -> Tensor:
    """w = g·v/‖v‖ with the norm over all axes but ``dim`` (per output unit for dim = 0; the rows of
    a dense (out, in) weight, all dims but 0 of a conv weight); ``g`` has shape (out, 1, …, 1).

    Fused rule with the *full* projector (spec: NORM-WEIGHTNORM, erratum N19):
        ∇_g L = Σ(∇_w L ⊙ v)/‖v‖,
        ∇_v L = (g/‖v‖)(I − vvᵀ/‖v‖²)∇_w L = (g/‖v‖)∇_w L − (g·∇_g L/‖v‖²)·v,
    so vᵀ∇_v L = 0 (the notes keep only the diagonal (g/‖v‖)(1 − vᵢ²/‖v‖²)∇_{wᵢ}L and miss the
    −(g/‖v‖³)vᵢΣ_{j≠i}vⱼ∇_{wⱼ}L terms)."""
    v = as_tensor(v)
    g = as_tensor(g, v)
    axes = _wn_axes(v.ndim, dim)
    gshape = tuple(1 if i in axes else s for i, s in enumerate(v.shape))
    if g.size != int(np.prod(gshape)):
        raise ValueError(f"weight_norm: g must have shape {gshape} for v of shape {v.shape} and dim={dim}, "
                         f"got {g.shape}")
    g_shape_in = g.shape
    vd = v.data
    nrm = np.sqrt((vd * vd).sum(axis=axes, keepdims=True))
    w = g.data.reshape(gshape) * vd / nrm

    def vjp(gw, out, V, G):
        Gb = G.reshape(gshape)
        if is_t(V):
            n = ((V * V).sum(axis=axes, keepdims=True)) ** 0.5
        else:
            n = nrm
        gg = (gw * V).sum(axis=axes, keepdims=True) / n
        gv = gw * (Gb / n) - V * (Gb * gg / (n * n))
        return gv, gg.reshape(g_shape_in)

    return _make(w, (v, g), vjp)


class WeightNorm:
    """The reparametrisation installed by :func:`weight_norm` (kept in the module's ``_weight_norms``);
    ``compute(module)`` returns w = g·v/‖v‖.  Holds no reference to the module, so deep copies work."""

    def __init__(self, name: str, dim: int | None):
        self.name, self.dim = name, dim

    def compute(self, module: Module) -> Tensor:
        return weight_norm_fn(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"), self.dim)


def _wn_forward(self, *args, **kwargs):
    for fn in self.__dict__["_weight_norms"].values():
        object.__setattr__(self, fn.name, fn.compute(self))
    return self._wn_base_forward(*args, **kwargs)


_WN_CLASSES: dict[type, type] = {}


def _wn_class(cls: type) -> type:
    """A subclass of ``cls`` whose forward first recomputes the weight-normed parameters (same name and
    repr as ``cls``; isinstance checks keep working)."""
    if cls not in _WN_CLASSES:
        def base_forward(self, *args, **kwargs):
            return cls.forward(self, *args, **kwargs)
        _WN_CLASSES[cls] = type(cls.__name__, (cls,), {"forward": _wn_forward, "_wn_base_forward": base_forward,
                                                       "__module__": cls.__module__, "_wn_original_class": cls})
    return _WN_CLASSES[cls]


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrise ``module.<name>`` as w = g·v/‖v‖ (Salimans & Kingma 2016), like
    ``torch.nn.utils.weight_norm``: the parameter ``name`` is replaced by ``<name>_g`` (shape (out, 1, …),
    initialised to ‖w‖ per output unit) and ``<name>_v`` (initialised to w), and w is recomputed from
    them before every forward.  ``dim=None`` normalises the whole tensor (one scalar g).

    Effects (spec: NORM-WEIGHTNORM): the row norms of w equal g; vᵀ∇_vL = 0, so plain gradient descent
    only grows ‖v‖ (‖v − η∇_vL‖² = ‖v‖² + η²‖∇_vL‖²), which lowers the effective rate g/‖v‖ — robust
    to large learning rates; invariant to scaling v, not to re-scaling the data (NORM-INVARIANCES).
    Returns the module (now with ``<name>_g`` and ``<name>_v`` in ``parameters()`` / ``state_dict()``).
    Implementation: the module's class is swapped for a same-named subclass whose forward recomputes w
    first (chainrule modules have no forward pre-hooks); ``remove_weight_norm`` undoes it."""
    params = module._parameters
    norms = module.__dict__.setdefault("_weight_norms", {})
    if name in norms:
        raise RuntimeError(f"weight_norm is already applied to {name!r} of {type(module).__name__}; "
                           "call remove_weight_norm first")
    if name not in params or params[name] is None:
        raise ValueError(f"{type(module).__name__} has no parameter {name!r} to reparametrise "
                         f"(parameters: {[k for k, p in params.items() if p is not None]})")
    w = params[name]
    g0 = norm_except_dim(w, dim)
    if dim is None:
        g0 = g0.reshape(())
    if np.any(g0 == 0):
        raise ValueError(f"weight_norm: {name!r} has an all-zero row (norm 0), so v/‖v‖ is undefined; "
                         "initialise the weight randomly before applying weight_norm")
    del params[name]
    module.register_parameter(name + "_g", Parameter(np.array(g0, dtype=w.dtype)))
    module.register_parameter(name + "_v", Parameter(np.array(w.data, copy=True)))
    fn = WeightNorm(name, dim)
    norms[name] = fn
    if not hasattr(type(module), "_wn_original_class"):
        module.__class__ = _wn_class(type(module))
    object.__setattr__(module, name, fn.compute(module))
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`weight_norm`: ``name`` becomes a plain Parameter again holding g·v/‖v‖."""
    norms = module.__dict__.get("_weight_norms", {})
    fn = norms.get(name)
    if fn is None:
        raise ValueError(f"weight_norm of {name!r} not found in {type(module).__name__}")
    w = fn.compute(module).data.copy()
    del module._parameters[name + "_g"]
    del module._parameters[name + "_v"]
    del norms[name]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(w))
    if not norms:
        del module.__dict__["_weight_norms"]
        module.__class__ = type(module)._wn_original_class
    return module


__all__ = ["LayerNorm", "WeightNorm", "layer_norm", "norm_except_dim", "remove_weight_norm", "weight_norm",
           "weight_norm_fn"]
