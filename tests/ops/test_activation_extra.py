"""Activation ops: float64 gradchecks, second derivatives, PyTorch equality (values, gradients, kinks),
overflow at ±1000, dtype preservation, and the spec's computed values.

spec: ACT-SIGMOID ACT-TANH ACT-RELU ACT-LEAKY-RELU ACT-ELU ACT-SELU ACT-BASIC-000 MLP-SIGMOID-DERIV
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import compare_with_torch, torch_or_skip
from scipy import special as sp

import chainrule as cr
from chainrule import ops
from chainrule.ops import activation as A

torch = torch_or_skip()
F = torch.nn.functional

# name, chainrule fn, torch fn, kink points (first derivative jumps), smooth (C² away from kinks)
CASES = [
    ("sigmoid", A.sigmoid, torch.sigmoid, []),
    ("tanh", A.tanh, torch.tanh, []),
    ("relu", A.relu, F.relu, [0.0]),
    ("leaky_relu", A.leaky_relu, F.leaky_relu, [0.0]),
    ("leaky_relu_0.2", lambda x: A.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2), [0.0]),
    ("elu", A.elu, F.elu, [0.0]),
    ("elu_0.5", lambda x: A.elu(x, 0.5), lambda x: F.elu(x, 0.5), [0.0]),
    ("selu", A.selu, F.selu, [0.0]),
    ("celu", A.celu, F.celu, [0.0]),
    ("celu_0.5", lambda x: A.celu(x, 0.5), lambda x: F.celu(x, 0.5), [0.0]),
    ("softplus", A.softplus, F.softplus, []),
    ("softplus_beta2_thr3", lambda x: A.softplus(x, 2.0, 3.0), lambda x: F.softplus(x, 2.0, 3.0), [1.5]),
    ("logsigmoid", A.logsigmoid, F.logsigmoid, []),
    ("gelu", A.gelu, F.gelu, []),
    ("gelu_tanh", lambda x: A.gelu(x, "tanh"), lambda x: F.gelu(x, approximate="tanh"), []),
    ("silu", A.silu, F.silu, []),
    ("mish", A.mish, F.mish, []),
    ("softsign", A.softsign, F.softsign, []),
    ("hardtanh", A.hardtanh, F.hardtanh, [-1.0, 1.0]),
    ("hardtanh_-2_0.5", lambda x: A.hardtanh(x, -2.0, 0.5), lambda x: F.hardtanh(x, -2.0, 0.5), [-2.0, 0.5]),
    ("relu6", A.relu6, F.relu6, [0.0, 6.0]),
    ("hardsigmoid", A.hardsigmoid, F.hardsigmoid, [-3.0, 3.0]),
    ("hardswish", A.hardswish, F.hardswish, [-3.0, 3.0]),
]
IDS = [c[0] for c in CASES]


def _points(kinks, seed=0, n=40):
    """Random points in [−7, 7] plus the exact kinks, as a (−1, 2) array."""
    pts = list(np.random.default_rng(seed).uniform(-7, 7, size=n)) + [float(k) for k in kinks]
    if len(pts) % 2:
        pts.append(0.3)
    return np.array(pts).reshape(-1, 2)


def _away_from_kinks(kinks, seed=1, n=12):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 5, size=n)
    for k in kinks + [0.0]:
        x = np.where(np.abs(x - k) < 0.05, x + 0.2, x)
    return x.reshape(3, 4)


@pytest.mark.parametrize("name,f,tf,kinks", CASES, ids=IDS)
def test_matches_torch_forward_backward_including_kinks(name, f, tf, kinks):
    # spec: ACT-RELU ACT-LEAKY-RELU ACT-ELU ACT-SELU (derivative conventions at the kinks = PyTorch's)
    # PyTorch's float64 hardsigmoid backward multiplies by the float32 constant 1.0f/6 (relative error
    # 3e-8); chainrule uses the exact 1/6 (test_hardsigmoid_gradient_exact), so that case gets rtol 1e-7.
    compare_with_torch(f, tf, [_points(kinks)], rtol=1e-7 if name == "hardsigmoid" else 1e-10)


@pytest.mark.parametrize("name,f,tf,kinks", CASES, ids=IDS)
def test_gradcheck_and_gradgradcheck_float64(name, f, tf, kinks):
    x = cr.Tensor(_away_from_kinks(kinks), requires_grad=True)
    assert cr.gradcheck(f, [x], atol=1e-7, rtol=1e-6)
    assert cr.gradgradcheck(f, [x], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name,f,tf,kinks", CASES, ids=IDS)
def test_second_derivative_matches_torch(name, f, tf, kinks):
    """Differentiate the backward pass (create_graph) and compare d/dx <∂f/∂x, v> with PyTorch."""
    xa = _away_from_kinks(kinks, seed=2)
    v = np.random.default_rng(3).standard_normal(xa.shape)
    x = cr.Tensor(xa.copy(), requires_grad=True)
    g = cr.grad(f(x), x, grad_outputs=cr.Tensor(v), create_graph=True)
    gg = cr.grad((g * cr.Tensor(v)).sum(), x, materialize=True) if g.requires_grad else cr.Tensor(np.zeros_like(xa))
    xt = torch.tensor(xa, requires_grad=True)
    (gt,) = torch.autograd.grad(tf(xt), xt, grad_outputs=torch.tensor(v), create_graph=True)
    ggt = np.zeros_like(xa)  # piecewise-linear units: f'' = 0 (PyTorch has no double backward for hardsigmoid)
    if gt.requires_grad and name != "hardsigmoid":
        (ggt,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), xt, allow_unused=True)
        ggt = np.zeros_like(xa) if ggt is None else ggt.numpy()
    np.testing.assert_allclose(g.data, gt.detach().numpy(), rtol=1e-7 if name == "hardsigmoid" else 1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(gg.data, ggt, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,f,tf,kinks", CASES, ids=IDS)
def test_finite_at_plus_minus_1000(name, f, tf, kinks):
    # spec: ACT-BASIC-000 ACT-SIGMOID (finite at ±1000, values and gradients)
    x = cr.Tensor(np.array([-1000.0, -50.0, 50.0, 1000.0]), requires_grad=True)
    y = f(x)
    y.sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()
    xt = torch.tensor(x.data.copy(), requires_grad=True)
    yt = tf(xt)
    yt.sum().backward()
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-7 if name == "hardsigmoid" else 1e-12,
                               atol=1e-300)


@pytest.mark.parametrize("name,f,tf,kinks", CASES, ids=IDS)
def test_float32_in_float32_out(name, f, tf, kinks):
    x = cr.Tensor(np.linspace(-4, 4, 9, dtype=np.float32), requires_grad=True)
    y = f(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(y.data, f(cr.Tensor(x.data.astype(np.float64))).data, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ PReLU (learnable slope)
@pytest.mark.parametrize("shape,c", [((5, 3), 3), ((2, 3, 4), 3), ((2, 3, 2, 2), 1), ((6,), 1)])
def test_prelu_matches_torch_including_slope_gradient(shape, c):
    # spec: ACT-LEAKY-RELU (parametric slope)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    x.flat[0] = 0.0  # the kink: derivative a (PyTorch)
    w = rng.uniform(0.05, 0.5, size=c)
    compare_with_torch(A.prelu, F.prelu, [x, w])


def test_prelu_gradcheck_gradgradcheck():
    rng = np.random.default_rng(1)
    x = cr.Tensor(rng.uniform(0.2, 2, size=(4, 3, 2)) * rng.choice([-1, 1], size=(4, 3, 2)), requires_grad=True)
    w = cr.Tensor(np.array([0.1, 0.25, -0.3]), requires_grad=True)
    assert cr.gradcheck(A.prelu, [x, w])
    assert cr.gradgradcheck(A.prelu, [x, w])


def test_prelu_rejects_mismatched_channels():
    with pytest.raises(ValueError, match="channels"):
        A.prelu(cr.Tensor(np.zeros((2, 4))), cr.Tensor(np.ones(3)))


# ------------------------------------------------------------------ spec values
def test_sigmoid_spec_values():
    # spec: ACT-SIGMOID (σ'(2), tanh identity, max σ' = 1/4 at 0; erratum N22: σ' = eˣ/(1 + eˣ)²)
    x = cr.Tensor(np.array([2.0, 0.0, -2.0]), requires_grad=True)
    y = A.sigmoid(x)
    y.sum().backward()
    assert x.grad.data[0] == pytest.approx(0.10499358540350662, rel=1e-15)
    assert x.grad.data[1] == 0.25
    e = np.exp(x.data)
    np.testing.assert_allclose(x.grad.data, e / (1 + e) ** 2, rtol=1e-15)
    assert not np.allclose(x.grad.data, e / (1 + e * e))  # the printed (A.16) is wrong
    z = np.linspace(-30, 30, 1001)
    np.testing.assert_allclose(A.sigmoid(cr.Tensor(z)).data, 0.5 * (np.tanh(z / 2) + 1), atol=1e-15)
    assert A.sigmoid(cr.Tensor(np.array([1000.0]))).data[0] == 1.0
    assert A.sigmoid(cr.Tensor(np.array([-1000.0]))).data[0] == 0.0


def test_sigmoid_derivative_from_saved_output():
    # spec: MLP-SIGMOID-DERIV σ(3) = 0.952574, σ'(3) = 0.045177
    x = cr.Tensor(np.array([3.0]), requires_grad=True)
    y = A.sigmoid(x)
    y.backward(cr.Tensor(np.ones(1)))
    assert y.data[0] == pytest.approx(0.952574, abs=1e-6)
    assert x.grad.data[0] == pytest.approx(0.045177, abs=1e-6)


def test_tanh_derivative_and_oddness():
    # spec: ACT-TANH tanh' = 1 − tanh², max 1 at 0, odd
    x = cr.Tensor(np.array([-1.3, 0.0, 0.7]), requires_grad=True)
    y = A.tanh(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 1 - np.tanh(x.data) ** 2, rtol=1e-15)
    assert x.grad.data[1] == 1.0
    np.testing.assert_array_equal(A.tanh(cr.Tensor(-x.data)).data, -y.data)


def test_relu_and_leaky_derivative_at_zero():
    # spec: ACT-RELU (erratum N23: ReLU'(0) = 0, PyTorch) ACT-LEAKY-RELU (derivative at 0 = 0.01)
    x = cr.Tensor(np.array([0.0]), requires_grad=True)
    A.relu(x).sum().backward()
    assert x.grad.data[0] == 0.0
    x = cr.Tensor(np.array([0.0]), requires_grad=True)
    A.leaky_relu(x).sum().backward()
    assert x.grad.data[0] == 0.01


def test_elu_spec_values():
    # spec: ACT-ELU ELU(−1) = −0.6321205588285577, ELU'(−1) = 0.36787944117144233, α at 0
    x = cr.Tensor(np.array([-1.0, 0.0]), requires_grad=True)
    y = A.elu(x)
    y.sum().backward()
    assert y.data[0] == pytest.approx(-0.6321205588285577, rel=1e-15)
    assert x.grad.data[0] == pytest.approx(0.36787944117144233, rel=1e-15)
    x2 = cr.Tensor(np.array([0.0]), requires_grad=True)
    A.elu(x2, alpha=0.5).sum().backward()
    assert x2.grad.data[0] == 0.5


def test_selu_constants_and_kink():
    # spec: ACT-SELU α₀₁ = −√(2/π)/(erfc(1/√2)e^{1/2} − 1), λα = 1.7580993408473768599…, derivative λα at 0
    # (erratum N20: the derivative at 0 is a convention; the library uses λα as PyTorch)
    alpha = -math.sqrt(2 / math.pi) / (sp.erfc(1 / math.sqrt(2)) * math.exp(0.5) - 1)
    assert alpha == pytest.approx(A.SELU_ALPHA, rel=1e-15)
    assert A.SELU_ALPHA == 1.6732632423543772848170429916717
    assert A.SELU_SCALE == 1.0507009873554804934193349852946
    la = A.SELU_SCALE * A.SELU_ALPHA
    assert la == pytest.approx(1.7580993408473768599402175208123, rel=1e-15)
    x = cr.Tensor(np.array([0.0, -1e3, 2.0]), requires_grad=True)
    y = A.selu(x)
    y.sum().backward()
    assert x.grad.data[0] == pytest.approx(la, rel=1e-15)
    assert y.data[1] == pytest.approx(-la, rel=1e-15)  # range (−λα, ∞)
    assert x.grad.data[2] == A.SELU_SCALE


def test_selu_zero_mean_unit_variance_fixed_point():
    # spec: ACT-SELU E[selu(Z)] = 0, E[selu(Z)²] = 1 (1e-12)
    from chainrule.nn.init import moment
    assert abs(moment(A.selu, 1.0, 1)) < 1e-12
    assert abs(moment(A.selu, 1.0, 2) - 1.0) < 1e-12


def test_celu_gradient_is_exact_for_any_alpha():
    """CELU'(x) = e^{x/α} (x ≤ 0).  PyTorch 2.x rounds 1/α to float32 in its float64 CELU backward (relative
    error ~1e-7 for α = 0.7), so this case is checked against the closed form instead of torch."""
    x = cr.Tensor(np.array([-6.5, -3.4, -1.0, -1e-3]), requires_grad=True)
    y = A.celu(x, 0.7)
    y.sum().backward()
    np.testing.assert_allclose(y.data, 0.7 * np.expm1(x.data / 0.7), rtol=1e-15)
    np.testing.assert_allclose(x.grad.data, np.exp(x.data / 0.7), rtol=1e-12)
    assert cr.gradcheck(lambda t: A.celu(t, 0.7), [x])


def test_elu_family_gradient_accurate_far_left():
    """ELU'(x) = αeˣ computed from x: the saved-output form out + α cancels to 0 at x = −50."""
    x = cr.Tensor(np.array([-50.0, -700.0]), requires_grad=True)
    A.elu(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data), rtol=1e-14, atol=0)
    x = cr.Tensor(np.array([-50.0]), requires_grad=True)
    A.selu(x).sum().backward()
    assert x.grad.data[0] == pytest.approx(A.SELU_SCALE * A.SELU_ALPHA * math.exp(-50), rel=1e-14)


def test_hardsigmoid_gradient_exact():
    x = cr.Tensor(np.array([-2.9, 0.0, 1.7, -3.0, 3.0, 5.0]), requires_grad=True)
    A.hardsigmoid(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1 / 6, 1 / 6, 1 / 6, 0, 0, 0])


def test_softplus_formula_and_derivative():
    # spec: ACT-BASIC-000 ζ(z) = log(1 + e^z) = max(z, 0) + log1p(e^{−|z|}), ζ' = σ
    z = np.linspace(-30, 30, 61)
    x = cr.Tensor(z, requires_grad=True)
    y = A.softplus(x, threshold=np.inf)  # no linear switch-over: the pure formula
    y.sum().backward()
    np.testing.assert_allclose(y.data, np.logaddexp(0, z), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(x.grad.data, sp.expit(z), rtol=1e-12)


def test_logsigmoid_is_minus_softplus_of_minus_x():
    z = np.linspace(-40, 40, 81)
    np.testing.assert_allclose(A.logsigmoid(cr.Tensor(z)).data, -A.softplus(cr.Tensor(-z), threshold=1e9).data,
                               rtol=1e-14, atol=1e-300)


def test_swish_alias_and_ops_exports():
    assert A.swish is A.silu and A.log_sigmoid is A.logsigmoid
    for n in ["celu", "prelu", "hardtanh", "relu6", "hardsigmoid", "hardswish", "softsign", "mish", "logsigmoid"]:
        assert callable(getattr(ops, n))


def test_errors_are_explicit():
    with pytest.raises(ValueError, match="approximate"):
        A.gelu(cr.Tensor(np.zeros(2)), approximate="fast")
    with pytest.raises(ValueError, match="min_val"):
        A.hardtanh(cr.Tensor(np.zeros(2)), 1.0, -1.0)
    with pytest.raises(ValueError, match="alpha"):
        A.celu(cr.Tensor(np.zeros(2)), 0.0)
