"""Pruning: masks that persist through training, magnitude pruning, Optimal Brain Damage and Surgeon.

Masks (spec: REG-PRUNE-MASK).  :func:`apply_mask` re-parametrises ``module.<name>`` as PyTorch's
``torch.nn.utils.prune`` does: the trainable tensor becomes ``<name>_orig`` (the *same* Parameter object,
so existing optimizers keep working), the mask is the buffer ``<name>_mask``, and every forward computes
``<name> = <name>_orig ⊙ mask``.  Pruned weights are therefore exactly 0 in every forward and receive a
zero gradient, whatever the optimizer does to ``<name>_orig`` (momentum, Adam moments, decay).
:func:`remove` makes the pruning permanent.  Units are removed by masking a row of W (and its bias)
and the matching column of the next layer; inputs by masking columns (W is (out, in)).

Saliency-based pruning (second order, at a minimum w* of R):  R(w* + δ) − R(w*) ≈ ½δᵀHδ.

* OBD (spec: REG-OBD): H taken diagonal; deleting w_q (δ = −w_q e_q) costs s_q = ½H_qq w_q²
  (erratum N12: the notes drop the ½, which does not change the argmin).  Diagonal exact (one
  Hessian-vector product per weight: small models) or Gauss–Newton (LeCun's O(W) backward recursion).
* OBS (spec: REG-OBS): full H⁻¹; deleting w_q with the best compensating change of all other weights,
  δ = −(w_q/[H⁻¹]_qq)H⁻¹e_q, costs L_q = ½w_q²/[H⁻¹]_qq.  After a deletion
  H⁻¹ ← H⁻¹ − H⁻¹e_qe_qᵀH⁻¹/[H⁻¹]_qq (= the inverse of H without row/column q), so many weights are
  removed one by one from one inverse.  H⁻¹ exact (Cholesky of H + αI), by the Hassibi–Stork outer-product
  recursion (erratum N13: the approximation the notes promise), or — for MLPs too large for a W × W
  matrix — the *block-diagonal Gauss–Newton* approximation ``'block_gauss_newton'`` (one block per unit:
  H_i = Σₙ ∂²E/∂sᵢ² ãⁿãⁿᵀ over the unit's incoming weights, LeCun's ∂²E/∂sᵢ²), which ignores curvature
  between different units and layers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg as sla

from ..autodiff import grad as _grad
from ..nn.module import Module, Parameter
from ..tensor import Tensor, enable_grad, no_grad

__all__ = [
    "apply_mask", "remove", "is_pruned", "get_mask", "prunable", "magnitude", "remove_units", "remove_inputs",
    "sparsity", "hessian_diagonal", "obd_saliencies", "obs_saliencies", "obs_remove", "obd", "obs",
    "PruneResult", "iterative_prune",
]


# ============================================================================ masks
def _recompute(module: Module) -> None:
    for name in module.__dict__["_pruned_names"]:
        orig = module._parameters[name + "_orig"]
        mask = module._buffers[name + "_mask"]
        object.__setattr__(module, name, orig * mask.data)


def _install(module: Module) -> None:
    if "_pruned_names" in module.__dict__:
        return
    object.__setattr__(module, "_pruned_names", [])
    cls_forward = type(module).forward

    def forward(*args, **kwargs):
        _recompute(module)
        return cls_forward(module, *args, **kwargs)

    object.__setattr__(module, "forward", forward)


def is_pruned(module: Module, name: str = "weight") -> bool:
    return name in module.__dict__.get("_pruned_names", ())


def get_mask(module: Module, name: str = "weight") -> np.ndarray:
    """The boolean mask of ``module.<name>`` (all True when unpruned)."""
    if is_pruned(module, name):
        return module._buffers[name + "_mask"].data != 0
    p = module._parameters.get(name)
    if p is None:
        raise KeyError(f"{type(module).__name__} has no parameter {name!r}")
    return np.ones(p.shape, dtype=bool)


def _param(module: Module, name: str) -> Parameter:
    """The trainable tensor behind ``module.<name>`` (``<name>_orig`` when pruned)."""
    if is_pruned(module, name):
        return module._parameters[name + "_orig"]
    p = module._parameters.get(name)
    if p is None:
        raise KeyError(f"{type(module).__name__} has no parameter {name!r} (it has {list(module._parameters)})")
    return p


def apply_mask(module: Module, name: str, mask) -> Module:
    """Prune ``module.<name>`` where ``mask`` is 0/False; combined (AND) with an existing mask.

    The pruned entries are set to 0, stay exactly 0 in every forward and get zero gradient.
    (spec: REG-PRUNE-MASK)
    """
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if is_pruned(module, name):
        orig = module._parameters[name + "_orig"]
        if m.shape != orig.shape:
            raise ValueError(f"mask shape {m.shape} does not match {name} of shape {orig.shape}")
        buf = module._buffers[name + "_mask"]
        buf.data = ((buf.data != 0) & (m != 0)).astype(orig.dtype)
    else:
        p = module._parameters.get(name)
        if p is None:
            raise KeyError(f"{type(module).__name__} has no parameter {name!r} (it has {list(module._parameters)})")
        if m.shape != p.shape:
            raise ValueError(f"mask shape {m.shape} does not match {name} of shape {p.shape}")
        _install(module)
        del module._parameters[name]
        module._parameters[name + "_orig"] = p
        module.register_buffer(name + "_mask", Tensor((m != 0).astype(p.dtype)))
        module.__dict__["_pruned_names"].append(name)
    orig = module._parameters[name + "_orig"]
    with no_grad():
        orig.data *= module._buffers[name + "_mask"].data
        orig._version += 1
    _recompute(module)
    return module


def remove(module: Module, name: str = "weight") -> Module:
    """Make the pruning of ``module.<name>`` permanent: a plain Parameter (the same object as
    ``<name>_orig``) holding orig ⊙ mask; the mask buffer is dropped (the zeros are no longer enforced)."""
    if not is_pruned(module, name):
        raise ValueError(f"{type(module).__name__}.{name} is not pruned")
    p = module._parameters.pop(name + "_orig")
    mask = module._buffers.pop(name + "_mask")
    with no_grad():
        p.data *= mask.data
        p._version += 1
    module.__dict__.pop(name, None)
    module._parameters[name] = p
    module.__dict__["_pruned_names"].remove(name)
    if not module.__dict__["_pruned_names"]:
        del module.__dict__["_pruned_names"]
        del module.__dict__["forward"]
    return module


def prunable(model: Module, name: str = "weight") -> list[tuple[str, Module]]:
    """Modules with a ≥ 2-D parameter ``name`` (Linear, Conv, …; normalization layers' 1-D weights are
    not included), as (qualified name, module)."""
    out = []
    for mname, m in model.named_modules():
        p = m._parameters.get(name + "_orig") if is_pruned(m, name) else m._parameters.get(name)
        if p is not None and p.ndim >= 2:
            out.append((mname, m))
    return out


def sparsity(model: Module, name: str = "weight") -> float:
    """Fraction of exactly-zero entries over the prunable weights."""
    tot = zer = 0
    for _, m in prunable(model, name):
        w = getattr(m, name) if is_pruned(m, name) else m._parameters[name]
        tot += w.size
        zer += int((w.data == 0).sum())
    return zer / tot if tot else 0.0


def magnitude(model: Module, amount: float, scope: str = "global", name: str = "weight",
              modules: Sequence[Module] | None = None) -> dict[str, float]:
    """Magnitude pruning: zero the weights of smallest |w| so that a fraction ``amount`` of the selected
    weights is pruned in total (already-pruned weights count).  ``scope='global'`` ranks all layers
    together, ``'layer'`` prunes each layer to ``amount``.  Returns each layer's resulting sparsity.
    (spec: REG-PRUNE-MASK)
    """
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount is the fraction of weights to prune, in [0, 1]; got {amount}")
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    items = prunable(model, name) if modules is None else [(str(i), m) for i, m in enumerate(modules)]
    if not items:
        raise ValueError(f"no prunable (>= 2-D) parameter {name!r} found in {type(model).__name__}")
    scores = []
    for _, m in items:
        w = _param(m, name).data
        s = np.abs(w).astype(np.float64)
        s[~get_mask(m, name)] = -1.0  # already pruned: ranked first
        scores.append(s)
    if scope == "global":
        flat = np.concatenate([s.ravel() for s in scores])
        k = int(round(amount * flat.size))
        keep = np.ones(flat.size, dtype=bool)
        if k > 0:
            keep[np.argsort(flat, kind="stable")[:k]] = False
        off = 0
        masks = []
        for s in scores:
            masks.append(keep[off:off + s.size].reshape(s.shape))
            off += s.size
    else:
        masks = []
        for s in scores:
            k = int(round(amount * s.size))
            keep = np.ones(s.size, dtype=bool)
            if k > 0:
                keep[np.argsort(s.ravel(), kind="stable")[:k]] = False
            masks.append(keep.reshape(s.shape))
    out = {}
    for (mname, m), mk in zip(items, masks):
        apply_mask(m, name, mk)
        out[mname] = float(1.0 - get_mask(m, name).mean())
    return out


def remove_units(layer: Module, indices, next_layer: Module | None = None) -> None:
    """Remove hidden units ``indices`` of ``layer``: mask their rows of W (out, in) and bias entries, and
    (if given) the matching input columns of ``next_layer`` — a removed unit then has no effect at all
    (even sigmoid's σ(0) = ½ is cut off).  (spec: REG-PRUNE-MASK)"""
    idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
    w = _param(layer, "weight")
    mk = np.ones(w.shape, dtype=bool)
    mk[idx] = False
    apply_mask(layer, "weight", mk)
    b = layer._parameters.get("bias_orig") if is_pruned(layer, "bias") else layer._parameters.get("bias")
    if b is not None:
        mb = np.ones(b.shape, dtype=bool)
        mb[idx] = False
        apply_mask(layer, "bias", mb)
    if next_layer is not None:
        remove_inputs(next_layer, idx)


def remove_inputs(layer: Module, indices) -> None:
    """Remove input features ``indices`` of ``layer``: mask the columns W[:, indices]."""
    idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
    w = _param(layer, "weight")
    mk = np.ones(w.shape, dtype=bool)
    mk[:, idx] = False
    apply_mask(layer, "weight", mk)


# ============================================================================ targets (flat view)
class _Targets:
    """The prunable weights as one flat vector over their unpruned ("active") entries."""

    def __init__(self, model: Module, modules: Sequence[Module] | None = None, name: str = "weight"):
        items = prunable(model, name) if modules is None else [(f"[{i}]", m) for i, m in enumerate(modules)]
        if not items:
            raise ValueError(f"no prunable parameter {name!r} in {type(model).__name__}")
        self.name = name
        self.items = items
        self.params = [_param(m, name) for _, m in items]
        self.masks = [get_mask(m, name).ravel() for _, m in items]
        sizes = [p.size for p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.active = np.nonzero(np.concatenate(self.masks))[0]  # indices into the full flat vector

    @property
    def n_active(self) -> int:
        return int(self.active.size)

    def full_vector(self) -> np.ndarray:
        return np.concatenate([p.data.ravel().astype(np.float64) for p in self.params])

    def vector(self) -> np.ndarray:
        return self.full_vector()[self.active]

    def locate(self, g: int) -> tuple[int, int]:
        """Full-vector index → (item index, flat index inside that parameter)."""
        i = int(np.searchsorted(self.offsets, g, side="right") - 1)
        return i, int(g - self.offsets[i])

    def label(self, g: int) -> tuple[str, tuple]:
        i, j = self.locate(g)
        return self.items[i][0], tuple(int(v) for v in np.unravel_index(j, self.params[i].shape))

    def write(self, values: np.ndarray, removed: Sequence[int]) -> None:
        """Set the active entries to ``values`` and prune the full-vector indices ``removed``."""
        full = self.full_vector()
        full[self.active] = values
        with no_grad():
            for i, p in enumerate(self.params):
                seg = full[self.offsets[i]:self.offsets[i + 1]].reshape(p.shape)
                p.data[...] = seg.astype(p.dtype)
                p._version += 1
        rem = np.asarray(sorted(removed), dtype=np.int64)
        for i, (_, m) in enumerate(self.items):
            sel = rem[(rem >= self.offsets[i]) & (rem < self.offsets[i + 1])] - self.offsets[i]
            mk = get_mask(m, self.name).copy()
            if sel.size:
                mk.ravel()[sel] = False
            apply_mask(m, self.name, mk)


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))


def _closure(model: Module, loss_fn: Callable, data) -> Callable[[], Tensor]:
    if callable(data):
        return data
    X, Y = data
    X, Y = _as_tensor(X), _as_tensor(Y)
    return lambda: loss_fn(model(X), Y)


class _EvalMode:
    def __init__(self, model: Module):
        self.model = model

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()

    def __exit__(self, *exc):
        for m, t in self.modes:
            object.__setattr__(m, "training", t)
        return False


# ============================================================================ Hessians
def _exact_hessian(model, closure, T: _Targets) -> np.ndarray:
    """Exact Hessian over the active entries (double backward, one pass per active entry)."""
    ps = T.params
    with enable_grad():
        loss = closure()
        gs = _grad(loss, ps, create_graph=True, materialize=True)
    gs = [gs] if isinstance(gs, Tensor) else list(gs)
    n = T.n_active
    H = np.zeros((n, n))
    for r, gidx in enumerate(T.active):
        i, j = T.locate(int(gidx))
        gi = gs[i].reshape((-1,))[j]
        if not gi.requires_grad:
            continue
        with enable_grad():
            row = _grad(gi, ps, retain_graph=True, materialize=True, allow_unused=True)
        row = [row] if isinstance(row, Tensor) else row
        H[r] = np.concatenate([x.data.ravel() for x in row]).astype(np.float64)[T.active]
    return 0.5 * (H + H.T)


def _exact_diagonal(model, closure, T: _Targets) -> np.ndarray:
    ps = T.params
    with enable_grad():
        loss = closure()
        gs = _grad(loss, ps, create_graph=True, materialize=True)
    gs = [gs] if isinstance(gs, Tensor) else list(gs)
    d = np.zeros(T.n_active)
    for r, gidx in enumerate(T.active):
        i, j = T.locate(int(gidx))
        gi = gs[i].reshape((-1,))[j]
        if not gi.requires_grad:
            continue
        with enable_grad():
            row = _grad(gi, [ps[i]], retain_graph=True, materialize=True, allow_unused=True)
        row = row[0] if isinstance(row, tuple | list) else row
        d[r] = float(row.data.ravel()[j])
    return d


def _chain(model: Module) -> list[Module]:
    """The model as a flat list of layers (nested Sequential unrolled; a module with a single Sequential
    child, like ``models.MLP``, is entered)."""
    from ..nn.module import Sequential

    def flat(m):
        if isinstance(m, Sequential):
            out = []
            for c in m:
                out.extend(flat(c))
            return out
        kids = list(m.children())
        if len(kids) == 1 and isinstance(kids[0], Sequential) and not m._parameters:
            return flat(kids[0])
        return [m]

    return flat(model)


_PASS = ("Flatten", "Identity", "Unflatten")
_NOT_ELEMENTWISE = ("Softmax", "LogSoftmax")


def _gauss_newton_pass(model: Module, loss_fn: Callable, X, Y):
    """LeCun's diagonal second-derivative backward pass (spec: REG-OBD, Gauss–Newton option).

    Returns a list of (Linear module, input activations a (N, in), d_s (N, out) = ∂²E/∂s² per sample).
    Output: ∂²E/∂ŷ_k² per sample from the loss (K Hessian-vector products on the loss only);
    through an elementwise activation ∂²E/∂s² ≈ f′(s)²∂²E/∂a² (f″ term dropped);
    through a linear map ∂²E/∂a_j² ≈ Σᵢ W_ij² ∂²E/∂s_i²;  then H_(ij) ≈ Σₙ ∂²E/∂s_i² (a_jⁿ)².
    """
    from ..nn.linear import Linear

    layers = _chain(model)
    X = _as_tensor(X)
    Y = _as_tensor(Y)
    acts = []  # (layer, input array)
    with no_grad():
        h = X
        for layer in layers:
            acts.append((layer, h.data))
            h = layer(h)
    out = h.data
    yt = Tensor(out, requires_grad=True)
    with enable_grad():
        loss = loss_fn(yt, Y)
        g = _grad(loss, [yt], create_graph=True)[0]
    out2 = out.reshape(out.shape[0], -1)
    K = out2.shape[1]
    d = np.zeros(out2.shape, dtype=np.float64)
    for k in range(K):
        e = np.zeros(out2.shape, dtype=out.dtype)
        e[:, k] = 1
        with enable_grad():
            if not g.requires_grad:
                break
            hk = _grad((g * Tensor._wrap(e.reshape(out.shape))).sum(), [yt], retain_graph=True, materialize=True)[0]
        d[:, k] = hk.data.reshape(out2.shape)[:, k]
    d = d.reshape(out.shape)
    res = []
    for layer, a in reversed(acts):
        name = type(layer).__name__
        if isinstance(layer, Linear):
            W = layer.weight.data.astype(np.float64)
            a2 = a.reshape(-1, a.shape[-1]).astype(np.float64)
            ds = d.reshape(-1, d.shape[-1])
            res.append((layer, a2, ds))
            d = (ds @ (W * W)).reshape(a.shape)
        elif name in _PASS or name.endswith("Dropout"):
            d = d.reshape(a.shape)
        elif name in _NOT_ELEMENTWISE or any(p is not None for p in layer._parameters.values()):
            raise NotImplementedError(
                f"the Gauss–Newton diagonal handles chains of Linear layers and elementwise activations; "
                f"{name} is not supported. Use hessian='exact' (small models).")
        else:
            s = Tensor(a, requires_grad=True)
            with enable_grad():
                y = layer(s)
                if y.shape != s.shape:
                    raise NotImplementedError(f"{name} changes the shape {s.shape} -> {y.shape}; only "
                                              "elementwise activations are supported by the Gauss–Newton pass")
                fp = _grad(y.sum(), [s], materialize=True)[0].data.astype(np.float64)
            d = d.reshape(a.shape) * fp * fp
    return res[::-1]


def hessian_diagonal(model: Module, loss_fn: Callable, data, method: str = "exact",
                     modules: Sequence[Module] | None = None) -> list[np.ndarray]:
    """diag(H) of the loss w.r.t. the prunable weights, one array per weight (pruned entries 0).

    ``method='exact'``: one double-backward pass per weight (exact; small models).  ``'gauss_newton'``:
    LeCun's O(W) recursion for chains of Linear layers and elementwise activations — exact for a linear
    model with squared loss (Σₙxⱼ²).  ``data`` = (X, Y); the loss is ``loss_fn(model(X), Y)`` with its own
    reduction (mean → H of the mean).  (spec: REG-OBD)
    """
    T = _Targets(model, modules)
    out = [np.zeros(p.shape) for p in T.params]
    with _EvalMode(model):
        if method == "exact":
            dvec = _exact_diagonal(model, _closure(model, loss_fn, data), T)
            full = np.zeros(T.offsets[-1])
            full[T.active] = dvec
            for i, p in enumerate(T.params):
                out[i] = full[T.offsets[i]:T.offsets[i + 1]].reshape(p.shape)
        elif method == "gauss_newton":
            X, Y = data
            info = {id(layer): (a, ds) for layer, a, ds in _gauss_newton_pass(model, loss_fn, X, Y)}
            for i, (_, m) in enumerate(T.items):
                if id(m) not in info:
                    raise NotImplementedError(f"{type(m).__name__} weights are not covered by the Gauss–Newton pass")
                a, ds = info[id(m)]
                out[i] = (ds.T @ (a * a)) * get_mask(m, T.name)
        else:
            raise ValueError(f"method must be 'exact' or 'gauss_newton', got {method!r}")
    return out


# ============================================================================ saliencies
def obd_saliencies(w: np.ndarray, h_diag: np.ndarray) -> np.ndarray:
    """OBD saliency s_q = ½H_qq w_q² (the loss increase of deleting w_q under a diagonal H).
    (spec: REG-OBD, erratum N12)"""
    w = np.asarray(w, dtype=np.float64)
    return 0.5 * np.asarray(h_diag, dtype=np.float64) * w * w


def obs_saliencies(w: np.ndarray, H_inv: np.ndarray) -> np.ndarray:
    """OBS saliency L_q = ½w_q²/[H⁻¹]_qq (the smallest loss increase over all changes δ with w_q + δ_q = 0).
    (spec: REG-OBS)"""
    w = np.asarray(w, dtype=np.float64)
    return 0.5 * w * w / np.diag(H_inv)


def obs_remove(w: np.ndarray, H_inv: np.ndarray, q: int, gamma: float | None = None,
               g: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """One OBS deletion of w_q: returns (new w with w_q = 0 exactly, new H⁻¹, predicted increase).

    δ = −(w_q/[H⁻¹]_qq)H⁻¹e_q; with a gradient g (``use_gradient``): δ = −H⁻¹(g + αe_q),
    α = (w_q − (H⁻¹g)_q)/[H⁻¹]_qq, increase ½α²[H⁻¹]_qq − ½gᵀH⁻¹g.  Safeguard: if max_{i≠q}|δᵢ| > γ those
    components are scaled by γ/max|δᵢ|.  Inverse update H⁻¹ ← H⁻¹ − H⁻¹e_qe_qᵀH⁻¹/[H⁻¹]_qq: row and column
    q become 0 and the rest is the inverse of H without row/column q.  (spec: REG-OBS)
    """
    w = np.asarray(w, dtype=np.float64)
    Hq = H_inv[:, q]
    hqq = H_inv[q, q]
    if g is None:
        delta = -(w[q] / hqq) * Hq
        inc = 0.5 * w[q] ** 2 / hqq
    else:
        u = H_inv @ g
        alpha = (w[q] - u[q]) / hqq
        delta = -(u + alpha * Hq)
        inc = 0.5 * alpha ** 2 * hqq - 0.5 * float(g @ u)
    if gamma is not None:
        others = np.abs(np.delete(delta, q))
        mx = others.max() if others.size else 0.0
        if mx > gamma:
            keep = delta[q]
            delta = delta * (gamma / mx)
            delta[q] = keep
    w_new = w + delta
    w_new[q] = 0.0
    H_new = H_inv - np.outer(Hq, H_inv[q, :]) / hqq
    H_new[q, :] = 0.0
    H_new[:, q] = 0.0
    return w_new, H_new, float(inc)


# ============================================================================ OBD / OBS drivers
@dataclass
class PruneResult:
    """What a pruning call did: the removed weights ``(layer name, index)`` in order, their saliencies
    (the predicted loss increases), and the losses before and after."""

    removed: list = field(default_factory=list)
    saliencies: list = field(default_factory=list)
    loss_before: float = float("nan")
    loss_after: float = float("nan")
    info: dict = field(default_factory=dict)

    @property
    def predicted_increase(self) -> float:
        return float(sum(self.saliencies))


def _loss_value(closure) -> float:
    with no_grad():
        return float(closure().data)


def obd(model: Module, loss_fn: Callable, data, n_remove: int, hessian: str = "exact",
        modules: Sequence[Module] | None = None) -> PruneResult:
    """Optimal Brain Damage: delete the ``n_remove`` unpruned weights of least saliency ½H_qqw_q² (no
    compensation; masks applied).  ``hessian``: 'exact' or 'gauss_newton' (see :func:`hessian_diagonal`).
    Call at a (local) minimum, retrain, repeat.  Blind to redundancy: of two weights 0.5 that one weight
    1.0 could replace, it removes neither first.  (spec: REG-OBD)
    """
    T = _Targets(model, modules)
    closure = _closure(model, loss_fn, data)
    with _EvalMode(model):
        before = _loss_value(closure)
        hd = hessian_diagonal(model, loss_fn, data, hessian, modules)
        hvec = np.concatenate([h.ravel() for h in hd])[T.active]
        w = T.vector()
        s = obd_saliencies(w, hvec)
        n = min(int(n_remove), T.n_active)
        order = np.argsort(s, kind="stable")[:n]
        new = w.copy()
        new[order] = 0.0
        removed = T.active[order]
        T.write(new, removed.tolist())
        after = _loss_value(closure)
    return PruneResult([T.label(int(g)) for g in removed], [float(s[i]) for i in order], before, after,
                       {"all_saliencies": s, "hessian": hessian})


def _inverse(H: np.ndarray, damping: float) -> np.ndarray:
    n = H.shape[0]
    alpha = damping
    for _ in range(12):
        try:
            c = sla.cho_factor(H + alpha * np.eye(n), lower=True)
            return sla.cho_solve(c, np.eye(n))
        except np.linalg.LinAlgError:
            alpha = max(alpha * 10, 1e-12)
    raise np.linalg.LinAlgError("the Hessian is far from positive definite (not at a minimum?); train to a "
                                "minimum first or pass a larger damping")


def _outer_product_inverse(model: Module, T: _Targets, X, damping: float) -> np.ndarray:
    """Hassibi–Stork: H⁻¹_{m+1} = H⁻¹_m − H⁻¹_m x xᵀ H⁻¹_m/(P + xᵀH⁻¹_m x), x = ∂ŷ_k/∂w for each pattern m
    and output k, H₀⁻¹ = α⁻¹I; H ≈ (1/P)Σ x xᵀ, the Hessian of E = (1/2P)Σₙ‖yⁿ − ŷⁿ‖² at a perfect fit."""
    Xd = X.data if isinstance(X, Tensor) else np.asarray(X)
    P = Xd.shape[0]
    n = T.n_active
    Hinv = np.eye(n) / damping
    for m in range(P):
        with enable_grad():
            y = model(Tensor._wrap(Xd[m:m + 1])).reshape((-1,))
            for k in range(y.shape[0]):
                gk = _grad(y[k], T.params, retain_graph=True, materialize=True)
                gk = [gk] if isinstance(gk, Tensor) else gk
                x = np.concatenate([t.data.ravel() for t in gk]).astype(np.float64)[T.active]
                hx = Hinv @ x
                Hinv -= np.outer(hx, hx) / (P + x @ hx)
    return Hinv


def obs(model: Module, loss_fn: Callable, data, n_remove: int | None = None, max_increase: float = math.inf,
        hessian: str = "exact", use_gradient: bool = False, gamma: float | None = 0.5,
        damping: float = 1e-6, beta: float = 1e-3, modules: Sequence[Module] | None = None) -> PruneResult:
    """Optimal Brain Surgeon: repeatedly delete the weight of least L_q = ½w_q²/[H⁻¹]_qq, move the other
    weights by δ = −(w_q/[H⁻¹]_qq)H⁻¹e_q, update H⁻¹ (rank one), until ``n_remove`` weights are gone or the
    next L_q exceeds ``max_increase``.  (spec: REG-OBS)

    ``hessian``: 'exact' (engine Hessian, inverted by Cholesky of H + αI, α = ``damping``; W double-backward
    passes: small models), 'outer_product' (Hassibi–Stork recursion, α = ``damping``), or
    'block_gauss_newton' (one block per unit, for MLPs; see the module docstring).  ``use_gradient``: also
    use g = ∇R (not at an exact minimum) in the first deletion of each block.  ``gamma``: cap on the
    compensating change of the other weights (None: no cap; the notes' γ = 0.5).  Warns when
    ‖I − H⁻¹H‖ > ``beta`` (exact mode).  Retrain and call again for further rounds.
    """
    if hessian not in ("exact", "outer_product", "block_gauss_newton"):
        raise ValueError(f"hessian must be 'exact', 'outer_product' or 'block_gauss_newton', got {hessian!r}")
    T = _Targets(model, modules)
    closure = _closure(model, loss_fn, data)
    limit = T.n_active if n_remove is None else min(int(n_remove), T.n_active)
    with _EvalMode(model):
        before = _loss_value(closure)
        w = T.vector()
        g_full = None
        if use_gradient:
            with enable_grad():
                gs = _grad(closure(), T.params, materialize=True)
            gs = [gs] if isinstance(gs, Tensor) else gs
            g_full = np.concatenate([t.data.ravel() for t in gs]).astype(np.float64)[T.active]
        blocks: list[np.ndarray] = []  # index arrays into the active vector
        invs: list[np.ndarray] = []
        if hessian == "block_gauss_newton":
            X, Y = data
            info = {id(layer): (a, ds) for layer, a, ds in _gauss_newton_pass(model, loss_fn, X, Y)}
            pos = {int(g): r for r, g in enumerate(T.active)}
            for i, (_, m) in enumerate(T.items):
                a, ds = info[id(m)]
                mask = get_mask(m, T.name)
                out_f, in_f = mask.shape
                for u in range(out_f):
                    cols = np.nonzero(mask[u])[0]
                    if cols.size == 0:
                        continue
                    Hu = (a[:, cols] * ds[:, u:u + 1]).T @ a[:, cols]
                    idx = np.array([pos[int(T.offsets[i] + u * in_f + c)] for c in cols], dtype=np.int64)
                    scale = max(float(np.mean(np.diag(Hu))), 1e-12)
                    blocks.append(idx)
                    invs.append(_inverse(Hu, damping * scale))
        else:
            if hessian == "exact":
                H = _exact_hessian(model, closure, T)
                Hinv = _inverse(H, damping)
                err = float(np.abs(np.eye(H.shape[0]) - Hinv @ H).max()) if H.size else 0.0
                if err > beta:
                    warnings.warn(f"OBS: ‖I − H⁻¹H‖_max = {err:.3g} > {beta}: the damped inverse is inaccurate "
                                  "(H singular or indefinite: not at a minimum?)", stacklevel=2)
            else:
                X, _ = data
                Hinv = _outer_product_inverse(model, T, X, damping)
            blocks.append(np.arange(T.n_active))
            invs.append(Hinv)
        # per-block state: local weights, local gradient (or None), alive flags, cached saliency minimum
        wl = [w[b].copy() for b in blocks]
        gl = [None if g_full is None else g_full[b].copy() for b in blocks]
        alive = [np.ones(b.size, dtype=bool) for b in blocks]

        def block_min(k):
            if not alive[k].any():
                return math.inf, -1
            d = np.diag(invs[k])
            if gl[k] is None:
                L = np.where(alive[k], 0.5 * wl[k] ** 2 / np.where(alive[k], d, 1.0), math.inf)
            else:
                u = invs[k] @ gl[k]
                al = (wl[k] - u) / np.where(alive[k], d, 1.0)
                L = np.where(alive[k], 0.5 * al ** 2 * d - 0.5 * float(gl[k] @ u), math.inf)
            q = int(np.argmin(L))
            return float(L[q]), q

        mins = [block_min(k) for k in range(len(blocks))]
        removed, sal = [], []
        while len(removed) < limit:
            k = int(np.argmin([m[0] for m in mins]))
            Lq, q = mins[k]
            if q < 0 or Lq > max_increase:
                break
            wk, Hk, inc = obs_remove(wl[k], invs[k], q, gamma, gl[k])
            wk[~alive[k]] = 0.0
            wl[k], invs[k] = wk, Hk
            alive[k][q] = False
            if gl[k] is not None:
                gl[k] = np.zeros_like(gl[k])  # the quadratic model is now minimal on the rest (g + Hδ = −αe_q)
            removed.append(int(T.active[blocks[k][q]]))
            sal.append(inc)
            mins[k] = block_min(k)
        new = w.copy()
        for b, wk in zip(blocks, wl):
            new[b] = wk
        T.write(new, removed)
        after = _loss_value(closure)
    return PruneResult([T.label(g) for g in removed], sal, before, after,
                       {"hessian": hessian, "n_blocks": len(blocks)})


def iterative_prune(model: Module, prune_step: Callable[[Module], object], retrain: Callable[[Module], object],
                    rounds: int) -> list:
    """Prune → retrain, ``rounds`` times (the OBD/OBS algorithms' outer loop).  Returns each round's
    (prune result, retrain result)."""
    out = []
    for _ in range(int(rounds)):
        r = prune_step(model)
        out.append((r, retrain(model)))
    return out
