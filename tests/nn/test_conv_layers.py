"""Convolution and pooling layers: PyTorch equality with copied weights, init, shapes and errors,
parameter counts, ConvBlock."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import t64, torch_or_skip

import chainrule as cr
from chainrule import nn
from chainrule.models import count_parameters


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _copy_to_torch(mod, tmod):
    import torch
    with torch.no_grad():
        tmod.weight.copy_(torch.from_numpy(np.array(mod.weight.data)))
        if mod.bias is not None:
            tmod.bias.copy_(torch.from_numpy(np.array(mod.bias.data)))


def _same_as_torch(mod, tmod, x, atol=1e-12):
    torch = torch_or_skip()
    _copy_to_torch(mod, tmod)
    X = t64(x)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = mod(X), tmod(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=atol)
    g = _r(*y.shape, seed=9)
    y.backward(cr.Tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.data, xt.grad.numpy(), rtol=1e-10, atol=atol)
    np.testing.assert_allclose(mod.weight.grad.data, tmod.weight.grad.numpy(), rtol=1e-10, atol=atol)
    if mod.bias is not None:
        np.testing.assert_allclose(mod.bias.grad.data, tmod.bias.grad.numpy(), rtol=1e-10, atol=atol)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2),
                                dict(groups=2, bias=False), dict(groups=2, padding=1, kernel_size=1),
                                dict(padding=1, padding_mode="circular"),
                                dict(padding=(1, 2), padding_mode="reflect"), dict(padding=2, padding_mode="replicate"),
                                dict(kernel_size=(3, 2), stride=(2, 1), padding="valid")])
def test_conv2d_layer_equals_torch(kw):
    # spec: CONV2D-LAYER, CNN-CONV2D
    torch = torch_or_skip()
    kw = dict(kw)
    k = kw.pop("kernel_size", 3)
    m = nn.Conv2d(4, 6, k, dtype=np.float64, **kw)
    tm = torch.nn.Conv2d(4, 6, k, **kw).double()
    _same_as_torch(m, tm, _r(2, 4, 7, 8))


def test_depthwise_conv2d_equals_torch():
    torch = torch_or_skip()
    m = nn.Conv2d(4, 8, 3, groups=4, padding=1, dtype=np.float64)        # C_in/groups = 1
    _same_as_torch(m, torch.nn.Conv2d(4, 8, 3, groups=4, padding=1).double(), _r(2, 4, 6, 5))


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, dilation=2), dict(padding="same", groups=2),
                                dict(padding=2, padding_mode="circular")])
def test_conv1d_layer_equals_torch(kw):
    # spec: CNN-CONV1D, CONV1D-DILATED
    torch = torch_or_skip()
    m = nn.Conv1d(4, 6, 3, dtype=np.float64, **kw)
    tm = torch.nn.Conv1d(4, 6, 3, **kw).double()
    _same_as_torch(m, tm, _r(2, 4, 11))


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1), dict(stride=3, groups=2),
                                dict(dilation=2, padding=2)])
def test_conv_transpose_layers_equal_torch(kw):
    # spec: CONV-TRANSPOSED
    torch = torch_or_skip()
    m = nn.ConvTranspose2d(4, 6, 3, dtype=np.float64, **kw)
    tm = torch.nn.ConvTranspose2d(4, 6, 3, **kw).double()
    assert m.weight.shape == tuple(tm.weight.shape) == (4, 6 // kw.get("groups", 1), 3, 3)
    _same_as_torch(m, tm, _r(2, 4, 5, 4))
    m1 = nn.ConvTranspose1d(4, 6, 3, dtype=np.float64, **kw)
    tm1 = torch.nn.ConvTranspose1d(4, 6, 3, **kw).double()
    _same_as_torch(m1, tm1, _r(2, 4, 6))


def test_conv_transpose_output_size_argument():
    # spec: CONV-TRANSPOSED: output_padding picks among the s forward input sizes
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = cr.Tensor(np.zeros((1, 2, 3, 3), np.float32))
    assert m(x).shape[2:] == (5, 5)
    assert m(x, output_size=(6, 5)).shape[2:] == (6, 5)
    with pytest.raises(ValueError, match="not reachable"):
        m(x, output_size=(8, 8))
    down = nn.Conv2d(3, 2, 3, stride=2, padding=1)
    for size in (5, 6):   # both sizes map to 3 under the stride-2 conv; convT recovers either shape
        xin = cr.Tensor(np.zeros((1, 3, size, size), np.float32))
        assert m(down(xin), output_size=xin.shape).shape == xin.shape


def test_conv_layer_gradcheck_grid():
    # float64 finite differences through every conv layer variant (tiny sizes)
    grid = [(1, 1, 0, 1, 1), (2, 2, 1, 1, 2), (3, 1, 1, 2, 1), (3, 1, "same", 1, 2), (2, 1, "full", 1, 1)]
    for k, s, p, d, g in grid:
        m = nn.Conv2d(2, 2, k, stride=s, padding=p, dilation=d, groups=g, dtype=np.float64)
        x = t64(_r(1, 2, 4, 4, seed=k))
        assert cr.gradcheck(lambda x, w, b, m=m: nn.functional.conv2d(x, w, b, m.stride, m._pads, m.dilation, m.groups),
                            [x, m.weight, m.bias])
    m1 = nn.Conv1d(2, 3, 2, stride=2, dilation=2, padding=1, dtype=np.float64)
    assert cr.gradcheck(lambda x: m1(x), [t64(_r(2, 2, 7))])
    mt = nn.ConvTranspose2d(2, 2, 2, stride=2, dtype=np.float64)
    assert cr.gradcheck(lambda x: mt(x), [t64(_r(1, 2, 2, 3))])
    mc = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular", dtype=np.float64)
    assert cr.gradcheck(lambda x: mc(x), [t64(_r(1, 1, 4, 4))])


def test_default_init_is_pytorch_uniform_bound():
    # W, b ~ U(±1/√fan_in), fan_in = C_in/groups · kH · kW (kaiming_uniform with a = √5)
    m = nn.Conv2d(8, 64, 5, groups=2, generator=cr.Generator(3))
    bound = 1 / np.sqrt(4 * 25)
    for t in (m.weight.data, m.bias.data):
        assert np.abs(t).max() <= bound and np.abs(t).max() > 0.9 * bound
    assert abs(m.weight.data.std() - bound / np.sqrt(3)) < 0.05 * bound
    mt = nn.ConvTranspose2d(6, 4, 3)   # PyTorch: fan_in from weight.shape[1] · k² = 4·9
    assert np.abs(mt.weight.data).max() <= 1 / 6
    a = nn.Conv2d(1, 2, 3, generator=cr.Generator(5)).weight.data
    b = nn.Conv2d(1, 2, 3, generator=cr.Generator(5)).weight.data
    np.testing.assert_array_equal(a, b)
    assert nn.Conv2d(1, 2, 3).weight.dtype == np.float32


def test_shape_errors_name_layer_expected_and_given():
    m = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*C_in = 3.*got shape \(2, 1, 8, 8\)"):
        m(cr.Tensor(np.zeros((2, 1, 8, 8), np.float32)))
    with pytest.raises(ValueError, match=r"Conv2d: expected input \(N, C, H, W\)"):
        m(cr.Tensor(np.zeros((8, 8), np.float32)))
    with pytest.raises(ValueError, match=r"Conv1d.*C_in = 2"):
        nn.Conv1d(2, 4, 3)(cr.Tensor(np.zeros((1, 3, 9), np.float32)))
    with pytest.raises(ValueError, match="groups=3 must divide"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="stride 1"):
        nn.Conv2d(4, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(4, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2\): expected input \(N, C, H, W\)"):
        nn.MaxPool2d(2)(cr.Tensor(np.zeros((3, 4), np.float32)))
    with pytest.raises(ValueError, match="size < 1"):
        nn.Conv2d(1, 1, 5)(cr.Tensor(np.zeros((1, 1, 4, 4), np.float32)))
    # unbatched input is accepted as in PyTorch
    assert nn.Conv2d(3, 8, 3)(cr.Tensor(np.zeros((3, 5, 5), np.float32))).shape == (8, 3, 3)
    assert nn.Conv1d(3, 8, 3)(cr.Tensor(np.zeros((3, 5), np.float32))).shape == (8, 3)


def test_param_counts():
    # spec: CNN-PARAM-COUNT: conv C_out(C_in·kH·kW + 1); 20 kernels 5×5 on 28×28 -> 520 vs dense 784 -> 30 23,550
    conv = nn.Conv2d(1, 20, 5)
    assert count_parameters(conv) == 520
    assert conv(cr.Tensor(np.zeros((1, 1, 28, 28), np.float32))).shape == (1, 20, 24, 24)
    assert count_parameters(nn.Linear(784, 30)) == 23_550
    # spec: CONV2D-LAYER: Conv2d(3, 16, 5) has 1216 parameters; unshared over the 576 valid 28×28 windows 700,416
    c = nn.Conv2d(3, 16, 5)
    assert count_parameters(c) == 1216
    m_positions = c(cr.Tensor(np.zeros((1, 3, 28, 28), np.float32))).shape[2] ** 2
    assert m_positions == 576 and m_positions * 1216 == 700_416
    # spec: CONV1D-DILATED: C_o·C_i·K + C_o (K = 3, one channel: 3 + 1)
    assert count_parameters(nn.Conv1d(1, 1, 3)) == 4 and count_parameters(nn.Conv1d(4, 5, 3)) == 65
    assert count_parameters(nn.Conv2d(4, 6, 3, groups=2, bias=False)) == 6 * 2 * 9


def test_cnn_relu_derivative_at_zero_is_zero():
    # spec: CNN-RELU (errata F21: the library fixes g'(0) = 0, as PyTorch)
    z = t64(np.array([-1.0, 0.0, 2.0]))
    nn.ReLU()(z).sum().backward()
    np.testing.assert_array_equal(z.grad.data, [0.0, 0.0, 1.0])
    # δ_in = δ_out ⊙ 1[z > 0] after a convolution
    x = t64(np.zeros((1, 1, 3, 3)))
    conv = nn.Conv2d(1, 1, 1, bias=False, dtype=np.float64)
    nn.ReLU()(conv(x)).sum().backward()
    np.testing.assert_array_equal(conv.weight.grad.data, 0.0)


@pytest.mark.parametrize("layer,tname,kw", [
    (nn.MaxPool2d, "MaxPool2d", dict(kernel_size=3, stride=2, padding=1)),
    (nn.MaxPool2d, "MaxPool2d", dict(kernel_size=2, ceil_mode=True)),
    (nn.AvgPool2d, "AvgPool2d", dict(kernel_size=3, stride=2, padding=1)),
    (nn.AvgPool2d, "AvgPool2d", dict(kernel_size=2, count_include_pad=False, padding=1)),
    (nn.AdaptiveAvgPool2d, "AdaptiveAvgPool2d", dict(output_size=(3, 2))),
])
def test_pooling_layers_equal_torch(layer, tname, kw):
    # spec: CNN-MAXPOOL, CNN-AVGPOOL, POOL-OUTSIZE
    torch = torch_or_skip()
    x = _r(2, 3, 7, 6)
    X, xt = t64(x), torch.tensor(x, requires_grad=True)
    y, yt = layer(**kw)(X), getattr(torch.nn, tname)(**kw)(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12)
    g = _r(*y.shape, seed=1)
    y.backward(cr.Tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.data, xt.grad.numpy(), rtol=1e-12)


def test_pooling_1d_and_global_layers():
    torch = torch_or_skip()
    x = _r(2, 3, 9)
    np.testing.assert_allclose(nn.MaxPool1d(3, 2, 1)(cr.Tensor(x)).data,
                               torch.nn.MaxPool1d(3, 2, 1)(torch.tensor(x)).numpy())
    np.testing.assert_allclose(nn.AvgPool1d(2)(cr.Tensor(x)).data, torch.nn.AvgPool1d(2)(torch.tensor(x)).numpy())
    np.testing.assert_allclose(nn.AdaptiveAvgPool1d(4)(cr.Tensor(x)).data,
                               torch.nn.AdaptiveAvgPool1d(4)(torch.tensor(x)).numpy())
    y, idx = nn.MaxPool2d(2, return_indices=True)(cr.Tensor(_r(1, 2, 4, 4)))
    assert y.shape == idx.shape == (1, 2, 2, 2)
    g = nn.GlobalAvgPool2d()(cr.Tensor(_r(2, 3, 4, 5)))
    assert g.shape == (2, 3)
    assert nn.GlobalAvgPool2d(keepdim=True)(cr.Tensor(_r(2, 3, 4, 5))).shape == (2, 3, 1, 1)
    assert count_parameters(nn.Sequential(nn.MaxPool2d(2), nn.AvgPool2d(2), nn.GlobalAvgPool2d())) == 0


def test_conv_block_equals_explicit_composition():
    # spec: CNN-BLOCK: conv -> non-linearity -> pooling; shapes per CNN-CONV-OUTSIZE
    cr.manual_seed(1)
    blk = nn.ConvBlock(3, 8, 5, activation="relu", pool=2)
    x = cr.Tensor(_r(2, 3, 28, 28).astype(np.float32))
    y = blk(x)
    assert y.shape == (2, 8, 12, 12)       # (28 − 5 + 1)/2
    ref = nn.functional.max_pool2d(cr.relu(nn.functional.conv2d(x, blk.conv.weight, blk.conv.bias)), 2)
    np.testing.assert_array_equal(y.data, ref.data)
    assert count_parameters(blk) == 8 * (3 * 25 + 1)
    same = nn.ConvBlock(1, 4, 3, activation="tanh", pool=2, padding="same", pool_type="avg")
    assert same(cr.Tensor(np.zeros((1, 1, 10, 10), np.float32))).shape == (1, 4, 5, 5)
    bn = nn.ConvBlock(1, 4, 3, pool=None, batch_norm=True)
    assert bn.conv.bias is None and bn(cr.Tensor(_r(2, 1, 6, 6).astype(np.float32))).shape == (2, 4, 4, 4)
    seq = [n for n, _ in blk.named_children()]
    assert seq == ["conv", "act", "pool"]


def test_state_dict_round_trip_and_float64_cast():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2))
    sd = m.state_dict()
    assert set(sd) == {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                       "1.num_batches_tracked"}
    m2 = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2))
    m2.load_state_dict(sd)
    x = cr.Tensor(_r(2, 1, 6, 6).astype(np.float32))
    m.eval()
    m2.eval()
    np.testing.assert_array_equal(m(x).data, m2(x).data)
    m.double()
    assert m(x.double()).dtype == np.float64
