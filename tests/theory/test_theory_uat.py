"""Constructive and trained universal approximation.  spec: THEORY-UAT-DEMO"""

import numpy as np
import pytest

import chainrule as cr
from chainrule.theory import (
    derivative_trick_network,
    relu_interpolant_network,
    step_network,
    sup_error,
    train_shallow_relu,
)


def f(x):
    return np.sin(2 * np.pi * x)


K = 2 * np.pi


def test_constructions_meet_their_error_bounds():
    # spec: THEORY-UAT-DEMO: Heaviside ≤ K/(2n), sigmoid ≤ K/n, ReLU ≤ 4π²h²/8; calibrated n = 10
    errs = {}
    for n in (10, 20, 40, 80):
        h = 1 / n
        e_step = sup_error(step_network(f, n), f)
        e_sig = sup_error(step_network(f, n, activation="sigmoid"), f)
        e_relu = sup_error(relu_interpolant_network(f, n), f)
        assert e_step <= K / (2 * n) and e_sig <= K / n and e_relu <= 4 * np.pi**2 * h**2 / 8
        errs[n] = (e_step, e_sig, e_relu)
    np.testing.assert_allclose(errs[10], [0.309, 0.191, 0.0489], atol=6e-4)
    # the error falls as units are added: ~1/n for steps, ~1/n² for the ReLU interpolant
    assert errs[80][0] < errs[10][0] / 7 and errs[80][2] < errs[10][2] / 50


def test_relu_interpolant_is_exact_at_the_nodes_and_uses_n_units():
    net = relu_interpolant_network(f, 7)
    assert net[0].weight.shape == (7, 1)
    x = np.arange(8) / 7
    np.testing.assert_allclose(net(cr.Tensor(x[:, None])).data[:, 0], f(x), atol=1e-12)
    with pytest.raises(ValueError, match="positive integer"):
        relu_interpolant_network(f, 0)


def test_derivative_trick_gives_x_times_sigma_prime():
    # spec: THEORY-UAT-DEMO: x0 = 1, λ = h = 1e−3: max_{[−1,1]} |G(x) − xσ'(−1)| < 1e−3
    net = derivative_trick_network(lam=1e-3, h=1e-3, x0=1.0)
    x = np.linspace(-1, 1, 20001)
    s = 1 / (1 + np.exp(1.0))
    G = net(cr.Tensor(x[:, None])).data[:, 0]
    assert np.max(np.abs(G - x * s * (1 - s))) < 1e-3


def test_training_more_units_lowers_error_quick():
    # spec: THEORY-UAT-DEMO (reduced: 1 seed, 1000 steps; the full check is in the slow test)
    mse2 = train_shallow_relu(f, 2, steps=1000, seed=0)[1]
    mse32 = train_shallow_relu(f, 32, steps=1000, seed=0)[1]
    assert mse32 < mse2 / 10


@pytest.mark.slow
def test_training_full_spec_check():
    # spec: THEORY-UAT-DEMO: MLP(1, D, 1) ReLU, 200 points, Adam 1e−2, 3000 steps, best of 3 seeds
    best = {D: min(train_shallow_relu(f, D, steps=3000, seed=s)[1] for s in range(3)) for D in (2, 8, 32)}
    assert best[8] < best[2] and best[32] < best[2] / 10
