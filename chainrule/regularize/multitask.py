"""Multitask learning: a shared trunk w^sh, one head wᵗ per task, a weighted sum of task losses.

R(w^sh, w¹…w^T) = Σₜ αᵗ R_empᵗ(w^sh, wᵗ).  The trunk receives Σₜ αᵗ ∇R_empᵗ: the other tasks act as a
regularizer (an inductive bias) on the shared representation.  Missing labels (NaN, or a boolean mask)
are excluded from their task's mean; a sample may be labelled for some tasks only.
(spec: REG-MULTITASK)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import ops
from ..nn.module import Module, ModuleList
from ..tensor import Tensor

__all__ = ["MultiTaskNet", "MultiTaskLoss"]


class MultiTaskNet(Module):
    """``MultiTaskNet(trunk, heads)``: ``forward(x)`` returns ``[head_t(trunk(x)) for t]``."""

    def __init__(self, trunk: Module, heads: Sequence[Module]):
        super().__init__()
        if not heads:
            raise ValueError("MultiTaskNet needs at least one head")
        self.trunk = trunk
        self.heads = ModuleList(heads)

    def forward(self, x) -> list[Tensor]:
        h = self.trunk(x)
        return [head(h) for head in self.heads]


def _valid_rows(target, mask) -> np.ndarray | None:
    """Boolean (N,) of samples that carry a label for this task, or None when all do."""
    td = target.data if isinstance(target, Tensor) else np.asarray(target)
    if mask is not None:
        m = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
        if m.ndim > 1:
            m = m.reshape(m.shape[0], -1).all(axis=1)
        return None if m.all() else m
    if td.dtype.kind == "f":
        bad = np.isnan(td)
        if bad.ndim > 1:
            bad = bad.reshape(bad.shape[0], -1).any(axis=1)
        return None if not bad.any() else ~bad
    return None


class MultiTaskLoss:
    """``MultiTaskLoss(losses, weights=None)``: Σₜ αᵗ·lossₜ(outputₜ[valid], targetₜ[valid]).

    ``losses``: one callable ``loss(pred, target) -> scalar`` per task (e.g. ``F.cross_entropy``,
    ``F.mse_loss``), applied to the task's labelled rows only, so its mean runs over them.  A row is
    unlabelled when its float target contains NaN, or where ``masks[t]`` is False.  ``weights`` αᵗ (default
    all 1) may be changed between steps (``loss.weights = [...]``, e.g. by a callback).  A task with
    α = 0 or no labelled row contributes nothing (not even NaN).  (spec: REG-MULTITASK)
    """

    def __init__(self, losses: Sequence[Callable], weights: Sequence[float] | None = None):
        self.losses = list(losses)
        if not self.losses:
            raise ValueError("MultiTaskLoss needs at least one task loss")
        self.weights = [1.0] * len(self.losses) if weights is None else [float(w) for w in weights]

    @property
    def weights(self) -> list[float]:
        return self._weights

    @weights.setter
    def weights(self, w: Sequence[float]) -> None:
        w = [float(v) for v in w]
        if len(w) != len(self.losses):
            raise ValueError(f"MultiTaskLoss has {len(self.losses)} tasks but got {len(w)} weights")
        self._weights = w

    def task_losses(self, outputs: Sequence[Tensor], targets: Sequence, masks: Sequence | None = None) -> list:
        """The per-task losses (None for a task without labelled rows)."""
        T = len(self.losses)
        if len(outputs) != T or len(targets) != T:
            raise ValueError(f"MultiTaskLoss has {T} tasks but got {len(outputs)} outputs and {len(targets)} "
                             "targets; pass one output and one target per task, in order")
        out = []
        for t in range(T):
            pred, tgt = outputs[t], targets[t]
            rows = _valid_rows(tgt, None if masks is None else masks[t])
            if rows is not None:
                if not rows.any():
                    out.append(None)
                    continue
                idx = np.nonzero(rows)[0]
                pred = ops.getitem(pred, idx)
                td = tgt.data if isinstance(tgt, Tensor) else np.asarray(tgt)
                tgt = Tensor._wrap(td[idx])
            elif not isinstance(tgt, Tensor):
                tgt = Tensor._wrap(np.asarray(tgt))
            out.append(self.losses[t](pred, tgt))
        return out

    def __call__(self, outputs: Sequence[Tensor], targets: Sequence, masks: Sequence | None = None) -> Tensor:
        total = None
        for a, lt in zip(self.weights, self.task_losses(outputs, targets, masks)):
            if lt is None or a == 0:
                continue
            term = lt * a
            total = term if total is None else total + term
        if total is None:
            raise ValueError("MultiTaskLoss: every task has weight 0 or no labelled sample in this batch")
        return total
