"""LeNet-5, the lecture notes' modified (fully connected C3) version.  (spec: CNN-LENET5)

==========  =================================  ==============  =========================
layer       operation                          output          parameters
==========  =================================  ==============  =========================
input       MNIST 28×28 zero-padded by 2       1×32×32         0
C1          conv 6@5×5 + activation            6×28×28         (25 + 1)·6 = 156
S2          pool 2×2 / 2                       6×14×14         0
C3          conv 16@5×5 on all 6 maps + act.   16×10×10        (6·25 + 1)·16 = 2,416
S4          pool 2×2 / 2                       16×5×5          0
C5          conv 120@5×5 + act. (= dense)      120×1×1         (16·25 + 1)·120 = 48,120
F6          dense 84 + activation              84              121·84 = 10,164
output      dense 10 (softmax in the loss)     10              85·10 = 850
==========  =================================  ==============  =========================

Total 61,706.  Activation tanh (default) or ReLU, pooling max (default) or average; no trainable
subsampling and no "Gaussian connections" (errata E17: the original's sparse C3 table has 1,516
parameters and its S2/S4 12 and 32 — the full variant is meant here).  The output is the 10 logits; the
softmax is applied by ``cross_entropy`` (or ``predict_proba``).
"""

from __future__ import annotations

from collections import OrderedDict

from .. import nn, ops
from ..backend import Generator, _gen
from ..tensor import Tensor


def pad_mnist(x, pad: int = 2) -> Tensor:
    """(N, 28, 28) or (N, 1, 28, 28) images → (N, 1, 32, 32) by zero padding 2 pixels on each side."""
    x = ops._base.as_tensor(x)
    if x.ndim == 3:
        x = ops.unsqueeze(x, 1)
    return ops.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


class LeNet5(nn.Module):
    """``LeNet5(activation='tanh'|'relu', pool='max'|'avg', num_classes=10, in_channels=1)`` on
    (N, 1, 32, 32) images (MNIST padded by 2, see ``pad_mnist``) → (N, num_classes) logits; 61,706
    parameters with the defaults.  (spec: CNN-LENET5, CNN-PARAM-COUNT, CONV2D-LAYER)"""

    def __init__(self, activation: str = "tanh", pool: str = "max", num_classes: int = 10, in_channels: int = 1,
                 dtype=None, generator: Generator | None = None):
        super().__init__()
        if activation not in ("tanh", "relu", "sigmoid"):
            raise ValueError(f"LeNet5: activation must be 'tanh' or 'relu' (or 'sigmoid'), got {activation!r}")
        if pool not in ("max", "avg"):
            raise ValueError(f"LeNet5: pool must be 'max' or 'avg', got {pool!r}")
        self.activation, self.pool = activation, pool
        g = _gen(generator)

        def act():
            return nn.get_activation(activation)

        def pooling():
            return nn.MaxPool2d(2, 2) if pool == "max" else nn.AvgPool2d(2, 2)

        self.features = nn.Sequential(OrderedDict([
            ("c1", nn.Conv2d(in_channels, 6, 5, dtype=dtype, generator=g)), ("act1", act()), ("s2", pooling()),
            ("c3", nn.Conv2d(6, 16, 5, dtype=dtype, generator=g)), ("act3", act()), ("s4", pooling()),
            ("c5", nn.Conv2d(16, 120, 5, dtype=dtype, generator=g)), ("act5", act()),
        ]))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(OrderedDict([
            ("f6", nn.Linear(120, 84, dtype=dtype, generator=g)), ("act6", act()),
            ("output", nn.Linear(84, num_classes, dtype=dtype, generator=g)),
        ]))

    def forward(self, x) -> Tensor:
        x = ops._base.as_tensor(x)
        if x.ndim != 4 or x.shape[2:] != (32, 32):
            raise ValueError(f"LeNet5: expected input (N, C, 32, 32) (28×28 MNIST padded by 2: use "
                             f"models.lenet.pad_mnist), got shape {x.shape}")
        return self.classifier(self.flatten(self.features(x)))

    def predict_proba(self, x) -> Tensor:
        """Softmax of the logits (the notes' softmax output layer)."""
        return ops.softmax(self.forward(x), -1)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}, pool={self.pool!r}"
