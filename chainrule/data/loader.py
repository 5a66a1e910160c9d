"""Mini-batch iteration over a dataset.

An epoch is a random permutation of the indices cut into ``ceil(N/B)`` disjoint batches, the last one
smaller unless ``drop_last`` (spec: TRAIN-EPOCHS, SGD-MINIBATCH, TRAIN-SGD-MODES); one batch = one update.
``sampling="with_replacement"`` instead draws each batch's B indices uniformly with replacement (the
[S3] SGD of SGD-MINIBATCH).

Fast path: for datasets with a vectorised :meth:`~chainrule.data.dataset.Dataset.batch_getter` (e.g.
:class:`~chainrule.data.dataset.TensorDataset`), every batch is one fancy-index per array plus a
Tensor wrapper -- a few microseconds per batch, no per-sample Python loop.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..backend import Generator, _gen, get_default_dtype
from ..tensor import Tensor

__all__ = ["DataLoader", "SequentialSampler", "RandomSampler", "default_collate"]

_wrap = Tensor._wrap


class SequentialSampler:
    """Indices ``0, 1, ..., n-1`` in order."""

    def __init__(self, n: int):
        self.n = int(n)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.n))

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int) -> None:  # order does not depend on the epoch
        pass


class RandomSampler:
    """A fresh permutation of ``range(n)`` each epoch (or ``num_samples`` draws with replacement).

    With ``seed`` given, epoch ``e`` uses ``seed + e`` (set by :meth:`set_epoch`), so all workers that
    share the seed see the same order; otherwise draws come from ``generator`` (spec: TRAIN-EPOCHS).
    """

    def __init__(self, n: int, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None, seed: int | None = None):
        self.n = int(n)
        self.replacement = replacement
        self.num_samples = self.n if num_samples is None else int(num_samples)
        self.generator = generator
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _rng(self) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng(self.seed + self.epoch)
        return _gen(self.generator).rng

    def indices(self) -> np.ndarray:
        rng = self._rng()
        if self.replacement:
            return rng.integers(0, self.n, size=self.num_samples)
        return rng.permutation(self.n)[: self.num_samples]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


def _to_field_array(items: list) -> np.ndarray:
    first = items[0]
    if isinstance(first, Tensor):
        return np.stack([t.data for t in items])
    if isinstance(first, np.ndarray | np.generic):
        return np.stack(items)
    if isinstance(first, bool | np.bool_):
        return np.asarray(items, dtype=bool)
    if isinstance(first, numbers.Integral):
        return np.asarray(items, dtype=np.int64)
    if isinstance(first, numbers.Real):
        return np.asarray(items, dtype=get_default_dtype())
    return np.asarray(items)


def default_collate(samples: Sequence[Any]) -> tuple[np.ndarray, ...]:
    """Stack a list of samples field by field into arrays.

    Each sample is a tuple/list of fields (or a single field). Tensors and arrays are stacked along a new
    first axis; Python ints become int64, floats the default float dtype.
    """
    if not samples:
        raise ValueError("default_collate: got an empty batch")
    first = samples[0]
    if isinstance(first, tuple | list):
        k = len(first)
        return tuple(_to_field_array([s[j] for s in samples]) for j in range(k))
    if isinstance(first, dict):
        raise TypeError(
            "default_collate: dict samples are not supported; return a tuple (x, y) from __getitem__ or "
            "pass collate_fn="
        )
    return (_to_field_array(list(samples)),)


class DataLoader:
    """Iterate over a dataset in mini-batches of Tensors.

    ``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, generator=None, transform=None,
    sampler=None, collate_fn=None, sampling="without_replacement")``

    * each ``iter(loader)`` is one epoch; it yields tuples of Tensors ``(x_batch, y_batch, ...)``;
    * ``shuffle=True``: a new permutation of the indices per epoch from ``generator`` (default: the global
      generator, so ``chainrule.manual_seed`` makes runs repeatable); batches are disjoint and cover every
      sample once (spec: TRAIN-EPOCHS);
    * ``sampling="with_replacement"``: each of the ``len(loader)`` batches is ``batch_size`` uniform draws
      (spec: SGD-MINIBATCH);
    * ``sampler``: any object with ``__iter__`` yielding indices (and optionally ``__len__`` and
      ``set_epoch(e)``, called at the start of every epoch, e.g. a distributed sampler); exclusive with
      ``shuffle``;
    * ``transform``: a callable applied to each collated *batch* of the first field (the inputs), as a
      NumPy array, before it is wrapped in a Tensor (use batch-aware transforms such as
      ``Flatten(start_dim=1)`` or ``Normalize``);
    * ``collate_fn(list_of_samples) -> tuple of arrays/Tensors``: replaces the default stacking (disables
      the vectorised fast path).
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 generator: Generator | None = None, transform: Callable | None = None,
                 sampler: Iterable[int] | None = None, collate_fn: Callable | None = None,
                 sampling: str = "without_replacement"):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if sampling not in ("without_replacement", "with_replacement"):
            raise ValueError(
                f"DataLoader: sampling must be 'without_replacement' (default, epochs are permutations) or "
                f"'with_replacement' (uniform draws), got {sampling!r}"
            )
        if sampler is not None and (shuffle or sampling == "with_replacement"):
            raise ValueError(
                "DataLoader: pass either sampler= or shuffle/sampling options, not both (the sampler decides "
                "the order)"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.transform = transform
        self.sampler = sampler
        self.collate_fn = collate_fn
        self.sampling = sampling
        self.epoch = int(getattr(sampler, "epoch", 0) or 0) if sampler is not None else 0
        self._last_set = getattr(sampler, "epoch", None)
        self._forced = False

    # ------------------------------------------------------------------ sizes
    def _num_samples(self) -> int:
        if self.sampler is not None:
            try:
                return len(self.sampler)  # type: ignore[arg-type]
            except TypeError:
                raise TypeError(
                    "DataLoader: len() needs a sampler with __len__; this sampler has none"
                ) from None
        return len(self.dataset)

    def __len__(self) -> int:
        """Number of batches per epoch: ceil(N/B), or floor(N/B) with drop_last."""
        n = self._num_samples()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch number passed to the sampler's ``set_epoch`` at the next iteration.

        The loader counts epochs itself (0, 1, 2, ... one per ``iter``) and hands the count to the
        sampler; if the sampler's ``epoch`` was changed directly (``sampler.set_epoch(e)``) since the
        loader last set it, that value is respected instead.
        """
        self.epoch = int(epoch)
        self._forced = True

    # ------------------------------------------------------------------ order
    def _epoch_indices(self) -> np.ndarray:
        """The concatenated indices of this epoch, one entry per sample drawn."""
        if self.sampler is not None:
            set_epoch = getattr(self.sampler, "set_epoch", None)
            if set_epoch is not None:
                cur = getattr(self.sampler, "epoch", None)
                if not self._forced and cur is not None and cur != self._last_set:
                    self.epoch = int(cur)  # the user called sampler.set_epoch(e) directly
                set_epoch(self.epoch)
                self._last_set = self.epoch
                self._forced = False
            idx_fn = getattr(self.sampler, "indices", None)
            if idx_fn is not None:
                return np.asarray(idx_fn(), dtype=np.int64)
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if self.sampling == "with_replacement":
            return _gen(self.generator).rng.integers(0, n, size=len(self) * self.batch_size) if n else \
                np.zeros(0, np.int64)
        if self.shuffle:
            return np.asarray(_gen(self.generator).permutation(n), dtype=np.int64)
        return np.arange(n, dtype=np.int64)

    def batch_indices(self) -> list[np.ndarray]:
        """The index arrays of one epoch's batches (advances the random state like an epoch)."""
        idx = self._epoch_indices()
        b = self.batch_size
        nb = len(idx) // b if self.drop_last else -(-len(idx) // b)
        return [idx[i * b:(i + 1) * b] for i in range(nb)]

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        idx = self._epoch_indices()
        self.epoch += 1
        b = self.batch_size
        n = len(idx)
        stop = (n // b) * b if self.drop_last else n
        transform = self.transform
        getter = None
        if self.collate_fn is None:
            bg = getattr(self.dataset, "batch_getter", None)
            getter = bg() if bg is not None else None
        if getter is not None:
            return self._iter_fast(getter, idx, b, stop, transform)
        return self._iter_slow(idx, b, stop, transform)

    @staticmethod
    def _iter_fast(getter: Callable, idx: np.ndarray, b: int, stop: int,
                   transform: Callable | None) -> Iterator[tuple[Tensor, ...]]:
        # One fancy-index per array per batch; Tensor._wrap avoids constructor overhead.
        if transform is None:
            for i in range(0, stop, b):
                yield tuple(map(_wrap, getter(idx[i:i + b])))
        else:
            for i in range(0, stop, b):
                x, *rest = getter(idx[i:i + b])
                yield (_as_tensor(transform(x)), *map(_wrap, rest))

    def _iter_slow(self, idx: np.ndarray, b: int, stop: int,
                   transform: Callable | None) -> Iterator[tuple[Tensor, ...]]:
        ds = self.dataset
        collate = self.collate_fn or default_collate
        for i in range(0, stop, b):
            samples = [ds[int(j)] for j in idx[i:i + b]]
            out = collate(samples)
            if not isinstance(out, tuple | list):
                out = (out,)
            out = list(out)
            if transform is not None:
                out[0] = transform(out[0].data if isinstance(out[0], Tensor) else out[0])
            yield tuple(_as_tensor(o) for o in out)

    def __repr__(self) -> str:
        return (f"DataLoader(n={self._num_samples()}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, sampling={self.sampling!r})")


def _as_tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return _wrap(x)
    return Tensor(x)
