"""Linear regression: closed form, GD, SGD, ridge, R², polynomial features, MAP.
spec: CLS-LINEAR-MODEL, CLS-LINREG-CLOSED, LINREG-CLOSED-FORM, CLS-LINREG-GD, LOSS-MAP-L2"""

import warnings

import numpy as np
import pytest
from scipy import optimize

import chainrule as cr
from chainrule.classic import (
    BaseEstimator,
    ConvergenceWarning,
    LinearRegression,
    PolynomialRegression,
    add_bias_column,
    clone,
    polynomial_features,
    ridge_alpha_from_prior,
    rss_ess_tss,
    xor_data,
)


def _data(seed=0, n=200):
    # spec: LINREG-CLOSED-FORM check data: x ~ U[0,1], y = 2 + 3x + N(0, 0.1²), N = 200
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n, 1))
    return x, 2 + 3 * x[:, 0] + rng.normal(0, 0.1, size=n)


def test_bias_trick_same_predictions():
    # spec: CLS-LINEAR-MODEL: explicit bias and augmented forms agree
    rng = np.random.default_rng(1)
    X, W, b = rng.normal(size=(7, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
    Wt = np.concatenate([b[:, None], W], 1)
    np.testing.assert_allclose(X @ W.T + b, add_bias_column(X) @ Wt.T, rtol=1e-14)
    lin = cr.nn.Linear(3, 2, dtype=np.float64)
    lin.weight.data[...] = W
    lin.bias.data[...] = b
    np.testing.assert_allclose(lin(cr.Tensor(X)).data, add_bias_column(X) @ Wt.T, rtol=1e-14)


def test_closed_form_equals_lstsq_and_pinv_and_simple_formula():
    # spec: CLS-LINREG-CLOSED, LINREG-CLOSED-FORM
    x, y = _data()
    m = LinearRegression().fit(x, y)
    Xa = add_bias_column(x)
    ref = np.linalg.lstsq(Xa, y, rcond=None)[0]
    np.testing.assert_allclose([m.intercept_, m.coef_[0]], ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose([m.intercept_, m.coef_[0]], np.linalg.pinv(Xa) @ y, rtol=1e-10)
    xc, yc = x[:, 0] - x.mean(), y - y.mean()
    phi1 = (xc @ yc) / (xc @ xc)
    assert m.coef_[0] == pytest.approx(phi1, rel=1e-12)
    assert m.intercept_ == pytest.approx(y.mean() - phi1 * x.mean(), rel=1e-12)
    np.testing.assert_allclose(m.gradient(x, y), 0, atol=1e-10)  # gradient ≈ 0 at the solution
    assert m.rank_ == 1


def test_rank_deficient_minimum_norm_and_multi_output():
    # spec: CLS-LINREG-CLOSED: rank-deficient X → Moore–Penrose solution; multi-output Ŵᵀ = X⁺Y
    rng = np.random.default_rng(2)
    A = rng.normal(size=(30, 3))
    X = np.concatenate([A, A[:, :1] + A[:, 1:2]], 1)  # rank 3 of 4 columns
    Y = rng.normal(size=(30, 2))
    m = LinearRegression(fit_intercept=False).fit(X, Y)
    assert m.rank_ == 3 and m.coef_.shape == (2, 4) and np.shape(m.intercept_) == (2,)
    np.testing.assert_allclose(m.coef_.T, np.linalg.pinv(X) @ Y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.coef_.T, np.linalg.lstsq(X, Y, rcond=None)[0], rtol=1e-10, atol=1e-12)
    # columns are independent problems
    m0 = LinearRegression(fit_intercept=False).fit(X, Y[:, 0])
    np.testing.assert_allclose(m0.coef_, m.coef_[0], rtol=1e-10, atol=1e-12)
    # E12: X⁺X = I_D only for full column rank; here it is the projector onto the row space
    P = np.linalg.pinv(A) @ A
    np.testing.assert_allclose(P, np.eye(3), atol=1e-12)


def test_ridge_closed_form_and_tss_decomposition():
    # spec: CLS-LINREG-CLOSED: ridge on centred data, intercept unpenalised; TSS = ESS + RSS; R²
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 4)) + 3
    y = X @ [1.0, -2.0, 0.5, 0.0] + 4 + rng.normal(size=50)
    alpha = 7.5
    m = LinearRegression(alpha=alpha).fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(4), Xc.T @ yc)
    np.testing.assert_allclose(m.coef_, w, rtol=1e-10)
    assert m.intercept_ == pytest.approx(y.mean() - X.mean(0) @ w, rel=1e-10)
    np.testing.assert_allclose(m.gradient(X, y), 0, atol=1e-9)
    ols = LinearRegression().fit(X, y)
    rss, ess, tss = rss_ess_tss(y, ols.predict(X))
    assert tss == pytest.approx(ess + rss, rel=1e-12)
    assert ols.score(X, y) == pytest.approx(1 - rss / tss, rel=1e-12)
    assert np.linalg.norm(m.coef_) < np.linalg.norm(ols.coef_)  # the penalty shrinks


def test_xor_least_squares_predicts_one_half():
    # spec: CLS-LINREG-CLOSED, CLS-XOR: w = (0, 0), b = 0.5, MSE 0.25
    X, y = xor_data()
    m = LinearRegression().fit(X, y)
    np.testing.assert_allclose(m.coef_, 0, atol=1e-15)
    assert m.intercept_ == pytest.approx(0.5)
    np.testing.assert_allclose(m.predict(X), 0.5)
    assert np.mean((m.predict(X) - y) ** 2) == pytest.approx(0.25)


def test_gd_reaches_closed_form_and_gradient_equals_fd():
    # spec: CLS-LINREG-GD, LINREG-CLOSED-FORM: GD within 1e-6 of the closed form; gradient = FD
    x, y = _data()
    ref = LinearRegression().fit(x, y)
    gd = LinearRegression(solver="gd", lr=0.5).fit(x, y)
    assert gd.converged_ and not gd.diverged_
    np.testing.assert_allclose([gd.intercept_, gd.coef_[0]], [ref.intercept_, ref.coef_[0]], atol=1e-6)
    assert np.all(np.diff(gd.loss_history_) <= 1e-15)  # monotone for lr < 2N/λ_max
    # the GD objective's gradient (mean, ½) equals autodiff of the same objective and central differences
    Xa = add_bias_column(x)
    w0 = np.array([0.3, -0.7])
    g_closed = Xa.T @ (Xa @ w0 - y) / len(y)
    w = cr.Tensor(w0.copy(), requires_grad=True)
    J = lambda w: 0.5 * cr.nn.functional.mse_loss(cr.Tensor(Xa) @ w, cr.Tensor(y), reduction="sum") / len(y)
    np.testing.assert_allclose(cr.grad(J(w), w).data, g_closed, rtol=1e-12)
    cr.gradcheck(J, [w])


def test_gd_multi_output_ridge_matches_closed_form():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    Y = X @ rng.normal(size=(3, 2)) + rng.normal(size=(40, 2))
    ref = LinearRegression(alpha=2.0).fit(X, Y)
    gd = LinearRegression(alpha=2.0, solver="gd", lr=0.5).fit(X, Y)
    np.testing.assert_allclose(gd.coef_, ref.coef_, atol=1e-7)
    np.testing.assert_allclose(gd.intercept_, ref.intercept_, atol=1e-7)


def test_sgd_noise_free_exact_and_noisy_close():
    # spec: CLS-LINREG-GD: SGD per-epoch shuffle, per-sample updates, same optimum
    rng = np.random.default_rng(6)
    X = rng.uniform(-1, 1, size=(50, 2))
    y = X @ [1.5, -2.0] + 0.5
    m = LinearRegression(solver="sgd", lr=0.2, random_state=0, tol=1e-9).fit(X, y)
    assert m.converged_
    np.testing.assert_allclose(np.r_[m.intercept_, m.coef_], [0.5, 1.5, -2.0], atol=1e-7)
    x, yn = _data(n=100)
    ref = LinearRegression().fit(x, yn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # constant-η SGD hovers near the optimum
        s = LinearRegression(solver="sgd", lr=0.02, batch_size=4, max_iter=300, random_state=1).fit(x, yn)
    np.testing.assert_allclose([s.intercept_, s.coef_[0]], [ref.intercept_, ref.coef_[0]], atol=0.02)


def test_step_just_above_stability_limit_is_reported_divergent():
    # spec: CLS-LINREG-GD: η just above 2N/λ_max diverges and is reported; just below converges
    x, y = _data(n=60)
    probe = LinearRegression(solver="gd", max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(x, y)
    lr_max = probe.lr_max_
    Xa = add_bias_column(x)
    assert lr_max == pytest.approx(2 * 60 / np.linalg.eigvalsh(Xa.T @ Xa)[-1], rel=1e-12)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        m = LinearRegression(solver="gd", lr=1.02 * lr_max).fit(x, y)
    assert m.diverged_ and not m.converged_
    ok = LinearRegression(solver="gd", lr=0.95 * lr_max).fit(x, y)
    assert ok.converged_ and not ok.diverged_


def test_map_ridge_equals_numerically_maximised_log_posterior():
    # spec: LOSS-MAP-L2: ridge with α = σ²/σ_p² (sum form) = argmax log posterior; mean form α = σ²/(mσ_p²)
    rng = np.random.default_rng(7)
    n, d, sigma, sigma_p = 40, 5, 0.7, 0.4
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(0, sigma_p, size=d) + rng.normal(0, sigma, size=n)

    def neg_log_post(w):
        return np.sum((y - X @ w) ** 2) / (2 * sigma**2) + np.sum(w**2) / (2 * sigma_p**2)

    w_map = optimize.minimize(neg_log_post, np.zeros(d), method="BFGS", options={"gtol": 1e-10}).x
    a = ridge_alpha_from_prior(sigma**2, sigma_p**2)
    m = LinearRegression(alpha=a, fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(m.coef_, w_map, atol=1e-7)
    assert ridge_alpha_from_prior(sigma**2, sigma_p**2, n_samples=n) == pytest.approx(a / n)
    # the mean form (1/m)Σ½r² + (α_mean/2)‖w‖² has the same minimiser
    a_mean = a / n
    w_mean = optimize.minimize(lambda w: np.mean(0.5 * (y - X @ w) ** 2) + 0.5 * a_mean * w @ w, np.zeros(d),
                               method="BFGS", options={"gtol": 1e-12}).x
    np.testing.assert_allclose(w_mean, w_map, atol=1e-6)


def test_params_clone_and_validation():
    m = LinearRegression(alpha=2.0, solver="gd")
    assert m.get_params()["alpha"] == 2.0
    c = clone(m.set_params(alpha=3.0))
    assert c is not m and c.alpha == 3.0 and c.solver == "gd" and not hasattr(c, "coef_")
    assert "alpha=3.0" in repr(m)
    with pytest.raises(ValueError, match="invalid parameter 'alhpa'"):
        m.set_params(alhpa=1)
    X, y = _data(n=10)
    with pytest.raises(ValueError, match="different numbers of samples"):
        LinearRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        LinearRegression().fit(X, np.r_[y[:-1], np.inf])
    with pytest.raises(ValueError, match="reshape"):
        LinearRegression().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="alpha must be"):
        LinearRegression(alpha=-1).fit(X, y)
    with pytest.raises(ValueError, match="unknown solver"):
        LinearRegression(solver="qr").fit(X, y)
    with pytest.raises(ValueError, match="not fitted"):
        LinearRegression().predict(X)

    class Bad(BaseEstimator):
        def __init__(self, **kw):
            pass

    with pytest.raises(TypeError, match="named arguments"):
        Bad().get_params()


def test_polynomial_features_nested_and_regression():
    # spec: CV-COMPLEXITY-CURVE helper: Legendre and monomial bases span the same space
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 1, 30)
    y = np.sin(2 * np.pi * x) + rng.normal(0, 0.2, 30)
    for deg in (0, 3, 6):
        L = polynomial_features(x, deg, "legendre", include_bias=True)
        M = polynomial_features(x, deg, "monomial", include_bias=True)
        pl = L @ np.linalg.lstsq(L, y, rcond=None)[0]
        pm = M @ np.linalg.lstsq(M, y, rcond=None)[0]
        np.testing.assert_allclose(pl, pm, atol=1e-8)
    m = PolynomialRegression(degree=3).fit(x, y)
    F = polynomial_features(x, 3, "monomial", include_bias=True)
    np.testing.assert_allclose(m.predict(x), F @ np.linalg.lstsq(F, y, rcond=None)[0], atol=1e-10)
    assert PolynomialRegression(degree=0).fit(x, y).predict(x) == pytest.approx(np.full(30, y.mean()))
