"""Looking inside CNNs: first-layer filter grids, per-layer feature maps, activation maximisation.

(spec: CNN-FILTER-VIS, AD-INPUT-OPTIM)

- ``filter_grid(weight)``: a conv weight (C_out, C_in, kH, kW) as one mosaic array with C_out tiles, each
  tile min–max scaled to [0, 1] on its own (C_in = 1: the kernel; C_in = 3: an RGB tile; otherwise the
  mean over input channels, or one chosen ``in_channel``).  ``plot_filters`` writes it as a PNG.
- ``feature_maps(model, x)``: the output of every (or each named) layer for one input, captured with
  forward hooks (the hooks are removed afterwards); ``plot_feature_maps`` draws one row of channel tiles
  per layer.
- ``activation_maximization(model, layer, unit)``: gradient ascent on the input,
  x ← x + η∇ₓ[a_u(x) − λ‖x‖²] (AD-INPUT-OPTIM, via ``chainrule.autodiff.input_optimize``), where a_u is a
  unit of a dense layer or the spatial mean of a channel of a conv layer; the weights are not changed.

Figures go straight to PNG through ``chainrule.train.plots`` (Agg canvas, no pyplot state).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .autodiff import input_optimize
from .nn.module import Module
from .tensor import Tensor, no_grad

__all__ = ["filter_grid", "plot_filters", "feature_maps", "plot_feature_maps", "activation_maximization",
           "find_module", "minmax_scale"]


def minmax_scale(a: np.ndarray) -> np.ndarray:
    """(a − min)/(max − min) in [0, 1]; a constant array maps to zeros."""
    a = np.asarray(a, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _weight_array(weight) -> np.ndarray:
    if isinstance(weight, Module):
        weight = getattr(weight, "weight", None)
        if weight is None:
            raise ValueError("filter_grid: the module has no 'weight'; pass a Conv2d or its weight "
                             "(C_out, C_in, kH, kW)")
    w = np.asarray(getattr(weight, "data", weight), dtype=np.float64)
    if w.ndim == 3:  # Conv1d (C_out, C_in, K): one row per kernel
        w = w[:, :, None, :]
    if w.ndim != 4:
        raise ValueError(f"filter_grid: expected a conv weight (C_out, C_in, kH, kW), got shape {w.shape}")
    return w


def filter_grid(weight, ncols: int | None = None, pad: int = 1, in_channel: int | None = None,
                pad_value: float = 1.0) -> np.ndarray:
    """Mosaic of the C_out kernels of a conv weight (C_out, C_in, kH, kW) (or a Conv module), each tile
    min–max scaled to [0, 1] separately, separated by ``pad`` pixels of ``pad_value``.  Returns (H, W)
    for a grey grid or (H, W, 3) when C_in = 3 (RGB filters).  Tiles are laid out row-major with
    ``ncols`` (default ⌈√C_out⌉) columns; the grid has exactly C_out tiles.  (spec: CNN-FILTER-VIS)"""
    w = _weight_array(weight)
    cout, cin, kh, kw = w.shape
    if in_channel is not None:
        if not 0 <= in_channel < cin:
            raise ValueError(f"filter_grid: in_channel must be in [0, {cin}), got {in_channel}")
        tiles = w[:, in_channel]
        rgb = False
    elif cin == 3:
        tiles = w.transpose(0, 2, 3, 1)  # (C_out, kH, kW, 3)
        rgb = True
    else:
        tiles = w.mean(axis=1) if cin > 1 else w[:, 0]
        rgb = False
    ncols = int(ncols or int(np.ceil(np.sqrt(cout))))
    if ncols < 1:
        raise ValueError(f"filter_grid: ncols must be >= 1, got {ncols}")
    nrows = int(np.ceil(cout / ncols))
    shape = (nrows * (kh + pad) + pad, ncols * (kw + pad) + pad) + ((3,) if rgb else ())
    grid = np.full(shape, pad_value, dtype=np.float64)
    for i in range(cout):
        r, c = divmod(i, ncols)
        y0, x0 = pad + r * (kh + pad), pad + c * (kw + pad)
        grid[y0:y0 + kh, x0:x0 + kw] = minmax_scale(tiles[i])
    return grid


def plot_filters(weight, path: str | os.PathLike, ncols: int | None = None, title: str | None = None,
                 cmap: str = "gray") -> Path:
    """Write the kernels of a conv weight as a PNG grid with one titled tile per output channel (each
    min–max scaled; light = positive).  Returns the path.  (spec: CNN-FILTER-VIS)"""
    from .train.plots import new_figure, save_figure
    w = _weight_array(weight)
    cout = w.shape[0]
    ncols = int(ncols or int(np.ceil(np.sqrt(cout))))
    nrows = int(np.ceil(cout / ncols))
    fig = new_figure(figsize=(1.1 * ncols, 1.1 * nrows + (0.4 if title else 0.1)))
    for i in range(cout):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        tile = filter_grid(w[i:i + 1], ncols=1, pad=0)
        ax.imshow(tile, cmap=None if tile.ndim == 3 else cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(i), fontsize=6, pad=1)
    fig.suptitle(title or f"{cout} first-layer filters ({w.shape[2]}×{w.shape[3]}, each min–max scaled)",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def find_module(model: Module, name: str) -> Module:
    """The submodule with dotted ``name`` (as in ``named_modules()``); a clear error lists the names."""
    mods = dict(model.named_modules())
    if name not in mods:
        names = [n for n in mods if n]
        raise KeyError(f"no submodule named {name!r}; available: {names}")
    return mods[name]


def _leaf_names(model: Module) -> list[str]:
    return [n for n, m in model.named_modules() if n and not any(True for _ in m.children())]


def feature_maps(model: Module, x, layers: Sequence[str] | None = None) -> OrderedDict:
    """Run ``model`` once on ``x`` (eval mode, no graph) and return ``{layer name: output array}`` for the
    named ``layers`` (default: every leaf layer), in execution order.  Outputs are NumPy arrays, e.g.
    (N, C, H, W) for conv layers.  The model's mode is restored and the hooks are removed, also on error.
    (spec: CNN-FILTER-VIS)"""
    names = list(layers) if layers is not None else _leaf_names(model)
    captured: OrderedDict = OrderedDict()
    handles = []

    def hook_for(name):
        def hook(module, inputs, output):
            o = output[0] if isinstance(output, tuple) else output
            captured[name] = np.array(getattr(o, "data", o), copy=True)
        return hook

    was_training = model.training
    try:
        for n in names:
            handles.append(find_module(model, n).register_forward_hook(hook_for(n)))
        model.eval()
        if isinstance(x, Tensor):
            xt = x
        else:  # arrays take the dtype of the model's parameters (float32 models accept float64 arrays)
            p = next(iter(model.parameters()), None)
            xt = Tensor(np.asarray(x, dtype=p.dtype if p is not None else None))
        with no_grad():
            model(xt)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return captured


def plot_feature_maps(maps: dict, path: str | os.PathLike, sample: int = 0, max_channels: int = 16,
                      image=None, title: str | None = None, cmap: str = "viridis") -> Path:
    """One row per layer with up to ``max_channels`` channel maps of example ``sample`` (4-D outputs
    only; dense outputs are drawn as a bar of activations).  ``image``: the input, drawn first.
    (spec: CNN-FILTER-VIS)"""
    from .train.plots import new_figure, save_figure
    rows = [(n, a) for n, a in maps.items() if np.ndim(a) >= 2]
    if not rows:
        raise ValueError("plot_feature_maps: no layer outputs to draw")
    ncols = max_channels + (1 if image is not None else 0)
    fig = new_figure(figsize=(1.05 * ncols, 1.15 * len(rows) + (0.4 if title else 0.1)))
    for r, (name, a) in enumerate(rows):
        a = np.asarray(a)[sample]
        off = 0
        if image is not None:
            ax = fig.add_subplot(len(rows), ncols, r * ncols + 1)
            if r == 0:
                ax.imshow(np.squeeze(np.asarray(getattr(image, "data", image))), cmap="gray")
                ax.set_title("input", fontsize=6)
            ax.axis("off")
            off = 1
        if a.ndim == 3:
            for c in range(min(max_channels, a.shape[0])):
                ax = fig.add_subplot(len(rows), ncols, r * ncols + off + c + 1)
                ax.imshow(a[c], cmap=cmap, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if c == 0:
                    ax.set_ylabel(f"{name}\n{tuple(a.shape)}", fontsize=6)
        else:
            ax = fig.add_subplot(len(rows), 1, r + 1)
            v = a.reshape(-1)
            ax.bar(np.arange(v.size), v, width=1.0)
            ax.set_ylabel(f"{name}\n({v.size},)", fontsize=6)
            ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def activation_maximization(model: Module, layer: str | None, unit: int, x0=None, input_shape=None,
                            lr: float = 0.1, steps: int = 100, weight_decay: float = 0.0,
                            clip: tuple[float, float] | None = None, seed: int = 0) -> tuple[Tensor, list[float]]:
    """An input that maximises one unit: x ← x + η∇ₓ[a_u(x) − λ‖x‖²] for ``steps`` steps, optionally
    clipped (AD-INPUT-OPTIM, computed by ``chainrule.autodiff.input_optimize``).  ``layer``: dotted module
    name (None: the model output, e.g. a class logit); a_u is output[:, unit] for (N, F) outputs and the
    spatial mean of channel ``unit`` for (N, C, H, W).  Starts from ``x0`` (an array is cast to the dtype of
    the model's parameters) or small noise N(0, 0.01²) of ``input_shape`` (with the batch axis).  The
    model runs in eval mode (restored after); its parameters are not changed (only ∂/∂x is computed).
    Returns (x, history of Σ a_u before each step).  (spec: CNN-FILTER-VIS, AD-INPUT-OPTIM)"""
    params = list(model.parameters())
    dt = params[0].dtype if params else np.float32
    if x0 is None:
        if input_shape is None:
            raise ValueError("activation_maximization: pass x0 (a starting input) or input_shape, e.g. (1, 1, 28, 28)")
        x0 = np.random.default_rng(seed).normal(0.0, 0.01, size=tuple(input_shape)).astype(dt)
    elif not isinstance(x0, Tensor):
        x0 = np.asarray(x0, dtype=dt)
    target = find_module(model, layer) if layer else None
    store: dict = {}

    def hook(module, inputs, output):
        store["out"] = output[0] if isinstance(output, tuple) else output

    def f(x):
        out = model(x)
        if target is not None:
            out = store.pop("out")
        if out.ndim == 4:
            out = out.mean(axis=(2, 3))
        elif out.ndim != 2:
            raise ValueError(f"activation_maximization: layer output must be (N, F) or (N, C, H, W), got {out.shape}")
        if not 0 <= unit < out.shape[1]:
            raise ValueError(f"activation_maximization: unit must be in [0, {out.shape[1]}), got {unit}")
        return out

    was_training = model.training
    handle = target.register_forward_hook(hook) if target is not None else None
    try:
        model.eval()
        return input_optimize(f, x0, unit, lr=lr, steps=steps, weight_decay=weight_decay, clip=clip)
    finally:
        if handle is not None:
            handle.remove()
        model.train(was_training)
