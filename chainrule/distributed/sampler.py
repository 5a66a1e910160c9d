"""DistributedSampler: each rank's share of an epoch's global permutation.

Every rank builds the same permutation of ``range(N)`` for epoch e from the shared seed
(``np.random.default_rng(seed + e)``, exactly the order of ``chainrule.data.RandomSampler(N, seed=seed)``),
pads it by wrapping around to a multiple of the number of replicas p (unless ``drop_last``), and takes
its share (spec: TRAIN-EPOCHS — each epoch is one permutation, the shares are disjoint and cover it):

* ``mode='strided'`` (default): rank r takes positions r, r + p, r + 2p, …  With a per-rank batch b,
  step k of every rank together is the *contiguous* slice [k·p·b, (k+1)·p·b) of the global
  permutation: the same global batches a single process sees with ``RandomSampler(N, seed)`` and batch
  B = p·b.  This is what makes p-process data-parallel SGD equal one-process SGD (spec: TRAIN-SGD-MODES,
  OPT-SGD: the mean of equal-size batch gradients is the gradient of their union), and lets a run resume
  with a different number of workers on the same trajectory.
* ``mode='contiguous'``: rank r takes the r-th contiguous block (PyTorch-like locality, but the global
  batches differ from a single process's).

Resuming mid-epoch: ``set_epoch(e)`` then ``set_start_index(k)`` (k = global samples already consumed
in epoch e, e.g. steps × global batch); the next pass yields the rest of epoch e only, then the offset is
cleared.  Works with ``chainrule.data.DataLoader(dataset, batch_size=b, sampler=sampler)``, which calls
``set_epoch`` at the start of every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .comm import Communicator, get_communicator

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """``DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False,
    mode='strided', comm=None)``.

    ``dataset``: anything with ``len()`` or an int N.  ``num_replicas``/``rank`` default to the
    communicator's size/rank.  ``shuffle=False`` uses the order 0…N−1.  ``drop_last=True`` drops the tail
    that does not divide evenly instead of padding with repeated samples (padding keeps every rank's
    count equal, so the per-step collectives line up).
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False, mode: str = "strided",
                 comm: Communicator | None = None):
        n = dataset if isinstance(dataset, int | np.integer) else len(dataset)
        if num_replicas is None or rank is None:
            c = comm if comm is not None else get_communicator()
            num_replicas = c.size if num_replicas is None else num_replicas
            rank = c.rank if rank is None else rank
        if int(num_replicas) < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= int(rank) < int(num_replicas):
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas}), got {rank}")
        if mode not in ("strided", "contiguous"):
            raise ValueError(f"DistributedSampler: mode must be 'strided' or 'contiguous', got {mode!r}")
        if int(n) < 1:
            raise ValueError("DistributedSampler: the dataset is empty")
        self.n = int(n)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.mode = mode
        self.epoch = 0
        self.start_index = 0

    # --------------------------------------------------------------------- state
    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose permutation the next pass uses (all ranks must agree).  Moving to a
        different epoch clears a pending ``set_start_index``."""
        epoch = int(epoch)
        if epoch != self.epoch:
            self.start_index = 0
        self.epoch = epoch

    def set_start_index(self, start: int) -> None:
        """Skip the first ``start`` samples of the current epoch's global permutation on the next pass
        (resume after ``start`` samples; one pass only)."""
        if not 0 <= int(start) <= self.n:
            raise ValueError(f"set_start_index: start must be in [0, {self.n}] (samples of the epoch), got {start}")
        self.start_index = int(start)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "start_index": self.start_index, "seed": self.seed, "n": self.n}

    def load_state_dict(self, state: dict) -> None:
        if int(state["n"]) != self.n:
            raise ValueError(f"sampler state is for a data set of {int(state['n'])} samples, this one has {self.n}")
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        self.set_start_index(int(state["start_index"]))

    # --------------------------------------------------------------------- order
    def global_permutation(self, epoch: int | None = None) -> np.ndarray:
        """The permutation of range(N) for ``epoch`` (default: the current one), identical on all ranks."""
        e = self.epoch if epoch is None else int(epoch)
        if not self.shuffle:
            return np.arange(self.n, dtype=np.int64)
        return np.random.default_rng(self.seed + e).permutation(self.n).astype(np.int64)

    def _remaining(self) -> np.ndarray:
        rest = self.global_permutation()[self.start_index:]
        p = self.num_replicas
        if self.drop_last:
            return rest[: (len(rest) // p) * p]
        pad = (-len(rest)) % p
        if pad and len(rest):
            rest = np.concatenate([rest, np.resize(rest, pad)])
        return rest

    def _count(self) -> int:
        m = self.n - self.start_index
        p = self.num_replicas
        return m // p if self.drop_last else -(-m // p)

    def indices(self) -> np.ndarray:
        """This rank's indices for the next pass (consumes a pending start index)."""
        rest = self._remaining()
        p, r = self.num_replicas, self.rank
        if self.mode == "strided":
            out = rest[r::p]
        else:
            m = len(rest) // p
            out = rest[r * m:(r + 1) * m]
        self.start_index = 0
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self._count()

    def __repr__(self) -> str:
        return (f"DistributedSampler(n={self.n}, num_replicas={self.num_replicas}, rank={self.rank}, "
                f"shuffle={self.shuffle}, seed={self.seed}, mode={self.mode!r}, epoch={self.epoch})")
