"""XOR: no single-layer model solves it; one hidden layer does.  (spec: CLS-XOR)

Inputs (0,0), (1,0), (0,1), (1,1) → 0, 1, 1, 0.

* Linear model w₁x₁ + w₂x₂ (+ b): the four equations are inconsistent; least squares with an intercept
  gives w = (0, 0), b = ½, predicting ½ everywhere (MSE ¼) — see :class:`LinearRegression`.
* Threshold unit: s(0,0) < 0 ⇒ b < 0; s(1,0) > 0 and s(0,1) > 0 ⇒ w₁ + w₂ + b > −b > 0, contradicting
  s(1,1) < 0 — the :class:`Perceptron` never converges (it warns).
* Hidden ReLU layer: g(x) = wᵀmax(0, Wx + c) with W = [[1,1],[1,1]], c = (0, −1), w = (1, −2): hidden
  codes (0,0), (1,0), (1,0), (2,1) are linearly separable and the outputs are exactly 0, 1, 1, 0.
"""

from __future__ import annotations

import numpy as np

from .. import nn, optim
from ..backend import Generator
from ..tensor import Tensor, no_grad

XOR_X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


def xor_data(dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """(X (4, 2), y (4,)) of the XOR problem."""
    return XOR_X.astype(dtype), XOR_Y.astype(dtype)


def xor_handset_network(dtype=np.float64) -> nn.Sequential:
    """The hand-set 2-2-1 ReLU network that computes XOR exactly: Linear(2, 2) with W = [[1, 1], [1, 1]],
    c = (0, −1), ReLU, Linear(2, 1) with w = (1, −2) and bias 0."""
    net = nn.Sequential(nn.Linear(2, 2, dtype=dtype), nn.ReLU(), nn.Linear(2, 1, dtype=dtype))
    with no_grad():
        net[0].weight.data[...] = [[1.0, 1.0], [1.0, 1.0]]
        net[0].bias.data[...] = [0.0, -1.0]
        net[2].weight.data[...] = [[1.0, -2.0]]
        net[2].bias.data[...] = 0.0
    return net


def train_xor_network(seed: int, hidden: int = 4, activation: str = "tanh", steps: int = 500, lr: float = 0.05,
                      dtype=np.float64) -> tuple[nn.Module, np.ndarray, bool]:
    """Train a 2-``hidden``-1 network (default tanh) on XOR by full-batch Adam on the MSE.

    Returns (model, outputs on the four inputs, solved) where solved means every output is on the
    correct side of ½.  Initialisation is PyTorch's default, drawn from ``Generator(seed)``.
    """
    g = Generator(seed)
    model = nn.Sequential(nn.Linear(2, hidden, dtype=dtype, generator=g), nn.get_activation(activation),
                          nn.Linear(hidden, 1, dtype=dtype, generator=g))
    X = Tensor(XOR_X.astype(dtype))
    Y = Tensor(XOR_Y.astype(dtype).reshape(-1, 1))
    opt = optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(X), Y)
        loss.backward()
        opt.step()
    with no_grad():
        out = model(X).data.reshape(-1)
    solved = bool(np.all((out > 0.5) == (XOR_Y > 0.5)))
    return model, out, solved
