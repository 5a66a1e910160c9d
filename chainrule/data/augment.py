"""Image data augmentation: seeded, vectorised random transforms for NCHW float batches.  (spec: AUG-IMAGE,
AUG-INVARIANCE)

Every transform takes a batch (N, C, H, W), a single image (C, H, W), or flat rows (N, C·H·W) together with
``image_shape=(C, H, W)``, as a NumPy array or a Tensor, and returns the same kind and shape.  Each sample
gets its own random parameters, drawn afresh at every call from ``generator`` (a
:class:`chainrule.Generator`; default the global one, so ``chainrule.manual_seed`` makes runs repeatable) —
use them as ``DataLoader(..., transform=t)`` to augment on the fly, a new variant of every image each epoch.
Labels are unchanged, so only label-preserving transforms make sense (no flips for digits or letters:
b ↔ d).

Geometry: row i grows downwards, column j to the right, the centre is ((H − 1)/2, (W − 1)/2); a positive
rotation angle turns the image counter-clockwise as displayed (90° = ``np.rot90(x, 1, axes=(2, 3))``).
Pixels that come from outside the image take ``fill`` (default 0).  Warps (rotation, shear, affine,
elastic) sample the input bilinearly (or nearest) with one gather per batch; integer translations and
crops are exact copies.

The augmented objective ('concat', L augmented copies next to N originals) is
R = (1/N)Σₙ L(yⁿ, g(xⁿ)) + (1/L)Σ_l L(yˡ, g(xˡ)); :class:`AugmentedDataset` can return these per-sample
weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from ..backend import Generator, _gen
from ..tensor import Tensor
from .dataset import Dataset
from .transforms import Compose

__all__ = [
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop", "RandomTranslate", "RandomShift",
    "RandomRotation", "RandomShear", "RandomAffine", "ElasticDeformation", "AddGaussianNoise",
    "ChannelBrightness", "ColorJitter", "Compose", "AugmentedDataset", "affine_warp",
]


# ============================================================================ base
class _Augment:
    """Shared plumbing: unwrap Tensors, bring the input to (N, C, H, W), apply, restore."""

    def __init__(self, generator: Generator | None = None, image_shape: Sequence[int] | None = None):
        self.generator = generator
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)

    def _rng(self) -> np.random.Generator:
        return _gen(self.generator).rng

    def __call__(self, x: Any) -> Any:
        is_t = isinstance(x, Tensor)
        a = x.data if is_t else np.asarray(x)
        shape = a.shape
        if a.ndim == 4:
            b = a
        elif a.ndim == 3 and (self.image_shape is None or len(self.image_shape) == 3):
            b = a[None]
        elif self.image_shape is not None and a.ndim in (1, 2) and a.shape[-1] == int(np.prod(self.image_shape)):
            b = a.reshape((-1,) + self.image_shape)
        else:
            raise ValueError(
                f"{type(self).__name__} expects images (N, C, H, W) or (C, H, W), or flat rows with "
                f"image_shape=(C, H, W); got shape {shape}"
                + ("" if self.image_shape is None else f" with image_shape={self.image_shape}"))
        if b.dtype.kind != "f":
            raise TypeError(f"{type(self).__name__} works on floating images, got {b.dtype}; convert first "
                            "(e.g. data.transforms.ToFloat())")
        out = self._apply(b, self._rng()).astype(b.dtype, copy=False)
        if a.ndim == 3 and b.ndim == 4 and a.shape == b.shape[1:]:
            out = out[0]
        elif a.ndim in (1, 2):
            out = out.reshape(shape[:-1] + (-1,))
        return Tensor(out) if is_t else out

    def _apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        keys = [k for k in self.__dict__ if k not in ("generator", "image_shape")]
        return f"{type(self).__name__}(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in keys) + ")"


def _range(v: float | Sequence[float], name: str, symmetric: bool = True) -> tuple[float, float]:
    if isinstance(v, int | float):
        if v < 0:
            raise ValueError(f"{name} must be >= 0 (a symmetric range ±{name}), got {v}")
        return (-float(v), float(v)) if symmetric else (0.0, float(v))
    lo, hi = (float(t) for t in v)
    if lo > hi:
        raise ValueError(f"{name} range must be (low, high) with low <= high, got {v}")
    return lo, hi


# ============================================================================ flips, crops, shifts
class RandomHorizontalFlip(_Augment):
    """Mirror left ↔ right (the W axis) with probability ``p``.  (spec: AUG-IMAGE)"""

    def __init__(self, p: float = 0.5, generator: Generator | None = None, image_shape=None):
        super().__init__(generator, image_shape)
        if not 0 <= p <= 1:
            raise ValueError(f"flip probability must be in [0, 1], got {p}")
        self.p = float(p)

    def _apply(self, x, rng):
        sel = rng.random(x.shape[0]) < self.p
        return np.where(sel[:, None, None, None], x[..., ::-1], x)


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top ↔ bottom (the H axis) with probability ``p``.  (spec: AUG-IMAGE)"""

    def _apply(self, x, rng):
        sel = rng.random(x.shape[0]) < self.p
        return np.where(sel[:, None, None, None], x[:, :, ::-1, :], x)


def _crop_at(padded: np.ndarray, oy: np.ndarray, ox: np.ndarray, h: int, w: int) -> np.ndarray:
    """Per-sample windows padded[n, :, oy[n]:oy[n]+h, ox[n]:ox[n]+w] with one gather (no Python loop)."""
    win = sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, H', W', h, w), a view
    return win[np.arange(padded.shape[0]), :, oy, ox]  # (N, C, h, w)


class RandomCrop(_Augment):
    """Pad by ``padding`` (with ``fill``) and cut a random ``size`` window; every offset in
    [0, H + 2p − h] × [0, W + 2p − w] is equally likely.  (spec: AUG-IMAGE)"""

    def __init__(self, size: int | Sequence[int], padding: int = 0, fill: float = 0.0,
                 generator: Generator | None = None, image_shape=None):
        super().__init__(generator, image_shape)
        self.size = (int(size), int(size)) if isinstance(size, int | np.integer) else tuple(int(s) for s in size)
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.padding, self.fill = int(padding), float(fill)

    def _apply(self, x, rng):
        p = self.padding
        h, w = self.size
        H, W = x.shape[2] + 2 * p, x.shape[3] + 2 * p
        if h > H or w > W:
            raise ValueError(f"crop size {self.size} is larger than the padded image {(H, W)}")
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill) if p else x
        n = x.shape[0]
        return _crop_at(xp, rng.integers(0, H - h + 1, n), rng.integers(0, W - w + 1, n), h, w)


class RandomTranslate(_Augment):
    """Shift each image by whole pixels (dy, dx), each uniform in {−max_px, …, max_px}; vacated pixels take
    ``fill``.  Pixel (i, j) moves to (i + dy, j + dx).  (spec: AUG-IMAGE, AUG-INVARIANCE)"""

    def __init__(self, max_px: int = 2, fill: float = 0.0, generator: Generator | None = None, image_shape=None):
        super().__init__(generator, image_shape)
        if max_px < 0:
            raise ValueError(f"max_px must be >= 0, got {max_px}")
        self.max_px, self.fill = int(max_px), float(fill)

    def shift(self, x: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
        """Deterministic shifts (arrays of length N) — the operation the random version samples."""
        m = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
        if m == 0:
            return x.copy()
        xp = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)), constant_values=self.fill)
        return _crop_at(xp, m - np.asarray(dy), m - np.asarray(dx), x.shape[2], x.shape[3])

    def _apply(self, x, rng):
        n, m = x.shape[0], self.max_px
        return self.shift(x, rng.integers(-m, m + 1, n), rng.integers(-m, m + 1, n))


class RandomShift(RandomTranslate):
    """``RandomShift(max_shift=2)``: :class:`RandomTranslate` with the spec's name and default; zero fill.
    (spec: AUG-INVARIANCE)"""

    def __init__(self, max_shift: int = 2, fill: float = 0.0, generator: Generator | None = None, image_shape=None):
        super().__init__(max_shift, fill, generator, image_shape)


# ============================================================================ warps
def affine_warp(x: np.ndarray, M: np.ndarray, t: np.ndarray | None = None, interpolation: str = "bilinear",
                fill: float = 0.0) -> np.ndarray:
    """Resample a batch (N, C, H, W): output pixel p (centred coordinates (i − cᵢ, j − cⱼ)) takes the input
    at M[n] @ p + cᵢⱼ + t[n]; M (N, 2, 2) maps output to input (row, column) offsets, t (N, 2) shifts.
    Bilinear (4 neighbours, out-of-image neighbours = ``fill``) or nearest.  Vectorised over the batch."""
    N, C, H, W = x.shape
    ci, cj = (H - 1) / 2.0, (W - 1) / 2.0
    u, v = np.meshgrid(np.arange(H) - ci, np.arange(W) - cj, indexing="ij")
    si = M[:, 0, 0, None, None] * u + M[:, 0, 1, None, None] * v + ci
    sj = M[:, 1, 0, None, None] * u + M[:, 1, 1, None, None] * v + cj
    if t is not None:
        si = si + t[:, 0, None, None]
        sj = sj + t[:, 1, None, None]
    return _sample(x, si, sj, interpolation, fill)


def _sample(x: np.ndarray, si: np.ndarray, sj: np.ndarray, interpolation: str, fill: float) -> np.ndarray:
    N, C, H, W = x.shape
    flat = np.moveaxis(x, 1, -1).reshape(N * H * W, C)  # one row per pixel: one take moves all channels
    base = (np.arange(N) * (H * W))[:, None, None]

    def gather(ii, jj):
        ok = (ii >= 0) & (ii < H) & (jj >= 0) & (jj < W)
        idx = base + np.clip(ii, 0, H - 1) * W + np.clip(jj, 0, W - 1)
        vals = np.take(flat, idx.ravel(), axis=0).reshape(N, H, W, C)
        return np.where(ok[..., None], vals, x.dtype.type(fill))

    if interpolation == "nearest":
        out = gather(np.rint(si).astype(np.int64), np.rint(sj).astype(np.int64))
    elif interpolation == "bilinear":
        fi, fj = np.floor(si), np.floor(sj)
        i0, j0 = fi.astype(np.int64), fj.astype(np.int64)
        di = (si - fi).astype(x.dtype)[..., None]
        dj = (sj - fj).astype(x.dtype)[..., None]
        top = gather(i0, j0) * (1 - dj) + gather(i0, j0 + 1) * dj
        bot = gather(i0 + 1, j0) * (1 - dj) + gather(i0 + 1, j0 + 1) * dj
        out = top * (1 - di) + bot * di
    else:
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    return np.moveaxis(out, -1, 1)


def _inv2(A: np.ndarray) -> np.ndarray:
    a, b, c, d = A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1]
    det = a * d - b * c
    return np.stack([np.stack([d, -b], -1), np.stack([-c, a], -1)], 1) / det[:, None, None]


def _rotation_forward(theta: np.ndarray) -> np.ndarray:
    """Counter-clockwise (as displayed) rotation of centred (row, column) offsets."""
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], 1)


class RandomAffine(_Augment):
    """Random rotation (``degrees``), translation (``translate`` = max fraction of H, W), scaling
    (``scale`` = (low, high)) and horizontal shear (``shear`` degrees) about the centre, composed as
    rotate ∘ scale ∘ shear then translate; one warp per batch.  (spec: AUG-IMAGE)"""

    def __init__(self, degrees: float | Sequence[float] = 0.0, translate: Sequence[float] | None = None,
                 scale: Sequence[float] | None = None, shear: float | Sequence[float] = 0.0,
                 interpolation: str = "bilinear", fill: float = 0.0, generator: Generator | None = None,
                 image_shape=None):
        super().__init__(generator, image_shape)
        self.degrees = _range(degrees, "degrees")
        self.shear = _range(shear, "shear")
        self.translate = None if translate is None else (float(translate[0]), float(translate[1]))
        self.scale = None if scale is None else (float(scale[0]), float(scale[1]))
        if self.scale is not None and self.scale[0] <= 0:
            raise ValueError(f"scale range must be positive, got {scale}")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        self.interpolation, self.fill = interpolation, float(fill)

    def matrices(self, n: int, H: int, W: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(M, t) mapping output to input coordinates for n random transforms."""
        theta = np.deg2rad(rng.uniform(*self.degrees, n))
        A = _rotation_forward(theta)
        if self.scale is not None:
            A = A * rng.uniform(*self.scale, n)[:, None, None]
        sh = np.tan(np.deg2rad(rng.uniform(*self.shear, n)))
        S = np.zeros((n, 2, 2))
        S[:, 0, 0] = S[:, 1, 1] = 1.0
        S[:, 1, 0] = sh  # column offset grows with the row: a horizontal shear
        A = A @ S
        M = _inv2(A)
        t = np.zeros((n, 2))
        if self.translate is not None:
            d = np.stack([rng.uniform(-self.translate[0] * H, self.translate[0] * H, n),
                          rng.uniform(-self.translate[1] * W, self.translate[1] * W, n)], 1)
            t = -np.einsum("nij,nj->ni", M, d)  # src = M(dst − d)
        return M, t

    def _apply(self, x, rng):
        M, t = self.matrices(x.shape[0], x.shape[2], x.shape[3], rng)
        return affine_warp(x, M, t, self.interpolation, self.fill)


class RandomRotation(RandomAffine):
    """Rotate about the centre by an angle uniform in ±``degrees`` (or in (low, high)); positive =
    counter-clockwise; bilinear or nearest; outside pixels = ``fill``.  (spec: AUG-IMAGE, AUG-INVARIANCE)"""

    def __init__(self, degrees: float | Sequence[float], interpolation: str = "bilinear", fill: float = 0.0,
                 generator: Generator | None = None, image_shape=None):
        super().__init__(degrees=degrees, interpolation=interpolation, fill=fill, generator=generator,
                         image_shape=image_shape)


class RandomShear(RandomAffine):
    """Horizontal shear by an angle uniform in ±``max_deg``: row i is shifted by tan(φ)·(i − cᵢ) columns.
    (spec: AUG-IMAGE)"""

    def __init__(self, max_deg: float = 10.0, interpolation: str = "bilinear", fill: float = 0.0,
                 generator: Generator | None = None, image_shape=None):
        super().__init__(shear=max_deg, interpolation=interpolation, fill=fill, generator=generator,
                         image_shape=image_shape)


class ElasticDeformation(_Augment):
    """Simard et al. (2003) elastic distortion: random displacement fields U(−1, 1) per pixel, smoothed by a
    Gaussian of width ``sigma`` (pixels) and scaled by ``alpha``; bilinear resampling.  Defaults for
    28 × 28 digits: alpha = 34, sigma = 4.  (spec: AUG-IMAGE)"""

    def __init__(self, alpha: float = 34.0, sigma: float = 4.0, fill: float = 0.0,
                 generator: Generator | None = None, image_shape=None):
        super().__init__(generator, image_shape)
        if alpha < 0 or sigma <= 0:
            raise ValueError(f"need alpha >= 0 and sigma > 0, got alpha={alpha}, sigma={sigma}")
        self.alpha, self.sigma, self.fill = float(alpha), float(sigma), float(fill)

    def _apply(self, x, rng):
        N, _, H, W = x.shape
        d = rng.uniform(-1, 1, (2, N, H, W))
        d = ndimage.gaussian_filter(d, sigma=(0, 0, self.sigma, self.sigma), mode="constant") * self.alpha
        i, j = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        return _sample(x, i + d[0], j + d[1], "bilinear", self.fill)


# ============================================================================ photometric
class AddGaussianNoise(_Augment):
    """x + N(0, std²) per pixel, optionally clipped to ``clip`` = (low, high).  (spec: AUG-IMAGE; the
    layer version for inputs/hidden units is ``chainrule.regularize.GaussianNoise``)"""

    def __init__(self, std: float = 0.1, clip: Sequence[float] | None = None, generator: Generator | None = None,
                 image_shape=None):
        super().__init__(generator, image_shape)
        if std < 0:
            raise ValueError(f"noise std must be >= 0, got {std}")
        self.std, self.clip = float(std), clip

    def _apply(self, x, rng):
        y = x + rng.standard_normal(x.shape) * self.std
        return np.clip(y, *self.clip) if self.clip is not None else y


class ChannelBrightness(_Augment):
    """Add one shift δ_c ~ U(−max_delta, max_delta) per image and channel: channel means move by exactly
    δ_c (no clipping).  (spec: AUG-IMAGE)"""

    def __init__(self, max_delta: float = 0.1, generator: Generator | None = None, image_shape=None):
        super().__init__(generator, image_shape)
        if max_delta < 0:
            raise ValueError(f"max_delta must be >= 0, got {max_delta}")
        self.max_delta = float(max_delta)

    def _apply(self, x, rng):
        return x + rng.uniform(-self.max_delta, self.max_delta, x.shape[:2])[:, :, None, None]


def _gray(x: np.ndarray) -> np.ndarray:
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise ValueError(f"saturation/contrast need 1 or 3 channels, got {x.shape[1]}")
    return (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]


def _rgb_to_hsv(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    mx = x.max(axis=1)
    mn = x.min(axis=1)
    d = mx - mn
    s = np.where(mx > 0, d / np.where(mx > 0, mx, 1), 0.0)
    dd = np.where(d > 0, d, 1)
    h = np.where(mx == r, ((g - b) / dd) % 6, np.where(mx == g, (b - r) / dd + 2, (r - g) / dd + 4))
    h = np.where(d > 0, h / 6.0, 0.0)
    return h, s, mx


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros((3,) + h.shape)
    for k, (a, b, c) in enumerate(choices):
        m = i == k
        out[0] = np.where(m, a, out[0])
        out[1] = np.where(m, b, out[1])
        out[2] = np.where(m, c, out[2])
    return np.moveaxis(out, 0, 1)


class ColorJitter(_Augment):
    """torchvision's ColorJitter for images in [0, 1], in the order brightness, contrast, saturation, hue,
    each clamped to [0, 1]: brightness x·b, b ~ U(max(0, 1 − B), 1 + B); contrast c·x + (1 − c)·mean(gray);
    saturation s·x + (1 − s)·gray (3 channels; gray = 0.299R + 0.587G + 0.114B); hue shift h ~ U(−H, H)
    (fraction of a turn, |H| ≤ 0.5; 3 channels).  (spec: AUG-IMAGE)"""

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0, hue: float = 0.0,
                 generator: Generator | None = None, image_shape=None):
        super().__init__(generator, image_shape)
        for name, v in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if v < 0:
                raise ValueError(f"{name} must be >= 0, got {v}")
        if not 0 <= hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {hue}")
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue

    def _apply(self, x, rng):
        N = x.shape[0]
        y = x.astype(np.float64)

        def factor(v):
            return rng.uniform(max(0.0, 1 - v), 1 + v, N)[:, None, None, None]

        if self.brightness:
            y = np.clip(y * factor(self.brightness), 0, 1)
        if self.contrast:
            c = factor(self.contrast)
            m = _gray(y).mean(axis=(1, 2, 3), keepdims=True)
            y = np.clip(c * y + (1 - c) * m, 0, 1)
        if self.saturation and y.shape[1] == 3:
            s = factor(self.saturation)
            y = np.clip(s * y + (1 - s) * _gray(y), 0, 1)
        if self.hue and y.shape[1] == 3:
            h, s, v = _rgb_to_hsv(y)
            h = (h + rng.uniform(-self.hue, self.hue, N)[:, None, None]) % 1.0
            y = _hsv_to_rgb(h, s, v)
        return y


# ============================================================================ dataset wrapper
class AugmentedDataset(Dataset):
    """``AugmentedDataset(ds, transform, mode='replace'|'concat', return_weights=False)``.  (spec: AUG-IMAGE)

    ``'replace'``: sample i is (transform(xᵢ), yᵢ), a fresh variant at every access (each epoch).
    ``'concat'``: the N originals followed by N augmented copies (indices N … 2N − 1).  With
    ``return_weights`` every sample also carries its weight in the augmented objective,
    1/N for originals and 1/L for the L augmented copies (use a 'sum' reduction of the weighted loss).
    Batches are gathered and augmented in one vectorised call when ``ds`` supports it.
    """

    def __init__(self, dataset: Any, transform: Callable, mode: str = "replace", return_weights: bool = False):
        if mode not in ("replace", "concat"):
            raise ValueError(f"mode must be 'replace' or 'concat', got {mode!r}")
        self.dataset, self.transform, self.mode, self.return_weights = dataset, transform, mode, return_weights
        self.n = len(dataset)

    def __len__(self) -> int:
        return self.n * (2 if self.mode == "concat" else 1)

    def _weight(self, augmented: bool) -> float:
        # 'concat': N originals and L = N copies, so both weights are 1/N; 'replace': L = N augmented samples
        return 1.0 / self.n

    def __getitem__(self, index: int) -> Any:
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"index {index} out of range for AugmentedDataset of length {len(self)}")
        aug = self.mode == "replace" or i >= self.n
        x, *rest = self.dataset[i % self.n]
        if aug:
            x = self.transform(x)
        out = (x, *rest)
        return out + (self._weight(aug),) if self.return_weights else out

    def batch_getter(self):
        bg = getattr(self.dataset, "batch_getter", None)
        get = bg() if bg is not None else None
        if get is None:
            return None
        n, t, mode, rw = self.n, self.transform, self.mode, self.return_weights

        def getter(idx: np.ndarray) -> tuple:
            idx = np.asarray(idx)
            x, *rest = get(idx % n)
            aug = np.ones(idx.shape[0], bool) if mode == "replace" else idx >= n
            if aug.any():
                x = np.array(x, copy=True)
                x[aug] = t(x[aug])
            out = (x, *rest)
            if rw:
                out = out + (np.full(idx.shape[0], 1.0 / n, dtype=x.dtype),)
            return out

        return getter

    def __repr__(self) -> str:
        return f"AugmentedDataset(n={self.n}, mode={self.mode!r}, transform={self.transform!r})"
