"""Learning-rate schedules: PyTorch's values epoch by epoch, the spec's MultiStepLR check, batch scaling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import torch_or_skip

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as lrs

torch = torch_or_skip()


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny tensors: torch's thread pool only adds contention on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _pair(lr=0.1, groups=2):
    ps = [cr.Tensor(np.ones(2), requires_grad=True) for _ in range(groups)]
    ts = [torch.ones(2, requires_grad=True) for _ in range(groups)]
    opt = optim.SGD([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(ps)], lr=lr)
    opt_t = torch.optim.SGD([{"params": [t], "lr": lr * (i + 1)} for i, t in enumerate(ts)], lr=lr)
    return opt, opt_t


CASES = {
    "StepLR": (lambda o: lrs.StepLR(o, step_size=7, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5)),
    "MultiStepLR": (lambda o: lrs.MultiStepLR(o, [5, 12, 12, 30], 0.3),
                    lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [5, 12, 12, 30], 0.3)),
    "ExponentialLR": (lambda o: lrs.ExponentialLR(o, 0.93), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.93)),
    "CosineAnnealingLR": (lambda o: lrs.CosineAnnealingLR(o, T_max=17, eta_min=1e-3),
                          lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=17, eta_min=1e-3)),
    "CosineAnnealingWarmRestarts": (lambda o: lrs.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=1e-4),
                                    lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 5, 2, 1e-4)),
    "LinearLR": (lambda o: lrs.LinearLR(o, start_factor=0.05, total_iters=8),
                 lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.05, total_iters=8)),
    "ConstantLR": (lambda o: lrs.ConstantLR(o, factor=0.5, total_iters=4),
                   lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=4)),
    "PolynomialLR": (lambda o: lrs.PolynomialLR(o, total_iters=20, power=2.0),
                     lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=20, power=2.0)),
    "LambdaLR": (lambda o: lrs.LambdaLR(o, lambda e: 1 / (1 + 0.1 * e)),
                 lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + 0.1 * e))),
    "MultiplicativeLR": (lambda o: lrs.MultiplicativeLR(o, lambda e: 0.95),
                         lambda o: torch.optim.lr_scheduler.MultiplicativeLR(o, lambda e: 0.95)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_schedule_matches_torch(name):
    # spec: OPT-LR-SCHEDULE  (per-group rates scheduled independently)
    opt, opt_t = _pair()
    mk, mk_t = CASES[name]
    s, s_t = mk(opt), mk_t(opt_t)
    seen = set()
    for e in range(60):
        np.testing.assert_allclose(s.get_last_lr(), s_t.get_last_lr(), rtol=1e-12, atol=1e-15, err_msg=f"epoch {e}")
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [g["lr"] for g in opt_t.param_groups],
                                   rtol=1e-12, atol=1e-15)
        seen.add(round(opt.param_groups[0]["lr"], 12))
        opt.step()
        opt_t.step()
        s.step()
        s_t.step()
    assert len(seen) > 1


def test_sequential_warmup_then_cosine_matches_torch():
    # spec: OPT-LR-SCHEDULE  linear warm-up then cosine annealing
    opt, opt_t = _pair()
    s = lrs.warmup_cosine(opt, warmup_epochs=5, total_epochs=30, eta_min=1e-4, start_factor=0.1)
    T = torch.optim.lr_scheduler
    s_t = T.SequentialLR(opt_t, [T.LinearLR(opt_t, 0.1, 1.0, total_iters=5), T.CosineAnnealingLR(opt_t, 25, 1e-4)],
                         milestones=[5])
    for e in range(40):
        np.testing.assert_allclose(s.get_last_lr(), s_t.get_last_lr(), rtol=1e-12, err_msg=f"epoch {e}")
        opt.step()
        opt_t.step()
        s.step()
        s_t.step()


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", threshold_mode="abs", threshold=0.01, cooldown=2, patience=1,
                                              factor=0.5, min_lr=[0.02, 0.0])])
def test_reduce_on_plateau_matches_torch(kw):
    # spec: OPT-LR-SCHEDULE
    opt, opt_t = _pair()
    s, s_t = lrs.ReduceLROnPlateau(opt, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, **kw)
    rng = np.random.default_rng(0)
    metric = 1.0
    changed = False
    for e in range(80):
        metric = metric * (0.97 if e < 15 else 1.0) + 0.002 * rng.standard_normal()
        s.step(metric)
        s_t.step(metric)
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [g["lr"] for g in opt_t.param_groups],
                                   rtol=1e-12, err_msg=f"epoch {e}")
        changed |= opt.param_groups[0]["lr"] != 0.1
    assert changed


def test_multistep_densenet_recipe():
    # spec: OPT-LR-SCHEDULE  MultiStepLR([150], 0.1) from 0.1: 0.1 for epochs 0–149, 0.01 from 150; groups independent
    p, q = cr.Tensor(np.ones(1), requires_grad=True), cr.Tensor(np.ones(1), requires_grad=True)
    opt = optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1)
    s = lrs.MultiStepLR(opt, [150], 0.1)
    for e in range(200):
        lr0, lr1 = (g["lr"] for g in opt.param_groups)
        assert lr0 == pytest.approx(0.1 if e < 150 else 0.01, rel=1e-15)
        assert lr1 == pytest.approx(0.5 if e < 150 else 0.05, rel=1e-15)
        s.step()


def test_schedules_drive_the_optimizer_and_per_weight_rates():
    # spec: OPT-LR-SCHEDULE, OPT-PER-PARAM-LR  a per-weight lr array is scaled elementwise
    w = cr.Tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([w], lr=np.array([1.0, 0.5]))
    s = lrs.ExponentialLR(opt, 0.5)
    for _ in range(3):
        opt.zero_grad()
        (w * cr.Tensor(np.array([-1.0, -1.0]))).sum().backward()
        opt.step()
        s.step()
    np.testing.assert_allclose(w.data, np.array([1.0, 0.5]) * (1 + 0.5 + 0.25))
    np.testing.assert_allclose(opt.param_groups[0]["lr"], np.array([1.0, 0.5]) / 8)


def test_inverse_time_and_scale_lr():
    # spec: OPT-LR-SCHEDULE  η₀/(1 + ke)^p; scale_lr(lr, b_old, b_new) = lr·b_new/b_old (REG-SGD-TEMPERATURE: η/b fixed)
    w = cr.Tensor(np.zeros(1), requires_grad=True)
    opt = optim.SGD([w], lr=0.2)
    s = lrs.InverseTimeLR(opt, decay=0.5, power=1.0)
    for e in range(10):
        assert opt.param_groups[0]["lr"] == pytest.approx(0.2 / (1 + 0.5 * e))
        s.step()
    assert lrs.scale_lr(0.1, 32, 256) == pytest.approx(0.8)
    assert lrs.scale_lr(0.1, 32, 128, rule="sqrt") == pytest.approx(0.2)
    assert lrs.scale_lr(0.1, 32, 64) / (2 * 64) == pytest.approx(0.1 / (2 * 32))
    with pytest.raises(ValueError, match="batch sizes"):
        lrs.scale_lr(0.1, 0, 4)


def test_scheduler_state_dict_round_trip():
    def make():
        w = cr.Tensor(np.zeros(1), requires_grad=True)
        opt = optim.SGD([w], lr=0.1)
        return opt, lrs.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
    opt, s = make()
    for _ in range(7):
        s.step()
    sd, osd = s.state_dict(), opt.state_dict()
    opt2, s2 = make()
    opt2.load_state_dict(osd)
    s2.load_state_dict(sd)
    for _ in range(10):
        s.step()
        s2.step()
        assert s.get_last_lr() == s2.get_last_lr()
    lam = lrs.LambdaLR(opt, lambda e: 0.9 ** e)
    assert "lr_lambdas" not in lam.state_dict()


def test_scheduler_errors():
    w = cr.Tensor(np.zeros(1), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        lrs.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="gamma"):
        lrs.ExponentialLR(opt, gamma=0)
    with pytest.raises(ValueError, match="milestones"):
        lrs.MultiStepLR(opt, [-1])
    with pytest.raises(ValueError, match="T_max"):
        lrs.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="factor"):
        lrs.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(TypeError, match="Optimizer"):
        lrs.StepLR(object(), 3)
    assert math.isfinite(opt.param_groups[0]["lr"])


# ----------------------------------------------------------------------------- ChainedScheduler
_T = torch.optim.lr_scheduler
CHAINS = {
    "ConstantLR + ExponentialLR": (
        lambda o: [lrs.ConstantLR(o, factor=0.1, total_iters=7), lrs.ExponentialLR(o, 0.9)],
        lambda o: [_T.ConstantLR(o, factor=0.1, total_iters=7), _T.ExponentialLR(o, 0.9)]),
    "LinearLR + StepLR": (
        lambda o: [lrs.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6), lrs.StepLR(o, 4, 0.5)],
        lambda o: [_T.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6), _T.StepLR(o, 4, 0.5)]),
    "MultiStepLR + PolynomialLR + MultiplicativeLR": (
        lambda o: [lrs.MultiStepLR(o, [3, 8, 8], 0.5), lrs.PolynomialLR(o, total_iters=15, power=1.5),
                   lrs.MultiplicativeLR(o, lambda e: 0.97)],
        lambda o: [_T.MultiStepLR(o, [3, 8, 8], 0.5), _T.PolynomialLR(o, total_iters=15, power=1.5),
                   _T.MultiplicativeLR(o, lambda e: 0.97)]),
    "LinearLR + CosineAnnealingLR": (  # cosine scales η − η_min, and restarts beyond T_max
        lambda o: [lrs.LinearLR(o, start_factor=0.5, total_iters=4), lrs.CosineAnnealingLR(o, T_max=6, eta_min=1e-3)],
        lambda o: [_T.LinearLR(o, start_factor=0.5, total_iters=4), _T.CosineAnnealingLR(o, T_max=6, eta_min=1e-3)]),
    "ExponentialLR + LambdaLR": (  # LambdaLR sets its closed form: what comes before it is overwritten
        lambda o: [lrs.ExponentialLR(o, 0.8), lrs.LambdaLR(o, lambda e: 1 / (1 + e))],
        lambda o: [_T.ExponentialLR(o, 0.8), _T.LambdaLR(o, lambda e: 1 / (1 + e))]),
    "CosineAnnealingWarmRestarts + ConstantLR": (
        lambda o: [lrs.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2), lrs.ConstantLR(o, factor=0.5, total_iters=3)],
        lambda o: [_T.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2), _T.ConstantLR(o, factor=0.5, total_iters=3)]),
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_chained_scheduler_matches_torch(name):
    # spec: OPT-LR-SCHEDULE  several schedules stepped together compose (PyTorch's ChainedScheduler), two groups
    opt, opt_t = _pair(lr=0.05)
    mk, mk_t = CHAINS[name]
    s = lrs.ChainedScheduler(mk(opt))
    s_t = _T.ChainedScheduler(mk_t(opt_t), optimizer=opt_t)
    seen = []
    for e in range(21):
        np.testing.assert_allclose(s.get_last_lr(), s_t.get_last_lr(), rtol=1e-12, atol=0, err_msg=f"epoch {e}")
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [g["lr"] for g in opt_t.param_groups],
                                   rtol=1e-12, atol=0, err_msg=f"epoch {e}")
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        opt_t.step()
        s.step()
        s_t.step()
    assert len({round(v, 14) for v in seen}) > 5


def test_chained_scheduler_closed_form_and_state_dict():
    # spec: OPT-LR-SCHEDULE  η_e = η₀·Π f_s(e); state_dict covers every scheduler
    def make():
        w = cr.Tensor(np.zeros(1), requires_grad=True)
        opt = optim.SGD([w], lr=np.array([0.05, 0.1]))  # per-weight rates are scaled elementwise
        return opt, lrs.ChainedScheduler([lrs.ConstantLR(opt, factor=0.1, total_iters=20),
                                          lrs.ExponentialLR(opt, gamma=0.9)])
    opt, s = make()
    for e in range(25):
        want = np.array([0.05, 0.1]) * (0.1 if e < 20 else 1.0) * 0.9 ** e
        np.testing.assert_allclose(opt.param_groups[0]["lr"], want, rtol=1e-12)
        s.step()
    opt, s = make()
    for _ in range(15):
        s.step()
    sd, osd = s.state_dict(), opt.state_dict()
    assert [d["last_epoch"] for d in sd["_schedulers"]] == [15, 15]
    opt2, s2 = make()
    opt2.load_state_dict(osd)
    s2.load_state_dict(sd)
    for _ in range(10):
        s.step()
        s2.step()
        np.testing.assert_array_equal(s.get_last_lr()[0], s2.get_last_lr()[0])
    np.testing.assert_allclose(s2.get_last_lr()[0], np.array([0.05, 0.1]) * 0.9 ** 25, rtol=1e-12)


def test_chained_scheduler_errors():
    w = cr.Tensor(np.zeros(1), requires_grad=True)
    opt, other = optim.SGD([w], lr=0.1), optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="at least one"):
        lrs.ChainedScheduler([])
    with pytest.raises(ValueError, match="same optimizer"):
        lrs.ChainedScheduler([lrs.StepLR(opt, 3), lrs.StepLR(other, 3)])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lrs.ChainedScheduler([lrs.StepLR(opt, 3), lrs.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="SequentialLR"):
        lrs.ChainedScheduler([lrs.warmup_cosine(opt, 2, 10)])
    with pytest.raises(TypeError, match="schedulers"):
        lrs.ChainedScheduler([lrs.StepLR(opt, 3), object()], optimizer=opt)
