"""matmul (batched, broadcasting, 1-D operands), linear, outer, dot.

spec: MLP-FORWARD, CLS-LINEAR-MODEL
"""

from __future__ import annotations

import numpy as np
import pytest
from _opcheck import check_op, rng_arrays
from helpers import t64

import chainrule as cr
from chainrule import ops

torch = pytest.importorskip("torch")

MATMUL_SHAPES = [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                 ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, rng_arrays(*shapes, seed=len(shapes[0])))
    check_op(ops.matmul, torch.matmul, rng_arrays(*shapes, seed=1))


def test_matmul_with_constant_operand_and_reflected():
    A = np.random.default_rng(0).normal(size=(4, 3))
    check_op(lambda b: A @ b, lambda b: torch.tensor(A) @ b, rng_arrays((3, 2)))
    check_op(lambda a: a @ A, lambda a: a @ torch.tensor(A), rng_arrays((2, 4)))


def test_matmul_shape_error():
    with pytest.raises(ValueError, match="do not align.*inner dimensions must match"):
        cr.Tensor(np.ones((2, 3))) @ cr.Tensor(np.ones((2, 3)))


@pytest.mark.parametrize("xshape", [(5, 4), (2, 5, 4), (4,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(xshape, bias):
    """Y = X Wᵀ + b with W (out, in)."""
    arrays = rng_arrays(xshape, (3, 4), (3,), seed=2)
    if bias:
        check_op(ops.linear, torch.nn.functional.linear, arrays)
    else:
        check_op(lambda x, w: ops.linear(x, w), lambda x, w: torch.nn.functional.linear(x, w), arrays[:2])


def test_linear_partial_requires_grad_and_errors():
    rng = np.random.default_rng(0)
    X, W, b = rng.normal(size=(5, 4)), rng.normal(size=(3, 4)), rng.normal(size=3)
    w = t64(W)
    ops.linear(cr.Tensor(X), w, cr.Tensor(b)).sum().backward()
    np.testing.assert_allclose(w.grad.data, np.ones((5, 3)).T @ X)
    with pytest.raises(ValueError, match="input has 5 features.*weight expects 4.*\\(out, in\\)"):
        ops.linear(cr.Tensor(np.ones((2, 5))), w)
    with pytest.raises(ValueError, match="bias"):
        ops.linear(cr.Tensor(X), w, cr.Tensor(np.ones(4)))


def test_linear_bias_trick():
    """spec: CLS-LINEAR-MODEL — x̃ = (1, x), w̃ = (b, w) gives the same predictions as Y = XWᵀ + b."""
    rng = np.random.default_rng(1)
    X, W, b = rng.normal(size=(6, 4)), rng.normal(size=(3, 4)), rng.normal(size=3)
    explicit = ops.linear(t64(X), t64(W), t64(b)).data
    Xa = np.hstack([np.ones((6, 1)), X])
    Wa = np.hstack([b[:, None], W])
    np.testing.assert_allclose(ops.linear(t64(Xa), t64(Wa)).data, explicit, rtol=1e-14)
    np.testing.assert_allclose(explicit, X @ W.T + b, rtol=1e-14)


def test_outer_dot():
    check_op(ops.outer, torch.outer, rng_arrays((3,), (4,)))
    check_op(ops.dot, torch.dot, rng_arrays((4,), (4,), seed=3))
