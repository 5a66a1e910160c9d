"""Shallow networks: parameter counts, joints and pieces, collapse without activation
(spec: SHALLOW-NET-PARAMS).
Run: python examples/theory/shallow_params.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save

import chainrule as cr
from chainrule import nn
from chainrule.models import MLP
from chainrule.theory import collapse_linear, count_linear_regions, count_params, relu_joints, shallow_param_count


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__)
    import matplotlib.pyplot as plt

    counts = {f"MLP({a},{d},{o})": {"formula D(D_i+1)+D_o(D+1)": shallow_param_count(a, d, o),
                                    "count_params": count_params(MLP([a, d, o]))}
              for a, d, o in [(1, 3, 1), (2, 3, 1), (784, 30, 10), (10, 100, 3)]}
    cr.manual_seed(0)
    stack = nn.Sequential(nn.Linear(5, 2, dtype=np.float64), nn.Linear(2, 5, dtype=np.float64))
    W, _ = collapse_linear(stack)
    sv = np.linalg.svd(W, compute_uv=False)
    rank = int(np.sum(sv > 1e-12 * sv[0]))
    net = nn.Sequential(nn.Linear(1, 3, dtype=np.float64), nn.ReLU(), nn.Linear(3, 1, dtype=np.float64))
    net[0].weight.data[...] = [[1.0], [-1.0], [2.0]]
    net[0].bias.data[...] = [-0.2, 0.5, -1.4]
    net[2].weight.data[...] = [[1.0, 1.5, -1.2]]
    net[2].bias.data[...] = [-0.3]
    joints = relu_joints(net)
    pieces = count_linear_regions(net, (0, 1))
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    x = np.linspace(0, 1, 500)
    H = np.maximum(0, x[:, None] * net[0].weight.data[:, 0] + net[0].bias.data)
    for d in range(3):
        ax[0].plot(x, net[2].weight.data[0, d] * H[:, d], "--", label=f"φ{d + 1}·a[θ{d + 1}0 + θ{d + 1}1 x]")
    ax[0].plot(x, net(cr.Tensor(x[:, None])).data[:, 0], "k", lw=2, label="y (sum + φ0)")
    for j in joints:
        ax[0].axvline(j, color="gray", lw=0.6, ls=":")
    ax[0].set(title=f"1-3-1 ReLU net: joints {np.round(joints, 2).tolist()}, {pieces} pieces", xlabel="x")
    ax[0].legend(fontsize=7)
    ax[1].bar(range(1, 6), sv)
    ax[1].set(yscale="log", title=f"singular values of W₂W₁ for Linear(2,5)∘Linear(5,2): rank {rank}",
              xlabel="index")
    return save(args, "shallow_params", fig, {"parameter_counts": counts, "collapsed_rank": rank,
                                              "singular_values": sv, "joints": joints, "pieces": pieces},
                seconds_digits=2)


if __name__ == "__main__":
    main()
