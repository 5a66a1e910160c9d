"""Reductions and the softmax family: gradcheck, PyTorch forward+backward, gradgradcheck, stability.

spec: MLP-SOFTMAX
"""

from __future__ import annotations

import numpy as np
import pytest
from _opcheck import check_op, rng_arrays
from helpers import compare_with_torch, t64

import chainrule as cr
from chainrule import ops

torch = pytest.importorskip("torch")

X = rng_arrays((2, 3, 4), seed=0)
AXES = [None, 0, -1, (0, 2), (1,)]


def _tdim(axis):
    return tuple(range(3)) if axis is None else axis


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
def test_sum_mean(axis, keepdim):
    check_op(lambda a: ops.sum(a, axis, keepdim) ** 2, lambda a: a.sum(_tdim(axis), keepdim) ** 2, X)
    check_op(lambda a: ops.mean(a, axis, keepdim) ** 2, lambda a: a.mean(_tdim(axis), keepdim) ** 2, X)


def test_method_forms():
    check_op(lambda a: a.sum(dim=1, keepdim=True) * a, lambda a: a.sum(dim=1, keepdim=True) * a, X)
    check_op(lambda a: a.sum(axis=1, keepdims=True) * a, lambda a: a.sum(dim=1, keepdim=True) * a, X)
    check_op(lambda a: a.mean(axis=(0, 1)), lambda a: a.mean(dim=(0, 1)), X)


@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("axis", AXES, ids=str)
def test_var_std(axis, ddof):
    check_op(lambda a: ops.var(a, axis, ddof), lambda a: torch.var(a, _tdim(axis), correction=ddof), X)
    check_op(lambda a: ops.std(a, axis, ddof), lambda a: torch.std(a, _tdim(axis), correction=ddof), X)
    check_op(lambda a: a.var(axis, correction=ddof, keepdim=True),
             lambda a: torch.var(a, _tdim(axis), correction=ddof, keepdim=True), X)


def test_var_of_float32_stays_float32():
    """Regression: var() called the module's own max() on Python ints and returned a float64 tensor."""
    x = cr.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    v = x.var(1)
    assert v.dtype == np.float32
    np.testing.assert_allclose(v.data, [2 / 3, 2 / 3], rtol=1e-6)
    np.testing.assert_allclose(x.var(correction=1).data, np.var(np.arange(6), ddof=1), rtol=1e-6)


@pytest.mark.parametrize("fn,tfn", [(ops.max, torch.amax), (ops.min, torch.amin)])
@pytest.mark.parametrize("axis", AXES, ids=str)
def test_max_min(fn, tfn, axis):
    check_op(lambda a: fn(a, axis) * 2.0, lambda a: tfn(a, _tdim(axis)) * 2.0, X, smooth=False)
    check_op(lambda a: fn(a, axis, keepdims=True) * a, lambda a: tfn(a, _tdim(axis), keepdim=True) * a, X,
             smooth=False)


def test_max_ties_split_evenly():
    """Tied maxima share the gradient equally (documented; as torch.amax)."""
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    # at a tie the function has a kink: compare with PyTorch, not with central differences
    compare_with_torch(lambda t: ops.max(t, 1), lambda t: torch.amax(t, 1), [a])
    compare_with_torch(lambda t: ops.min(t), lambda t: torch.amin(t), [a])
    x = t64(a)
    x.max(1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 0.5, 0.5], [0, 0, 0]])


def test_argmax_argmin():
    a = cr.Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(a.argmax(1).data, [1, 0])
    np.testing.assert_array_equal(a.argmin(dim=1).data, [0, 1])
    assert ops.argmax(a).item() == 3 and not ops.argmax(a).requires_grad


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("axis", [-1, 0, (1, 2)], ids=str)
def test_logsumexp(axis, keepdim):
    check_op(lambda a: ops.logsumexp(a, axis, keepdim), lambda a: torch.logsumexp(a, axis, keepdim), X)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_log_softmax(axis):
    check_op(lambda a: ops.softmax(a, axis), lambda a: torch.softmax(a, axis), X)
    check_op(lambda a: ops.log_softmax(a, axis), lambda a: torch.log_softmax(a, axis), X)
    check_op(lambda a: a.softmax(axis) * a, lambda a: a.softmax(axis) * a, X)


def test_softmax_values_and_stability():
    """spec: MLP-SOFTMAX — softmax(1, 2, 3) = (0.090031, 0.244728, 0.665241); finite for (1000, 0)."""
    np.testing.assert_allclose(ops.softmax(t64([1.0, 2.0, 3.0])).data, [0.090031, 0.244728, 0.665241], atol=1e-6)
    for dtype in (np.float32, np.float64):
        s = cr.Tensor(np.array([[1000.0, 0.0], [-1000.0, 1000.0]], dtype=dtype), requires_grad=True)
        p = ops.softmax(s)
        lp = ops.log_softmax(s)
        lse = ops.logsumexp(s)
        assert np.isfinite(p.data).all() and np.isfinite(lp.data).all() and np.isfinite(lse.data).all()
        np.testing.assert_allclose(p.data, [[1, 0], [0, 1]])
        np.testing.assert_allclose(lp.data, [[0, -1000], [-2000, 0]])
        np.testing.assert_allclose(lse.data, [1000, 1000])
        (lp[:, 0].sum() + lse.sum()).backward()
        assert np.isfinite(s.grad.data).all()
        assert p.dtype == lp.dtype == lse.dtype == s.grad.dtype == dtype


def test_softmax_shift_invariance_and_normalisation():
    s = np.random.default_rng(0).normal(size=(4, 5))
    p = ops.softmax(t64(s)).data
    np.testing.assert_allclose(p, ops.softmax(t64(s + 123.0)).data, atol=1e-15)
    np.testing.assert_allclose(p.sum(-1), 1, atol=1e-15)
    assert (p > 0).all()
    np.testing.assert_allclose(ops.log_softmax(t64(s)).data, s - ops.logsumexp(t64(s), -1, True).data, atol=1e-14)


def test_logsumexp_of_minus_inf_row():
    x = t64(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]))
    out = ops.logsumexp(x, -1)
    assert out.data[0] == -np.inf and out.data[1] == 0.0
