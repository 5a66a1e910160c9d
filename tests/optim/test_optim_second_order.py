"""Newton, Gauss-Newton, Levenberg-Marquardt, conjugate gradient, L-BFGS and the line searches."""

from __future__ import annotations

import numpy as np
import pytest
from optim_common import A_Q, W0_Q, W0_RHO, Q, make_closure, param, rho, rho_residuals

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import _second_order as so
from chainrule.optim.line_search import armijo, cubic_interpolate, line_search, strong_wolfe, wolfe_conditions


# ---------------------------------------------------------------------------------------------- Newton
def test_newton_solves_a_quadratic_over_several_tensors_in_one_step():
    # spec: OPT-NEWTON  R = ½‖XWᵀ + b − Y‖² over W (2, 3) and b (2,): one full Newton step = least squares
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    W, b = param(rng.standard_normal((2, 3))), param(rng.standard_normal(2))
    opt = optim.Newton([W, b])
    opt.step(lambda: 0.5 * ((cr.Tensor(X) @ W.T + b - cr.Tensor(Y)) ** 2).sum())
    Xa = np.hstack([X, np.ones((20, 1))])
    sol = np.linalg.lstsq(Xa, Y, rcond=None)[0]
    np.testing.assert_allclose(W.data, sol[:3].T, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(b.data, sol[3], rtol=1e-11, atol=1e-12)
    assert opt.state[W]["tau"] == 0.0


def test_newton_hessian_equals_autodiff_hessian():
    # spec: OPT-NEWTON, AD-HESSIAN  the (W, W) Hessian over all parameters of a small MLP
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3, dtype=np.float64), nn.Tanh(), nn.Linear(3, 1, dtype=np.float64))
    X = cr.Tensor(np.random.default_rng(1).standard_normal((7, 2)))
    params = list(model.parameters())

    def loss(*_):
        return (model(X) ** 2).mean()

    f, g, H = so.loss_grad_hessian(loss(), params)
    np.testing.assert_allclose(H, cr.hessian(loss, params).data, rtol=1e-12, atol=1e-14)
    assert f == pytest.approx(float(loss()))


def test_newton_matches_irls_iterates_for_logistic_regression():
    # spec: OPT-NEWTON, CLS-LOGREG-IRLS  x = 0…5, y = (0,0,1,0,1,1): (b, w) iterates (−2, 0.8), (−2.774439, 1.109776),
    # (−3.015312, 1.206125), (−3.034950, 1.213980) → (−3.035069, 1.214028)
    x = cr.Tensor(np.arange(6.0))
    y = cr.Tensor(np.array([0, 0, 1, 0, 1, 1.0]))
    bw = param((0.0, 0.0))

    def nll():
        z = bw[0] + bw[1] * x
        return (cr.softplus(z) - y * z).sum()

    opt = optim.Newton([bw])
    expected = [(-2, 0.8), (-2.774439, 1.109776), (-3.015312, 1.206125), (-3.034950, 1.213980)]
    for e in expected:
        opt.step(nll)
        np.testing.assert_allclose(bw.data, e, atol=5e-7)
    for _ in range(3):
        opt.step(nll)
    np.testing.assert_allclose(bw.data, (-3.035069, 1.214028), atol=5e-7)
    assert float(nll()) == pytest.approx(2.477987, abs=1e-6)


@pytest.mark.parametrize("kw", [dict(line_search_fn="armijo"), dict(modification="eigen")])
def test_newton_indefinite_hessian_gives_descent_step(kw):
    # spec: OPT-NEWTON  H not positive definite: modified Cholesky (H + τI, with a line search) or reflected
    # eigenvalues still descend — no crash, and the iteration ends in a minimum, not at the saddle
    def f(w):
        return (w[0] ** 4 - w[0] ** 2) + w[1] ** 2
    w = param((0.1, 1.0))  # f'' = 12x² − 2 < 0 in x
    opt = optim.Newton([w], **kw)
    f0 = float(f(w))
    g0 = np.array([4 * 0.1 ** 3 - 0.2, 2.0])
    opt.step(lambda: f(w))
    assert opt.state[w]["tau"] > 0
    assert float(f(w)) < f0 and float((w.data - (0.1, 1.0)) @ g0) < 0
    for _ in range(30):
        opt.step(lambda: f(w))
    np.testing.assert_allclose(np.abs(w.data), (np.sqrt(0.5), 0.0), atol=1e-10)


def test_newton_zero_hessian_and_singular_cases_do_not_crash():
    # spec: OPT-NEWTON  linear loss (H = 0): a damped gradient step instead of a singular solve
    w = param((1.0, 2.0))
    opt = optim.Newton([w])
    opt.step(lambda: (w * cr.Tensor(np.array([1.0, -1.0]))).sum())
    assert np.isfinite(w.data).all() and w.data[0] < 1.0 and w.data[1] > 2.0
    with pytest.raises(FloatingPointError, match="non-finite"):
        so.solve_modified_cholesky(np.array([[np.nan]]), np.ones(1))


@pytest.mark.parametrize("ls", ["armijo", "strong_wolfe"])
def test_newton_with_line_search_on_rosenbrock(ls):
    # spec: OPT-NEWTON, OPT-LINE-SEARCH
    w = param(W0_RHO)
    opt = optim.Newton([w], line_search_fn=ls)
    vals = [float(rho(w))]
    for _ in range(40):
        opt.step(lambda: rho(w))
        vals.append(float(rho(w)))
    assert all(b <= a for a, b in zip(vals, vals[1:]))
    np.testing.assert_allclose(w.data, (1.0, 1.0), atol=1e-8)


def test_newton_rejects_a_closure_that_called_backward():
    w = param((1.0, 2.0))
    opt = optim.Newton([w])
    with pytest.raises(RuntimeError, match="calling backward"):
        opt.step(make_closure(opt, Q, w))


# ---------------------------------------------------------------------------------------- Gauss-Newton
def test_gauss_newton_linear_least_squares_is_lstsq_in_one_step():
    # spec: OPT-GAUSS-NEWTON
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((30, 4)), rng.standard_normal(30)
    w = param(rng.standard_normal(4))
    optim.GaussNewton([w], lambda: cr.Tensor(X) @ w - cr.Tensor(y)).step()
    np.testing.assert_allclose(w.data, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-11)


def test_gauss_newton_rank_deficient_falls_back_to_min_norm_lstsq():
    # spec: OPT-GAUSS-NEWTON  duplicate column: JᵀJ singular → minimum-norm least-squares step, no crash
    rng = np.random.default_rng(3)
    x = rng.standard_normal((10, 1))
    X = np.hstack([x, x])
    y = rng.standard_normal(10)
    w = param((0.0, 0.0))
    opt = optim.GaussNewton([w], lambda: cr.Tensor(X) @ w - cr.Tensor(y))
    opt.step()
    assert opt.state[w]["lstsq_fallback"]
    np.testing.assert_allclose(w.data, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)


def test_generalized_gauss_newton():
    # spec: OPT-GAUSS-NEWTON  closure → (outputs, loss_fn): H ≈ JᵀH_L J; with ½‖·‖² it equals plain GN;
    # with cross-entropy JᵀH_L J is PSD and the step descends
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((12, 3)), rng.standard_normal((12, 2))
    W0 = rng.standard_normal((2, 3))
    W1, W2 = param(W0), param(W0)

    def out1():
        return cr.tanh(cr.Tensor(X) @ W1.T)

    def out2():
        return cr.tanh(cr.Tensor(X) @ W2.T)

    optim.GaussNewton([W1], lambda: (out1() - cr.Tensor(Y)).reshape(-1)).step()
    optim.GaussNewton([W2], lambda: (out2(), lambda o: 0.5 * ((o - cr.Tensor(Y)) ** 2).sum())).step()
    np.testing.assert_allclose(W1.data, W2.data, rtol=1e-10)

    labels = rng.integers(0, 2, 12)
    W = param(0.1 * rng.standard_normal((2, 3)))

    def logits():
        return cr.Tensor(X) @ W.T

    def ce(o):
        return nn.functional.cross_entropy(o, labels, reduction="sum")

    opt = optim.GaussNewton([W], lambda: (logits(), ce), damping=1e-3)
    before = float(ce(logits()))
    J = so.jacobian_of(logits(), [W])
    _, _, HL = so.loss_hessian_wrt_outputs(logits().data, ce)
    assert np.linalg.eigvalsh(J.T @ HL @ J).min() > -1e-10
    opt.step()
    assert float(ce(logits())) < before


def test_jacobian_rows_and_columns_agree_with_chainrule_jacobian():
    rng = np.random.default_rng(5)
    X = cr.Tensor(rng.standard_normal((9, 2)))
    W, b = param(rng.standard_normal((3, 2))), param(rng.standard_normal(3))

    def out():
        return cr.tanh(X @ W.T + b).reshape(-1)

    J_rows = so.jacobian_of(out(), [W, b], mode="rows")
    J_cols = so.jacobian_of(out(), [W, b], mode="columns")
    JW, Jb = cr.jacobian(lambda W_, b_: cr.tanh(X @ W_.T + b_).reshape(-1), [W, b])
    ref = np.hstack([JW.data.reshape(27, -1), Jb.data.reshape(27, -1)])
    np.testing.assert_allclose(J_rows, ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(J_cols, ref, rtol=1e-13, atol=1e-15)


# -------------------------------------------------------------------------------- Levenberg-Marquardt
@pytest.mark.parametrize("scaling,n_iter", [("identity", 27), ("diag", 25)])
def test_lm_rosenbrock_accepted_iterations(scaling, n_iter):
    # spec: OPT-LM  ρ residuals from (−1.2, 1) reach (1, 1) in 27 accepted iterations (D = I), 25 (diag);
    # R never increases
    w = param((-1.2, 1.0))
    opt = optim.LevenbergMarquardt([w], lambda: rho_residuals(w), scaling=scaling)
    opt.step()
    st = opt.lm_state
    assert st["converged"] and not st["failed"]
    assert st["n_iter"] == n_iter
    np.testing.assert_allclose(w.data, (1.0, 1.0), rtol=1e-12)
    h = [0.5 * (4.4 ** 2 + 2.2 ** 2)] + st["history"]
    assert all(b < a for a, b in zip(h, h[1:]))


def test_lm_exponential_decay_exact_after_four_iterations():
    # spec: OPT-LM  y = 2e^{−1.5x} at 20 points in [0, 1] from (1, 0): exact after 4
    x = np.linspace(0, 1, 20)
    y = 2 * np.exp(-1.5 * x)
    p = param((1.0, 0.0))
    opt = optim.LevenbergMarquardt([p], lambda: p[0] * cr.exp(p[1] * cr.Tensor(x)) - cr.Tensor(y), max_iter=1)
    for _ in range(3):
        opt.step()
    assert np.abs(p.data - (2.0, -1.5)).max() > 1e-9
    opt.step()
    np.testing.assert_allclose(p.data, (2.0, -1.5), rtol=1e-12)
    assert opt.lm_state["history"][-1] < 1e-24


def _scipy_lm(fun, x0):
    from scipy.optimize import least_squares
    return least_squares(fun, x0, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)


def test_lm_matches_scipy_on_noisy_exponential_and_beats_gd():
    # spec: OPT-LM  a·e^{bx} + c on noisy data: same optimum as scipy.optimize.least_squares(method='lm'),
    # in far fewer iterations than gradient descent
    rng = np.random.default_rng(6)
    x = np.linspace(0, 3, 40)
    y = 2.5 * np.exp(-1.3 * x) + 0.5 + 0.05 * rng.standard_normal(40)
    x0 = np.array([1.0, -0.5, 0.0])
    ref = _scipy_lm(lambda q: q[0] * np.exp(q[1] * x) + q[2] - y, x0)
    p = param(x0)

    def res():
        return p[0] * cr.exp(p[1] * cr.Tensor(x)) + p[2] - cr.Tensor(y)

    opt = optim.LevenbergMarquardt([p], res)
    opt.step()
    np.testing.assert_allclose(p.data, ref.x, rtol=1e-8)
    R_lm = 0.5 * float((res() ** 2).sum())
    assert R_lm == pytest.approx(ref.cost, rel=1e-10)
    k_lm = opt.lm_state["n_iter"]
    assert k_lm < 30
    q = param(x0)
    gd = optim.GD([q], lr=0.01)
    gd_cl = make_closure(gd, lambda v: 0.5 * ((v[0] * cr.exp(v[1] * cr.Tensor(x)) + v[2] - cr.Tensor(y)) ** 2).sum(), q)
    for _ in range(20 * k_lm):
        gd.step(gd_cl)
    R_gd = float(gd_cl())
    assert R_gd > R_lm * (1 + 1e-3)  # GD with 20× the iterations is still well above the LM optimum


def test_lm_fits_small_mlp_regression_like_scipy():
    # spec: OPT-LM  1-4-1 tanh MLP (13 weights) on 40 points of sin(2x): LM reaches scipy's 'lm' optimum from the
    # same start (MLP least squares has many local minima; this start leads both to the same one)
    rng = np.random.default_rng(7)
    x = np.linspace(-1.5, 1.5, 40)[:, None]
    y = np.sin(2 * x) + 0.02 * rng.standard_normal((40, 1))
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(1, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 1, dtype=np.float64))
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    x0 = np.concatenate([p.data.ravel() for p in params])

    def np_model(v):
        W1, b1, W2, b2 = np.split(v, np.cumsum([int(np.prod(s)) for s in shapes])[:-1])
        h = np.tanh(x @ W1.reshape(shapes[0]).T + b1)
        return (h @ W2.reshape(shapes[2]).T + b2 - y).ravel()

    ref = _scipy_lm(np_model, x0)
    opt = optim.LevenbergMarquardt(params, lambda: (model(cr.Tensor(x)) - cr.Tensor(y)).reshape(-1), max_iter=500,
                                   tol=1e-10)
    opt.step()
    R = 0.5 * float(((model(cr.Tensor(x)) - cr.Tensor(y)) ** 2).sum())
    assert opt.lm_state["converged"]
    assert R == pytest.approx(ref.cost, rel=1e-8)
    # (the weights themselves agree only up to the MLP's symmetries: hidden-unit permutations and sign flips)
    k_lm = opt.lm_state["n_iter"]
    assert R < 0.005 and k_lm < 100
    # gradient descent from the same start with 10× as many iterations is still far above the LM optimum
    cr.manual_seed(1)
    gd_model = nn.Sequential(nn.Linear(1, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 1, dtype=np.float64))
    gd = optim.GD(gd_model.parameters(), lr=0.1)
    Xt, Yt = cr.Tensor(x), cr.Tensor(y)
    for _ in range(10 * k_lm):
        gd.zero_grad()
        loss = 0.5 * ((gd_model(Xt) - Yt) ** 2).sum() / 40
        loss.backward()
        gd.step()
    assert 40 * float(loss) > 2 * R


def test_lm_stops_gracefully_when_no_decrease_is_possible():
    # spec: OPT-LM  λ > 1e16 ends the run (failed flag), never an exception
    w = param((1.0, 1.0))
    opt = optim.LevenbergMarquardt([w], lambda: rho_residuals(w) + 1e-3, tol=0.0)
    opt.step()
    opt.step()
    st = opt.lm_state
    assert st["failed"] or st["converged"]
    assert np.isfinite(w.data).all()


def test_lm_needs_residuals():
    with pytest.raises(RuntimeError, match="residual"):
        optim.LevenbergMarquardt([param((1.0,))]).step()


# -------------------------------------------------------------------------------- conjugate gradient
def _exact_ls(A):
    def search(obj, x, t, d, f, g, gtd, **_):
        a = -gtd / float(d @ A @ d)
        fn, gn = obj(x, a, d)
        return fn, gn, a, 1
    return search


@pytest.mark.parametrize("beta", ["PR", "FR"])
def test_cg_exact_line_search_converges_in_W_steps(beta):
    # spec: OPT-CG  W-dim quadratic with exact α = −gᵀd/dᵀAd: ≤ W steps (Q: 2, to 1e-12)
    rng = np.random.default_rng(8)
    M = rng.standard_normal((6, 6))
    A = M @ M.T + np.eye(6)
    b = rng.standard_normal(6)
    for A_, b_, w0 in [(A_Q, np.array([1.0, -1.0]), W0_Q), (A, b, np.ones(6))]:
        w = param(w0)
        opt = optim.ConjugateGradient([w], beta=beta, line_search_fn=_exact_ls(A_))
        cl = make_closure(opt, lambda v, A_=A_, b_=b_: 0.5 * (v * (cr.Tensor(A_) @ v)).sum()
                          - (cr.Tensor(b_) * v).sum(), w)
        for _ in range(len(w0)):
            opt.step(cl)
        np.testing.assert_allclose(w.data, np.linalg.solve(A_, b_), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("beta", ["PR", "FR"])
def test_cg_rosenbrock_with_strong_wolfe(beta):
    # spec: OPT-CG, OPT-LINE-SEARCH  every step satisfies the strong Wolfe conditions (c₂ = 0.1)
    w = param(W0_RHO)
    opt = optim.ConjugateGradient([w], beta=beta)
    cl = make_closure(opt, rho, w)
    for _ in range(200):
        x0 = w.data.copy()
        f0 = float(cl())
        g0 = w.grad.data.copy()
        opt.step(cl)
        st = opt.state[w]
        if np.abs(g0).max() <= 1e-7:
            break
        d, t = st["d"], st["t"]
        f1 = float(cl())
        arm, curv = wolfe_conditions(f0, float(g0 @ d), f1, float(w.grad.data @ d), t, c2=0.1)
        assert arm and (curv or np.abs(w.data - x0).max() < 1e-9)
    np.testing.assert_allclose(w.data, (1.0, 1.0), atol=1e-6)


def test_cg_restarts_every_W_iterations():
    # spec: OPT-CG
    w = param(W0_RHO)
    opt = optim.ConjugateGradient([w], restart=1)
    cl = make_closure(opt, rho, w)
    for _ in range(5):
        opt.step(cl)
        assert opt.state[w]["since_restart"] == 0  # restart=1: always steepest descent


# ---------------------------------------------------------------------------------------------- L-BFGS
@pytest.mark.parametrize("ls", [None, "strong_wolfe", "armijo"])
def test_lbfgs_rosenbrock(ls):
    # spec: OPT-LBFGS  ρ from (−1.5, 2): within 1e-4 of (1, 1) after ≤ 50 step() calls
    w = param(W0_RHO)
    opt = optim.LBFGS([w], line_search_fn=ls)
    cl = make_closure(opt, rho, w)
    for _ in range(50):
        opt.step(cl)
        if np.abs(w.data - 1).max() < 1e-4:
            break
    assert np.abs(w.data - 1).max() < 1e-4
    assert opt.state[w]["func_evals"] <= 50 * 25


def test_lbfgs_history_is_bounded():
    w = param(np.full(5, -1.0))
    opt = optim.LBFGS([w], history_size=3, max_iter=30, line_search_fn="strong_wolfe")
    opt.step(make_closure(opt, lambda v: ((v - 2.0) ** 4).sum() + (v ** 2).sum(), w))
    assert len(opt.state[w]["old_dirs"]) <= 3


# ---------------------------------------------------------------------------------------- line search
def test_cubic_interpolate_is_exact_for_a_cubic():
    f = np.poly1d([1.0, -2.0, -1.0, 3.0])  # minimiser of x³ − 2x² − x + 3 at (2 + √7)/3
    df = f.deriv()
    t = cubic_interpolate(0.0, f(0.0), df(0.0), 3.0, f(3.0), df(3.0))
    assert t == pytest.approx((2 + np.sqrt(7)) / 3, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_line_searches_return_steps_meeting_their_conditions(seed):
    # spec: OPT-LINE-SEARCH  Armijo: R(w + αd) ≤ R(w) + c₁αgᵀd; strong Wolfe also |∇R(w + αd)ᵀd| ≤ c₂|gᵀd|
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-2, 2, 2)

    def fg(x):
        w = param(x)
        v = rho(w)
        v.backward()
        return float(v), w.grad.data.copy()

    def obj(x, t, d):
        return fg(x + t * d)

    f0, g0 = fg(x0)
    d = -g0 + 0.3 * rng.standard_normal(2) * np.abs(g0)
    gtd = float(g0 @ d)
    assert gtd < 0
    f1, g1, t, n = armijo(obj, x0, 1.0, d, f0, g0, gtd)
    assert t > 0 and f1 <= f0 + 1e-4 * t * gtd and f1 == pytest.approx(fg(x0 + t * d)[0])
    for c2 in (0.9, 0.1):
        f1, g1, t, n = strong_wolfe(obj, x0, 1.0 / np.abs(g0).sum(), d, f0, g0, gtd, c2=c2)
        arm, curv = wolfe_conditions(f0, gtd, f1, float(g1 @ d), t, c2=c2)
        assert t > 0 and arm and curv


def test_public_line_search_moves_parameters():
    # spec: OPT-LINE-SEARCH
    w = param(W0_RHO)

    def closure():
        w.grad = None
        v = rho(w)
        v.backward()
        return v

    f0 = float(rho(w))
    t, f1 = line_search([w], closure, method="strong_wolfe", t0=1e-3)
    assert f1 < f0 and float(rho(w)) == pytest.approx(f1)
    with pytest.raises(ValueError, match="descent"):
        line_search([w], closure, direction=w.grad.data.copy())
    with pytest.raises(ValueError, match="unknown line search"):
        line_search([w], closure, method="golden")


@pytest.mark.parametrize("scaling", ["identity", "diag"])
def test_lm_singular_normal_matrix_is_handled(scaling):
    # spec: OPT-LM  a parameter the residuals ignore (zero Jacobian column: JᵀJ singular) — no crash, the other
    # parameters converge, the ignored one does not move
    w = param((0.0, 0.0, 5.0))
    x = np.linspace(0, 1, 10)

    def res():
        return w[0] + w[1] * cr.Tensor(x) - cr.Tensor(1 + 2 * x) + 0 * w[2]

    opt = optim.LevenbergMarquardt([w], res, scaling=scaling)
    opt.step()
    np.testing.assert_allclose(w.data[:2], (1.0, 2.0), rtol=1e-9)
    assert w.data[2] == 5.0 and not opt.lm_state["failed"]
