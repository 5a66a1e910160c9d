"""Logistic regression (GD, IRLS) and softmax regression.
spec: CLS-LOGREG-GD, CLS-LOGREG-IRLS, CLS-SOFTMAX-REG"""

import warnings

import numpy as np
import pytest
from helpers import t64

import chainrule as cr
from chainrule.autodiff import numerical_grad
from chainrule.classic import (
    ConvergenceWarning,
    LogisticRegression,
    SoftmaxRegression,
    add_bias_column,
    softmax_regression_hessian,
)

X6 = np.arange(6.0).reshape(-1, 1)
Y6 = np.array([0, 0, 1, 0, 1, 1])
OPT = np.array([-3.035069, 1.214028])


def test_irls_iterates_and_optimum_of_the_fixture():
    # spec: CLS-LOGREG-IRLS computed iterates, optimum, NLL, step count
    m = LogisticRegression(solver="irls").fit(X6, Y6)
    path = m.coef_path_
    np.testing.assert_allclose(path[0], [-2.0, 0.8], atol=1e-12)
    np.testing.assert_allclose(path[1], [-2.774439, 1.109776], atol=1e-6)
    np.testing.assert_allclose(path[2], [-3.015312, 1.206125], atol=1e-6)
    np.testing.assert_allclose(path[3], [-3.034950, 1.213980], atol=1e-6)
    np.testing.assert_allclose([m.intercept_[0], m.coef_[0, 0]], OPT, atol=1e-6)
    assert m.nll_history_[-1] == pytest.approx(2.477987, abs=1e-6)
    assert m.converged_ and m.n_iter_ <= 6
    Xa = add_bias_column(X6)
    w = np.r_[m.intercept_, m.coef_[0]]
    g = Xa.T @ (1 / (1 + np.exp(-Xa @ w)) - Y6)
    assert np.linalg.norm(g) < 1e-8


def test_irls_step_is_weighted_least_squares():
    # spec: CLS-LOGREG-IRLS: w_new = (XᵀRX)⁻¹XᵀRz, z = Xw − R⁻¹(a − y)
    Xa = add_bias_column(X6)
    w = np.array([-2.0, 0.8])
    a = 1 / (1 + np.exp(-Xa @ w))
    r = a * (1 - a)
    z = Xa @ w - (a - Y6) / r
    sw = np.sqrt(r)
    w_wls = np.linalg.lstsq(Xa * sw[:, None], z * sw, rcond=None)[0]
    np.testing.assert_allclose(w_wls, [-2.774439, 1.109776], atol=1e-6)


def test_gd_reaches_same_optimum_in_many_more_iterations():
    # spec: CLS-LOGREG-GD: GD reaches the IRLS optimum within 1e-6; IRLS needs far fewer iterations
    irls = LogisticRegression(solver="irls").fit(X6, Y6)
    gd = LogisticRegression(solver="gd", lr=0.5).fit(X6, Y6)
    assert gd.converged_
    np.testing.assert_allclose([gd.intercept_[0], gd.coef_[0, 0]], [irls.intercept_[0], irls.coef_[0, 0]],
                               atol=1e-6)
    assert gd.n_iter_ > 50 * irls.n_iter_


def test_matches_sklearn_unpenalised():
    # spec: CLS-LOGREG-IRLS: scikit-learn unpenalised LogisticRegression (C=inf) agrees within 1e-4
    sk = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (rng.random(200) < 1 / (1 + np.exp(-(X @ [1.0, -2.0, 0.5] + 0.3)))).astype(int)
    m = LogisticRegression().fit(X, y)
    ref = sk.LogisticRegression(C=np.inf, tol=1e-10, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(m.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(m.intercept_, ref.intercept_, atol=1e-4)
    np.testing.assert_allclose(m.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    r6 = sk.LogisticRegression(C=np.inf, tol=1e-10, max_iter=10000).fit(X6, Y6)
    np.testing.assert_allclose([r6.intercept_[0], r6.coef_[0, 0]], OPT, atol=1e-4)


def test_autodiff_hessian_equals_xtrx():
    # spec: CLS-LOGREG-IRLS: autodiff Hessian = XᵀRX (also with the L2 term)
    m = LogisticRegression(alpha=0.3).fit(X6, Y6)
    Xa = cr.Tensor(add_bias_column(X6))
    y = cr.Tensor(Y6.astype(float))
    w = t64(np.r_[m.intercept_, m.coef_[0]])

    def R(w):
        s = Xa @ w
        return cr.nn.functional.binary_cross_entropy_with_logits(s, y, reduction="sum") + 0.15 * (w[1:] * w[1:]).sum()

    H = cr.hessian(R, w).data
    np.testing.assert_allclose(H, m.hessian(X6), rtol=1e-10)
    np.testing.assert_allclose(cr.grad(R(w), w).data, 0, atol=1e-8)  # optimum of the penalised objective


def test_separable_data_warns_and_l2_fixes_it():
    # spec: CLS-LOGREG-GD erratum E5a: separable data have no maximiser
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    with pytest.warns(ConvergenceWarning, match="separable"):
        LogisticRegression().fit(X, y)
    m = LogisticRegression(alpha=0.1).fit(X, y)
    assert m.converged_ and m.score(X, y) == 1.0


def test_logistic_labels_and_validation():
    m = LogisticRegression().fit(X6, np.where(Y6 == 1, "b", "a"))
    assert list(m.classes_) == ["a", "b"]
    assert set(m.predict(X6)) <= {"a", "b"}
    with pytest.raises(ValueError, match="only the class"):
        LogisticRegression().fit(X6, np.zeros(6))
    with pytest.raises(ValueError, match="continuous"):
        LogisticRegression().fit(X6, np.linspace(0, 1, 6))
    with pytest.raises(ValueError, match="unknown solver"):
        LogisticRegression(solver="lbfgs").fit(X6, Y6)


# ----------------------------------------------------------------------------------- softmax
def _three_class(seed=0, n=60):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = np.argmax(X @ rng.normal(size=(2, 3)) + rng.normal(size=(n, 3)), axis=1)
    return X, y


def test_softmax_gradient_equals_finite_differences_and_autodiff():
    # spec: CLS-SOFTMAX-REG: ∇_W = (A − Y)ᵀX/N (+αW) = central differences = autodiff
    X, y = _three_class()
    m = SoftmaxRegression(alpha=0.2)
    W0 = np.random.default_rng(1).normal(size=(3, 3))
    J, G = m.loss_and_grad(W0, X, y)
    W = t64(W0)
    Jt = m.objective(W, X, y)
    assert Jt.item() == pytest.approx(J, rel=1e-12)
    np.testing.assert_allclose(cr.grad(Jt, W).data, G, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(numerical_grad(lambda w: m.objective(w, X, y), W), G, rtol=1e-6, atol=1e-9)
    cr.gradcheck(lambda w: m.objective(w, X, y), [W])
    cr.gradgradcheck(lambda w: m.objective(w, X, y), [W])
    # one sample: ∂L/∂w_ξd = (a_ξ − y_ξ)x_d, the outer product (a − y)x̃ᵀ
    _, g1 = SoftmaxRegression().loss_and_grad(W0, X[:1], y[:1])
    xa = np.r_[1.0, X[0]]
    s = W0 @ xa
    a = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    np.testing.assert_allclose(g1, np.outer(a - np.eye(3)[y[0]], xa), rtol=1e-12)


def test_softmax_hessian_kronecker_formula_equals_autodiff():
    # spec: CLS-SOFTMAX-REG: H = Σ (diag a − aaᵀ) ⊗ xxᵀ = chainrule.hessian of the summed CE
    X, y = _three_class(n=12)
    W0 = np.random.default_rng(2).normal(size=(3, 3))
    m = SoftmaxRegression()
    H_ad = cr.hessian(lambda w: m.objective(w, X, y) * len(y), t64(W0)).data.reshape(9, 9)
    S = add_bias_column(X) @ W0.T
    A = np.exp(S - S.max(1, keepdims=True))
    A /= A.sum(1, keepdims=True)
    H = softmax_regression_hessian(X, A)
    np.testing.assert_allclose(H_ad, H, rtol=1e-10, atol=1e-12)
    # null direction: adding one vector to every row of W̃ (erratum E6)
    v = np.tile(np.random.default_rng(3).normal(size=3), 3)
    np.testing.assert_allclose(H @ v, 0, atol=1e-10)


@pytest.mark.parametrize("solver", ["gd", "newton"])
def test_softmax_k2_equals_logistic_and_column_sums_stay_zero(solver):
    # spec: CLS-SOFTMAX-REG: K = 2 on the IRLS fixture: w₁ − w₀ = (−3.035069, 1.214028); Σ_k W_kd = 0
    m = SoftmaxRegression(solver=solver).fit(X6, Y6)
    diff = np.r_[m.intercept_[1] - m.intercept_[0], m.coef_[1, 0] - m.coef_[0, 0]]
    np.testing.assert_allclose(diff, OPT, atol=1e-5)
    np.testing.assert_allclose(m.coef_.sum(0), 0, atol=1e-12)
    np.testing.assert_allclose(m.intercept_.sum(), 0, atol=1e-12)
    lr = LogisticRegression().fit(X6, Y6)
    np.testing.assert_allclose(m.predict_proba(X6), lr.predict_proba(X6), atol=1e-5)


def test_softmax_three_classes_matches_sklearn_multinomial():
    sk = pytest.importorskip("sklearn.linear_model")
    X, y = _three_class(n=150)
    m = SoftmaxRegression(solver="newton", tol=1e-10).fit(X, y)
    ref = sk.LogisticRegression(C=np.inf, tol=1e-12, max_iter=100000).fit(X, y)
    np.testing.assert_allclose(m.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    assert m.score(X, y) == pytest.approx(ref.score(X, y))
    g = SoftmaxRegression(solver="gd", lr=1.0, tol=1e-7).fit(X, y)
    np.testing.assert_allclose(g.predict_proba(X), m.predict_proba(X), atol=1e-5)
    assert g.n_iter_ > 10 * m.n_iter_


def test_softmax_separable_warns():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0], [5.0], [6.0]])
    y = np.array([0, 0, 1, 1, 2, 2])
    with pytest.warns(ConvergenceWarning, match="alpha > 0"):
        SoftmaxRegression(max_iter=500).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = SoftmaxRegression(alpha=0.01, solver="newton").fit(X, y)
    assert m.score(X, y) == 1.0
