"""The embedded default data set: 1,797 8x8 handwritten digits (scikit-learn's copy of the UCI set).

It ships inside the package (``data/embedded/digits.npz``, 10 classes, BSD-3-Clause, see LICENSE.txt
there), so examples and tests run without any download.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["load_digits"]

_NPZ = Path(__file__).with_name("embedded") / "digits.npz"


@lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        with np.load(_NPZ, allow_pickle=False) as z:
            images, labels, test_index = z["images"], z["labels"], z["test_index"]
    except (OSError, KeyError, ValueError) as e:
        raise RuntimeError(
            f"the embedded digits file {_NPZ} is missing or damaged ({e}); reinstall chainrule"
        ) from None
    for a in (images, labels, test_index):
        a.flags.writeable = False
    return images, labels, test_index


def _stratified_test_index(labels: np.ndarray, test_size: float, random_state: int) -> np.ndarray:
    """Sorted test indices: round(test_size * n_k) random samples of every class k."""
    rng = np.random.default_rng(random_state)
    out = []
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        n_test = int(round(test_size * members.size))
        out.append(rng.permutation(members)[:n_test])
    return np.sort(np.concatenate(out))


def load_digits(split: str | None = None, test_size: float = 0.2, random_state: int = 0,
                normalize: bool = True, as_images: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The embedded 8x8 digits as ``(X, y)``: X float32, y int64 in 0..9.

    * ``split``: None (all 1,797), ``'train'`` or ``'test'`` -- a fixed stratified split with
      ``round(test_size * n_k)`` test samples of each class k (the default test_size=0.2,
      random_state=0 split is stored in the package, so it is the same on every NumPy version);
    * ``normalize``: pixels scaled from 0..16 to [0, 1];
    * ``as_images``: X of shape (N, 1, 8, 8) (NCHW); else (N, 64).
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"load_digits: split must be None, 'train' or 'test', got {split!r}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"load_digits: test_size must be a fraction in (0, 1), got {test_size}")
    images, labels, stored_test = _raw()
    x = images.astype(np.float32)
    if normalize:
        x /= np.float32(16.0)
    x = x[:, None] if as_images else x.reshape(len(x), 64)
    y = labels.astype(np.int64)
    if split is None:
        return x, y
    if test_size == 0.2 and random_state == 0:
        test = stored_test.astype(np.int64)
    else:
        test = _stratified_test_index(labels, test_size, random_state)
    mask = np.zeros(len(y), dtype=bool)
    mask[test] = True
    if split == "train":
        mask = ~mask
    return x[mask], y[mask]
