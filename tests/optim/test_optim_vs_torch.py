"""Trajectories equal PyTorch's in float64: 200 steps on Rosenbrock, 100 steps of a small MLP."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import torch_or_skip
from optim_common import W0_RHO, make_closure, param, rho

import chainrule as cr
from chainrule import nn, optim

torch = torch_or_skip()


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny tensors: torch's thread pool only adds contention on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

# (chainrule factory, torch factory)
CASES = {
    "SGD": (lambda p: optim.SGD(p, lr=1e-4), lambda p: torch.optim.SGD(p, lr=1e-4)),
    "SGD momentum dampening wd": (lambda p: optim.SGD(p, lr=1e-4, momentum=0.9, dampening=0.3, weight_decay=0.1),
                                  lambda p: torch.optim.SGD(p, lr=1e-4, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    "SGD nesterov": (lambda p: optim.SGD(p, lr=1e-4, momentum=0.8, nesterov=True),
                     lambda p: torch.optim.SGD(p, lr=1e-4, momentum=0.8, nesterov=True)),
    "SGD maximize": (lambda p: optim.SGD(p, lr=1e-4, momentum=0.5, maximize=True),
                     lambda p: torch.optim.SGD(p, lr=1e-4, momentum=0.5, maximize=True)),
    "Adagrad": (lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
                lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                              initial_accumulator_value=0.1)),
    "Adadelta": (lambda p: optim.Adadelta(p, lr=0.5, rho=0.95, weight_decay=0.01),
                 lambda p: torch.optim.Adadelta(p, lr=0.5, rho=0.95, weight_decay=0.01)),
    "RMSprop": (lambda p: optim.RMSprop(p, lr=1e-3), lambda p: torch.optim.RMSprop(p, lr=1e-3)),
    "RMSprop centered momentum wd": (
        lambda p: optim.RMSprop(p, lr=1e-4, alpha=0.99, momentum=0.5, centered=True, weight_decay=0.01),
        lambda p: torch.optim.RMSprop(p, lr=1e-4, alpha=0.99, momentum=0.5, centered=True, weight_decay=0.01)),
    "Adam": (lambda p: optim.Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2)),
    "Adam amsgrad wd": (lambda p: optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=0.05),
                        lambda p: torch.optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=0.05)),
    "AdamW": (lambda p: optim.AdamW(p, lr=1e-2, weight_decay=0.1, betas=(0.8, 0.99)),
              lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1, betas=(0.8, 0.99))),
    "Adam small beta1 maximize": (lambda p: optim.Adam(p, lr=1e-3, betas=(0.3, 0.9), maximize=True),
                                  lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.3, 0.9), maximize=True)),
    "RMSprop centered small alpha": (lambda p: optim.RMSprop(p, lr=1e-3, alpha=0.4, centered=True),
                                     lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.4, centered=True)),
    "Rprop": (lambda p: optim.Rprop(p, lr=1e-3), lambda p: torch.optim.Rprop(p, lr=1e-3)),
    "Rprop etas bounds": (lambda p: optim.Rprop(p, lr=1e-2, etas=(0.3, 1.5), step_sizes=(1e-4, 0.05)),
                          lambda p: torch.optim.Rprop(p, lr=1e-2, etas=(0.3, 1.5), step_sizes=(1e-4, 0.05))),
    "LBFGS strong_wolfe": (lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe"),
                           lambda p: torch.optim.LBFGS(p, line_search_fn="strong_wolfe")),
    "LBFGS strong_wolfe lr .5 tol": (
        lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe", lr=0.5, tolerance_change=1e-12),
        lambda p: torch.optim.LBFGS(p, line_search_fn="strong_wolfe", lr=0.5, tolerance_change=1e-12)),
    "LBFGS strong_wolfe max_iter 3": (
        lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe", max_iter=3),
        lambda p: torch.optim.LBFGS(p, line_search_fn="strong_wolfe", max_iter=3)),
}
# Fixed-step L-BFGS (no line search) on ρ amplifies last-bit differences (FMA, dot-product order)
# chaotically after ~10 steps; it is compared over 200 steps on a convex quadratic below.


def _torch_rho(w):
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


@pytest.mark.parametrize("name", list(CASES))
def test_rosenbrock_200_steps_match_torch(name):
    # spec: OPT-SGD, OPT-SGD-MOMENTUM, OPT-NESTEROV, OPT-ADAGRAD, OPT-ADADELTA, OPT-RMSPROP, OPT-ADAM,
    # spec: OPT-ADAMW, OPT-RPROP, OPT-LBFGS, OPT-LINE-SEARCH
    make_cr, make_t = CASES[name]
    sign = -1.0 if "maximize" in name else 1.0  # maximize −ρ
    w = param(W0_RHO)
    wt = torch.tensor(W0_RHO, dtype=torch.float64, requires_grad=True)
    opt, opt_t = make_cr([w]), make_t([wt])
    closure = make_closure(opt, lambda v: sign * rho(v), w)

    def closure_t():
        opt_t.zero_grad()
        loss = sign * _torch_rho(wt)
        loss.backward()
        return loss

    moved = False
    for k in range(200):
        opt.step(closure)
        opt_t.step(closure_t)
        np.testing.assert_allclose(w.data, wt.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"step {k + 1}")
        moved |= not np.allclose(w.data, W0_RHO)
    assert moved
    if name.startswith("LBFGS"):
        assert opt.state[w]["func_evals"] == opt_t.state[wt]["func_evals"]
        assert opt.state[w]["n_iter"] == opt_t.state[wt]["n_iter"]


def test_lbfgs_without_line_search_matches_torch():
    # spec: OPT-LBFGS  5 steps on ρ, then 200 steps (max_iter 4, history 5) on a 6-D convex quadratic
    def both(make_cr, make_t, f_cr, f_t, w0, n):
        w = param(w0)
        wt = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
        opt, opt_t = make_cr([w]), make_t([wt])
        closure = make_closure(opt, f_cr, w)

        def closure_t():
            opt_t.zero_grad()
            loss = f_t(wt)
            loss.backward()
            return loss

        for k in range(n):
            opt.step(closure)
            opt_t.step(closure_t)
            np.testing.assert_allclose(w.data, wt.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"step {k}")
        assert opt.state[w]["func_evals"] == opt_t.state[wt]["func_evals"]
        return w.data

    both(lambda p: optim.LBFGS(p, history_size=10, max_iter=4),
         lambda p: torch.optim.LBFGS(p, history_size=10, max_iter=4), rho, _torch_rho, W0_RHO, 2)
    rng = np.random.default_rng(3)
    M = rng.standard_normal((6, 6))
    A = M @ M.T + 0.5 * np.eye(6)
    b = rng.standard_normal(6)
    At, bt = torch.from_numpy(A), torch.from_numpy(b)
    w_end = both(lambda p: optim.LBFGS(p, lr=0.5, history_size=5, max_iter=4, tolerance_grad=1e-12),
                 lambda p: torch.optim.LBFGS(p, lr=0.5, history_size=5, max_iter=4, tolerance_grad=1e-12),
                 lambda w: 0.5 * (w * (cr.Tensor(A) @ w)).sum() - (cr.Tensor(b) * w).sum(),
                 lambda w: 0.5 * (w * (At @ w)).sum() - (bt * w).sum(), tuple(np.ones(6)), 200)
    np.testing.assert_allclose(w_end, np.linalg.solve(A, b), rtol=1e-3)


def _mlp_pair(seed=0):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 16, dtype=np.float64), nn.Tanh(), nn.Linear(16, 3, dtype=np.float64))
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    with torch.no_grad():
        for (_, p), tp in zip(model.named_parameters(), tmodel.parameters()):
            tp.copy_(torch.from_numpy(p.data))
    return model, tmodel


@pytest.mark.parametrize("name,make_cr,make_t", [
    ("SGD", lambda p: optim.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    ("SGD momentum nesterov wd", lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("Adam", lambda p: optim.Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2)),
    ("Adam amsgrad", lambda p: optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=1e-3),
     lambda p: torch.optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=1e-3)),
])
def test_mlp_100_steps_match_torch(name, make_cr, make_t):
    # spec: OPT-SGD, OPT-ADAM  mini-batches of 10 from 60 samples, cross-entropy, float64
    model, tmodel = _mlp_pair()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 5))
    y = rng.integers(0, 3, 60)
    opt, opt_t = make_cr(model.parameters()), make_t(tmodel.parameters())
    for k in range(100):
        idx = np.arange(k * 10, k * 10 + 10) % 60
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(cr.Tensor(X[idx])), y[idx])
        loss.backward()
        opt.step()
        opt_t.zero_grad()
        lt = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(X[idx])), torch.from_numpy(y[idx]))
        lt.backward()
        opt_t.step()
        np.testing.assert_allclose(float(loss), float(lt.detach()), rtol=1e-10)
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
