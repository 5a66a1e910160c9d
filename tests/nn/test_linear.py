"""Linear (W is (out, in)), Identity, Flatten, Unflatten and the MLP model.

spec: MLP-FORWARD, CLS-LINEAR-MODEL
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import compare_with_torch

import chainrule as cr
from chainrule import nn
from chainrule.models import MLP, count_parameters


def test_linear_shapes_and_forward():
    lin = nn.Linear(5, 3)
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    assert lin.weight.dtype == np.float32
    X = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    y = lin(cr.Tensor(X))
    np.testing.assert_allclose(y.data, X @ lin.weight.data.T + lin.bias.data, rtol=1e-6)
    assert y.shape == (4, 3) and y.dtype == np.float32
    assert lin(cr.Tensor(np.ones((2, 7, 5), dtype=np.float32))).shape == (2, 7, 3)
    assert repr(lin) == "Linear(5, 3, bias=True)  # 18 parameters"
    nb = nn.Linear(5, 3, bias=False)
    assert nb.bias is None and len(list(nb.parameters())) == 1 and "bias=False" in repr(nb)
    with pytest.raises(ValueError, match="Linear\\(5, 3\\): expected input \\(..., 5\\), got \\(4, 4\\)"):
        lin(cr.Tensor(np.ones((4, 4), dtype=np.float32)))


def test_linear_default_init_distribution():
    lin = nn.Linear(400, 300, generator=cr.Generator(0))
    bound = 1 / np.sqrt(400)
    w = lin.weight.data
    assert np.abs(w).max() <= bound and np.abs(lin.bias.data).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound  # U(−a, a) has std a/√3
    old = w.copy()
    lin.reset_parameters(cr.Generator(1))
    assert not np.array_equal(old, lin.weight.data)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch_and_gradchecks(bias):
    torch = pytest.importorskip("torch")
    lin = nn.Linear(4, 3, bias=bias, dtype=np.float64)
    W = lin.weight.data.copy()
    b = lin.bias.data.copy() if bias else None
    X = np.random.default_rng(1).normal(size=(5, 4))
    compare_with_torch(lambda x: lin(x), lambda x: torch.nn.functional.linear(
        x, torch.tensor(W), None if b is None else torch.tensor(b)), [X])
    xt = cr.Tensor(X, requires_grad=True)
    assert cr.gradcheck(lambda x, w: cr.ops.linear(x, w, lin.bias), [xt, lin.weight])
    # parameter gradients: dW = Gᵀ X, db = Σ rows G
    lin.zero_grad()
    G = np.random.default_rng(2).normal(size=(5, 3))
    lin(cr.Tensor(X)).backward(G)
    np.testing.assert_allclose(lin.weight.grad.data, G.T @ X, rtol=1e-13)
    if bias:
        np.testing.assert_allclose(lin.bias.grad.data, G.sum(0), rtol=1e-13)


def test_identity_flatten_unflatten():
    x = cr.Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert nn.Identity()(x) is x
    f = nn.Flatten()(x)
    assert f.shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    u = nn.Unflatten(1, (3, 4))(f)
    np.testing.assert_array_equal(u.data, x.data)
    u.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 1)


def test_mlp_structure_inits_and_count():
    m = MLP([6, 5, 3], activation="tanh", output_activation="softmax", generator=cr.Generator(0))
    y = m(cr.Tensor(np.ones((2, 6), dtype=np.float32)))
    np.testing.assert_allclose(y.data.sum(1), 1, rtol=1e-6)
    assert count_parameters(m) == 5 * 7 + 3 * 6 == m.num_parameters()
    assert "sizes=[6, 5, 3]" in repr(m)
    for how in ("normal", "fanin", "kaiming"):
        mm = MLP([200, 100, 10], init=how, dtype=np.float64, generator=cr.Generator(1))
        w = mm.net[0].weight.data
        expected = {"normal": 1.0, "fanin": 1 / np.sqrt(200), "kaiming": np.sqrt(2 / 200)}[how]
        assert abs(w.std() - expected) < 0.05 * expected
        if how != "normal":
            assert not mm.net[0].bias.data.any()
    a = MLP([3, 4, 2], generator=cr.Generator(5))
    b = MLP([3, 4, 2], generator=cr.Generator(5))
    assert all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="at least input and output"):
        MLP([3])
    with pytest.raises(ValueError, match="unknown init"):
        MLP([3, 2], init="zeros")
    frozen = MLP([3, 2])
    frozen.net[0].weight.requires_grad_(False)
    assert count_parameters(frozen) == 2 and count_parameters(frozen, trainable_only=False) == 8
