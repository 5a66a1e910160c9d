"""Flat minimum search.  spec: REG-FMS"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.regularize import FlatMinimumSearch, fms_grad_J, fms_omega


def _net(seed=0, act=nn.Tanh):
    g = cr.Generator(seed)
    return nn.Sequential(nn.Linear(2, 3, dtype=np.float64, generator=g), act(),
                         nn.Linear(3, 2, dtype=np.float64, generator=g))


def test_dOmega_dJ_matches_finite_differences():
    # spec: REG-FMS  ∂Ω/∂J = finite differences
    rng = np.random.default_rng(0)
    J = rng.standard_normal((3, 7))
    G = fms_grad_J(J)
    h = 1e-6
    num = np.zeros_like(J)
    for k in range(3):
        for i in range(7):
            Jp, Jm = J.copy(), J.copy()
            Jp[k, i] += h
            Jm[k, i] -= h
            num[k, i] = (fms_omega(Jp, 0.01) - fms_omega(Jm, 0.01)) / (2 * h)
    assert np.abs(G - num).max() < 1e-7


def test_omega_scaling_and_definition():
    # spec: REG-FMS  Ω(cJ) = Ω(J) + W log c; Ω = ½(−W log ε + Σ log Sᵢ + W log Σ_k T_k²)
    rng = np.random.default_rng(1)
    J = rng.standard_normal((2, 5))
    for c in (0.1, 3.0):
        assert fms_omega(c * J, 0.05) == pytest.approx(fms_omega(J, 0.05) + 5 * math.log(c), rel=1e-12)
    S = (J ** 2).sum(0)
    T = (np.abs(J) / np.sqrt(S)).sum(1)
    ref = 0.5 * (-5 * math.log(0.05) + np.log(S).sum() + 5 * math.log((T ** 2).sum()))
    assert fms_omega(J, 0.05) == pytest.approx(ref, rel=1e-14)
    # one output: T = #weights, so Ω is ½Σ log Sᵢ up to a constant; zero sensitivity hits the floor
    Jd = J.copy()
    Jd[:, 0] = 0
    assert np.isfinite(fms_omega(Jd, 0.05)) and np.all(np.isfinite(fms_grad_J(Jd)))


def test_weight_gradient_matches_finite_differences():
    # spec: REG-FMS  ∇_wΩ (double backward, Σ_k H⁽ᵏ⁾v_k) = finite differences of Ω(w)
    net = _net(2)
    x = cr.Tensor(np.random.default_rng(3).standard_normal((3, 2)))
    fms = FlatMinimumSearch(net, eps=0.02)
    om, grads = fms.value_and_grad(x)
    ps = list(net.parameters())
    h = 1e-6
    for p, g in zip(ps, grads):
        num = np.zeros(p.shape)
        for j in range(p.size):
            o = p.data.flat[j]
            p.data.flat[j] = o + h
            fp = fms.value_and_grad(x)[0]
            p.data.flat[j] = o - h
            fm = fms.value_and_grad(x)[0]
            p.data.flat[j] = o
            num.flat[j] = (fp - fm) / (2 * h)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6)
    # Ω per example from the engine's Jacobian, averaged over the batch
    per = []
    for i in range(3):
        rows = []
        for k in range(2):
            y = net(x[i:i + 1])[0, k]
            rows.append(np.concatenate([t.data.ravel() for t in cr.grad(y, ps)]))
        per.append(fms_omega(np.array(rows), 0.02))
    assert om == pytest.approx(np.mean(per), rel=1e-12)


def test_tensor_interface_backward_adds_lambda_grad():
    # spec: REG-FMS  loss = data + λ·fms(x): backward adds λ∇Ω
    net = _net(4)
    x = cr.Tensor(np.random.default_rng(5).standard_normal((4, 2)))
    fms = FlatMinimumSearch(net, eps=0.01, lam=0.3)
    om, grads = fms.value_and_grad(x)
    val = fms(x) * fms.lam
    assert val.item() == pytest.approx(0.3 * om)
    val.backward()
    for p, g in zip(net.parameters(), grads):
        np.testing.assert_allclose(p.grad.data, 0.3 * g, rtol=1e-12)
    assert fms.n_weights == 17
    with pytest.raises(ValueError):
        FlatMinimumSearch(net, eps=0)


def test_fms_training_lowers_omega():
    # spec: REG-FMS  minimising the term flattens the net (Ω falls, it would not without the term)
    rng = np.random.default_rng(6)
    X = cr.Tensor(rng.uniform(-2, 2, (12, 2)))
    Y = cr.Tensor(np.sin(X.data[:, :1]) * np.ones((1, 2)))
    res = {}
    for lam in (0.0, 3e-3):
        net = _net(7)
        fms = FlatMinimumSearch(net, eps=0.01, lam=lam)
        opt = cr.optim.Adam(net.parameters(), lr=0.01)
        for _ in range(60):
            opt.zero_grad()
            loss = 0.5 * ((net(X) - Y) ** 2).mean()
            if lam:
                loss = loss + lam * fms(X)
            loss.backward()
            opt.step()
        res[lam] = FlatMinimumSearch(net, eps=0.01).value_and_grad(X)[0]
    assert res[3e-3] < res[0.0] - 1.0


def test_adapt_lambda():
    fms = FlatMinimumSearch(_net(), lam=1.0)
    assert fms.adapt(0.1, 0.2) == pytest.approx(1.01)
    assert fms.adapt(0.3, 0.2) == pytest.approx(1.01 * 0.99)


@pytest.mark.slow
def test_fms_finds_flatter_minimum():
    # spec: REG-FMS  the FMS minimum is flatter (lower Ω, lower Hessian trace) than the plain minimum and
    # generalises better, with its training loss below the noise floor 0.005
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "regularization" / "fms_demo.py"
    spec = importlib.util.spec_from_file_location("fms_demo", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.run(seeds=(0, 1), steps=2000)
    for r in rows:
        assert r["fms_omega"] < r["plain_omega"] - 100
        assert r["fms_trace"] < r["plain_trace"]
        assert r["fms_test"] < r["plain_test"]
        assert r["fms_train"] < 0.005
