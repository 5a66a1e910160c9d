"""Shallow-net counting, curse of dimensionality, polar features, maximum-likelihood recipe.
spec: SHALLOW-NET-PARAMS, THEORY-CURSE-DIM, THEORY-POLAR-FEATURES, LOSS-MLE-RECIPE"""

import math

import numpy as np
import pytest
from scipy import optimize, stats

import chainrule as cr
from chainrule import nn
from chainrule.classic import LinearRegression, LogisticRegression, SoftmaxRegression
from chainrule.models import MLP
from chainrule.theory import (
    collapse_linear,
    count_params,
    family_loss,
    fit_constant,
    fit_glm,
    gaussian_radius_logpdf,
    gaussian_radius_mode,
    make_rings,
    negative_log_likelihood,
    polar_features,
    polynomial_coefficient_count,
    relu_joints,
    sample_gaussian_radii,
    sample_glm,
    shallow_param_count,
    shell_statistics,
)


# ------------------------------------------------------------------------------ SHALLOW-NET-PARAMS
def test_parameter_counts():
    # spec: SHALLOW-NET-PARAMS: MLP(2,3,1) = 13 (9 + 4), MLP(1,3,1) = 10
    assert shallow_param_count(2, 3, 1) == 13 == count_params(MLP([2, 3, 1]))
    assert shallow_param_count(1, 3, 1) == 10 == count_params(MLP([1, 3, 1]))
    assert shallow_param_count(5, 7, 4) == count_params(MLP([5, 7, 4])) == 7 * 6 + 4 * 8


def test_linear_stack_collapses_to_rank_two():
    # spec: SHALLOW-NET-PARAMS: Linear(5,2)∘Linear(2,5): 5×5 map of SVD rank ≤ 2; no activation → affine
    cr.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 2, dtype=np.float64), nn.Linear(2, 5, dtype=np.float64))
    W, b = collapse_linear(net)
    assert W.shape == (5, 5)
    s = np.linalg.svd(W, compute_uv=False)
    assert np.sum(s > 1e-12 * s[0]) == 2
    x = np.random.default_rng(0).normal(size=(7, 5))
    np.testing.assert_allclose(net(cr.Tensor(x)).data, x @ W.T + b, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="not linear"):
        collapse_linear(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)))


def test_joints_and_inactive_units():
    # spec: SHALLOW-NET-PARAMS: joint at −θ₀/θ₁; ≤ D + 1 linear pieces; inactive units contribute nothing
    net = nn.Sequential(nn.Linear(1, 3, dtype=np.float64), nn.ReLU(), nn.Linear(3, 1, dtype=np.float64))
    net[0].weight.data[...] = [[1.0], [-2.0], [1.0]]
    net[0].bias.data[...] = [-0.2, 1.2, -5.0]  # joints 0.2, 0.6, 5.0 (the last unit is off on [0, 1])
    np.testing.assert_allclose(relu_joints(net), [0.2, 0.6, 5.0])
    x = np.linspace(0, 1, 101)[:, None]
    y_full = net(cr.Tensor(x)).data
    net[2].weight.data[0, 2] = 123.0  # changing the inactive unit's output weight changes nothing on [0, 1]
    np.testing.assert_allclose(net(cr.Tensor(x)).data, y_full)


# ------------------------------------------------------------------------------ THEORY-CURSE-DIM
def test_coefficient_count_explodes():
    assert polynomial_coefficient_count(1, 3) == 4
    assert polynomial_coefficient_count(2, 2) == 6
    assert polynomial_coefficient_count(100, 3) == math.comb(103, 3) == 176851


def test_gaussian_shell():
    # spec: THEORY-CURSE-DIM: mean r/√D within 1% of 1 for D ≥ 100; std r ∈ [0.65, 0.75] for D ≥ 10
    st = shell_statistics([10, 100, 1000], n=20_000)
    assert np.all(np.abs(st["mean_r_over_sqrtD"][1:] - 1) < 0.01)
    assert np.all((st["std_r"] >= 0.65) & (st["std_r"] <= 0.75))
    # density formula = chi distribution; mode σ√(D − 1)
    r = np.linspace(0.5, 40, 50)
    for D in (1, 3, 50, 1000):
        np.testing.assert_allclose(gaussian_radius_logpdf(r, D), stats.chi(D).logpdf(r), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gaussian_radius_logpdf(2 * r, 7, sigma=2.0), stats.chi(7, scale=2).logpdf(2 * r),
                               rtol=1e-10)
    D = 1000
    rs = gaussian_radius_mode(D)
    assert rs == pytest.approx(optimize.minimize_scalar(lambda t: -gaussian_radius_logpdf(t, D),
                                                        bounds=(1, 60), method="bounded").x, abs=1e-4)
    # erratum: log p(r* + ε) − log p(r*) ≈ −ε²/σ² (not −3ε²/2σ²), within 2 %; calibrated −0.2487 at 0.5
    for eps in (0.1, 0.5):
        d = gaussian_radius_logpdf(rs + eps, D) - gaussian_radius_logpdf(rs, D)
        assert d == pytest.approx(-eps**2, rel=0.02)
    assert gaussian_radius_logpdf(rs + 0.5, D) - gaussian_radius_logpdf(rs, D) == pytest.approx(-0.2487, abs=5e-4)
    assert len(sample_gaussian_radii(5, 10)) == 10


# ------------------------------------------------------------------------------ THEORY-POLAR-FEATURES
def test_polar_features_make_rings_linearly_separable():
    # spec: THEORY-POLAR-FEATURES: raw logistic < 70 %; on (r, θ) ≥ 99 %; MLP(2, 16, 1) on raw ≥ 99 %
    X, y = make_rings(500, noise=0.1, seed=0)
    raw = LogisticRegression().fit(X, y).score(X, y)
    polar = LogisticRegression(alpha=1e-3).fit(polar_features(X), y).score(polar_features(X), y)  # separable: tiny L2
    assert raw < 0.70 and polar >= 0.99
    P = polar_features(np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0]]))  # atan2, quadrant-correct
    np.testing.assert_allclose(P[:, 1], [-3 * np.pi / 4, 3 * np.pi / 4, -np.pi / 4])
    g = cr.Generator(0)
    net = nn.Sequential(nn.Linear(2, 16, dtype=np.float64, generator=g), nn.Tanh(),
                        nn.Linear(16, 1, dtype=np.float64, generator=g))
    opt = cr.optim.Adam(net.parameters(), lr=0.05)
    Xt, yt = cr.Tensor(X), cr.Tensor(y[:, None].astype(float))
    for _ in range(400):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(net(Xt), yt)
        loss.backward()
        opt.step()
    acc = np.mean((net(Xt).data[:, 0] > 0) == (y == 1))
    assert acc >= 0.99


# ------------------------------------------------------------------------------ LOSS-MLE-RECIPE
def test_losses_are_negative_log_likelihoods():
    # spec: LOSS-MLE-RECIPE: each loss = independently coded −log pdf/pmf (up to θ-free constants)
    rng = np.random.default_rng(0)
    eta = rng.normal(size=(9, 1))
    for fam, y in [("bernoulli", rng.integers(0, 2, 9).astype(float)), ("poisson", rng.poisson(2, 9).astype(float))]:
        got = family_loss(fam, cr.Tensor(eta), y).item()
        const = np.mean(np.vectorize(math.lgamma)(y + 1)) if fam == "poisson" else 0.0
        assert got + const == pytest.approx(negative_log_likelihood(fam, eta, y), rel=1e-12)
    y = rng.normal(size=9)
    nll = negative_log_likelihood("gaussian", eta, y)
    assert 0.5 * family_loss("gaussian", cr.Tensor(eta), y).item() + 0.5 * math.log(2 * math.pi) == \
        pytest.approx(nll, rel=1e-12)
    E = rng.normal(size=(9, 4))
    c = rng.integers(0, 4, 9)
    assert family_loss("categorical", cr.Tensor(E), c).item() == pytest.approx(
        negative_log_likelihood("categorical", E, c), rel=1e-12)


def test_constant_models_recover_closed_form_mles():
    # spec: LOSS-MLE-RECIPE: mean, fraction of ones, class frequencies, log-mean (Poisson)
    rng = np.random.default_rng(1)
    y = rng.normal(3.0, 2.0, 500)
    assert fit_constant("gaussian", y, steps=800, lr=0.05)[0] == pytest.approx(y.mean(), abs=1e-4)
    yb = (rng.random(500) < 0.3).astype(float)
    assert fit_constant("bernoulli", yb, steps=800, lr=0.05)[0] == pytest.approx(yb.mean(), abs=1e-4)
    yc = rng.choice(3, 500, p=[0.2, 0.5, 0.3])
    np.testing.assert_allclose(fit_constant("categorical", yc, steps=800, lr=0.05), np.bincount(yc) / 500, atol=1e-4)
    yp = rng.poisson(4.0, 500).astype(float)
    assert fit_constant("poisson", yp, steps=800, lr=0.05)[0] == pytest.approx(yp.mean(), rel=1e-4)


def test_glm_training_reaches_the_mle_and_recovers_generating_parameters():
    # spec: LOSS-MLE-RECIPE: training with each loss recovers the generating parameters
    n = 3000
    cases = {
        "gaussian": ([[1.0, -2.0]], [0.5]),
        "bernoulli": ([[1.0, -2.0]], [0.5]),
        "poisson": ([[0.5, -0.3]], [1.0]),
        "categorical": ([[0.0, 0.0], [1.0, -1.0], [-0.5, 2.0]], [0.0, 0.3, -0.2]),
    }
    for fam, (W, b) in cases.items():
        X, y = sample_glm(fam, W, b, n, seed=2)
        Wh, bh, hist = fit_glm(fam, X, y, steps=1500, lr=0.05)
        assert hist[-1] < hist[0]
        # the exact MLE by an independent solver
        if fam == "gaussian":
            m = LinearRegression().fit(X, y)
            W_mle, b_mle = m.coef_[None], np.array([m.intercept_])
        elif fam == "bernoulli":
            m = LogisticRegression().fit(X, y)
            W_mle, b_mle = m.coef_, m.intercept_
        elif fam == "categorical":
            m = SoftmaxRegression(solver="newton", tol=1e-10).fit(X, y)
            W_mle, b_mle = m.coef_ - m.coef_[0], m.intercept_ - m.intercept_[0]
        else:
            Xa = np.c_[np.ones(n), X]
            res = optimize.minimize(lambda w, Xa=Xa, y=y: np.sum(np.exp(Xa @ w) - y * (Xa @ w)), np.zeros(3),
                                    jac=lambda w, Xa=Xa, y=y: Xa.T @ (np.exp(Xa @ w) - y), method="BFGS",
                                    options={"gtol": 1e-9})
            W_mle, b_mle = res.x[None, 1:], res.x[:1]
        np.testing.assert_allclose(Wh, W_mle, atol=2e-3)
        np.testing.assert_allclose(bh, b_mle, atol=2e-3)
        # and the MLE is close to the generating parameters (statistical error ~ 1/√n)
        np.testing.assert_allclose(Wh, W, atol=0.2)
        np.testing.assert_allclose(bh, b, atol=0.2)
