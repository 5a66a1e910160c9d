"""Full and truncated BPTT training loops, gradient clipping by norm and by value.

spec: RNN-BPTT, RNN-ELMAN, RNN-LSTM
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import torch_or_skip

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_, get_total_norm
from chainrule.train.bptt import StepwiseHead, bptt_step, detach_state, truncated_bptt


def _t(a, rg=False):
    return cr.Tensor(np.array(a, dtype=np.float64), requires_grad=rg)


# ------------------------------------------------------------------------------- clipping
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, np.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_equals_torch(norm_type, max_norm):
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    gs = [rng.standard_normal(s) for s in ((3, 4), (5,), (2, 2, 2))]
    ps = [cr.Tensor(np.zeros(g.shape), requires_grad=True) for g in gs]
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for p, tp, g in zip(ps, tps, gs):
        p.grad = cr.Tensor(g.copy())
        tp.grad = torch.tensor(g)
    total = clip_grad_norm_(ps, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    assert abs(float(total.data) - float(ttotal)) < 1e-12 * max(1.0, float(ttotal))
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-12, atol=1e-15)
    clipped = get_total_norm([p.grad for p in ps], norm_type)
    assert clipped <= max_norm + 1e-9
    if max_norm == 0.5:                                     # clipping happened and kept the direction
        assert clipped > 0.5 - 1e-5
        np.testing.assert_allclose(ps[0].grad.data / ps[0].grad.data[0, 0], gs[0] / gs[0][0, 0], rtol=1e-12)
    else:
        np.testing.assert_array_equal(ps[0].grad.data, gs[0])


def test_clip_grad_value_equals_torch_and_does_not_alias():
    torch = torch_or_skip()
    g = np.random.default_rng(1).standard_normal((4, 5)) * 3
    p = cr.Tensor(np.zeros((4, 5)), requires_grad=True)
    shared = cr.Tensor(g)
    p.grad = shared
    tp = torch.zeros((4, 5), dtype=torch.float64, requires_grad=True)
    tp.grad = torch.tensor(g)
    clip_grad_value_([p], 1.0)
    torch.nn.utils.clip_grad_value_([tp], 1.0)
    np.testing.assert_array_equal(p.grad.data, tp.grad.numpy())
    assert np.abs(p.grad.data).max() == 1.0
    np.testing.assert_array_equal(shared.data, g)            # out of place: other holders unaffected
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_([p], -1)


def test_clip_nonfinite_error():
    p = cr.Tensor(np.zeros(3), requires_grad=True)
    p.grad = cr.Tensor(np.array([1.0, np.inf, 0.0]))
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


# ------------------------------------------------------------------------------- BPTT loops
class _Recorder(optim.Optimizer):
    """lr = 0 optimizer that records the gradients it is given (parameters stay fixed)."""

    def __init__(self, params):
        super().__init__(params, {})
        self.seen = []

    def step(self, closure=None):
        self.seen.append([p.grad.data.copy() for g in self.param_groups for p in g["params"]])


def _model(seed=0, kind=nn.LSTM):
    rnn = kind(3, 5, dtype=np.float64, generator=cr.Generator(seed))
    head = nn.Linear(5, 2, dtype=np.float64, generator=cr.Generator(seed + 1))
    return StepwiseHead(rnn, head)


def _mse_sum(y, t):
    return nn.functional.mse_loss(y, t, reduction="sum")


@pytest.mark.parametrize("k1,k2", [(2, 2), (2, 4), (3, 5), (4, 4)])
def test_truncated_bptt_gradients_equal_explicit_windows(k1, k2):
    """spec: RNN-BPTT — TBPTT(k1, k2): update e uses the loss of outputs [e − k1, e) and backpropagates
    through [e − k2, e) from the detached state at e − k2; checked against an explicit re-computation
    (the state before the window from a no-grad run, then forward/backward over the window)."""
    T = 9
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((T, 2, 3)), rng.standard_normal((T, 2, 2))
    model = _model()
    rec = _Recorder(model.parameters())
    res = truncated_bptt(model, _t(x), _t(y), _mse_sum, rec, k1=k1, k2=k2)
    ends = list(range(k1, T, k1)) + [T]
    assert len(rec.seen) == len(ends) == len(res.losses)
    for grads, e in zip(rec.seen, ends):
        e0 = ends[ends.index(e) - 1] if e != ends[0] else 0
        s = max(0, e - k2)
        with cr.no_grad():
            st = model(_t(x[:s]), None)[1] if s > 0 else None
        for p in model.parameters():
            p.grad = None
        out, _ = model(_t(x[s:e]), detach_state(st))
        _mse_sum(out[e0 - s:], _t(y[e0:e])).backward()
        for g, p in zip(grads, model.parameters()):
            np.testing.assert_allclose(g, p.grad.data, rtol=1e-10, atol=1e-13)
    with cr.no_grad():
        final = model(_t(x), None)[1]
    np.testing.assert_allclose(res.state[0].data, final[0].data, rtol=1e-12)


def test_truncation_differs_from_full_bptt_and_full_equals_bptt_step():
    """The truncation is real: with k1 = k2 = 2 the first parameters' gradient of the last window is not the
    full-BPTT gradient; with k1 = k2 = T it is one full-BPTT step (= bptt_step)."""
    T = 8
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((T, 2, 3)), rng.standard_normal((T, 2, 2))
    m1, m2, m3 = _model(3, nn.GRU), _model(3, nn.GRU), _model(3, nn.GRU)
    o1 = optim.SGD(m1.parameters(), lr=0.1)
    o2 = optim.SGD(m2.parameters(), lr=0.1)
    truncated_bptt(m1, _t(x), _t(y), _mse_sum, o1, k1=T)
    loss, st = bptt_step(m2, _t(x), _t(y), _mse_sum, o2)
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-13)
    rec = _Recorder(m3.parameters())
    truncated_bptt(m3, _t(x), _t(y), _mse_sum, rec, k1=T)
    full = rec.seen[0]
    rec.seen.clear()
    truncated_bptt(m3, _t(x), _t(y), _mse_sum, rec, k1=2)
    trunc_total = [sum(gs[i] for gs in rec.seen) for i in range(len(full))]
    assert not np.allclose(trunc_total[1], full[1], rtol=1e-3)   # W_hh: long-range terms dropped


def test_tbptt_with_clipping_limits_every_update():
    """clip_norm caps the global gradient norm of every update (SGD step length ≤ lr·max_norm)."""
    T = 12
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((T, 4, 3)) * 5, rng.standard_normal((T, 4, 2)) * 10
    model = _model(5, nn.RNN)
    lr, mx = 0.01, 0.1
    o = optim.SGD(model.parameters(), lr=lr)
    before = [p.data.copy() for p in model.parameters()]
    res = truncated_bptt(model, _t(x), _t(y), _mse_sum, o, k1=T, clip_norm=mx)
    assert res.grad_norms[0] > mx                              # clipping was active
    step = np.sqrt(sum(((p.data - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert step <= lr * mx * (1 + 1e-6)
    assert step >= lr * mx * 0.999
    m2 = _model(5, nn.RNN)
    o2 = optim.SGD(m2.parameters(), lr=lr)
    truncated_bptt(m2, _t(x), _t(y), _mse_sum, o2, k1=T, clip_value=1e-3)
    step2 = max(np.abs(p.data - b).max() for p, b in zip(m2.parameters(), before))
    assert step2 <= lr * 1e-3 * (1 + 1e-9)


def test_tbptt_errors_and_state_carry():
    model = _model()
    o = optim.SGD(model.parameters(), lr=0.0)
    x, y = _t(np.zeros((6, 1, 3))), _t(np.zeros((6, 1, 2)))
    with pytest.raises(ValueError, match="k2"):
        truncated_bptt(model, x, y, _mse_sum, o, k1=3, k2=2)
    with pytest.raises(ValueError, match="k1"):
        truncated_bptt(model, x, y, _mse_sum, o, k1=0)
    with pytest.raises(ValueError, match="time steps"):
        truncated_bptt(model, x, _t(np.zeros((5, 1, 2))), _mse_sum, o, k1=2)
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((10, 1, 3))
    r1 = truncated_bptt(model, _t(xs[:4]), y[:4], _mse_sum, o, k1=2)
    r2 = truncated_bptt(model, _t(xs[4:]), y[:6], _mse_sum, o, k1=2, state=r1.state)
    with cr.no_grad():
        ref = model(_t(xs), None)[1]
    np.testing.assert_allclose(r2.state[1].data, ref[1].data, rtol=1e-12)


# ------------------------------------------------------------------------------- spec trainings
def _echo_data(rng, T=20, N=32):
    X = (rng.random((T, N, 1)) < 0.5).astype(np.float32)
    Y = np.zeros_like(X)
    Y[1:] = X[:-1]
    return X, Y


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid"])
def test_echo_task_elman(nonlinearity):
    """spec: RNN-ELMAN check (b) — echo Y_t = X_{t−1} (binary, T = 20, H = 8, batch 32, Adam 1e−2,
    500 steps): accuracy (t ≥ 2) ≥ 0.99 for tanh and sigmoid."""
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    model = StepwiseHead(nn.RNN(1, 8, nonlinearity=nonlinearity, generator=cr.Generator(0)),
                         nn.Linear(8, 1, generator=cr.Generator(1)))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    bce = nn.functional.binary_cross_entropy_with_logits
    for _ in range(500):
        X, Y = _echo_data(rng)
        bptt_step(model, cr.Tensor(X), cr.Tensor(Y), bce, opt)
    X, Y = _echo_data(np.random.default_rng(99), N=500)
    with cr.no_grad():
        z, _ = model(cr.Tensor(X))
    acc = ((z.data[1:] > 0) == (Y[1:] > 0.5)).mean()
    assert acc >= 0.99, acc


def _recall_data(rng, T=10, N=32):
    X = np.zeros((T, N, 2), np.float32)
    bit = (rng.random(N) < 0.5).astype(np.float32)
    X[0, :, 0] = bit
    X[0, :, 1] = 1.0                                           # start flag
    return X, bit


def test_lstm_recall_first_bit():
    """spec: RNN-LSTM — recall-first-bit: (bit, start flag) at t = 1, zeros after, T = 10, H = 16,
    forget_bias 1, batch 32, Adam 1e−2, 1500 steps: accuracy ≥ 0.99 on 1000 fresh sequences."""
    rng = np.random.default_rng(0)
    lstm = nn.LSTM(2, 16, forget_bias=1.0, generator=cr.Generator(0))
    head = nn.Linear(16, 1, generator=cr.Generator(1))
    opt = optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-2)
    for _ in range(1500):
        X, bit = _recall_data(rng)
        opt.zero_grad()
        _, (h, _) = lstm(cr.Tensor(X))
        loss = nn.functional.binary_cross_entropy_with_logits(head(h[0])[:, 0], cr.Tensor(bit))
        loss.backward()
        opt.step()
    X, bit = _recall_data(np.random.default_rng(123), N=1000)
    with cr.no_grad():
        _, (h, _) = lstm(cr.Tensor(X))
        acc = ((head(h[0]).data[:, 0] > 0) == (bit > 0.5)).mean()
    assert acc >= 0.99, acc
