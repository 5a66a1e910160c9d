"""Hand-written backprop (chainrule.reference) = autodiff = central differences.

spec: MLP-BACKPROP, BACKPROP-REFERENCE, MLP-BACKPROP-4EQ, MLP-UNIT-GRAPH, MLP-OUTPUT-DELTA,
LOSS-OUTPUT-DELTA, MLP-SIGMOID-DERIV, MLP-FORWARD
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, ops
from chainrule import reference as R
from chainrule.models import MLP

ACT = {"sigmoid": ops.sigmoid, "tanh": ops.tanh, "relu": ops.relu, "identity": lambda s: s,
       "softmax": lambda s: ops.softmax(s, -1)}


def _autodiff_loss(loss, a, y):
    if loss == "half_sse":
        return 0.5 * ((a - y) ** 2).sum()
    if loss == "sse":
        return ((a - y) ** 2).sum()
    if loss == "bce":
        return -(y * ops.log(a) + (1 - y) * ops.log(1 - a)).sum()
    return -(y * ops.log(a)).sum()


def _autodiff(X, Y, Ws, bs, acts, loss, reduction="mean"):
    """The same net built from chainrule ops; returns loss, weight grads, bias grads, output pre-activation grad."""
    W = [cr.Tensor(w.copy(), requires_grad=True) for w in Ws]
    b = [cr.Tensor(v.copy(), requires_grad=True) for v in bs]
    a = cr.Tensor(X)
    s = None
    for Wl, bl, f in zip(W, b, acts):
        s = ops.linear(a, Wl, bl)
        s.retain_grad()
        a = ACT[f](s)
    L = _autodiff_loss(loss, a, cr.Tensor(Y))
    if reduction == "mean":
        L = L / X.shape[0]
    L.backward()
    return L.item(), [w.grad.data for w in W], [v.grad.data for v in b], s.grad.data


def _numeric(X, Y, Ws, bs, acts, loss, reduction="mean", h=1e-6):
    def R_(Ws_, bs_):
        return R.backprop_mlp(X, Y, Ws_, bs_, acts, loss, reduction)["loss"]
    gW, gb = [], []
    for group, out in ((Ws, gW), (bs, gb)):
        for P in group:
            G = np.zeros_like(P)
            for idx in np.ndindex(P.shape):
                old = P[idx]
                P[idx] = old + h
                fp = R_(Ws, bs)
                P[idx] = old - h
                fm = R_(Ws, bs)
                P[idx] = old
                G[idx] = (fp - fm) / (2 * h)
            out.append(G)
    return gW, gb


def _rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)


# ----------------------------------------------------------------------------- MLP-BACKPROP numbers
def test_mlp_backprop_computed_example():
    """spec: MLP-BACKPROP — x = (1, 2), sigmoid hidden, identity output, L = ½(ŷ − y)²."""
    X, Y = np.array([[1.0, 2.0]]), np.array([[1.0]])
    Ws = [np.array([[0.1, 0.2], [0.3, 0.4]]), np.array([[0.5, -0.5]])]
    bs = [np.zeros(2), np.array([0.1])]
    r = R.backprop_mlp(X, Y, Ws, bs, ["sigmoid", "identity"], "half_sse")
    np.testing.assert_allclose(r["S"][0], [[0.5, 1.1]], atol=1e-12)
    np.testing.assert_allclose(r["A"][1], [[0.622459, 0.750260]], atol=1e-6)
    np.testing.assert_allclose(r["A"][2], [[0.036100]], atol=1e-6)
    assert abs(r["loss"] - 0.464552) < 1e-6
    np.testing.assert_allclose(r["deltas"][1], [[-0.963900]], atol=1e-6)
    np.testing.assert_allclose(r["deltas"][0], [[-0.113260, 0.090303]], atol=1e-6)
    np.testing.assert_allclose(r["grad_W"][1], [[-0.599989, -0.723176]], atol=1e-6)
    np.testing.assert_allclose(r["grad_W"][0], [[-0.113260, -0.226520], [0.090303, 0.180606]], atol=1e-6)
    np.testing.assert_allclose(r["grad_b"][0], r["deltas"][0][0])
    np.testing.assert_allclose(r["grad_b"][1], [-0.963900], atol=1e-6)
    # autodiff through nn.Linear with the library's loss: ½·mse_loss(reduction='sum') (spec: LOSS-MSE)
    l1, l2 = nn.Linear(2, 2, dtype=np.float64), nn.Linear(2, 1, dtype=np.float64)
    for lin, W, b in ((l1, Ws[0], bs[0]), (l2, Ws[1], bs[1])):
        lin.load_state_dict({"weight": W, "bias": b})
    yhat = l2(ops.sigmoid(l1(cr.Tensor(X))))
    loss = 0.5 * F.mse_loss(yhat, cr.Tensor(Y), reduction="sum")
    loss.backward()
    assert abs(loss.item() - r["loss"]) < 1e-15
    for lin, k in ((l1, 0), (l2, 1)):
        np.testing.assert_allclose(lin.weight.grad.data, r["grad_W"][k], rtol=1e-13)
        np.testing.assert_allclose(lin.bias.grad.data, r["grad_b"][k], rtol=1e-13)


# ----------------------------------------------------------------------------- BACKPROP-REFERENCE
CASES = [("identity", "half_sse"), ("identity", "sse"), ("sigmoid", "bce"), ("softmax", "ce"),
         ("sigmoid", "half_sse"), ("softmax", "half_sse"), ("tanh", "sse")]


@pytest.mark.parametrize("out_act,loss", CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_oracle_equals_autodiff_equals_fd(out_act, loss, reduction):
    """spec: BACKPROP-REFERENCE — hidden layers 7 (sigmoid), 6 (tanh), 3 (ReLU) on 5 inputs, 3 outputs, X (4, 5)."""
    rng = np.random.default_rng(0)
    sizes = [5, 7, 6, 3]
    Ws = [rng.normal(0, 0.7, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0, 0.3, o) for o in sizes[1:]]
    acts = ["sigmoid", "tanh", "relu", out_act]
    Ws.append(rng.normal(0, 0.7, (3, 3)))
    bs.append(rng.normal(0, 0.3, 3))
    X = rng.normal(size=(4, 5))
    if loss in ("bce",):
        Y = rng.uniform(0.1, 0.9, (4, 3))
    elif loss == "ce":
        Y = np.eye(3)[[0, 2, 1, 2]]
    else:
        Y = rng.normal(size=(4, 3))
    r = R.backprop_mlp(X, Y, Ws, bs, acts, loss, reduction)
    r_unfused = R.backprop_mlp(X, Y, Ws, bs, acts, loss, reduction, fused=False)
    L, gW, gb, dS = _autodiff(X, Y, Ws, bs, acts, loss, reduction)
    nW, nb = _numeric(X, Y, Ws, bs, acts, loss, reduction)
    assert abs(L - r["loss"]) < 1e-12 * max(1, abs(L))
    np.testing.assert_allclose(dS, r["deltas"][-1], rtol=1e-10, atol=1e-14)
    for k in range(len(Ws)):
        np.testing.assert_allclose(gW[k], r["grad_W"][k], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(gb[k], r["grad_b"][k], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(r_unfused["grad_W"][k], r["grad_W"][k], rtol=1e-10, atol=1e-13)
        assert _rel(r["grad_W"][k], nW[k]) < 1e-7 and _rel(r["grad_b"][k], nb[k]) < 1e-7


def test_oracle_relu_derivative_is_a_mask():
    """ReLU' = 1[z > 0] applied element-wise (0 at 0, like the library)."""
    S = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(R.activation_grad("relu", S, np.maximum(S, 0)), [[0, 0, 1]])
    x = cr.Tensor(S, requires_grad=True)
    ops.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 1]])


# ----------------------------------------------------------------------------- MLP-BACKPROP-4EQ
@pytest.mark.parametrize("out_act,loss", [("identity", "half_sse"), ("sigmoid", "half_sse"), ("softmax", "ce"),
                                          ("sigmoid", "bce")])
def test_four_equations_per_example_equal_batch_and_autodiff(out_act, loss):
    """spec: MLP-BACKPROP-4EQ — per-example BP1–BP4 loop = vectorized batch (1e-12) = autodiff."""
    rng = np.random.default_rng(3)
    sizes = [4, 6, 5, 3]
    Ws = [rng.normal(0, 0.8, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0, 0.2, o) for o in sizes[1:]]
    acts = ["tanh", "sigmoid", out_act]
    X = rng.normal(size=(6, 4))
    Y = np.eye(3)[rng.integers(0, 3, 6)] if loss in ("ce", "bce") else rng.normal(size=(6, 3))
    if loss == "bce":
        Y = rng.uniform(0.2, 0.8, (6, 3))
    per = R.backprop_mlp_per_sample(X, Y, Ws, bs, acts, loss)
    bat = R.backprop_mlp(X, Y, Ws, bs, acts, loss)
    L, gW, gb, _ = _autodiff(X, Y, Ws, bs, acts, loss)
    assert abs(per["loss"] - bat["loss"]) < 1e-12
    for k in range(3):
        np.testing.assert_allclose(per["grad_W"][k], bat["grad_W"][k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(per["grad_b"][k], bat["grad_b"][k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(gW[k], bat["grad_W"][k], rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------- MLP-UNIT-GRAPH
def _unit_graph_autodiff(net: R.UnitGraphNet, X, Y):
    """The unit-level forward written with chainrule ops (one scalar op chain per unit)."""
    W = cr.Tensor(net.W.copy(), requires_grad=True)
    C = net.mask
    total = None
    for x, y in zip(X, Y):
        a = {0: cr.Tensor(np.array(1.0))}
        for d in range(net.D):
            a[d + 1] = cr.Tensor(np.array(x[d]))
        for i in net.order:
            srcs = np.nonzero(C[i])[0]
            s = ops.stack([a[int(j)] for j in srcs]) if srcs.size else cr.Tensor(np.zeros(1))
            si = (W[i, srcs] * s).sum() if srcs.size else cr.Tensor(np.array(0.0))
            a[i] = ACT[net.act[i]](si)
        outs = ops.stack([a[i] for i in range(net.Q - net.K + 1, net.Q + 1)])
        li = 0.5 * ((outs - cr.Tensor(y)) ** 2).sum()
        total = li if total is None else total + li
    R_ = total / len(X)
    R_.backward()
    return R_.item(), W.grad.data


def test_unit_graph_consecutive_mask_equals_mlp_backprop():
    rng = np.random.default_rng(1)
    Ws = [rng.normal(size=(3, 2)), rng.normal(size=(2, 3))]
    bs = [rng.normal(size=3), rng.normal(size=2)]
    net = R.UnitGraphNet.from_mlp(Ws, bs, "sigmoid", "identity")
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    loss, G = net.gradients(X, Y)
    r = R.backprop_mlp(X, Y, Ws, bs, ["sigmoid", "identity"])
    assert abs(loss - r["loss"]) < 1e-13
    np.testing.assert_allclose(net.predict(X), r["A"][-1], atol=1e-14)
    np.testing.assert_allclose(G[3:6, 1:3], r["grad_W"][0], atol=1e-14)   # hidden units 3..5 <- inputs 1..2
    np.testing.assert_allclose(G[3:6, 0], r["grad_b"][0], atol=1e-14)     # bias unit 0
    np.testing.assert_allclose(G[6:8, 3:6], r["grad_W"][1], atol=1e-14)
    np.testing.assert_allclose(G[6:8, 0], r["grad_b"][1], atol=1e-14)
    assert (G[~net.mask] == 0).all()


def _shortcut_net():
    # units: 0 bias, 1-2 inputs, 3-4 hidden layer A, 5 hidden layer B (fed by 3, 4 and input 1), 6-7 outputs
    Q = 7
    C = np.zeros((Q + 1, Q + 1), bool)
    C[3, [0, 1, 2]] = C[4, [0, 1, 2]] = True
    C[5, [0, 1, 3, 4]] = True
    C[6, [0, 5, 2, 3]] = True  # shortcuts from an input and from layer A
    C[7, [0, 5, 4, 1]] = True
    return R.UnitGraphNet(C, 2, 2, "tanh", "sigmoid", seed=4)


def test_unit_graph_shortcut_mask_equals_autodiff_and_fd():
    net = _shortcut_net()
    assert list(net.layers) == [1, 1, 1, 2, 2, 3, 4, 4]
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(3, 2)), rng.uniform(size=(3, 2))
    loss, G = net.gradients(X, Y)
    la, Ga = _unit_graph_autodiff(net, X, Y)
    assert abs(loss - la) < 1e-14
    np.testing.assert_allclose(G, Ga, rtol=1e-11, atol=1e-15)
    h = 1e-6
    for i, j in zip(*np.nonzero(net.mask)):
        old = net.W[i, j]
        net.W[i, j] = old + h
        fp = net.gradients(X, Y)[0]
        net.W[i, j] = old - h
        fm = net.gradients(X, Y)[0]
        net.W[i, j] = old
        assert abs((fp - fm) / (2 * h) - G[i, j]) < 1e-8


def test_unit_graph_step_decreases_loss_and_keeps_mask():
    net = _shortcut_net()
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(8, 2)), rng.uniform(0.2, 0.8, size=(8, 2))
    W0 = net.W.copy()
    losses = [net.step(X, Y, lr=0.5) for _ in range(30)]
    assert losses[-1] < 0.8 * losses[0]
    assert (net.W[~net.mask] == 0).all() and not np.allclose(net.W, W0)


def test_unit_graph_rejects_non_feedforward_masks():
    C = np.zeros((6, 6), bool)
    C[3, [0, 1, 2]] = True
    C[4, [3]] = True
    C[5, [4]] = True
    R.UnitGraphNet(C, 2, 1)  # fine
    cyc = C.copy()
    cyc[3, 4] = True  # 4 -> 3 and 3 -> 4: a cycle
    with pytest.raises(ValueError, match="feed-forward condition.*cycle"):
        R.UnitGraphNet(cyc, 2, 1)
    into_input = C.copy()
    into_input[1, 3] = True
    with pytest.raises(ValueError, match="cannot receive connections"):
        R.UnitGraphNet(into_input, 2, 1)
    with pytest.raises(ValueError, match="need layer\\(j\\) < layer\\(i\\)"):
        R.UnitGraphNet(C, 2, 1, layers=[1, 1, 1, 2, 2, 3])  # units 3 and 4 in one layer but connected


# ----------------------------------------------------------------------------- output deltas
@pytest.mark.parametrize("pair", ["mse_identity", "bce_sigmoid", "ce_softmax", "bce_logits", "ce_logits"])
def test_matched_output_delta_is_a_minus_y(pair):
    """spec: MLP-OUTPUT-DELTA, LOSS-OUTPUT-DELTA — ∂ℓ/∂s = a − y (÷N for 'mean')."""
    rng = np.random.default_rng(0)
    N, K = 5, 4
    s = cr.Tensor(rng.normal(size=(N, K)) * 3, requires_grad=True)
    if pair == "mse_identity":
        y = rng.normal(size=(N, K))
        a = s
        loss = 0.5 * F.mse_loss(a, cr.Tensor(y), reduction="sum")
    elif pair in ("bce_sigmoid", "bce_logits"):
        y = rng.integers(0, 2, (N, K)).astype(float)
        a = ops.sigmoid(s)
        loss = (F.binary_cross_entropy(a, cr.Tensor(y), reduction="sum") if pair == "bce_sigmoid"
                else F.binary_cross_entropy_with_logits(s, cr.Tensor(y), reduction="sum"))
    else:
        lab = rng.integers(0, K, N)
        y = np.eye(K)[lab]
        a = ops.softmax(s, -1)
        loss = (-(cr.Tensor(y) * ops.log(a)).sum() if pair == "ce_softmax"
                else F.cross_entropy(s, lab, reduction="sum"))
    loss.backward()
    np.testing.assert_allclose(s.grad.data, a.data - y, rtol=1e-10, atol=1e-12)


def test_quadratic_sigmoid_delta_and_softmax_jacobian_delta():
    """Element-wise output: δ = (a − y)a(1 − a); softmax + MSE: δ = a ⊙ (g − (aᵀg)1) (erratum E9)."""
    rng = np.random.default_rng(1)
    S, Y = rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))
    s = cr.Tensor(S, requires_grad=True)
    a = ops.sigmoid(s)
    (0.5 * ((a - cr.Tensor(Y)) ** 2).sum()).backward()
    A = R.sigmoid(S)
    np.testing.assert_allclose(s.grad.data, (A - Y) * A * (1 - A), rtol=1e-12)
    np.testing.assert_allclose(s.grad.data, R.output_delta("half_sse", "sigmoid", S, A, Y), rtol=1e-12)
    s = cr.Tensor(S, requires_grad=True)
    a = ops.softmax(s, -1)
    (0.5 * ((a - cr.Tensor(Y)) ** 2).sum()).backward()
    A = R.softmax(S)
    g = A - Y
    np.testing.assert_allclose(s.grad.data, A * (g - (A * g).sum(1, keepdims=True)), rtol=1e-12)
    np.testing.assert_allclose(s.grad.data, np.stack([R.softmax_jacobian(a_) @ g_ for a_, g_ in zip(A, g)]),
                               rtol=1e-12)
    wrong = g * A * (1 - A)  # eq. 4.70 applied to softmax: not the gradient
    assert np.abs(wrong - s.grad.data).max() > 1e-3


def test_saturated_sigmoid_delta_numbers():
    """spec: LOSS-OUTPUT-DELTA — at z = 8, y = 0: |δ| = 3.35e−4 (quadratic) vs 0.99966 (BCE)."""
    z = cr.Tensor(np.array([8.0]), requires_grad=True)
    (0.5 * (ops.sigmoid(z) - 0.0) ** 2).sum().backward()
    assert abs(abs(z.grad.item()) - 3.35e-4) < 5e-7
    z.grad = None
    F.binary_cross_entropy_with_logits(z, cr.Tensor(np.zeros(1))).backward()
    assert abs(z.grad.item() - 0.99966) < 5e-6


def _single_neuron(loss_kind: str) -> float:
    w = cr.Tensor(np.array([4.0]), requires_grad=True)
    b = cr.Tensor(np.array([4.0]), requires_grad=True)
    x, y = cr.Tensor(np.array([1.0])), cr.Tensor(np.array([0.0]))
    for _ in range(100):
        z = w * x + b
        if loss_kind == "quadratic":
            loss = 0.5 * ((ops.sigmoid(z) - y) ** 2).sum()
        else:
            loss = F.binary_cross_entropy_with_logits(z, y, reduction="sum")
        w.grad = b.grad = None
        loss.backward()
        with cr.no_grad():
            w.data -= 0.15 * w.grad.data
            b.data -= 0.15 * b.grad.data
    return float(ops.sigmoid(w * x + b).item())


def test_saturated_single_neuron_learning():
    """spec: LOSS-OUTPUT-DELTA — x = 1, y = 0, w = b = 4, 100 GD steps, lr 0.15."""
    quad, bce = _single_neuron("quadratic"), _single_neuron("bce")
    assert quad > 0.99 and abs(quad - 0.99966) < 5e-4  # barely moves: δ ≈ 0 when saturated
    assert bce < 0.1 and abs(bce - 0.049) < 5e-3


# ----------------------------------------------------------------------------- MLP-SIGMOID-DERIV
def test_sigmoid_derivative_values_and_saved_output():
    """spec: MLP-SIGMOID-DERIV — σ(3) = 0.952574, σ'(3) = 0.045177; the rule reads the saved output."""
    z = cr.Tensor(np.array([3.0, 0.0, -3.0]), requires_grad=True)
    a = ops.sigmoid(z)
    a.backward(np.ones(3))
    assert abs(a.data[0] - 0.952574) < 1e-6 and abs(z.grad.data[0] - 0.045177) < 1e-6
    assert z.grad.data[1] == 0.25 and (z.grad.data <= 0.25).all()
    for fn, deriv in ((ops.sigmoid, lambda o: o * (1 - o)), (ops.tanh, lambda o: 1 - o * o)):
        z = cr.Tensor(np.array([0.3, -1.2]), requires_grad=True)
        out = fn(z)
        fake = np.array([0.5, 0.1])  # the rule must use the output it is given, not recompute f(z)
        (gz,) = out._vjp(np.ones(2), fake, z.data)
        np.testing.assert_allclose(gz, deriv(fake))


# ----------------------------------------------------------------------------- MLP-FORWARD
@pytest.mark.parametrize("act,out_act", [("sigmoid", None), ("tanh", "sigmoid"), ("relu", "softmax")])
def test_mlp_model_equals_handwritten_forward_and_param_count(act, out_act):
    """spec: MLP-FORWARD — MLP(sizes) = NumPy forward; #params = Σ n_l(n_{l−1} + 1)."""
    sizes = [6, 5, 4, 3]
    m = MLP(sizes, activation=act, output_activation=out_act, dtype=np.float64, generator=cr.Generator(0))
    lins = [l for l in m.modules() if isinstance(l, nn.Linear)]
    assert [l.weight.shape for l in lins] == [(5, 6), (4, 5), (3, 4)]
    X = np.random.default_rng(0).normal(size=(7, 6))
    _, A = R.mlp_forward(X, [l.weight.data for l in lins], [l.bias.data for l in lins],
                         [act, act, out_act or "identity"])
    np.testing.assert_allclose(m(cr.Tensor(X)).data, A[-1], rtol=1e-13, atol=1e-15)
    assert m.num_parameters() == sum(n * (p + 1) for p, n in zip(sizes[:-1], sizes[1:])) == 5 * 7 + 4 * 6 + 3 * 5
