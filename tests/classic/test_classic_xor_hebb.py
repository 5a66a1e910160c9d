"""XOR needs a hidden layer; Hebb's rule.  spec: CLS-XOR, CLS-HEBB"""

import numpy as np
import pytest

import chainrule as cr
from chainrule.classic import (
    ConvergenceWarning,
    LinearRegression,
    Perceptron,
    hebbian_associative_memory,
    hebbian_update,
    train_xor_network,
    xor_data,
    xor_handset_network,
)


def test_handset_network_is_exact():
    # spec: CLS-XOR: W = [[1,1],[1,1]], c = (0, −1), w = (1, −2): outputs exactly 0, 1, 1, 0
    X, y = xor_data()
    net = xor_handset_network()
    out = net(cr.Tensor(X)).data.ravel()
    np.testing.assert_array_equal(out, y)
    hidden = net[1](net[0](cr.Tensor(X))).data
    np.testing.assert_array_equal(hidden, [[0, 0], [1, 0], [1, 0], [2, 1]])


def test_single_layer_models_fail():
    # spec: CLS-XOR: least squares predicts 0.5 (MSE 0.25); the perceptron warns
    X, y = xor_data()
    lin = LinearRegression().fit(X, y)
    np.testing.assert_allclose(lin.predict(X), 0.5, atol=1e-15)
    with pytest.warns(ConvergenceWarning):
        p = Perceptron(max_epochs=100).fit(X, y)
    assert p.score(X, y) < 1.0
    # no threshold unit separates XOR: a dense search over (b, w₁, w₂) never gets 4/4
    g = np.linspace(-3, 3, 25)
    B, W1, W2 = np.meshgrid(g, g, g, indexing="ij")
    s = B[..., None] + W1[..., None] * X[:, 0] + W2[..., None] * X[:, 1]
    assert np.max(np.sum((s > 0) == (y > 0.5), axis=-1)) == 3


def test_trained_2_4_1_tanh_net_solves_xor_for_18_of_20_seeds():
    # spec: CLS-XOR: a trained 2-4-1 tanh net solves XOR for ≥ 18 of 20 seeds
    solved = sum(train_xor_network(seed, hidden=4, activation="tanh", steps=300)[2] for seed in range(20))
    assert solved >= 18


def test_hebb_one_step_is_outer_product():
    # spec: CLS-HEBB: ΔW = η a_post a_preᵀ
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 4))
    pre, post = rng.normal(size=4), rng.normal(size=3)
    np.testing.assert_allclose(hebbian_update(W, pre, post, lr=0.1) - W, 0.1 * np.outer(post, pre), rtol=1e-14)
    P, Q = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    np.testing.assert_allclose(hebbian_update(W, P, Q, 0.5) - W, 0.5 * sum(np.outer(q, p) for p, q in zip(P, Q)))
    with pytest.raises(ValueError, match="shape"):
        hebbian_update(W, post, pre)


def test_hebbian_memory_recalls_stored_patterns():
    # spec: CLS-HEBB: co-active units strengthen their link → orthogonal ±1 patterns are recalled
    H = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], dtype=float)
    P = np.kron(H[:3], np.ones(2))  # 3 orthogonal ±1 patterns of length 8
    targets = np.eye(3) * 2 - 1
    W = hebbian_associative_memory(P, targets)
    np.testing.assert_array_equal(np.sign(P @ W.T), targets)
    assert np.all(hebbian_associative_memory(P) @ P[0] * P[0] > 0)  # auto-association
