"""Learning-rate search by validation loss (spec: TRICK-LR-SEARCH).

From the highest η of a log grid downwards, train a short run from the *same* initial weights and the
same data order, measure the validation loss, and flag runs that diverged (a NaN/inf loss, an
exception such as an overflow, or a final loss above the initial one).  The best η is the one with the
lowest validation loss among the runs that did not diverge.

For gradient descent on a quadratic with Hessian eigenvalues λ ≤ λ_max the iteration
w ← w − η H (w − w*) contracts only when |1 − ηλ| < 1 for every λ, i.e. η < 2/λ_max; larger steps
diverge — which is what the search detects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backend import default_generator
from .callbacks import TerminateOnNaN
from .loop import History, as_loader, evaluate, fit

__all__ = ["lr_search", "LRSearchResult", "DEFAULT_LR_GRID"]

DEFAULT_LR_GRID = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)


@dataclass
class LRSearchResult:
    """``table``: one row per η (``lr``, ``val_loss``, ``train_loss``, ``diverged``, ``reason``), highest η
    first; ``best_lr`` (None if every run diverged); ``initial_val_loss``; ``histories`` by η."""

    table: list[dict[str, Any]]
    best_lr: float | None
    initial_val_loss: float
    histories: dict[float, History] = field(default_factory=dict, repr=False)

    def to_markdown(self) -> str:
        lines = ["| η | validation loss | final training loss | status |", "|---|---|---|---|"]
        for r in self.table:
            status = f"diverged ({r['reason']})" if r["diverged"] else ("**best**" if r["lr"] == self.best_lr else "ok")
            lines.append(f"| {r['lr']:g} | {r['val_loss']:.6g} | {r['train_loss']:.6g} | {status} |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def _default_optimizer(params, lr: float):
    from ..optim import SGD
    return SGD(params, lr=lr)


def lr_search(make_model: Callable[[], Any], loss_fn: Callable, train: Any, val: Any,
              grid: Sequence[float] = DEFAULT_LR_GRID, epochs: int = 1,
              make_optimizer: Callable[[Any, float], Any] | None = None, batch_size: int = 32,
              seed: int = 0, rise_factor: float = 1.0) -> LRSearchResult:
    """Try every learning rate of ``grid`` (highest first) for ``epochs`` epochs; return a table and the best η.

    * ``make_model()`` builds a model; it is called once for the initial weights, which every run copies
      (so all runs start from the same point whatever ``make_model`` does with random numbers);
    * ``make_optimizer(params, lr)`` (default plain ``SGD(params, lr=lr)``);
    * ``train``/``val``: DataLoaders or arrays ``(X, y)`` (arrays are batched by ``batch_size``, shuffled
      with a generator seeded by ``seed``, so every run sees the same order; the global generator is
      reseeded with ``seed`` before each run and restored afterwards);
    * a run is *diverged* if a loss becomes NaN/inf, it raises an arithmetic error, or its final validation
      loss exceeds ``rise_factor`` × the initial validation loss; it is reported, never raised.
    """
    if not grid:
        raise ValueError("lr_search: the grid of learning rates is empty")
    if any(not (lr > 0) for lr in grid):
        raise ValueError(f"lr_search: learning rates must be positive, got {list(grid)}")
    make_optimizer = make_optimizer or _default_optimizer
    model0 = make_model()
    init = {k: v.data.copy() for k, v in model0.state_dict().items()}
    saved_state = default_generator.get_state()
    rows: list[dict[str, Any]] = []
    hists: dict[float, History] = {}
    try:
        with np.errstate(all="ignore"):
            initial = evaluate(model0, as_loader(val, batch_size=1024, shuffle=False), loss_fn, metrics=())["loss"]
            for lr in sorted(grid, reverse=True):
                from ..backend import Generator
                default_generator.manual_seed(seed)
                model = make_model()
                model.load_state_dict(init)
                opt = make_optimizer(model.parameters(), lr)
                train_loader = as_loader(train, batch_size=batch_size, shuffle=True, generator=Generator(seed))
                row = {"lr": float(lr), "val_loss": float("nan"), "train_loss": float("nan"), "diverged": False,
                       "reason": ""}
                try:
                    h = fit(model, loss_fn, opt, train_loader, epochs=epochs, metrics=(), progress=False,
                            callbacks=[TerminateOnNaN()])
                    hists[float(lr)] = h
                    row["train_loss"] = h.batch_loss[-1] if h.batch_loss else float("nan")
                    if h.stopped_early:
                        row.update(diverged=True, reason="non-finite training loss")
                    else:
                        v = evaluate(model, as_loader(val, batch_size=1024, shuffle=False), loss_fn, metrics=())
                        row["val_loss"] = v["loss"]
                        if not math.isfinite(v["loss"]):
                            row.update(diverged=True, reason="non-finite validation loss")
                        elif v["loss"] > rise_factor * initial:
                            row.update(diverged=True, reason=f"validation loss rose {initial:.4g} → {v['loss']:.4g}")
                except (FloatingPointError, OverflowError, ValueError, np.linalg.LinAlgError) as e:
                    row.update(diverged=True, reason=f"{type(e).__name__}: {e}"[:120])
                rows.append(row)
    finally:
        default_generator.set_state(saved_state)
    ok = [r for r in rows if not r["diverged"]]
    best = min(ok, key=lambda r: r["val_loss"])["lr"] if ok else None
    return LRSearchResult(table=rows, best_lr=best, initial_val_loss=float(initial), histories=hists)
