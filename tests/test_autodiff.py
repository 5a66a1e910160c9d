"""grad, jacobian, batch_jacobian, hessian, hvp, gradcheck, gradgradcheck, input_optimize.

spec: AD-GRADCHECK, AD-JACOBIAN-IO, AD-JACOBIAN-LAYER, AD-SOFTMAX-JACOBIAN, AD-HESSIAN, AD-HVP, AD-INPUT-OPTIM
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import mnist_dir, t64

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, ops
from chainrule import reference as R
from chainrule.autodiff import GradcheckError, check_along_direction, numerical_grad
from chainrule.tensor import _make


# ----------------------------------------------------------------------------- grad
def test_grad_basic_and_does_not_touch_dot_grad():
    x, w = t64([1.0, 2.0]), t64([3.0, -1.0])
    y = (x * x * w).sum()
    gx, gw = cr.grad(y, [x, w])
    np.testing.assert_allclose(gx.data, 2 * x.data * w.data)
    np.testing.assert_allclose(gw.data, x.data ** 2)
    assert x.grad is None and w.grad is None
    assert isinstance(cr.grad((x * 2).sum(), x), cr.Tensor)  # single input -> single tensor


def test_grad_outputs_unused_and_nonleaf_inputs():
    x, z = t64([1.0, 2.0]), t64([5.0])
    h = x * 3
    y = h * h
    (gh,) = cr.grad(y, [h], grad_outputs=cr.Tensor(np.array([1.0, 10.0])), retain_graph=True)
    np.testing.assert_allclose(gh.data, 2 * h.data * [1, 10])
    with pytest.raises(RuntimeError, match="not used.*allow_unused=True"):
        cr.grad(y.sum(), [x, z], retain_graph=True)
    gx, gz = cr.grad(y.sum(), [x, z], allow_unused=True, retain_graph=True)
    assert gz is None
    gx, gz = cr.grad(y.sum(), [x, z], materialize=True)
    np.testing.assert_array_equal(gz.data, [0.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.grad(cr.Tensor([1.0]), [x])


def test_grad_create_graph_and_multiple_outputs():
    x = t64([0.5, 1.5])
    g = cr.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad
    (gg,) = (cr.grad(g.sum(), x),)
    np.testing.assert_allclose(gg.data, 6 * x.data)
    a, b = (x * 2).sum(), (x * x).sum()
    np.testing.assert_allclose(cr.grad([a, b], x).data, 2 + 2 * x.data)


def test_differentiable_grad_outputs_give_jvp():
    """With create_graph, a cotangent that requires grad stays in the graph: d/dv (Jᵀv)·u = J u (jvp)."""
    W = np.random.default_rng(0).normal(size=(3, 4))
    x = t64(np.random.default_rng(1).normal(size=4))
    y = ops.tanh(cr.Tensor(W) @ x)
    v = t64(np.zeros(3))
    vjp = cr.grad(y, x, grad_outputs=v, create_graph=True)
    u = np.random.default_rng(2).normal(size=4)
    jvp = cr.grad((vjp * cr.Tensor(u)).sum(), v)
    J = (1 - np.tanh(W @ x.data) ** 2)[:, None] * W
    np.testing.assert_allclose(jvp.data, J @ u, rtol=1e-13)


# ----------------------------------------------------------------------------- jacobian
def test_jacobian_layout_and_values():
    """Rows = outputs (numerator layout): shape out.shape + in.shape.  (spec: AD-JACOBIAN-IO)"""
    A = np.random.default_rng(0).normal(size=(3, 4))
    x = t64(np.random.default_rng(1).normal(size=4))
    J = cr.jacobian(lambda v: cr.Tensor(A) @ v, x)
    assert J.shape == (3, 4)
    np.testing.assert_allclose(J.data, A, rtol=1e-15)
    X = t64(np.ones((2, 3)))
    J2 = cr.jacobian(lambda v: v.sum(0), X)
    assert J2.shape == (3, 2, 3)
    np.testing.assert_array_equal(J2.data[1], [[0, 1, 0], [0, 1, 0]])
    Ja, Jb = cr.jacobian(lambda u, v: u * v, [t64([1.0, 2.0]), t64([3.0, 4.0])])
    np.testing.assert_array_equal(Ja.data, np.diag([3.0, 4.0]))
    np.testing.assert_array_equal(Jb.data, np.diag([1.0, 2.0]))
    x_nograd = cr.Tensor(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(cr.jacobian(lambda v: v * v, x_nograd).data, np.diag([2.0, 4.0]))
    assert not x_nograd.requires_grad


def _mlp(sizes, acts, seed=0):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(0, 0.8, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0, 0.3, o) for o in sizes[1:]]
    fns = {"sigmoid": ops.sigmoid, "tanh": ops.tanh, "relu": ops.relu, "identity": lambda s: s,
           "softmax": lambda s: ops.softmax(s, -1)}

    def f(x):
        a = x
        for W, b, act in zip(Ws, bs, acts):
            a = fns[act](ops.linear(a, cr.Tensor(W), cr.Tensor(b)))
        return a
    return f, Ws, bs


@pytest.mark.parametrize("out_act", ["identity", "sigmoid", "softmax"])
def test_input_output_jacobian_product_formula_and_fd(out_act):
    """spec: AD-JACOBIAN-IO — 𝒥 = D_L W_L ⋯ D_1 W_1 (softmax: J_softmax), = central differences."""
    acts = ["tanh", "sigmoid", out_act]
    f, Ws, bs = _mlp([4, 5, 6, 3], acts)
    x = np.random.default_rng(2).normal(size=4)
    J = cr.jacobian(f, t64(x)).data
    np.testing.assert_allclose(J, R.input_output_jacobian(x, Ws, bs, acts), rtol=1e-12, atol=1e-15)
    Jn = np.stack([numerical_grad(lambda v, k=k: f(v)[k], t64(x)) for k in range(3)])
    np.testing.assert_allclose(J, Jn, atol=1e-8)
    # per-sample batch (N, K, D) with K reverse passes
    X = np.random.default_rng(3).normal(size=(5, 4))
    JB = cr.batch_jacobian(f, t64(X))
    assert JB.shape == (5, 3, 4)
    for n in range(5):
        np.testing.assert_allclose(JB.data[n], R.input_output_jacobian(X[n], Ws, bs, acts), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="batch_jacobian needs"):
        cr.batch_jacobian(lambda v: v.sum(), t64(X))


def test_linear_model_jacobian_is_W():
    lin = nn.Linear(4, 3, dtype=np.float64)
    J = cr.jacobian(lambda v: lin(v), t64(np.random.default_rng(0).normal(size=4)))
    np.testing.assert_array_equal(J.data, lin.weight.data)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "identity", "softmax"])
def test_layer_jacobian(act):
    """spec: AD-JACOBIAN-LAYER — a = f(Wx + b): J = diag(f'(Wx + b)) W; s_l = W_l f(s_{l−1}): W_l diag(f'(s_{l−1}))."""
    rng = np.random.default_rng(4)
    W, b, x = rng.normal(size=(3, 5)), rng.normal(size=3), rng.normal(size=5)
    f, _, _ = _mlp([5, 3], [act])
    fn = {"sigmoid": ops.sigmoid, "tanh": ops.tanh, "relu": ops.relu, "identity": lambda s: s,
          "softmax": lambda s: ops.softmax(s, -1)}[act]
    J = cr.jacobian(lambda v: fn(cr.Tensor(W) @ v + cr.Tensor(b)), t64(x)).data
    np.testing.assert_allclose(J, R.layer_jacobian(W, b, x, act), rtol=1e-13, atol=1e-15)
    if act != "softmax":
        s_prev = rng.normal(size=5)
        Jpre = cr.jacobian(lambda s: cr.Tensor(W) @ fn(s), t64(s_prev)).data
        a_prev = R.activate(act, s_prev)
        np.testing.assert_allclose(Jpre, W * R.activation_grad(act, s_prev, a_prev)[None, :], rtol=1e-13)


def test_softmax_jacobian_computed_values():
    """spec: AD-SOFTMAX-JACOBIAN — s = (1, 2, 3)."""
    J = cr.jacobian(lambda s: ops.softmax(s), t64([1.0, 2.0, 3.0])).data
    expect = [[0.081925, -0.022033, -0.059892], [-0.022033, 0.184836, -0.162803],
              [-0.059892, -0.162803, 0.222695]]
    np.testing.assert_allclose(J, expect, atol=1e-6)
    np.testing.assert_allclose(J.sum(axis=1), 0, atol=1e-16)
    np.testing.assert_allclose(J, J.T, atol=1e-16)
    ev = np.linalg.eigvalsh(J)
    assert ev.min() > -1e-15 and np.linalg.matrix_rank(J, tol=1e-12) == 2
    a = ops.softmax(t64([1.0, 2.0, 3.0])).data
    np.testing.assert_allclose(J, R.softmax_jacobian(a), atol=1e-16)
    y = np.array([0.2, 0.0, 0.8])
    np.testing.assert_allclose(J.T @ (-y / a), a - y, atol=1e-15)  # CE: Jᵀ(−y/a) = a − y


# ----------------------------------------------------------------------------- gradcheck
GRADCHECK_FNS = {
    "poly": lambda x, y: (x * y + x ** 3 / y).sum(1),
    "broadcast": lambda x, y: ops.exp(x[:, :1] - y) * ops.tanh(x),
    "softmax": lambda x, y: ops.log_softmax(x @ y.T, 0),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_FNS))
def test_gradcheck_and_gradgradcheck_pass(name):
    rng = np.random.default_rng(0)
    x, y = t64(rng.uniform(0.5, 1.5, (3, 4))), t64(rng.uniform(0.5, 1.5, (3, 4)))
    assert cr.gradcheck(GRADCHECK_FNS[name], [x, y])
    assert cr.gradgradcheck(GRADCHECK_FNS[name], [x, y])


def _wrong_sin(a):
    return _make(np.sin(a.data), (a,), lambda g, out, x: (g * ops.cos(x) * 1.01 if isinstance(g, cr.Tensor)
                                                          else g * np.cos(x) * 1.01,))


def _first_order_only_sin(a):
    """Right gradient, but the rule uses cos(x) as an array constant, so second derivatives are wrong."""
    c = np.cos(a.data)
    return _make(np.sin(a.data), (a,), lambda g, out, x: (g * c,))


def test_gradcheck_fails_on_wrong_rule():
    """spec: AD-GRADCHECK — a deliberately wrong backward rule is caught, with a useful message."""
    x = t64([0.3, 1.0, -0.7])
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0.*analytic.*vs numerical"):
        cr.gradcheck(_wrong_sin, [x])
    assert cr.gradcheck(_wrong_sin, [x], raise_exception=False) is False
    assert cr.gradcheck(ops.sin, [x])
    assert cr.gradcheck(_first_order_only_sin, [x])
    with pytest.raises(GradcheckError):
        cr.gradgradcheck(_first_order_only_sin, [x])
    assert cr.gradgradcheck(ops.sin, [x])


def test_gradcheck_input_validation():
    with pytest.raises(TypeError, match="float64"):
        cr.gradcheck(ops.sin, [cr.Tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="no input has requires_grad"):
        cr.gradcheck(ops.sin, [cr.Tensor(np.array([1.0]))])


def test_check_along_direction():
    """The cheap check for large inputs: ⟨∇f, v⟩ = (f(x + hv) − f(x − hv))/2h."""
    rng = np.random.default_rng(0)
    x = t64(rng.normal(size=500))
    v = rng.normal(size=500)
    ad, fd = check_along_direction(lambda t: (ops.tanh(t) * t).sum(), x, v)
    assert abs(ad - fd) < 1e-7 * abs(ad)


# ----------------------------------------------------------------------------- hessian / hvp
def _loss_and_params(seed=0):
    rng = np.random.default_rng(seed)
    W1, b1 = t64(rng.normal(0, 0.7, (3, 2))), t64(rng.normal(0, 0.3, 3))
    W2, b2 = t64(rng.normal(0, 0.7, (2, 3))), t64(rng.normal(0, 0.3, 2))
    X, lab = cr.Tensor(rng.normal(size=(6, 2))), rng.integers(0, 2, 6)
    params = [W1, b1, W2, b2]

    def loss(*ps):
        w1, c1, w2, c2 = ps
        return F.cross_entropy(ops.linear(ops.tanh(ops.linear(X, w1, c1)), w2, c2), lab)
    return loss, params


def test_hessian_symmetric_and_equals_fd_of_gradient():
    """spec: AD-HESSIAN — W × W over all parameters; symmetric to 1e-12; = FD of the gradient."""
    loss, params = _loss_and_params()
    H = cr.hessian(loss, params).data
    W = sum(p.size for p in params)
    assert H.shape == (W, W) == (17, 17)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    flat = np.concatenate([p.data.ravel() for p in params])

    def gradient(w):
        ps, o = [], 0
        for p in params:
            ps.append(t64(w[o:o + p.size].reshape(p.shape)))
            o += p.size
        return np.concatenate([g.data.ravel() for g in cr.grad(loss(*ps), ps)])
    h = 1e-5
    Hn = np.stack([(gradient(flat + h * e) - gradient(flat - h * e)) / (2 * h) for e in np.eye(W)], axis=1)
    np.testing.assert_allclose(H, Hn, atol=1e-8)


def test_hessian_taylor_remainder_is_cubic():
    """R(w + εv) − [R(w) + εgᵀv + ½ε²vᵀHv] = O(ε³)."""
    loss, params = _loss_and_params(1)
    H = cr.hessian(loss, params).data
    g = np.concatenate([t.data.ravel() for t in cr.grad(loss(*params), params)])
    v = np.random.default_rng(0).normal(size=g.size)

    def at(eps):
        ps, o = [], 0
        for p in params:
            ps.append(t64(p.data + eps * v[o:o + p.size].reshape(p.shape)))
            o += p.size
        return loss(*ps).item()
    r0 = loss(*params).item()
    rem = [abs(at(e) - (r0 + e * g @ v + 0.5 * e * e * v @ H @ v)) for e in (1e-1, 5e-2, 2.5e-2)]
    ratios = [rem[0] / rem[1], rem[1] / rem[2]]
    assert all(6.0 < r < 10.0 for r in ratios), ratios  # halving ε divides the remainder by ≈ 8


def test_hessian_single_tensor_shape_and_zero_case():
    x = t64([1.0, 2.0])
    H = cr.hessian(lambda t: (t ** 3).sum(), x)
    np.testing.assert_allclose(H.data, np.diag(6 * x.data))
    X = t64(np.ones((2, 2)))
    assert cr.hessian(lambda t: (t * t).sum(), X).shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(cr.hessian(lambda t: (t * 3.0).sum(), x).data, 0)
    with pytest.raises(ValueError, match="scalar"):
        cr.hessian(lambda t: t * t, x)
    np.testing.assert_allclose(cr.hessian(lambda t: (t ** 3).sum(), cr.Tensor(np.array([1.0]))).data, [[6.0]])


def test_hvp_equals_H_v_and_fd():
    """spec: AD-HVP — Hv = ∇(∇Rᵀv) = H@v = (∇R(w + hv) − ∇R(w − hv))/2h within 1e-6."""
    loss, params = _loss_and_params(2)
    H = cr.hessian(loss, params).data
    rng = np.random.default_rng(5)
    vs = [rng.normal(size=p.shape) for p in params]
    Hv = cr.hvp(loss, params, vs)
    flat_Hv = np.concatenate([t.data.ravel() for t in Hv])
    np.testing.assert_allclose(flat_Hv, H @ np.concatenate([v.ravel() for v in vs]), atol=1e-12)
    h = 1e-5

    def grad_at(sign):
        ps = [t64(p.data + sign * h * v) for p, v in zip(params, vs)]
        return np.concatenate([g.data.ravel() for g in cr.grad(loss(*ps), ps)])
    np.testing.assert_allclose(flat_Hv, (grad_at(1) - grad_at(-1)) / (2 * h), atol=1e-6)
    x = t64([1.0, -2.0])
    v = np.array([1.0, -3.0])  # regression: an ndarray v for one tensor x was iterated element by element
    np.testing.assert_allclose(cr.hvp(lambda t: (t ** 4).sum(), x, v).data, 12 * x.data ** 2 * v)
    with pytest.raises(ValueError, match="v must match x"):
        cr.hvp(lambda t: (t ** 4).sum(), x, np.ones(3))
    np.testing.assert_array_equal(cr.hvp(lambda t: t.sum(), x, np.ones(2)).data, 0)


# ----------------------------------------------------------------------------- input optimization
def _trained_digits_mlp():
    from chainrule.data import load_digits
    X, y = load_digits(split="train", as_images=False)
    X, y = X[:400], y[:400]  # small GEMMs: fast even when the BLAS threads are contended
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    Xt = cr.Tensor(X)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(Xt), y).backward()
        opt.step()
    acc = (model(Xt).data.argmax(1) == y).mean()
    return model, X, y, acc


def test_input_optimize_raises_class_score_and_freezes_weights():
    """spec: AD-INPUT-OPTIM — x ← x + η∇ₓ[ŷ_k − λ‖x‖²]: ŷ_k rises for small η; weights bit-identical."""
    model, X, y, acc = _trained_digits_mlp()
    assert acc > 0.9
    before = {k: v.data.copy() for k, v in model.state_dict().items()}
    for p in model.parameters():
        p.grad = None
    x0 = X[:4]
    k = 3
    xopt, hist = cr.input_optimize(model, cr.Tensor(x0), k, lr=0.05, steps=50, weight_decay=0.01, clip=(0.0, 1.0))
    assert np.all(np.diff(hist) > 0), "the class score must rise at every step for a small step size"
    score = lambda x: model(cr.Tensor(x)).data[:, k]  # noqa: E731
    assert np.all(score(xopt.data) > score(x0) + 1.0)
    assert xopt.data.min() >= 0 and xopt.data.max() <= 1 and xopt.dtype == np.float32
    for name, v in model.state_dict().items():
        assert np.array_equal(v.data, before[name]), name
    assert all(p.grad is None for p in model.parameters())
    # the update is exactly η∇ₓ[ŷ_k − λ‖x‖²] for one step without clipping
    x1, _ = cr.input_optimize(model, cr.Tensor(x0), k, lr=0.1, steps=1, weight_decay=0.5)
    xt = cr.Tensor(x0.copy(), requires_grad=True)
    obj = model(xt)[:, k].sum() - 0.5 * (xt * xt).sum()
    np.testing.assert_allclose(x1.data, x0 + 0.1 * cr.grad(obj, xt).data, rtol=1e-6)


@pytest.mark.slow
def test_input_optimize_on_mnist_mlp():
    """spec: AD-INPUT-OPTIM — on an MLP trained on genuine MNIST (one epoch)."""
    from chainrule.data import load_mnist
    Xtr, ytr = load_mnist(root=mnist_dir(), split="train", flatten=True)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 100), nn.Sigmoid(), nn.Linear(100, 10))
    opt = cr.optim.SGD(model.parameters(), lr=0.5)
    for i in range(0, 60000, 50):
        opt.zero_grad()
        F.cross_entropy(model(cr.Tensor(Xtr[i:i + 50])), ytr[i:i + 50]).backward()
        opt.step()
    before = [p.data.copy() for p in model.parameters()]
    xopt, hist = cr.input_optimize(model, cr.Tensor(Xtr[:10]), 7, lr=0.1, steps=100)
    assert hist[-1] > hist[0]
    assert all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before))
