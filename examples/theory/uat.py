"""Universal approximation, constructively and by training (spec: THEORY-UAT-DEMO).

Shallow networks with *assigned* weights (steps, steep sigmoids, ReLU interpolant) approximate
f(x) = sin 2πx on [0, 1]; the sup error falls as units are added, within the spec's bounds.  A trained
MLP(1, D, 1) (Adam 1e-2, 3000 full-batch steps on 200 points, best of 3 seeds) does the same.
Run: python examples/theory/uat.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import log2_ticks, parse_args, save
from tqdm import tqdm

import chainrule as cr
from chainrule.theory import (
    derivative_trick_network,
    relu_interpolant_network,
    step_network,
    sup_error,
    train_shallow_relu,
)


def f(x):
    return np.sin(2 * np.pi * x)


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__)
    import matplotlib.pyplot as plt

    ns = [5, 10, 20, 40] if args.quick else [5, 10, 20, 40, 80, 160, 320]
    n_sup = 20_000 if args.quick else 100_000
    cons = {"n": ns, "heaviside": [], "sigmoid": [], "relu": []}
    for n in ns:
        cons["heaviside"].append(sup_error(step_network(f, n), f, n_points=n_sup))
        cons["sigmoid"].append(sup_error(step_network(f, n, activation="sigmoid"), f, n_points=n_sup))
        cons["relu"].append(sup_error(relu_interpolant_network(f, n), f, n_points=n_sup))
    K = 2 * np.pi
    ns_a = np.array(ns, dtype=float)
    within = bool(np.all(np.array(cons["heaviside"]) <= K / (2 * ns_a))
                  and np.all(np.array(cons["sigmoid"]) <= K / ns_a)
                  and np.all(np.array(cons["relu"]) <= 4 * np.pi**2 / ns_a**2 / 8))

    x = np.linspace(-1, 1, 20001)
    s = 1 / (1 + np.exp(1.0))
    G = derivative_trick_network()(cr.Tensor(x[:, None])).data[:, 0]
    deriv_err = float(np.max(np.abs(G - x * s * (1 - s))))

    widths = [2, 8, 32] if args.quick else [1, 2, 4, 8, 16, 32, 64]
    seeds = [0] if args.quick else [0, 1, 2]
    steps = 600 if args.quick else 3000
    trained = {"width": widths, "best_mse": [], "sup_error": []}
    best_models = {}
    for D in tqdm(widths, desc="train MLP(1,D,1)"):
        runs = [train_shallow_relu(f, D, steps=steps, seed=sd) for sd in seeds]
        net, mse = min(runs, key=lambda r: r[1])
        trained["best_mse"].append(mse)
        trained["sup_error"].append(sup_error(net, f, n_points=n_sup))
        best_models[D] = net
    mse = dict(zip(widths, trained["best_mse"]))
    spec_check = bool(mse[8] < mse[2] and mse[32] < mse[2] / 10)

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    for key, lab in [("heaviside", "steps (Heaviside)"), ("sigmoid", "steep sigmoids"), ("relu", "ReLU interpolant")]:
        ax[0].loglog(ns, cons[key], "o-", label=lab)
    ax[0].loglog(ns_a, K / (2 * ns_a), "k:", lw=1, label="K/(2n)")
    ax[0].loglog(ns_a, 4 * np.pi**2 / ns_a**2 / 8, "k--", lw=1, label="4π²h²/8")
    ax[0].set(xlabel="hidden units n", ylabel="sup |G − f|", title="constructed nets (weights assigned)")
    log2_ticks(ax[0], ns)
    ax[0].legend(fontsize=8)
    xx = np.linspace(0, 1, 1000)
    ax[1].plot(xx, f(xx), "k", lw=2, label="sin 2πx")
    for net, lab in [(step_network(f, 10), "10 steps"), (relu_interpolant_network(f, 10), "10 ReLUs")]:
        ax[1].plot(xx, net(cr.Tensor(xx[:, None])).data[:, 0], label=lab)
    D_show = widths[-1] if args.quick else 8
    ax[1].plot(xx, best_models[D_show](cr.Tensor(xx[:, None])).data[:, 0], "--", label=f"trained, D={D_show}")
    ax[1].legend(fontsize=8)
    ax[1].set(title="approximations", xlabel="x")
    ax[2].loglog(widths, trained["best_mse"], "s-", label="training MSE (best of seeds)")
    ax[2].loglog(widths, trained["sup_error"], "o-", label="sup error")
    ax[2].set(xlabel="hidden units D", title=f"trained MLP(1,D,1), Adam, {steps} steps")
    log2_ticks(ax[2], widths)
    ax[2].legend(fontsize=8)
    return save(args, "uat", fig, {
        "constructive": cons, "constructive_within_bounds": within,
        "constructive_n10": {k: cons[k][ns.index(10)] for k in ("heaviside", "sigmoid", "relu")},
        "derivative_trick_max_error": deriv_err, "trained": trained,
        "trained_spec_check_mse8<mse2_and_mse32<mse2/10": spec_check}, seconds_digits=2)


if __name__ == "__main__":
    main()
