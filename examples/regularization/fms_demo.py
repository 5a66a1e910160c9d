"""Flat Minimum Search finds flatter minima (spec: REG-FMS).

A 4-16-1 ReLU net is fitted to 30 noisy points of sin(1.5·x₁) (inputs x₂…x₄ irrelevant; noise σ = 0.1, so
the noise floor of the loss ½(y − ŷ)² is 0.005), once plainly and once with the FMS term λΩ (λ = 1e-4,
ε = 0.01, Ω estimated on 8 random examples per step), 2000 Adam steps each.  Flatness is measured two ways:
Ω itself (Hochreiter–Schmidhuber's log-volume of the box of tolerable weight changes, lower = flatter) and
the trace of the exact Hessian of the training loss (engine double backward).  The FMS minimum is compared
with the plain run's final minimum, and — because FMS stops below the noise floor but not at zero — with
the plain run's checkpoint at the *same* training loss (early in training, before the weights grew).

    python examples/regularization/fms_demo.py [--quick]

Writes docs/regularization/fms.json and fms.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.regularize import FlatMinimumSearch

OUT = Path(__file__).resolve().parents[2] / "docs" / "regularization"


def _data(seed: int = 0, n: int = 30, d: int = 4):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, d))
    y = np.sin(1.5 * X[:, :1]) + 0.1 * rng.standard_normal((n, 1))
    Xte = rng.uniform(-2, 2, (2000, d))
    return X, y, Xte, np.sin(1.5 * Xte[:, :1])


def _net(seed: int, d: int = 4, h: int = 16):
    g = cr.Generator(seed)
    return nn.Sequential(nn.Linear(d, h, dtype=np.float64, generator=g), nn.ReLU(),
                         nn.Linear(h, 1, dtype=np.float64, generator=g))


def _loss(net, X, y):
    r = net(X) - y
    return 0.5 * (r * r).mean()


def _trace(net, X, y) -> float:
    H = cr.hessian(lambda *ps: _loss(net, X, y), list(net.parameters())).data
    return float(np.trace(H))


def _train(seed, X, y, lam, steps, record_every=0, progress=False):
    net = _net(seed)
    fms = FlatMinimumSearch(net, eps=0.01, lam=lam, max_examples=8, generator=cr.Generator(seed + 100))
    opt = cr.optim.Adam(net.parameters(), lr=0.01)
    ckpts = []
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"{'FMS' if lam else 'plain'} seed {seed}", leave=False)
    for s in it:
        opt.zero_grad()
        loss = _loss(net, X, y)
        if lam:
            loss = loss + lam * fms(X)
        loss.backward()
        opt.step()
        if record_every and (s + 1) % record_every == 0:
            ckpts.append((_loss(net, X, y).item(), net.state_dict()))
    return net, ckpts


def run(seeds=(0, 1, 2), steps: int = 2000, lam: float = 1e-4, progress: bool = False) -> list[dict]:
    X, y, Xte, yte = _data()
    Xt, yt, Xtt, ytt = (cr.Tensor(a) for a in (X, y, Xte, yte))
    rows = []
    for seed in seeds:
        plain, ckpts = _train(seed, Xt, yt, 0.0, steps, record_every=10, progress=progress)
        flat, _ = _train(seed, Xt, yt, lam, steps, progress=progress)
        f_train = _loss(flat, Xt, yt).item()
        row = {"seed": seed, "fms_train": f_train, "fms_test": _loss(flat, Xtt, ytt).item(),
               "fms_trace": _trace(flat, Xt, yt),
               "fms_omega": FlatMinimumSearch(flat, eps=0.01).value_and_grad(Xt)[0],
               "plain_train": _loss(plain, Xt, yt).item(), "plain_test": _loss(plain, Xtt, ytt).item(),
               "plain_trace": _trace(plain, Xt, yt),
               "plain_omega": FlatMinimumSearch(plain, eps=0.01).value_and_grad(Xt)[0]}
        k = int(np.argmin([abs(np.log(l_) - np.log(f_train)) for l_, _ in ckpts]))
        plain.load_state_dict(ckpts[k][1])
        row.update(plain_step_matched=(k + 1) * 10, plain_train_matched=_loss(plain, Xt, yt).item(),
                   plain_test_matched=_loss(plain, Xtt, ytt).item(), plain_trace_matched=_trace(plain, Xt, yt))
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one seed, 300 steps (smoke test)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    out = args.out
    seeds, steps = ((0,), 300) if args.quick else ((0, 1, 2), 2000)
    rows = run(seeds, steps, progress=True)
    out.mkdir(parents=True, exist_ok=True)
    name = "fms_quick" if args.quick else "fms"
    (out / f"{name}.json").write_text(json.dumps({"steps": steps, "lambda": 1e-4, "eps": 0.01, "rows": rows},
                                                 indent=1))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for key, ax, lab in (("trace", axes[0], "trace of Hessian"), ("test", axes[1], "test loss")):
        for r in rows:
            pts = [(r["plain_train"], r[f"plain_{key}"]), (r["plain_train_matched"], r[f"plain_{key}_matched"]),
                   (r["fms_train"], r[f"fms_{key}"])]
            for (x, y), c in zip(pts, ("C0", "C2", "C3")):
                ax.scatter(max(x, 1e-8), y, c=c)
        ax.set_xscale("log")
        ax.set_xlabel("training loss")
        ax.set_ylabel(lab)
    for c, lab in (("C0", "plain, final"), ("C2", "plain, checkpoint at FMS's loss"), ("C3", "FMS λ=1e-4")):
        axes[0].scatter([], [], c=c, label=lab)
    axes[0].legend(fontsize=7)
    fig.suptitle("Flat minimum search (4-16-1 ReLU, 30 noisy points)")
    fig.tight_layout()
    fig.savefig(out / f"{name}.png", dpi=120)
    for r in rows:
        print(f"seed {r['seed']}: FMS train {r['fms_train']:.4g} trace {r['fms_trace']:.3g} test {r['fms_test']:.4g} | "
              f"plain@matched train {r['plain_train_matched']:.4g} trace {r['plain_trace_matched']:.3g} "
              f"test {r['plain_test_matched']:.4g} | plain final trace {r['plain_trace']:.3g} "
              f"test {r['plain_test']:.4g}")


if __name__ == "__main__":
    main()
