"""Matrix-calculus identities and convexity facts, checked with jacobian/hessian on random float64 data.

spec: MATH-MATRIX-DERIV, MATH-CONVEX-LINREG, MATH-CONVEX-LOGREG, MATH-CONVEX-SOFTMAX, AD-HESSIAN, AD-HVP
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import t64

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import ops

RNG = np.random.default_rng(0)
TOL = 1e-12


# ----------------------------------------------------------------------------- MATH-MATRIX-DERIV
def test_gradient_of_linear_form():
    """∇ₓ(xᵀa) = a."""
    a, x = RNG.normal(size=6), RNG.normal(size=6)
    xt = t64(x)
    g = cr.grad(xt @ cr.Tensor(a), xt)
    np.testing.assert_allclose(g.data, a, atol=TOL)


def test_product_rule_for_matrices():
    """∂(A(x)B(x))/∂x = (∂A/∂x)B + A(∂B/∂x) for matrix functions of a scalar x."""
    A0, A1, B0, B1 = (RNG.normal(size=s) for s in [(3, 4), (3, 4), (4, 2), (4, 2)])
    x0 = 0.7

    def A(x):
        return cr.Tensor(A0) + ops.sin(x) * cr.Tensor(A1)

    def B(x):
        return cr.Tensor(B0) * ops.exp(x) + cr.Tensor(B1) * x * x

    J = cr.jacobian(lambda x: A(x) @ B(x), t64(x0)).data  # shape (3, 2) + ()
    dA, dB = np.cos(x0) * A1, B0 * np.exp(x0) + 2 * x0 * B1
    Ax, Bx = A0 + np.sin(x0) * A1, B0 * np.exp(x0) + B1 * x0 ** 2
    np.testing.assert_allclose(J, dA @ Bx + Ax @ dB, atol=TOL)


def test_chain_rule_is_jacobian_product():
    """∂fᵢ/∂xⱼ = Σ_k (∂fᵢ/∂g_k)(∂g_k/∂xⱼ)."""
    M = cr.Tensor(RNG.normal(size=(5, 4)))
    N_ = cr.Tensor(RNG.normal(size=(3, 5)))

    def g(x):
        return ops.tanh(M @ x)

    def f(u):
        return N_ @ ops.sigmoid(u) * u.sum()

    x = t64(RNG.normal(size=4))
    Jfg = cr.jacobian(lambda v: f(g(v)), x).data
    Jf = cr.jacobian(f, t64(g(x).data)).data
    Jg = cr.jacobian(g, x).data
    np.testing.assert_allclose(Jfg, Jf @ Jg, atol=TOL)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "exp", "sin", "softplus"])
def test_elementwise_function_has_diagonal_jacobian(name):
    """Element-wise f: ∂f/∂x = diag(f'(x)); ∂(W f(x))/∂x = W diag(f'(x))."""
    fn, d = {"sigmoid": (ops.sigmoid, lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
             "tanh": (ops.tanh, lambda x: 1 / np.cosh(x) ** 2), "exp": (ops.exp, np.exp),
             "sin": (ops.sin, np.cos), "softplus": (ops.softplus, lambda x: 1 / (1 + np.exp(-x)))}[name]
    x = RNG.normal(size=5)
    np.testing.assert_allclose(cr.jacobian(fn, t64(x)).data, np.diag(d(x)), atol=TOL)
    W = RNG.normal(size=(3, 5))
    np.testing.assert_allclose(cr.jacobian(lambda v: cr.Tensor(W) @ fn(v), t64(x)).data, W @ np.diag(d(x)),
                               atol=TOL)


def test_layer_to_layer_jacobian_entries():
    """∂s_a^{[l]}/∂s_i^{[l−1]} = w_ai f'(s_i^{[l−1]})."""
    W, s = RNG.normal(size=(4, 6)), RNG.normal(size=6)
    J = cr.jacobian(lambda v: ops.linear(ops.tanh(v), cr.Tensor(W), cr.Tensor(np.ones(4))), t64(s)).data
    for a in range(4):
        for i in range(6):
            assert abs(J[a, i] - W[a, i] * (1 - np.tanh(s[i]) ** 2)) < TOL


# ----------------------------------------------------------------------------- MATH-CONVEX-LINREG
def test_linear_regression_hessian_is_XtX():
    """R = ½‖y − Xw‖²: ∇R = Xᵀ(Xw − y), ∇²R = XᵀX ⪰ 0; rank-deficient X gives a zero eigenvalue."""
    X, y, w = RNG.normal(size=(10, 4)), RNG.normal(size=10), RNG.normal(size=4)

    def R(wt):
        return 0.5 * F.mse_loss(cr.Tensor(X) @ wt, cr.Tensor(y), reduction="sum")
    wt = t64(w)
    np.testing.assert_allclose(cr.grad(R(wt), wt).data, X.T @ (X @ w - y), atol=1e-11)
    H = cr.hessian(R, t64(w)).data
    np.testing.assert_allclose(H, X.T @ X, atol=TOL)
    assert np.linalg.eigvalsh(H).min() > 0
    Xr = np.hstack([X[:, :3], X[:, :1] + X[:, 1:2]])  # column 4 = column 1 + column 2
    Hr = cr.hessian(lambda v: 0.5 * ((cr.Tensor(Xr) @ v - cr.Tensor(y)) ** 2).sum(), t64(w)).data
    ev = np.linalg.eigvalsh(Hr)
    assert abs(ev.min()) < 1e-10 and ev[1] > 1e-3
    v = np.array([1.0, 1.0, 0.0, -1.0])  # the null direction
    np.testing.assert_allclose(cr.hvp(lambda t: 0.5 * ((cr.Tensor(Xr) @ t - cr.Tensor(y)) ** 2).sum(),
                                      t64(w), v).data, 0, atol=1e-12)


# ----------------------------------------------------------------------------- MATH-CONVEX-LOGREG
def _sig(z):
    return 1 / (1 + np.exp(-z))


def test_logistic_regression_gradient_hessian_psd():
    """y ∈ {±1}, pᵢ = σ(yᵢwᵀxᵢ), L = −Σ log pᵢ: ∇L = −Σ yᵢxᵢ(1 − pᵢ), H = Σ xᵢxᵢᵀ pᵢ(1 − pᵢ) ⪰ 0;
    with ½wᵀw, H + I ≻ 0.  (Erratum N24: the square of ρᵢ; strict convexity needs the penalty.)"""
    X, w = RNG.normal(size=(12, 3)), RNG.normal(size=3)
    y = np.where(RNG.uniform(size=12) > 0.5, 1.0, -1.0)

    def L(wt, lam=0.0):
        out = -ops.log(ops.sigmoid(cr.Tensor(y) * (cr.Tensor(X) @ wt))).sum()
        return out + 0.5 * lam * (wt * wt).sum() if lam else out
    p = _sig(y * (X @ w))
    wt = t64(w)
    np.testing.assert_allclose(cr.grad(L(wt), wt).data, -(y[:, None] * X * (1 - p)[:, None]).sum(0), atol=TOL)
    H = cr.hessian(L, t64(w)).data
    np.testing.assert_allclose(H, (X * (p * (1 - p))[:, None]).T @ X, atol=TOL)
    rho = X * np.sqrt(p * (1 - p))[:, None]
    a = RNG.normal(size=3)
    assert abs(a @ H @ a - ((rho @ a) ** 2).sum()) < 1e-12
    assert np.linalg.eigvalsh(H).min() >= -1e-14
    Hp = cr.hessian(lambda t: L(t, 1.0), t64(w)).data
    np.testing.assert_allclose(Hp, H + np.eye(3), atol=TOL)
    assert np.linalg.eigvalsh(Hp).min() >= 1.0 - 1e-12


def test_logistic_hessian_is_XtRX_for_bce():
    """spec: AD-HESSIAN — y ∈ {0, 1}, sum BCE on logits Xw: H = XᵀRX, R = diag(a(1 − a))."""
    X, w, y = RNG.normal(size=(9, 4)), RNG.normal(size=4), RNG.integers(0, 2, 9).astype(float)
    H = cr.hessian(lambda t: F.binary_cross_entropy_with_logits(cr.Tensor(X) @ t, cr.Tensor(y), reduction="sum"),
                   t64(w)).data
    a = _sig(X @ w)
    np.testing.assert_allclose(H, X.T @ np.diag(a * (1 - a)) @ X, atol=TOL)


def test_logistic_separable_data_has_no_minimizer():
    """Separable data: L > 0 for every finite w and L(c·w) → 0 only as c → ∞."""
    X = np.array([[1.0, 2.0], [2.0, 1.0], [-1.0, -1.5], [-2.0, -0.5]])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    w = np.array([1.0, 1.0])  # separates: yᵢwᵀxᵢ > 0

    def L(c):  # −Σ log σ(m) = Σ softplus(−m), accurate where σ(m) rounds to 1
        return ops.softplus(-(cr.Tensor(y) * (cr.Tensor(X) @ t64(c * w)))).sum().item()
    vals = [L(c) for c in (1, 2, 4, 8, 16)]
    assert all(v > 0 for v in vals) and all(b < a for a, b in zip(vals, vals[1:]))
    assert vals[-1] < 1e-6
    # gradient descent keeps increasing ‖w‖
    wt = t64([0.0, 0.0])
    norms = []
    for _ in range(200):
        loss = -ops.log(ops.sigmoid(cr.Tensor(y) * (cr.Tensor(X) @ wt))).sum()
        g = cr.grad(loss, wt)
        wt = t64(wt.data - 0.5 * g.data)
        norms.append(np.linalg.norm(wt.data))
    assert all(b > a for a, b in zip(norms, norms[1:]))


# ----------------------------------------------------------------------------- MATH-CONVEX-SOFTMAX
def _softmax_setup(n=7, d=3, K=4, seed=1):
    r = np.random.default_rng(seed)
    return r.normal(size=(n, d)), r.integers(0, K, n), r.normal(size=(K, d))


def _softmax_loss(X, lab, lam=0.0):
    def L(W):
        out = F.cross_entropy(cr.Tensor(X) @ W.T, lab, reduction="sum")
        return out + 0.5 * lam * (W * W).sum() if lam else out
    return L


def test_softmax_regression_gradient_and_kronecker_hessian():
    """W (K, d): ∇_{w_k}L = Σᵢ(p_k(xᵢ) − [yᵢ = k])xᵢ; H = Σᵢ(diag(pᵢ) − pᵢpᵢᵀ) ⊗ xᵢxᵢᵀ (erratum N25: the
    k ≠ v block is −p_k p_v x xᵀ).  spec: AD-HESSIAN (Kronecker formula)."""
    X, lab, W = _softmax_setup()
    K, d = W.shape
    L = _softmax_loss(X, lab)
    Wt = t64(W)
    P = np.exp(X @ W.T)
    P /= P.sum(1, keepdims=True)
    Y = np.eye(K)[lab]
    np.testing.assert_allclose(cr.grad(L(Wt), Wt).data, (P - Y).T @ X, atol=TOL)
    H = cr.hessian(L, t64(W)).data.reshape(K * d, K * d)  # row-major flattening of W: index k·d + j
    Hk = sum(np.kron(np.diag(p) - np.outer(p, p), np.outer(x, x)) for p, x in zip(P, X))
    np.testing.assert_allclose(H, Hk, atol=TOL)
    # ∂p_k/∂w_v = p_k(δ_kv − p_v) x
    x = X[0]
    Jp = cr.jacobian(lambda Wv: ops.softmax(Wv @ cr.Tensor(x), -1), t64(W)).data  # (K, K, d)
    p = P[0]
    np.testing.assert_allclose(Jp, (np.diag(p) - np.outer(p, p))[:, :, None] * x[None, None, :], atol=TOL)


def test_softmax_regression_psd_singular_without_penalty():
    """aᵀHa = Σᵢ Var_{k~pᵢ}(a_kᵀxᵢ) ≥ 0; zero eigenvalue along a_k = c ∀k; min eigenvalue ≥ 1 with ½Σ‖w_k‖²."""
    X, lab, W = _softmax_setup(seed=2)
    K, d = W.shape
    H = cr.hessian(_softmax_loss(X, lab), t64(W)).data.reshape(K * d, K * d)
    P = np.exp(X @ W.T)
    P /= P.sum(1, keepdims=True)
    A = RNG.normal(size=(K, d))
    var_sum = sum((p * (A @ x) ** 2).sum() - ((p * (A @ x)).sum()) ** 2 for p, x in zip(P, X))
    assert abs(A.ravel() @ H @ A.ravel() - var_sum) < 1e-10
    assert np.linalg.eigvalsh(H).min() > -1e-12
    c = RNG.normal(size=d)
    same = np.tile(c, (K, 1)).ravel()  # the same vector added to every row of W changes nothing
    np.testing.assert_allclose(H @ same, 0, atol=1e-12)
    np.testing.assert_allclose(cr.hvp(_softmax_loss(X, lab), t64(W), same.reshape(K, d)).data, 0, atol=1e-12)
    Hp = cr.hessian(_softmax_loss(X, lab, 1.0), t64(W)).data.reshape(K * d, K * d)
    assert np.linalg.eigvalsh(Hp).min() >= 1.0 - 1e-12
