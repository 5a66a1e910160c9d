"""Transfer learning: reuse a trained network's feature extractor with a new head.  (spec: TRANSFER-FINETUNE)

The recipe ([S4]): 1) train or load a source network; 2) copy its parameters up to, not including, the
last dense layer (``load_pretrained(target, source.state_dict(), exclude=[head])``); 3) put a fresh
Linear(in, d_new) in place of the head (``replace_head``); then either
4a) freeze the copied parameters (``freeze``: ``requires_grad = False``; give the optimizer only
    ``trainable_parameters(model)``; frozen parameters get no ``.grad`` and stay bitwise unchanged), or
4b) fine-tune everything, the copied layers at a smaller learning rate (``finetune_param_groups``:
    0.1 × lr by default, the head at lr);
5) train on the target data.

``freeze(model, upto='classifier.fc2')`` freezes every parameter registered before that module (in
``named_parameters()`` order), like Keras' ``layer.trainable = False`` on the layers below.  Note that
freezing does not stop BatchNorm layers from updating their running statistics in training mode; call
``.eval()`` on those modules to keep them fixed as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from . import nn
from .nn.module import Module, Parameter
from .tensor import Tensor

__all__ = ["freeze", "unfreeze", "trainable_parameters", "find_head", "replace_head", "load_pretrained",
           "finetune_param_groups"]


def _prefix_match(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _check_module_name(model: Module, name: str, who: str) -> None:
    names = [n for n, _ in model.named_modules() if n]
    if name not in names:
        raise KeyError(f"{who}: {type(model).__name__} has no submodule {name!r}; available: {names}")


def freeze(model: Module, upto: str | None = None, names: Iterable[str] | None = None) -> list[str]:
    """Set ``requires_grad = False`` on parameters and return their names (spec: TRANSFER-FINETUNE).

    ``upto``: a submodule name (e.g. ``'classifier.fc2'``, the head): freeze every parameter listed before
    that module's first parameter in ``named_parameters()`` order, not including it.  ``names``: freeze
    exactly the parameters under these module/parameter prefixes.  Neither: freeze all parameters.
    Optimizers skip frozen parameters (they get no gradient, as in PyTorch), whether built before or after
    freezing; building them on ``trainable_parameters(model)`` keeps no state for the frozen ones."""
    params = list(model.named_parameters())
    if upto is not None and names is not None:
        raise ValueError("freeze: pass either upto= or names=, not both")
    if upto is not None:
        _check_module_name(model, upto, "freeze")
        stop = next((i for i, (n, _) in enumerate(params) if _prefix_match(n, [upto])), None)
        if stop is None:
            raise ValueError(f"freeze: module {upto!r} has no parameters to stop at; name the first layer to keep "
                             "trainable")
        chosen = params[:stop]
    elif names is not None:
        names = list(names)
        chosen = [(n, p) for n, p in params if _prefix_match(n, names)]
        unknown = [q for q in names if not any(_prefix_match(n, [q]) for n, _ in params)]
        if unknown:
            raise KeyError(f"freeze: no parameters under {unknown}; parameter names: {[n for n, _ in params]}")
    else:
        chosen = params
    for _, p in chosen:
        p.requires_grad_(False)
        p.grad = None
    return [n for n, _ in chosen]


def unfreeze(model: Module, names: Iterable[str] | None = None) -> list[str]:
    """``requires_grad = True`` on all parameters (or those under ``names``); returns their names."""
    chosen = [(n, p) for n, p in model.named_parameters() if names is None or _prefix_match(n, list(names))]
    for _, p in chosen:
        p.requires_grad_(True)
    return [n for n, _ in chosen]


def trainable_parameters(model: Module) -> list[Parameter]:
    """The parameters with ``requires_grad`` (what the optimizer should receive after ``freeze``)."""
    return [p for p in model.parameters() if p.requires_grad]


def find_head(model: Module) -> str:
    """Dotted name of the last Linear layer in registration order (the classifier head)."""
    lin = [n for n, m in model.named_modules() if n and isinstance(m, nn.Linear)]
    if not lin:
        raise ValueError(f"find_head: {type(model).__name__} has no Linear layer; pass the head's name explicitly")
    return lin[-1]


def replace_head(model: Module, new_layer: Module | int, name: str | None = None, generator=None) -> Module:
    """Put ``new_layer`` in place of the head (the module ``name``, default the last Linear) and return
    the old module; the position in its parent is kept, so Sequential order is unchanged.
    ``new_layer`` may be an int d_new: a fresh Linear(in_features, d_new) of the old head's dtype
    (PyTorch initialisation; ``generator`` for reproducibility).  (spec: TRANSFER-FINETUNE)"""
    name = name or find_head(model)
    _check_module_name(model, name, "replace_head")
    parent_name, _, child = name.rpartition(".")
    parent = dict(model.named_modules())[parent_name] if parent_name else model
    old = parent._modules[child]
    if isinstance(new_layer, (int, np.integer)):
        if not isinstance(old, nn.Linear):
            raise TypeError(f"replace_head: {name!r} is a {type(old).__name__}; pass a module instead of a class count")
        new_layer = nn.Linear(old.in_features, int(new_layer), bias=old.bias is not None, dtype=old.weight.dtype,
                              generator=generator)
    if not isinstance(new_layer, Module):
        raise TypeError(f"replace_head: new_layer must be a Module or an int, got {type(new_layer).__name__}")
    new_layer.train(old.training)
    parent._modules[child] = new_layer  # keeps the position (Module.__setattr__ would append it)
    return old


def load_pretrained(target: Module, state_dict: Mapping, exclude: Iterable[str] = ()) -> list[str]:
    """Copy the entries of a source ``state_dict`` into ``target`` for every name present in both with the
    same shape, except names under the ``exclude`` prefixes (e.g. the old head).  Returns the copied names;
    a same-named entry with a different shape raises (it signals a wrong architecture).
    (spec: TRANSFER-FINETUNE step 2)"""
    exclude = list(exclude)
    own = target.state_dict()
    keep = {}
    bad = []
    for k, v in state_dict.items():
        if _prefix_match(k, exclude) or k not in own:
            continue
        arr = v.data if isinstance(v, Tensor) else np.asarray(v)
        if arr.shape != own[k].shape:
            bad.append(f"{k}: source {arr.shape} vs target {own[k].shape}")
        keep[k] = arr
    if bad:
        raise ValueError("load_pretrained: shape mismatches (exclude these layers or fix the architecture): "
                         + "; ".join(bad))
    target.load_state_dict(keep, strict=False)
    return list(keep)


def finetune_param_groups(model: Module, lr: float, head: str | None = None, base_lr_factor: float = 0.1) -> list[dict]:
    """Parameter groups for fine-tuning everything (spec: TRANSFER-FINETUNE step 4b): the head's trainable
    parameters at ``lr``, all other trainable parameters at ``base_lr_factor · lr`` (default 0.1×).
    Pass the result to any optimizer, e.g. ``Adam(finetune_param_groups(model, 1e-3))``."""
    head = head or find_head(model)
    _check_module_name(model, head, "finetune_param_groups")
    body, top = [], []
    for n, p in model.named_parameters():
        if p.requires_grad:
            (top if _prefix_match(n, [head]) else body).append(p)
    groups = []
    if body:
        groups.append({"params": body, "lr": lr * base_lr_factor})
    if top:
        groups.append({"params": top, "lr": lr})
    if not groups:
        raise ValueError("finetune_param_groups: the model has no trainable parameters (all frozen?)")
    return groups
