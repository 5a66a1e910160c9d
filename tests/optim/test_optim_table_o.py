"""Table O of spec 02 (1 and 50 steps, 1e-10 relative) and one hand-computed step on Q per optimizer."""

from __future__ import annotations

import numpy as np
import pytest
from optim_common import A_Q, B_Q, W0_Q, W0_RHO, Q, make_closure, param, rho, rho_residuals, run

from chainrule import optim

# (id, factory, problem, w after 1 step, w after 50 steps)       spec: Table O
TABLE_O = [
    ("SGD Q lr .1", lambda p: optim.SGD(p, lr=.1), "Q", (0.7, 0.6), (0.59959070481, -0.799337746038)),
    ("SGD Q mom", lambda p: optim.SGD(p, lr=.05, momentum=.9), "Q", (0.85, 0.8), (0.481192697657, -0.784177274083)),
    ("SGD Q mom damp", lambda p: optim.SGD(p, lr=.05, momentum=.9, dampening=.9), "Q", (0.85, 0.8),
     (0.71604590673, -0.831291064991)),
    ("SGD Q nesterov", lambda p: optim.SGD(p, lr=.05, momentum=.9, nesterov=True), "Q", (0.715, 0.62),
     (0.592296698218, -0.78878427889)),
    ("SGD Q wd", lambda p: optim.SGD(p, lr=.1, weight_decay=.1), "Q", (0.69, 0.59), (0.562396701408, -0.743750958764)),
    ("SGD rho nesterov", lambda p: optim.SGD(p, lr=1e-3, momentum=.9, nesterov=True), "rho", (-1.2055, 2.095),
     (0.409952538448, 0.164533217732)),
    ("EMA momentum Q", lambda p: optim.SGD.ema(p, lr=.1, momentum=.9), "Q", (0.97, 0.96),
     (0.504399198449, -0.820723915103)),
    ("EMA momentum Q (Momentum form=ema)", lambda p: optim.Momentum(p, lr=.1, momentum=.9, form="ema"), "Q",
     (0.97, 0.96), (0.504399198449, -0.820723915103)),
    ("EMA momentum Q (= SGD lr .01 mom .9)", lambda p: optim.SGD(p, lr=.01, momentum=.9), "Q", (0.97, 0.96),
     (0.504399198449, -0.820723915103)),
    ("DeltaDelta Q", lambda p: optim.DeltaDelta(p, lr=.05, gamma=1e-3), "Q", (0.85, 0.8),
     (0.598137451048, -0.797648578024)),
    ("DeltaBarDelta Q", lambda p: optim.DeltaBarDelta(p, lr=.05, kappa=.01, phi=.1, theta=.7), "Q", (0.85, 0.8),
     (0.599999999991, -0.799999999988)),
    ("Adagrad Q", lambda p: optim.Adagrad(p, lr=.5), "Q", (0.500000000017, 0.500000000013),
     (0.599585254357, -0.799114254342)),
    ("Adagrad rho", lambda p: optim.Adagrad(p, lr=.1), "rho", (-1.4, 2.1), (-1.39711058017, 1.9581316042)),
    ("RMSprop Q", lambda p: optim.RMSprop(p, lr=.01), "Q", (0.900000003333, 0.9000000025),
     (0.336796585185, -0.0527705829537)),
    ("RMSprop Q centered mom", lambda p: optim.RMSprop(p, lr=.01, alpha=.9, momentum=.5, centered=True), "Q",
     (0.966666667037, 0.966666666944), (0.484849376147, -0.571383252948)),
    ("RMSprop rho", lambda p: optim.RMSprop(p, lr=1e-3), "rho", (-1.49000000001, 2.00999999998),
     (-1.4346154129, 2.06023704739)),
    ("Adadelta Q", lambda p: optim.Adadelta(p), "Q", (0.996837724097, 0.996837723328), (0.83031431855, 0.822794106114)),
    ("Adadelta rho", lambda p: optim.Adadelta(p), "rho", (-1.49683772234, 2.00316227765),
     (-1.4345764562, 2.06017198943)),
    ("Adam Q", lambda p: optim.Adam(p, lr=.1), "Q", (0.900000000333, 0.90000000025), (0.618202666145, -0.910963873935)),
    ("Adam Q amsgrad", lambda p: optim.Adam(p, lr=.1, amsgrad=True), "Q", (0.900000000333, 0.90000000025),
     (0.618119600244, -0.911232651044)),
    ("Adam rho", lambda p: optim.Adam(p, lr=1e-2), "rho", (-1.49, 2.01), (-1.42276062757, 2.03586025894)),
    ("AdamW Q", lambda p: optim.AdamW(p, lr=.1, weight_decay=.1), "Q", (0.890000000333, 0.89000000025),
     (0.556933214039, -0.808500801566)),
    ("AdamW rho", lambda p: optim.AdamW(p, lr=1e-2, weight_decay=.01), "rho", (-1.48985, 2.0098),
     (-1.41808342356, 2.02305649649)),
    ("Quickprop Q", lambda p: optim.Quickprop(p, lr=.05), "Q", (0.85, 0.8), (0.6, -0.8)),
    ("Quickprop Q mu None", lambda p: optim.Quickprop(p, lr=.05, mu=None, grad_term=False), "Q", (0.85, 0.8),
     (0.600031372365, -0.800061583176)),
    ("Rprop irprop- Q", lambda p: optim.Rprop(p, lr=.1, variant="irprop-"), "Q", (0.9, 0.9),
     (0.600012210522, -0.799993685495)),
    ("Rprop rprop- Q", lambda p: optim.Rprop(p, lr=.1, variant="rprop-"), "Q", (0.9, 0.9),
     (0.600000083675, -0.799999947769)),
    ("Rprop rprop+ Q", lambda p: optim.Rprop(p, lr=.1, variant="rprop+"), "Q", (0.9, 0.9),
     (0.600102776562, -0.799938697806)),
    ("Rprop irprop+ Q", lambda p: optim.Rprop(p, lr=.1, variant="irprop+"), "Q", (0.9, 0.9),
     (0.59999869566, -0.79999984196)),
    ("Rprop irprop- rho", lambda p: optim.Rprop(p, lr=1e-3, variant="irprop-"), "rho", (-1.499, 2.001),
     (-1.3206988136, 1.75645637229)),
    ("Rprop rprop+ rho", lambda p: optim.Rprop(p, lr=1e-3, variant="rprop+"), "rho", (-1.499, 2.001),
     (-1.38722169362, 1.92830390446)),
]


@pytest.mark.parametrize("name,factory,problem,w1,w50", TABLE_O, ids=[r[0] for r in TABLE_O])
def test_table_o(name, factory, problem, w1, w50):
    # spec: OPT-SGD, OPT-NESTEROV, OPT-MOMENTUM-EMA, OPT-DELTA-DELTA, OPT-DELTA-BAR-DELTA, OPT-ADAGRAD,
    # spec: OPT-RMSPROP, OPT-ADADELTA, OPT-ADAM, OPT-ADAMW, OPT-QUICKPROP, OPT-RPROP
    f, w0 = (Q, W0_Q) if problem == "Q" else (rho, W0_RHO)
    traj = run(factory, f, w0, 50)
    np.testing.assert_allclose(traj[0], w1, rtol=1e-10, atol=0)
    np.testing.assert_allclose(traj[-1], w50, rtol=1e-10, atol=0)


G0 = A_Q @ np.array(W0_Q) - B_Q  # (3, 4)
W0 = np.array(W0_Q)


def _hand_first_steps():
    """One step on Q from (1, 1), computed by hand from each docstring's update rule."""
    g, w = G0, W0
    L = np.linalg.cholesky(A_Q)
    lm_J = L.T  # residual r = Lᵀw − L⁻¹b, ½‖r‖² = Q + const
    lm_r = L.T @ w - np.linalg.solve(L, B_Q)
    return [
        ("SGD", lambda p: optim.SGD(p, lr=0.1), w - 0.1 * g),
        ("GD", lambda p: optim.GD(p, lr=0.1), w - 0.1 * g),
        ("GD armijo", lambda p: optim.GD(p, lr=1.0, line_search_fn="armijo"),
         w - 0.5 * g),  # Q(w0) = 3.5; t = 1: Q = 20 > 3.5 − 1e-4·25; t = 0.5: Q = 1.375 passes
        ("Momentum velocity", lambda p: optim.Momentum(p, lr=0.1, momentum=0.9), w - 0.1 * g),
        ("Momentum ema", lambda p: optim.Momentum(p, lr=0.1, momentum=0.9, form="ema"), w - 0.1 * 0.1 * g),
        ("SGD nesterov", lambda p: optim.SGD(p, lr=0.1, momentum=0.5, nesterov=True), w - 0.1 * (g + 0.5 * g)),
        ("DeltaDelta", lambda p: optim.DeltaDelta(p, lr=0.1), w - 0.1 * g),
        ("DeltaBarDelta", lambda p: optim.DeltaBarDelta(p, lr=0.1), w - 0.1 * g),
        ("Adagrad", lambda p: optim.Adagrad(p, lr=0.1), w - 0.1 * g / (np.abs(g) + 1e-10)),
        ("Adagrad eps_inside", lambda p: optim.Adagrad(p, lr=0.1, eps=1e-8, eps_inside=True),
         w - 0.1 * g / np.sqrt(g * g + 1e-8)),
        ("RMSprop", lambda p: optim.RMSprop(p, lr=0.1), w - 0.1 * g / (np.sqrt(0.01 * g * g) + 1e-8)),
        ("RMSprop centered", lambda p: optim.RMSprop(p, lr=0.1, centered=True),
         w - 0.1 * g / (np.sqrt(0.01 * g * g - (0.01 * g) ** 2) + 1e-8)),
        ("Adadelta", lambda p: optim.Adadelta(p), w - np.sqrt(1e-6) / np.sqrt(0.1 * g * g + 1e-6) * g),
        ("Adam", lambda p: optim.Adam(p, lr=0.1), w - 0.1 * g / (np.abs(g) + 1e-8)),
        ("AdamW", lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.5), w * (1 - 0.05) - 0.1 * g / (np.abs(g) + 1e-8)),
        ("Quickprop", lambda p: optim.Quickprop(p, lr=0.1), w - 0.1 * g),
        ("Rprop", lambda p: optim.Rprop(p, lr=0.1), w - 0.1 * np.sign(g)),
        ("Newton", lambda p: optim.Newton(p), np.linalg.solve(A_Q, B_Q)),
        ("Newton damped", lambda p: optim.Newton(p, damping=1.0), w - np.linalg.solve(A_Q + np.eye(2), g)),
        ("CG", lambda p: optim.ConjugateGradient(p, line_search_fn=_exact_q), w - (g @ g) / (g @ A_Q @ g) * g),
        ("LBFGS", lambda p: optim.LBFGS(p, max_iter=1), w - min(1.0, 1 / np.abs(g).sum()) * g),
        ("GaussNewton", lambda p: optim.GaussNewton(p, residual_fn=None),
         w - np.linalg.solve(lm_J.T @ lm_J, lm_J.T @ lm_r)),
        ("LevenbergMarquardt", lambda p: optim.LevenbergMarquardt(p, max_iter=1),
         w - np.linalg.solve(lm_J.T @ lm_J + 1e-3 * np.eye(2), lm_J.T @ lm_r)),
    ]


def _exact_q(obj, x, t, d, f, g, gtd, **_):
    """Exact line search on Q: α = −gᵀd / dᵀAd."""
    a = -gtd / float(d @ A_Q @ d)
    fn, gn = obj(x, a, d)
    return fn, gn, a, 1


def _q_residuals(w):
    import chainrule as cr
    L = np.linalg.cholesky(A_Q)
    return cr.Tensor(L.T) @ w - cr.Tensor(np.linalg.solve(L, B_Q))


@pytest.mark.parametrize("name,factory,expected", _hand_first_steps(), ids=[r[0] for r in _hand_first_steps()])
def test_one_step_on_Q_is_hand_computed(name, factory, expected):
    # spec: OPT-GD, OPT-SGD, OPT-NEWTON, OPT-GAUSS-NEWTON, OPT-LM, OPT-CG, OPT-LBFGS, OPT-LINE-SEARCH
    least_squares = name in ("GaussNewton", "LevenbergMarquardt")
    f = _q_residuals if least_squares else Q
    traj = run(factory, f, W0_Q, 1)
    np.testing.assert_allclose(traj[0], expected, rtol=1e-12, atol=1e-14)
    assert not np.allclose(traj[0], W0), "the optimizer did not move"


def test_rosenbrock_residual_first_steps():
    # spec: OPT-GAUSS-NEWTON  from (−1.2, 1): (1, −3.84), then exactly (1, 1).  The normal equations
    # square cond(J_r) ≈ 68, so the Cholesky solve (with one refinement step) is good to ~1e-13.
    traj = run(lambda p: optim.GaussNewton(p), rho_residuals, (-1.2, 1.0), 2)
    np.testing.assert_allclose(traj[0], (1.0, -3.84), rtol=1e-12)
    np.testing.assert_allclose(traj[1], (1.0, 1.0), rtol=1e-12)


def test_quickprop_two_step_exact():
    # spec: OPT-QUICKPROP  f = w₁² + 5w₂², η 0.05, mu=None, grad_term=False: (0.9, 0.5) then exactly (0, 0)
    w = param((1.0, 1.0))
    opt = optim.Quickprop([w], lr=0.05, mu=None, grad_term=False)
    cl = make_closure(opt, lambda v: v[0] ** 2 + 5 * v[1] ** 2, w)
    opt.step(cl)
    np.testing.assert_allclose(w.data, (0.9, 0.5), rtol=1e-15)
    opt.step(cl)
    np.testing.assert_allclose(w.data, (0.0, 0.0), atol=1e-15)  # exact up to the rounding of 0.05·2
