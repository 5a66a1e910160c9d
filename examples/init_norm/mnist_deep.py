"""Which deep MLPs train on MNIST?  Plain sigmoid vs ReLU + He vs LayerNorm vs weight norm vs SELU (SNN)
vs BatchNorm, all with the same depth, width, optimizer and data.

Each model has ``--depth`` hidden layers (default 16) of ``--width`` units (default 128) and a linear
10-way output with softmax cross-entropy; SGD with momentum 0.9, lr 0.01, batch 128, the full 60,000
training images, test accuracy after every epoch.  Variants (spec: INIT-LECUN, INIT-HE, NORM-LAYERNORM,
NORM-WEIGHTNORM, ACT-SELU, NORM-SNN-MAP, NORM-BATCHNORM, THEORY-VANISHING-GRADIENT):

* sigmoid + LeCun           — N(0, 1/J) weights: forward is fine, but σ' ≤ 1/4 makes gradients vanish;
* ReLU + He                 — N(0, 2/J): variance-preserving for ReLU;
* ReLU + LayerNorm          — Linear → LayerNorm → ReLU (per-sample statistics, no batch dependence);
* ReLU + weight norm        — w = g·v/‖v‖ with the data-dependent init of Salimans & Kingma (g, b set so
                              the first batch's pre-activations have mean 0 and variance 1);
* SELU + LeCun (SNN)        — self-normalizing: activations stay at mean 0, variance 1;
* ReLU + BatchNorm          — Linear → BatchNorm1d → ReLU (if ``chainrule.nn.BatchNorm1d`` exists).

    python examples/init_norm/mnist_deep.py [--quick] [--epochs 3] [--depth 16] [--width 128]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save_fig, save_json
from init_norm_common import QUICK_OUT, mnist_arrays
from tqdm import tqdm

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.normalization import weight_norm


def _linear(a, b, g, scheme):
    lin = nn.Linear(a, b, generator=g)
    if scheme == "lecun":
        init.lecun_normal_(lin.weight, g)
    elif scheme == "he":
        init.kaiming_normal_(lin.weight, nonlinearity="relu", generator=g)
    init.zeros_(lin.bias)
    return lin


def build(kind: str, depth: int, width: int, seed: int = 0) -> nn.Sequential:
    g = cr.Generator(seed)
    layers = []
    a = 784
    for _ in range(depth):
        if kind == "sigmoid + LeCun":
            layers += [_linear(a, width, g, "lecun"), nn.Sigmoid()]
        elif kind == "ReLU + He":
            layers += [_linear(a, width, g, "he"), nn.ReLU()]
        elif kind == "ReLU + LayerNorm":
            layers += [_linear(a, width, g, "he"), nn.LayerNorm(width), nn.ReLU()]
        elif kind == "ReLU + weight norm":
            layers += [weight_norm(_linear(a, width, g, "he")), nn.ReLU()]
        elif kind == "SELU + LeCun (SNN)":
            layers += [_linear(a, width, g, "lecun"), nn.SELU()]
        elif kind == "ReLU + BatchNorm":
            layers += [_linear(a, width, g, "he"), nn.BatchNorm1d(width), nn.ReLU()]
        else:
            raise ValueError(kind)
        a = width
    out = nn.Linear(a, 10, generator=g)
    init.zeros_(out.bias)
    return nn.Sequential(*layers, out)


def weight_norm_data_init_(net: nn.Sequential, x: np.ndarray) -> None:
    """Salimans & Kingma's data-dependent init: layer by layer, set g = 1/std(t) and b = −mean(t)/std(t)
    with t = x·(v/‖v‖)ᵀ on a batch, so every pre-activation starts at mean 0, variance 1."""
    h = cr.Tensor(x)
    with cr.no_grad():
        for m in net:
            if "weight_v" in m._parameters:
                v = m.weight_v.data
                t = h.data @ (v / np.linalg.norm(v, axis=1, keepdims=True)).T
                mu, sd = t.mean(0), t.std(0) + 1e-8
                m.weight_g.data[...] = (1.0 / sd)[:, None]
                m.bias.data[...] = -mu / sd
            h = m(h)


def evaluate(net, X, y, bs=2000) -> float:
    net.eval()
    correct = 0
    with cr.no_grad():
        for i in range(0, len(X), bs):
            correct += int((net(cr.Tensor(X[i:i + bs])).data.argmax(1) == y[i:i + bs]).sum())
    net.train()
    return correct / len(X)


def main(argv=None):
    def extra(p):
        p.add_argument("--epochs", type=int, default=3)
        p.add_argument("--depth", type=int, default=16)
        p.add_argument("--width", type=int, default=128)
        p.add_argument("--lr", type=float, default=0.01)
    args = parse_args(__doc__.splitlines()[0], argv, script=__file__, quick_out=QUICK_OUT, extra=extra)
    import matplotlib.pyplot as plt

    if args.quick:
        args.epochs, args.depth, args.width = 1, 6, 32
    Xtr, ytr, Xte, yte, dname = mnist_arrays(args.quick)
    kinds = ["sigmoid + LeCun", "ReLU + He", "ReLU + LayerNorm", "ReLU + weight norm", "SELU + LeCun (SNN)"]
    if hasattr(nn, "BatchNorm1d"):
        kinds.append("ReLU + BatchNorm")
    bs, log_every = 128, 20
    results = {}
    for kind in kinds:
        net = build(kind, args.depth, args.width)
        if kind == "ReLU + weight norm":
            weight_norm_data_init_(net, Xtr[:512])
        opt = cr.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
        rng = np.random.default_rng(0)
        losses, steps, accs, epoch_times, first_grad = [], [], [], [], None
        step, run = 0, []
        acc0 = evaluate(net, Xte, yte)
        for _ in range(args.epochs):
            perm = rng.permutation(len(Xtr))
            t0 = time.perf_counter()
            for i in tqdm(range(0, len(Xtr), bs), desc=f"{kind} ({args.depth}x{args.width})", leave=False):
                idx = perm[i:i + bs]
                out = net(cr.Tensor(Xtr[idx]))
                loss = F.cross_entropy(out, ytr[idx])
                opt.zero_grad()
                loss.backward()
                if first_grad is None:  # RMS weight gradient of the first and last hidden layer at initialisation
                    lins = [m for m in net if isinstance(m, nn.Linear)]
                    wf = lins[0]._parameters.get("weight")
                    wf = lins[0].weight_v if wf is None else wf
                    wl = lins[-2]._parameters.get("weight")
                    wl = lins[-2].weight_v if wl is None else wl
                    rms = lambda t: float(np.sqrt(np.mean(t.grad.data.astype(np.float64) ** 2)))
                    first_grad = (rms(wf), rms(wl))
                opt.step()
                run.append(loss.item())
                step += 1
                if step % log_every == 0:
                    losses.append(float(np.mean(run)))
                    steps.append(step)
                    run = []
            epoch_times.append(time.perf_counter() - t0)
            accs.append(evaluate(net, Xte, yte))
        results[kind] = {"test_accuracy_per_epoch": accs, "test_accuracy_at_init": acc0,
                         "train_loss_steps": steps, "train_loss": losses,
                         "seconds_per_epoch": float(np.mean(epoch_times)),
                         "grad_rms_first_hidden_at_init": first_grad[0],
                         "grad_rms_last_hidden_at_init": first_grad[1],
                         "first_over_last_hidden_grad": first_grad[0] / max(first_grad[1], 1e-300),
                         "trains": bool(accs[-1] > 0.5)}
        print(f"{kind:22s} test acc per epoch {np.round(accs, 4)}  {np.mean(epoch_times):.1f} s/epoch  "
              f"RMS ∇W1 / RMS ∇W_last-hidden at init {results[kind]['first_over_last_hidden_grad']:.3g}")

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for kind, r in results.items():
        axes[0].semilogy(r["train_loss_steps"], r["train_loss"], label=kind)
        axes[1].plot(range(0, args.epochs + 1), [r["test_accuracy_at_init"]] + r["test_accuracy_per_epoch"], "o-",
                     label=kind)
    axes[0].set_xlabel(f"SGD step (batch {bs})")
    axes[0].set_ylabel(f"train cross-entropy (mean of {log_every} steps)")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("test accuracy")
    axes[0].set_title(f"{dname}: {args.depth} hidden layers × {args.width}, SGD lr {args.lr} momentum 0.9",
                      fontsize=9)
    axes[1].set_title("test accuracy after each epoch", fontsize=9)
    axes[1].legend(fontsize=8)
    save_fig(args, "mnist_deep", fig)
    numbers = {"data": dname, "n_train": len(Xtr), "n_test": len(Xte), "depth": args.depth, "width": args.width,
               "epochs": args.epochs, "lr": args.lr, "momentum": 0.9, "batch": bs, "results": results}
    save_json(args, "mnist_deep", numbers, indent=1, nonfinite_as_str=True)
    print(f"outputs in {args.out}  ({time.perf_counter() - args.t0:.0f} s)")
    return numbers


if __name__ == "__main__":
    main()
