"""Cascade-correlation solves the two-spirals problem (spec: REG-CASCADE-CORR).

Linear outputs by least squares, pools of 8 tanh candidates (init U(−1, 1), 400 full-batch ascent steps
of size 0.5/N on the correlation score), units added until 100 % training accuracy.  Five seeds; the
figure shows the decision regions of seed 0 and the accuracy as units are added.

    python examples/regularization/cascade_spirals.py [--quick]

Writes docs/regularization/cascade.json and cascade.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.regularize import CascadeCorrelation, two_spirals

OUT = Path(__file__).resolve().parents[2] / "docs" / "regularization"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one seed")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    X, y = two_spirals()
    rows, nets = [], []
    for seed in range(1 if args.quick else 5):
        t0 = time.perf_counter()
        cc = CascadeCorrelation(2, 1, max_hidden=40, generator=cr.Generator(seed)).fit(X, y, target_accuracy=1.0)
        rows.append({"seed": seed, "hidden_units": cc.n_hidden, "train_accuracy": cc.history[-1]["accuracy"],
                     "seconds": time.perf_counter() - t0})
        nets.append(cc)
        print(f"seed {seed}: {cc.n_hidden} hidden units, training accuracy {cc.history[-1]['accuracy']:.3f} "
              f"({rows[-1]['seconds']:.1f} s)")
    args.out.mkdir(parents=True, exist_ok=True)
    name = "cascade_quick" if args.quick else "cascade"
    (args.out / f"{name}.json").write_text(json.dumps({"problem": "two spirals (194 points)", "rows": rows,
                                                        "reference_units": 21}, indent=1))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(9, 4))
    g = np.linspace(-7, 7, 300)
    gx, gy = np.meshgrid(g, g)
    P = nets[0].predict(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(gx.shape)
    ax[0].contourf(gx, gy, P > 0.5, levels=[-0.5, 0.5, 1.5], colors=["#cfe0f3", "#f6d3c8"])
    ax[0].scatter(*X[y == 1].T, c="C3", s=8)
    ax[0].scatter(*X[y == 0].T, c="C0", s=8)
    ax[0].set_aspect("equal")
    ax[0].set_title(f"seed 0: {nets[0].n_hidden} hidden units")
    for cc in nets:
        ax[1].plot([h["hidden"] for h in cc.history], [h["accuracy"] for h in cc.history], "-", lw=1)
    ax[1].set_xlabel("installed hidden units")
    ax[1].set_ylabel("training accuracy")
    ax[1].set_title("cascade-correlation, two spirals")
    fig.tight_layout()
    fig.savefig(args.out / f"{name}.png", dpi=110)


if __name__ == "__main__":
    main()
