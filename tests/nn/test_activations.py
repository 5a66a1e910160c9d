"""Activation modules, PReLU, second-order units, output units, SELU networks and alpha dropout.

spec: ACT-SIGMOID ACT-TANH ACT-RELU ACT-LEAKY-RELU ACT-ELU ACT-SELU ACT-HIGHER-ORDER ACT-OUTPUT-UNITS
spec: ACT-BASIC-000 REG-ALPHA-DROPOUT
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import compare_with_torch, torch_or_skip

import chainrule as cr
from chainrule import nn, ops
from chainrule.nn.alpha_dropout import ALPHA_PRIME, alpha_dropout, alpha_dropout_params

torch = torch_or_skip()
tnn = torch.nn

MODULES = [
    (lambda: nn.ReLU(), lambda: tnn.ReLU()),
    (lambda: nn.Sigmoid(), lambda: tnn.Sigmoid()),
    (lambda: nn.Tanh(), lambda: tnn.Tanh()),
    (lambda: nn.LeakyReLU(0.1), lambda: tnn.LeakyReLU(0.1)),
    (lambda: nn.ELU(0.7), lambda: tnn.ELU(0.7)),
    (lambda: nn.SELU(), lambda: tnn.SELU()),
    (lambda: nn.CELU(1.0), lambda: tnn.CELU(1.0)),
    (lambda: nn.Softplus(2.0, 10.0), lambda: tnn.Softplus(2.0, 10.0)),
    (lambda: nn.LogSigmoid(), lambda: tnn.LogSigmoid()),
    (lambda: nn.GELU(), lambda: tnn.GELU()),
    (lambda: nn.GELU("tanh"), lambda: tnn.GELU("tanh")),
    (lambda: nn.SiLU(), lambda: tnn.SiLU()),
    (lambda: nn.Mish(), lambda: tnn.Mish()),
    (lambda: nn.Softsign(), lambda: tnn.Softsign()),
    (lambda: nn.Hardtanh(-0.5, 2.0), lambda: tnn.Hardtanh(-0.5, 2.0)),
    (lambda: nn.ReLU6(), lambda: tnn.ReLU6()),
    (lambda: nn.Hardswish(), lambda: tnn.Hardswish()),
    (lambda: nn.Softmax(1), lambda: tnn.Softmax(1)),
    (lambda: nn.LogSoftmax(1), lambda: tnn.LogSoftmax(1)),
]


@pytest.mark.parametrize("mk,tmk", MODULES, ids=[type(m[0]()).__name__ + str(i) for i, m in enumerate(MODULES)])
def test_modules_match_torch(mk, tmk):
    x = np.random.default_rng(0).uniform(-4, 4, size=(6, 5))
    m, tm = mk(), tmk()
    compare_with_torch(lambda t: m(t), lambda t: tm(t), [x])


def test_hardsigmoid_module_matches_torch():
    # PyTorch's float64 hardsigmoid backward uses the float32 constant 1/6 (see tests/ops)
    x = np.random.default_rng(0).uniform(-4, 4, size=(6, 5))
    compare_with_torch(lambda t: nn.Hardsigmoid()(t), lambda t: tnn.Hardsigmoid()(t), [x], rtol=1e-7)


def test_get_activation_names_and_output_units():
    # spec: ACT-OUTPUT-UNITS ACT-BASIC-000 (relu, sigmoid, identity, softplus)
    for name in ["relu", "sigmoid", "tanh", "leaky_relu", "prelu", "elu", "selu", "celu", "softplus", "logsigmoid",
                 "gelu", "silu", "swish", "mish", "softsign", "hardtanh", "relu6", "hardsigmoid", "hardswish"]:
        m = nn.get_activation(name)
        y = m(cr.Tensor(np.linspace(-2, 2, 5, dtype=np.float32)[None].repeat(2, 0)))
        assert y.shape == (2, 5)
    assert nn.get_activation("identity") is None and nn.get_activation("linear") is None
    assert isinstance(nn.get_activation("softmax"), nn.Softmax)
    with pytest.raises(ValueError, match="unknown activation"):
        nn.get_activation("sigmoidd")


def test_softmax_output_jacobian():
    # spec: ACT-OUTPUT-UNITS ∂softmaxᵢ/∂s_k = softmaxᵢ(δᵢₖ − softmax_k): Jacobian diag(p) − ppᵀ
    s = cr.Tensor(np.array([0.3, -1.2, 2.0, 0.5]), requires_grad=True)
    J = cr.jacobian(lambda t: nn.Softmax(-1)(t), s).data
    p = np.exp(s.data) / np.exp(s.data).sum()
    np.testing.assert_allclose(J, np.diag(p) - np.outer(p, p), atol=1e-15)
    # sigmoid output unit: f' = σ(1 − σ); linear output: f' = 1
    Js = cr.jacobian(lambda t: nn.Sigmoid()(t), s).data
    np.testing.assert_allclose(Js, np.diag(p := 1 / (1 + np.exp(-s.data))) * (1 - p), atol=1e-15)


# ------------------------------------------------------------------ tanh symmetries
def test_tanh_net_sign_flip_and_permutation_symmetry():
    # spec: ACT-TANH w₂tanh(w₁x) = (−w₂)tanh(−w₁x); permuting hidden units leaves the function unchanged
    g = cr.Generator(0)
    l1, l2 = nn.Linear(4, 6, dtype=np.float64, generator=g), nn.Linear(6, 3, dtype=np.float64, generator=g)
    net = nn.Sequential(l1, nn.Tanh(), l2)
    x = cr.Tensor(np.random.default_rng(0).standard_normal((10, 4)))
    y0 = net(x).data.copy()
    with cr.no_grad():
        l1.weight.data[2] *= -1
        l1.bias.data[2] *= -1
        l2.weight.data[:, 2] *= -1
    np.testing.assert_allclose(net(x).data, y0, atol=1e-15)
    perm = np.array([3, 0, 5, 1, 4, 2])
    with cr.no_grad():
        l1.weight.data[...] = l1.weight.data[perm]
        l1.bias.data[...] = l1.bias.data[perm]
        l2.weight.data[...] = l2.weight.data[:, perm]
    np.testing.assert_allclose(net(x).data, y0, atol=1e-15)
    with cr.no_grad():  # flipping only the input weights changes the function
        l1.weight.data[0] *= -1
    assert np.abs(net(x).data - y0).max() > 1e-3


def test_sigmoid_and_tanh_nets_convert_by_rescaling():
    # spec: ACT-SIGMOID σ(x) = ½(tanh(x/2) + 1): a sigmoid net equals a tanh net with halved input weights/biases
    rng = np.random.default_rng(1)
    W1, b1 = rng.standard_normal((5, 3)), rng.standard_normal(5)
    W2, b2 = rng.standard_normal((2, 5)), rng.standard_normal(2)
    x = rng.standard_normal((7, 3))
    ys = ops.sigmoid(cr.Tensor(x @ W1.T + b1)).data @ W2.T + b2
    yt = ops.tanh(cr.Tensor(x @ (W1 / 2).T + b1 / 2)).data @ (W2 / 2).T + (b2 + W2.sum(1) / 2)
    np.testing.assert_allclose(ys, yt, atol=1e-14)


# ------------------------------------------------------------------ PReLU
def test_prelu_module_matches_torch_and_learns_its_slope():
    # spec: ACT-LEAKY-RELU (parametric slope)
    x = np.random.default_rng(0).standard_normal((8, 3, 5))
    m = nn.PReLU(3, init=0.25, dtype=np.float64)
    tm = tnn.PReLU(3, init=0.25).double()
    xc, xt = cr.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = m(xc), tm(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12)
    go = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(cr.Tensor(go))
    yt.backward(torch.tensor(go))
    np.testing.assert_allclose(m.weight.grad.data, tm.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), rtol=1e-10)
    # a would-fail-if-inert check: fitting y = leaky_relu(x, 0.6) moves the slope from 0.25 to 0.6
    p = nn.PReLU(1, dtype=np.float64)
    opt = cr.optim.SGD(p.parameters(), lr=0.5)
    xs = cr.Tensor(np.random.default_rng(2).standard_normal((200, 1)))
    target = ops.leaky_relu(xs, 0.6)
    for _ in range(200):
        opt.zero_grad()
        loss = ((p(xs) - target) ** 2).mean()
        loss.backward()
        opt.step()
    assert p.weight.data[0] == pytest.approx(0.6, abs=1e-6)


# ------------------------------------------------------------------ second-order units
def test_second_order_linear_einsum_and_gradcheck():
    # spec: ACT-HIGHER-ORDER S = einsum('nj,ijk,nk->ni', Ã, W, Ã), Ã = [1 | A]
    m = nn.SecondOrderLinear(3, 2, dtype=np.float64, generator=cr.Generator(0))
    assert m.weight.shape == (2, 4, 4)
    x = cr.Tensor(np.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    At = np.c_[np.ones(5), x.data]
    np.testing.assert_allclose(m(x).data, np.einsum("nj,ijk,nk->ni", At, m.weight.data, At), atol=1e-14)
    assert cr.gradcheck(lambda a, w: m(a), [x, m.weight])  # gradcheck perturbs m.weight in place
    assert cr.gradgradcheck(lambda a: m(a), [x])


def test_second_order_linear_reduces_to_linear():
    # spec: ACT-HIGHER-ORDER only W[:, 0, :] non-zero ⇒ equals Linear (W[:, 0, 0] = b, W[:, 0, 1:] = W_lin)
    lin = nn.Linear(3, 2, dtype=np.float64, generator=cr.Generator(1))
    m = nn.SecondOrderLinear(3, 2, dtype=np.float64)
    with cr.no_grad():
        m.weight.data[...] = 0
        m.weight.data[:, 0, 0] = lin.bias.data
        m.weight.data[:, 0, 1:] = lin.weight.data
    x = cr.Tensor(np.random.default_rng(2).standard_normal((6, 3)))
    np.testing.assert_allclose(m(x).data, lin(x).data, atol=1e-15)


def test_second_order_linear_symmetric_storage():
    # spec: ACT-HIGHER-ORDER symmetric stores (J + 1)(J + 2)/2 per output
    J = 4
    m = nn.SecondOrderLinear(J, 3, symmetric=True, dtype=np.float64, generator=cr.Generator(3))
    assert m.weight.shape == (3, (J + 1) * (J + 2) // 2)
    x = cr.Tensor(np.random.default_rng(4).standard_normal((5, J)), requires_grad=True)
    At = np.c_[np.ones(5), x.data]
    Wf = m.full_weight()
    np.testing.assert_allclose(m(x).data, np.einsum("nj,ijk,nk->ni", At, Wf, At), atol=1e-14)
    assert cr.gradcheck(lambda a: m(a), [x])
    # the XOR problem is solved by one second-order unit (product term x1·x2)
    xor = cr.Tensor(np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]))
    u = nn.SecondOrderLinear(2, 1, dtype=np.float64)
    with cr.no_grad():
        u.weight.data[...] = 0
        u.weight.data[0, 1, 2] = -1.0
    np.testing.assert_array_equal(np.sign(u(xor).data.ravel()), [-1, 1, 1, -1])


# ------------------------------------------------------------------ SELU networks
def _selu_net(depth, width, seed, act=nn.SELU, init=nn.init.lecun_normal_):
    g = cr.Generator(seed)
    layers = []
    for _ in range(depth):
        lin = nn.Linear(width, width, dtype=np.float64, generator=g)
        init(lin.weight, generator=g)
        nn.init.zeros_(lin.bias)
        layers += [lin, act()]
    return nn.Sequential(*layers)


def test_selu_50_layers_width_256_stays_at_fixed_point():
    """50-layer width-256 SELU MLP with LeCun-normal init: mean ≈ 0 and variance ≈ 1 within 0.1 through
    all layers (standard-normal inputs).  spec: ACT-SELU NORM-SNN-MAP"""
    x = cr.Tensor(np.random.default_rng(0).standard_normal((1000, 256)))
    with cr.no_grad():
        st = nn.init.trace_propagation(_selu_net(50, 256, 0), x)
    assert len(st["act_var"]) == 50
    assert np.abs(st["act_mean"]).max() < 0.1
    assert np.abs(st["act_var"] - 1).max() < 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_selu_32_layers_spec_check(seed):
    # spec: ACT-SELU 32 layers width 256, LeCun normal, 1000 standard-normal inputs: |mean| < 0.1, var ∈ [0.85, 1.15]
    x = cr.Tensor(np.random.default_rng(100 + seed).standard_normal((1000, 256)))
    with cr.no_grad():
        y = _selu_net(32, 256, seed)(x).data
    assert abs(y.mean()) < 0.1 and 0.85 <= y.var() <= 1.15


def test_selu_attracts_shifted_inputs_relu_lecun_collapses():
    # spec: ACT-SELU inputs with mean 1, var 4 reach var within 15% of 1 after 16 layers;
    # ReLU + LeCun collapses (second moment halves per layer, ≈ 2⁻³² after 32)
    x = cr.Tensor(1 + 2 * np.random.default_rng(5).standard_normal((1000, 256)))
    with cr.no_grad():
        st = nn.init.trace_propagation(_selu_net(16, 256, 5), x)
    assert abs(st["act_var"][-1] - 1) < 0.15
    assert abs(st["act_var"][0] - 1) > 0.15  # ... but not after the first layer: the map has to work
    x = cr.Tensor(np.random.default_rng(6).standard_normal((500, 256)))
    with cr.no_grad():
        st = nn.init.trace_propagation(_selu_net(32, 256, 6, act=nn.ReLU), x)
    ratio = st["act_sq"][-1] / np.mean(x.data ** 2)
    assert 2.0 ** -36 < ratio < 2.0 ** -28


# ------------------------------------------------------------------ alpha dropout
def test_alpha_dropout_constants():
    # spec: REG-ALPHA-DROPOUT α′ = −λα, (a, b) for p = 0.05 and 0.10
    assert ALPHA_PRIME == pytest.approx(-1.7580993408473766, rel=1e-15)
    a, b = alpha_dropout_params(0.05)
    assert a == pytest.approx(0.954844476005031, rel=1e-14) and b == pytest.approx(0.0839355721938103, rel=1e-14)
    a, b = alpha_dropout_params(0.10)
    assert a == pytest.approx(0.921284516149711, rel=1e-14) and b == pytest.approx(0.161970970057570, rel=1e-14)


def test_alpha_dropout_keeps_mean_and_variance():
    # spec: REG-ALPHA-DROPOUT 4·10⁶ standard normals, p = 0.1: mean 0 ± 0.002, var 1 ± 0.003; dropped = aα′ + b
    x = cr.Tensor(np.random.default_rng(0).standard_normal(4_000_000))
    m = nn.AlphaDropout(0.1, generator=cr.Generator(1))
    y = m(x).data
    assert abs(y.mean()) < 0.002 and abs(y.var() - 1) < 0.003
    a, b = alpha_dropout_params(0.1)
    kept = np.isclose(y, a * x.data + b, rtol=0, atol=1e-12)
    dropped = ~kept
    np.testing.assert_allclose(y[dropped], a * ALPHA_PRIME + b, rtol=1e-15)
    assert abs(dropped.mean() - 0.1) < 0.001
    # plain dropout would not keep the variance: the alpha variant is not a no-op
    yd = nn.functional.dropout(x, 0.1, True, cr.Generator(1)).data
    assert abs(yd.var() - 1) > 0.1
    m.eval()
    assert m(x) is x


def test_alpha_dropout_matches_torch_statistics_and_gradient():
    # PyTorch-verified statistics; gradient ∂y/∂x = a·d, gradcheck with a fixed mask
    x = np.random.default_rng(2).standard_normal(1_000_000)
    yt = torch.nn.functional.alpha_dropout(torch.tensor(x), 0.1, True).numpy()
    y = alpha_dropout(cr.Tensor(x), 0.1, True, cr.Generator(3)).data
    assert abs(y.mean() - yt.mean()) < 0.005 and abs(y.var() - yt.var()) < 0.01
    a, b = alpha_dropout_params(0.1)
    assert set(np.round(np.unique(yt[~np.isclose(yt, a * x + b)]), 12)) == {round(a * ALPHA_PRIME + b, 12)}
    xs = cr.Tensor(np.random.default_rng(4).standard_normal((5, 4)), requires_grad=True)
    assert cr.gradcheck(lambda t: alpha_dropout(t, 0.3, True, cr.Generator(7)), [xs])
    y = alpha_dropout(xs, 0.3, True, cr.Generator(7))
    y.sum().backward()
    keep = ~(cr.Generator(7).rng.random((5, 4)) < 0.3)
    np.testing.assert_allclose(xs.grad.data, alpha_dropout_params(0.3)[0] * keep, rtol=1e-15)


def test_alpha_dropout_errors():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.AlphaDropout(1.5)
