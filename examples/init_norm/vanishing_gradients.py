"""Vanishing gradients in deep sigmoid nets, measured layer by layer with gradient hooks.

1. The scalar chain Φ(x) = w₅σ(w₄σ(…σ(w₁x + b₁)…) + b₄) + b₅ (spec: THEORY-VANISHING-GRADIENT (a)):
   autodiff ∂Φ/∂b₁ equals Π_{ℓ≥2}w_ℓ·Π_{ℓ≤4}σ'(z_ℓ) and obeys both bounds, over 1000 random draws.
2. Nielsen's experiment (THEORY-VANISHING-GRADIENT (b)): MLP [784, 30, 30, 30, 30, 10], sigmoid, N(0, 1)
   weights and biases, quadratic cost, 1000 MNIST images; ‖∂C/∂b^{(l)}‖ per hidden layer ("speed of learning")
   at initialisation (seeds 0–4) and during SGD training, recorded with ``Tensor.register_hook`` on every
   pre-activation (the hook sees δ^{(l)} = ∂C/∂s^{(l)}, whose batch sum is ∂C/∂b^{(l)}).
3. Delta norms through a 10-layer width-64 net with orthogonal W (spec: MLP-VANISHING-GRAD):
   sigmoid ratios ‖δ^{[l−1]}‖/‖δ^{[l]}‖ ≤ ‖W‖₂·max σ' = 0.25; ReLU with gain √2 stays level, gain 2 explodes.

    python examples/init_norm/vanishing_gradients.py [--quick]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save_fig, save_json
from init_norm_common import QUICK_OUT, mnist_arrays
from scipy import special as sp
from tqdm import tqdm

import chainrule as cr
from chainrule import nn, ops
from chainrule.nn import init


def scalar_chain(n: int = 1000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    w = [cr.Tensor(rng.normal(0, 2, n), requires_grad=True) for _ in range(5)]
    b = [cr.Tensor(rng.normal(0, 1, n), requires_grad=True) for _ in range(5)]
    h, zs = cr.Tensor(rng.normal(0, 1, n)), []
    for ell in range(4):
        z = w[ell] * h + b[ell]
        zs.append(z.data)
        h = ops.sigmoid(z)
    (w[4] * h + b[4]).sum().backward()
    g = b[0].grad.data
    prod_w = np.prod([wi.data for wi in w[1:]], axis=0)
    formula = prod_w * np.prod([sp.expit(z) * (1 - sp.expit(z)) for z in zs], axis=0)
    bound_exp = np.abs(prod_w) * np.exp(-np.sum(np.abs(zs), axis=0))
    bound_quarter = 4.0 ** -4 * np.abs(prod_w)
    return {"g": g, "formula": formula, "bound_exp": bound_exp, "bound_quarter": bound_quarter,
            "max_rel_err_formula": float(np.max(np.abs(g - formula) / np.maximum(np.abs(formula), 1e-300))),
            "bounds_hold": bool(np.all(np.abs(g) <= bound_exp * (1 + 1e-12)) and
                                np.all(np.abs(g) <= bound_quarter * (1 + 1e-12)))}


def nielsen_net(seed: int) -> nn.Sequential:
    sizes = [784, 30, 30, 30, 30, 10]
    layers = []
    g = cr.Generator(seed)
    for a, b in zip(sizes[:-1], sizes[1:]):
        lin = nn.Linear(a, b, generator=g)
        init.normal_(lin.weight, 0, 1, g)  # the classic N(0, 1) scheme (spec: INIT-GAUSSIAN-FANIN 'normal')
        init.normal_(lin.bias, 0, 1, g)
        layers += [lin, nn.Sigmoid()]
    return nn.Sequential(*layers)


def forward_with_hooks(net: nn.Sequential, x, store: list):
    """Run the net; a hook on each pre-activation s^{(l)} adds ‖Σ_n δ_n^{(l)}‖ = ‖∂C/∂b^{(l)}‖ to store[l]."""
    h = x
    k = 0
    for m in net:
        h = m(h)
        if isinstance(m, nn.Linear):
            def hook(grad, k=k):
                store[k].append(float(np.linalg.norm(grad.data.sum(axis=0))))
            h.register_hook(hook)
            k += 1
    return h


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv, script=__file__, quick_out=QUICK_OUT)
    import matplotlib.pyplot as plt

    numbers = {}
    # ------------------------------------------------------------ 1. scalar chain
    ch = scalar_chain()
    numbers["scalar_chain"] = {k: v for k, v in ch.items() if not isinstance(v, np.ndarray)}

    # ------------------------------------------------------------ 2. Nielsen's [784, 30×4, 10] sigmoid net
    Xtr, ytr, _, _, dname = mnist_arrays(args.quick)
    X, Y = Xtr[:1000].astype(np.float32), np.eye(10, dtype=np.float32)[ytr[:1000]]
    at_init = []
    for seed in range(5):
        net = nielsen_net(seed)
        st = init.trace_propagation(net, cr.Tensor(X), target=Y)  # ½·mean‖a − y‖² (quadratic cost)
        at_init.append(st["bias_grad_norm"][:4])
    at_init = np.array(at_init)
    numbers["nielsen_init_bias_grad_norms_seeds0to4"] = at_init
    numbers["nielsen_init_ratio_b1_over_b4"] = at_init[:, 0] / at_init[:, 3]

    epochs = 3 if args.quick else 30
    lr, bs = 3.0, 10  # Nielsen's chapter-5 set-up: quadratic cost, eta = 3 (sum over the batch / batch size)
    net = nielsen_net(0)
    opt = cr.optim.SGD(net.parameters(), lr=lr)
    speed = []  # per epoch: mean over steps of ‖∂C/∂b^{(l)}‖ for the 4 hidden layers
    accs = []
    rng = np.random.default_rng(0)
    for _ in tqdm(range(epochs), desc="SGD epochs (Nielsen net)"):
        store = [[] for _ in range(5)]
        perm = rng.permutation(len(X))
        for i in range(0, len(X), bs):
            idx = perm[i:i + bs]
            out = forward_with_hooks(net, cr.Tensor(X[idx]), store)
            d = out - cr.Tensor(Y[idx])
            loss = (d * d).sum() * (0.5 / len(idx))
            opt.zero_grad()
            loss.backward()
            opt.step()
        speed.append([np.mean(s) for s in store[:4]])
        with cr.no_grad():
            accs.append(float((net(cr.Tensor(X)).data.argmax(1) == ytr[:1000]).mean()))
    speed = np.array(speed)
    numbers["nielsen_training"] = {"epochs": epochs, "lr": lr, "batch": bs, "data": dname,
                                   "mean_bias_grad_norm_per_epoch": speed, "train_accuracy": accs,
                                   "first_epoch_layer1_over_layer4": float(speed[0, 0] / speed[0, 3])}

    # ------------------------------------------------------------ 3. orthogonal W, 10 layers, width 64
    width = 64
    rng = np.random.default_rng(1)
    x, y = cr.Tensor(rng.standard_normal((32, width))), rng.standard_normal((32, width))
    deltas = {}
    for label, act, gain in [("sigmoid, orthogonal", nn.Sigmoid, 1.0), ("relu, orthogonal gain √2", nn.ReLU, 2 ** 0.5),
                             ("relu, orthogonal gain 2", nn.ReLU, 2.0), ("tanh, orthogonal", nn.Tanh, 1.0)]:
        layers = []
        for i in range(10):
            layers.append(nn.Linear(width, width, dtype=np.float64))
            if i < 9:
                layers.append(act())
        net10 = nn.Sequential(*layers)
        init.initialize_(net10, "orthogonal", gain=gain, generator=cr.Generator(0))
        st = init.trace_propagation(net10, x, target=y)
        deltas[label] = st["delta_norm"]
    ratios = {k: v[:-1] / v[1:] for k, v in deltas.items()}
    numbers["orthogonal_10_layers"] = {
        k: {"delta_norms": deltas[k], "ratios": ratios[k], "max_ratio": float(ratios[k].max()),
            "first_over_last": float(deltas[k][0] / deltas[k][-1])} for k in deltas}
    numbers["orthogonal_10_layers"]["sigmoid_bound_0.25^9"] = 0.25 ** 9

    # ------------------------------------------------------------ figures
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    ax = axes[0, 0]
    ax.loglog(ch["bound_quarter"], np.abs(ch["g"]), ".", ms=3, label="|∂Φ/∂b₁| vs 4⁻⁴Π|w_ℓ|")
    ax.loglog(ch["bound_exp"], np.abs(ch["g"]), ".", ms=3, alpha=0.5, label="|∂Φ/∂b₁| vs Π|w_ℓ|e^{−Σ|z_ℓ|}")
    lim = [1e-12, 1e3]
    ax.plot(lim, lim, "k--", lw=1, label="bound = value")
    ax.set_xlabel("bound")
    ax.set_ylabel("|∂Φ/∂b₁| (autodiff)")
    ax.set_title("scalar sigmoid chain, L = 5: both bounds hold (points below the diagonal)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for s in range(5):
        ax.semilogy(range(1, 5), at_init[s], "o-", label=f"seed {s}")
    ax.set_xticks(range(1, 5))
    ax.set_xlabel("hidden layer l")
    ax.set_ylabel("‖∂C/∂b^(l)‖ at initialisation")
    ax.set_title(f"[784,30,30,30,30,10] sigmoid, N(0,1) init, 1000 {dname} images", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    for l in range(4):
        ax.semilogy(range(1, epochs + 1), speed[:, l], label=f"hidden layer {l + 1}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean ‖∂C/∂b^(l)‖ per mini-batch (hooks)")
    ax.set_title(f"speed of learning per layer during SGD (η = {lr}, batch {bs}); "
                 f"train acc {accs[-1]:.2f}", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    for k, v in deltas.items():
        ax.semilogy(range(1, 11), v, "o-", ms=3, label=k)
    ax.set_xlabel("layer l")
    ax.set_ylabel("‖δ^[l]‖")
    ax.set_title("10 layers, width 64, orthogonal W: sigmoid ratios ≤ 0.25 per layer", fontsize=9)
    ax.legend(fontsize=7)
    save_fig(args, "vanishing_gradients", fig)
    save_json(args, "vanishing_gradients", numbers, indent=1, nonfinite_as_str=True)
    print("scalar chain:", numbers["scalar_chain"])
    print("‖∂C/∂b1‖/‖∂C/∂b4‖ at init, seeds 0-4:", np.round(numbers["nielsen_init_ratio_b1_over_b4"], 4))
    print("Nielsen net, per-epoch layer speeds (first, last):", np.round(speed[0], 4), np.round(speed[-1], 4),
          "train acc", accs[-1])
    for k, v in numbers["orthogonal_10_layers"].items():
        if isinstance(v, dict):
            print(f"{k:28s} max ratio {v['max_ratio']:.3f}  ‖δ¹‖/‖δ¹⁰‖ = {v['first_over_last']:.3g}")
    print(f"outputs in {args.out}  ({time.perf_counter() - args.t0:.0f} s)")
    return numbers


if __name__ == "__main__":
    main()
