"""Dropout modes and Monte-Carlo dropout.  spec: REG-DROPOUT, REG-DROPOUT-MODES, REG-MC-DROPOUT"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import t64

import chainrule as cr
from chainrule import nn
from chainrule.nn import Dropout
from chainrule.nn.dropout import mc_predict


def test_inverted_dropout_statistics_spec_values():
    # spec: REG-DROPOUT-MODES  p = 0.2 on 10⁶ ones: kept fraction 0.8 ± 0.002, value 1.25
    d = Dropout(0.2, generator=cr.Generator(0))
    y = d(cr.Tensor(np.ones(10 ** 6))).data
    kept = y != 0
    assert abs(kept.mean() - 0.8) < 0.002
    np.testing.assert_allclose(y[kept], 1.25, rtol=1e-7)
    # spec: REG-DROPOUT  zero fraction p ± 0.01, mean within 1%; eval = identity
    d5 = Dropout(0.5, generator=cr.Generator(1))
    y5 = d5(cr.Tensor(np.ones(10 ** 6))).data
    assert abs((y5 == 0).mean() - 0.5) < 0.01
    assert abs(y5.mean() - 1.0) < 0.01
    d5.eval()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(d5(cr.Tensor(x)).data, x)


def test_weight_scaling_mode():
    # spec: REG-DROPOUT-MODES  weight_scaling: train y = d ⊙ x (no scaling), eval (1 − p)x
    d = Dropout(0.3, mode="weight_scaling", generator=cr.Generator(0))
    y = d(cr.Tensor(np.full(10 ** 5, 2.0))).data
    assert set(np.unique(y)) == {0.0, 2.0}
    assert abs((y == 0).mean() - 0.3) < 0.01
    d.eval()
    np.testing.assert_allclose(d(cr.Tensor(np.full(4, 2.0))).data, 1.4, rtol=1e-6)
    with pytest.raises(ValueError, match="mode"):
        Dropout(0.5, mode="state")
    with pytest.raises(ValueError, match="DROP probability"):
        Dropout(1.5)


@pytest.mark.parametrize("mode", ["inverted", "weight_scaling"])
def test_mean_of_training_outputs_matches_eval(mode):
    # spec: REG-DROPOUT-MODES  the mean of many training outputs → the eval output (through a linear map)
    g = cr.Generator(3)
    net = nn.Sequential(Dropout(0.4, mode=mode, generator=g), nn.Linear(5, 2, dtype=np.float64, generator=g))
    x = cr.Tensor(np.random.default_rng(1).standard_normal((1, 5)))
    X = cr.Tensor(np.repeat(x.data, 40000, axis=0))
    train_mean = net(X).data.mean(axis=0)
    net.eval()
    ev = net(x).data[0]
    np.testing.assert_allclose(train_mean, ev, atol=0.02)
    # without the mode's rescaling the means would differ by the keep factor
    b = net[1].bias.data
    unscaled = (0.6 if mode == "inverted" else 1 / 0.6) * (ev - b) + b
    assert np.abs(ev - unscaled).max() > 0.05


def test_classic_net_with_scaled_weights_equals_inverted_net():
    # spec: REG-DROPOUT  classic net (weight scaling) = inverted net with weights × (1 − p)
    p = 0.5
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((3, 6)), rng.standard_normal(3)
    x = cr.Tensor(rng.standard_normal((4, 6)))
    classic = nn.Sequential(Dropout(p, "weight_scaling", cr.Generator(7)), nn.Linear(6, 3, dtype=np.float64))
    inverted = nn.Sequential(Dropout(p, "inverted", cr.Generator(7)), nn.Linear(6, 3, dtype=np.float64))
    classic[1].weight.data[...] = W
    inverted[1].weight.data[...] = (1 - p) * W
    classic[1].bias.data[...] = b
    inverted[1].bias.data[...] = b
    np.testing.assert_allclose(classic(x).data, inverted(x).data, rtol=1e-12)  # same mask, same training output
    classic.eval()
    inverted.eval()
    np.testing.assert_allclose(classic(x).data, inverted(x).data, rtol=1e-12)


@pytest.mark.parametrize("mode", ["inverted", "weight_scaling"])
def test_backward_uses_stored_mask_and_gradcheck(mode):
    # spec: REG-DROPOUT-MODES  backward uses the stored mask
    p = 0.3
    x = t64(np.random.default_rng(0).standard_normal((6, 7)) + 3.0)
    y = Dropout(p, mode, cr.Generator(5))(x)
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(cr.Tensor(g))
    scale = 1 / (1 - p) if mode == "inverted" else 1.0
    np.testing.assert_allclose(x.grad.data, g * (y.data != 0) * scale, rtol=1e-14)
    cr.gradcheck(lambda t: Dropout(p, mode, cr.Generator(5))(t), [t64(x.data)])


def test_p_zero_and_one():
    x = cr.Tensor(np.ones(5))
    np.testing.assert_array_equal(Dropout(0.0)(x).data, 1.0)
    np.testing.assert_array_equal(Dropout(1.0)(x).data, 0.0)
    np.testing.assert_array_equal(Dropout(1.0, "weight_scaling")(x).data, 0.0)


class _ModeSpy(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(self.training)
        return x


def test_mc_predict_linear_model():
    # spec: REG-MC-DROPOUT  linear model: mean of 1,000 passes → eval prediction; variance → 0 as p → 0
    rng = np.random.default_rng(2)
    x = cr.Tensor(rng.standard_normal((3, 8)))
    variances = []
    for p in (0.5, 0.2, 0.05, 0.0):
        spy = _ModeSpy()
        net = nn.Sequential(spy, Dropout(p, generator=cr.Generator(0)), nn.Linear(8, 2, dtype=np.float64))
        net.train()
        mean, var = mc_predict(net, x, n_samples=1000)
        assert all(t is False for t in spy.seen)  # everything but dropout in eval mode
        assert net.training and spy.training  # modes restored
        net.eval()
        ev = net(x).data
        W = net[2].weight.data
        # standard error of the mean: sqrt(Var/n); Var per output = p/(1-p) Σ_i W_ki² x_i²
        se = np.sqrt(p / (1 - p) * (x.data ** 2) @ (W ** 2).T / 1000) if p > 0 else 0
        assert np.all(np.abs(mean.data - ev) <= 5 * se + 1e-12)
        if p > 0:
            np.testing.assert_allclose(var.data, p / (1 - p) * (x.data ** 2) @ (W ** 2).T, rtol=0.15)
        variances.append(float(var.data.mean()))
    assert variances[0] > variances[1] > variances[2] > variances[3] == 0.0
    with pytest.raises(ValueError, match="no dropout"):
        mc_predict(nn.Sequential(nn.Linear(8, 2, dtype=np.float64)), x)


def test_mc_predict_keeps_batchnorm_on_running_statistics():
    # spec: REG-MC-DROPOUT  dropout in train mode, all else eval (BatchNorm on running statistics)
    bn = nn.BatchNorm1d(4, dtype=np.float64) if "dtype" in nn.BatchNorm1d.__init__.__code__.co_varnames \
        else nn.BatchNorm1d(4)
    net = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), bn, Dropout(0.0), nn.Linear(4, 2, dtype=np.float64))
    net.to(np.float64)
    x = cr.Tensor(np.random.default_rng(0).standard_normal((5, 3)) * 3 + 1)
    mean, var = mc_predict(net, x, n_samples=3)
    net.eval()
    np.testing.assert_allclose(mean.data, net(x).data, rtol=1e-12)  # p = 0 and running stats: deterministic
    np.testing.assert_allclose(var.data, 0.0, atol=1e-20)
    net.train()
    assert not np.allclose(net(x).data, mean.data)  # batch statistics would differ
