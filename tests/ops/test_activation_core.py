"""The core activations of ops.activation: gradcheck (float64), PyTorch forward+backward (rtol 1e-10),
gradgradcheck where smooth; step/sign refuse gradients.  (The activation module has its own owner;
these are the foundation's checks of the ones the engine relies on.)

spec: MLP-SIGMOID-DERIV
"""

from __future__ import annotations

import numpy as np
import pytest
from _opcheck import check_op
from helpers import t64

import chainrule as cr
from chainrule import ops

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# inputs away from the kinks (0 for relu-like units) so central differences are valid
X = [np.array([[-2.5, -1.1, -0.3, 0.2, 0.9, 3.0], [-0.7, 0.45, 1.6, -4.0, 2.2, -0.05]])]

CASES = {
    "sigmoid": (ops.sigmoid, torch.sigmoid, True),
    "tanh": (ops.tanh, torch.tanh, True),
    "relu": (ops.relu, torch.relu, False),
    "leaky_relu": (ops.leaky_relu, TF.leaky_relu, False),
    "leaky_relu_0.2": (lambda a: ops.leaky_relu(a, 0.2), lambda a: TF.leaky_relu(a, 0.2), False),
    "elu": (ops.elu, TF.elu, False),
    "elu_alpha": (lambda a: ops.elu(a, 0.7), lambda a: TF.elu(a, 0.7), False),
    "selu": (ops.selu, TF.selu, False),
    "softplus": (ops.softplus, TF.softplus, True),
    "softplus_beta": (lambda a: ops.softplus(a, beta=2.0, threshold=3.0),
                      lambda a: TF.softplus(a, beta=2.0, threshold=3.0), False),
    "gelu": (ops.gelu, TF.gelu, True),
    "gelu_tanh": (lambda a: ops.gelu(a, "tanh"), lambda a: TF.gelu(a, approximate="tanh"), True),
    "silu": (ops.silu, TF.silu, True),
    "method_sigmoid": (lambda a: a.sigmoid(), lambda a: a.sigmoid(), True),
    "method_tanh": (lambda a: a.tanh(), lambda a: a.tanh(), True),
    "method_relu": (lambda a: a.relu(), lambda a: a.relu(), False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_activation(name):
    f, ft, smooth = CASES[name]
    check_op(f, ft, X, smooth=smooth)


@pytest.mark.parametrize("name", ["elu", "selu", "leaky_relu"])
def test_piecewise_smooth_second_derivatives(name):
    """Away from 0, the second derivative of the piecewise units is exact too."""
    f = CASES[name][0]
    assert cr.gradgradcheck(f, [t64(X[0])])


def test_relu_derivative_at_zero_is_zero():
    x = t64([0.0, -1.0, 1.0])
    ops.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 0, 1])


@pytest.mark.parametrize("fn", [ops.sigmoid, ops.tanh, ops.softplus, ops.gelu, ops.silu, ops.elu, ops.selu])
def test_finite_at_extremes(fn):
    x = cr.Tensor(np.array([-1000.0, -50.0, 50.0, 1000.0]), requires_grad=True)
    y = fn(x)
    y.sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()


def test_sigmoid_tanh_derivatives_match_formula():
    """σ' = σ(1 − σ) ≤ 0.25, tanh' = 1 − tanh²."""
    z = np.linspace(-6, 6, 25)
    x = t64(z)
    ops.sigmoid(x).sum().backward()
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(x.grad.data, s * (1 - s), rtol=1e-13)
    assert x.grad.data.max() == 0.25
    x = t64(z)
    ops.tanh(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 1 - np.tanh(z) ** 2, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("fn", [ops.step, ops.sign])
def test_step_sign_raise_on_gradient_request(fn):
    x = t64([-1.0, 2.0])
    with pytest.raises(RuntimeError, match="has no gradient"):
        cr.grad(fn(x).sum(), x)
    with pytest.raises(RuntimeError, match="has no gradient"):
        (fn(x) * 2).sum().backward()
