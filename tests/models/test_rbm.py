"""Bernoulli RBM: exact conditionals and likelihood by enumeration, CD-1 by hand, CD/PCD learning.

spec: RBM, NEURON-STOCHASTIC-BINARY
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from helpers import mnist_dir
from scipy.special import logsumexp

import chainrule as cr
from chainrule.models.rbm import BernoulliRBM

PATTERNS = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0]], dtype=float)


def _random_rbm(V=6, H=4, seed=0):
    rbm = BernoulliRBM(H, n_features=V, dtype=np.float64, generator=cr.Generator(seed))
    rng = np.random.default_rng(seed)
    with cr.no_grad():
        rbm.weight.data[...] = rng.standard_normal((H, V))
        rbm.visible_bias.data[...] = rng.standard_normal(V) * 0.5
        rbm.hidden_bias.data[...] = rng.standard_normal(H) * 0.5
    return rbm


def test_conditionals_free_energy_and_partition_by_enumeration():
    """spec: RBM — V = 6, H = 4, all 2^10 joint states: p(h_j=1|v), p(v_i=1|h) = the sigmoid formulas
    (1e−12); log p(v) = −F(v) − log Z; log Z by either layer."""
    rbm = _random_rbm()
    W, a, b = rbm.weight.data, rbm.visible_bias.data, rbm.hidden_bias.data
    Vs = np.array(list(itertools.product([0.0, 1.0], repeat=6)))
    Hs = np.array(list(itertools.product([0.0, 1.0], repeat=4)))
    E = -(Vs @ a)[:, None] - (Hs @ b)[None, :] - Vs @ W.T @ Hs.T      # E(v, h), (64, 16)
    logZ = logsumexp(-E)
    P = np.exp(-E - logZ)
    pv = P.sum(1)
    ph_given_v = (P[:, :, None] * Hs[None]).sum(1) / pv[:, None]      # E[h | v]
    np.testing.assert_allclose(rbm.hidden_probs(Vs), ph_given_v, rtol=1e-12, atol=1e-14)
    ph = P.sum(0)
    pv_given_h = (P[:, :, None] * Vs[:, None, :]).sum(0) / ph[:, None]
    np.testing.assert_allclose(rbm.visible_probs(Hs), pv_given_h, rtol=1e-12, atol=1e-14)
    assert abs(rbm.log_partition() - logZ) < 1e-10
    np.testing.assert_allclose(-rbm.free_energy(Vs).data - logZ, np.log(pv), rtol=1e-12)
    assert abs(rbm.log_likelihood(Vs[:5]) - np.log(pv[:5]).mean()) < 1e-10
    np.testing.assert_allclose(rbm.energy(Vs[:3], Hs[:3]), np.diag(E[:3, :3]), rtol=1e-12)
    rbm_wide = _random_rbm(V=3, H=5, seed=2)                # enumerates the visible layer instead
    Vs3 = np.array(list(itertools.product([0.0, 1.0], repeat=3)))
    assert abs(logsumexp(-rbm_wide.free_energy(Vs3).data) - rbm_wide.log_partition()) < 1e-10


def test_cd1_update_equals_hand_computation():
    """spec: RBM — CD-1 on a 1×1 RBM, batch v0 = (1, 0), W = 0.5, a = 0.1, b = −0.2, η = 0.1, with the
    uniforms U = (0.63696…, 0.26979…) of Generator(0) (the documented draw order: U_h (N, H) first)."""
    rbm = BernoulliRBM(1, n_features=1, learning_rate=0.1, dtype=np.float64, generator=cr.Generator(0))
    with cr.no_grad():
        rbm.weight.data[...] = 0.5
        rbm.visible_bias.data[...] = 0.1
        rbm.hidden_bias.data[...] = -0.2
    U = np.random.default_rng(0).random((2, 1))
    assert abs(U[0, 0] - 0.6369616873214543) < 1e-15 and abs(U[1, 0] - 0.2697867137638703) < 1e-15
    s = lambda x: 1.0 / (1.0 + math.exp(-x))
    # row 1: v0 = 1: P_h0 = σ(0.5 − 0.2) = 0.574443 < U = 0.637 → h0 = 0 → P_v1 = σ(0.1) → P_h1 = σ(0.5 P_v1 − 0.2)
    # row 2: v0 = 0: P_h0 = σ(−0.2) = 0.450166 > U = 0.270 → h0 = 1 → P_v1 = σ(0.6) → P_h1 = σ(0.5 P_v1 − 0.2)
    ph0 = [s(0.3), s(-0.2)]
    pv1 = [s(0.1), s(0.6)]
    ph1 = [s(0.5 * pv1[0] - 0.2), s(0.5 * pv1[1] - 0.2)]
    dW = ((ph0[0] * 1 + ph0[1] * 0) - (ph1[0] * pv1[0] + ph1[1] * pv1[1])) / 2
    da = ((1 + 0) - (pv1[0] + pv1[1])) / 2
    db = ((ph0[0] + ph0[1]) - (ph1[0] + ph1[1])) / 2
    rbm.partial_fit(np.array([[1.0], [0.0]]), generator=cr.Generator(0))
    assert abs(rbm.weight.data[0, 0] - (0.5 + 0.1 * dW)) < 1e-15
    assert abs(rbm.visible_bias.data[0] - (0.1 + 0.1 * da)) < 1e-15
    assert abs(rbm.hidden_bias.data[0] - (-0.2 + 0.1 * db)) < 1e-15
    assert abs(dW - (-0.0194377)) < 1e-6                     # its value, for the record


def test_cd_equals_gradient_of_free_energy_difference():
    """The CD direction is −∇[mean F(V0) − mean F(V_k)] (samples held fixed): the positive minus the
    negative phase of ∂ log p/∂W = E_data[h vᵀ] − E_model[h vᵀ]."""
    rbm = _random_rbm(V=5, H=3, seed=4)
    V0 = (np.random.default_rng(1).random((8, 5)) < 0.5).astype(float)
    for k in (1, 3):
        g = rbm.contrastive_divergence(V0, k=k, generator=cr.Generator(7))
        for p in rbm.parameters():
            p.grad = None
        (rbm.free_energy(V0).mean() - rbm.free_energy(g["V_neg"]).mean()).backward()
        np.testing.assert_allclose(-rbm.weight.grad.data, g["W"], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(-rbm.visible_bias.grad.data, g["a"], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(-rbm.hidden_bias.grad.data, g["b"], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cd1_raises_exact_log_likelihood(seed):
    """spec: RBM — CD-1 on {111000, 000111, 101010}, full batch, 1000 updates, η = 0.1: the exact mean
    log-likelihood rises by ≥ 1 nat (calibrated −4.16 → −1.55…−2.05)."""
    rbm = BernoulliRBM(4, n_features=6, learning_rate=0.1, batch_size=3, dtype=np.float64,
                       generator=cr.Generator(seed))
    before = rbm.log_likelihood(PATTERNS)
    for _ in range(1000):
        rbm.partial_fit(PATTERNS)
    after = rbm.log_likelihood(PATTERNS)
    assert after - before >= 1.0, (before, after)


def test_persistent_cd_and_options_learn():
    """PCD (persistent fantasy particles), CD-3 with sampled visibles, momentum and weight decay all
    raise the likelihood; PCD keeps its chain between updates."""
    for kw in ({"persistent": True, "n_chains": 20}, {"k": 3, "sample_visible": True},
               {"momentum": 0.5, "weight_decay": 1e-3}):
        rbm = BernoulliRBM(4, n_features=6, learning_rate=0.05, batch_size=3, dtype=np.float64,
                           generator=cr.Generator(0), **kw)
        before = rbm.log_likelihood(PATTERNS)
        for _ in range(1500):
            rbm.partial_fit(PATTERNS)
        assert rbm.log_likelihood(PATTERNS) - before >= 0.8, kw
        if kw.get("persistent"):
            assert rbm._chain.shape == (20, 6) and set(np.unique(rbm._chain)) <= {0.0, 1.0}


def test_gibbs_sampling_reproduces_model_distribution():
    """A long Gibbs chain's visible-state frequencies match the exact p(v) (total variation < 0.05)."""
    rbm = _random_rbm(V=3, H=2, seed=5)
    Vs = np.array(list(itertools.product([0.0, 1.0], repeat=3)))
    exact = np.exp(-rbm.free_energy(Vs).data - rbm.log_partition())
    g = cr.Generator(0)
    V = np.zeros((2000, 3))
    counts = np.zeros(8)
    for step in range(60):
        V = rbm.gibbs(V, generator=g)
        if step >= 10:
            idx = (V @ np.array([4, 2, 1])).astype(int)
            counts += np.bincount(idx, minlength=8)
    emp = counts / counts.sum()
    assert 0.5 * np.abs(emp - exact).sum() < 0.05


def test_gaussian_hidden_units():
    """hidden='gaussian': E[h | v] = b + W v (Monte Carlo), F(v) = −aᵀv − ½‖b + Wv‖² (formula)."""
    rbm = BernoulliRBM(3, n_features=4, hidden="gaussian", dtype=np.float64, generator=cr.Generator(0))
    with cr.no_grad():
        rbm.weight.data[...] = np.random.default_rng(0).standard_normal((3, 4))
        rbm.hidden_bias.data[...] = [0.1, -0.2, 0.3]
        rbm.visible_bias.data[...] = [0.5, 0.0, -0.5, 1.0]
    v = np.array([[1.0, 0.0, 1.0, 1.0]])
    mean = v @ rbm.weight.data.T + rbm.hidden_bias.data
    np.testing.assert_allclose(rbm.transform(v), mean, rtol=1e-14)
    draws = np.stack([rbm._sample_h(np.repeat(mean, 20000, 0), rbm.generator)]).reshape(-1, 3)
    assert np.all(np.abs(draws.mean(0) - mean[0]) < 4 / np.sqrt(20000))
    F = -(v @ rbm.visible_bias.data) - 0.5 * (mean ** 2).sum(-1)
    np.testing.assert_allclose(rbm.free_energy(v).data, F, rtol=1e-14)


def test_fit_api_and_errors():
    rng = np.random.default_rng(0)
    X = (rng.random((60, 6)) < 0.3).astype(np.float32)
    rbm = BernoulliRBM(5, learning_rate=0.05, batch_size=10, n_iter=3)
    assert rbm.fit(X) is rbm
    assert rbm.components_.shape == (5, 6) and rbm.intercept_hidden_.shape == (5,)
    assert rbm.intercept_visible_.shape == (6,) and len(rbm.history_) == 3
    assert rbm.transform(X).shape == (60, 5) and rbm.transform(X).dtype == np.float32
    s = rbm.gibbs(X[:4])
    assert s.shape == (4, 6) and set(np.unique(s)) <= {0.0, 1.0}
    assert rbm.sample(3, n_steps=5).shape == (3, 6)
    with pytest.raises(ValueError, match="6 visible units"):
        rbm.transform(np.zeros((2, 7)))
    with pytest.raises(ValueError, match="n_components"):
        BernoulliRBM(0)
    with pytest.raises(ValueError, match="too many"):
        BernoulliRBM(30, n_features=40).log_partition()


def test_mnist_rbm_learns_features():
    """On 2000 genuine MNIST digits, one epoch of CD-1 lowers the reconstruction error well below that of
    the initial model (skips without the data)."""
    X, _ = cr.data.load_mnist(mnist_dir(), split="train", flatten=True)
    X = X[:2000]
    rbm = BernoulliRBM(64, learning_rate=0.05, batch_size=20, n_iter=1, generator=cr.Generator(0))
    rbm._need(X)
    before = rbm.reconstruction_error(X)
    rbm.fit(X)
    after = rbm.reconstruction_error(X)
    assert after < 0.6 * before, (before, after)
