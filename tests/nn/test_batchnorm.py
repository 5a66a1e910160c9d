"""Batch normalization: the spec's values, the backward formula, running statistics (PyTorch-identical),
train/eval behaviour, BatchNorm2d = BatchNorm1d on the (N·H·W, C) reshape, and invariances."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import compare_with_torch, t64, torch_or_skip

import chainrule as cr
from chainrule import nn
from chainrule.nn.batchnorm import batch_norm


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_bn_batchnorm_spec_values():
    # spec: BN-BATCHNORM (errata F4: eps under the root, one μ, σ per unit)
    h = t64(np.array([[1.0], [2.0], [3.0], [4.0]]))
    out0 = batch_norm(h, training=True, eps=0.0)
    np.testing.assert_allclose(out0.data[:, 0], [-1.341641, -0.447214, 0.447214, 1.341641], atol=5e-7)
    out = batch_norm(h, training=True, eps=1e-5)
    np.testing.assert_allclose(out.data[0, 0], -1.341635, atol=5e-7)
    m = nn.BatchNorm1d(3, dtype=np.float64)
    x = _r(50, 3) * [1, 10, 0.1] + [5, -3, 0]
    y = m(cr.Tensor(x)).data
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    v = x.var(0)
    np.testing.assert_allclose(y.var(0), v / (v + 1e-5), rtol=1e-12)      # ≈ 1 (exactly 1 at eps = 0)
    np.testing.assert_array_equal(m.weight.data, 1)      # γ ← 1, β ← 0
    np.testing.assert_array_equal(m.bias.data, 0)


def test_bn_backward_formula_vs_central_differences():
    # spec: BN-BACKWARD: ∂L/∂h = (γ/σ)(g − mean(g) − ĥ·mean(g ⊙ ĥ)), ∂L/∂γ = Σ gĥ, ∂L/∂β = Σ g
    rng = np.random.default_rng(0)
    h, gam, bet = rng.standard_normal((6, 3)), rng.standard_normal(3), rng.standard_normal(3)
    g = rng.standard_normal((6, 3))
    eps = 1e-5
    mu, var = h.mean(0), h.var(0)
    sig = np.sqrt(var + eps)
    hh = (h - mu) / sig
    dh = gam / sig * (g - g.mean(0) - hh * (g * hh).mean(0))
    H, G, B = t64(h), t64(gam), t64(bet)
    batch_norm(H, None, None, G, B, True).backward(cr.Tensor(g))
    np.testing.assert_allclose(H.grad.data, dh, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(G.grad.data, (g * hh).sum(0), rtol=1e-12)
    np.testing.assert_allclose(B.grad.data, g.sum(0), rtol=1e-12)
    num = cr.autodiff.numerical_grad(lambda x: (batch_norm(x, None, None, G, B, True) * cr.Tensor(g)).sum(), H)
    assert np.abs(num - dh).max() < 1e-8
    assert cr.gradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, True), [H, G, B])


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 3, 4, 5)])
def test_batch_norm_equals_torch_and_second_order(shape):
    # spec: BN-BATCHNORM, BN-BATCHNORM2D, NORM-BATCHNORM
    torch = torch_or_skip()
    F = torch.nn.functional
    x = _r(*shape) * 2 + 1
    w, b = _r(3, seed=1), _r(3, seed=2)
    compare_with_torch(lambda x, w, b: batch_norm(x, None, None, w, b, True, 0.1, 1e-5),
                       lambda x, w, b: F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5), [x, w, b])
    rm, rv = _r(3, seed=3), np.abs(_r(3, seed=4)) + 0.5
    compare_with_torch(lambda x, w, b: batch_norm(x, rm, rv, w, b, False, 0.1, 1e-5),
                       lambda x, w, b: F.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b, False, 0.1, 1e-5),
                       [x, w, b])
    X, W, B = t64(x), t64(w), t64(b)
    assert cr.gradgradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, True) ** 3, [X, W, B])


def test_bn_running_stats_spec_values_and_eval():
    # spec: BN-RUNNING-STATS: one batch (1,2,3,4) from init -> running_mean 0.25, running_var 1.066667
    m = nn.BatchNorm1d(1, dtype=np.float64)
    m(cr.Tensor(np.array([[1.0], [2.0], [3.0], [4.0]])))
    np.testing.assert_allclose(m.running_mean.data, [0.25], rtol=1e-14)
    np.testing.assert_allclose(m.running_var.data, [1.0 + 0.1 * (1.25 * 4 / 3 - 1)], rtol=1e-14)
    assert abs(m.running_var.data[0] - 1.066667) < 1e-6
    assert int(m.num_batches_tracked.data) == 1
    # eval: ĥ = (h − running_mean)/√(running_var + eps): a prediction no longer depends on its batch
    m.eval()
    a = m(cr.Tensor(np.array([[1.0], [5.0]]))).data[0]
    b = m(cr.Tensor(np.array([[1.0], [-7.0], [2.0]]))).data[0]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, (1.0 - 0.25) / np.sqrt(m.running_var.data + 1e-5), rtol=1e-14)
    before = m.running_mean.data.copy()
    m(cr.Tensor(np.array([[9.0], [9.0]])))
    np.testing.assert_array_equal(m.running_mean.data, before)     # eval never updates the statistics
    # buffers in state_dict
    sd = m.state_dict()
    assert {"running_mean", "running_var", "num_batches_tracked"} <= set(sd)
    m2 = nn.BatchNorm1d(1, dtype=np.float64)
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2.running_var.data, m.running_var.data)
    assert int(m2.num_batches_tracked.data) == 1
    # one value per channel in training raises
    m.train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        m(cr.Tensor(np.array([[3.0]])))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm2d(2)(cr.Tensor(np.zeros((1, 2, 1, 1), np.float32)))


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 2, 3))])
def test_running_stats_identical_to_torch_after_n_steps(momentum, cls, shape):
    # spec: BN-RUNNING-STATS (momentum None = cumulative average running += (stat − running)/t)
    torch = torch_or_skip()
    m = getattr(nn, cls)(3, momentum=momentum, dtype=np.float64)
    mt = getattr(torch.nn, cls)(3, momentum=momentum).double()
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.standard_normal(shape) * 3 + 2
        y, yt = m(cr.Tensor(x)), mt(torch.tensor(x))
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.running_mean.data, mt.running_mean.numpy(), rtol=1e-13)
    np.testing.assert_allclose(m.running_var.data, mt.running_var.numpy(), rtol=1e-13)
    assert int(m.num_batches_tracked.data) == int(mt.num_batches_tracked) == 5
    m.eval()
    mt.eval()
    np.testing.assert_allclose(m(cr.Tensor(x)).data, mt(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_cumulative_average_is_mean_of_batch_statistics():
    # spec: BN-RUNNING-STATS: momentum=None -> average over all mini-batches seen
    m = nn.BatchNorm1d(2, momentum=None, dtype=np.float64)
    rng = np.random.default_rng(1)
    means, vars_ = [], []
    for _ in range(5):
        x = rng.standard_normal((6, 2)) + 4
        m(cr.Tensor(x))
        means.append(x.mean(0))
        vars_.append(x.var(0, ddof=1))
    np.testing.assert_allclose(m.running_mean.data, np.mean(means, 0), rtol=1e-13)
    np.testing.assert_allclose(m.running_var.data, np.mean(vars_, 0), rtol=1e-13)


def test_bn_batchnorm2d_equals_batchnorm1d_on_reshape():
    # spec: BN-BATCHNORM2D: statistics per channel over N·H·W; unbiased factor uses N·H·W
    x = _r(3, 4, 5, 2) * 2 + 1
    m2 = nn.BatchNorm2d(4, dtype=np.float64)
    m1 = nn.BatchNorm1d(4, dtype=np.float64)
    g = np.random.default_rng(1).standard_normal(4)
    m1.weight.data[...] = m2.weight.data[...] = g
    X2, X1 = t64(x), t64(x.transpose(0, 2, 3, 1).reshape(-1, 4))
    y2, y1 = m2(X2), m1(X1)
    np.testing.assert_allclose(y2.data.transpose(0, 2, 3, 1).reshape(-1, 4), y1.data, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(m2.running_var.data, m1.running_var.data, rtol=1e-14)
    G = _r(*y2.shape, seed=5)
    y2.backward(cr.Tensor(G))
    y1.backward(cr.Tensor(G.transpose(0, 2, 3, 1).reshape(-1, 4)))
    np.testing.assert_allclose(X2.grad.data.transpose(0, 2, 3, 1).reshape(-1, 4), X1.grad.data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m2.weight.grad.data, m1.weight.grad.data, rtol=1e-12)


def test_norm_batchnorm_weight_scaling_invariance():
    # spec: NORM-BATCHNORM: ε = 0: BN(ReLU(X(cW)ᵀ)) = BN(ReLU(XWᵀ)) for c = 7.3 and per-row diag(c)W
    rng = np.random.default_rng(0)
    X, W = rng.standard_normal((32, 5)), rng.standard_normal((4, 5))

    def f(Wm):
        return batch_norm(cr.relu(cr.Tensor(X) @ cr.Tensor(Wm).T), training=True, eps=0.0).data

    np.testing.assert_allclose(f(7.3 * W), f(W), atol=1e-10)
    np.testing.assert_allclose(f(np.diag([0.5, 2.0, 7.3, 11.0]) @ W), f(W), atol=1e-10)
    assert np.abs(f(W + 1.0) - f(W)).max() > 1e-3      # re-centring W is *not* an invariance


def test_affine_false_and_no_running_stats():
    m = nn.BatchNorm1d(3, affine=False, dtype=np.float64)
    assert m.weight is None and m.bias is None and len(list(m.parameters())) == 0
    x = _r(6, 3)
    np.testing.assert_allclose(m(cr.Tensor(x)).data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12)
    n = nn.BatchNorm2d(3, track_running_stats=False, dtype=np.float64)
    assert n.running_mean is None and "running_mean" not in n.state_dict()
    n.eval()                      # without running statistics the batch statistics are used in eval too
    xx = _r(4, 3, 2, 2)
    y = n(cr.Tensor(xx)).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected input \(N, C, H, W\)"):
        n(cr.Tensor(np.zeros((4, 3))))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected input \(N, C\) or \(N, C, L\) with C = 3"):
        nn.BatchNorm1d(3)(cr.Tensor(np.zeros((4, 2), np.float32)))


def test_batchnorm_training_reduces_its_loss_and_keeps_float32():
    # would fail if the layer (or its gradient) did nothing: fitting γ, β to a target scale/shift
    m = nn.BatchNorm1d(2)
    x = cr.Tensor(_r(16, 2).astype(np.float32))
    target = cr.Tensor(np.array([3.0, -1.0], np.float32) * np.ones((16, 2), np.float32))
    opt = cr.optim.SGD(m.parameters(), lr=0.1)
    losses = []
    for _ in range(30):
        y = m(x)
        assert y.dtype == np.float32
        loss = ((y.mean(0) - target.mean(0)) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    assert losses[-1] < 1e-3 * losses[0]
    assert m.weight.grad.dtype == np.float32 and m.running_mean.dtype == np.float32
    with pytest.raises(TypeError, match="does not upcast"):
        m(cr.Tensor(_r(4, 2)))                       # float64 input into a float32 layer
