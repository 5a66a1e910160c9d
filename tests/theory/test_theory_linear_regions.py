"""Counting linear regions of ReLU networks.  spec: THEORY-LINEAR-REGIONS"""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.theory import (
    activation_patterns,
    count_linear_regions,
    linear_region_bound,
    linear_region_breakpoints,
    sawtooth_network,
)


def _mlp(sizes, seed):
    g = cr.Generator(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=np.float64, generator=g))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def test_bounds():
    # spec: THEORY-LINEAR-REGIONS: Σ_{j≤D_i} C(D, j); D_i = 2, D = 3 → 7; D_i = 1 → D + 1; deep 1-D (D+1)^K
    assert linear_region_bound(2, 3) == 7
    assert linear_region_bound(1, 6) == 7
    assert linear_region_bound(5, 3) == 8  # D_i > D: 2^D (the erratum: the bound holds for D_i > D too)
    assert linear_region_bound(1, [3, 3]) == 16
    assert linear_region_bound(2, [4, 4]) == 11 * 11


def test_random_1d_nets_within_d_plus_1_and_exact_equals_sampled():
    # spec: THEORY-LINEAR-REGIONS check (a): 200 random MLP(1, D, 1), D = 1..10: count ≤ D + 1
    rng = np.random.default_rng(0)
    for i in range(200):
        D = 1 + i % 10
        net = _mlp([1, D, 1], seed=i)
        exact = count_linear_regions(net, (-3, 3))
        assert 1 <= exact <= D + 1
        if i % 20 == 0:
            sampled = count_linear_regions(net, (-3, 3), method="sample", resolution=20_000)
            bps = linear_region_breakpoints(net, (-3, 3))
            gaps = np.diff(np.r_[-3, bps, 3])
            if gaps.min() > 1e-3:  # sampling resolves every region
                assert sampled == exact
            # joints of a shallow net are at −b/w inside the interval
            w, b = net[0].weight.data[:, 0], net[0].bias.data
            joints = np.sort((-b / w)[(w != 0) & (np.abs(-b / w) < 3)])
            np.testing.assert_allclose(bps, joints, rtol=1e-12)
    del rng


def test_three_lines_make_seven_regions():
    # spec: THEORY-LINEAR-REGIONS check (b): x1 = 0, x2 = 0, x1 + x2 = 1 on [−1, 2]² → exactly 7
    net = _mlp([2, 3, 1], 0)
    net[0].weight.data[...] = [[1, 0], [0, 1], [1, 1]]
    net[0].bias.data[...] = [0, 0, -1]
    assert count_linear_regions(net, ((-1, 2), (-1, 2)), resolution=400) == 7
    # the same lines on a box that misses their intersections give fewer regions
    assert count_linear_regions(net, ((0.1, 2), (0.1, 2)), resolution=200) == 2


def test_random_2d_nets_within_bound():
    # spec: THEORY-LINEAR-REGIONS check (c): random MLP(2, D, 1), D ≤ 8: ≤ Σ_{j≤2} C(D, j)
    for D in range(1, 9):
        for seed in range(2):
            n = count_linear_regions(_mlp([2, D, 1], 10 * D + seed), ((-3, 3), (-3, 3)), resolution=200)
            assert 1 <= n <= linear_region_bound(2, D)


def test_deep_sawtooth_has_nine_regions():
    # spec: THEORY-LINEAR-REGIONS check (d): exactly 9 on (0, 1), > 7 (shallow 6 units), ≤ 16
    net = sawtooth_network()
    assert count_linear_regions(net, (0, 1)) == 9
    assert count_linear_regions(net, (0, 1), method="sample") == 9
    np.testing.assert_allclose(linear_region_breakpoints(net, (0, 1)), np.arange(1, 9) / 9, atol=1e-12)
    assert 9 > linear_region_bound(1, 6) and 9 <= linear_region_bound(1, [3, 3])
    # every piece is affine: the output is linear between breakpoints
    x = np.linspace(0.001, 0.999, 2001)
    y = net(cr.Tensor(x[:, None])).data[:, 0]
    pieces = np.searchsorted(np.arange(1, 9) / 9, x)
    for k in range(9):
        xs, ys = x[pieces == k], y[pieces == k]
        coef = np.polyfit(xs, ys, 1)
        np.testing.assert_allclose(np.polyval(coef, xs), ys, atol=1e-10)


def test_deep_random_1d_within_product_bound_and_patterns():
    for seed in range(30):
        net = _mlp([1, 4, 3, 1], seed)
        assert count_linear_regions(net, (-5, 5)) <= linear_region_bound(1, [4, 3])
    P = activation_patterns(sawtooth_network(), np.array([[0.1], [0.5]]))
    assert P.shape == (2, 6) and P.dtype == bool
    with pytest.raises(ValueError, match="Linear/ReLU"):
        count_linear_regions(nn.Sequential(nn.Linear(1, 2), nn.Tanh(), nn.Linear(2, 1)), (0, 1))
