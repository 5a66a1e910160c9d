"""DataParallelTrainer: the data-parallel fit loop with checkpoints, resume and clean failure.

``mpiexec -n 4 python my_script.py`` starts four copies of the same script.  Each builds the same model
and optimizer; the trainer

1. broadcasts rank 0's parameters (identical replicas) — or, when resuming, rank 0 reads the checkpoint
   and broadcasts it (model, optimizer state, epoch, position in the epoch, history), so no shared file
   system is needed;
2. per epoch, shards the epoch's global permutation with :class:`DistributedSampler` (strided): rank r's
   k-th batch of b = B/p samples is its part of the k-th global batch of B samples — the same global
   batches a single process would draw with ``RandomSampler(N, seed)`` (spec: TRAIN-EPOCHS,
   SGD-MINIBATCH);
3. per step: forward and backward on the local batch, gradients averaged by bucketed allreduce
   (:class:`DistributedDataParallel`, overlapped with backward), then the optimizer step — the update of
   one process with the global batch (spec: TRAIN-SGD-MODES);
4. rank 0 alone writes checkpoints (every ``checkpoint_every`` steps and at the end of each epoch) and
   logs; losses and metrics are reduced over the ranks first.

Because the global batch, not the worker count, defines the trajectory, a checkpoint written with p
workers resumes with any p' that divides B: ``DataParallelTrainer(..., resume=path)``.

A lost worker stops the run: the collectives time out (``CHAINRULE_DIST_TIMEOUT``), the message names
the ranks that did not respond, the last checkpoint is named, and all ranks abort.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..tensor import Tensor, no_grad
from .comm import Communicator, WorkerLostError, get_communicator
from .ddp import DistributedDataParallel, DistributedOptimizer
from .sampler import DistributedSampler

__all__ = ["DataParallelTrainer", "save_training_state", "load_training_state", "distributed_evaluate",
           "rank0_print"]


def rank0_print(*args, comm: Communicator | None = None, **kwargs) -> None:
    """``print`` on rank 0 only (logs are written once, not p times)."""
    c = comm if comm is not None else get_communicator()
    if c.rank == 0:
        print(*args, **kwargs)
        sys.stdout.flush()


# ============================================================================ checkpoints
def save_training_state(path: str | os.PathLike, model: Any, optimizer: Any, comm: Communicator | None = None,
                        metadata: dict | None = None, **extra: Any) -> Path | None:
    """Rank 0 writes ``{"model", "optimizer", **extra}`` atomically with ``chainrule.io.save_checkpoint``;
    other ranks write nothing and return None.  (Replicas are identical, so rank 0's state is everyone's.)"""
    from ..io import save_checkpoint

    c = comm if comm is not None else get_communicator()
    if c.rank != 0:
        return None
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    opt = optimizer.optimizer if isinstance(optimizer, DistributedOptimizer) else optimizer
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(path, model=inner, optimizer=opt, metadata=metadata, **extra)


def load_training_state(path: str | os.PathLike, model: Any = None, optimizer: Any = None,
                        comm: Communicator | None = None) -> dict:
    """Rank 0 reads the checkpoint and broadcasts it; every rank restores ``model``/``optimizer`` from it
    and gets the whole dict (so workers need no access to the file).  A missing or unreadable file raises
    on every rank with the same message."""
    from ..io import CheckpointError, load

    c = comm if comm is not None else get_communicator()
    obj: Any = None
    err = None
    if c.rank == 0:
        try:
            obj = load(path, tensors=True)
            if not isinstance(obj, dict):
                raise CheckpointError(f"{path}: expected a checkpoint dict, found {type(obj).__name__}")
        except (OSError, CheckpointError) as e:
            err = f"cannot resume from {path}: {type(e).__name__}: {e}"
    obj, err = c.broadcast((obj, err), root=0)
    if err is not None:
        raise FileNotFoundError(err)
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    opt = optimizer.optimizer if isinstance(optimizer, DistributedOptimizer) else optimizer
    if inner is not None:
        inner.load_state_dict(obj["model"])
    if opt is not None:
        opt.load_state_dict(obj["optimizer"])
    return obj


# ============================================================================ evaluation
def distributed_evaluate(model: Any, X: Any, y: Any, loss_fn: Callable, comm: Communicator | None = None,
                         batch_size: int = 1024) -> dict[str, float]:
    """Mean loss, its standard error and accuracy (for (N, K) outputs with integer labels) over (X, y),
    each rank evaluating a contiguous shard; sums are allreduced, so every rank returns the same values
    as a single-process ``chainrule.train.evaluate`` (spec: CV-TEST-SET)."""
    from ..train.loop import per_sample_loss

    c = comm if comm is not None else get_communicator()
    X = X.data if isinstance(X, Tensor) else np.asarray(X)
    y = y.data if isinstance(y, Tensor) else np.asarray(y)
    n = len(X)
    lo, hi = (n * c.rank) // c.size, (n * (c.rank + 1)) // c.size
    was = getattr(model, "training", False)
    model.eval()
    sums = np.zeros(4, dtype=np.float64)  # Σ loss, Σ loss², Σ correct, count
    classify = None
    try:
        with no_grad():
            for i in range(lo, hi, batch_size):
                xb, yb = X[i:min(i + batch_size, hi)], y[i:min(i + batch_size, hi)]
                out = model(Tensor._wrap(xb) if isinstance(xb, np.ndarray) else xb)
                per = np.asarray(per_sample_loss(loss_fn, out, Tensor._wrap(yb)), dtype=np.float64)
                sums[0] += per.sum()
                sums[1] += (per * per).sum()
                sums[3] += len(per)
                if classify is None:
                    classify = out.ndim == 2 and yb.ndim == 1 and yb.dtype.kind in "iu"
                if classify:
                    sums[2] += float((out.data.argmax(axis=1) == yb).sum())
    finally:
        model.train(was)
    # every rank must take part even with an empty shard; whether it is a classification is agreed too
    flag = np.array([1.0 if classify else 0.0])
    c.allreduce(sums, "sum")
    c.allreduce(flag, "sum")
    m = sums[3]
    mean = sums[0] / m
    var = max(sums[1] / m - mean * mean, 0.0) * m / max(m - 1, 1)
    res = {"loss": float(mean), "loss_se": float(math.sqrt(var / m)), "n": int(m)}
    if flag[0] > 0:
        res["accuracy"] = float(sums[2] / m)
    return res


# ============================================================================ trainer
class DataParallelTrainer:
    """``DataParallelTrainer(model, loss_fn, optimizer, dataset, batch_size, comm=None, seed=0, ...)``.

    * ``model``: the plain Module (wrapped here in :class:`DistributedDataParallel`; ``trainer.ddp``);
      ``optimizer`` built on ``model.parameters()``; ``loss_fn(output, target)`` a mean-reduced loss.
    * ``dataset``: a Dataset with ``batch_getter``/``__getitem__`` (e.g. ``TensorDataset``) or arrays
      ``(X, y)``; every rank holds it (data parallelism shards the *order*, not the storage).
    * ``batch_size``: the **global** batch B; each of the p ranks processes B/p samples per step
      (B must be divisible by p).  The trajectory depends on B and ``seed``, not on p.
    * ``checkpoint``: path of the training-state file rank 0 writes every ``checkpoint_every`` steps and at
      each epoch's end; ``resume``: a checkpoint path to continue from (True: ``checkpoint`` if it exists).
    * ``overlap``/``bucket_cap_mb``: see :class:`DistributedDataParallel`.  ``clip_grad_norm``: applied to the
      *averaged* gradient.  ``step_callbacks``: functions ``f(trainer, global_step, loss)`` after every step.
    * ``progress``: a tqdm bar on rank 0 (when stderr is a terminal).

    ``fit(epochs, max_steps=None)`` returns the history ``{'loss': [...per epoch], 'val_loss', 'val_accuracy',
    'step_loss': [...per step], 'time'}``; losses are averaged over the ranks (the global batch's mean loss),
    so the history is the same on every rank.
    """

    def __init__(self, model: Any, loss_fn: Callable, optimizer: Any, dataset: Any, batch_size: int,
                 comm: Communicator | None = None, seed: int = 0, shuffle: bool = True, drop_last: bool = False,
                 checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None,
                 resume: str | os.PathLike | bool | None = None, overlap: bool = True, bucket_cap_mb: float = 25.0,
                 clip_grad_norm: float | None = None, val_data: tuple | None = None, progress: bool = True,
                 step_callbacks: Sequence[Callable] = (), log_every: int | None = None,
                 metadata: dict | None = None):
        from ..data import DataLoader, TensorDataset

        self.comm = comm if comm is not None else get_communicator()
        p = self.comm.size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise ValueError(f"batch_size (the global batch) must be a positive integer, got {batch_size!r}")
        if batch_size % p:
            good = [k for k in range(1, batch_size + 1) if batch_size % k == 0]
            raise ValueError(
                f"the global batch_size {batch_size} is not divisible by the {p} workers: each worker takes "
                f"batch_size/p samples per step. Launch with mpiexec -n k for k in {good}, or choose a batch size "
                f"that is a multiple of {p}")
        if isinstance(dataset, tuple | list):
            dataset = TensorDataset(*dataset)
        self.model = model
        self.ddp = DistributedDataParallel(model, self.comm, bucket_cap_mb=bucket_cap_mb, overlap=overlap)
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.local_batch_size = self.batch_size // p
        self.seed = int(seed)
        self.sampler = DistributedSampler(dataset, p, self.comm.rank, shuffle=shuffle, seed=seed,
                                          drop_last=drop_last)
        self.loader = DataLoader(dataset, batch_size=self.local_batch_size, sampler=self.sampler,
                                 drop_last=drop_last)
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        if checkpoint_every is not None and (not isinstance(checkpoint_every, int) or checkpoint_every < 1):
            raise ValueError(f"checkpoint_every must be a positive number of steps or None, got {checkpoint_every!r}")
        self.checkpoint_every = checkpoint_every
        self.clip_grad_norm = clip_grad_norm
        self.val_data = val_data
        self.progress = progress
        self.step_callbacks = list(step_callbacks)
        self.log_every = log_every
        self.metadata = dict(metadata or {})
        self.epoch = 0
        self.step_in_epoch = 0          # global steps done in the current epoch
        self.samples_in_epoch = 0       # global samples consumed in the current epoch
        self.global_step = 0
        self.history: dict[str, list] = {"loss": [], "step_loss": [], "time": []}
        self._pending: list[float] = []           # this rank's step losses not yet reduced
        self._epoch_loss = np.zeros(2)            # Σ global step losses, steps of the current epoch
        self.last_checkpoint: Path | None = None
        if resume is True:
            resume = self.checkpoint if self.checkpoint is not None and self._exists(self.checkpoint) else None
        if resume:
            self.resume(resume)

    def _exists(self, path: Path) -> bool:
        return bool(self.comm.broadcast(path.exists() if self.comm.rank == 0 else None, root=0))

    # ------------------------------------------------------------------ checkpoints
    def _flush_losses(self) -> None:
        """Average the pending per-step losses over the ranks (one allreduce) into the history."""
        if self.comm.size > 1 or self._pending:
            n = np.array([float(len(self._pending))])
            self.comm.allreduce(n, "sum")  # every rank has the same count; a check that costs one latency
            if int(n[0]) != len(self._pending) * self.comm.size:
                raise RuntimeError(f"rank {self.comm.rank}: ranks took different numbers of steps; the sampler "
                                   "shards are out of step")
        if not self._pending:
            return
        arr = np.asarray(self._pending, dtype=np.float64)
        self.comm.allreduce(arr, "mean")
        self.history["step_loss"].extend(arr.tolist())
        self._epoch_loss += (arr.sum(), len(arr))
        self._pending = []

    def state_extra(self) -> dict:
        return {"epoch": self.epoch, "epoch_loss": self._epoch_loss.copy(), "step_in_epoch": self.step_in_epoch,
                "samples_in_epoch": self.samples_in_epoch,
                "global_step": self.global_step, "seed": self.seed, "global_batch_size": self.batch_size,
                "world_size": self.comm.size,
                "history": {k: np.asarray(v, dtype=np.float64) for k, v in self.history.items()}}

    def save(self, path: str | os.PathLike | None = None) -> Path | None:
        """Write the training state (rank 0); returns the path on rank 0, None elsewhere."""
        target = Path(path) if path is not None else self.checkpoint
        if target is None:
            raise ValueError("no checkpoint path: pass checkpoint= to DataParallelTrainer or a path to save()")
        self._flush_losses()
        meta = {**self.metadata, "world_size": self.comm.size, "global_step": self.global_step,
                "epoch": self.epoch}
        out = save_training_state(target, self.model, self.optimizer, self.comm, metadata=meta, **self.state_extra())
        self.last_checkpoint = target
        return out

    def resume(self, path: str | os.PathLike) -> dict:
        """Restore model, optimizer, epoch, position in the epoch and history from a checkpoint written by any
        number of workers."""
        obj = load_training_state(path, self.model, self.optimizer, self.comm)
        B = int(obj.get("global_batch_size", self.batch_size))
        if B != self.batch_size:
            raise ValueError(f"the checkpoint {path} was trained with global batch {B}, this run uses "
                             f"{self.batch_size}; resume with batch_size={B} to continue the same trajectory")
        if int(obj.get("seed", self.seed)) != self.seed:
            raise ValueError(f"the checkpoint {path} used seed {int(obj['seed'])}, this run seed {self.seed}; "
                             "the epoch permutations would differ")
        self.epoch = int(obj["epoch"])
        self.step_in_epoch = int(obj["step_in_epoch"])
        self.samples_in_epoch = int(obj["samples_in_epoch"])
        self.global_step = int(obj["global_step"])
        el = obj.get("epoch_loss", np.zeros(2))
        self._epoch_loss = np.asarray(el.data if isinstance(el, Tensor) else el, dtype=np.float64).copy()
        self._pending = []
        hist = obj.get("history", {})
        self.history = {k: np.asarray(v.data if isinstance(v, Tensor) else v).tolist() for k, v in hist.items()}
        for k in ("loss", "step_loss", "time"):
            self.history.setdefault(k, [])
        self.last_checkpoint = Path(path)
        rank0_print(f"resumed from {path}: epoch {self.epoch}, step {self.step_in_epoch} of the epoch "
                    f"(global step {self.global_step}), written by {int(obj.get('world_size', 0))} worker(s); "
                    f"continuing with {self.comm.size}", comm=self.comm)
        return obj

    # ------------------------------------------------------------------ training
    def _step(self, x, y) -> float:
        ddp, opt = self.ddp, self.optimizer
        out = ddp(x)
        loss = self.loss_fn(out, y)
        opt.zero_grad()
        loss.backward()
        ddp.synchronize()
        if self.clip_grad_norm is not None:
            from ..train.loop import clip_grad_norm_
            clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], self.clip_grad_norm)
        opt.step()
        return float(loss.data)

    def fit(self, epochs: int, max_steps: int | None = None, total_epochs: int | None = None) -> dict[str, list]:
        """Train until ``epochs`` epochs are complete (counting those of a resumed run) or ``max_steps``
        global steps were taken in total.  ``total_epochs``: only for the log lines ("epoch 3/10") when
        ``fit`` is called one epoch at a time."""
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        c = self.comm
        bar = None
        shown = total_epochs if total_epochs is not None else epochs
        try:
            while self.epoch < epochs:
                if max_steps is not None and self.global_step >= max_steps:
                    break
                t0 = time.perf_counter()
                self.sampler.set_epoch(self.epoch)
                self.sampler.set_start_index(self.samples_in_epoch)
                self.loader.set_epoch(self.epoch)
                if self.progress and c.rank == 0 and sys.stderr.isatty():  # quiet off a terminal
                    from tqdm.auto import tqdm
                    bar = tqdm(total=len(self.loader), desc=f"epoch {self.epoch + 1}/{shown}", leave=False)
                stopped = False
                for x, y in self.loader:
                    local = self._step(x, y)
                    self.step_in_epoch += 1
                    self.global_step += 1
                    self.samples_in_epoch = min(self.samples_in_epoch + self.batch_size, self.sampler.n)
                    self._pending.append(local)
                    if bar is not None:
                        bar.update(1)
                    if self.log_every and self.global_step % self.log_every == 0:
                        g = c.allreduce(np.array([local]), "mean")[0]
                        rank0_print(f"step {self.global_step}: loss {g:.5f}", comm=c)
                    for cb in self.step_callbacks:
                        cb(self, self.global_step, local)
                    if self.checkpoint is not None and self.checkpoint_every and \
                            self.global_step % self.checkpoint_every == 0:
                        self.save()
                    if max_steps is not None and self.global_step >= max_steps:
                        stopped = True
                        break
                if bar is not None:
                    bar.close()
                    bar = None
                if stopped and self.samples_in_epoch < self.sampler.n:
                    break  # mid-epoch stop: the checkpoint records the position
                self._flush_losses()
                self.history["loss"].append(float(self._epoch_loss[0] / max(self._epoch_loss[1], 1)))
                self._epoch_loss = np.zeros(2)
                self.history["time"].append(time.perf_counter() - t0)
                if self.val_data is not None:
                    ev = distributed_evaluate(self.model, self.val_data[0], self.val_data[1], self.loss_fn, c)
                    for k in ("loss", "accuracy"):
                        if k in ev:
                            self.history.setdefault("val_" + k, []).append(ev[k])
                msg = f"epoch {self.epoch + 1}/{shown}: loss {self.history['loss'][-1]:.5f}"
                if "val_loss" in self.history:
                    msg += f"  val_loss {self.history['val_loss'][-1]:.5f}"
                if "val_accuracy" in self.history:
                    msg += f"  val_acc {self.history['val_accuracy'][-1]:.4f}"
                rank0_print(msg + f"  ({self.history['time'][-1]:.2f} s, {c.size} worker(s))", comm=c)
                self.epoch += 1
                self.step_in_epoch = 0
                self.samples_in_epoch = 0
                if self.checkpoint is not None:
                    self.save()
        except WorkerLostError as e:
            where = (f"the last checkpoint is {self.last_checkpoint}" if self.last_checkpoint is not None
                     else "no checkpoint was written (pass checkpoint= and checkpoint_every=)")
            raise WorkerLostError(f"{e} Global step {self.global_step}; {where}.", e.rank, e.lost) from None
        finally:
            if bar is not None:
                bar.close()
        self._flush_losses()
        if self.checkpoint is not None and max_steps is not None and self.global_step >= max_steps:
            self.save()
        return self.history
