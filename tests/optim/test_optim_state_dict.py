"""state_dict round trip: stop, save (as NumPy arrays), load into a fresh optimizer, resume: bitwise the
same trajectory as an uninterrupted run, for every optimizer."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

X = np.random.default_rng(0).standard_normal((16, 3))
Y = np.sin(X @ np.array([[1.0], [-2.0], [0.5]]))

OPTIMIZERS = {
    "SGD": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "SGD per-weight lr": lambda p: optim.SGD([{"params": p[:2], "lr": 0.1}, {"params": p[2:]}], lr=0.05, momentum=0.5),
    "SGD.ema": lambda p: optim.SGD.ema(p, lr=0.1, momentum=0.9),
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
    "Rprop irprop-": lambda p: optim.Rprop(p, lr=0.01),
    "Rprop rprop+": lambda p: optim.Rprop(p, lr=0.01, variant="rprop+"),
    "Rprop irprop+": lambda p: optim.Rprop(p, lr=0.01, variant="irprop+"),
    "Newton": lambda p: optim.Newton(p, damping=1e-2, line_search_fn="armijo"),
    "GaussNewton": lambda p: optim.GaussNewton(p, damping=1e-2),
    "LevenbergMarquardt": lambda p: optim.LevenbergMarquardt(p, max_iter=2),
    "CG": lambda p: optim.ConjugateGradient(p, max_iter=2),
    "LBFGS": lambda p: optim.LBFGS(p, max_iter=3, history_size=4),
    "LBFGS strong_wolfe": lambda p: optim.LBFGS(p, max_iter=3, history_size=4, line_search_fn="strong_wolfe"),
}
RESIDUAL = ("GaussNewton", "LevenbergMarquardt")
NO_BACKWARD = ("Newton",) + RESIDUAL


def _model():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 1, dtype=np.float64))


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


def _weights(model):
    return [p.data.copy() for p in model.parameters()]


def to_numpy(obj):
    """state_dict → only NumPy arrays (and strings/None): what a file format would keep."""
    if isinstance(obj, dict):
        return {k: to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_numpy(v) for v in obj]
    if obj is None or isinstance(obj, str):
        return obj
    return np.array(obj, copy=True)


def _run(name, n_before, n_after, via=None):
    model = _model()
    opt = OPTIMIZERS[name](list(model.parameters()))
    cl = _closure(name, model, opt)
    for _ in range(n_before):
        opt.step(cl)
    if via is None:
        for _ in range(n_after):
            opt.step(cl)
        return _weights(model)
    sd = via(opt.state_dict())
    model2 = _model()
    for p2, p in zip(model2.parameters(), model.parameters()):
        p2.data[...] = p.data
    opt2 = OPTIMIZERS[name](list(model2.parameters()))
    opt2.load_state_dict(sd)
    cl2 = _closure(name, model2, opt2)
    for _ in range(n_after):
        opt2.step(cl2)
    return _weights(model2)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_state_dict_round_trip_resumes_bitwise(name):
    # spec: OPT-SGD, OPT-ADAM, OPT-RPROP, OPT-QUICKPROP, OPT-LBFGS, OPT-LM, OPT-CG, OPT-NEWTON (state_dict round trip)
    ref = _run(name, 4, 4)
    start = _run(name, 4, 0)
    assert any(not np.array_equal(a, b) for a, b in zip(ref, start)), "no progress: the test could not fail"
    got = _run(name, 4, 4, via=to_numpy)
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(a, b)


def test_state_dict_is_a_copy():
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    cl = _closure("Adam", model, opt)
    opt.step(cl)
    sd = opt.state_dict()
    m = sd["state"][0]["exp_avg"].copy()
    opt.step(cl)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], m)
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3]


def test_round_trip_through_a_checkpoint_file(tmp_path):
    io = pytest.importorskip("chainrule.io")
    if not hasattr(io, "save"):
        pytest.skip("chainrule.io.save not available")
    for name in ("Adam", "LBFGS strong_wolfe", "Rprop irprop+", "LevenbergMarquardt"):
        path = tmp_path / f"{name.replace(' ', '_')}.npz"

        def via(sd, path=path):
            io.save(sd, path)
            return io.load(path)

        for a, b in zip(_run(name, 3, 3), _run(name, 3, 3, via=via)):
            np.testing.assert_array_equal(a, b)


def test_load_state_dict_rejects_a_different_model():
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    other = optim.SGD([{"params": list(model.parameters())[:2]}, {"params": list(model.parameters())[2:]}], lr=0.1)
    with pytest.raises(ValueError, match="parameter groups"):
        other.load_state_dict(sd)
    fewer = optim.SGD(list(model.parameters())[:3], lr=0.1)
    with pytest.raises(ValueError, match="different model"):
        fewer.load_state_dict(sd)
