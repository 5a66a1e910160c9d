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
    adaptive_max_pool1d,
    adaptive_max_pool2d,
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


# ----------------------------------------------------------------------------- NaN / -inf on the general path
def _torch_max_pool(torch, x, dy, *args, nd=2):
    F = torch.nn.functional
    xt = torch.tensor(x, requires_grad=True)
    yt, it = (F.max_pool2d if nd == 2 else F.max_pool1d)(xt, *args, return_indices=True)
    yt.backward(torch.tensor(dy))
    return yt.detach().numpy(), it.numpy(), xt.grad.numpy()


def _check_max_pool_against_torch(x, dy, args, nd=2):
    """values (NaN == NaN), indices and gradients — plain backward and create_graph — equal PyTorch's."""
    torch = torch_or_skip()
    pool = max_pool2d if nd == 2 else max_pool1d
    yt, it, gt = _torch_max_pool(torch, x, dy, *args, nd=nd)
    X = t64(x)
    y, idx = pool(X, *args, return_indices=True)
    np.testing.assert_array_equal(y.data, yt)
    np.testing.assert_array_equal(idx.data, it)
    pool(X, *args).backward(cr.Tensor(dy))          # the arg-max computed lazily in the backward
    np.testing.assert_allclose(X.grad.data, gt, rtol=1e-10, atol=0)
    y.backward(cr.Tensor(dy))                       # the arg-max kept from the forward (return_indices)
    np.testing.assert_allclose(X.grad.data, 2 * gt, rtol=1e-10, atol=0)
    (g2,) = cr.grad(pool(X, *args), [X], cr.Tensor(dy), create_graph=True)   # differentiable rule
    np.testing.assert_allclose(g2.data, gt, rtol=1e-10, atol=0)


OVERLAP = [(2, 1, 0, 1), (3, 1, 1, 1), (3, 2, 1, 1), (2, 1, 1, 2), (3, 2, 0, 2), (3, 1, 1, 2), (4, 3, 2, 1),
           ((2, 3), (1, 2), (1, 1), (2, 1))]


@pytest.mark.parametrize("k,s,p,d", OVERLAP)
def test_max_pool2d_general_path_nan_follows_torch(k, s, p, d):
    # spec: CNN-MAXPOOL: PyTorch's CPU scan `if (val > max || isnan(val))`: a NaN is the window's maximum and
    # the LAST NaN of the window (row-major) takes the index and the gradient; windows without NaN keep
    # the first maximum (ties from rounding)
    rng = np.random.default_rng(7)
    base = np.round(rng.standard_normal((2, 2, 7, 6)) * 1.5)
    kh, kw = (k, k) if isinstance(k, int) else k
    dh, dw = (d, d) if isinstance(d, int) else d
    ph, pw = (p, p) if isinstance(p, int) else p
    cases = []
    for u in range(kh):                 # one NaN at each offset of the first window (where it is in bounds)
        for v in range(kw):
            r, c = u * dh - ph, v * dw - pw
            if 0 <= r < 7 and 0 <= c < 6:
                x = base.copy()
                x[0, 1, r, c] = np.nan
                cases.append(x)
    for frac in (0.1, 0.3):             # several NaNs per window, in every plane
        x = base.copy()
        x[rng.random(x.shape) < frac] = np.nan
        cases.append(x)
    assert len(cases) >= 3
    for x in cases:
        dy = rng.standard_normal(max_pool2d(cr.Tensor(x), k, s, p, d).shape)
        _check_max_pool_against_torch(x, dy, (k, s, p, d))


@pytest.mark.parametrize("k,s,p,d", [(2, 1, 0, 1), (3, 1, 1, 1), (3, 2, 1, 2), (4, 2, 2, 1)])
def test_max_pool1d_general_path_nan_follows_torch(k, s, p, d):
    # spec: CNN-MAXPOOL: the same NaN rule through max_pool1d
    rng = np.random.default_rng(k + 10 * d)
    x = np.round(rng.standard_normal((2, 3, 13)))
    x[rng.random(x.shape) < 0.25] = np.nan
    x[0, 0, :4] = np.nan                  # consecutive NaNs: the last one in each window wins
    dy = rng.standard_normal(max_pool1d(cr.Tensor(x), k, s, p, d).shape)
    _check_max_pool_against_torch(x, dy, (k, s, p, d), nd=1)


def test_max_pool_nan_and_infinite_gradient_on_the_general_path():
    # an infinite upstream δ reaches only the arg-max (a NaN window's last NaN here): no inf·0 = NaN elsewhere
    x = np.round(np.random.default_rng(3).standard_normal((1, 2, 6, 6)))
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = x[0, 1, 4, 4] = np.nan
    dy = np.ones((1, 2, 3, 3))
    dy[0, 0, 0, 0] = np.inf
    dy[0, 1, 2, 1] = -np.inf
    _check_max_pool_against_torch(x, dy, (3, 2, 1, 1))


@pytest.mark.parametrize("k,s,p,d,hw", [(3, 2, 1, 1, (4, 4)), (3, 1, 1, 1, (5, 4)), (3, 2, 1, 2, (5, 6)),
                                       (2, 1, 1, 2, (3, 4))])
def test_max_pool_all_neg_inf_windows_take_first_in_bounds_element(k, s, p, d, hw):
    # spec: CNN-MAXPOOL (errata F17: −∞ padding is never an arg-max): a window whose in-bounds elements are
    # all −∞ routes to its first in-bounds element, PyTorch's scan start (before: a padding position, so
    # negative indices and a lost gradient)
    rng = np.random.default_rng(sum(hw))
    x = np.full((2, 2) + hw, -np.inf)
    x[1] = np.where(rng.random(hw) < 0.5, -np.inf, np.round(rng.standard_normal(hw)))
    dy = rng.standard_normal(max_pool2d(cr.Tensor(x), k, s, p, d).shape)
    _check_max_pool_against_torch(x, dy, (k, s, p, d))


def test_max_pool_window_wholly_in_padding():
    # k = 2, d = 3, p = 1 on 2×2: the only window reads padded rows/cols -1 and 2, no input element.  PyTorch
    # outputs −∞ with the out-of-range index (2·W + 2) = 6 and chainrule does the same; its δ reaches no
    # input.  (PyTorch's backward adds that δ at offset 6 of the plane, i.e. into the next plane — not
    # compared here.)
    torch = torch_or_skip()
    x = np.arange(8.0).reshape(2, 1, 2, 2)
    yt, it = torch.nn.functional.max_pool2d(torch.tensor(x), 2, 1, 1, 3, return_indices=True)
    X = t64(x)
    y, idx = max_pool2d(X, 2, 1, 1, 3, return_indices=True)
    np.testing.assert_array_equal(y.data, yt.numpy())
    np.testing.assert_array_equal(idx.data, it.numpy())
    assert np.all(idx.data == 6)
    y.backward(cr.Tensor(np.ones(y.shape)))
    np.testing.assert_array_equal(X.grad.data, 0.0)
    (g2,) = cr.grad(max_pool2d(X, 2, 1, 1, 3), [X], cr.Tensor(np.ones(y.shape)), create_graph=True)
    np.testing.assert_array_equal(g2.data, 0.0)


def test_tiled_max_pool_kernel_wider_than_255():
    # the separable path's stage arg-max is uint8 only while a stage has <= 256 positions
    torch = torch_or_skip()
    x = _r(1, 2, 2, 600, seed=4)
    dy = _r(1, 2, 1, 2, seed=5)
    yt, it, gt = _torch_max_pool(torch, x, dy, (2, 300))
    X = t64(x)
    y, idx = max_pool2d(X, (2, 300), return_indices=True)
    y.backward(cr.Tensor(dy))
    np.testing.assert_array_equal(y.data, yt)
    np.testing.assert_array_equal(idx.data, it)
    np.testing.assert_array_equal(X.grad.data, gt)


# ----------------------------------------------------------------------------- adaptive max pooling
def _check_adaptive_max(x, out, dy=None, nd=2):
    """values, indices and gradient of adaptive_max_pool{1,2}d equal PyTorch's (float64)."""
    torch = torch_or_skip()
    F = torch.nn.functional
    ours, theirs = (adaptive_max_pool2d, F.adaptive_max_pool2d) if nd == 2 else (adaptive_max_pool1d,
                                                                                 F.adaptive_max_pool1d)
    xt = torch.tensor(x, requires_grad=True)
    yt, it = theirs(xt, out, return_indices=True)
    if dy is None:
        dy = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    X = t64(x)
    y, idx = ours(X, out, return_indices=True)
    assert y.shape == tuple(yt.shape) and idx.dtype == np.int64
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    np.testing.assert_array_equal(idx.data, it.numpy())
    y.backward(cr.Tensor(dy))
    np.testing.assert_allclose(X.grad.data, xt.grad.numpy(), rtol=1e-10, atol=0)
    X.grad = None
    ours(X, out).backward(cr.Tensor(dy))          # without return_indices: same route
    np.testing.assert_allclose(X.grad.data, xt.grad.numpy(), rtol=1e-10, atol=0)
    (g2,) = cr.grad(ours(X, out), [X], cr.Tensor(dy), create_graph=True)
    np.testing.assert_allclose(g2.data, xt.grad.numpy(), rtol=1e-10, atol=0)


ADAPTIVE_OUT = [1, 2, 3, (2, 4), (5, 3), (None, 2), (4, None), (9, 10)]


@pytest.mark.parametrize("hw", [(7, 6), (5, 5), (1, 9), (8, 4)])
@pytest.mark.parametrize("out", ADAPTIVE_OUT)
def test_adaptive_max_pool2d_equals_torch(hw, out):
    # spec: CNN-MAXPOOL, POOL-OUTSIZE: windows [⌊i·n/o⌋, ⌈(i+1)·n/o⌉) (non-divisible: overlapping, of two
    # sizes; o > n: repeated), first maximum in row-major window order at ties, overlaps add
    rng = np.random.default_rng(hw[0] * 10 + hw[1])
    x = rng.standard_normal((2, 3) + hw)
    _check_adaptive_max(x, out)
    _check_adaptive_max(np.round(x), out)           # many ties
    _check_adaptive_max(np.maximum(np.round(x), 0), out)   # plateaus of zeros, as after a ReLU


@pytest.mark.parametrize("out", [2, 3, (4, 5), (7, 2)])
def test_adaptive_max_pool2d_nan_neg_inf_and_infinite_gradient_follow_torch(out):
    # spec: CNN-MAXPOOL: a NaN is the maximum and the last NaN (row-major) takes the index and δ; an all −∞
    # window routes to its first element; an infinite δ reaches only the arg-max
    rng = np.random.default_rng(11)
    for frac in (0.05, 0.2, 0.5):
        x = np.round(rng.standard_normal((2, 2, 7, 5)))
        x[rng.random(x.shape) < frac] = np.nan
        x[1, 1] = -np.inf
        x[1, 0, 2:5, 1:3] = np.nan
        dy = rng.standard_normal(adaptive_max_pool2d(cr.Tensor(x), out).shape)
        dy[0, 0, 0, 0], dy[1, 1, -1, -1] = np.inf, -np.inf
        _check_adaptive_max(x, out, dy)


@pytest.mark.parametrize("L,out", [(10, 4), (7, 3), (5, 5), (3, 7), (12, 1), (9, (2,))])
def test_adaptive_max_pool1d_equals_torch(L, out):
    # spec: CNN-MAXPOOL, POOL-OUTSIZE (1-D windows; (N, C, L) and (C, L); indices are positions in L)
    rng = np.random.default_rng(L)
    x = np.round(rng.standard_normal((2, 3, L)) * 2)
    _check_adaptive_max(x, out, nd=1)
    _check_adaptive_max(x[0], out, nd=1)
    x[rng.random(x.shape) < 0.2] = np.nan
    _check_adaptive_max(x, out, nd=1)


def test_adaptive_max_pool2d_unbatched_input():
    # (C, H, W) gives the batched result without the batch axis (indices too)
    x = np.round(_r(3, 7, 5, seed=2))
    _check_adaptive_max(x, (3, 2))
    y, idx = adaptive_max_pool2d(cr.Tensor(x), (3, 2), return_indices=True)
    yb, ib = adaptive_max_pool2d(cr.Tensor(x[None]), (3, 2), return_indices=True)
    np.testing.assert_array_equal(y.data, yb.data[0])
    np.testing.assert_array_equal(idx.data, ib.data[0])


@pytest.mark.parametrize("out", [(3, 2), (2, 4), (2, 3), 1, (7, 5)])
def test_adaptive_max_pool_gradcheck_tie_free(out):
    # spec: CNN-MAXPOOL: gradcheck (and gradgradcheck through the scatter-add rule) on tie-free inputs
    x = t64(_tie_free(2, 2, 7, 5, seed=sum(np.atleast_1d(out))))
    assert cr.gradcheck(lambda x: adaptive_max_pool2d(x, out), [x])
    assert cr.gradgradcheck(lambda x: adaptive_max_pool2d(x, out) ** 2, [x])
    x1 = t64(_tie_free(2, 3, 8, seed=3))
    assert cr.gradcheck(lambda x: adaptive_max_pool1d(x, 3), [x1])


def test_adaptive_max_pool_routes_each_window_to_one_element():
    # overlapping windows: the input gradient of a sum counts how many windows chose each element
    x = np.array([[[[1.0, 5.0, 2.0, 0.0, 3.0]]]])      # W = 5, o = 3: windows [0,2), [1,4), [3,5)
    X = t64(x)
    y, idx = adaptive_max_pool2d(X, (1, 3), return_indices=True)
    np.testing.assert_array_equal(y.data.ravel(), [5.0, 5.0, 3.0])
    np.testing.assert_array_equal(idx.data.ravel(), [1, 1, 4])
    y.sum().backward()
    np.testing.assert_array_equal(X.grad.data.ravel(), [0.0, 2.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("bad,match", [
    (0, "entry 0 < 1"), (-2, "entry -2 < 1"), ((2, 0), "entry 0 < 1"), ((2,), "1 entries"),
    ((1, 2, 3), "3 entries"), (2.5, "not an int or a tuple"), ((2, 1.5), "entry 1.5 is not an int"),
    (True, "entry True is not an int"), ("ab", "entry 'a' is not an int"),
])
def test_adaptive_max_pool_rejects_bad_output_sizes(bad, match):
    x = cr.Tensor(np.zeros((1, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"output_size must be a positive int or a tuple of 2 .*" + match):
        adaptive_max_pool2d(x, bad)


def test_adaptive_max_pool_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\) or \(C, H, W\), got \(5, 5\)"):
        adaptive_max_pool2d(cr.Tensor(np.zeros((5, 5))), 2)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, L\) or \(C, L\), got \(2, 1, 3, 3\)"):
        adaptive_max_pool1d(cr.Tensor(np.zeros((2, 1, 3, 3))), 2)
    with pytest.raises(ValueError, match=r"output_size must be a positive int \(or a 1-tuple\), got None \(None\)"):
        adaptive_max_pool1d(cr.Tensor(np.zeros((2, 1, 3))), None)
    with pytest.raises(ValueError, match=r"1-tuple\), got \(1, 2\) \(2 entries\)"):
        adaptive_max_pool1d(cr.Tensor(np.zeros((2, 1, 3))), (1, 2))
    with pytest.raises(ValueError, match=r"got \(None,\) \(entry None is not an int\)"):
        adaptive_max_pool1d(cr.Tensor(np.zeros((2, 1, 3))), (None,))
    with pytest.raises(ValueError, match=r"spatial size must be >= 1, got \(0, 4\)"):
        adaptive_max_pool2d(cr.Tensor(np.zeros((1, 1, 0, 4))), 2)


def test_adaptive_max_pool_float32_and_inference():
    x = _r(2, 3, 9, 7).astype(np.float32)
    X = cr.Tensor(x, requires_grad=True)
    for out in [(4, 3), (3, 7)]:                      # overlapping windows and the divisible (max-pool) path
        X.grad = None
        y = adaptive_max_pool2d(X, out)
        assert y.dtype == np.float32
        y.sum().backward()
        assert X.grad.dtype == np.float32 and X.grad.data.sum() == y.size
        with cr.no_grad():                            # values only, no graph
            y0 = adaptive_max_pool2d(X, out)
        assert not y0.requires_grad
        np.testing.assert_array_equal(y0.data, y.data)
