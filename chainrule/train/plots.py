"""Figures written straight to PNG files: learning curves, confusion matrices, image grids.

Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas, so the library never touches
pyplot's global state or an interactive backend (and never calls ``plt.show``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_learning_curves", "plot_confusion_matrix", "plot_image_grid", "plot_misclassified",
           "plot_lr_search", "new_figure", "save_figure"]


def new_figure(figsize: tuple[float, float] = (6.4, 4.8), dpi: int = 100):
    """A Figure on an Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path


def _history_dict(history: Any) -> dict:
    return history if isinstance(history, dict) else history.to_dict()


def _moving_average(x: np.ndarray, w: int) -> np.ndarray:
    if w <= 1 or x.size < w:
        return x
    c = np.cumsum(np.insert(np.nan_to_num(x), 0, 0.0))
    return (c[w:] - c[:-w]) / w


def plot_learning_curves(history: Any, path: str | os.PathLike, metrics: Sequence[str] | None = None,
                         title: str | None = None, log_loss: bool = False) -> Path:
    """Learning curves as a PNG (spec: TRAIN-CURVES): (1) the training loss of every update with a moving
    average, (2) training and validation loss per epoch (± one standard error for validation when
    recorded), (3) each metric per epoch on training and validation data.  ``history``: a
    :class:`~chainrule.train.loop.History` or its ``to_dict()``.  Returns the file path."""
    h = _history_dict(history)
    series = h.get("metrics", {})
    epochs = np.asarray(h.get("epochs", []), dtype=float) + 1
    if metrics is None:
        skip = {"loss", "val_loss", "val_loss_se", "lr", "time"}
        metrics = [k for k in series if k not in skip and not k.startswith("val_")]
        metrics += [k[4:] for k in series if k.startswith("val_") and k not in skip and k[4:] not in metrics]
    panels = 2 + len(metrics)
    fig = new_figure(figsize=(4.2 * panels, 3.6))
    axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]

    ax = axes[0]
    bl = np.asarray(h.get("batch_loss", []), dtype=float)
    if bl.size:
        ax.plot(np.arange(1, bl.size + 1), bl, lw=0.6, alpha=0.35, color="C0", label="per update")
        w = max(1, bl.size // 50)
        ma = _moving_average(bl, w)
        ax.plot(np.arange(w, w + ma.size), ma, lw=1.5, color="C0", label=f"moving avg ({w})" if w > 1 else None)
    ax.set_xlabel("update")
    ax.set_ylabel("training loss")
    ax.set_title("loss per update")
    if log_loss or (bl.size and np.nanmin(bl) > 0 and np.nanmax(bl) / max(np.nanmin(bl), 1e-300) > 100):
        ax.set_yscale("log")
    ax.legend(fontsize=8)

    ax = axes[1]
    if "loss" in series:
        ax.plot(epochs, series["loss"], "o-", ms=3, label="train")
    if "val_loss" in series:
        v = np.asarray(series["val_loss"], dtype=float)
        ax.plot(epochs, v, "s-", ms=3, label="validation")
        if "val_loss_se" in series:
            se = np.asarray(series["val_loss_se"], dtype=float)
            ax.fill_between(epochs, v - se, v + se, alpha=0.25, color="C1")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("loss per epoch")
    if log_loss:
        ax.set_yscale("log")
    ax.legend(fontsize=8)

    for ax, m in zip(axes[2:], metrics):
        if m in series:
            ax.plot(epochs, series[m], "o-", ms=3, label="train")
        if "val_" + m in series:
            ax.plot(epochs, series["val_" + m], "s-", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(m)
        ax.set_title(f"{m} per epoch")
        ax.legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_confusion_matrix(cm: np.ndarray, path: str | os.PathLike, class_names: Sequence[str] | None = None,
                          normalize: bool = False, title: str | None = None) -> Path:
    """The confusion matrix (rows = true class, columns = predicted) as an annotated image."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square (K, K), got shape {cm.shape}")
    k = cm.shape[0]
    shown = cm.astype(float)
    if normalize:
        rows = shown.sum(axis=1, keepdims=True)
        shown = np.divide(shown, rows, out=np.zeros_like(shown), where=rows > 0)
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for a {k}x{k} confusion matrix")
    size = max(4.0, 0.45 * k + 2)
    fig = new_figure(figsize=(size + 1, size))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(shown, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), labels=names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right")
    ax.set_yticks(range(k), labels=names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 30:
        thresh = shown.max() / 2 if shown.size else 0
        for i in range(k):
            for j in range(k):
                txt = f"{shown[i, j]:.2f}" if normalize else str(int(cm[i, j]))
                ax.text(j, i, txt, ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > thresh else "black")
    acc = np.trace(cm) / cm.sum() if cm.sum() else float("nan")
    ax.set_title(title or f"confusion matrix (accuracy {acc:.4f})")
    fig.tight_layout()
    return save_figure(fig, path)


def _as_images(images: Any) -> np.ndarray:
    x = np.asarray(getattr(images, "data", images), dtype=np.float64)
    if x.ndim == 2:  # (N, D): square images if D is a square
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise ValueError(f"flat images of length {x.shape[1]} are not square; pass (N, H, W) or NCHW")
        x = x.reshape(-1, side, side)
    if x.ndim == 4:
        if x.shape[1] == 1:
            x = x[:, 0]
        elif x.shape[1] == 3:
            x = x.transpose(0, 2, 3, 1)  # NCHW → NHWC for display
        else:
            x = x.reshape(-1, x.shape[2], x.shape[3])  # e.g. conv filters (out, in, kh, kw): one tile each
    if x.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W), (N, 1|3, H, W) or (N, H*W), got shape {np.shape(images)}")
    return x


def plot_image_grid(images: Any, path: str | os.PathLike, titles: Sequence[str] | None = None,
                    ncols: int | None = None, title: str | None = None, cmap: str = "gray",
                    normalize_each: bool = False, max_images: int = 100) -> Path:
    """A grid of images (samples, misclassified examples, or filters: a conv weight (out, in, kh, kw)
    gives one tile per (out, in) pair).  ``normalize_each`` rescales every tile to its own range (use it
    for filters, where signs matter more than absolute values)."""
    x = _as_images(images)[:max_images]
    n = len(x)
    if n == 0:
        raise ValueError("plot_image_grid: no images to draw")
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    fig = new_figure(figsize=(1.3 * ncols, 1.3 * nrows + (0.4 if title else 0)))
    for i in range(n):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        img = x[i]
        if x.ndim == 4:
            lo, hi = img.min(), img.max()
            img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
            ax.imshow(img)
        elif normalize_each:
            ax.imshow(img, cmap=cmap)
        else:
            ax.imshow(img, cmap=cmap, vmin=float(x.min()), vmax=float(x.max()))
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None and i < len(titles):
            ax.set_title(str(titles[i]), fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_misclassified(images: Any, target: Any, output: Any, path: str | os.PathLike, max_images: int = 36,
                       class_names: Sequence[str] | None = None) -> Path:
    """Grid of the misclassified examples, each titled 'true→predicted'."""
    from .metrics import _labels_from_target, predicted_labels
    pred = predicted_labels(output)
    true = _labels_from_target(target, pred.shape[0])
    wrong = np.flatnonzero(pred != true)[:max_images]
    if wrong.size == 0:
        raise ValueError("plot_misclassified: every example is classified correctly; nothing to draw")
    name = (lambda c: class_names[c]) if class_names is not None else str
    titles = [f"{name(true[i])}→{name(pred[i])}" for i in wrong]
    x = np.asarray(getattr(images, "data", images))[wrong]
    return plot_image_grid(x, path, titles=titles, title=f"{np.count_nonzero(pred != true)} misclassified")


def plot_lr_search(result: Any, path: str | os.PathLike) -> Path:
    """Validation loss against learning rate (log axis) for an ``lr_search`` result; diverged runs
    marked with ×."""
    rows = result.table
    fig = new_figure(figsize=(5.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    ok = [r for r in rows if not r["diverged"]]
    bad = [r for r in rows if r["diverged"]]
    if ok:
        ax.plot([r["lr"] for r in ok], [r["val_loss"] for r in ok], "o-", label="validation loss")
    if bad:
        top = max([r["val_loss"] for r in ok], default=1.0)
        ax.plot([r["lr"] for r in bad], [top] * len(bad), "x", color="red", ms=9, label="diverged")
    if result.best_lr is not None:
        ax.axvline(result.best_lr, color="green", ls="--", label=f"best η = {result.best_lr:g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("validation loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
