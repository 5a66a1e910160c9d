"""Quickprop and Rprop train real networks: XOR (2-4-1) and a small MNIST MLP (slow)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import mnist_dir

import chainrule as cr
from chainrule import nn, optim

X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y_XOR = np.array([[0], [1], [1], [0]], dtype=np.float64)


def _train_xor(make, seed, epochs):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 1, dtype=np.float64), nn.Sigmoid())
    opt = make(list(model.parameters()))
    X, Y = cr.Tensor(X_XOR), cr.Tensor(Y_XOR)

    def closure():
        opt.zero_grad()
        loss = ((model(X) - Y) ** 2).mean()
        loss.backward()
        return loss

    for e in range(1, epochs + 1):
        loss = float(opt.step(closure))
        if loss < 0.01 and np.array_equal(model(X).data > 0.5, Y_XOR > 0.5):
            return e
    return None


@pytest.mark.parametrize("name,make", [
    ("Quickprop", lambda p: optim.Quickprop(p, lr=0.5)),
    ("Rprop irprop-", lambda p: optim.Rprop(p, lr=0.1)),
    ("Rprop rprop+", lambda p: optim.Rprop(p, lr=0.1, variant="rprop+")),
    ("Rprop irprop+", lambda p: optim.Rprop(p, lr=0.1, variant="irprop+")),
])
def test_xor_is_learned_quickly(name, make):
    # spec: OPT-QUICKPROP, OPT-RPROP  2-4-1 tanh/sigmoid net, full batch, MSE < 0.01 and all four patterns right
    epochs = [_train_xor(make, seed, 150) for seed in range(5)]
    assert all(e is not None for e in epochs), epochs
    # plain full-batch gradient descent with a good rate needs far more epochs on the same nets
    gd = [_train_xor(lambda p: optim.SGD(p, lr=1.0), seed, 150) for seed in range(2)]
    assert all(e is None or e > max(epochs) for e in gd)


@pytest.mark.slow
@pytest.mark.parametrize("name,make", [
    ("Quickprop", lambda p: optim.Quickprop(p, lr=0.05)),
    ("Rprop", lambda p: optim.Rprop(p, lr=0.01)),
    ("Rprop irprop+", lambda p: optim.Rprop(p, lr=0.01, variant="irprop+")),
])
def test_mnist_mlp_full_batch(name, make):
    # spec: OPT-QUICKPROP, OPT-RPROP  784-32-10 MLP, 10,000 training images as one batch, 60 epochs:
    # ≥ 88% test accuracy on the 10,000 test images
    from chainrule.data import load_mnist
    root = mnist_dir()
    Xtr, ytr = load_mnist(root, "train", flatten=True, dtype=np.float32)
    Xte, yte = load_mnist(root, "test", flatten=True, dtype=np.float32)
    Xtr, ytr = cr.Tensor(Xtr[:10000]), ytr[:10000]
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, 10))
    opt = make(list(model.parameters()))

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(Xtr), ytr)
        loss.backward()
        return loss

    first = float(closure())
    for _ in range(60):
        last = float(opt.step(closure))
    acc = float((model(cr.Tensor(Xte)).data.argmax(1) == yte).mean())
    assert last < 0.5 * first
    assert acc >= 0.88, acc
