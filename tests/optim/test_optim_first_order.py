"""First-order optimizers: the spec's checks, hand-written reference loops, options and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from optim_common import A_Q, B_Q, W0_Q, WSTAR_Q, Q, make_closure, param, rho, run

import chainrule as cr
from chainrule import optim


def _q_np(w):
    return 0.5 * w @ A_Q @ w - B_Q @ w


def _grad_np(w):
    return A_Q @ w - B_Q


def test_gd_descent_lemma_and_rate_on_Q():
    # spec: OPT-GD  η = 1/L: R decreases by ≥ (η/2)‖g‖² and R(w_t) − R* ≤ ‖w0 − w*‖²/(2ηt), t = 1…200
    L = (5 + math.sqrt(5)) / 2
    assert abs(L - np.linalg.eigvalsh(A_Q).max()) < 1e-15
    eta = 1 / L
    traj = run(lambda p: optim.GD(p, lr=eta), Q, W0_Q, 200)
    r_star = _q_np(WSTAR_Q)
    w_prev = np.array(W0_Q)
    d0 = np.sum((w_prev - WSTAR_Q) ** 2)
    for t, w in enumerate(traj, start=1):
        g = _grad_np(w_prev)
        assert _q_np(w) < _q_np(w_prev) or _q_np(w_prev) - r_star < 1e-15  # strict until converged
        assert _q_np(w) <= _q_np(w_prev) - eta / 2 * g @ g + 1e-15
        assert _q_np(w) - r_star <= d0 / (2 * eta * t) + 1e-15
        w_prev = w


def test_gd_diverges_above_two_over_L():
    # spec: OPT-GD  η = 0.56 > 2/L = 0.5527864 diverges along the top eigenvector; η = 0.55 converges
    assert 2 / ((5 + math.sqrt(5)) / 2) == pytest.approx(0.5527864, abs=1e-7)
    far = run(lambda p: optim.GD(p, lr=0.56), Q, W0_Q, 400)[-1]
    near = run(lambda p: optim.GD(p, lr=0.55), Q, W0_Q, 400)[-1]
    assert np.linalg.norm(far - WSTAR_Q) > 10
    assert np.linalg.norm(near - WSTAR_Q) < 0.05  # slowly: |1 − 0.55·L| = 0.99


@pytest.mark.parametrize("ls", ["armijo", "strong_wolfe"])
def test_gd_with_line_search_descends_on_rosenbrock(ls):
    # spec: OPT-GD, OPT-LINE-SEARCH  every accepted step lowers R (GD with line search on ρ)
    w = param((-1.5, 2.0))
    opt = optim.GD([w], lr=1.0, line_search_fn=ls)
    cl = make_closure(opt, rho, w)
    vals = [float(rho(w))]
    for _ in range(30):
        opt.step(cl)
        vals.append(float(rho(w)))
    assert all(b <= a for a, b in zip(vals, vals[1:]))
    assert vals[-1] < 0.5 * vals[0]


def test_per_parameter_learning_rates():
    # spec: OPT-PER-PARAM-LR  f = w₁² + 5w₂² from (1, 1): η = (0.5, 0.1) reaches (0, 0) in one step;
    # a scalar η > 0.2 diverges in w₂ (factor |1 − 10η|)
    def f(w):
        return w[0] ** 2 + 5 * w[1] ** 2
    for lr in (np.array([0.5, 0.1]), cr.Tensor(np.array([0.5, 0.1]))):
        traj = run(lambda p, lr=lr: optim.SGD(p, lr=lr), f, (1.0, 1.0), 1)
        np.testing.assert_array_equal(traj[0], (0.0, 0.0))
    w = run(lambda p: optim.SGD(p, lr=0.21), f, (1.0, 1.0), 50)[-1]
    assert abs(w[1]) == pytest.approx(abs(1 - 10 * 0.21) ** 50, rel=1e-9)
    assert abs(w[1]) > 100
    w = run(lambda p: optim.SGD(p, lr=0.19), f, (1.0, 1.0), 50)[-1]
    assert abs(w[1]) < 1e-2
    # descent: all ηᵢ ≥ η_min > 0 ⇒ first-order change −Σηᵢgᵢ² ≤ −η_min‖g‖²
    g = np.array([2.0, 10.0])
    eta = np.array([0.01, 0.002])
    assert -(eta * g * g).sum() <= -eta.min() * (g @ g)
    # per-group rates: each group moves with its own lr
    a, b = param((1.0,)), param((1.0,))
    opt = optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b]}], lr=0.3)
    (a.sum() + b.sum()).backward()
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.7], rtol=1e-15)


def test_per_weight_lr_must_broadcast():
    # spec: OPT-PER-PARAM-LR
    with pytest.raises(ValueError, match="does not broadcast"):
        optim.SGD([param((1.0, 2.0, 3.0))], lr=np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=">= 0"):
        optim.SGD([param((1.0, 2.0))], lr=np.array([0.1, -0.2]))


def test_velocity_momentum_hand_values():
    # spec: OPT-SGD-MOMENTUM  f = ½w², w₀ = 1, ε = 0.1, α = 0.9 → (v, w) = (−0.1, 0.9), (−0.18, 0.72), (−0.234, 0.486)
    w = param((1.0,))
    opt = optim.Momentum([w], lr=0.1, momentum=0.9)
    cl = make_closure(opt, lambda v: 0.5 * (v * v).sum(), w)
    for v_exp, w_exp in [(-0.1, 0.9), (-0.18, 0.72), (-0.234, 0.486)]:
        opt.step(cl)
        assert opt.state[w]["buffer"][0] == pytest.approx(v_exp, abs=1e-15)
        assert w.data[0] == pytest.approx(w_exp, abs=1e-15)


def test_momentum_forms_coincide_for_constant_lr_and_differ_after_a_change():
    # spec: OPT-MOMENTUM, OPT-SGD-MOMENTUM  f = ½wᵀdiag(1, 100)w: velocity form = SGD(momentum) step by step
    D = np.array([1.0, 100.0])

    def f(w):
        return 0.5 * (cr.Tensor(D) * w * w).sum()

    a = run(lambda p: optim.Momentum(p, lr=0.01, momentum=0.9), f, (1.0, 1.0), 100)
    b = run(lambda p: optim.SGD(p, lr=0.01, momentum=0.9), f, (1.0, 1.0), 100)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # μ = 0 is plain SGD
    np.testing.assert_allclose(run(lambda p: optim.Momentum(p, lr=0.01, momentum=0.0), f, (1.0, 1.0), 20),
                               run(lambda p: optim.SGD(p, lr=0.01), f, (1.0, 1.0), 20), atol=1e-15)
    # after a learning-rate change the velocity form keeps the old η inside v
    ws = []
    for opt_cls in (lambda p: optim.Momentum(p, lr=0.01, momentum=0.9), lambda p: optim.SGD(p, lr=0.01, momentum=0.9)):
        w = param((1.0, 1.0))
        opt = opt_cls([w])
        cl = make_closure(opt, f, w)
        for k in range(10):
            if k == 5:
                opt.param_groups[0]["lr"] = 0.001
            opt.step(cl)
        ws.append(w.data.copy())
    assert np.abs(ws[0] - ws[1]).max() > 1e-4


def test_momentum_speeds_up_ill_conditioned_quadratic():
    # spec: OPT-MOMENTUM  from (1, 1), η = 0.01: μ = 0.9 reaches ‖w‖ < 1e-3 in < 300 steps, μ = 0 needs > 600
    D = np.array([1.0, 100.0])

    def f(w):
        return 0.5 * (cr.Tensor(D) * w * w).sum()

    def steps_to(mu):
        w = np.array([1.0, 1.0])
        v = np.zeros(2)
        for k in range(1, 2000):
            v = mu * v - 0.01 * D * w
            w = w + v
            if np.linalg.norm(w) < 1e-3:
                return k
        return 10 ** 6

    traj = run(lambda p: optim.Momentum(p, lr=0.01, momentum=0.9), f, (1.0, 1.0), 300)
    k_lib = next(k for k, w in enumerate(traj, 1) if np.linalg.norm(w) < 1e-3)
    assert k_lib == steps_to(0.9) < 300
    assert steps_to(0.0) > 600


def test_ema_momentum_hand_loop_and_constant_gradient_limit():
    # spec: OPT-MOMENTUM-EMA  m = μm + (1 − μ)g (m⁰ = 0), w ← w − ηm; = SGD(lr η(1 − μ), momentum μ);
    # constant g: the step → ηg (PyTorch form with the same lr: ηg/(1 − μ)); erratum N3: η′ = +η(1 − μ)
    eta, mu = 0.1, 0.9
    w = np.array(W0_Q)
    m = np.zeros(2)
    ref = []
    for _ in range(30):
        m = mu * m + (1 - mu) * _grad_np(w)
        w = w - eta * m
        ref.append(w.copy())
    np.testing.assert_allclose(run(lambda p: optim.SGD.ema(p, lr=eta, momentum=mu), Q, W0_Q, 30), ref, atol=1e-13)
    np.testing.assert_allclose(run(lambda p: optim.Momentum(p, lr=eta, momentum=mu, form="ema"), Q, W0_Q, 30), ref,
                               atol=1e-13)

    def lin(w):  # constant gradient g = (1, 2)
        return (cr.Tensor(np.array([1.0, 2.0])) * w).sum()

    t_ema = run(lambda p: optim.SGD.ema(p, lr=eta, momentum=mu), lin, (0.0, 0.0), 400)
    t_sgd = run(lambda p: optim.SGD(p, lr=eta, momentum=mu), lin, (0.0, 0.0), 400)
    np.testing.assert_allclose(t_ema[-2] - t_ema[-1], eta * np.array([1.0, 2.0]), rtol=1e-12)
    np.testing.assert_allclose(t_sgd[-2] - t_sgd[-1], eta * np.array([1.0, 2.0]) / (1 - mu), rtol=1e-12)
    # velocity form with η′ = +η(1 − μ) descends (N3's −η(1 − μ) would ascend)
    t_vel = run(lambda p: optim.Momentum(p, lr=eta * (1 - mu), momentum=mu), Q, W0_Q, 30)
    np.testing.assert_allclose(t_vel, ref, atol=1e-13)


def test_delta_delta_hand_loop_and_min_lr():
    # spec: OPT-DELTA-DELTA  η⁽ᵗ⁾ = η⁽ᵗ⁻¹⁾ + γg⁽ᵗ⁾g⁽ᵗ⁻¹⁾, w ← w − η⊙g; min_lr clamps negative rates
    lr, gamma = 0.05, 1e-2
    w, eta, gp = np.array(W0_Q), np.full(2, lr), None
    ref = []
    for _ in range(20):
        g = _grad_np(w)
        if gp is not None:
            eta = eta + gamma * g * gp
        w = w - eta * g
        gp = g
        ref.append(w.copy())
    np.testing.assert_allclose(run(lambda p: optim.DeltaDelta(p, lr=lr, gamma=gamma), Q, W0_Q, 20), ref, atol=1e-14)
    # an oscillating run (large γ) drives rates negative unless clamped
    w = param(W0_Q)
    opt = optim.DeltaDelta([w], lr=0.3, gamma=0.5)
    cl = make_closure(opt, Q, w)
    rates = []
    for _ in range(5):
        opt.step(cl)
        rates.append(opt.state[w]["lr"].min())
    assert min(rates) < 0
    w = param(W0_Q)
    opt = optim.DeltaDelta([w], lr=0.3, gamma=0.5, min_lr=1e-3)
    cl = make_closure(opt, Q, w)
    for _ in range(5):
        opt.step(cl)
        assert opt.state[w]["lr"].min() >= 1e-3


@pytest.mark.parametrize("compare", ["previous", "current"])
def test_delta_bar_delta_hand_loop(compare):
    # spec: OPT-DELTA-BAR-DELTA  (erratum N4: 'previous' compares g⁽ᵗ⁾ with ḡ⁽ᵗ⁻¹⁾, 'current' = the notes)
    lr, kappa, phi, theta, mu = 0.05, 0.01, 0.1, 0.7, 0.3
    w, eta, gbar, dprev = np.array(W0_Q), np.full(2, lr), np.zeros(2), np.zeros(2)
    ref, etas = [], []
    for _ in range(40):
        g = _grad_np(w)
        new_gbar = theta * gbar + (1 - theta) * g
        ref_g = gbar if compare == "previous" else new_gbar
        prod = ref_g * g
        eta = np.where(prod > 0, eta + kappa, np.where(prod < 0, eta - phi * eta, eta))
        gbar = new_gbar
        dprev = -eta * g + mu * dprev
        w = w + dprev
        ref.append(w.copy())
        etas.append(eta.copy())
    wt = param(W0_Q)
    opt = optim.DeltaBarDelta([wt], lr=lr, kappa=kappa, phi=phi, theta=theta, momentum=mu, compare=compare)
    cl = make_closure(opt, Q, wt)
    for k in range(40):
        opt.step(cl)
        np.testing.assert_allclose(wt.data, ref[k], atol=1e-13)
        assert (opt.state[wt]["lr"] > 0).all()
    np.testing.assert_allclose(opt.state[wt]["lr"], etas[-1], rtol=1e-13)


def test_delta_bar_delta_rates_stay_positive_and_grow_on_plateau():
    # spec: OPT-DELTA-BAR-DELTA  additive increase while the gradient keeps its sign
    def lin(w):
        return (cr.Tensor(np.array([1e-3, -1e-3])) * w).sum()
    w = param((0.0, 0.0))
    opt = optim.DeltaBarDelta([w], lr=0.01, kappa=0.01)
    cl = make_closure(opt, lin, w)
    for _ in range(11):
        opt.step(cl)
    np.testing.assert_allclose(opt.state[w]["lr"], 0.01 + 10 * 0.01, rtol=1e-12)


def test_adagrad_rates_only_shrink_and_eps_inside():
    # spec: OPT-ADAGRAD  v accumulates g²; eps_inside=True divides by √(v + ε) (notes' form)
    w = param((-1.5, 2.0))
    opt = optim.Adagrad([w], lr=0.1, eps=1e-8, eps_inside=True)
    cl = make_closure(opt, rho, w)
    prev = np.full(2, np.inf)
    w_ref, v = np.array([-1.5, 2.0]), np.zeros(2)
    for _ in range(20):
        x, y = w_ref
        g = np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
        v = v + g * g
        w_ref = w_ref - 0.1 * g / np.sqrt(v + 1e-8)
        opt.step(cl)
        rate = 0.1 / np.sqrt(opt.state[w]["sum"] + 1e-8)
        assert (rate <= prev).all()
        prev = rate
    np.testing.assert_allclose(w.data, w_ref, rtol=1e-12)


def test_rmsprop_eps_inside_hand_loop():
    # spec: OPT-RMSPROP  notes' form: γ = α = 0.9, ε inside the root
    w, v = np.array(W0_Q), np.zeros(2)
    for _ in range(25):
        g = _grad_np(w)
        v = 0.9 * v + 0.1 * g * g
        w = w - 0.01 * g / np.sqrt(v + 1e-8)
    out = run(lambda p: optim.RMSprop(p, lr=0.01, alpha=0.9, eps_inside=True), Q, W0_Q, 25)[-1]
    np.testing.assert_allclose(out, w, rtol=1e-12)


def test_adadelta_first_step_size():
    # spec: OPT-ADADELTA  first step ≈ √(ε/(1 − ρ)) = 0.0031623 per coordinate (units of w); N5: it descends
    w1 = run(lambda p: optim.Adadelta(p), Q, W0_Q, 1)[0]
    np.testing.assert_allclose(np.array(W0_Q) - w1, math.sqrt(1e-6 / 0.1), rtol=1e-6)
    assert _q_np(w1) < _q_np(np.array(W0_Q))


def test_adam_first_step_and_bias_correction():
    # spec: OPT-ADAM  first step = −ηg/(|g| + ε); without bias correction (N6) it would be ×(1 − β₁)/√(1 − β₂)
    w1 = run(lambda p: optim.Adam(p, lr=0.1), Q, W0_Q, 1)[0]
    g = _grad_np(np.array(W0_Q))
    np.testing.assert_allclose(np.array(W0_Q) - w1, 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    assert (1 - 0.9) / math.sqrt(1 - 0.999) == pytest.approx(3.16, abs=0.01)


def test_adamw_is_not_adam_with_l2():
    # spec: OPT-ADAMW  Adam(weight_decay=λ) ≠ AdamW(λ); AdamW = decay w(1 − ηλ) then Adam on raw g
    a = run(lambda p: optim.Adam(p, lr=0.1, weight_decay=0.1), Q, W0_Q, 10)[-1]
    b = run(lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.1), Q, W0_Q, 10)[-1]
    assert np.abs(a - b).max() > 1e-3
    w, m, v = np.array(W0_Q), np.zeros(2), np.zeros(2)
    for t in range(1, 11):
        g = _grad_np(w)
        w = w * (1 - 0.1 * 0.1)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(b, w, rtol=1e-12)


def test_quickprop_growth_limit():
    # spec: OPT-QUICKPROP  with grad_term=False every step satisfies |Δw| ≤ μ|Δw_prev| (μ = 1.75)
    rng = np.random.default_rng(0)
    M = rng.standard_normal((6, 6))
    A = M @ M.T / 6 + 0.1 * np.eye(6)

    def f(w):
        return 0.5 * (w * (cr.Tensor(A) @ w)).sum() + (w ** 4).sum() * 0.05

    w = param(rng.standard_normal(6))
    opt = optim.Quickprop([w], lr=0.05, grad_term=False)
    cl = make_closure(opt, f, w)
    prev = None
    for _ in range(60):
        opt.step(cl)
        d = opt.state[w]["prev_delta"]
        if prev is not None:
            same_grad = opt.state[w]["prev_grad"] == prev[1]
            ok = (np.abs(d) <= 1.75 * np.abs(prev[0]) * (1 + 1e-12)) | same_grad | (prev[0] == 0)
            assert ok.all()
        prev = (d.copy(), opt.state[w]["prev_grad"].copy())
    assert float(f(w)) < 1e-6


@pytest.mark.parametrize("variant", ["irprop-", "rprop-", "rprop+", "irprop+"])
def test_rprop_invariant_to_loss_scale(variant):
    # spec: OPT-RPROP  only signs are used: scaling the loss by 1000 leaves every trajectory unchanged
    a = run(lambda p: optim.Rprop(p, lr=0.01, variant=variant), rho, (-1.5, 2.0), 60)
    b = run(lambda p: optim.Rprop(p, lr=0.01, variant=variant), lambda w: 1000 * rho(w), (-1.5, 2.0), 60)
    np.testing.assert_array_equal(a, b)


def test_rprop_plus_backtracking_resets_previous_gradient():
    # spec: OPT-RPROP  rprop+ on a sign flip steps back by −Δw_prev and sets g_prev := 0 (erratum N8), so the
    # step size is reduced only once
    def f(w):
        return (w ** 2).sum()
    w = param((1.0,))
    opt = optim.Rprop([w], lr=0.4, variant="rprop+")
    cl = make_closure(opt, f, w)
    opt.step(cl)  # w = 0.6, Δ = 0.4
    opt.step(cl)  # same sign: Δ = 0.48, w = 0.12
    opt.step(cl)  # same sign: Δ = 0.576, w = −0.456
    assert w.data[0] == pytest.approx(-0.456)
    opt.step(cl)  # sign flip: Δ = 0.288, backtrack to 0.12, g_prev := 0
    assert w.data[0] == pytest.approx(0.12) and opt.state[w]["prev"][0] == 0
    assert opt.state[w]["step_size"][0] == pytest.approx(0.288)
    opt.step(cl)  # p = 0: Δ unchanged, w = 0.12 − 0.288
    assert opt.state[w]["step_size"][0] == pytest.approx(0.288)
    assert w.data[0] == pytest.approx(0.12 - 0.288)


def test_irprop_plus_needs_closure_and_uses_loss():
    # spec: OPT-RPROP  irprop+ reverts a step only if R increased
    w = param((-1.5, 2.0))
    opt = optim.Rprop([w], variant="irprop+")
    rho(w).backward()
    with pytest.raises(RuntimeError, match="closure"):
        opt.step()


def test_rprop_step_sizes_stay_in_bounds():
    # spec: OPT-RPROP  Δ ∈ [Δmin, Δmax]
    w = param((-1.5, 2.0))
    opt = optim.Rprop([w], lr=0.1, step_sizes=(1e-3, 0.2))
    cl = make_closure(opt, rho, w)
    for _ in range(100):
        opt.step(cl)
        s = opt.state[w]["step_size"]
        assert (s >= 1e-3).all() and (s <= 0.2).all()


FIRST_ORDER = [
    lambda p, **k: optim.SGD(p, lr=0.01, momentum=0.9, **k),
    lambda p, **k: optim.GD(p, lr=1e-3, **k),
    lambda p, **k: optim.Momentum(p, lr=0.01, **k),
    lambda p, **k: optim.DeltaDelta(p, lr=1e-3, gamma=1e-7, **k),
    lambda p, **k: optim.DeltaBarDelta(p, lr=1e-3, kappa=1e-5, **k),
    lambda p, **k: optim.Adagrad(p, lr=0.1, **k),
    lambda p, **k: optim.Adadelta(p, **k),
    lambda p, **k: optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5, **k),
    lambda p, **k: optim.Adam(p, lr=0.01, **k),
    lambda p, **k: optim.AdamW(p, lr=0.01, **k),
    lambda p, **k: optim.Quickprop(p, lr=0.01, **k),
    lambda p, **k: optim.Rprop(p, lr=0.01, **k),
    lambda p, **k: optim.Rprop(p, lr=0.01, variant="irprop+", **k),
    lambda p, **k: optim.ConjugateGradient(p, **k),
    lambda p, **k: optim.LBFGS(p, line_search_fn="strong_wolfe", **k),
    lambda p, **k: optim.Newton(p, **k),
]


@pytest.mark.parametrize("make", FIRST_ORDER)
def test_maximize_equals_minimizing_the_negation(make):
    # spec: OPT-SGD  maximize=True negates g (conventions of 02)
    a = run(lambda p: make(p), Q, W0_Q, 15)
    b = run(lambda p: make(p, maximize=True), lambda w: -Q(w), W0_Q, 15)
    assert np.isfinite(a).all() and not np.allclose(a[-1], W0_Q)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_step_bumps_version_and_skips_params_without_grad():
    a, b = param((1.0, 2.0)), param((3.0,))
    opt = optim.Adam([a, b], lr=0.1)
    v0 = a._version.n if hasattr(a._version, "n") else a._version
    (a * a).sum().backward()
    opt.step()
    v1 = a._version.n if hasattr(a._version, "n") else a._version
    assert v1 == v0 + 1
    assert b not in opt.state and b.data[0] == 3.0


def test_float32_parameters_stay_float32():
    for make in FIRST_ORDER[:13]:
        w = cr.Tensor(np.array([-1.5, 2.0], dtype=np.float32), requires_grad=True)
        opt = make([w])
        cl = make_closure(opt, rho, w)
        for _ in range(3):
            opt.step(cl)
        assert w.dtype == np.float32 and np.isfinite(w.data).all()


BAD = [
    (lambda p: optim.SGD(p, lr=-0.1), "lr"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-1), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.SGD.ema(p, lr=0.1, momentum=1.0), "momentum"),
    (lambda p: optim.GD(p, lr=0.1, line_search_fn="golden"), "line search"),
    (lambda p: optim.Momentum(p, lr=0.1, form="heavy"), "form"),
    (lambda p: optim.Momentum(p, lr=0.1, momentum=1.5), "momentum"),
    (lambda p: optim.DeltaDelta(p, gamma=-1), "gamma"),
    (lambda p: optim.DeltaBarDelta(p, phi=1.5), "phi"),
    (lambda p: optim.DeltaBarDelta(p, theta=0), "theta"),
    (lambda p: optim.DeltaBarDelta(p, kappa=0), "kappa"),
    (lambda p: optim.DeltaBarDelta(p, compare="next"), "compare"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "lr_decay"),
    (lambda p: optim.Adagrad(p, eps=-1), "eps"),
    (lambda p: optim.Adadelta(p, rho=1.5), "rho"),
    (lambda p: optim.RMSprop(p, alpha=-0.1), "alpha"),
    (lambda p: optim.RMSprop(p, momentum=-0.1), "momentum"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "betas"),
    (lambda p: optim.Adam(p, betas=(0.9,)), "betas"),
    (lambda p: optim.Adam(p, eps=-1e-8), "eps"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "weight_decay"),
    (lambda p: optim.Quickprop(p, mu=0), "mu"),
    (lambda p: optim.Rprop(p, etas=(1.2, 0.5)), "etas"),
    (lambda p: optim.Rprop(p, etas=(0.5, 1.0)), "etas"),
    (lambda p: optim.Rprop(p, step_sizes=(1.0, 0.1)), "step_sizes"),
    (lambda p: optim.Rprop(p, variant="rprop"), "variant"),
    (lambda p: optim.Newton(p, damping=-1), "damping"),
    (lambda p: optim.GaussNewton(p, damping=-1), "damping"),
    (lambda p: optim.LevenbergMarquardt(p, up=0.5), "up"),
    (lambda p: optim.LevenbergMarquardt(p, scaling="full"), "scaling"),
    (lambda p: optim.LevenbergMarquardt(p, max_iter=0), "max_iter"),
    (lambda p: optim.ConjugateGradient(p, beta="HS"), "beta"),
    (lambda p: optim.ConjugateGradient(p, c2=1e-5), "c2"),
    (lambda p: optim.LBFGS(p, history_size=0), "history_size"),
    (lambda p: optim.LBFGS(p, max_iter=0), "max_iter"),
    (lambda p: optim.LBFGS(p, line_search_fn="wolfe"), "line search"),
]


@pytest.mark.parametrize("make,word", BAD, ids=[f"{i}-{w}" for i, (_, w) in enumerate(BAD)])
def test_invalid_hyperparameters_raise_clear_value_errors(make, word):
    with pytest.raises(ValueError) as e:
        make([param((1.0, 2.0))])
    assert word.lower() in str(e.value).lower()


def test_base_class_errors():
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(param((1.0,)), lr=0.1)
    frozen = cr.Tensor(np.ones(2))  # accepted (PyTorch): step() skips it, it has no gradient
    optim.SGD([frozen], lr=0.1).step()
    np.testing.assert_array_equal(frozen.data, np.ones(2))
    with pytest.raises(ValueError, match="none of the optimizer's parameters requires grad"):
        optim.LBFGS([frozen]).step(lambda: 0.0)
    a = param((1.0,))
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1)
    with pytest.raises(ValueError, match="required hyperparameter 'lr'"):
        optim.SGD([a])
    for cls in (optim.LBFGS, optim.ConjugateGradient, optim.Newton):
        with pytest.raises(RuntimeError, match="closure"):
            cls([param((1.0,))]).step()


def test_minibatch_gradients_average_to_the_full_gradient():
    # spec: OPT-SGD  a permutation cut into equal batches: the mean of the batch-mean gradients = the full gradient;
    # one SGD epoch with B = N is one GD step
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((24, 3)), rng.standard_normal(24)
    w = param(rng.standard_normal(3))

    def grad_of(idx):
        w.grad = None
        ((cr.Tensor(X[idx]) @ w - cr.Tensor(y[idx])) ** 2).mean().backward()
        return w.grad.data.copy()

    full = grad_of(np.arange(24))
    perm = rng.permutation(24)
    batches = [grad_of(perm[i:i + 6]) for i in range(0, 24, 6)]
    np.testing.assert_allclose(np.mean(batches, axis=0), full, rtol=1e-12)
    w0 = w.data.copy()
    opt = optim.SGD([w], lr=0.1)
    grad_of(np.arange(24))
    opt.step()
    np.testing.assert_allclose(w.data, w0 - 0.1 * full, rtol=1e-15)


def test_adam_chunked_update_of_large_tensors_is_bitwise_the_whole_tensor_update(monkeypatch):
    # the cache-sized chunks of a large tensor's Adam/AdamW update change nothing but speed
    from chainrule.optim import adam as adam_mod
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((70, 50)).astype(np.float32)
    grads = [rng.standard_normal((70, 50)).astype(np.float32) for _ in range(4)]

    def run(chunk, cls, **kw):
        monkeypatch.setattr(adam_mod, "_CHUNK", chunk)
        p = cr.Tensor(w0.copy(), requires_grad=True)
        opt = cls([p], lr=1e-2, **kw)
        for g in grads:
            p.grad = cr.Tensor(g)
            opt.step()
        return p.data, opt.state[p]["exp_avg_sq"]

    for cls, kw in ((cr.optim.Adam, {}), (cr.optim.Adam, dict(amsgrad=True, weight_decay=0.1)),
                    (cr.optim.AdamW, dict(weight_decay=0.1))):
        whole, chunked = run(1 << 20, cls, **kw), run(256, cls, **kw)   # 3,500 elements: 14 chunks
        np.testing.assert_array_equal(whole[0], chunked[0])
        np.testing.assert_array_equal(whole[1], chunked[1])
        assert not np.array_equal(whole[0], w0)
