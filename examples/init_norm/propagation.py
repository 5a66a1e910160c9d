"""Signal propagation through a deep MLP under every init × activation combination.

For a 50-layer width-256 MLP (float64, 512 standard-normal inputs, random targets, ½·MSE) this records per
layer the activation mean/variance and the delta norms ‖δ^{[l]}‖ = ‖∂L/∂s^{[l]}‖ (spec: MLP-VANISHING-GRAD,
INIT-VARIANCE-PROP), compares the measured pre-activation variance with the mean-field prediction
q_l = F_f(q_{l−1}) (``nn.init.propagate_variance``), and shows the SELU fixed point: measured statistics
vs the moment map (spec: NORM-SNN-MAP, ACT-SELU) and the map's flow on the (μ, ν) plane.

    python examples/init_norm/propagation.py [--quick]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save_fig, save_json
from init_norm_common import QUICK_OUT
from tqdm import tqdm

import chainrule as cr
from chainrule import nn
from chainrule.nn import init, snn

INITS = {
    "N(0,1)": lambda w, g: init.normal_(w, 0.0, 1.0, g),
    "N(0,0.01²)": lambda w, g: init.normal_(w, 0.0, 0.01, g),
    "LeCun N(0,1/J)": lambda w, g: init.lecun_normal_(w, g),
    "Xavier (=LeCun, square W)": lambda w, g: init.xavier_normal_(w, generator=g),
    "He N(0,2/J)": lambda w, g: init.kaiming_normal_(w, nonlinearity="relu", generator=g),
    "orthogonal": lambda w, g: init.orthogonal_(w, generator=g),
}
ACTS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "selu": nn.SELU}
VAR_W = {"N(0,1)": lambda J: 1.0, "N(0,0.01²)": lambda J: 1e-4, "LeCun N(0,1/J)": lambda J: 1.0 / J,
         "Xavier (=LeCun, square W)": lambda J: 1.0 / J, "He N(0,2/J)": lambda J: 2.0 / J,
         "orthogonal": lambda J: 1.0 / J}


def build(depth: int, width: int, act, init_fn, seed: int) -> nn.Sequential:
    g = cr.Generator(seed)
    layers = []
    for _ in range(depth):
        lin = nn.Linear(width, width, dtype=np.float64, generator=g)
        init_fn(lin.weight, g)
        init.zeros_(lin.bias)
        layers += [lin, act()]
    return nn.Sequential(*layers)


def classify(st: dict, depth: int) -> str:
    """Total change over the depth: forward F = Var a^L/Var a^1, backward B = ‖δ¹‖/‖δᴸ‖;
    < 1e−2 vanishing, > 1e2 exploding (per-layer geometric rates are stored as well)."""
    with np.errstate(all="ignore"):
        f = st["act_var"][-1] / st["act_var"][0]
        b = st["delta_norm"][0] / st["delta_norm"][-1]
    st["forward_rate"], st["backward_rate"] = float(f ** (1 / (depth - 1))), float(b ** (1 / (depth - 1)))
    parts = []
    for name, r in (("forward", f), ("backward", b)):
        if not np.isfinite(r) or r > 1e2:
            parts.append(f"exploding {name}")
        elif r < 1e-2:
            parts.append(f"vanishing {name}")
    return ", ".join(parts) if parts else "stable"


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv, script=__file__, quick_out=QUICK_OUT)
    import matplotlib.pyplot as plt

    depth, width, n = (10, 64, 128) if args.quick else (50, 256, 512)
    rng = np.random.default_rng(0)
    x = cr.Tensor(rng.standard_normal((n, width)))
    y = rng.standard_normal((n, width))
    results = {}
    for (iname, ifn), (aname, act) in tqdm([(i, a) for i in INITS.items() for a in ACTS.items()],
                                           desc="init x activation"):
        net = build(depth, width, act, ifn, seed=1)
        with np.errstate(all="ignore"):
            st = init.trace_propagation(net, x, target=y)
        d = st["delta_norm"]
        ratio = float(d[0] / d[-1]) if d[-1] > 0 else float("inf")
        results[(iname, aname)] = st
        st["ratio"] = ratio
        st["regime"] = classify(st, depth)

    # ------------------------------------------------------------ figure 1: grid of statistics per layer
    fig, axes = plt.subplots(3, len(ACTS), figsize=(4.2 * len(ACTS), 10), sharex=True)
    layers = np.arange(1, depth + 1)
    for j, aname in enumerate(ACTS):
        for iname in INITS:
            st = results[(iname, aname)]
            with np.errstate(all="ignore"):
                axes[0, j].semilogy(layers, np.maximum(st["act_var"], 1e-300), label=iname)
                axes[1, j].plot(layers, st["act_mean"], label=iname)
                axes[2, j].semilogy(layers, np.maximum(st["delta_norm"], 1e-300), label=iname)
        axes[0, j].set_title(f"{aname}: activation variance")
        axes[1, j].set_title(f"{aname}: activation mean")
        axes[2, j].set_title(f"{aname}: ‖δ^[l]‖ (backward)")
        axes[2, j].set_xlabel("layer l")
        if max(np.nanmax(np.abs(results[(i, aname)]["act_mean"])) for i in INITS) > 10:
            axes[1, j].set_yscale("symlog", linthresh=1.0)  # exploding cases: log scale beyond ±1
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{depth}-layer width-{width} MLP at initialisation ({n} N(0,1) inputs)")
    save_fig(args, "propagation_grid", fig)

    # ------------------------------------------------------------ figure 2: mean-field prediction vs measurement
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    fnames = {"tanh": "tanh", "relu": "relu", "selu": "selu", "sigmoid": "sigmoid"}
    mf = {}
    combos = [("He N(0,2/J)", "relu"), ("LeCun N(0,1/J)", "tanh"), ("LeCun N(0,1/J)", "selu")]
    for ax, (iname, aname) in zip(axes, combos):
        st = results[(iname, aname)]
        q1 = float(st["pre_var"][0])
        var_w = VAR_W[iname](width)
        # F_f(q) gives E[s²]; the measured pre-activation *variance* ignores the (tiny) mean of s
        pred = init.propagate_variance(fnames[aname], q1, width, var_w, depth)
        ax.semilogy(layers, st["pre_var"], "o", ms=3, label="measured Var(s^[l])")
        ax.semilogy(layers, pred, "-", label="mean field q_l = F_f(q_{l−1})")
        lo = min(pred.min(), st["pre_var"].min())
        hi = max(pred.max(), st["pre_var"].max())
        ax.set_ylim(lo / 3, hi * 3)
        ax.set_title(f"{aname} + {iname}")
        ax.set_xlabel("layer l")
        ax.legend(fontsize=8)
        mf[f"{aname}+{iname}"] = {"measured_last": float(st["pre_var"][-1]), "predicted_last": float(pred[-1])}
    save_fig(args, "mean_field", fig)

    # ------------------------------------------------------------ figure 3: SELU fixed point
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    snn_runs = {}
    for label, (m0, s0) in {"inputs N(0,1)": (0.0, 1.0), "inputs mean 1, var 4": (1.0, 2.0)}.items():
        xs = cr.Tensor(m0 + s0 * rng.standard_normal((1000 if not args.quick else 200, width)))
        with cr.no_grad():
            st = init.trace_propagation(build(depth, width, nn.SELU, INITS["LeCun N(0,1/J)"], seed=2), xs)
        traj = snn.iterate_moments(m0, s0 ** 2, depth, omega=0.0, tau=1.0)
        axes[0].plot(layers, st["act_mean"], "o-", ms=3, label=f"mean, {label}")
        axes[1].plot(layers, st["act_var"], "o-", ms=3, label=f"variance, {label}")
        axes[0].plot(layers, traj[1:, 0], "k:", lw=1)
        axes[1].plot(layers, traj[1:, 1], "k:", lw=1)
        snn_runs[label] = {"max_abs_mean": float(np.abs(st["act_mean"]).max()),
                           "max_abs_var_minus_1_after_10": float(np.abs(st["act_var"][9:] - 1).max()),
                           "last_mean": float(st["act_mean"][-1]), "last_var": float(st["act_var"][-1])}
    axes[0].set_title("SELU + LeCun: activation mean\n(dotted: moment map, ω = 0, τ = 1)", fontsize=9)
    axes[1].set_title("SELU + LeCun: activation variance\n(dotted: moment map)", fontsize=9)
    for ax in axes[:2]:
        ax.set_xlabel("layer l")
        ax.legend(fontsize=7)
    mus, nus = np.meshgrid(np.linspace(-0.6, 0.6, 15), np.linspace(0.4, 2.0, 15))
    mt, vt = snn.moment_map(mus, nus, 0.0, 1.0)
    axes[2].quiver(mus, nus, mt - mus, vt - nus, angles="xy", scale_units="xy", scale=4, width=0.003,
                   color="0.5")  # arrows: a quarter of one step of the map
    for start in [(0.5, 1.9), (-0.5, 0.5), (0.4, 0.6), (-0.4, 1.8)]:
        tr = snn.iterate_moments(*start, 12)
        axes[2].plot(tr[:, 0], tr[:, 1], "o-", ms=2)
    J = snn.jacobian()
    axes[2].plot([0], [1], "r*", ms=12)
    axes[2].set_title(f"moment map (μ, ν) ↦ (μ̃, ν̃), ω = 0, τ = 1\nfixed point (0, 1), ‖J‖₂ = "
                      f"{np.linalg.norm(J, 2):.4f}", fontsize=9)
    axes[2].set_xlabel("μ")
    axes[2].set_ylabel("ν")
    save_fig(args, "selu_fixed_point", fig)

    table = {f"{a}|{i}": {"regime": results[(i, a)]["regime"],
                          "act_var_first": float(results[(i, a)]["act_var"][0]),
                          "act_var_last": float(results[(i, a)]["act_var"][-1]),
                          "delta_first_over_last": results[(i, a)]["ratio"],
                          "forward_rate_per_layer": results[(i, a)]["forward_rate"],
                          "backward_rate_per_layer": results[(i, a)]["backward_rate"]}
             for a in ACTS for i in INITS}
    numbers = {"depth": depth, "width": width, "n_inputs": n, "table": table, "mean_field": mf,
               "selu": snn_runs, "moment_map_jacobian": J, "moment_map_spectral_norm": float(np.linalg.norm(J, 2)),
               "selu_alpha_lambda_solved": snn.solve_alpha_lambda()}
    save_json(args, "propagation", numbers, indent=1, nonfinite_as_str=True)
    print(f"{'activation|init':28s} {'regime':38s} {'Var a^1':>9s} {'Var a^L':>9s} {'|d1|/|dL|':>9s}")
    for k, v in table.items():
        print(f"{k:28s} {v['regime']:38s} {v['act_var_first']:9.3g} {v['act_var_last']:9.3g} "
              f"{v['delta_first_over_last']:9.3g}")
    print("SELU:", snn_runs)
    print(f"outputs in {args.out}  ({time.perf_counter() - args.t0:.0f} s)")
    return numbers


if __name__ == "__main__":
    main()
