"""Perceptron, its criterion and convergence bound.  spec: CLS-PERCEPTRON, LOSS-PERCEPTRON, CLS-PERCEPTRON-BOUND"""

import warnings

import numpy as np
import pytest
from helpers import t64

import chainrule as cr
from chainrule.classic import (
    ConvergenceWarning,
    Perceptron,
    perceptron_bound,
    perceptron_criterion,
    perceptron_loss,
    xor_data,
)

AND_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
AND_Y = np.array([-1, -1, -1, 1])


def test_and_example_18_updates():
    # spec: CLS-PERCEPTRON computed example (erratum E1: update on y·wᵀx = 0)
    p = Perceptron(lr=1.0).fit(AND_X, AND_Y)
    assert p.n_updates_ == 18
    assert p.n_epochs_ == 9 and p.errors_per_epoch_[-1] == 0 and np.all(p.errors_per_epoch_[:-1] > 0)
    np.testing.assert_array_equal(p.w_, [-4.0, 3.0, 2.0])
    assert p.converged_ and p.score(AND_X, AND_Y) == 1.0
    np.testing.assert_array_equal(p.predict(AND_X), AND_Y)


def test_strict_rule_of_the_notes_never_moves():
    # spec: CLS-PERCEPTRON erratum E1: the strict rule y·s < 0 makes 0 updates from w = 0
    p = Perceptron(update_on_zero=False).fit(AND_X, AND_Y)
    assert p.n_updates_ == 0 and np.all(p.w_ == 0)
    assert p.score(AND_X, AND_Y) == 0.75  # predicts -1 everywhere


def test_lr_does_not_change_classifier_from_zero_init():
    a = Perceptron(lr=1.0).fit(AND_X, AND_Y)
    b = Perceptron(lr=0.25).fit(AND_X, AND_Y)  # a power of 2: ties y·s = 0 stay exact
    assert a.n_updates_ == b.n_updates_
    np.testing.assert_array_equal(b.w_ / 0.25, a.w_)


def test_arbitrary_labels_and_batch_mode():
    y = np.where(AND_Y > 0, "yes", "no")
    p = Perceptron(mode="batch").fit(AND_X, y)
    assert p.converged_ and list(p.classes_) == ["no", "yes"]
    np.testing.assert_array_equal(p.predict(AND_X), y)


def _margin_data(seed, n=60, d=3, gamma0=0.2):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d)
    u = np.concatenate([[-w @ rng.uniform(-1, 1, size=d)], w])  # hyperplane through the box
    u /= np.linalg.norm(u)
    X = rng.uniform(-2, 2, size=(20 * n, d))
    s = np.concatenate([np.ones((len(X), 1)), X], 1) @ u
    keep = np.abs(s) >= gamma0
    X, s = X[keep][:n], s[keep][:n]
    return X, np.sign(s), u


def test_update_count_never_exceeds_bound_100_seeds():
    # spec: CLS-PERCEPTRON-BOUND: n_updates_ ≤ (R/γ₀)² with data of margin ≥ γ₀ around a known u
    worst = 0.0
    for seed in range(100):
        X, y, u = _margin_data(seed)
        p = Perceptron(shuffle=bool(seed % 2), random_state=seed).fit(X, y)
        bound = perceptron_bound(X, y, u)
        Xa = np.concatenate([np.ones((len(X), 1)), X], 1)
        assert bound <= (np.max(np.linalg.norm(Xa, axis=1)) / 0.2) ** 2 + 1e-9
        assert p.converged_ and p.score(X, y) == 1.0
        assert p.n_updates_ <= bound
        worst = max(worst, p.n_updates_ / bound)
    assert worst > 0  # the check is not vacuous


def test_and_bound_51():
    # spec: CLS-PERCEPTRON-BOUND: max-margin separator (−3, 2, 2)/√17, γ* = 1/√17, R = √3 → 51 ≥ 18
    assert perceptron_bound(AND_X, AND_Y, [-3, 2, 2]) == pytest.approx(51.0, rel=1e-12)
    with pytest.raises(ValueError, match="does not separate"):
        perceptron_bound(AND_X, AND_Y, [1, 0, 0])


def test_xor_warns_and_pocket_gets_three_quarters():
    # spec: CLS-PERCEPTRON, CLS-XOR: the perceptron warns; pocket keeps 3/4 (the maximum)
    X, y = xor_data()
    with pytest.warns(ConvergenceWarning, match="not linearly separable"):
        p = Perceptron(max_epochs=50).fit(X, y)
    assert not p.converged_ and p.n_updates_ > 0
    for seed in range(5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pk = Perceptron(pocket=True, shuffle=True, random_state=seed, max_epochs=100).fit(X, y)
        assert pk.score(X, y) == 0.75


def test_perceptron_criterion_subgradient_at_zero_and_batch_step():
    # spec: LOSS-PERCEPTRON: subgradient −y·x at s = 0; one batch GD step = batch perceptron update
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 2))
    t = np.sign(rng.normal(size=12))
    w = rng.normal(size=3)
    R, g = perceptron_criterion(w, X, t)
    Xa = np.concatenate([np.ones((12, 1)), X], 1)
    M = t * (Xa @ w) <= 0
    assert R == pytest.approx(np.sum(-t[M] * (Xa[M] @ w)))
    eta = 0.7
    np.testing.assert_allclose(w - eta * g, w + eta * (t[M] @ Xa[M]))
    p = Perceptron(mode="batch", lr=eta, max_epochs=1, init="zeros")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        p.fit(X, t)
    _, g0 = perceptron_criterion(np.zeros(3), X, t)
    np.testing.assert_allclose(p.w_, -eta * g0)
    # at w = 0 every sample is a mistake (s = 0): the subgradient is −Σ y x
    np.testing.assert_allclose(g0, -(t @ Xa))
    # autodiff of the loss on the score gives −y at s = 0
    s = t64([0.0, 0.0, 2.0, -1.0])
    y = np.array([1.0, -1.0, 1.0, 1.0])
    L = perceptron_loss(s, y)
    L.backward()
    np.testing.assert_array_equal(s.grad.data, [-1.0, 1.0, 0.0, -1.0])
    assert L.item() == 1.0


def test_perceptron_loss_gradcheck_and_torch():
    # spec: LOSS-PERCEPTRON: away from the kink the criterion equals relu(−y s)
    rng = np.random.default_rng(0)
    s0 = rng.normal(size=7)
    s0[np.abs(s0) < 0.1] += 0.3
    y = np.sign(rng.normal(size=7))
    for red in ("sum", "mean", "none"):
        cr.gradcheck(lambda s, red=red: perceptron_loss(s, y, red), [t64(s0)])
    from helpers import compare_with_torch
    compare_with_torch(lambda s: perceptron_loss(s, y, "none"),
                       lambda s: (-s * __import__("torch").tensor(y)).relu(), [s0])


def test_validation_errors():
    with pytest.raises(ValueError, match="only the class"):
        Perceptron().fit(AND_X, np.ones(4))
    with pytest.raises(ValueError, match="exactly 2 classes"):
        Perceptron().fit(AND_X, [0, 1, 2, 1])
    with pytest.raises(ValueError, match="different numbers of samples"):
        Perceptron().fit(AND_X, AND_Y[:3])
    with pytest.raises(ValueError, match="NaN or infinite"):
        Perceptron().fit(np.where(AND_X == 1, np.nan, 0), AND_Y)
    with pytest.raises(ValueError, match="2 dimension"):
        Perceptron().fit(AND_X[:, 0], AND_Y)
    with pytest.raises(ValueError, match="not fitted"):
        Perceptron().predict(AND_X)
    p = Perceptron().fit(AND_X, AND_Y)
    with pytest.raises(ValueError, match="3 features"):
        p.predict(np.ones((2, 3)))
