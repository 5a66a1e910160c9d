"""Cascade-correlation.  spec: REG-CASCADE-CORR"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.regularize import CascadeCorrelation, candidate_grad, candidate_score, two_spirals

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([0, 1, 1, 0], dtype=np.float64)


@pytest.mark.parametrize("seed", range(5))
def test_xor_one_hidden_unit(seed):
    # spec: REG-CASCADE-CORR  XOR 100% with 1 hidden unit (5 seeds)
    cc = CascadeCorrelation(2, 1, max_hidden=5, generator=cr.Generator(seed)).fit(XOR_X, XOR_Y, target_accuracy=1.0)
    assert cc.n_hidden == 1
    assert cc.history[0]["accuracy"] < 1.0  # the linear net alone cannot do it
    assert ((cc.predict(XOR_X)[:, 0] > 0.5) == (XOR_Y > 0.5)).all()


def test_xor_sigmoid_outputs():
    # spec: REG-CASCADE-CORR  output='sigmoid' (outputs trained by gradient)
    cc = CascadeCorrelation(2, 1, output="sigmoid", max_hidden=5, generator=cr.Generator(0))
    cc.fit(XOR_X, XOR_Y, target_accuracy=1.0)
    P = cc.predict(XOR_X)[:, 0]
    assert cc.history[-1]["accuracy"] == 1.0 and np.all((P > 0) & (P < 1))


def test_two_spirals():
    # spec: REG-CASCADE-CORR  two spirals: 100% training accuracy with ≤ 40 units (reference: 21)
    X, y = two_spirals()
    assert X.shape == (194, 2)
    np.testing.assert_allclose(X[0], [6.5, 0.0])
    np.testing.assert_allclose(X[97], [-6.5, 0.0])
    cc = CascadeCorrelation(2, 1, max_hidden=40, generator=cr.Generator(0)).fit(X, y, target_accuracy=1.0)
    assert cc.history[-1]["accuracy"] == 1.0
    assert cc.n_hidden <= 40
    assert cc.history[0]["accuracy"] < 0.7


def test_candidate_gradient_matches_finite_differences_and_autodiff():
    # spec: REG-CASCADE-CORR  C-gradient = finite differences (erratum N11: per-output sign, per-sample f′)
    rng = np.random.default_rng(0)
    Phi = np.concatenate([rng.standard_normal((30, 3)), np.ones((30, 1)), np.tanh(rng.standard_normal((30, 2)))], 1)
    E = rng.standard_normal((30, 3))
    W = rng.uniform(-1, 1, (6, 4))
    G = candidate_grad(W, Phi, E)
    h = 1e-6
    num = np.zeros_like(W)
    for i in range(W.shape[0]):
        for c in range(W.shape[1]):
            Wp, Wm = W.copy(), W.copy()
            Wp[i, c] += h
            Wm[i, c] -= h
            num[i, c] = (candidate_score(Wp, Phi, E)[c] - candidate_score(Wm, Phi, E)[c]) / (2 * h)
    assert np.abs(G - num).max() < 1e-7
    # the same score written with engine ops, differentiated by reverse mode
    Wt = cr.Tensor(W.copy(), requires_grad=True)
    A = cr.ops.tanh(cr.Tensor(Phi) @ Wt)
    Ac = A - A.mean(axis=0, keepdims=True)
    Ec = cr.Tensor(E - E.mean(axis=0))
    C = cr.ops.abs(Ac.T @ Ec).sum(axis=1)
    np.testing.assert_allclose(C.data, candidate_score(W, Phi, E), rtol=1e-12)
    C.sum().backward()
    np.testing.assert_allclose(Wt.grad.data, G, rtol=1e-10, atol=1e-12)
    # the sign must be per output: a single global sign gives a different (wrong) gradient here
    S = Phi @ W
    Eb = E - E.mean(0)
    wrong = Phi.T @ ((1 - np.tanh(S) ** 2) * Eb.sum(1, keepdims=True) * np.sign((np.tanh(S) - np.tanh(S).mean(0)).T
                                                                                   @ Eb).sum(1))
    assert np.abs(wrong - G).max() > 1e-3


class _Recording(CascadeCorrelation):
    def _train_candidates(self, Phi, E, rng):
        self.snapshots = getattr(self, "snapshots", []) + [[w.copy() for w in self.hidden_weights]]
        return super()._train_candidates(Phi, E, rng)


def test_installed_weights_frozen_and_cascade_forward():
    # spec: REG-CASCADE-CORR  installed weights never change; each unit sees inputs, bias, earlier units;
    # output weights by least squares on all of them
    X, y = two_spirals()
    cc = _Recording(2, 1, max_hidden=6, generator=cr.Generator(1)).fit(X, y)
    assert cc.n_hidden == 6
    for snap in cc.snapshots:
        for old, now in zip(snap, cc.hidden_weights):
            np.testing.assert_array_equal(old, now)
    assert [w.shape[0] for w in cc.hidden_weights] == [3, 4, 5, 6, 7, 8]
    # manual cascade forward
    cols = [X, np.ones((194, 1))]
    for w in cc.hidden_weights:
        cols.append(np.tanh(np.concatenate(cols, 1) @ w)[:, None])
    Phi = np.concatenate(cols, 1)
    np.testing.assert_allclose(cc.features(X), Phi, rtol=1e-13)
    V = np.linalg.lstsq(Phi, y[:, None], rcond=None)[0]
    np.testing.assert_allclose(cc.predict(X), Phi @ V, atol=1e-6)
    mse = [h["mse"] for h in cc.history]
    assert all(b <= a + 1e-12 for a, b in zip(mse, mse[1:]))  # each unit can only lower the LS error
    assert isinstance(cc(X), cr.Tensor)
    with pytest.raises(ValueError, match="expects X"):
        cc.predict(np.zeros((3, 5)))
