"""Convolution ops: PyTorch equality (float64, 1e-10), gradcheck / gradgradcheck, the spec's computed
examples and the convolution-arithmetic rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import compare_with_torch, t64, torch_or_skip

import chainrule as cr
from chainrule.ops import conv as C
from chainrule.ops.conv import (
    conv1d,
    conv2d,
    conv_matrix,
    conv_output_size,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose_output_size,
    conv_transpose_via_conv,
    convolve2d,
    correlate2d,
    from_hwck,
    normalized_cross_correlation,
    pad_nd,
    same_padding,
    to_hwck,
)

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")
IMG = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], float)


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.fixture(params=["batch-inner", "batch-last"])
def layout(request, monkeypatch):
    """Run a test with both column layouts of the im2col kernels (see chainrule.ops.conv._Geom)."""
    monkeypatch.setattr(C, "_NLAST_MIN", 10**9 if request.param == "batch-inner" else 0)
    return request.param


# ----------------------------------------------------------------------------- PyTorch equality
# every (kernel, stride, padding) with (dilation, groups) = (1, 1) and (2, 2), plus the mixed pairs on k = 3
# (the full product is covered by the finite-difference grid below)
GRID = [(k, s, p, d, g) for k, s, p in itertools.product((1, 2, 3), (1, 2), (0, 1, "same"))
        if not (p == "same" and s != 1) for d, g in ((1, 1), (2, 2))]
GRID += [(3, 1, 1, 2, 1), (3, 2, 0, 1, 2), (3, 1, "same", 2, 1), (2, 2, 1, 1, 2)]


@pytest.mark.parametrize("k,s,p,d,g", GRID)
def test_conv2d_equals_torch(k, s, p, d, g):
    # spec: CNN-CONV2D, CONV2D-LAYER, CONV-DILATED, CONV-PAD-SAME
    _conv2d_vs_torch(k, s, p, d, g)


@pytest.mark.parametrize("k,s,p,d,g", GRID[1::3])
def test_conv2d_equals_torch_batch_last_layout(k, s, p, d, g, monkeypatch):
    monkeypatch.setattr(C, "_NLAST_MIN", 0)
    _conv2d_vs_torch(k, s, p, d, g)


FFT_GRID = [(1, 0), (2, 1), (2, "same"), (3, 0), (3, "full"), (4, 2), (4, "same"), (3, 2)]


@pytest.mark.parametrize("k,p", FFT_GRID)
def test_conv2d_fft_algorithm_equals_torch(k, p, monkeypatch):
    # the FFT path (stride 1): circular correlation with period P >= H + max(pad) = the linear one
    monkeypatch.setattr(C, "_FFT_MODE", "always")
    _conv2d_vs_torch(k, 1, p, 1, 1)


def test_fft_path_second_order_transpose_and_float32(monkeypatch):
    monkeypatch.setattr(C, "_FFT_MODE", "always")
    torch = torch_or_skip()
    F = torch.nn.functional
    x, w, b = t64(_r(1, 2, 5, 4)), t64(_r(3, 2, 3, 2, seed=1)), t64(_r(3))
    assert cr.gradgradcheck(lambda x, w, b: cr.tanh(conv2d(x, w, b, padding=(2, 1))), [x, w, b])
    compare_with_torch(lambda x, w: conv_transpose2d(x, w, padding=1), lambda x, w: F.conv_transpose2d(x, w, padding=1),
                       [_r(2, 3, 4, 5), _r(3, 2, 3, 3, seed=2)])
    # float32 stays float32 and is accurate to float32 rounding
    x32, w32 = _r(4, 8, 12, 12).astype(np.float32), _r(6, 8, 5, 5, seed=3).astype(np.float32)
    X, W = cr.Tensor(x32, requires_grad=True), cr.Tensor(w32, requires_grad=True)
    y = conv2d(X, W, padding=2)
    ref = conv2d(cr.Tensor(x32.astype(np.float64)), cr.Tensor(w32.astype(np.float64)), padding=2).data
    assert y.dtype == np.float32 and np.abs(y.data - ref).max() < 1e-5 * np.abs(ref).max()
    y.sum().backward()
    assert X.grad.dtype == W.grad.dtype == np.float32


def test_algorithm_choice():
    # the cost model picks the FFT for large kernels with many channels (the TF-CNN's second conv),
    # im2col for small channel counts, 3×3 kernels, strides and groups
    assert C._Geom(5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1, 14, 14, C=32, N=50, K=64).fft
    assert not C._Geom(5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 14, 14, C=6, N=64, K=16).fft      # LeNet C3
    assert not C._Geom(5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1, 28, 28, C=1, N=50, K=32).fft      # first layer
    assert not C._Geom(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 32, 32, C=64, N=32, K=64).fft     # 3×3
    assert not C._Geom(5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 1, 14, 14, C=32, N=50, K=64).fft     # strided
    g = C._Geom(5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1, 14, 14, C=32, N=50, K=64)
    assert g.P >= 14 + 2 and g.Q >= 14 + 2


def _conv2d_vs_torch(k, s, p, d, g):
    torch = torch_or_skip()
    F = torch.nn.functional
    x, w, b = _r(2, 4, 7, 6, seed=k), _r(6, 4 // g, k, k, seed=s), _r(6, seed=d)
    tp = d * (k - 1) if p == "full" else p      # 'full' is a chainrule extension (spec: CONV-PAD-FULL)
    compare_with_torch(lambda x, w, b: conv2d(x, w, b, s, p, d, g),
                       lambda x, w, b: F.conv2d(x, w, b, s, tp, d, g), [x, w, b])


@pytest.mark.parametrize("k,s,p,a,d,g", [(3, 2, 1, 1, 1, 1), (2, 3, 0, 2, 1, 2), (3, 1, 1, 0, 2, 1), (1, 2, 0, 1, 1, 1),
                                         (4, 2, 1, 0, 1, 2), (3, 2, 0, 1, 3, 1), (3, 3, 2, 2, 2, 1)])
def test_conv_transpose2d_equals_torch(k, s, p, a, d, g, layout):
    # spec: CONV-TRANSPOSED
    torch = torch_or_skip()
    F = torch.nn.functional
    x, w, b = _r(2, 4, 4, 3, seed=k), _r(4, 6 // g, k, k, seed=s), _r(6, seed=a)
    compare_with_torch(lambda x, w, b: conv_transpose2d(x, w, b, s, p, a, g, d),
                       lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, a, g, d), [x, w, b])


@pytest.mark.parametrize("k,s,p,d,g", [(3, 1, 1, 1, 1), (2, 2, 0, 1, 2), (3, 2, 2, 3, 1), (5, 1, "same", 2, 1),
                                       (4, 1, "same", 1, 2)])
def test_conv1d_and_transpose1d_equal_torch(k, s, p, d, g):
    # spec: CNN-CONV1D, CONV1D-DILATED
    torch = torch_or_skip()
    F = torch.nn.functional
    x, w, b = _r(2, 4, 11, seed=k), _r(6, 4 // g, k, seed=s), _r(6, seed=d)
    compare_with_torch(lambda x, w, b: conv1d(x, w, b, s, p, d, g), lambda x, w, b: F.conv1d(x, w, b, s, p, d, g),
                       [x, w, b])
    if p != "same":
        wt = _r(4, 6 // g, k, seed=7)
        compare_with_torch(lambda x, w, b: conv_transpose1d(x, w, b, s, p, 0, g, d),
                           lambda x, w, b: F.conv_transpose1d(x, w, b, s, p, 0, g, d), [x, wt, b])


def test_conv2d_asymmetric_stride_padding_and_no_bias_equal_torch():
    torch = torch_or_skip()
    F = torch.nn.functional
    x, w = _r(3, 2, 9, 8), _r(5, 2, 3, 2)
    compare_with_torch(lambda x, w: conv2d(x, w, None, (2, 1), (1, 2), (1, 2)),
                       lambda x, w: F.conv2d(x, w, None, (2, 1), (1, 2), (1, 2)), [x, w])


# ----------------------------------------------------------------------------- finite differences
GC_GRID = [(k, s, p, d, g) for k, s, p, d, g in itertools.product((1, 2, 3), (1, 2), (0, 1), (1, 2), (1, 2))
           if (k - 1) * d + 1 <= 4 + 2 * p]


@pytest.mark.parametrize("k,s,p,d,g", GC_GRID)
def test_conv2d_gradcheck_grid(k, s, p, d, g):
    # spec: CNN-CONV2D-BACKWARD-W, CNN-CONV2D-BACKWARD-X
    x, w, b = t64(_r(1, 2, 4, 4, seed=k)), t64(_r(2, 2 // g, k, k, seed=s)), t64(_r(2, seed=p))
    assert cr.gradcheck(lambda x, w, b: conv2d(x, w, b, s, p, d, g), [x, w, b])


@pytest.mark.parametrize("k,s,p,a", [(3, 2, 1, 1), (2, 2, 0, 0), (3, 1, 1, 0), (2, 3, 1, 2)])
def test_conv_transpose2d_gradcheck(k, s, p, a):
    x, w, b = t64(_r(1, 2, 3, 2)), t64(_r(2, 1, k, k)), t64(_r(2))
    assert cr.gradcheck(lambda x, w, b: conv_transpose2d(x, w, b, s, p, a, groups=2), [x, w, b])


@pytest.mark.parametrize("case", [dict(stride=2, padding=1), dict(dilation=2, padding="same"), dict(groups=2)])
def test_conv2d_gradgradcheck(case, layout):
    # the backward is made of convolutions, so second derivatives are exact (create_graph=True)
    x, w, b = t64(_r(1, 2, 5, 5)), t64(_r(2, 2 // case.get("groups", 1), 3, 3, seed=1)), t64(_r(2))
    assert cr.gradgradcheck(lambda x, w, b: cr.tanh(conv2d(x, w, b, **case)), [x, w, b])


def test_conv_transpose_and_conv1d_gradgradcheck(layout):
    x, w = t64(_r(1, 2, 3, 3)), t64(_r(2, 2, 3, 3, seed=1))
    assert cr.gradgradcheck(lambda x, w: conv_transpose2d(x, w, stride=2, padding=1, output_padding=1) ** 2, [x, w])
    x1, w1 = t64(_r(2, 2, 7)), t64(_r(3, 2, 3, seed=2))
    assert cr.gradgradcheck(lambda x, w: conv1d(x, w, stride=2, dilation=2) ** 2, [x1, w1])


def test_cnn_hessian_matches_finite_differences_of_gradient():
    # exact Hessian of a tiny CNN loss through conv -> tanh -> conv (spec: AD-HESSIAN on CNNs)
    x = cr.Tensor(_r(2, 1, 5, 5), requires_grad=False)
    w1 = t64(_r(2, 1, 3, 3, seed=3) * 0.5)
    w2 = t64(_r(1, 2, 3, 3, seed=4) * 0.5)

    def loss(a, b):
        return (conv2d(cr.tanh(conv2d(x, a, padding=1)), b, stride=2) ** 2).sum()

    H = cr.hessian(loss, [w1, w2]).data
    assert np.allclose(H, H.T, atol=1e-10)
    eps = 1e-6
    flat = np.concatenate([w1.data.ravel(), w2.data.ravel()])

    def g_at(v):
        a = cr.Tensor(v[:18].reshape(2, 1, 3, 3), requires_grad=True)
        b = cr.Tensor(v[18:].reshape(1, 2, 3, 3), requires_grad=True)
        loss(a, b).backward()
        return np.concatenate([a.grad.data.ravel(), b.grad.data.ravel()])

    for i in (0, 7, 20, 35):
        e = np.zeros_like(flat)
        e[i] = eps
        col = (g_at(flat + e) - g_at(flat - e)) / (2 * eps)
        assert np.allclose(H[:, i], col, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- spec computed examples
def test_cnn_conv2d_spec_values():
    # spec: CNN-CONV2D, CONV2D-LAYER (the notes' figure-6.2 kernel)
    k = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], float)
    x, w = cr.Tensor(IMG[None, None]), cr.Tensor(k[None, None])
    np.testing.assert_array_equal(conv2d(x, w).data[0, 0], [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    np.testing.assert_array_equal(conv2d(x, w, stride=2, padding=1).data[0, 0], [[2, 3, 1], [1, 4, 3], [0, 2, 1]])
    with pytest.raises(ValueError, match=r"C_in = 2 channels.*expects C_in = 1"):
        conv2d(cr.Tensor(np.zeros((1, 2, 5, 5))), w)


def test_cnn_conv2d_backward_w_and_x_spec_values():
    # spec: CNN-CONV2D-BACKWARD-W, CNN-CONV2D-BACKWARD-X (errata F3, F15: no kernel rotation in dW)
    x = t64(IMG[None, None])
    w = t64(np.array([[1, 2], [3, 4]], float)[None, None])
    b = t64(np.zeros(1))
    y = conv2d(x, w, b)
    assert y.shape == (1, 1, 4, 4)
    y.backward(cr.Tensor(np.ones((1, 1, 4, 4))))
    np.testing.assert_array_equal(w.grad.data[0, 0], [[10, 10], [9, 10]])
    assert b.grad.data[0] == 16
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1, 3, 3, 3, 2], [4, 10, 10, 10, 6], [4, 10, 10, 10, 6],
                                                      [4, 10, 10, 10, 6], [3, 7, 7, 7, 4]])


def _stride_recipe(delta, w, H, s, p):
    """The spec's input-gradient recipe: s − 1 zeros between δ entries, pad k − 1 (plus r at the
    bottom/right), cross-correlate with the 180°-rotated, (C_in, C_out)-transposed kernel, crop p."""
    N, K, Ho, Wo = delta.shape
    k = w.shape[-1]
    r = (H + 2 * p - k) % s
    st = np.zeros((N, K, (Ho - 1) * s + 1, (Wo - 1) * s + 1))
    st[:, :, ::s, ::s] = delta
    st = np.pad(st, ((0, 0), (0, 0), (k - 1, k - 1 + r), (k - 1, k - 1 + r)))
    wb = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))   # (C_in, C_out, k, k)
    full = conv2d(cr.Tensor(st), cr.Tensor(wb)).data
    return full[:, :, p:p + H, p:p + H], wb.shape


@pytest.mark.parametrize("H,k,s,p", [(7, 3, 2, 1), (8, 3, 2, 0), (9, 4, 3, 2), (6, 3, 2, 1)])
def test_input_gradient_stride_recipe(H, k, s, p, layout):
    # spec: CNN-CONV2D-BACKWARD-X (stride recipe = conv_transpose2d with output_padding r = central differences)
    x = t64(_r(1, 3, H, H, seed=H))
    w = t64(_r(20, 3, k, k, seed=k))
    y = conv2d(x, w, stride=s, padding=p)
    delta = _r(*y.shape, seed=s)
    y.backward(cr.Tensor(delta))
    ref, wshape = _stride_recipe(delta, w.data, H, s, p)
    assert wshape == (3, 20, k, k)   # W (20, 3, k, k) on RGB -> backward kernel (3, 20, k, k)
    np.testing.assert_allclose(x.grad.data, ref, rtol=1e-12, atol=1e-12)
    r = (H + 2 * p - k) % s
    ct = conv_transpose2d(cr.Tensor(delta), w, stride=s, padding=p, output_padding=r).data
    np.testing.assert_allclose(ct, ref, rtol=1e-12, atol=1e-12)
    num = cr.autodiff.numerical_grad(lambda x: (conv2d(x, w, stride=s, padding=p) * cr.Tensor(delta)).sum(), x)
    assert np.abs(num - ref).max() < 1e-7


# ----------------------------------------------------------------------------- arithmetic
@pytest.mark.parametrize("i,k,s,p,o", [(28, 5, 1, 0, 24), (32, 5, 1, 0, 28), (6, 3, 2, 0, 2), (5, 3, 2, 1, 3),
                                       (200, 5, 1, 0, 196)])
def test_cnn_conv_outsize(i, k, s, p, o):
    # spec: CNN-CONV-OUTSIZE (errata E16, F1: floor, +2p)
    assert conv_output_size(i, k, s, p) == o
    y = conv2d(cr.Tensor(np.zeros((1, 1, i, 3), np.float32)), cr.Tensor(np.zeros((1, 1, k, 1), np.float32)),
               stride=(s, 1), padding=(p, 0))
    assert y.shape[2] == o


@pytest.mark.parametrize("i,k,s,p,d,o", [(4, 3, 1, 0, 1, 2), (5, 4, 1, 2, 1, 6), (5, 3, 2, 0, 1, 2), (5, 3, 2, 1, 1, 3),
                                         (6, 3, 2, 1, 1, 3), (7, 3, 1, 0, 2, 3)])
def test_conv_outsize_pytorch_verified(i, k, s, p, d, o):
    # spec: CONV-OUTSIZE, CONV-DILATED (errata N28: a floor, not a ceiling)
    assert conv_output_size(i, k, s, p, d) == o
    x, w = cr.Tensor(np.ones((1, 1, i, i))), cr.Tensor(np.ones((1, 1, k, k)))
    assert conv2d(x, w, stride=s, padding=p, dilation=d).shape[2:] == (o, o)


def test_conv_outsize_floor_and_errors():
    # spec: CONV-OUTSIZE: if (i + 2p − k) mod s = 0 the inputs i + a, a < s, give the same o (R6)
    for i, k, s, p in [(7, 3, 2, 1), (9, 3, 3, 0), (8, 4, 2, 1)]:
        assert (i + 2 * p - k) % s == 0
        assert len({conv_output_size(i + a, k, s, p) for a in range(s)}) == 1
    # spec: CNN-CONV-OUTSIZE: H_out < 1 raises
    with pytest.raises(ValueError, match="effective kernel"):
        conv_output_size(4, 5)
    with pytest.raises(ValueError, match="effective kernel"):
        conv_output_size(5, 3, d=3)
    with pytest.raises(ValueError, match="output would have size < 1"):
        conv2d(cr.Tensor(np.zeros((1, 1, 4, 4))), cr.Tensor(np.zeros((1, 1, 5, 5))))


def test_conv_pad_same():
    # spec: CONV-PAD-SAME: i = 5, k = 3 -> p = 1, o = 5; k = 4 -> pads (1, 2), o = i
    assert same_padding(3) == (1, 1) and same_padding(4) == (1, 2) and same_padding(3, 2) == (2, 2)
    for k in (3, 4, 5):
        for d in (1, 2):
            y = conv2d(cr.Tensor(np.ones((1, 1, 5, 6))), cr.Tensor(np.ones((1, 1, k, k))), padding="same", dilation=d)
            assert y.shape[2:] == (5, 6)
    x, w = _r(1, 1, 5, 5), _r(1, 1, 4, 4)
    ref = conv2d(cr.Tensor(np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2)))), cr.Tensor(w)).data
    np.testing.assert_allclose(conv2d(cr.Tensor(x), cr.Tensor(w), padding="same").data, ref, rtol=1e-14)
    with pytest.raises(ValueError, match="stride 1"):
        conv2d(cr.Tensor(x), cr.Tensor(w), stride=2, padding="same")


def test_conv_pad_full_is_numpy_full_convolution():
    # spec: CONV-PAD-FULL: p = k − 1, o = i + k − 1; 1-D equals np.convolve(x, w[::-1], 'full')
    x, w = _r(5), _r(3, seed=1)
    y = conv1d(cr.Tensor(x[None, None]), cr.Tensor(w[None, None]), padding="full").data[0, 0]
    assert y.shape == (7,)
    np.testing.assert_allclose(y, np.convolve(x, w[::-1], "full"), rtol=1e-13, atol=1e-14)
    y2 = conv2d(cr.Tensor(_r(1, 1, 5, 5)), cr.Tensor(_r(1, 1, 3, 3)), padding="full")
    assert y2.shape[2:] == (7, 7)


@pytest.mark.parametrize("p", [0, 1, 2])
def test_conv_stride_subsample(p):
    # spec: CONV-STRIDE-SUBSAMPLE: conv(s = 2) = conv(s = 1)[..., ::2, ::2]
    x, w = cr.Tensor(_r(2, 3, 9, 8)), cr.Tensor(_r(4, 3, 3, 3, seed=2))
    np.testing.assert_allclose(conv2d(x, w, stride=2, padding=p).data, conv2d(x, w, padding=p).data[..., ::2, ::2],
                               rtol=1e-13, atol=1e-13)


def test_conv_dilated_equals_zero_upsampled_kernel():
    # spec: CONV-DILATED: i = 7, k = 3, d = 2 -> 3; equals the undilated conv with the kernel upsampled to k̂
    x, w = _r(2, 2, 7, 7), _r(3, 2, 3, 3, seed=5)
    up = np.zeros((3, 2, 5, 5))
    up[:, :, ::2, ::2] = w
    yd = conv2d(cr.Tensor(x), cr.Tensor(w), dilation=2)
    assert yd.shape[2:] == (3, 3)
    np.testing.assert_allclose(yd.data, conv2d(cr.Tensor(x), cr.Tensor(up)).data, rtol=1e-13, atol=1e-13)


def test_conv_as_matrix():
    # spec: CONV-AS-MATRIX (errata N29): i = 4, k = 3 columns per output; C x = conv2d(x); Cᵀ g = input gradient
    w = _r(1, 1, 3, 3)
    M = conv_matrix(w, 4)
    assert M.shape == (4, 16)
    cols = [set(np.nonzero(M[r])[0]) for r in range(4)]
    assert cols == [{0, 1, 2, 4, 5, 6, 8, 9, 10}, {1, 2, 3, 5, 6, 7, 9, 10, 11}, {4, 5, 6, 8, 9, 10, 12, 13, 14},
                    {5, 6, 7, 9, 10, 11, 13, 14, 15}]
    assert M[0, 0] == w[0, 0, 0, 0] and M[3, 15] == w[0, 0, 2, 2]
    # multi-channel, strided, padded
    w = _r(3, 2, 3, 2, seed=1)
    x = t64(_r(1, 2, 6, 5, seed=2))
    M = conv_matrix(w, (6, 5), stride=2, padding=1)
    y = conv2d(x, cr.Tensor(w), stride=2, padding=1)
    np.testing.assert_allclose(M @ x.data.ravel(), y.data.ravel(), rtol=1e-13, atol=1e-13)
    g = _r(*y.shape, seed=3)
    y.backward(cr.Tensor(g))
    np.testing.assert_allclose(M.T @ g.ravel(), x.grad.data.ravel(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("i_,k,s,p,a,o", [(2, 3, 1, 0, 0, 4), (6, 4, 1, 2, 0, 5), (5, 3, 1, 1, 0, 5),
                                          (7, 3, 1, 2, 0, 5), (2, 3, 2, 0, 0, 5), (3, 3, 2, 1, 0, 5),
                                          (3, 3, 2, 1, 1, 6)])
def test_conv_transposed_sizes_adjointness_and_matrix(i_, k, s, p, a, o):
    # spec: CONV-TRANSPOSED (errata N30: o′ uses the input size i′)
    assert conv_transpose_output_size(i_, k, s, p, a) == o
    w = _r(2, 3, k, k, seed=k)          # conv weight (C_out=2, C_in=3); convT maps 2 -> 3 channels
    y = _r(1, 2, i_, i_, seed=i_)
    xt = conv_transpose2d(cr.Tensor(y), cr.Tensor(w), stride=s, padding=p, output_padding=a).data
    assert xt.shape == (1, 3, o, o)
    x = _r(1, 3, o, o, seed=o)
    cx = conv2d(cr.Tensor(x), cr.Tensor(w), stride=s, padding=p).data
    assert cx.shape == y.shape
    assert abs(np.vdot(cx, y) - np.vdot(x, xt)) < 1e-12 * max(1.0, abs(np.vdot(cx, y)))
    M = conv_matrix(w, o, stride=s, padding=p)
    np.testing.assert_allclose(M.T @ y.ravel(), xt.ravel(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("i,k,s,p", [(4, 3, 1, 0), (5, 4, 1, 2), (5, 3, 1, 1), (5, 3, 1, 2), (5, 3, 2, 0), (5, 3, 2, 1),
                                     (6, 3, 2, 1)])
def test_conv_transposed_equiv_direct(i, k, s, p):
    # spec: CONV-TRANSPOSED-EQUIV (errata N31: the 180°-rotated kernel), a = (i + 2p − k) mod s
    a = (i + 2 * p - k) % s
    w = _r(2, 3, k, k, seed=i)               # conv_transpose weight (C_in=2, C_out=3)
    o = conv_output_size(i, k, s, p)
    xprime = _r(1, 2, o, o, seed=k)
    ref = conv_transpose_via_conv(xprime, w, s, p, a)
    assert ref.shape == (1, 3, i, i)
    M = conv_matrix(w, i, stride=s, padding=p)   # the convolution sharing the kernel: weight (C_out=2, C_in=3)
    np.testing.assert_allclose(ref.ravel(), M.T @ xprime.ravel(), rtol=1e-13, atol=1e-15)
    lib = conv_transpose2d(cr.Tensor(xprime), cr.Tensor(w), stride=s, padding=p, output_padding=a).data
    np.testing.assert_allclose(lib, ref, rtol=1e-13, atol=1e-15)


def test_conv_transpose_errors_and_output_padding_below_dilation():
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose2d(cr.Tensor(np.zeros((1, 1, 3, 3))), cr.Tensor(np.zeros((1, 1, 3, 3))), stride=2,
                         output_padding=2)
    torch = torch_or_skip()
    F = torch.nn.functional
    # a >= s is allowed when a < d (PyTorch)
    compare_with_torch(lambda x, w: conv_transpose2d(x, w, stride=1, output_padding=1, dilation=2),
                       lambda x, w: F.conv_transpose2d(x, w, stride=1, output_padding=1, dilation=2),
                       [_r(1, 2, 3, 3), _r(2, 1, 2, 2)])


# ----------------------------------------------------------------------------- definitions and layouts
def test_cnn_conv_def_true_convolution():
    # spec: CNN-CONV-DEF, CONV2D-LAYER: xcorr(x, k) = conv(x, flip(k)); the full true convolution commutes
    sig = pytest.importorskip("scipy.signal")
    x, k = _r(6, 7), _r(3, 2, seed=1)
    np.testing.assert_allclose(convolve2d(x, k), sig.convolve2d(x, k, "valid"), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(correlate2d(x, k), sig.correlate2d(x, k, "valid"), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(correlate2d(x, k), convolve2d(x, k[::-1, ::-1]), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(convolve2d(x, k, "full"), convolve2d(k, x, "full"), rtol=1e-12, atol=1e-12)
    # literal definition (h * k)(a, b) = Σ_ij h(a − i, b − j) k(i, j) at one 'full' position
    a, b = 4, 3
    lit = sum(x[a - i, b - j] * k[i, j] for i in range(3) for j in range(2) if 0 <= a - i < 6 and 0 <= b - j < 7)
    assert abs(convolve2d(x, k, "full")[a, b] - lit) < 1e-13


def test_cnn_conv1d_equals_conv2d_with_h1():
    # spec: CNN-CONV1D: equals Conv2d with H = 1; L 6, k 3, s 2 -> 2
    x, w, b = _r(2, 3, 6), _r(4, 3, 3, seed=1), _r(4)
    y1 = conv1d(cr.Tensor(x), cr.Tensor(w), cr.Tensor(b), stride=2)
    y2 = conv2d(cr.Tensor(x[:, :, None]), cr.Tensor(w[:, :, None]), cr.Tensor(b), stride=(1, 2))
    assert y1.shape == (2, 4, 2)
    np.testing.assert_allclose(y1.data, y2.data[:, :, 0], rtol=1e-14)


def _naive_conv1d(x, w, b, s, p, d):
    N, Ci, L = x.shape
    Co, _, K = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p)))
    Lo = (L + 2 * p - d * (K - 1) - 1) // s + 1
    z = np.zeros((N, Co, Lo))
    for n in range(N):
        for o in range(Co):
            for i in range(Lo):
                z[n, o, i] = b[o] + sum(w[o, c, j] * xp[n, c, i * s + j * d] for c in range(Ci) for j in range(K))
    return z


def test_conv1d_dilated_naive_loops_dense_and_equivariance():
    # spec: CONV1D-DILATED: naive-loop agreement for K ∈ {1,2,3,5}, s, d ∈ {1,2,3}, p ∈ {0,1,2}
    x = _r(2, 2, 12)
    for K, s, d, p in itertools.product((1, 2, 3, 5), (1, 2, 3), (1, 2, 3), (0, 1, 2)):
        if d * (K - 1) + 1 > 12 + 2 * p:
            continue
        w, b = _r(3, 2, K, seed=K), _r(3, seed=s)
        y = conv1d(cr.Tensor(x), cr.Tensor(w), cr.Tensor(b), s, p, d)
        assert y.shape[2] == (12 + 2 * p - d * (K - 1) - 1) // s + 1
        np.testing.assert_allclose(y.data, _naive_conv1d(x, w, b, s, p, d), rtol=1e-12, atol=1e-12)
    # K = 3, d = 2 equals K = 5 with [w1, 0, w2, 0, w3]
    w = _r(1, 1, 3, seed=9)
    w5 = np.zeros((1, 1, 5))
    w5[..., ::2] = w
    np.testing.assert_allclose(conv1d(cr.Tensor(x[:, :1]), cr.Tensor(w), dilation=2).data,
                               conv1d(cr.Tensor(x[:, :1]), cr.Tensor(w5)).data, rtol=1e-14)
    # equals a dense layer with the banded tied matrix M[i, i·s + j·d − p] = w_j (forward and gradients)
    s, d, p = 2, 2, 1
    M = conv_matrix(w, 12, stride=s, padding=p, dilation=d)
    for i in range(M.shape[0]):
        for j in range(3):
            col = i * s + j * d - p
            if 0 <= col < 12:
                assert M[i, col] == w[0, 0, j]
    xs = t64(x[:1, :1])
    y = conv1d(xs, cr.Tensor(w), stride=s, padding=p, dilation=d)
    np.testing.assert_allclose(y.data.ravel(), M @ xs.data.ravel(), rtol=1e-13)
    g = _r(*y.shape, seed=4)
    y.backward(cr.Tensor(g))
    np.testing.assert_allclose(xs.grad.data.ravel(), M.T @ g.ravel(), rtol=1e-13)
    # circular padding: exact equivariance under circular shifts (stride 1)
    xc, wc = _r(1, 2, 10), _r(3, 2, 3, seed=2)
    f = lambda v: conv1d(pad_nd(cr.Tensor(v), [(1, 1)], "circular"), cr.Tensor(wc)).data  # noqa: E731
    np.testing.assert_allclose(f(np.roll(xc, 3, axis=-1)), np.roll(f(xc), 3, axis=-1), rtol=1e-13, atol=1e-14)
    # finite differences through stride, dilation, padding and channels
    assert cr.gradcheck(lambda x, w: conv1d(x, w, None, 2, 2, 3), [t64(_r(1, 2, 9)), t64(_r(2, 2, 2, seed=1))])


def test_circular_conv_equals_fft_cross_correlation():
    # spec: CONV2D-LAYER: circular conv = FFT circular cross-correlation
    x, k = _r(8, 8), _r(3, 3, seed=1)
    y = conv2d(pad_nd(cr.Tensor(x[None, None]), [(0, 2), (0, 2)], "circular"), cr.Tensor(k[None, None])).data[0, 0]
    kp = np.zeros((8, 8))
    kp[:3, :3] = k
    ref = np.real(np.fft.ifft2(np.fft.fft2(x) * np.conj(np.fft.fft2(kp))))
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate"])
def test_padding_modes_equal_torch(mode):
    torch = torch_or_skip()
    F = torch.nn.functional
    x = _r(2, 2, 5, 6)
    compare_with_torch(lambda x: pad_nd(x, [(1, 2), (2, 1)], mode), lambda x: F.pad(x, (2, 1, 1, 2), mode=mode), [x])


def test_cnn_conv_volume_tutorial_layout_literal_loops():
    # spec: CNN-CONV-VOLUME: from_hwck/to_hwck round trip; literal 1-based loops = library forward/backward
    rng = np.random.default_rng(0)
    n, h, wdt, c, f, kk = 2, 6, 5, 3, 3, 4
    xt = rng.standard_normal((n, h, wdt, c))          # tutorial: batch first, then h × w × c
    Kt = rng.standard_normal((f, f, c, kk))           # tutorial kernels (f, f, c, k)
    bt = rng.standard_normal(kk)
    W = from_hwck(Kt)
    assert W.shape == (kk, c, f, f)
    np.testing.assert_array_equal(to_hwck(W), Kt)
    X = t64(xt.transpose(0, 3, 1, 2))
    Wt, B = t64(W), t64(bt)
    Y = conv2d(X, Wt, B)
    Ho, Wo = h - f + 1, wdt - f + 1
    M = np.zeros((n, Ho, Wo, kk))
    for s in range(n):
        for i in range(1, Ho + 1):
            for j in range(1, Wo + 1):
                for k in range(kk):
                    M[s, i - 1, j - 1, k] = bt[k] + sum(
                        xt[s, i + m - 1 - 1, j + q - 1 - 1, ch] * Kt[m - 1, q - 1, ch, k]
                        for ch in range(c) for m in range(1, f + 1) for q in range(1, f + 1))
    np.testing.assert_allclose(Y.data.transpose(0, 2, 3, 1), M, rtol=1e-12)
    dnext = rng.standard_normal((n, Ho, Wo, kk))
    Y.backward(cr.Tensor(dnext.transpose(0, 3, 1, 2)))
    delta = np.zeros((n, h, wdt, c))
    for s in range(n):
        for m in range(1, h + 1):
            for q in range(1, wdt + 1):
                for ch in range(c):
                    tot = 0.0
                    for k in range(kk):
                        for a in range(1, f + 1):
                            for bb in range(1, f + 1):
                                i, j = m - a + 1, q - bb + 1
                                if 1 <= i <= Ho and 1 <= j <= Wo:
                                    tot += dnext[s, i - 1, j - 1, k] * Kt[a - 1, bb - 1, ch, k]
                    delta[s, m - 1, q - 1, ch] = tot
    np.testing.assert_allclose(X.grad.data.transpose(0, 2, 3, 1), delta, rtol=1e-12)
    dK = np.zeros_like(Kt)
    for m in range(1, f + 1):
        for q in range(1, f + 1):
            for ch in range(c):
                for k in range(kk):
                    dK[m - 1, q - 1, ch, k] = sum(dnext[s, i - 1, j - 1, k] * xt[s, i + m - 2, j + q - 2, ch]
                                                  for s in range(n) for i in range(1, Ho + 1) for j in range(1, Wo + 1))
    np.testing.assert_allclose(to_hwck(Wt.grad.data), dK, rtol=1e-12)
    np.testing.assert_allclose(B.grad.data, dnext.sum(axis=(0, 1, 2)), rtol=1e-12)


def test_conv2d_edge_template():
    # spec: CONV2D-EDGE-TEMPLATE
    img = np.zeros((10, 10))
    img[:, 5] = 1
    W = np.tile([-1.0, 2.0, -1.0], (3, 1))
    np.testing.assert_array_equal(W, W[::-1, ::-1])            # 180°-symmetric: convolution = correlation
    y = correlate2d(img, W)
    assert y.shape == (8, 8)
    np.testing.assert_array_equal(y[:, 4], 6)                   # valid column 4 is centred on image column 5
    np.testing.assert_array_equal(y[:, 3], -3)
    np.testing.assert_array_equal(y[:, 5], -3)
    assert np.all(y[:, [0, 1, 2, 6, 7]] == 0)
    np.testing.assert_array_equal(convolve2d(img, W), y)
    hor = np.zeros((10, 10))
    hor[5] = 1
    assert np.all(correlate2d(hor, W) == 0) and np.all(correlate2d(np.full((10, 10), 3.0), W) == 0)
    rng = np.random.default_rng(0)
    scene = rng.normal(0, 0.1, (20, 20))
    T = rng.standard_normal((3, 3))
    scene[11:14, 6:9] = T
    ncc = normalized_cross_correlation(scene, T)
    assert np.unravel_index(np.argmax(ncc), ncc.shape) == (11, 6)
    assert abs(ncc[11, 6] - 1.0) < 1e-12 and ncc.max() <= 1 + 1e-12      # Cauchy–Schwarz


# ----------------------------------------------------------------------------- dtypes and errors
def test_float32_stays_float32_and_mixing_raises():
    x = cr.Tensor(_r(2, 3, 6, 6).astype(np.float32), requires_grad=True)
    w = cr.Tensor(_r(4, 3, 3, 3).astype(np.float32), requires_grad=True)
    b = cr.Tensor(np.zeros(4, np.float32), requires_grad=True)
    y = conv2d(x, w, b, stride=2, padding=1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    yt = conv_transpose2d(y, cr.Tensor(np.ones((4, 2, 3, 3), np.float32)), stride=2)
    assert yt.dtype == np.float32
    with pytest.raises(TypeError, match="dtypes"):
        conv2d(x, cr.Tensor(_r(4, 3, 3, 3)))


def test_shape_errors_are_explicit():
    x = cr.Tensor(np.zeros((1, 4, 5, 5)))
    with pytest.raises(ValueError, match=r"\(N, C_in, H, W\)"):
        conv2d(cr.Tensor(np.zeros((4, 5, 5))), cr.Tensor(np.zeros((2, 4, 3, 3))))
    with pytest.raises(ValueError, match="groups=3 must divide"):
        conv2d(x, cr.Tensor(np.zeros((3, 1, 3, 3))), groups=3)
    with pytest.raises(ValueError, match="bias must have shape"):
        conv2d(x, cr.Tensor(np.zeros((2, 4, 3, 3))), cr.Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match="padding"):
        conv2d(x, cr.Tensor(np.zeros((2, 4, 3, 3))), padding="bogus")


def test_col2im_is_deterministic(layout):
    x = t64(_r(3, 2, 9, 9))
    w = t64(_r(4, 2, 3, 3))
    grads = []
    for _ in range(2):
        x.grad = None
        conv2d(x, w, stride=2, padding=1).sum().backward()
        grads.append(x.grad.data.copy())
    np.testing.assert_array_equal(grads[0], grads[1])
    # col2im of all-ones columns counts how many windows cover each input pixel
    g = C._Geom(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 9, 9)
    cover = C._col2im(np.ones((1, 3, 3, 1, g.Ho, g.Wo)), 1, 1, g)[0, 0]     # N = C = 1: both layouts alike
    ref = np.zeros((11, 11))
    for a in range(g.Ho):
        for b in range(g.Wo):
            ref[2 * a:2 * a + 3, 2 * b:2 * b + 3] += 1
    np.testing.assert_array_equal(cover, ref[1:10, 1:10])


@pytest.mark.parametrize("s", [1, 3])
def test_conv2d_kernel_covering_the_input_is_a_linear_layer(s):
    # the full-kernel shortcut (LeNet-5's C5: a 5×5 kernel on a 5×5 map) equals PyTorch's conv and is
    # differentiable to second order; with groups or padding the general path runs
    torch = torch_or_skip()
    x, w, b = _r(3, 4, 5, 6), _r(7, 4, 5, 6, seed=1), _r(7, seed=2)
    compare_with_torch(lambda x, w, b: conv2d(x, w, b, s), lambda x, w, b: torch.nn.functional.conv2d(x, w, b, s),
                       [x, w, b])
    X, Wt, B = t64(_r(2, 2, 3, 3)), t64(_r(2, 2, 3, 3, seed=3)), t64(_r(2, seed=4))
    assert conv2d(X, Wt, B).shape == (2, 2, 1, 1)
    assert cr.gradgradcheck(lambda x, w, b: cr.tanh(conv2d(x, w, b)), [X, Wt, B])
    F = torch.nn.functional
    compare_with_torch(lambda x, w: conv2d(x, w, None, 1, 0, 1, 2), lambda x, w: F.conv2d(x, w, None, 1, 0, 1, 2),
                       [_r(2, 4, 3, 3), _r(4, 2, 3, 3)])
