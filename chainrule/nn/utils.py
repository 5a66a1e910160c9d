"""Gradient utilities: clipping by global norm and by value (PyTorch's ``torch.nn.utils``).

Both act on ``p.grad`` after ``backward()`` and before ``optimizer.step()``; they are the standard cure
for exploding gradients in recurrent nets trained by BPTT (spec: RNN-BPTT).  Gradients are replaced out of
place (the engine may share gradient arrays between tensors).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm"]


def _grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    ps = list(parameters)
    for p in ps:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected tensors (e.g. model.parameters()), got {type(p).__name__}")
    return [p for p in ps if p.grad is not None]


def get_total_norm(tensors: Iterable, norm_type: float = 2.0) -> float:
    """‖(t₁, t₂, …)‖_q of all entries of the tensors taken as one vector (q = ∞: max |entry|)."""
    arrs = [np.asarray(t.data if isinstance(t, Tensor) else t, dtype=np.float64) for t in tensors]
    if not arrs:
        return 0.0
    q = float(norm_type)
    if q == np.inf:
        return float(max(np.max(np.abs(a)) if a.size else 0.0 for a in arrs))
    if q <= 0:
        raise ValueError(f"norm_type must be positive or inf, got {norm_type}")
    if q == 2.0:
        return float(np.sqrt(sum(float(np.vdot(a.ravel(), a.ravel())) for a in arrs)))
    return float(sum(float(np.sum(np.abs(a) ** q)) for a in arrs) ** (1.0 / q))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Rescale all gradients together so that their global norm is at most ``max_norm``.

    g_total = ‖(g₁, …, g_P)‖_q over every gradient entry; if g_total > max_norm every gradient is
    multiplied by max_norm / (g_total + 1e-6) (PyTorch's formula, so the clipped norm is just below
    max_norm); otherwise they are unchanged.  The direction of the update is preserved.
    Returns g_total (before clipping) as a 0-d float64 tensor.
    """
    if max_norm < 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    ps = _grads(parameters)
    total = get_total_norm([p.grad for p in ps], norm_type)
    if not np.isfinite(total):
        if error_if_nonfinite:
            raise RuntimeError(f"the total norm of order {norm_type} of the gradients is {total}; the gradients "
                               "cannot be clipped. Lower the learning rate, or pass error_if_nonfinite=False.")
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0:
        for p in ps:
            g = p.grad.data
            p.grad = Tensor._wrap((g * np.asarray(coef, dtype=g.dtype)).astype(g.dtype, copy=False))
    return Tensor._wrap(np.asarray(total, dtype=np.float64))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient entry to [−clip_value, clip_value] (changes the update direction)."""
    if clip_value < 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    for p in _grads(parameters):
        g = p.grad.data
        p.grad = Tensor._wrap(np.clip(g, -clip_value, clip_value).astype(g.dtype, copy=False))
