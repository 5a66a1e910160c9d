"""Early stopping as a model-selection procedure: train on a training split, watch the validation loss,
keep the weights of the best epoch.  (spec: REG-EARLY-STOP)

:class:`EarlyStoppingRule` is the stopping rule with Keras semantics (the spec's algorithm), free of any
training-loop API; :func:`early_stopping_fit` is a complete protocol (validation split, mini-batch
training, restore the best weights).  The ``EarlyStopping`` *callback* of ``chainrule.train`` implements
the same rule inside ``fit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..backend import Generator, _gen
from ..nn.module import Module
from ..tensor import Tensor, no_grad

__all__ = ["EarlyStoppingRule", "validation_split", "early_stopping_fit"]


class EarlyStoppingRule:
    """Keras ``EarlyStopping`` logic: ``EarlyStoppingRule(mode='min', min_delta=0, patience=0,
    baseline=None, start_from_epoch=0)``; call :meth:`update(epoch, value)` at each epoch end.

    improved ⇔ value < best − min_delta ('min'; value > best + min_delta for 'max'); on improvement
    best := value, best_epoch := epoch and — unless a baseline is set and not yet beaten — wait := 0;
    otherwise wait += 1 and training stops when wait ≥ patience (epoch > 0).  Epochs before
    ``start_from_epoch`` are ignored.  ``update`` returns True when training should stop.
    (spec: REG-EARLY-STOP)
    """

    def __init__(self, mode: str = "min", min_delta: float = 0.0, patience: int = 0,
                 baseline: float | None = None, start_from_epoch: int = 0):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.mode, self.min_delta, self.patience = mode, abs(float(min_delta)), int(patience)
        self.baseline, self.start_from_epoch = baseline, int(start_from_epoch)
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def improves(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def update(self, epoch: int, value: float) -> bool:
        if epoch < self.start_from_epoch:
            return False
        self.wait += 1
        if self.improves(value, self.best):
            self.best, self.best_epoch = float(value), int(epoch)
            if self.baseline is None or self.improves(value, self.baseline):
                self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = int(epoch)
            return True
        return False


def validation_split(X, Y, fraction: float = 0.2, generator: Generator | None = None):
    """Random split into ((X_train, Y_train), (X_val, Y_val)) with ``fraction`` of the rows for validation."""
    X = X.data if isinstance(X, Tensor) else np.asarray(X)
    Y = Y.data if isinstance(Y, Tensor) else np.asarray(Y)
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    n = X.shape[0]
    perm = _gen(generator).permutation(n)
    nv = max(1, int(round(fraction * n)))
    va, tr = perm[:nv], perm[nv:]
    return (X[tr], Y[tr]), (X[va], Y[va])


def _evaluate(model: Module, loss_fn: Callable, X, Y, batch: int = 4096) -> float:
    was = model.training
    model.eval()
    tot = 0.0
    with no_grad():
        for i in range(0, X.shape[0], batch):
            xb, yb = X[i:i + batch], Y[i:i + batch]
            tot += float(loss_fn(model(Tensor._wrap(xb)), Tensor._wrap(yb)).data) * xb.shape[0]
    model.train(was)
    return tot / X.shape[0]


def early_stopping_fit(model: Module, optimizer, loss_fn: Callable, train: tuple, val: tuple | None = None,
                       val_fraction: float = 0.2, epochs: int = 100, batch_size: int = 32, patience: int = 5,
                       min_delta: float = 0.0, restore_best_weights: bool = True,
                       generator: Generator | None = None, step_hook: Callable | None = None,
                       progress: bool = False) -> dict:
    """Train with mini-batch steps and stop on the validation loss.  (spec: REG-EARLY-STOP)

    ``train`` = (X, Y); the validation set is ``val`` or a ``val_fraction`` split of ``train``.  Each epoch:
    shuffle, one optimizer step per batch (``step_hook(model)`` after each step, e.g. a max-norm
    constraint), then the validation loss goes to an :class:`EarlyStoppingRule`.  With
    ``restore_best_weights`` the weights of the best epoch are loaded at the end.  Returns
    ``{'train_loss': [...], 'val_loss': [...], 'best_epoch': e, 'stopped_epoch': e or None}``.
    """
    if val is None:
        train, val = validation_split(*train, fraction=val_fraction, generator=generator)
    X, Y = (a.data if isinstance(a, Tensor) else np.asarray(a) for a in train)
    Xv, Yv = (a.data if isinstance(a, Tensor) else np.asarray(a) for a in val)
    rule = EarlyStoppingRule("min", min_delta, patience)
    best_state = None
    hist: dict = {"train_loss": [], "val_loss": []}
    rng = _gen(generator)
    bar = range(epochs)
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(bar, desc="early stopping")
    for epoch in bar:
        model.train()
        perm = rng.permutation(X.shape[0])
        tot = 0.0
        for i in range(0, X.shape[0], batch_size):
            idx = perm[i:i + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(Tensor._wrap(X[idx])), Tensor._wrap(Y[idx]))
            loss.backward()
            optimizer.step()
            if step_hook is not None:
                step_hook(model)
            tot += float(loss.data) * idx.size
        hist["train_loss"].append(tot / X.shape[0])
        v = _evaluate(model, loss_fn, Xv, Yv)
        hist["val_loss"].append(v)
        before = rule.best_epoch
        stop = rule.update(epoch, v)
        if restore_best_weights and rule.best_epoch != before:
            best_state = model.state_dict()
        if stop:
            break
    if restore_best_weights and best_state is not None:
        model.load_state_dict(best_state)
    hist["best_epoch"] = rule.best_epoch
    hist["stopped_epoch"] = rule.stopped_epoch
    hist["best_val_loss"] = rule.best
    return hist
