"""Looking inside CNNs: filter grids, feature maps, activation maximisation.  (spec: CNN-FILTER-VIS, AD-INPUT-OPTIM)"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.models import TFCNN, LeNet5
from chainrule.visualize import (
    activation_maximization,
    feature_maps,
    filter_grid,
    find_module,
    minmax_scale,
    plot_feature_maps,
    plot_filters,
)

PNG = b"\x89PNG\r\n\x1a\n"


def test_filter_grid_has_cout_tiles_each_minmax_scaled():
    # spec: CNN-FILTER-VIS — grid has C_out tiles, each min–max scaled
    conv = nn.Conv2d(1, 7, 5, generator=cr.Generator(0))
    g = filter_grid(conv, ncols=3, pad=1)
    assert g.shape == (3 * 6 + 1, 3 * 6 + 1)
    w = conv.weight.data
    tiles = []
    for i in range(7):
        r, c = divmod(i, 3)
        t = g[1 + 6 * r:6 + 6 * r, 1 + 6 * c:6 + 6 * c]
        tiles.append(t)
        assert t.min() == 0.0 and t.max() == 1.0
        np.testing.assert_allclose(t, (w[i, 0] - w[i, 0].min()) / np.ptp(w[i, 0]), rtol=1e-6)
    assert len(tiles) == 7
    assert (g[1 + 12:, 1 + 6:] == 1.0).all()  # the two unused cells stay background
    assert filter_grid(conv.weight).shape == (3 * 6 + 1, 3 * 6 + 1)  # default ncols = ⌈√7⌉ = 3
    # RGB filters give an RGB grid; other C_in: channel mean or one channel
    assert filter_grid(np.random.default_rng(0).standard_normal((4, 3, 3, 3))).shape == (9, 9, 3)
    w5 = np.random.default_rng(1).standard_normal((2, 5, 3, 3))
    np.testing.assert_allclose(filter_grid(w5, ncols=2, pad=0)[:, :3], minmax_scale(w5[0].mean(0)))
    np.testing.assert_allclose(filter_grid(w5, ncols=2, pad=0, in_channel=4)[:, 3:], minmax_scale(w5[1, 4]))
    assert filter_grid(np.ones((3, 2, 5)), ncols=3, pad=0).shape == (1, 15)  # Conv1d weight; constant → zeros
    assert minmax_scale(np.ones(3)).tolist() == [0, 0, 0]


def test_filter_grid_errors():
    with pytest.raises(ValueError, match=r"expected a conv weight \(C_out, C_in, kH, kW\)"):
        filter_grid(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"in_channel must be in \[0, 2\)"):
        filter_grid(np.zeros((2, 2, 3, 3)), in_channel=2)
    with pytest.raises(ValueError, match="has no 'weight'"):
        filter_grid(nn.ReLU())


def test_plot_filters_and_feature_maps_write_png(tmp_path):
    # spec: CNN-FILTER-VIS — PNG saved
    m = LeNet5(generator=cr.Generator(0))
    p = plot_filters(m.features.c1, tmp_path / "f.png")
    assert p.read_bytes()[:8] == PNG
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32)).astype(np.float32)
    maps = feature_maps(m, x, ["features.act1", "features.s2", "features.c5", "classifier.f6"])
    q = plot_feature_maps(maps, tmp_path / "m.png", sample=1, image=x[1], max_channels=6, title="t")
    assert q.read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="no layer outputs"):
        plot_feature_maps({}, tmp_path / "e.png")


def test_feature_maps_equal_manual_forward_and_cleanup():
    # spec: CNN-FILTER-VIS — per-layer feature maps for one input
    m = TFCNN(channels=(3, 4), hidden=8, dtype=np.float64, generator=cr.Generator(1))
    x = np.random.default_rng(2).standard_normal((1, 1, 28, 28))
    maps = feature_maps(m, x)
    assert list(maps)[:3] == ["features.conv1", "features.relu1", "features.pool1"]
    assert len(maps) == len([n for n, s in m.named_modules() if n and not list(s.children())])
    f = m.features
    with cr.no_grad():
        a1 = f.relu1(f.conv1(cr.Tensor(x))).data
        a2 = f.pool2(f.relu2(f.conv2(f.pool1(cr.Tensor(a1))))).data
    np.testing.assert_array_equal(maps["features.relu1"], a1)
    np.testing.assert_array_equal(maps["features.pool2"], a2)
    assert maps["features.pool2"].shape == (1, 4, 7, 7) and maps["classifier.fc2"].shape == (1, 10)
    # dropout was off (eval mode during the pass), train mode restored, no hooks left behind
    np.testing.assert_array_equal(maps["classifier.dropout"], maps["classifier.relu3"])
    assert m.training and all(not s.__dict__.get("_forward_hooks") for s in m.modules())
    with pytest.raises(KeyError, match="no submodule named 'nope'"):
        feature_maps(m, x, ["nope"])
    m32 = TFCNN(channels=(3, 4), hidden=8, generator=cr.Generator(1))  # float32 model, float64 array: cast
    assert feature_maps(m32, x, ["features.conv1"])["features.conv1"].dtype == np.float32
    x32, _ = activation_maximization(m32, None, 0, x0=x, steps=2)
    assert x32.dtype == np.float32
    assert find_module(m, "features.conv2") is m.features.conv2


def test_activation_maximization_raises_unit_and_keeps_weights():
    # spec: AD-INPUT-OPTIM, CNN-FILTER-VIS — a_u rises for a small η; weights bit-identical; no .grad
    m = LeNet5(activation="relu", dtype=np.float64, generator=cr.Generator(2))
    before = {k: v.data.copy() for k, v in m.state_dict().items()}
    for layer, unit in [(None, 3), ("features.c3", 5), ("classifier.f6", 10)]:
        x, hist = activation_maximization(m, layer, unit, input_shape=(1, 1, 32, 32), lr=1.0, steps=15, seed=1)
        assert np.all(np.diff(hist) > 0), (layer, hist)  # strictly rising (a no-op would give equal values)
        assert x.shape == (1, 1, 32, 32)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])
    assert all(p.grad is None for p in m.parameters())
    assert m.training and not m.features.c3.__dict__.get("_forward_hooks")


def test_activation_maximization_first_step_is_the_gradient_step():
    # spec: AD-INPUT-OPTIM — x₁ = x₀ + η ∇ₓ[a_u − λ‖x‖²], a_u = spatial mean of channel u of a conv layer
    m = LeNet5(dtype=np.float64, generator=cr.Generator(3))
    x0 = np.random.default_rng(4).standard_normal((1, 1, 32, 32)) * 0.1
    x1, _ = activation_maximization(m, "features.c3", 2, x0=x0, lr=0.3, steps=1, weight_decay=0.05)
    xt = cr.Tensor(x0.copy(), requires_grad=True)
    a = m.features[:4](xt)[:, 2].mean()
    obj = a - (xt * xt).sum() * 0.05
    obj.backward()
    np.testing.assert_allclose(x1.data, x0 + 0.3 * xt.grad.data, rtol=1e-12, atol=1e-14)
    # clipping
    xc, _ = activation_maximization(m, None, 1, x0=x0, lr=100.0, steps=3, clip=(-0.2, 0.2))
    assert xc.data.min() >= -0.2 and xc.data.max() <= 0.2


def test_activation_maximization_errors():
    m = LeNet5()
    with pytest.raises(ValueError, match="pass x0"):
        activation_maximization(m, None, 0)
    with pytest.raises(ValueError, match=r"unit must be in \[0, 10\)"):
        activation_maximization(m, None, 10, input_shape=(1, 1, 32, 32), steps=1)
    with pytest.raises(KeyError, match="no submodule"):
        activation_maximization(m, "c9", 0, input_shape=(1, 1, 32, 32), steps=1)
