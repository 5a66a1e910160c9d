"""Callbacks: code that ``fit`` runs at fixed points of training.

Hooks (all optional): ``on_train_begin()``, ``on_epoch_begin(epoch)``, ``on_batch_end(step, loss)`` (after
the optimizer step; ``loss`` is the batch's loss Tensor — convert it with ``float(loss)`` only if you
need the number), ``on_epoch_end(epoch, logs)`` (``logs``: the epoch's loss, metrics, val_*, lr, time),
``on_train_end()``.  ``self.state`` (a :class:`~chainrule.train.loop.TrainState`) gives the model,
optimizer, history and counters; ``self.request_stop(reason)`` ends training after the current batch.
``on_batch_end`` is only called for callbacks that override it, so epoch-level callbacks cost nothing
per update.
"""

from __future__ import annotations

import csv
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Callback", "ProgressBar", "EarlyStopping", "ModelCheckpoint", "CSVLogger", "JSONLogger",
           "LRSchedulerCallback", "GradientNormLogger", "StopAtTarget", "TerminateOnNaN", "LambdaCallback"]


class Callback:
    """Base class; override the hooks you need."""

    state: Any = None

    def set_state(self, state: Any) -> None:
        self.state = state

    @property
    def model(self):
        return self.state.model

    @property
    def optimizer(self):
        return self.state.optimizer

    @property
    def history(self):
        return self.state.history

    def request_stop(self, reason: str | None = None) -> None:
        """Ask ``fit`` to stop (after the current batch, or at the end of the current epoch)."""
        self.state.stop_training = True
        if reason and not self.state.stop_reason:
            self.state.stop_reason = reason

    def wants_batch_end(self) -> bool:
        """True when this callback overrides ``on_batch_end`` (fit calls it every update only then)."""
        return type(self).on_batch_end is not Callback.on_batch_end

    def on_train_begin(self) -> None:
        pass

    def on_train_end(self) -> None:
        pass

    def on_epoch_begin(self, epoch: int) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        pass

    def on_batch_end(self, step: int, loss) -> None:
        pass


def _fmt_logs(logs: dict[str, float]) -> dict[str, str]:
    return {k: (f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in logs.items()
            if k not in ("time", "val_loss_se")}


class ProgressBar(Callback):
    """A tqdm bar per epoch (updates done, the running loss, then the epoch's metrics).

    Quiet when ``enabled=False`` or when ``file`` (default stderr) is not a terminal, as tqdm's
    ``disable=None``; in that case it costs nothing per update.
    """

    def __init__(self, enabled: bool = True, file=None, leave: bool = True):
        self.enabled = enabled
        self.file = file
        self.leave = leave
        self._bar = None
        self._every = 1

    def _active(self) -> bool:
        if not self.enabled:
            return False
        f = self.file or sys.stderr
        try:
            return bool(f.isatty())
        except (AttributeError, ValueError):
            return False

    def wants_batch_end(self) -> bool:
        return self._active()

    def on_epoch_begin(self, epoch: int) -> None:
        if not self._active():
            return
        from tqdm.auto import tqdm
        total = getattr(self.state, "steps_per_epoch", None)
        self._every = max(1, (total or 100) // 20)
        self._bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{self.state.epochs}", unit="batch",
                         file=self.file, leave=self.leave, dynamic_ncols=True)

    def on_batch_end(self, step: int, loss) -> None:
        bar = self._bar
        if bar is not None:
            bar.update(1)
            if bar.n % self._every == 0:
                bar.set_postfix(loss=f"{float(loss.data):.4g}", refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.set_postfix(_fmt_logs(logs), refresh=True)
            self._bar.close()
            self._bar = None

    def on_train_end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _resolve_mode(mode: str, monitor: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        m = monitor.lower()
        return "max" if ("acc" in m or "auc" in m or m.endswith("r2")) else "min"
    return mode


def _get_monitor(logs: dict[str, float], monitor: str, who: str) -> float | None:
    if monitor not in logs:
        raise KeyError(f"{who}: monitored quantity {monitor!r} is not in the epoch logs {sorted(logs)}; "
                       "for 'val_*' pass val_loader= to fit, or monitor 'loss'")
    return float(logs[monitor])


def _snapshot(model) -> dict:
    return {k: v.data.copy() for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stop when a monitored quantity has stopped improving (Keras semantics).  (spec: REG-EARLY-STOP,
    TRAIN-VAL-EARLYSTOP)

    At each epoch end from ``start_from_epoch`` on: *improved* ⇔ current < best − ``min_delta``
    (``mode='min'``; current > best + min_delta for ``'max'``; ``'auto'`` = max when the name contains
    'acc'/'auc'); improved → best := current, wait := 0, and a copy of the weights is kept; otherwise
    wait += 1 and training stops when wait ≥ ``patience`` (never at epoch 0).  With a ``baseline``,
    wait is only reset once best beats the baseline, so training stops if the baseline has not been
    beaten after ``patience`` epochs.  ``restore_best_weights=True`` (the default here;
    Keras's is False) copies the best weights back when training ends (stopped or not).
    Example: val_loss 1.0, 0.9, 0.95, 0.96, …, patience 2 → stops after the 4th epoch with the 2nd
    epoch's weights.  The outcome is in ``stopped_epoch``, ``best``, ``best_epoch``.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
                 baseline: float | None = None, restore_best_weights: bool = True, start_from_epoch: int = 0,
                 verbose: bool = False):
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.mode = _resolve_mode(mode, monitor)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.verbose = verbose
        self.on_train_begin()

    def _improves(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if math.isnan(current):
            return False
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def on_train_begin(self) -> None:
        self.wait = 0
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_weights: dict | None = None
        self.stopped_epoch: int | None = None
        self.restored = False

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if epoch < self.start_from_epoch:
            return
        current = _get_monitor(logs, self.monitor, "EarlyStopping")
        self.wait += 1
        if self._improves(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = _snapshot(self.model)
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
                return
            # improved on the best, but the baseline is still not beaten: patience keeps running
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.request_stop(f"EarlyStopping: {self.monitor} did not improve for {self.wait} epoch(s); best "
                              f"{self.best:.6g} at epoch {self.best_epoch}")
            if self.verbose:
                print(f"EarlyStopping: stopping after epoch {epoch} (best {self.monitor} {self.best:.6g} at "
                      f"epoch {self.best_epoch})")

    def on_train_end(self) -> None:
        if self.restore_best_weights and self.best_weights is not None and self.state is not None:
            self.model.load_state_dict(self.best_weights)
            self.restored = True
            self.history.extra["early_stopping"] = {"best_epoch": self.best_epoch, "best": self.best,
                                                    "stopped_epoch": self.stopped_epoch}


class ModelCheckpoint(Callback):
    """Save the model (and optimizer) every epoch, or only when ``monitor`` improves (``save_best_only``).

    ``path`` may hold format fields filled from the epoch logs: ``'ckpt-{epoch:03d}-{val_loss:.3f}.npz'``
    (``epoch`` is 1-based there, as in Keras).  Files are written with ``chainrule.io.save_checkpoint``:
    an ``.npz`` (or ``.safetensors``) written to a temporary file in the same folder and moved into place
    with ``os.replace``, so a crash never leaves a half-written checkpoint.  The metadata holds the epoch
    and logs.  ``best_path`` / ``best`` record the best file and value.
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", save_optimizer: bool = True, metadata: dict | None = None):
        self.path = str(path)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _resolve_mode(mode, monitor)
        self.save_optimizer = save_optimizer
        self.metadata = dict(metadata or {})
        self.best: float | None = None
        self.best_path: Path | None = None
        self.saved: list[Path] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.save_best_only:
            current = _get_monitor(logs, self.monitor, "ModelCheckpoint")
            better = self.best is None or (current < self.best if self.mode == "min" else current > self.best)
            if math.isnan(current) or not better:
                return
            self.best = current
        path = Path(self.path.format(epoch=epoch + 1, **logs))
        from ..io import save_checkpoint
        meta = {**self.metadata, "epoch": epoch + 1,
                "logs": {k: (v if math.isfinite(v) else None) for k, v in logs.items()}}
        save_checkpoint(path, model=self.model, optimizer=self.optimizer if self.save_optimizer else None,
                        metadata=meta, epoch=epoch + 1)
        self.saved.append(path)
        if self.save_best_only:
            self.best_path = path


class CSVLogger(Callback):
    """Append one row per epoch (epoch, loss, metrics, val_*, lr, time) to a CSV file; flushed each epoch."""

    def __init__(self, path: str | os.PathLike, append: bool = False, separator: str = ","):
        self.path = Path(path)
        self.append = append
        self.separator = separator
        self._f = None
        self._writer = None
        self._keys: list[str] | None = None

    def on_train_begin(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        exists = self.append and self.path.exists() and self.path.stat().st_size > 0
        self._keys = None
        if exists:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self._keys = header[1:] if header else None
        self._f = open(self.path, "a" if self.append else "w", newline="")  # noqa: SIM115
        self._writer = csv.writer(self._f, delimiter=self.separator)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._keys is None:
            self._keys = list(logs)
            self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *[repr(float(logs[k])) if k in logs else "" for k in self._keys]])
        self._f.flush()

    def on_train_end(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


class JSONLogger(Callback):
    """Write the whole history (per-update losses and per-epoch series) as JSON after every epoch
    (atomically, so the file is always complete)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.history.save_json(self.path)

    def on_train_end(self) -> None:
        if self.state is not None:
            self.history.save_json(self.path)


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler once per epoch: ``scheduler.step()``, or
    ``scheduler.step(logs[monitor])`` for metric-driven schedulers (ReduceLROnPlateau, or any scheduler
    with ``requires_metric = True``).  ``per_batch=True`` steps after every update instead."""

    def __init__(self, scheduler, monitor: str = "val_loss", per_batch: bool = False):
        self.scheduler = scheduler
        self.monitor = monitor
        self.per_batch = per_batch
        self.needs_metric = bool(getattr(scheduler, "requires_metric", False)) or \
            type(scheduler).__name__ == "ReduceLROnPlateau"
        if per_batch and self.needs_metric:
            raise ValueError("a metric-driven scheduler (ReduceLROnPlateau) steps once per epoch; use per_batch=False")

    def wants_batch_end(self) -> bool:
        return self.per_batch

    def on_batch_end(self, step: int, loss) -> None:
        self.scheduler.step()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.per_batch:
            return
        if self.needs_metric:
            self.scheduler.step(_get_monitor(logs, self.monitor, "LRSchedulerCallback"))
        else:
            self.scheduler.step()


class GradientNormLogger(Callback):
    """Record ‖∂R/∂W‖₂ of every parameter after each update (every ``every`` updates): a direct view of
    vanishing/exploding gradients per layer.  Stored in ``norms[name]`` (lists) and in
    ``history.extra['grad_norms']``; ``steps`` holds the update indices.  Values are the gradients used
    by the step (after clipping, if ``fit`` clips)."""

    def __init__(self, every: int = 1, names: list[str] | None = None):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
        self.names = names
        self.norms: dict[str, list[float]] = {}
        self.steps: list[int] = []
        self._params: list = []

    def on_train_begin(self) -> None:
        named = list(self.model.named_parameters())
        if self.names is not None:
            missing = set(self.names) - {n for n, _ in named}
            if missing:
                raise ValueError(f"GradientNormLogger: no parameters named {sorted(missing)}; the model has "
                                 f"{[n for n, _ in named]}")
            named = [(n, p) for n, p in named if n in self.names]
        self._params = named
        self.norms = {n: [] for n, _ in named}
        self.steps = []
        self.history.extra["grad_norms"] = self.norms
        self.history.extra["grad_norm_steps"] = self.steps

    def on_batch_end(self, step: int, loss) -> None:
        if step % self.every:
            return
        self.steps.append(step)
        for n, p in self._params:
            g = p.grad
            self.norms[n].append(float(np.sqrt(np.vdot(g.data, g.data).real)) if g is not None else 0.0)


class StopAtTarget(Callback):
    """Stop once ``logs[monitor]`` reaches ``target`` (≥ for mode 'max', ≤ for 'min'; 'auto' = max for
    accuracy-like names).  E.g. the capacity check "can the net fit its training set at all": train until
    the training accuracy is 1.0 before adding regularization (spec: TRICK-CAPACITY)."""

    def __init__(self, monitor: str = "accuracy", target: float = 1.0, mode: str = "auto"):
        self.monitor = monitor
        self.target = float(target)
        self.mode = _resolve_mode(mode, monitor)
        self.reached_epoch: int | None = None

    def on_train_begin(self) -> None:
        self.reached_epoch = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        v = _get_monitor(logs, self.monitor, "StopAtTarget")
        if (v >= self.target) if self.mode == "max" else (v <= self.target):
            self.reached_epoch = epoch
            self.request_stop(f"StopAtTarget: {self.monitor} = {v:.6g} reached {self.target:g} at epoch {epoch}")


class TerminateOnNaN(Callback):
    """Stop as soon as a batch loss is NaN or infinite (a diverged run)."""

    def __init__(self):
        self.triggered_at: int | None = None

    def on_batch_end(self, step: int, loss) -> None:
        if not math.isfinite(float(loss.data)):
            self.triggered_at = step
            self.request_stop(f"TerminateOnNaN: loss became {float(loss.data)} at update {step}")


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_batch_end: Callable | None = None):
        self._fns = {"on_train_begin": on_train_begin, "on_train_end": on_train_end,
                     "on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_batch_end": on_batch_end}

    def wants_batch_end(self) -> bool:
        return self._fns["on_batch_end"] is not None

    def on_train_begin(self) -> None:
        if self._fns["on_train_begin"]:
            self._fns["on_train_begin"]()

    def on_train_end(self) -> None:
        if self._fns["on_train_end"]:
            self._fns["on_train_end"]()

    def on_epoch_begin(self, epoch: int) -> None:
        if self._fns["on_epoch_begin"]:
            self._fns["on_epoch_begin"](epoch)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._fns["on_epoch_end"]:
            self._fns["on_epoch_end"](epoch, logs)

    def on_batch_end(self, step: int, loss) -> None:
        if self._fns["on_batch_end"]:
            self._fns["on_batch_end"](step, loss)
