"""Weight penalties, weight decay (coupled / decoupled), parameter selection, constraints.

spec: REG-PENALTY, REG-L2, REG-L1, REG-LP-PENALTY, REG-L2-WEIGHT-DECAY, REG-CAUCHY, REG-WEIGHT-ELIM,
LOSS-MAP-L2, OPT-ADAMW
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
from helpers import compare_with_torch, t64

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.optim import SGD, Adam
from chainrule.regularize import (
    MaxNorm,
    Penalty,
    add_penalty_grads,
    cauchy_penalty,
    decoupled_weight_decay_,
    l1_penalty,
    l1_proximal_,
    l2_penalty,
    lp_penalty,
    max_norm_,
    param_groups,
    penalty_loss,
    select_parameters,
    weight_elimination_penalty,
)


def _mlp(seed=0):
    g = cr.Generator(seed)
    return nn.Sequential(nn.Linear(4, 6, dtype=np.float64, generator=g), nn.Tanh(),
                         nn.Linear(6, 3, dtype=np.float64, generator=g))


def _data(seed=1, n=16):
    rng = np.random.default_rng(seed)
    return cr.Tensor(rng.standard_normal((n, 4))), cr.Tensor(rng.standard_normal((n, 3)))


# --------------------------------------------------------------------------- REG-L2-WEIGHT-DECAY
def test_weight_decay_computed_example_093():
    # spec: REG-L2-WEIGHT-DECAY  w = 1, ε = 0.1, α = 0.2, ∇J = 0.5 → (1 − εα)w − ε∇J = 0.93
    for mode in ("optimizer", "penalty"):
        w = nn.Parameter(np.array([1.0]))
        opt = SGD([w], lr=0.1, weight_decay=0.2 if mode == "optimizer" else 0.0)
        loss = (w * 0.5).sum()
        if mode == "penalty":
            loss = loss + 0.2 * l2_penalty([w])
        loss.backward()
        opt.step()
        assert w.data[0] == pytest.approx(0.93, abs=1e-15)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_weight_decay_equals_explicit_penalty(momentum):
    # spec: REG-L2-WEIGHT-DECAY, REG-L2  SGD(weight_decay=α) = explicit penalty (α/2)‖w‖², to 1e-12
    X, Y = _data()
    a, b = _mlp(), _mlp()
    oa = SGD(a.parameters(), lr=0.05, momentum=momentum, weight_decay=0.3)
    ob = SGD(b.parameters(), lr=0.05, momentum=momentum)
    for _ in range(10):
        for m, o, pen in ((a, oa, False), (b, ob, True)):
            o.zero_grad()
            loss = F.mse_loss(m(X), Y)
            if pen:
                loss = loss + 0.3 * l2_penalty(m.parameters())
            loss.backward()
            o.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.data, pb.data, rtol=0, atol=1e-12)
    # the decay did something: a run without it ends elsewhere
    c = _mlp()
    oc = SGD(c.parameters(), lr=0.05, momentum=momentum)
    for _ in range(10):
        oc.zero_grad()
        F.mse_loss(c(X), Y).backward()
        oc.step()
    assert max(np.abs(pa.data - pc.data).max() for pa, pc in zip(a.parameters(), c.parameters())) > 1e-3


def test_lp_penalty_weight_decay_lambda_over_n_and_biases_untouched():
    # spec: REG-LP-PENALTY  C = (1/n)Σc + (λ/2n)Σw²: weight_decay = λ/n on weights only = explicit penalty
    X, Y = _data(n=20)
    lam, n = 2.0, 20
    a, b = _mlp(), _mlp()
    oa = SGD(param_groups(a, lam / n), lr=0.1)
    ob = SGD(b.parameters(), lr=0.1)
    for _ in range(5):
        oa.zero_grad()
        F.mse_loss(a(X), Y).backward()
        oa.step()
        ob.zero_grad()
        (F.mse_loss(b(X), Y) + (lam / n) * l2_penalty(b)).backward()
        ob.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.data, pb.data, rtol=0, atol=1e-12)
    # biases untouched by the penalty: its gradient w.r.t. every bias is zero
    m = _mlp()
    l2_penalty(m).backward()
    assert m[0].bias.grad is None and m[2].bias.grad is None
    np.testing.assert_allclose(m[0].weight.grad.data, m[0].weight.data)


def test_pure_decay_factor_and_ridge_geometry():
    # spec: REG-L2  100 pure-decay steps with ηλ = 0.01 shrink by 0.99^100; quadratic model at a minimum:
    # w̃ = (H + λI)⁻¹Hw₀ = Q diag(λᵢ/(λᵢ + λ))Qᵀw₀
    w = nn.Parameter(np.array([1.0, -2.0, 0.5]))
    opt = SGD([w], lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        (0.1 * l2_penalty([w])).backward()
        opt.step()
    np.testing.assert_allclose(w.data, np.array([1.0, -2.0, 0.5]) * 0.3660323412732292, rtol=1e-13)
    v = nn.Parameter(np.array([1.0, -2.0, 0.5]))
    for _ in range(100):
        decoupled_weight_decay_([v], lr=0.1, weight_decay=0.1)
    np.testing.assert_allclose(v.data, w.data, rtol=1e-13)

    H = np.array([[4, 1.8, 0], [1.8, 1, 0.2], [0, 0.2, 2]])
    w0 = np.array([1, 0.5, -0.3])
    lam = 0.5
    expected = np.array([0.9213496219, 0.4188481675, -0.2335078534])
    np.testing.assert_allclose(np.linalg.solve(H + lam * np.eye(3), H @ w0), expected, atol=1e-10)
    ev, Q = np.linalg.eigh(H)
    np.testing.assert_allclose(Q @ np.diag(ev / (ev + lam)) @ Q.T @ w0, expected, atol=1e-10)
    # minimising ½(w − w₀)ᵀH(w − w₀) + λ·l2_penalty with the engine reaches the same point
    p = nn.Parameter(w0.copy())
    Ht, w0t = cr.Tensor(H), cr.Tensor(w0)
    opt = SGD([p], lr=0.2, momentum=0.5)
    for _ in range(400):
        opt.zero_grad()
        d = p - w0t
        (0.5 * (d * (Ht @ d)).sum() + lam * l2_penalty([p])).backward()
        opt.step()
    np.testing.assert_allclose(p.data, expected, atol=1e-9)


# --------------------------------------------------------------------------- decoupled vs coupled
def _quad_grad(w):
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    return A @ w - b


def test_decoupled_decay_sgd_identical_adam_different_and_adamw_table():
    # spec: REG-L2, OPT-ADAMW  decoupled decay = L2 for SGD; for Adam it is AdamW (Table O) ≠ Adam(wd)
    A = cr.Tensor(np.array([[3.0, 1.0], [1.0, 2.0]]))
    b = cr.Tensor(np.array([1.0, -1.0]))

    def q(w):
        return 0.5 * (w * (A @ w)).sum() - (b * w).sum()

    def run(opt_cls, steps, decoupled, **kw):
        w = nn.Parameter(np.array([1.0, 1.0]))
        opt = opt_cls([w], **kw)
        for _ in range(steps):
            opt.zero_grad()
            q(w).backward()
            if decoupled:
                decoupled_weight_decay_([w], lr=kw["lr"], weight_decay=decoupled)
            opt.step()
        return w.data.copy()

    # SGD: identical (Table O: SGD Q lr .1 weight_decay .1 → (0.69, 0.59) after one step)
    s1 = run(SGD, 1, 0.1, lr=0.1)
    np.testing.assert_allclose(s1, [0.69, 0.59], atol=1e-15)
    np.testing.assert_allclose(run(SGD, 50, 0.1, lr=0.1), run(SGD, 50, 0, lr=0.1, weight_decay=0.1), atol=1e-12)
    np.testing.assert_allclose(run(SGD, 50, 0.1, lr=0.1), [0.562396701408, -0.743750958764], rtol=1e-10)
    # Adam + decoupled decay = AdamW, Table O: Q lr .1 wd .1
    np.testing.assert_allclose(run(Adam, 1, 0.1, lr=0.1), [0.890000000333, 0.89000000025], rtol=1e-10)
    aw = run(Adam, 50, 0.1, lr=0.1)
    np.testing.assert_allclose(aw, [0.556933214039, -0.808500801566], rtol=1e-10)
    coupled = run(Adam, 50, 0, lr=0.1, weight_decay=0.1)
    assert np.abs(aw - coupled).max() > 1e-2


# --------------------------------------------------------------------------- L1 / Lp / Cauchy / Weigend
def test_l1_gradient_is_lambda_sign_and_zero_at_zero():
    # spec: REG-L1
    w = t64([0.7, -0.2, 0.0, 3.0])
    (0.3 * l1_penalty([w])).backward()
    np.testing.assert_array_equal(w.grad.data, 0.3 * np.array([1.0, -1.0, 0.0, 1.0]))


def test_l1_proximal_step():
    # spec: REG-L1  proximal step on (0.3, −0.05) with ηλ = 0.1 → (0.2, 0)
    w = nn.Parameter(np.array([0.3, -0.05]))
    l1_proximal_([w], 0.1)
    np.testing.assert_allclose(w.data, [0.2, 0.0], atol=1e-16)
    assert w.data[1] == 0.0


@pytest.mark.parametrize("p", [1.5, 2.0, 3.0])
def test_lp_penalty_gradcheck_and_torch(p):
    # spec: REG-LP-PENALTY  Σ|w|^p gradient = FD for p ∈ {1.5, 2, 3}
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (3, 4))
    b = rng.uniform(-1, 1, 5)
    cr.gradcheck(lambda x, y: lp_penalty([x, y], p), [t64(a), t64(b)])
    cr.gradgradcheck(lambda x, y: lp_penalty([x, y], p), [t64(a), t64(b)])
    compare_with_torch(lambda x, y: lp_penalty([x, y], p),
                       lambda x, y: x.abs().pow(p).sum() + y.abs().pow(p).sum(), [a, b])
    w = t64(a)
    lp_penalty([w], p).backward()
    np.testing.assert_allclose(w.grad.data, p * np.abs(a) ** (p - 1) * np.sign(a), rtol=1e-12)


def test_lp_penalty_small_p_subgradient_finite():
    # spec: REG-LP-PENALTY  p < 1: subgradient 0 at w = 0 (no inf/nan)
    w = t64([0.0, 0.25, -4.0])
    v = lp_penalty([w], 0.5)
    assert v.item() == pytest.approx(0.5 + 2.0)
    v.backward()
    np.testing.assert_allclose(w.grad.data, [0.0, 0.5 * 0.25 ** -0.5, -0.5 * 4.0 ** -0.5])
    with pytest.raises(ValueError, match="p > 0"):
        lp_penalty([w], 0)


def test_cauchy_penalty():
    # spec: REG-CAUCHY  Ω(10e₁) = log 101, ∇Ω = 2w/(1 + wᵀw), gradcheck
    e = t64([10.0, 0.0, 0.0])
    assert cauchy_penalty([e]).item() == pytest.approx(math.log(101), rel=1e-15)
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(4)
    cr.gradcheck(lambda x, y: cauchy_penalty([x, y]), [t64(a), t64(b)])
    cr.gradgradcheck(lambda x, y: cauchy_penalty([x, y]), [t64(a), t64(b)])
    compare_with_torch(lambda x, y: cauchy_penalty([x, y]),
                       lambda x, y: ((x * x).sum() + (y * y).sum()).log1p(), [a, b])
    w = t64(a)
    cauchy_penalty([w]).backward()
    np.testing.assert_allclose(w.grad.data, 2 * a / (1 + (a * a).sum()), rtol=1e-13)
    cr.gradcheck(lambda x: cauchy_penalty([x], per_weight=True), [t64(a)])


def test_weight_elimination():
    # spec: REG-WEIGHT-ELIM  Ω = ½ per weight at |w| = w₀; |∂Ω/∂w| peaks at w₀/√3; gradcheck
    w0 = 0.2
    w = t64([0.2, -0.2])
    assert weight_elimination_penalty([w], w0).item() == pytest.approx(1.0, rel=1e-14)
    grid = np.linspace(1e-4, 1.0, 200001)
    g = t64(grid)
    weight_elimination_penalty([g], w0).backward()
    np.testing.assert_allclose(g.grad.data, (2 * grid / w0 ** 2) / (1 + grid ** 2 / w0 ** 2) ** 2, rtol=1e-12)
    assert grid[np.argmax(np.abs(g.grad.data))] == pytest.approx(w0 / math.sqrt(3), abs=1e-5)
    rng = np.random.default_rng(3)
    a = rng.uniform(-1, 1, (3, 3))
    cr.gradcheck(lambda x: weight_elimination_penalty([x], w0), [t64(a)])
    cr.gradgradcheck(lambda x: weight_elimination_penalty([x], w0), [t64(a)])
    compare_with_torch(lambda x: weight_elimination_penalty([x], w0),
                       lambda x: ((x * x / w0 ** 2) / (1 + x * x / w0 ** 2)).sum(), [a])
    # large weights are barely shrunk, small ones like L2 with strength 1/w0²
    small, large = t64([1e-3]), t64([5.0])
    weight_elimination_penalty([small], w0).backward()
    weight_elimination_penalty([large], w0).backward()
    assert small.grad.item() == pytest.approx(2e-3 / w0 ** 2, rel=1e-4)
    assert abs(large.grad.item()) < 1e-3


# --------------------------------------------------------------------------- REG-PENALTY
def test_add_penalty_grads_equals_autodiff_of_sum_and_balance():
    # spec: REG-PENALTY  fit's gradient = autodiff of R_emp + Σ λΩ; balance: penalty gradient norm λ‖∇R_emp‖
    X, Y = _data()
    a, b = _mlp(), _mlp()
    pens_a = [Penalty("l2", 0.1), Penalty(l1_penalty, 0.05, select=a[0])]  # own λ for the input layer
    pens_b = [Penalty("l2", 0.1), Penalty(l1_penalty, 0.05, select=b[0])]
    (F.mse_loss(a(X), Y) + penalty_loss(a, pens_a)).backward()
    F.mse_loss(b(X), Y).backward()
    add_penalty_grads(b, pens_b)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.grad.data, pb.grad.data, rtol=1e-13, atol=1e-15)

    c = _mlp()
    F.mse_loss(c(X), Y).backward()
    ws = select_parameters(c)
    emp = {id(p): p.grad.data.copy() for p in c.parameters()}
    g_emp = math.sqrt(sum((emp[id(p)] ** 2).sum() for p in ws))
    norms = add_penalty_grads(c, [Penalty("cauchy", 0.7)], balance=True)
    added = math.sqrt(sum(((p.grad.data - emp[id(p)]) ** 2).sum() for p in ws))
    assert added == pytest.approx(0.7 * g_emp, rel=1e-12)
    assert norms[0] == pytest.approx(0.7 * g_emp, rel=1e-12)
    for p in c.parameters():  # biases not selected: unchanged
        if id(p) not in {id(q) for q in ws}:
            np.testing.assert_array_equal(p.grad.data, emp[id(p)])


def test_penalty_by_name_filter_and_errors():
    # spec: REG-PENALTY
    m = _mlp()
    pen = Penalty("weight_elimination", 1.0, select=r"^2\.", w0=0.5)
    assert [p.shape for p in pen.parameters(m)] == [(3, 6), (3,)]
    with pytest.raises(ValueError, match="unknown penalty"):
        Penalty("l3", 1.0)


class LayerNorm(nn.Module):  # a stand-in normalization layer (the class name marks it)
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(np.ones(n))
        self.bias = nn.Parameter(np.zeros(n))

    def forward(self, x):
        return x * self.weight + self.bias


def test_select_parameters_excludes_biases_and_norm_layers():
    # spec: REG-L2-WEIGHT-DECAY  biases and normalization parameters excluded by default
    m = nn.Sequential(OrderedDict(fc1=nn.Linear(3, 4, dtype=np.float64), norm1=LayerNorm(4),
                                  fc2=nn.Linear(4, 2, dtype=np.float64)))
    sel = select_parameters(m)
    assert [id(p) for p in sel] == [id(m[0].weight), id(m[2].weight)]
    assert len(select_parameters(m, include_bias=True, include_norm=True)) == 6
    named = select_parameters(m.named_parameters())
    assert [id(p) for p in named] == [id(m[0].weight), id(m[2].weight)]
    assert len(select_parameters(m.parameters())) == 6  # plain tensors: the caller chose
    groups = param_groups(m, 0.01)
    assert groups[0]["weight_decay"] == 0.01 and len(groups[0]["params"]) == 2
    assert groups[1]["weight_decay"] == 0.0 and len(groups[1]["params"]) == 4
    with pytest.raises(ValueError, match="no parameters"):
        l2_penalty(nn.Sequential(LayerNorm(3)))


def test_map_estimate_is_ridge():
    # spec: LOSS-MAP-L2  (1/m)Σ½(y − f)² + (α/2)‖w‖², α = σ²/(mσ_p²), minimised = the MAP estimate
    rng = np.random.default_rng(5)
    m, d, sigma, sigma_p = 40, 3, 0.5, 0.3
    X = rng.standard_normal((m, d))
    y = X @ np.array([1.0, -2.0, 0.5]) + sigma * rng.standard_normal(m)
    w_map = np.linalg.solve(X.T @ X + (sigma ** 2 / sigma_p ** 2) * np.eye(d), X.T @ y)
    alpha = sigma ** 2 / (m * sigma_p ** 2)
    w = nn.Parameter(np.zeros(d))
    Xt, yt = cr.Tensor(X), cr.Tensor(y)
    opt = SGD([w], lr=0.3, momentum=0.8)
    for _ in range(600):
        opt.zero_grad()
        r = yt - Xt @ w
        (0.5 * (r * r).mean() + alpha * l2_penalty([w])).backward()
        opt.step()
    np.testing.assert_allclose(w.data, w_map, atol=1e-10)


# --------------------------------------------------------------------------- max-norm
def test_max_norm_constraint():
    w = nn.Parameter(np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 10.0]]))
    b = nn.Parameter(np.array([5.0, 5.0]))
    n = max_norm_([w], 2.0)
    assert n == 2
    np.testing.assert_allclose(np.linalg.norm(w.data, axis=1), [2.0, 0.5, 2.0], rtol=1e-12)
    np.testing.assert_allclose(w.data[0], [1.2, 1.6], rtol=1e-12)  # direction kept
    assert MaxNorm([b], 1.0)() == 1
    assert np.linalg.norm(b.data) == pytest.approx(1.0)
    c = nn.Parameter(np.array([[3.0, 4.0], [1.0, 0.0]]))
    max_norm_([c], 2.0, dim=0)  # columns
    np.testing.assert_allclose(np.linalg.norm(c.data, axis=0), [2.0, 2.0], rtol=1e-12)
