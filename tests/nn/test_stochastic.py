"""Binary neurons: threshold units, stochastic binary units and their gradient estimators.

spec: NEURON-TYPES, NEURON-STOCHASTIC-BINARY
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import expit

import chainrule as cr
from chainrule import nn
from chainrule.nn.stochastic import (
    StochasticBinary,
    Threshold,
    bernoulli,
    bernoulli_log_prob,
    reinforce_surrogate,
    stochastic_binary,
)


def _t(a, rg=True):
    return cr.Tensor(np.array(a, dtype=np.float64), requires_grad=rg)


def test_threshold_unit_boundary_and_gradients():
    """spec: NEURON-TYPES — Threshold with w = (1, −1), b = θ = 0 outputs 1 exactly where x1 ≥ x2;
    gradient 0 a.e., straight-through passes it unchanged; θ ≡ bias −θ."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 2))
    X[:10, 1] = X[:10, 0]                                   # ties lie on the boundary
    lin = nn.Linear(2, 1, dtype=np.float64)
    with cr.no_grad():
        lin.weight.data[...] = [[1.0, -1.0]]
        lin.bias.data[...] = 0.0
    y = Threshold(theta=0.0)(lin(_t(X, False)))
    np.testing.assert_array_equal(y.data[:, 0], (X[:, 0] >= X[:, 1]).astype(float))
    z = _t(rng.standard_normal(6))
    (Threshold(0.3)(z) * _t(np.arange(6.0), False)).sum().backward()
    np.testing.assert_array_equal(z.grad.data, 0)
    z2 = _t(z.data)
    (Threshold(0.3, straight_through=True)(z2) * _t(np.arange(6.0), False)).sum().backward()
    np.testing.assert_array_equal(z2.grad.data, np.arange(6.0))
    np.testing.assert_array_equal(Threshold(0.3)(z).data, Threshold(0.0)(z - 0.3).data)


def test_sigmoid_unit_half_iff_positive():
    """spec: NEURON-TYPES — σ(z) > ½ ⇔ z > 0."""
    z = np.linspace(-5, 5, 1001)
    s = nn.Sigmoid()(_t(z, False)).data
    np.testing.assert_array_equal(s > 0.5, z > 0)


def test_stochastic_binary_mean_and_reproducibility():
    """spec: NEURON-STOCHASTIC-BINARY — 10⁵ samples at z = 0.3: mean within 4·√(p(1−p)/10⁵) of
    σ(0.3) = 0.574443; same seed ⇒ identical samples; eval mode still samples."""
    p = expit(0.3)
    assert abs(p - 0.574443) < 1e-6
    z = np.full(100_000, 0.3)
    unit = StochasticBinary(generator=cr.Generator(5))
    s = unit(_t(z, False)).data
    assert set(np.unique(s)) <= {0.0, 1.0}
    assert abs(s.mean() - p) <= 4 * np.sqrt(p * (1 - p) / 1e5)
    s2 = StochasticBinary(generator=cr.Generator(5))(_t(z, False)).data
    np.testing.assert_array_equal(s, s2)
    cr.manual_seed(11)
    a = stochastic_binary(_t(z, False)).data
    cr.manual_seed(11)
    b = bernoulli(expit(z)).data
    np.testing.assert_array_equal(a, b)                    # S = 𝟙[U < σ(z)] with the same U
    unit.eval()
    assert not np.array_equal(unit(_t(z[:100], False)).data, unit(_t(z[:100], False)).data)


def test_layer_probabilities_batch_form():
    """P = σ(X Wᵀ + b) (N, out); deterministic=True returns P."""
    lin = nn.Linear(3, 4, dtype=np.float64, generator=cr.Generator(0))
    X = np.random.default_rng(0).standard_normal((5, 3))
    P = StochasticBinary(deterministic=True)(lin(_t(X, False))).data
    np.testing.assert_allclose(P, expit(X @ lin.weight.data.T + lin.bias.data), rtol=1e-14)


def test_sample_has_no_gradient_unless_estimator_chosen():
    z = _t(np.zeros(4))
    s = stochastic_binary(z)
    with pytest.raises(RuntimeError, match="straight_through"):
        s.sum().backward()


def test_straight_through_gradient_is_the_documented_surrogate():
    """straight-through: dL/dz = dL/dS ⊙ σ(z)(1 − σ(z)) exactly (and the forward is still a sample)."""
    rng = np.random.default_rng(0)
    zv = rng.standard_normal((7, 3))
    w = rng.standard_normal((7, 3))
    z = _t(zv)
    s = StochasticBinary(straight_through=True, generator=cr.Generator(1))(z)
    assert set(np.unique(s.data)) <= {0.0, 1.0}
    (s * _t(w, False)).sum().backward()
    p = expit(zv)
    np.testing.assert_allclose(z.grad.data, w * p * (1 - p), rtol=1e-14)
    # second-order: the surrogate is differentiable (create_graph) and equals d/dz of w·σ'(z)
    z2 = _t(zv)
    s2 = stochastic_binary(z2, straight_through=True, generator=cr.Generator(1))
    g = cr.grad((s2 * _t(w, False)).sum(), z2, create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(z2.grad.data, w * p * (1 - p) * (1 - 2 * p), rtol=1e-12)


def test_bernoulli_log_prob_is_stable_and_scores():
    z = _t([-1000.0, -3.0, 0.0, 2.0, 1000.0])
    s = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    lp = bernoulli_log_prob(z, s)
    zm = z.data[1:4]
    ref = np.where(s[1:4] == 1, np.log(expit(zm)), np.log(1 - expit(zm)))
    np.testing.assert_allclose(lp.data[1:4], ref, rtol=1e-12)
    np.testing.assert_allclose(lp.data[[0, 4]], [0.0, 0.0], atol=1e-300)
    assert np.all(np.isfinite(lp.data))
    lp.sum().backward()
    np.testing.assert_allclose(z.grad.data, s - expit(z.data), rtol=1e-12)


def test_reinforce_is_unbiased_by_monte_carlo():
    """REINFORCE on a tiny problem: the Monte-Carlo mean of (f(S) − b)·(S − σ(z)) equals the exact
    ∇_z E[f(S)] (computed by enumerating the 2³ states and differentiating the expectation)."""
    zv = np.array([0.4, -0.7, 1.1])
    w = np.array([1.0, -2.0, 0.5])

    def f_np(S):
        return (S @ w - 0.3) ** 2 + S[..., 0] * S[..., 2]

    # exact gradient of E[f] = Σ_s p(s; z) f(s)
    z = _t(zv)
    p = cr.sigmoid(z)
    total = None
    for bits in itertools.product([0.0, 1.0], repeat=3):
        sb = np.array(bits)
        term = p * _t(sb, False) + (1 - p) * _t(1 - sb, False)
        prob = term[0] * term[1] * term[2]
        total = prob * f_np(sb) if total is None else total + prob * f_np(sb)
    total.backward()
    exact = z.grad.data.copy()

    M = 200_000
    zz = _t(np.broadcast_to(zv, (M, 3)).copy())
    S = stochastic_binary(zz, generator=cr.Generator(0)).data
    fS = f_np(S)
    for baseline in (0.0, float(fS.mean())):
        zz.grad = None
        reinforce_surrogate(zz, S, fS, baseline=baseline, reduction="sum").backward()
        est = zz.grad.data                                  # per-sample estimates (M, 3)
        mean, se = est.mean(0), est.std(0) / np.sqrt(M)
        assert np.all(np.abs(mean - exact) < 4.5 * se + 1e-12), (mean, exact, se)
    # a biased estimator (straight-through) is measurably off on this problem
    zz.grad = None
    s_st = stochastic_binary(zz, straight_through=True, generator=cr.Generator(0))
    ww = _t(w, False)
    ((((s_st * ww).sum(1) - 0.3) ** 2).sum() + (s_st[:, 0] * s_st[:, 2]).sum()).backward()
    assert np.max(np.abs(zz.grad.data.mean(0) - exact)) > 0.05


def test_reinforce_shapes_and_errors():
    z = _t(np.zeros((4, 3)))
    S = np.ones((4, 3))
    assert reinforce_surrogate(z, S, np.ones(4)).shape == ()
    assert reinforce_surrogate(z, S, np.ones((4, 3)), reduction="sum").shape == ()
    with pytest.raises(ValueError, match="per example"):
        reinforce_surrogate(z, S, np.ones(5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bernoulli(np.array([0.5, 1.5]))
