"""Elementwise arithmetic: gradcheck (float64), PyTorch forward+backward (rtol 1e-10), gradgradcheck."""

from __future__ import annotations

import numpy as np
import pytest
from _opcheck import check_op, rng_arrays
from helpers import compare_with_torch, t64

import chainrule as cr
from chainrule import ops

torch = pytest.importorskip("torch")

BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 1, 3), (4, 1))]

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b),
    "maximum": (ops.maximum, torch.maximum),
    "minimum": (ops.minimum, torch.minimum),
    "fn_add": (ops.add, torch.add),
    "fn_mul": (ops.mul, torch.mul),
    "fn_div": (ops.div, torch.div),
    "fn_sub": (ops.sub, torch.sub),
}


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_with_broadcasting(name, shapes):
    f, ft = BINARY[name]
    low = 0.5 if name in ("div", "pow", "fn_div") else -1.0
    arrays = rng_arrays(*shapes, seed=len(name), low=low, high=1.5)
    check_op(f, ft, arrays, smooth=name not in ("maximum", "minimum"))


SCALAR_CASES = {
    "add_r": (lambda a: a + 2.5, lambda a: a + 2.5),
    "radd": (lambda a: 2.5 + a, lambda a: 2.5 + a),
    "sub_r": (lambda a: a - 2.5, lambda a: a - 2.5),
    "rsub": (lambda a: 2.5 - a, lambda a: 2.5 - a),
    "mul_r": (lambda a: a * -1.5, lambda a: a * -1.5),
    "rmul": (lambda a: 3 * a, lambda a: 3 * a),
    "div_r": (lambda a: a / 4.0, lambda a: a / 4.0),
    "rdiv": (lambda a: 2.0 / a, lambda a: 2.0 / a),
    "neg": (lambda a: -a, lambda a: -a),
    "pow2": (lambda a: a ** 2, lambda a: a ** 2),
    "pow3": (lambda a: a ** 3, lambda a: a ** 3),
    "pow_half": (lambda a: a ** 0.5, lambda a: a ** 0.5),
    "pow_neg": (lambda a: a ** -1.5, lambda a: a ** -1.5),
    "rpow": (lambda a: 1.7 ** a, lambda a: 1.7 ** a),
    "np64_scalar": (lambda a: a * np.float64(1.5) + np.float64(0.5), lambda a: a * 1.5 + 0.5),
}


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
def test_scalar_operands(name):
    f, ft = SCALAR_CASES[name]
    check_op(f, ft, rng_arrays((3, 4), seed=1, low=0.5, high=2.0))


UNARY = {
    "exp": (ops.exp, torch.exp, (-2, 2)),
    "log": (ops.log, torch.log, (0.2, 3)),
    "log1p": (ops.log1p, torch.log1p, (-0.5, 3)),
    "expm1": (ops.expm1, torch.expm1, (-2, 2)),
    "sqrt": (ops.sqrt, torch.sqrt, (0.2, 3)),
    "sin": (ops.sin, torch.sin, (-3, 3)),
    "cos": (ops.cos, torch.cos, (-3, 3)),
    "erf": (ops.erf, torch.erf, (-2, 2)),
    "method_exp": (lambda a: a.exp(), lambda a: a.exp(), (-2, 2)),
    "method_log": (lambda a: a.log(), lambda a: a.log(), (0.2, 3)),
    "method_sqrt": (lambda a: a.sqrt(), lambda a: a.sqrt(), (0.2, 3)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_smooth_unary_ops(name):
    f, ft, (lo, hi) = UNARY[name]
    check_op(f, ft, rng_arrays((3, 5), seed=2, low=lo, high=hi))


def test_abs_and_subgradient_at_zero():
    """|x|: gradient sign(x), 0 at 0 (as PyTorch)."""
    check_op(ops.abs, torch.abs, [np.array([-1.5, -0.3, 0.4, 2.0])], smooth=False)
    check_op(lambda a: abs(a), lambda a: abs(a), [np.array([-1.5, 0.4])], smooth=False)
    x = t64([0.0, -2.0])
    ops.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, -1.0])


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (None, 0.2), (-0.2, None)])
def test_clip(lo, hi):
    arr = np.array([-1.0, -0.45, -0.1, 0.1, 0.3, 0.7, 1.2])
    check_op(lambda a: ops.clip(a, lo, hi), lambda a: torch.clamp(a, lo, hi), [arr], smooth=False)
    check_op(lambda a: a.clamp(lo, hi), lambda a: a.clamp(lo, hi), [arr], smooth=False)


def test_clip_gradient_at_the_boundary_is_one():
    """PyTorch's clamp passes the gradient where lo <= x <= hi (boundary included)."""
    arr = np.array([-0.5, 0.0, 0.5, 0.7])  # a kink: central differences would give 0.5 there
    compare_with_torch(lambda a: ops.clip(a, -0.5, 0.5), lambda a: torch.clamp(a, -0.5, 0.5), [arr])
    x = t64(arr)
    ops.clip(x, -0.5, 0.5).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1, 1, 1, 0])


def test_maximum_minimum_ties_split_evenly():
    """At a tie each operand receives half of the gradient (as PyTorch)."""
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0])
    check_op(ops.maximum, torch.maximum, [a, b], smooth=False)
    check_op(ops.minimum, torch.minimum, [a, b], smooth=False)
    x, y = t64(a), t64(b)
    ops.maximum(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(y.grad.data, [0.5, 0.0, 1.0])


def test_where_broadcasting():
    rng = np.random.default_rng(0)
    cond = rng.uniform(size=(3, 4)) > 0.5
    check_op(lambda a, b: ops.where(cond, a, b),
             lambda a, b: torch.where(torch.tensor(cond), a, b),
             [rng.normal(size=(3, 4)), rng.normal(size=(4,))])
    check_op(lambda a: ops.where(cr.Tensor(cond), a, 0.0), lambda a: torch.where(torch.tensor(cond), a, 0.0),
             [rng.normal(size=(3, 4))])


def test_pow_tensor_exponent_and_zero_exponent():
    rng = np.random.default_rng(3)
    check_op(lambda a, p: a ** p, lambda a, p: a ** p, [rng.uniform(0.5, 2, (2, 3)), rng.uniform(-1, 2, (2, 3))])
    # x**0: derivative 0 everywhere, also at 0 (regression: was nan)
    x = t64([0.0, 2.0])
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    # d/dx x**2 at 0 is 0; torch agrees for x**3 at 0
    check_op(lambda a: a ** 3, lambda a: a ** 3, [np.array([0.0, -1.0, 2.0])])


def test_integer_power_of_negative_base():
    check_op(lambda a: a ** 3, lambda a: a ** 3, [np.array([-2.0, -0.5, 1.5])])
    check_op(lambda a: a ** -2, lambda a: a ** -2, [np.array([-2.0, -0.5, 1.5])])


@pytest.mark.parametrize("fn", [ops.sign, ops.step])
def test_piecewise_constant_ops_refuse_gradients(fn):
    x = t64([-1.0, 0.5, 2.0])
    y = fn(x)
    assert y.requires_grad
    if fn is ops.sign:
        np.testing.assert_array_equal(y.data, [-1, 1, 1])
    else:
        np.testing.assert_array_equal(y.data, [0, 1, 1])
        assert y.dtype == np.float64
    with pytest.raises(RuntimeError, match="has no gradient.*piecewise constant"):
        y.sum().backward()
    with cr.no_grad():
        assert not fn(x).requires_grad  # forward use is fine
