"""Pooling ops: the spec's routing example, ties as PyTorch, gradcheck on tie-free inputs, PyTorch equality
and output sizes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import compare_with_torch, t64, torch_or_skip

import chainrule as cr
from chainrule.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    global_avg_pool2d,
    max_pool1d,
    max_pool2d,
    max_unpool2d,
    pool_output_size,
)


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _tie_free(*shape, seed=0):
    """Distinct values spaced ≥ 0.05 apart (finite differences never swap an arg-max)."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.05 - n * 0.025


def test_cnn_maxpool_spec_example():
    # spec: CNN-MAXPOOL: 2×2/2 -> [[4,2],[8,4]]; δ_out = ones -> 1 at (1,0), (0,2), (3,1), (3,3)
    x = t64(np.array([[1, 3, 2, 1], [4, 2, 0, 1], [5, 6, 1, 2], [7, 8, 3, 4]], float)[None, None])
    y = max_pool2d(x, 2)
    np.testing.assert_array_equal(y.data[0, 0], [[4, 2], [8, 4]])
    y.backward(cr.Tensor(np.ones((1, 1, 2, 2))))
    expect = np.zeros((4, 4))
    expect[1, 0] = expect[0, 2] = expect[3, 1] = expect[3, 3] = 1
    np.testing.assert_array_equal(x.grad.data[0, 0], expect)


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 1, 0), (2, 1, 0), (3, 2, 1), (2, 2, 1)])
def test_maxpool_ties_route_to_first_maximum_as_torch(k, s, p):
    # spec: CNN-MAXPOOL (errata F16: route to one element — the first maximum in row-major window order)
    torch = torch_or_skip()
    x = np.zeros((1, 2, 5, 5))
    x[0, 1, 1:4, 1:4] = 1.0          # plateaus of equal maxima
    X = t64(x)
    max_pool2d(X, k, s, p).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, k, s, p).sum().backward()
    np.testing.assert_array_equal(X.grad.data, xt.grad.numpy())
    # each window routes its δ to exactly one input
    X.grad = None
    y = max_pool2d(X, k, s, p)
    y.sum().backward()
    assert X.grad.data.sum() == y.size


GRID = [(k, s, p, d, c) for k, s, p in itertools.product((1, 2, 3), (None, 1, 2), (0, 1)) if 2 * p <= k
        for d, c in ((1, False), (2, True), (1, True))]


@pytest.mark.parametrize("k,s,p,d,ceil", GRID)
def test_max_pool2d_equals_torch(k, s, p, d, ceil):
    # spec: CNN-MAXPOOL, POOL-OUTSIZE
    torch = torch_or_skip()
    F = torch.nn.functional
    x = _r(2, 3, 7, 6, seed=k)
    try:
        F.max_pool2d(torch.tensor(x), k, s, p, d, ceil)
    except RuntimeError:
        pytest.skip("configuration rejected by PyTorch")
    compare_with_torch(lambda x: max_pool2d(x, k, s, p, d, ceil), lambda x: F.max_pool2d(x, k, s, p, d, ceil), [x])
    y, idx = max_pool2d(cr.Tensor(x), k, s, p, d, ceil, return_indices=True)
    _, it = F.max_pool2d(torch.tensor(x), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(idx.data, it.numpy())
    assert y.shape[2] == pool_output_size(7, k, s, p, d, ceil)


@pytest.mark.parametrize("k,s,p,d", [(2, 2, 0, 1), (3, 1, 1, 1), (3, 2, 1, 2), (2, 1, 0, 1)])
def test_max_pool_gradcheck_tie_free(k, s, p, d):
    # spec: CNN-MAXPOOL: gradcheck on tie-free inputs
    x = t64(_tie_free(1, 2, 5, 6, seed=k))
    assert cr.gradcheck(lambda x: max_pool2d(x, k, s, p, d), [x])
    assert cr.gradgradcheck(lambda x: max_pool2d(x, k, s, p, d) ** 2, [x])
    x1 = t64(_tie_free(2, 2, 7, seed=d))
    assert cr.gradcheck(lambda x: max_pool1d(x, k, s, p, d), [x1])


def test_max_pool1d_and_indices_equal_torch():
    torch = torch_or_skip()
    F = torch.nn.functional
    x = _r(2, 3, 11)
    compare_with_torch(lambda x: max_pool1d(x, 3, 2, 1), lambda x: F.max_pool1d(x, 3, 2, 1), [x])
    _, idx = max_pool1d(cr.Tensor(x), 2, return_indices=True)
    _, it = F.max_pool1d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(idx.data, it.numpy())


def test_max_unpool2d_places_values_at_argmax():
    torch = torch_or_skip()
    x = _r(2, 2, 6, 6)
    y, idx = max_pool2d(cr.Tensor(x), 2, return_indices=True)
    yt, it = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    up = max_unpool2d(y, idx, (6, 6))
    np.testing.assert_array_equal(up.data, torch.nn.functional.max_unpool2d(yt, it, 2).numpy())


AVG = [(k, s, p, c, cip) for k, s, p in itertools.product((1, 2, 3), (None, 1, 2), (0, 1)) if 2 * p <= k
       for c, cip in ((False, True), (True, False), (True, True))]


@pytest.mark.parametrize("k,s,p,ceil,cip", AVG)
def test_avg_pool2d_equals_torch(k, s, p, ceil, cip):
    # spec: CNN-AVGPOOL (count_include_pad=True default), POOL-OUTSIZE
    torch = torch_or_skip()
    F = torch.nn.functional
    x = _r(2, 3, 7, 6, seed=k)
    compare_with_torch(lambda x: avg_pool2d(x, k, s, p, ceil, cip), lambda x: F.avg_pool2d(x, k, s, p, ceil, cip), [x])


def test_avg_pool_spreads_delta_and_gradchecks():
    # spec: CNN-AVGPOOL: O = (1/f²) Σ_window X̃; backward spreads δ/f² (overlaps add)
    x = t64(_r(1, 1, 4, 4))
    y = avg_pool2d(x, 2)
    np.testing.assert_allclose(y.data[0, 0, 0, 0], x.data[0, 0, :2, :2].mean(), rtol=1e-15)
    y.backward(cr.Tensor(np.ones((1, 1, 2, 2))))
    np.testing.assert_array_equal(x.grad.data, 0.25)
    x.grad = None
    avg_pool2d(x, 3, 1).sum().backward()            # overlapping windows add
    np.testing.assert_allclose(x.grad.data[0, 0], np.outer([1, 2, 2, 1], [1, 2, 2, 1]) / 9, rtol=1e-15)
    for k, s, p in [(3, 2, 1), (2, 1, 0), (2, 2, 0)]:
        x = t64(_r(1, 2, 5, 5, seed=k))
        assert cr.gradcheck(lambda x, k=k, s=s, p=p: avg_pool2d(x, k, s, p), [x])
        assert cr.gradgradcheck(lambda x, k=k, s=s, p=p: avg_pool2d(x, k, s, p) ** 2, [x])
    compare_with_torch(lambda x: avg_pool1d(x, 3, 2, 1), lambda x: torch_or_skip().nn.functional.avg_pool1d(x, 3, 2, 1),
                       [_r(2, 3, 10)])


@pytest.mark.parametrize("out", [1, 2, 3, (2, 4), (5, 3), (7, 6), (None, 2)])
def test_adaptive_avg_pool2d_equals_torch(out):
    # spec: CNN-AVGPOOL (adaptive windows)
    torch = torch_or_skip()
    F = torch.nn.functional
    compare_with_torch(lambda x: adaptive_avg_pool2d(x, out), lambda x: F.adaptive_avg_pool2d(x, out), [_r(2, 3, 7, 6)])


def test_adaptive_1d_and_global_average_pooling():
    # spec: CNN-AVGPOOL: global mean over H, W -> (N, C)
    torch = torch_or_skip()
    compare_with_torch(lambda x: adaptive_avg_pool1d(x, 4), lambda x: torch.nn.functional.adaptive_avg_pool1d(x, 4),
                       [_r(2, 3, 10)])
    x = t64(_r(2, 3, 4, 5))
    g = global_avg_pool2d(x)
    assert g.shape == (2, 3)
    np.testing.assert_allclose(g.data, x.data.mean(axis=(2, 3)), rtol=1e-14)
    assert global_avg_pool2d(x, keepdim=True).shape == (2, 3, 1, 1)
    np.testing.assert_allclose(adaptive_avg_pool2d(x, 1).data[:, :, 0, 0], g.data, rtol=1e-14)
    assert cr.gradcheck(lambda x: adaptive_avg_pool2d(x, (3, 2)), [t64(_r(1, 2, 4, 5))])


def test_pool_outsize():
    # spec: POOL-OUTSIZE: 3×3, s = 1 on 5×5 -> 3×3; i = 5, k = 2, s = 2 -> 2 (floor), 3 (ceil_mode)
    assert pool_output_size(5, 3, 1) == 3
    assert max_pool2d(cr.Tensor(np.zeros((1, 1, 5, 5))), 3, 1).shape[2:] == (3, 3)
    assert pool_output_size(5, 2, 2) == 2 and pool_output_size(5, 2, 2, ceil_mode=True) == 3
    assert max_pool2d(cr.Tensor(np.zeros((1, 1, 5, 5))), 2, ceil_mode=True).shape[2:] == (3, 3)
    # ceil mode drops a last window that would start in the right padding
    assert pool_output_size(6, 2, 2, 1, ceil_mode=True) == 4
    with pytest.raises(ValueError, match="padding"):
        pool_output_size(5, 2, 2, 2)
    with pytest.raises(ValueError, match="size < 1"):
        max_pool2d(cr.Tensor(np.zeros((1, 1, 2, 2))), 3)


def test_pooling_keeps_float32():
    x = cr.Tensor(_r(2, 3, 8, 8).astype(np.float32), requires_grad=True)
    for f in (lambda x: max_pool2d(x, 2), lambda x: max_pool2d(x, 3, 2, 1), lambda x: avg_pool2d(x, 2),
              lambda x: avg_pool2d(x, 3, 2, 1), lambda x: adaptive_avg_pool2d(x, 3)):
        x.grad = None
        y = f(x)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32


TILED = [((2, 2), (6, 8)), ((3, 3), (7, 9)), ((2, 3), (5, 7)), ((1, 2), (4, 6)), ((3, 1), (6, 5)), ((4, 4), (8, 8))]


@pytest.mark.parametrize("k,hw", TILED)
@pytest.mark.parametrize("data", ["normal", "ties", "relu"])
def test_tiled_max_pool_two_stage_path_equals_torch(k, hw, data):
    # spec: CNN-MAXPOOL: the separable fast path for non-overlapping windows (incl. a dropped remainder)
    # routes exactly as PyTorch: first maximum in row-major window order, at plateaus of ties too
    torch = torch_or_skip()
    rng = np.random.default_rng(sum(k) + hw[0])
    x = rng.standard_normal((3, 2) + hw)
    if data == "ties":
        x = np.round(x)                     # many equal maxima inside windows
    elif data == "relu":
        x = np.maximum(x, 0)                # all-zero windows, as after a ReLU
    dy = rng.standard_normal((3, 2, hw[0] // k[0], hw[1] // k[1]))
    X = t64(x)
    y, idx = max_pool2d(X, k, return_indices=True)
    y.backward(cr.Tensor(dy))
    xt = torch.tensor(x, requires_grad=True)
    yt, it = torch.nn.functional.max_pool2d(xt, k, return_indices=True)
    yt.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    np.testing.assert_array_equal(idx.data, it.numpy())
    np.testing.assert_array_equal(X.grad.data, xt.grad.numpy())
    X32 = cr.Tensor(x.astype(np.float32), requires_grad=True)   # float32: the bool-mask route
    max_pool2d(X32, k).backward(cr.Tensor(dy.astype(np.float32)))
    np.testing.assert_array_equal(X32.grad.data, xt.grad.numpy().astype(np.float32))


@pytest.mark.parametrize("k", [2, 3])
def test_tiled_max_pool_nan_and_inf_follow_torch(k):
    # a NaN is the maximum of its window and takes the gradient (the last NaN, PyTorch's rule); an
    # infinite upstream gradient reaches only the arg-max (no inf·0 = NaN elsewhere)
    torch = torch_or_skip()
    x = _r(2, 2, 3 * k, 3 * k, seed=k)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = x[1, 1, 2, 2] = np.nan
    dy = np.ones((2, 2, 3, 3))
    dy[0, 1, 1, 1] = np.inf
    X = t64(x)
    y, idx = max_pool2d(X, k, return_indices=True)
    y.backward(cr.Tensor(dy))
    xt = torch.tensor(x, requires_grad=True)
    yt, it = torch.nn.functional.max_pool2d(xt, k, return_indices=True)
    yt.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y.data, yt.detach().numpy())     # NaN == NaN for assert_array_equal
    np.testing.assert_array_equal(idx.data, it.numpy())
    np.testing.assert_array_equal(X.grad.data, xt.grad.numpy())


def test_tiled_max_pool_without_grad_skips_the_arg_max():
    # under no_grad (inference) only the maxima are computed; a later index request still works
    x = _r(2, 3, 8, 8)
    with cr.no_grad():
        y = max_pool2d(cr.Tensor(x), 2)
    np.testing.assert_array_equal(y.data, x.reshape(2, 3, 4, 2, 4, 2).max(axis=(3, 5)))
