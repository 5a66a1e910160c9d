"""Convolutional models and model inspection: TFCNN (the two-conv MNIST CNN), ``summary``.

``summary(model, input_shape)`` runs one forward pass on zeros and lists every leaf layer with its
output shape and parameter count; the total equals ``count_parameters`` (conv C_out(C_in·kH·kW + 1),
dense out(in + 1); spec: CNN-PARAM-COUNT).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import nn
from ..backend import Generator, _gen, get_default_dtype
from ..tensor import Tensor, no_grad
from .mlp import count_parameters

__all__ = ["TFCNN", "cnn_mnist", "summary", "count_parameters", "LayerInfo"]


class TFCNN(nn.Module):
    """The two-convolution MNIST CNN of the TensorFlow "Deep MNIST" tutorial (spec: RECIPE-TF-CNN-MNIST):

    (N,1,28,28) → Conv2d(1,32,5,padding=2) → ReLU → MaxPool2d(2) → Conv2d(32,64,5,padding=2) → ReLU →
    MaxPool2d(2) → (N,64,7,7) → Flatten 3136 → Linear(3136,1024) → ReLU → Dropout(p) → Linear(1024,10).

    Parameters 832 + 51,264 + 3,212,288 + 10,250 = 3,274,634; receptive field 16 px.  ``init='default'``
    (PyTorch's U(±1/√fan_in)) or ``'tf'`` (the tutorial's weights ~ truncated normal std 0.1, biases 0.1).
    ``dropout`` = 0.5 (the tutorial's keep probability 0.5 on FC1); 0 disables it.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, dropout: float = 0.5, init: str = "default",
                 channels: tuple[int, int] = (32, 64), hidden: int = 1024, image_size: int = 28, dtype=None,
                 generator: Generator | None = None):
        super().__init__()
        g = _gen(generator)
        c1, c2 = channels
        side = image_size // 4
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, c1, 5, padding=2, dtype=dtype, generator=g)), ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(c1, c2, 5, padding=2, dtype=dtype, generator=g)), ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2)),
        ]))
        self.flatten = nn.Flatten()
        head = [("fc1", nn.Linear(c2 * side * side, hidden, dtype=dtype, generator=g)), ("relu3", nn.ReLU())]
        if dropout:
            head.append(("dropout", nn.Dropout(dropout, generator=g)))
        head.append(("fc2", nn.Linear(hidden, num_classes, dtype=dtype, generator=g)))
        self.classifier = nn.Sequential(OrderedDict(head))
        if init == "tf":
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, 0.0, 0.1, -0.2, 0.2, generator=g)
                    nn.init.constant_(m.bias, 0.1)
        elif init != "default":
            raise ValueError(f"TFCNN: init must be 'default' or 'tf', got {init!r}")

    def forward(self, x) -> Tensor:
        return self.classifier(self.flatten(self.features(x)))


def cnn_mnist(**kwargs) -> TFCNN:
    """The RECIPE-TF-CNN-MNIST network (3,274,634 parameters); keyword arguments go to ``TFCNN``."""
    return TFCNN(**kwargs)


class LayerInfo(tuple):
    """(name, type, output shape, #params) of one layer in a ``summary``."""

    __slots__ = ()

    def __new__(cls, name: str, kind: str, shape: tuple, params: int):
        return super().__new__(cls, (name, kind, shape, params))

    name = property(lambda s: s[0])
    kind = property(lambda s: s[1])
    output_shape = property(lambda s: s[2])
    params = property(lambda s: s[3])


class Summary(list):
    """The rows of ``summary``; ``str()`` gives the table, ``total_params`` the sum."""

    total_params: int = 0
    input_shape: tuple = ()

    def __str__(self) -> str:
        w = max([len(r.name) + len(r.kind) + 3 for r in self] + [12])
        lines = [f"{'layer (type)':<{w}}  {'output shape':<22}{'params':>12}", "-" * (w + 36)]
        lines.append(f"{'input':<{w}}  {str(self.input_shape):<22}{0:>12,}")
        for r in self:
            lines.append(f"{r.name + ' (' + r.kind + ')':<{w}}  {str(r.output_shape):<22}{r.params:>12,}")
        lines += ["-" * (w + 36), f"total parameters: {self.total_params:,}"]
        return "\n".join(lines)

    __repr__ = __str__


def summary(model: nn.Module, input_shape: tuple, dtype=None, print_table: bool = False) -> Summary:
    """Per-layer output shape and parameter count from one forward pass on zeros of ``input_shape``
    (with the batch axis, e.g. (1, 1, 32, 32)); the model is left unchanged (eval mode during the pass,
    no graph).  (spec: CNN-PARAM-COUNT)"""
    dt = np.dtype(dtype) if dtype is not None else (
        next(iter(model.parameters())).dtype if any(True for _ in model.parameters()) else get_default_dtype())
    rows = Summary()
    rows.input_shape = tuple(input_shape)
    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children()) and n]
    patched = []

    def wrap(name, m):
        orig = type(m).forward

        def fwd(*a, **k):
            out = orig(m, *a, **k)
            o = out[0] if isinstance(out, tuple) else out
            own = int(sum(p.size for p in m._parameters.values() if p is not None))
            rows.append(LayerInfo(name, type(m).__name__, tuple(o.shape), own))
            return out
        return fwd

    was_training = model.training
    try:
        for name, m in leaves:
            object.__setattr__(m, "forward", wrap(name, m))
            patched.append(m)
        model.eval()
        with no_grad():
            model(Tensor(np.zeros(input_shape, dtype=dt)))
    finally:
        for m in patched:
            m.__dict__.pop("forward", None)
        model.train(was_training)
    rows.total_params = count_parameters(model, trainable_only=False)
    if print_table:
        print(rows)
    return rows


def regression_cnn(in_channels: int = 1, channels: tuple = (16, 32), hidden: int = 128, image_size: int = 28,
                   generator: Generator | None = None) -> nn.Sequential:
    """The tutorial's CNN for supervised regression (spec: CNN-REGRESSION-PIPELINE, TRAIN-LOOP-000):
    valid convolutions (odd kernels 5, 3) with bias → ReLU → 2×2 max-pool, twice, → dense ReLU layer →
    BatchNorm → one linear output; Kaiming-normal weights, zero biases.  Train it with MSE, L2 weight
    decay on the weights and SGD with momentum (``presets.tutorial_regression()``), scored by k-fold CV
    (``chainrule.train.cross_val_score``); ``examples/cnn/cnn_regression.py`` runs the whole pipeline."""
    g = _gen(generator)
    c1, c2 = channels
    side = ((image_size - 4) // 2 - 2) // 2
    if side < 1:
        raise ValueError(f"regression_cnn: images of {image_size}x{image_size} are too small for two conv+pool "
                         "stages (need at least 10x10)")
    layers = [("conv1", nn.Conv2d(in_channels, c1, 5)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
              ("conv2", nn.Conv2d(c1, c2, 3)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
              ("flatten", nn.Flatten())]
    width = c2 * side * side
    if hidden:
        layers += [("fc", nn.Linear(width, hidden)), ("relu3", nn.ReLU())]
        width = hidden
    layers += [("bn", nn.BatchNorm1d(width)), ("out", nn.Linear(width, 1))]
    m = nn.Sequential(OrderedDict(layers))
    for layer in m.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=g)
            nn.init.zeros_(layer.bias)
    return m
