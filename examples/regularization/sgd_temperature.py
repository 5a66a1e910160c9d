"""The temperature of SGD: η/(2b) decides between a deep narrow minimum and a shallow wide one
(spec: REG-SGD-TEMPERATURE).

Finite-sum objective R(w) = (1/N)Σₙ[Φ(w) + aₙw], N = 1000, with Σaₙ = 0 and (1/N)Σaₙ² = 1 (isotropic
per-sample gradient noise of variance 1, so the steady state should be ρ ∝ exp(−Φ/β⁻¹), β⁻¹ = η/(2b)).
Φ has a deep narrow well at w = −0.6 (depth 0.06, width 0.1) and a shallow wide one at w = +0.6 (depth
0.04, width 0.4): energy favours the narrow well, entropy the wide one.  For each (η, b), 2 × 2,000
independent SGD chains (one vector Parameter, chainrule's SGD, batches drawn with replacement) run 20,000
steps, half started in each well; the fraction in the wide basin (w > 0) is compared with the Gibbs
prediction.  Where the two halves disagree the chains have not mixed (barrier too high for the
temperature) and the point is marked.  Pairs of settings with the same η/b but different b check the
scaling rule.

    python examples/regularization/sgd_temperature.py [--quick]

Writes docs/regularization/sgd_temperature.json and sgd_temperature.png.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.regularize import sgd_temperature  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "docs" / "regularization"
A1, S1, A2, S2, C4, M = 0.06, 0.1, 0.04, 0.4, 0.01, 0.6


def phi(w):
    """Φ(w) on Tensors or arrays."""
    ex = cr.ops.exp if isinstance(w, cr.Tensor) else np.exp
    return -A1 * ex(-((w + M) ** 2) / (2 * S1 ** 2)) - A2 * ex(-((w - M) ** 2) / (2 * S2 ** 2)) + C4 * w ** 4


def gibbs_wide_fraction(T: float) -> float:
    w = np.linspace(-3, 3, 600001)
    p = np.exp(-(phi(w) - phi(w).min()) / T)
    return float(p[w > 0].sum() / p.sum())


def simulate(lr: float, b: int, steps: int, chains: int, start: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(1000)
    a = (a - a.mean()) / a.std()
    w = nn.Parameter(np.full(chains, float(start)))
    opt = cr.optim.SGD([w], lr=lr)
    for _ in range(steps):
        abar = a[rng.integers(0, 1000, (chains, b))].mean(axis=1)
        opt.zero_grad()
        (phi(w) + cr.Tensor(abar) * w).sum().backward()
        opt.step()
    return w.data.copy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    steps, chains = (2000, 300) if args.quick else (20000, 2000)
    settings = [(0.05, 4), (0.05, 2), (0.1, 4), (0.05, 1), (0.1, 2), (0.1, 1)]
    from tqdm.auto import tqdm
    rows, finals = [], {}
    for lr, b in tqdm(settings, desc="SGD settings"):
        w1 = simulate(lr, b, steps, chains, -M, seed=1)
        w2 = simulate(lr, b, steps, chains, M, seed=2)
        w = np.concatenate([w1, w2])
        T = sgd_temperature(lr, b)
        finals[(lr, b)] = w
        f1, f2 = float((w1 > 0).mean()), float((w2 > 0).mean())
        rows.append({"lr": lr, "batch": b, "temperature": T, "wide_fraction_sgd": float((w > 0).mean()),
                     "from_narrow": f1, "from_wide": f2, "mixed": abs(f1 - f2) < 0.05,
                     "wide_fraction_gibbs": gibbs_wide_fraction(T)})
        tqdm.write(f"η={lr} b={b}: β⁻¹={T:.5f}  wide basin: SGD {rows[-1]['wide_fraction_sgd']:.3f} "
                   f"(from narrow {f1:.3f}, from wide {f2:.3f})  Gibbs {rows[-1]['wide_fraction_gibbs']:.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    name = "sgd_temperature_quick" if args.quick else "sgd_temperature"
    (args.out / f"{name}.json").write_text(json.dumps({"steps": steps, "chains": chains, "rows": rows}, indent=1))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    grid = np.linspace(-2, 2, 801)
    ax[0].plot(grid, phi(grid), "k", lw=1)
    ax[0].set_ylabel("Φ(w)")
    ax2 = ax[0].twinx()
    for (lr, b), c in zip([(0.05, 2), (0.1, 1)], ("C0", "C3")):
        T = sgd_temperature(lr, b)
        ax2.hist(finals[(lr, b)], bins=80, range=(-2, 2), density=True, histtype="step", color=c,
                 label=f"SGD η={lr}, b={b} (β⁻¹={T:.4f})")
        p = np.exp(-(phi(grid) - phi(grid).min()) / T)
        ax2.plot(grid, p / (p.sum() * (grid[1] - grid[0])), c=c, ls=":", lw=1)
    ax2.set_yticks([])
    ax2.legend(fontsize=7, loc="upper left")
    ax[0].set_xlabel("w   (dotted: Gibbs density exp(−Φ/β⁻¹))")
    Ts = np.geomspace(0.003, 0.08, 60)
    ax[1].plot(Ts, [gibbs_wide_fraction(T) for T in Ts], "k", lw=1, label="Gibbs exp(−Φ/β⁻¹)")
    for r in rows:
        ax[1].plot(r["temperature"], r["wide_fraction_sgd"], "o" if r["mixed"] else "x",
                   c="C3" if r["lr"] == 0.1 else "C0")
    ax[1].plot([], [], "o", c="C0", label="SGD η=0.05")
    ax[1].plot([], [], "o", c="C3", label="SGD η=0.1")
    ax[1].plot([], [], "x", c="k", label="not mixed in 20,000 steps")
    ax[1].set_xscale("log")
    from matplotlib.ticker import NullFormatter
    ax[1].xaxis.set_minor_formatter(NullFormatter())
    ax[1].set_xlabel("β⁻¹ = η/(2b)")
    ax[1].set_ylabel("fraction in the wide basin")
    ax[1].legend(fontsize=8)
    fig.suptitle("SGD's steady state follows exp(−Φ/β⁻¹), β⁻¹ = η/(2b): larger η/b moves mass to the wide well")
    fig.tight_layout()
    fig.savefig(args.out / f"{name}.png", dpi=110)


if __name__ == "__main__":
    main()
