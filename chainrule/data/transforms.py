"""Data transforms: composition, dtype conversion, normalisation, one-hot labels, standardisation.

Transforms take NumPy arrays or Tensors and return the same kind. (Random image augmentation lives
elsewhere.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = ["Compose", "Normalize", "ToFloat", "Flatten", "OneHot", "one_hot", "StandardScaler"]


def _unwrap(x: Any) -> tuple[np.ndarray, bool]:
    if isinstance(x, Tensor):
        return x.data, True
    return np.asarray(x), False


def _rewrap(a: np.ndarray, was_tensor: bool) -> Any:
    return Tensor(a) if was_tensor else a


class Compose:
    """Apply transforms one after another: ``Compose([ToFloat(), Normalize(0.1307, 0.3081)])``."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class ToFloat:
    """Convert to a float dtype (default float32); uint8 images are scaled to [0, 1] unless ``scale`` is
    given (``scale`` multiplies the values)."""

    def __init__(self, dtype: Any = np.float32, scale: float | None = None):
        self.dtype = np.dtype(dtype)
        self.scale = scale

    def __call__(self, x: Any) -> Any:
        a, t = _unwrap(x)
        scale = self.scale if self.scale is not None else (1.0 / 255.0 if a.dtype == np.uint8 else None)
        out = a.astype(self.dtype)
        if scale is not None:
            out *= self.dtype.type(scale)
        return _rewrap(out, t)

    def __repr__(self) -> str:
        return f"ToFloat(dtype={self.dtype.name}, scale={self.scale})"


class Normalize:
    """``(x - mean) / std``. Scalar statistics act elementwise; per-channel sequences of length C act on
    the channel axis, which is axis -3 for images ((C, H, W) samples or (N, C, H, W) batches) and the last
    axis for 1-D/2-D feature arrays (or the given ``axis``)."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float], axis: int | None = None):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {std}")
        if self.mean.ndim > 1 or self.std.ndim > 1:
            raise ValueError("Normalize: mean and std must be scalars or 1-D per-channel sequences")
        self.axis = axis

    def __call__(self, x: Any) -> Any:
        a, t = _unwrap(x)
        dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
        mean, std = self.mean, self.std
        if mean.ndim or std.ndim:
            axis = self.axis if self.axis is not None else (-3 if a.ndim >= 3 else -1)
            c = a.shape[axis]
            for name, v in (("mean", mean), ("std", std)):
                if v.ndim and v.shape[0] != c:
                    raise ValueError(
                        f"Normalize: {name} has {v.shape[0]} entries but the channel axis {axis} of the input "
                        f"(shape {a.shape}) has {c}"
                    )
            shape = [1] * a.ndim
            shape[axis] = -1
            mean = mean.reshape(shape) if mean.ndim else mean
            std = std.reshape(shape) if std.ndim else std
        out = (a - mean.astype(dtype)) / std.astype(dtype)
        return _rewrap(out.astype(dtype, copy=False), t)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Flatten:
    """Flatten dims ``start_dim..end`` into one: default ``start_dim=1`` flattens each sample of a batch
    (N, C, H, W) -> (N, C*H*W), like ``nn.Flatten``; use ``start_dim=0`` for a single sample."""

    def __init__(self, start_dim: int = 1):
        self.start_dim = start_dim

    def __call__(self, x: Any) -> Any:
        a, t = _unwrap(x)
        s = self.start_dim if self.start_dim >= 0 else a.ndim + self.start_dim
        return _rewrap(a.reshape(a.shape[:s] + (-1,)), t)

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim})"


# ----------------------------------------------------------------------------- one-hot (spec: DATA-ONEHOT)
def _check_labels(y: np.ndarray, num_classes: int | None) -> np.ndarray:
    if y.dtype.kind == "b":
        raise TypeError("one_hot: labels must be integers 0..K-1, got booleans; convert with y.astype(int)")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            bad = y[~np.isfinite(y) | (y != np.round(y))].ravel()[:3]
            raise ValueError(
                f"one_hot: labels must be integers 0..K-1, got non-integer values such as {bad.tolist()}; "
                "pass class indices (use OneHot().fit(y) to encode arbitrary labels)"
            )
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iu":
        raise TypeError(
            f"one_hot: labels must be integers 0..K-1, got dtype {y.dtype}; use OneHot().fit(y) to encode "
            "arbitrary labels"
        )
    if y.size and y.min() < 0:
        raise ValueError(f"one_hot: labels must be >= 0, got {int(y.min())}")
    if num_classes is not None and y.size and y.max() >= num_classes:
        raise ValueError(
            f"one_hot: labels must be < num_classes={num_classes}, got {int(y.max())}; pass a larger "
            "num_classes"
        )
    return y.astype(np.int64, copy=False)


def one_hot(y: Any, num_classes: int | None = None, dtype: Any = np.float32) -> Any:
    """Class indices (any shape) -> one-hot vectors along a new last axis (spec: DATA-ONEHOT).

    ``num_classes`` defaults to ``max(y) + 1``. Negative, >= K or non-integer labels raise clear errors.
    Inverse: ``argmax`` over the last axis.
    """
    a, t = _unwrap(y)
    idx = _check_labels(a, num_classes)
    k = int(num_classes) if num_classes is not None else (int(idx.max()) + 1 if idx.size else 0)
    out = np.zeros(idx.shape + (k,), dtype=dtype)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return _rewrap(out, t)


class OneHot:
    """One-hot encoder (spec: DATA-ONEHOT).

    ``OneHot(K)`` encodes class indices 0..K-1. ``OneHot().fit(labels)`` learns ``classes_`` = sorted
    unique labels (any sortable values, e.g. strings), so arbitrary labels map to 0..K-1 in that order;
    ``inverse_transform`` maps one-hot (or score) rows back through ``argmax``.
    """

    def __init__(self, num_classes: int | None = None, dtype: Any = np.float32):
        self.num_classes = num_classes
        self.dtype = dtype
        self.classes_: np.ndarray | None = None if num_classes is None else np.arange(num_classes)

    def fit(self, y: Any) -> OneHot:
        a, _ = _unwrap(y)
        self.classes_ = np.unique(a)
        self.num_classes = len(self.classes_)
        return self

    def _indices(self, a: np.ndarray) -> np.ndarray:
        if self.classes_ is None:
            raise RuntimeError("OneHot: call fit(y) first or pass num_classes")
        if self.num_classes is not None and np.array_equal(self.classes_, np.arange(self.num_classes)) \
                and a.dtype.kind in "iufb":
            return _check_labels(a, self.num_classes)
        pos = np.searchsorted(self.classes_, a)
        pos = np.clip(pos, 0, len(self.classes_) - 1)
        unknown = self.classes_[pos] != a
        if np.any(unknown):
            raise ValueError(
                f"OneHot: labels {np.unique(a[unknown])[:5].tolist()} were not seen in fit (classes_ = "
                f"{self.classes_.tolist()[:10]}...)"
            )
        return pos

    def __call__(self, y: Any) -> Any:
        return self.transform(y)

    def transform(self, y: Any) -> Any:
        a, t = _unwrap(y)
        return _rewrap(one_hot(self._indices(a), len(self.classes_), self.dtype), t)

    def fit_transform(self, y: Any) -> Any:
        return self.fit(y).transform(y)

    def inverse_transform(self, y_onehot: Any) -> np.ndarray:
        a, _ = _unwrap(y_onehot)
        if self.classes_ is None:
            raise RuntimeError("OneHot: call fit(y) first or pass num_classes")
        return self.classes_[np.argmax(a, axis=-1)]


# ----------------------------------------------------------------------------- standardisation
class StandardScaler:
    """Per-feature standardisation fitted on training data only (spec: DATA-STANDARDIZE).

    ``x' = (x - mu) / sigma`` with population statistics (ddof 0) and ``sigma = 0 -> 1`` (constant features
    are only centred). Optional whitening with the training covariance Sigma = U diag(lam) U^T:
    ``whiten='pca'``: x' = (lam + eps)^(-1/2) U^T (x - mu); ``whiten='zca'``: x' = U (lam + eps)^(-1/2) U^T
    (x - mu); eps = 1e-5. Inputs are (N, ...) arrays; trailing dims are flattened for whitening.
    Fit on train, then ``transform`` train, validation and test with the *train* statistics; targets of
    regression can be scaled the same way and mapped back with ``inverse_transform``.
    """

    def __init__(self, whiten: str | None = None, eps: float = 1e-5, with_mean: bool = True,
                 with_std: bool = True):
        if whiten not in (None, "pca", "zca"):
            raise ValueError(f"StandardScaler: whiten must be None, 'pca' or 'zca', got {whiten!r}")
        self.whiten = whiten
        self.eps = float(eps)
        self.with_mean = with_mean
        self.with_std = with_std
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.var_: np.ndarray | None = None
        self.components_: np.ndarray | None = None  # U (D, D), columns = eigenvectors
        self.eigenvalues_: np.ndarray | None = None
        self._shape: tuple | None = None

    def fit(self, x: Any) -> StandardScaler:
        a, _ = _unwrap(x)
        if a.ndim < 1 or a.shape[0] == 0:
            raise ValueError(f"StandardScaler.fit: need an (N, ...) array with N >= 1, got shape {a.shape}")
        a64 = a.astype(np.float64).reshape(a.shape[0], -1) if self.whiten else a.astype(np.float64)
        self._shape = a.shape[1:]
        self.mean_ = a64.mean(axis=0) if self.with_mean else np.zeros(a64.shape[1:])
        self.var_ = a64.var(axis=0)
        scale = np.sqrt(self.var_)
        scale[scale == 0] = 1.0
        self.scale_ = scale if self.with_std else np.ones_like(scale)
        if self.whiten:
            xc = a64 - self.mean_
            cov = xc.T @ xc / a64.shape[0]
            lam, u = np.linalg.eigh(cov)
            self.eigenvalues_ = np.clip(lam, 0.0, None)
            self.components_ = u
        return self

    def _check(self, a: np.ndarray) -> None:
        if self.mean_ is None:
            raise RuntimeError("StandardScaler: call fit(train_x) before transform")
        if a.shape[1:] != self._shape:
            raise ValueError(
                f"StandardScaler: fitted on samples of shape {self._shape}, got an array of shape {a.shape}"
            )

    def transform(self, x: Any) -> Any:
        a, t = _unwrap(x)
        self._check(a)
        dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
        if not self.whiten:
            out = (a - self.mean_) / self.scale_
        else:
            xc = a.reshape(a.shape[0], -1).astype(np.float64) - self.mean_
            w = 1.0 / np.sqrt(self.eigenvalues_ + self.eps)
            out = (xc @ self.components_) * w
            if self.whiten == "zca":  # back in input space: keep the input's shape
                out = (out @ self.components_.T).reshape(a.shape)
        return _rewrap(np.asarray(out, dtype=dtype), t)

    def fit_transform(self, x: Any) -> Any:
        return self.fit(x).transform(x)

    def inverse_transform(self, x: Any) -> Any:
        a, t = _unwrap(x)
        if self.mean_ is None:
            raise RuntimeError("StandardScaler: call fit(train_x) before inverse_transform")
        dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
        if not self.whiten:
            out = a * self.scale_ + self.mean_
        else:
            z = a.reshape(a.shape[0], -1).astype(np.float64)
            if self.whiten == "zca":
                z = z @ self.components_
            out = (z * np.sqrt(self.eigenvalues_ + self.eps)) @ self.components_.T + self.mean_
            out = out.reshape((a.shape[0],) + self._shape)
        return _rewrap(np.asarray(out, dtype=dtype), t)
