"""Early stopping as model selection; the temperature of SGD.  spec: REG-EARLY-STOP, REG-SGD-TEMPERATURE"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.regularize import EarlyStoppingRule, early_stopping_fit, expected_coverage, sgd_temperature


def _stop_epoch(values, **kw):
    rule = EarlyStoppingRule(**kw)
    for e, v in enumerate(values):
        if rule.update(e, v):
            return e, rule
    return None, rule


def test_rule_spec_sequence():
    # spec: REG-EARLY-STOP  val_loss (1.0, 0.9, 0.95, 0.96, 0.8), patience 2: stops after the 4th epoch,
    # best (restored) = the 2nd; patience 0 stops at the first non-improvement
    vals = (1.0, 0.9, 0.95, 0.96, 0.8)
    e, rule = _stop_epoch(vals, patience=2)
    assert e == 3 and rule.best_epoch == 1 and rule.best == 0.9
    e0, r0 = _stop_epoch(vals, patience=0)
    assert e0 == 2 and r0.best_epoch == 1
    e5, r5 = _stop_epoch(vals, patience=5)
    assert e5 is None and r5.best_epoch == 4


def test_rule_min_delta_mode_baseline_start():
    # spec: REG-EARLY-STOP  improved ⇔ current < best − min_delta; 'max' reversed; baseline; start_from_epoch
    e, rule = _stop_epoch((1.0, 0.96, 0.95, 0.90), patience=2, min_delta=0.06)
    assert e == 2 and rule.best_epoch == 0  # 0.96 and 0.95 do not beat 1.0 by 0.06
    e, rule = _stop_epoch((0.5, 0.6, 0.55, 0.54), mode="max", patience=2)
    assert e == 3 and rule.best_epoch == 1
    vals = (1.0, 0.9, 0.95, 0.96, 0.97)
    assert _stop_epoch(vals, patience=3)[0] == 4
    assert _stop_epoch(vals, patience=3, baseline=0.5)[0] == 2  # the baseline was never beaten: wait not reset
    e, rule = _stop_epoch((1.0, 2.0, 3.0, 0.5, 0.6, 0.7), patience=1, start_from_epoch=3)
    assert e == 4 and rule.best_epoch == 3
    with pytest.raises(ValueError):
        EarlyStoppingRule(mode="auto")


def test_early_stopping_fit_stops_and_restores_best_weights():
    # spec: REG-EARLY-STOP  a big MLP on 50 noisy points: stops early; the restored weights reproduce the best
    # validation loss exactly
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (50, 1))
    Y = np.sin(3 * X) + 0.3 * rng.standard_normal((50, 1))
    Xv = rng.uniform(-1, 1, (50, 1))
    Yv = np.sin(3 * Xv) + 0.3 * rng.standard_normal((50, 1))
    g = cr.Generator(0)
    net = nn.Sequential(nn.Linear(1, 128, dtype=np.float64, generator=g), nn.Tanh(),
                        nn.Linear(128, 128, dtype=np.float64, generator=g), nn.Tanh(),
                        nn.Linear(128, 1, dtype=np.float64, generator=g))
    opt = cr.optim.Adam(net.parameters(), lr=0.01)
    hist = early_stopping_fit(net, opt, F.mse_loss, (X, Y), (Xv, Yv), epochs=500, batch_size=10, patience=5,
                              generator=cr.Generator(1))
    assert hist["stopped_epoch"] is not None and hist["stopped_epoch"] < 499
    assert len(hist["val_loss"]) == hist["stopped_epoch"] + 1
    best = hist["best_epoch"]
    assert hist["val_loss"][best] == min(hist["val_loss"])
    with cr.no_grad():
        v = F.mse_loss(net(cr.Tensor(Xv)), cr.Tensor(Yv)).item()
    assert v == hist["val_loss"][best]
    assert hist["val_loss"][-1] > v  # training went on past the best epoch and was rolled back


def test_sgd_temperature_values_and_coverage():
    # spec: REG-SGD-TEMPERATURE  η/(2b) = 0.0015625 for (0.1, 32); with n = 64: 0.00078125;
    # with replacement ≈ 1 − e⁻¹ = 0.632 of the indices appear per epoch
    assert sgd_temperature(0.1, 32) == pytest.approx(0.0015625, rel=1e-15)
    assert sgd_temperature(0.1, 32, n=64) == pytest.approx(0.00078125, rel=1e-15)
    assert expected_coverage(10 ** 6) == pytest.approx(1 - np.exp(-1), abs=1e-6)
    from chainrule.data import RandomSampler

    idx = RandomSampler(20000, replacement=True, generator=cr.Generator(0)).indices()
    assert np.unique(idx).size / 20000 == pytest.approx(expected_coverage(20000), abs=0.01)
    with pytest.raises(ValueError):
        sgd_temperature(0.1, 32, n=16)


def test_sgd_stationary_spread_follows_the_temperature():
    # spec: REG-SGD-TEMPERATURE  mini-batch SGD on R(w) = (1/N)Σₙ(½hw² + aₙw) (per-sample gradient noise of
    # variance 1) settles to a spread Var(w) ≈ β⁻¹/h with β⁻¹ = η/(2b): η/b sets the temperature
    rng = np.random.default_rng(0)
    N, h, chains = 2000, 1.0, 4000
    a = rng.standard_normal(N)
    a = (a - a.mean()) / a.std()
    out = {}
    for lr, b in ((0.04, 1), (0.04, 4), (0.16, 4)):
        w = nn.Parameter(np.zeros(chains))
        opt = cr.optim.SGD([w], lr=lr)
        for _ in range(int(8 / (lr * h)) + 200):
            abar = cr.Tensor(a[rng.integers(0, N, (chains, b))].mean(axis=1))  # with replacement
            opt.zero_grad()
            (0.5 * h * w * w + abar * w).sum().backward()
            opt.step()
        T = sgd_temperature(lr, b)
        exact = T / h / (1 - lr * h / 2)  # the discrete-time stationary variance ησ²/(bh(2 − ηh))
        out[(lr, b)] = w.data.var()
        assert w.data.var() == pytest.approx(exact, rel=0.08)
    assert out[(0.04, 1)] / out[(0.04, 4)] == pytest.approx(4, rel=0.15)  # 4× batch: 4× colder
    assert out[(0.16, 4)] > 3 * out[(0.04, 4)]  # larger step: hotter
