"""The training loop: ``fit``, ``evaluate``, ``predict`` and the ``History`` they record.

One update (spec: TRAIN-SGD-MODES, SGD-MINIBATCH, TRAIN-LOOP-000) is

    forward  S = model(X_B);  R_B = loss_fn(S, Y_B)       (mean over the batch: ĝ = (1/B)Σ_b ∇L_b)
    backward ∇R_B by reverse mode;  optimizer.step()    (w ← w − η ĝ for plain SGD)

B = N (full batch, no shuffle) is gradient descent, one update per epoch; 1 < B < N is mini-batch SGD;
B = 1 is online learning.  The batches and their order come from the loader (an epoch is one pass, a
fresh permutation cut into ⌈N/B⌉ disjoint batches when shuffling; see ``chainrule.data.DataLoader``).

The per-update work is exactly forward, backward, (optional clipping), step and appending the loss's
0-d array to a list; losses become Python floats only when an epoch is logged.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import Generator
from ..tensor import Tensor, no_grad
from . import metrics as _metrics

__all__ = ["fit", "evaluate", "predict", "History", "TrainState", "as_loader", "clip_grad_norm_",
           "per_sample_loss"]


# ----------------------------------------------------------------------------- history
class History:
    """What ``fit`` records (spec: TRAIN-CURVES).

    * ``batch_loss``: the training loss of every update (length = number of updates);
    * ``epochs``: epoch indices (0-based; length = number of epochs run);
    * ``metrics``: per-epoch lists keyed ``'loss'`` (mean of the epoch's update losses), ``'val_loss'``,
      ``'val_loss_se'`` (standard error, spec CV-TEST-SET), ``'<metric>'``/``'val_<metric>'``, ``'lr'``
      and ``'time'`` (seconds per epoch);  ``history['val_loss']`` is a shortcut;
    * ``epoch_end_update``: number of updates done at the end of each epoch (to draw epoch values on
      the update axis);  ``total_time`` (s);  ``stopped_early``/``stop_reason``;  ``extra`` for
      callbacks (e.g. per-layer gradient norms).
    """

    def __init__(self) -> None:
        self.batch_loss: list[float] = []
        self.epochs: list[int] = []
        self.metrics: dict[str, list[float]] = {}
        self.epoch_end_update: list[int] = []
        self.total_time: float = 0.0
        self.stopped_early: bool = False
        self.stop_reason: str | None = None
        self.extra: dict[str, Any] = {}

    # -- access
    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.metrics[key]
        except KeyError:
            raise KeyError(f"history has no per-epoch series {key!r}; it has {sorted(self.metrics)}") from None

    def __contains__(self, key: str) -> bool:
        return key in self.metrics

    def keys(self) -> list[str]:
        return list(self.metrics)

    @property
    def num_updates(self) -> int:
        return len(self.batch_loss)

    @property
    def num_epochs(self) -> int:
        return len(self.epochs)

    def best(self, key: str = "val_loss", mode: str = "min") -> tuple[int, float]:
        """(epoch, value) of the best entry of a per-epoch series."""
        vals = np.asarray(self[key], dtype=np.float64)
        if vals.size == 0:
            raise ValueError(f"history series {key!r} is empty")
        i = int(np.nanargmin(vals) if mode == "min" else np.nanargmax(vals))
        return self.epochs[i], float(vals[i])

    def _log_epoch(self, epoch: int, logs: dict[str, float], updates: int) -> None:
        self.epochs.append(epoch)
        self.epoch_end_update.append(updates)
        n = len(self.epochs)
        for k, v in logs.items():
            series = self.metrics.setdefault(k, [])
            while len(series) < n - 1:  # a key that appeared late: pad earlier epochs with NaN
                series.append(float("nan"))
            series.append(float(v))
        for series in self.metrics.values():
            if len(series) < n:
                series.append(float("nan"))

    # -- serialization
    def to_dict(self) -> dict[str, Any]:
        return {"batch_loss": list(self.batch_loss), "epochs": list(self.epochs),
                "metrics": {k: list(v) for k, v in self.metrics.items()},
                "epoch_end_update": list(self.epoch_end_update), "total_time": self.total_time,
                "stopped_early": self.stopped_early, "stop_reason": self.stop_reason,
                "extra": _jsonable(self.extra)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        h = cls()
        h.batch_loss = [float(x) for x in d.get("batch_loss", [])]
        h.epochs = [int(e) for e in d.get("epochs", [])]
        h.metrics = {k: [float(x) for x in v] for k, v in d.get("metrics", {}).items()}
        h.epoch_end_update = [int(u) for u in d.get("epoch_end_update", [])]
        h.total_time = float(d.get("total_time", 0.0))
        h.stopped_early = bool(d.get("stopped_early", False))
        h.stop_reason = d.get("stop_reason")
        h.extra = dict(d.get("extra", {}))
        return h

    def save_json(self, path: str | os.PathLike) -> Path:
        """Write the history as JSON (NaN/inf written as null/strings are avoided: NaN → null), atomically."""
        path = Path(path)
        _atomic_write_text(path, json.dumps(_jsonable(self.to_dict()), indent=1))
        return path

    @classmethod
    def load_json(cls, path: str | os.PathLike) -> History:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        d["batch_loss"] = [float("nan") if x is None else x for x in d.get("batch_loss", [])]
        d["metrics"] = {k: [float("nan") if x is None else x for x in v] for k, v in d.get("metrics", {}).items()}
        return cls.from_dict(d)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 5) for k, v in self.metrics.items() if v}
        return f"History(epochs={self.num_epochs}, updates={self.num_updates}, last={last})"


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ----------------------------------------------------------------------------- state shared with callbacks
class TrainState:
    """The context a callback sees as ``self.state``: model, optimizer, loss_fn, history, the current
    ``epoch`` (0-based), ``step`` (updates so far), ``epochs`` (planned), ``logs`` of the last epoch, and
    ``stop_training`` (set it, or call ``Callback.request_stop``, to end training)."""

    def __init__(self, model, optimizer, loss_fn, history: History, epochs: int):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.history = history
        self.epochs = epochs
        self.epoch = 0
        self.step = 0
        self.logs: dict[str, float] = {}
        self.stop_training = False
        self.stop_reason: str | None = None
        self.steps_per_epoch: int | None = None


# ----------------------------------------------------------------------------- data helpers
def _is_array_like(x: Any) -> bool:
    return isinstance(x, np.ndarray | Tensor)


def as_loader(data: Any, batch_size: int = 32, shuffle: bool = True, generator: Generator | None = None,
              drop_last: bool = False) -> Any:
    """A mini-batch iterable from ``data``.

    ``data`` may be a loader already (anything re-iterable that yields ``(x, y)`` batches, e.g. a
    ``DataLoader``; returned unchanged), or arrays ``(X, y)`` / ``(X,)`` (NumPy or Tensors, one row per
    sample), which become ``DataLoader(TensorDataset(X, y), batch_size, shuffle, generator=generator)``.
    """
    if isinstance(data, tuple | list) and 1 <= len(data) <= 3 and all(_is_array_like(a) for a in data):
        from ..data import DataLoader, TensorDataset
        lengths = {len(a) for a in data}
        if len(lengths) != 1:
            raise ValueError(f"arrays passed as data have different numbers of rows {[len(a) for a in data]}; "
                             "pass (X, y) with one row of X per target")
        return DataLoader(TensorDataset(*data), batch_size=batch_size, shuffle=shuffle, generator=generator,
                          drop_last=drop_last)
    if _is_array_like(data):
        raise TypeError("got a single array as data; pass (X, y) (a tuple of inputs and targets) or a DataLoader")
    if not isinstance(data, Iterable):
        raise TypeError(f"data must be a DataLoader (an iterable of (x, y) batches) or a tuple (X, y) of arrays, "
                        f"got {type(data).__name__}")
    if iter(data) is data:
        raise TypeError("data is a one-shot iterator (e.g. a generator); it would be empty after the first "
                        "epoch. Pass a DataLoader or a list of batches instead")
    return data


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, tuple | list):
        if len(batch) >= 2:
            return batch[0], batch[1]
        if len(batch) == 1:
            return batch[0], None
    return batch, None


def _plain(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


# ----------------------------------------------------------------------------- gradient clipping
def clip_grad_norm_(parameters: Iterable[Tensor], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients in place so that their joint norm ‖(g₁, …, g_P)‖ ≤ ``max_norm``
    (PyTorch's rule: g ← g · min(1, max_norm / (‖g‖ + 1e-6))).  Returns the norm before clipping."""
    grads = [p.grad.data for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) for g in grads)
    else:
        total = float(sum(float(np.sum(np.abs(g) ** norm_type)) for g in grads) ** (1.0 / norm_type))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total


# ----------------------------------------------------------------------------- per-sample losses
def _has_reduction_kw(fn: Callable) -> bool:
    try:
        return "reduction" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def per_sample_loss(loss_fn: Callable, output: Tensor, target: Any) -> np.ndarray:
    """The loss of each sample of a batch, shape (B,), consistent with the batch loss: for a
    mean-reduced loss the batch loss is the mean of these (spec: CV-TEST-SET).

    Uses ``reduction='none'`` (a module's ``reduction`` attribute or a function's ``reduction=``
    keyword) and then averages the non-batch axes ('mean' losses) or sums them ('sum' losses);
    otherwise calls ``loss_fn`` on each sample separately (slow but always correct).
    """
    B = output.shape[0]
    red = getattr(loss_fn, "reduction", None)
    per = None
    if isinstance(red, str):
        loss_fn.reduction = "none"
        try:
            per = loss_fn(output, target)
        finally:
            loss_fn.reduction = red
    elif _has_reduction_kw(loss_fn):
        red = "mean"
        per = loss_fn(output, target, reduction="none")
    if per is not None:
        a = _plain(per).astype(np.float64, copy=False)
        if a.ndim == 0 or a.shape[0] != B:
            raise ValueError(f"loss_fn with reduction='none' returned shape {a.shape}; expected one value per "
                             f"sample, shape ({B}, ...)")
        if a.ndim > 1:
            a = a.reshape(B, -1)
            a = a.sum(axis=1) if red == "sum" else a.mean(axis=1)
        return a
    t = _plain(target) if target is not None else None
    out = np.empty(B, dtype=np.float64)
    for i in range(B):
        o = output[i:i + 1]
        out[i] = float(_plain(loss_fn(o, Tensor._wrap(t[i:i + 1]) if t is not None else None)))
    return out


# ----------------------------------------------------------------------------- evaluate / predict
def _metric_list(metrics: Sequence | str | Callable | None) -> list[tuple[str, Callable]]:
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    return [_metrics.get_metric(m) for m in metrics]


def evaluate(model, loader: Any, loss_fn: Callable | None = None, metrics: Sequence = ("accuracy",),
             batch_size: int = 1024) -> dict[str, float]:
    """Loss and metrics of ``model`` on a data set, in eval mode and without recording a graph.

    Returns ``{'loss': R̂, 'loss_se': s/√M, 'n': M, <metric>: value, ...}`` where
    R̂ = (1/M) Σₘ L(yᵐ, g(xᵐ; w)) is the mean per-sample loss over the M samples and s their sample
    standard deviation (ddof = 1): the test-set risk estimate and its standard error (spec: CV-TEST-SET;
    only an estimate on data not used for training).  ``loader``: a DataLoader or arrays ``(X, y)``.
    The model's train/eval mode is restored afterwards.
    """
    loader = as_loader(loader, batch_size=batch_size, shuffle=False)
    fns = _metric_list(metrics)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    losses, outs, tgts = [], [], []
    n = 0
    try:
        with no_grad():
            for batch in loader:
                x, y = _split_batch(batch)
                out = model(x)
                n += out.shape[0]
                if loss_fn is not None:
                    if y is None:
                        raise ValueError("evaluate: the loader yields inputs only; a loss needs (x, y) batches")
                    losses.append(per_sample_loss(loss_fn, out, y))
                if fns:
                    outs.append(_plain(out))
                    tgts.append(_plain(y))
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    res: dict[str, float] = {}
    if loss_fn is not None:
        per = np.concatenate(losses) if losses else np.zeros(0)
        if n == 0:
            raise ValueError("evaluate: the data set is empty")
        res["loss"] = float(per.mean())
        res["loss_se"] = float(per.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    if fns:
        o, t = np.concatenate(outs), np.concatenate(tgts)
        for name, f in fns:
            res[name] = float(f(o, t))
    res["n"] = n
    return res


def predict(model, X: Any, batch_size: int = 1024) -> np.ndarray:
    """Model outputs for inputs ``X`` (array/Tensor of samples, or a loader yielding ``x`` or ``(x, ...)``),
    in eval mode under no_grad, batch by batch; returns a NumPy array with one row per sample."""
    if _is_array_like(X):
        arr = _plain(X)
        batches: Iterable = (Tensor._wrap(arr[i:i + batch_size]) for i in range(0, len(arr), batch_size))
    else:
        batches = (_split_batch(b)[0] for b in X)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    outs = []
    try:
        with no_grad():
            for x in batches:
                outs.append(_plain(model(x)))
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    if not outs:
        raise ValueError("predict: no inputs given")
    return np.concatenate(outs)


# ----------------------------------------------------------------------------- fit
def _ordered_view(loader: Any, batch_size: int) -> Any:
    """The loader's data set in order, for evaluation (so evaluating it does not consume the training
    loader's shuffling state); other iterables are returned as they are."""
    from ..data import DataLoader
    if isinstance(loader, DataLoader) and loader.sampler is None:
        return DataLoader(loader.dataset, batch_size=batch_size, shuffle=False, transform=loader.transform,
                          collate_fn=loader.collate_fn)
    return loader


def _needs_closure(optimizer) -> bool:
    """Optimizers that re-evaluate the loss inside step(closure) (L-BFGS, line searches)."""
    flag = getattr(optimizer, "requires_closure", None)
    if flag is not None:
        return bool(flag)
    return type(optimizer).__name__ in ("LBFGS",)


def _closure_step(model, loss_fn, optimizer, x, y, params, clip):
    """One update of a closure-driven optimizer: the closure zeroes the gradients, recomputes the loss
    on the same batch, backpropagates and returns it; the first evaluation's output/loss are logged."""
    first: list = []

    def closure():
        optimizer.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        if params is not None:
            clip_grad_norm_(params, clip)
        if not first:
            first.append((out, loss))
        return loss

    optimizer.step(closure)
    return first[0]


def fit(model, loss_fn: Callable, optimizer, train_loader: Any, epochs: int = 1, val_loader: Any = None,
        callbacks: Sequence = (), metrics: Sequence = ("accuracy",), progress: bool = True,
        clip_grad_norm: float | None = None, *, batch_size: int = 32, shuffle: bool = True,
        generator: Generator | None = None, train_metrics: str | None = "running",
        eval_batch_size: int = 1024) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; returns a :class:`History`.

    * ``train_loader``: a ``DataLoader`` (or any re-iterable of ``(x, y)`` batches), or NumPy arrays /
      Tensors ``(X, y)``, which are wrapped as ``DataLoader(TensorDataset(X, y), batch_size, shuffle,
      generator=generator)`` (the convenience for plain arrays).  ``val_loader`` likewise (never
      shuffled, batches of ``eval_batch_size``).
    * per update: ``out = model(x); loss = loss_fn(out, y); zero_grad; loss.backward();`` optional
      ``clip_grad_norm_(params, clip_grad_norm)``; ``optimizer.step()``  (spec: SGD-MINIBATCH,
      TRAIN-SGD-MODES, TRAIN-LOOP-000).  Optimizers that need ``step(closure)`` (L-BFGS, or any with
      ``requires_closure = True``) get a closure that recomputes the batch loss and its gradient.
      The model is in train() mode while training and in eval() mode (under no_grad) for validation;
      it is left in train() mode.
    * per epoch (spec: TRAIN-CURVES): ``loss`` = mean of the epoch's update losses; ``metrics`` of the
      training predictions — ``train_metrics='running'`` uses the outputs computed during the epoch (no
      extra forward pass; the weights change during the epoch, as in Keras), ``'eval'`` re-evaluates the
      training set at the epoch's end, None skips them; with ``val_loader``: ``val_loss``,
      ``val_loss_se`` and ``val_<metric>`` from :func:`evaluate`; ``lr`` (first group) and ``time``.
    * ``callbacks``: :class:`~chainrule.train.callbacks.Callback` objects (early stopping,
      checkpoints, loggers, schedulers); ``progress=True`` adds a tqdm progress bar (quiet when stderr is
      not a terminal).  A callback may stop training; ``history.stopped_early`` records it.
    """
    from .callbacks import Callback, ProgressBar

    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if train_metrics not in ("running", "eval", None):
        raise ValueError(f"train_metrics must be 'running', 'eval' or None, got {train_metrics!r}")
    loader = as_loader(train_loader, batch_size=batch_size, shuffle=shuffle, generator=generator)
    val = None if val_loader is None else as_loader(val_loader, batch_size=eval_batch_size, shuffle=False)
    fns = _metric_list(metrics)
    history = History()
    state = TrainState(model, optimizer, loss_fn, history, epochs)
    try:
        state.steps_per_epoch = len(loader)
    except TypeError:
        state.steps_per_epoch = None
    cbs = list(callbacks)
    for cb in cbs:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
    if progress and not any(isinstance(cb, ProgressBar) for cb in cbs):
        cbs.insert(0, ProgressBar())
    for cb in cbs:
        cb.set_state(state)
    params = [p for g in optimizer.param_groups for p in g["params"]] if clip_grad_norm is not None else None
    keep_outputs = bool(fns) and train_metrics == "running"
    use_closure = _needs_closure(optimizer)

    t_start = time.perf_counter()
    model.train()
    for cb in cbs:
        cb.on_train_begin()
    batch_cbs = [cb for cb in cbs if cb.wants_batch_end()]
    zero_grad, step = optimizer.zero_grad, optimizer.step
    try:
        for epoch in range(epochs):
            state.epoch = epoch
            t0 = time.perf_counter()
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            losses: list = []
            append = losses.append
            outs: list = []
            tgts: list = []
            for batch in loader:
                x, y = _split_batch(batch)
                if use_closure:
                    out, loss = _closure_step(model, loss_fn, optimizer, x, y, params, clip_grad_norm)
                else:
                    out = model(x)
                    loss = loss_fn(out, y)
                    zero_grad()
                    loss.backward()
                    if params is not None:
                        clip_grad_norm_(params, clip_grad_norm)
                    step()
                append(loss.data)
                if keep_outputs:  # arrays, not Tensors: no extra objects for the garbage collector
                    outs.append(out.data)
                    tgts.append(y.data if isinstance(y, Tensor) else y)
                if batch_cbs:
                    state.step = len(history.batch_loss) + len(losses)
                    for cb in batch_cbs:
                        cb.on_batch_end(state.step - 1, loss)
                if state.stop_training:
                    break
            # ---- end of epoch: convert and log
            ep_losses = np.asarray(losses, dtype=np.float64).ravel().tolist() if losses else []
            history.batch_loss.extend(ep_losses)
            state.step = len(history.batch_loss)
            logs: dict[str, float] = {"loss": float(np.mean(ep_losses)) if ep_losses else float("nan")}
            if fns and train_metrics == "running" and outs:
                o = np.concatenate(outs)
                t = np.concatenate([_plain(t) for t in tgts])
                for name, f in fns:
                    logs[name] = float(f(o, t))
            elif fns and train_metrics == "eval":
                ev = evaluate(model, _ordered_view(loader, eval_batch_size), None, [f for _, f in fns])
                for name, _ in fns:
                    logs[name] = ev[name]
            if val is not None:
                ev = evaluate(model, val, loss_fn, [f for _, f in fns])
                logs["val_loss"] = ev["loss"]
                logs["val_loss_se"] = ev["loss_se"]
                for name, _ in fns:
                    logs["val_" + name] = ev[name]
            if getattr(optimizer, "param_groups", None):
                logs["lr"] = float(optimizer.param_groups[0]["lr"])
            logs["time"] = time.perf_counter() - t0
            history._log_epoch(epoch, logs, state.step)
            state.logs = logs
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if state.stop_training:
                break
    finally:
        history.total_time = time.perf_counter() - t_start
        history.stopped_early = bool(state.stop_training)
        history.stop_reason = state.stop_reason
        model.train()
        for cb in cbs:
            cb.on_train_end()
    return history
