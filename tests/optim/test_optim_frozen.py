"""Frozen parameters and missing gradients, as in PyTorch: every optimizer accepts parameters with
requires_grad=False; the per-parameter methods skip any parameter whose .grad is None (not moved, state
untouched); the whole-vector methods (LBFGS, CG, GD line search, Newton, GN, LM) optimize only the
parameters that require grad."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import torch_or_skip
from optim_common import A_Q, B_Q

import chainrule as cr
from chainrule import nn, optim

X = np.random.default_rng(3).standard_normal((16, 3))
Y = np.sin(X @ np.array([[1.0], [-2.0], [0.5]]))

OPTIMIZERS = {
    "SGD": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "SGD two groups": lambda p: optim.SGD([{"params": p[:-2], "lr": 0.1}, {"params": p[-2:]}], lr=0.05, momentum=0.5),
    "GD": lambda p: optim.GD(p, lr=0.1),
    "GD armijo": lambda p: optim.GD(p, lr=1.0, line_search_fn="armijo"),
    "Momentum": lambda p: optim.Momentum(p, lr=0.05, momentum=0.9),
    "DeltaDelta": lambda p: optim.DeltaDelta(p, lr=0.05, gamma=1e-3),
    "DeltaBarDelta": lambda p: optim.DeltaBarDelta(p, lr=0.05, momentum=0.3),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01),
    "Adadelta": lambda p: optim.Adadelta(p),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5),
    "Adam": lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    "AdamW": lambda p: optim.AdamW(p, lr=0.01),
    "Quickprop": lambda p: optim.Quickprop(p, lr=0.05),
    "Rprop": lambda p: optim.Rprop(p, lr=0.01),
    "Rprop rprop+": lambda p: optim.Rprop(p, lr=0.01, variant="rprop+"),
    "Rprop irprop+": lambda p: optim.Rprop(p, lr=0.01, variant="irprop+"),
    "LBFGS": lambda p: optim.LBFGS(p, max_iter=3, history_size=4),
    "LBFGS strong_wolfe": lambda p: optim.LBFGS(p, max_iter=3, history_size=4, line_search_fn="strong_wolfe"),
    "CG": lambda p: optim.ConjugateGradient(p, max_iter=2),
    "Newton": lambda p: optim.Newton(p, damping=1e-2, line_search_fn="armijo"),
    "GaussNewton": lambda p: optim.GaussNewton(p, damping=1e-2),
    "LevenbergMarquardt": lambda p: optim.LevenbergMarquardt(p, max_iter=2),
}
RESIDUAL = ("GaussNewton", "LevenbergMarquardt")
NO_BACKWARD = ("Newton",) + RESIDUAL
WHOLE_VECTOR = ("GD armijo", "LBFGS", "LBFGS strong_wolfe", "CG") + NO_BACKWARD


def _model(frozen: int):
    """3-4-4-1 tanh net (float64) with the Linear layer at index ``frozen`` (0, 2 or 4) frozen."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 4, dtype=np.float64), nn.Tanh(),
                          nn.Linear(4, 1, dtype=np.float64))
    model[frozen].requires_grad_(False)
    return model


def _closure(name, model, opt):
    def residuals():
        return (model(cr.Tensor(X)) - cr.Tensor(Y)).reshape(-1)

    def closure():
        if name in RESIDUAL:
            return residuals()
        opt.zero_grad()
        loss = (residuals() ** 2).mean()
        if name not in NO_BACKWARD:
            loss.backward()
        return loss
    return closure


def _train(name, frozen: int, pass_frozen: bool, n: int):
    model = _model(frozen)
    params = [p for p in model.parameters() if pass_frozen or p.requires_grad]
    opt = OPTIMIZERS[name](params)
    cl = _closure(name, model, opt)
    versions = [int(p._version) for p in model.parameters()]
    for _ in range(n):
        opt.step(cl)
    opt.versions_before = versions
    return model, opt


@pytest.mark.parametrize("frozen", [2, 0], ids=["middle frozen", "first frozen"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_frozen_layer_is_left_alone_and_the_rest_trains_as_without_it(name, frozen):
    # spec: OPT-SGD, OPT-ADAM, OPT-RPROP, OPT-LBFGS, OPT-CG, OPT-NEWTON, OPT-GAUSS-NEWTON, OPT-LM, OPT-QUICKPROP
    init = [p.data.copy() for p in _model(frozen).parameters()]
    model, opt = _train(name, frozen, pass_frozen=True, n=4)
    ref, _ = _train(name, frozen, pass_frozen=False, n=4)
    moved = False
    for p, q, w0, v0 in zip(model.parameters(), ref.parameters(), init, opt.versions_before):
        if p.requires_grad:
            np.testing.assert_array_equal(p.data, q.data)  # bitwise: as if the frozen layer were never passed
            moved |= not np.array_equal(p.data, w0)
        else:
            np.testing.assert_array_equal(p.data, w0)      # frozen: bitwise unchanged
            assert p.grad is None and int(p._version) == v0  # never written, not even with the same values
            if name not in WHOLE_VECTOR:  # skipped: no per-parameter state (irprop+ keeps its
                assert set(opt.state.get(p, {})) <= {"prev_loss"}  # optimizer-wide R⁽ᵗ⁻¹⁾ under params[0]
    assert moved, "the trainable parameters did not move: the test could not fail"


def _to_numpy(obj):
    if isinstance(obj, dict):
        return {k: _to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_numpy(v) for v in obj]
    if obj is None or isinstance(obj, str):
        return obj
    return np.array(obj, copy=True)


@pytest.mark.parametrize("name", ["SGD", "Adam", "Rprop irprop+", "Quickprop", "LBFGS strong_wolfe", "CG",
                                  "LevenbergMarquardt"])
def test_state_dict_round_trip_with_a_frozen_layer(name):
    # spec: OPT-SGD, OPT-ADAM, OPT-RPROP, OPT-LBFGS  the saved state numbers every parameter, frozen ones included
    ref, _ = _train(name, 0, pass_frozen=True, n=6)
    model, opt = _train(name, 0, pass_frozen=True, n=3)
    sd = _to_numpy(opt.state_dict())
    assert sd["param_groups"][-1]["params"][-1] == 5  # 6 parameters numbered, 2 of them frozen
    model2 = _model(0)
    for p2, p in zip(model2.parameters(), model.parameters()):
        p2.data[...] = p.data
    opt2 = OPTIMIZERS[name](list(model2.parameters()))
    opt2.load_state_dict(sd)
    cl2 = _closure(name, model2, opt2)
    for _ in range(3):
        opt2.step(cl2)
    for a, b in zip(ref.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_unfreezing_mid_training_restarts_lbfgs_and_cg():
    # spec: OPT-LBFGS, OPT-CG  the variable vector grows: the history is for another vector, so restart
    for make in (lambda p: optim.LBFGS(p, max_iter=2, line_search_fn="strong_wolfe"),
                 lambda p: optim.ConjugateGradient(p, max_iter=2)):
        model = _model(2)
        opt = make(list(model.parameters()))
        cl = _closure("LBFGS", model, opt)
        losses = [float(opt.step(cl)) for _ in range(3)]
        model[2].requires_grad_(True)
        w_mid = model[2].weight.data.copy()
        losses += [float(opt.step(cl)) for _ in range(3)]
        assert not np.array_equal(model[2].weight.data, w_mid)  # now trained
        assert float(cl()) < losses[0]


def test_line_search_function_skips_frozen_parameters():
    # spec: OPT-LINE-SEARCH
    from chainrule.optim.line_search import line_search
    w = cr.Tensor(np.array([1.0, 1.0]), requires_grad=True)
    c = cr.Tensor(np.array([0.5]))  # frozen
    A = cr.Tensor(A_Q)

    def closure():
        w.grad = None
        loss = 0.5 * (w * (A @ w)).sum() - (cr.Tensor(B_Q) * w).sum() + (c * c).sum()
        loss.backward()
        return loss

    t, f = line_search([w, c], closure, direction=[-np.array([3.0, 4.0]), np.array([7.0])])
    assert t > 0 and f < 3.75  # R(w0) = 3.5 + 0.25
    np.testing.assert_array_equal(c.data, [0.5])
    with pytest.raises(ValueError, match="require grad"):
        line_search([w, c], closure, direction=np.array([-3.0, -4.0, 1.0]))


# ----------------------------------------------------------------------------- against torch.optim
TORCH_CASES = {
    "SGD momentum": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
                     lambda p, torch: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
                     "momentum_buffer"),
    "SGD nesterov": (lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
                               lambda p, torch: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
                               "momentum_buffer"),
    "Adam": (lambda p: optim.Adam(p, lr=0.03), lambda p, torch: torch.optim.Adam(p, lr=0.03), "exp_avg_sq"),
    "AdamW amsgrad": (lambda p: optim.AdamW(p, lr=0.03, amsgrad=True),
                      lambda p, torch: torch.optim.AdamW(p, lr=0.03, amsgrad=True), "max_exp_avg_sq"),
    "RMSprop": (lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5),
                lambda p, torch: torch.optim.RMSprop(p, lr=0.01, momentum=0.5), "square_avg"),
    "Rprop": (lambda p: optim.Rprop(p, lr=0.01), lambda p, torch: torch.optim.Rprop(p, lr=0.01), "step_size"),
}


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_grad_none_on_some_steps_matches_torch(name):
    # spec: OPT-SGD-MOMENTUM, OPT-ADAM, OPT-RPROP  torch skips a parameter whose grad is None without touching
    # its state (no momentum decay, no step count increment): 15 steps, p2 unused on every third step
    torch = torch_or_skip()
    mk, mk_t, key = TORCH_CASES[name]
    rng = np.random.default_rng(7)
    w1, w2, w3 = rng.standard_normal(3), rng.standard_normal((2, 2)), rng.standard_normal(2)
    ps = [cr.Tensor(w.copy(), requires_grad=True) for w in (w1, w2)] + [cr.Tensor(w3.copy())]  # w3 frozen
    ts = [torch.tensor(w.copy(), requires_grad=True) for w in (w1, w2)] + [torch.tensor(w3.copy())]
    opt, opt_t = mk(ps), mk_t(ts, torch)
    M = rng.standard_normal((2, 3))

    def loss(lib, p1, p2, p3, k):
        t = (lambda a: a) if lib is cr else torch.from_numpy
        out = ((p1 * p1 * p1).sum() - (p1 * t(np.array([1.0, 2.0, 3.0]))).sum()) * 0.1 + (p1 * p3.sum()).sum()
        if k % 3 != 1:
            m = cr.Tensor(M) if lib is cr else torch.from_numpy(M)
            out = out + ((p2 @ (m @ p1)) ** 2).sum() * 0.01
        return out

    skipped_state = None
    for k in range(15):
        opt.zero_grad()
        opt_t.zero_grad()
        loss(cr, *ps, k).backward()
        loss(torch, *ts, k).backward()
        assert (ps[1].grad is None) == (ts[1].grad is None) == (k % 3 == 1)
        if k == 4:
            skipped_state = {a: np.array(b, copy=True) for a, b in opt.state[ps[1]].items()}
        opt.step()
        opt_t.step()
        if k == 4:  # p2 had no gradient: its state is bitwise what it was
            for a, b in skipped_state.items():
                np.testing.assert_array_equal(np.asarray(opt.state[ps[1]][a]), b)
        for p, t in zip(ps, ts):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-13, err_msg=f"step {k}")
    np.testing.assert_array_equal(ps[2].data, w3)
    assert ps[2] not in opt.state and ts[2] not in opt_t.state
    for p, t in zip(ps[:2], ts[:2]):
        np.testing.assert_allclose(opt.state[p][key], opt_t.state[t][key].numpy(), rtol=1e-10, atol=1e-13)
        if "step" in opt_t.state[t]:
            assert int(opt.state[p]["step"]) == int(opt_t.state[t]["step"])
    if "step" in opt_t.state[ts[1]]:
        assert int(opt.state[ps[1]]["step"]) == 10  # 15 steps, 5 of them without a gradient


def test_lbfgs_with_a_frozen_parameter_matches_torch():
    # spec: OPT-LBFGS  torch counts a frozen parameter as g = 0 (never moved); chainrule leaves it out of
    # the vector: the same trajectory on a convex quadratic, 10 steps of strong-Wolfe L-BFGS
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    B = rng.standard_normal((5, 5))
    H = B @ B.T + np.eye(5)
    b = rng.standard_normal(5)
    w0, c0 = rng.standard_normal(3), rng.standard_normal(2)
    w, c = cr.Tensor(w0.copy(), requires_grad=True), cr.Tensor(c0.copy())
    wt, ct = torch.tensor(w0.copy(), requires_grad=True), torch.tensor(c0.copy())
    opt = optim.LBFGS([c, w], max_iter=2, history_size=3, line_search_fn="strong_wolfe")
    opt_t = torch.optim.LBFGS([ct, wt], max_iter=2, history_size=3, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = cr.concatenate([w, c])
        f = 0.5 * (z * (cr.Tensor(H) @ z)).sum() - (cr.Tensor(b) * z).sum() + ((w * w) ** 2).sum() * 0.05
        f.backward()
        return f

    def closure_t():
        opt_t.zero_grad()
        z = torch.cat([wt, ct])
        f = 0.5 * (z * (torch.from_numpy(H) @ z)).sum() - (torch.from_numpy(b) * z).sum()
        f = f + ((wt * wt) ** 2).sum() * 0.05
        f.backward()
        return f

    for k in range(10):
        f, f_t = opt.step(closure), opt_t.step(closure_t)
        np.testing.assert_allclose(float(f), float(f_t.detach()), rtol=1e-10)
        np.testing.assert_allclose(w.data, wt.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"step {k}")
    np.testing.assert_array_equal(c.data, c0)
    assert not np.allclose(w.data, w0)
