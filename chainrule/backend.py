"""Array backend and dtype policy.

chainrule computes on NumPy arrays.  The default floating dtype is float32 (as in PyTorch);
``set_default_dtype(np.float64)`` switches new tensors made from Python numbers or lists to float64,
which is what gradient checks and second-order methods use.

Random numbers come from explicit :class:`Generator` objects; ``manual_seed(n)`` reseeds the global
one, so the same seed gives the same run.
"""

from __future__ import annotations

import numpy as np

_default_dtype = np.dtype(np.float32)
FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def get_default_dtype() -> np.dtype:
    """The dtype given to tensors built from Python numbers and lists (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype: ``np.float32`` (default) or ``np.float64``."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"default dtype must be a floating dtype (float16/32/64), got {dt}")
    _default_dtype = dt


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def get_array_module(_x=None):
    """The array module for an array (NumPy on this backend)."""
    return np


class Generator:
    """A seeded source of random numbers (wraps ``numpy.random.Generator``).

    >>> g = Generator().manual_seed(0)
    >>> g.normal(size=3)  # same numbers for the same seed
    """

    __slots__ = ("_rng", "_seed")

    def __init__(self, seed: int | None = None):
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int | None:
        return self._seed

    @property
    def rng(self) -> np.random.Generator:
        return self._rng

    def get_state(self) -> dict:
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self._rng.bit_generator.state = state

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=None):
        out = self._rng.standard_normal(size=size, dtype=np.float64) * scale + loc
        return np.asarray(out, dtype=dtype or _default_dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=None):
        return np.asarray(self._rng.uniform(low, high, size=size), dtype=dtype or _default_dtype)

    def random(self, size=None, dtype=None):
        return np.asarray(self._rng.random(size=size), dtype=dtype or _default_dtype)

    def integers(self, low, high=None, size=None):
        return self._rng.integers(low, high, size=size)

    def permutation(self, n):
        return self._rng.permutation(n)


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Reseed the global generator used when no ``generator=`` is passed."""
    return default_generator.manual_seed(seed)


def _gen(generator: Generator | None) -> Generator:
    return default_generator if generator is None else generator
