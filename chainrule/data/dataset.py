"""Datasets: indexable collections of samples.

A :class:`Dataset` maps an index ``0 <= i < len(ds)`` to one sample (usually a tuple ``(x, y)``).
Datasets that can gather many samples at once with one vectorised index expose
:meth:`Dataset.batch_getter`; :class:`~chainrule.data.loader.DataLoader` then makes each mini-batch
with a single fancy-index per array instead of a Python loop over samples (spec: SGD-MINIBATCH,
TRAIN-EPOCHS).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import Generator, _gen
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]

BatchGetter = Callable[[np.ndarray], tuple]


class Dataset:
    """Abstract dataset: subclasses implement ``__len__`` and ``__getitem__``.

    Optionally override :meth:`batch_getter` to return a function ``f(indices) -> tuple of arrays``
    that gathers a whole batch at once (the loader's fast path).
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def batch_getter(self) -> BatchGetter | None:
        """A vectorised ``f(int64 index array) -> tuple of NumPy arrays``, or None if unsupported."""
        return None

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.ndarray):
        return x
    return Tensor(x).data  # Python lists/numbers follow the library's default dtype policy


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays: ``ds[i] = (a[i], b[i], ...)``.

    Accepts NumPy arrays, Tensors or nested lists (converted once; ndarrays are not copied).
    ``ds[i]`` returns a tuple of Tensors; the loader batches by one fancy-index per array.

    >>> ds = TensorDataset(np.zeros((5, 3)), np.arange(5))
    >>> len(ds)
    5
    """

    def __init__(self, *arrays: Any):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array, got none")
        arrs = tuple(_as_array(a) for a in arrays)
        for k, a in enumerate(arrs):
            if a.ndim == 0:
                raise ValueError(
                    f"TensorDataset: array {k} is a scalar (shape ()); every array needs a first "
                    "(sample) dimension. Reshape it, e.g. x.reshape(-1, 1)."
                )
        lengths = [a.shape[0] for a in arrs]
        if len(set(lengths)) != 1:
            raise ValueError(
                f"TensorDataset: all arrays must have the same first (sample) dimension, got lengths "
                f"{lengths}. Pass inputs and targets with one row per sample."
            )
        self.arrays: tuple[np.ndarray, ...] = arrs
        self._n = lengths[0]

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The stored arrays as Tensors (sharing memory)."""
        return tuple(Tensor._wrap(a) for a in self.arrays)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(Tensor._wrap(np.asarray(a[index])) for a in self.arrays)

    def batch_getter(self) -> BatchGetter:
        arrays = self.arrays
        if len(arrays) == 2:
            a0, a1 = arrays

            def get2(idx: np.ndarray) -> tuple:
                return a0.take(idx, axis=0), a1.take(idx, axis=0)

            return get2
        return lambda idx: tuple(a.take(idx, axis=0) for a in arrays)


class Subset(Dataset):
    """The samples ``dataset[indices[0]], dataset[indices[1]], ...`` (no data copied)."""

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray):
        idx = np.asarray(indices)
        if idx.size == 0:
            idx = idx.astype(np.int64)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise TypeError(
                f"Subset indices must be a 1-D sequence of integers, got dtype {idx.dtype} with shape "
                f"{idx.shape}"
            )
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(
                f"Subset indices must lie in [0, {n}) for a dataset of length {n}; got range "
                f"[{idx.min()}, {idx.max()}]"
            )
        self.dataset = dataset
        self.indices = np.where(idx < 0, idx + n, idx).astype(np.int64)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: Any) -> Any:
        return self.dataset[self.indices[index]]

    def batch_getter(self) -> BatchGetter | None:
        getter = getattr(self.dataset, "batch_getter", None)
        inner = getter() if getter is not None else None
        if inner is None:
            return None
        indices = self.indices
        return lambda idx: inner(indices[idx])


class ConcatDataset(Dataset):
    """Several datasets one after another."""

    def __init__(self, datasets: Sequence[Any]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset, got an empty list")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        index = int(index)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for ConcatDataset of length {n}")
        d = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if d == 0 else self.cumulative_sizes[d - 1]
        return self.datasets[d][index - start]

    def batch_getter(self) -> BatchGetter | None:
        getters = [getattr(d, "batch_getter", lambda: None)() for d in self.datasets]
        if any(g is None for g in getters):
            return None
        bounds = np.asarray([0] + self.cumulative_sizes, dtype=np.int64)

        def get(idx: np.ndarray) -> tuple:
            idx = np.asarray(idx, dtype=np.int64)
            which = np.searchsorted(bounds, idx, side="right") - 1
            parts = []
            order = []
            for d in np.unique(which):
                sel = np.nonzero(which == d)[0]
                order.append(sel)
                parts.append(getters[d](idx[sel] - bounds[d]))
            inv = np.argsort(np.concatenate(order), kind="stable")
            return tuple(np.concatenate([p[k] for p in parts])[inv] for k in range(len(parts[0])))

        return get


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into disjoint random :class:`Subset` s of the given lengths.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to 1 (remainders are
    given one by one to the first subsets, as in PyTorch). Same generator seed -> same split.
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1.0) < 1e-6:
        counts = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths):
        raise ValueError(f"random_split lengths must be non-negative integers or fractions, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths {lengths} sum to {int(sum(lengths))} but the dataset has {n} samples; "
            "give counts that sum to len(dataset) or fractions that sum to 1"
        )
    perm = _gen(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + int(length)]))
        start += int(length)
    return out
