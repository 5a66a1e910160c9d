"""Linear regions of ReLU networks (spec: THEORY-LINEAR-REGIONS).

Counts regions exactly for 1-D input (breakpoints found analytically) and by a 1000×1000 grid for 2-D
input, and compares with the bounds: shallow Σ_{j≤D_i} C(D, j) (D + 1 for one input, 7 for three lines
in the plane), deep one-input Π(D_k + 1).
Run: python examples/theory/linear_regions.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save
from tqdm import tqdm

import chainrule as cr
from chainrule import nn
from chainrule.theory import (
    activation_patterns,
    count_linear_regions,
    linear_region_bound,
    linear_region_breakpoints,
    sawtooth_network,
)


def mlp(sizes, seed):
    g = cr.Generator(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=np.float64, generator=g))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__)
    import matplotlib.pyplot as plt

    n_nets = 40 if args.quick else 200
    res = 250 if args.quick else 1000
    Ds = list(range(1, 11))
    shallow1 = {"D": Ds, "max": [], "mean": [], "bound": []}
    for D in tqdm(Ds, desc="1-D shallow"):
        c = [count_linear_regions(mlp([1, D, 1], 1000 * D + s), (-3, 3)) for s in range(n_nets)]
        shallow1["max"].append(max(c))
        shallow1["mean"].append(float(np.mean(c)))
        shallow1["bound"].append(linear_region_bound(1, D))
    deep1 = {"D": Ds[:6], "max": [], "mean": [], "bound": []}
    for D in tqdm(Ds[:6], desc="1-D deep (two layers)"):
        c = [count_linear_regions(mlp([1, D, D, 1], 77 * D + s), (-3, 3)) for s in range(n_nets)]
        deep1["max"].append(max(c))
        deep1["mean"].append(float(np.mean(c)))
        deep1["bound"].append(linear_region_bound(1, [D, D]))

    lines = mlp([2, 3, 1], 0)
    lines[0].weight.data[...] = [[1, 0], [0, 1], [1, 1]]
    lines[0].bias.data[...] = [0, 0, -1]
    three_lines = count_linear_regions(lines, ((-1, 2), (-1, 2)), resolution=res)

    two_d = {"D": list(range(1, 9)), "max": [], "bound": []}
    n2 = 3 if args.quick else 10
    for D in tqdm(two_d["D"], desc="2-D shallow"):
        c = [count_linear_regions(mlp([2, D, 1], 31 * D + s), ((-3, 3), (-3, 3)), resolution=res // 2)
             for s in range(n2)]
        two_d["max"].append(max(c))
        two_d["bound"].append(linear_region_bound(2, D))

    saw = sawtooth_network()
    saw_count = count_linear_regions(saw, (0, 1))

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.4))
    ax[0].plot(Ds, shallow1["bound"], "k--", label="bound D + 1")
    ax[0].plot(Ds, shallow1["max"], "o-", label=f"max over {n_nets} random MLP(1,D,1)")
    ax[0].plot(Ds, shallow1["mean"], "s-", label="mean")
    ax[0].plot(deep1["D"], deep1["max"], "^-", label="max, MLP(1,D,D,1)")
    ax[0].plot(deep1["D"], deep1["bound"], "k:", label="bound (D + 1)²")
    ax[0].set(xlabel="units per layer D", ylabel="linear regions on [−3, 3]", title="1-D input (exact count)")
    ax[0].legend(fontsize=8)
    net = mlp([2, 8, 1], 5)
    n_img = 400
    g = np.linspace(-3, 3, n_img)
    XX, YY = np.meshgrid(g, g)
    P = activation_patterns(net, np.stack([XX.ravel(), YY.ravel()], 1))
    codes = P.astype(np.int64) @ (1 << np.arange(P.shape[1]))
    _, ids = np.unique(codes, return_inverse=True)
    from matplotlib.colors import ListedColormap
    colors = ListedColormap(0.25 + 0.75 * np.random.default_rng(0).random((ids.max() + 1, 3)))
    ax[1].imshow(ids.reshape(n_img, n_img), origin="lower", extent=(-3, 3, -3, 3), cmap=colors,
                 interpolation="nearest")
    n_regions = count_linear_regions(net, ((-3, 3), (-3, 3)), resolution=res)
    ax[1].set(title=f"MLP(2,8,1): {n_regions} regions (bound {linear_region_bound(2, 8)})", xlabel="x₁",
              ylabel="x₂")
    x = np.linspace(0, 1, 2001)
    ax[2].plot(x, saw(cr.Tensor(x[:, None])).data[:, 0], lw=2)
    for b in linear_region_breakpoints(saw, (0, 1)):
        ax[2].axvline(b, color="gray", lw=0.6, ls=":")
    ax[2].set(title=f"deep 1-3-3-1 sawtooth: {saw_count} regions (shallow 6 units ≤ 7)", xlabel="x")
    return save(args, "linear_regions", fig, {
        "shallow_1d": shallow1, "deep_1d": deep1, "shallow_2d": two_d, "three_lines_regions": three_lines,
        "three_lines_bound": linear_region_bound(2, 3), "sawtooth_regions": saw_count,
        "sawtooth_shallow_bound_6_units": linear_region_bound(1, 6),
        "sawtooth_deep_bound": linear_region_bound(1, [3, 3]),
        "mlp_2_8_1_regions": n_regions, "all_within_bounds": bool(
            all(m <= b for m, b in zip(shallow1["max"], shallow1["bound"]))
            and all(m <= b for m, b in zip(deep1["max"], deep1["bound"]))
            and all(m <= b for m, b in zip(two_d["max"], two_d["bound"])))}, seconds_digits=2)


if __name__ == "__main__":
    main()
