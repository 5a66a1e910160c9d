"""AdaptiveMaxPool1d/2d layers: PyTorch equality (values, indices, gradients), exports, repr, no parameters."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import t64, torch_or_skip

import chainrule as cr
from chainrule import nn


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("layer,out,shape", [
    ("AdaptiveMaxPool2d", (3, 2), (2, 3, 7, 5)),
    ("AdaptiveMaxPool2d", 4, (3, 9, 6)),              # (C, H, W)
    ("AdaptiveMaxPool2d", (None, 3), (2, 2, 5, 7)),
    ("AdaptiveMaxPool2d", (2, 2), (1, 2, 6, 4)),      # divisible: the max-pool path
    ("AdaptiveMaxPool1d", 4, (2, 3, 10)),
    ("AdaptiveMaxPool1d", 5, (3, 7)),                 # (C, L)
])
def test_adaptive_max_pool_layers_equal_torch(layer, out, shape):
    # spec: CNN-MAXPOOL, POOL-OUTSIZE
    torch = torch_or_skip()
    x = np.round(_r(*shape, seed=len(shape)) * 2)     # ties: the first maximum, as PyTorch
    x.flat[::7] = np.nan                              # NaN: the last NaN of a window, as PyTorch
    X, xt = t64(x), torch.tensor(x, requires_grad=True)
    (y, idx), (yt, it) = getattr(nn, layer)(out, return_indices=True)(X), getattr(torch.nn, layer)(
        out, return_indices=True)(xt)
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    np.testing.assert_array_equal(idx.data, it.numpy())
    g = _r(*y.shape, seed=1)
    y.backward(cr.Tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.data, xt.grad.numpy(), rtol=1e-10, atol=0)
    X.grad = None
    y2 = getattr(nn, layer)(out)(X)                   # return_indices=False: a plain tensor
    assert isinstance(y2, cr.Tensor)
    np.testing.assert_array_equal(y2.data, y.data)


def test_adaptive_max_pool_layer_exports_repr_and_parameters():
    m = nn.AdaptiveMaxPool2d((3, None))
    assert repr(m) == "AdaptiveMaxPool2d(output_size=(3, None))"
    assert repr(nn.AdaptiveMaxPool1d(4)) == "AdaptiveMaxPool1d(output_size=4)"
    assert list(m.parameters()) == [] and m.state_dict() == {}
    assert cr.ops.adaptive_max_pool2d is cr.ops.pool.adaptive_max_pool2d
    assert cr.ops.adaptive_max_pool1d is cr.ops.pool.adaptive_max_pool1d
    assert m(cr.Tensor(np.zeros((2, 3, 7, 5)))).shape == (2, 3, 3, 5)


def test_adaptive_max_pool_layer_in_a_network_of_varying_input_size():
    # conv → ReLU → AdaptiveMaxPool2d → Linear on inputs of two sizes: the pooled size is fixed and the
    # gradients reach the conv weights; gradcheck of the conv weight through the pool (float64)
    cr.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, dtype=np.float64), nn.ReLU(), nn.AdaptiveMaxPool2d((2, 3)),
                        nn.Flatten(), nn.Linear(12, 1, dtype=np.float64))
    for hw in [(9, 8), (7, 11)]:
        x = cr.Tensor(_r(2, 1, *hw, seed=hw[0]))
        y = net(x)
        assert y.shape == (2, 1)
        net.zero_grad()
        y.sum().backward()
        assert np.abs(net[0].weight.grad.data).sum() > 0
    pool = nn.AdaptiveMaxPool2d((2, 3))
    assert cr.gradcheck(lambda w: pool(cr.ops.conv2d(x, w)), [t64(net[0].weight.data)])


def test_adaptive_max_pool_layer_rejects_bad_input_with_a_clear_message():
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: expected input of shape \(N, C, H, W\) or \(C, H, W\)"):
        nn.AdaptiveMaxPool2d(2)(cr.Tensor(np.zeros((4, 4))))
    with pytest.raises(ValueError, match=r"adaptive_max_pool1d: output_size must be .*got 0 \(entry 0 < 1\)"):
        nn.AdaptiveMaxPool1d(0)(cr.Tensor(np.zeros((1, 2, 4))))
