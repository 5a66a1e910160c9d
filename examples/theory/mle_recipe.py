"""The maximum-likelihood recipe (spec: LOSS-MLE-RECIPE, LOSS-MLE-KL; library losses of nn.functional).

Gaussian → mse_loss, Bernoulli → binary_cross_entropy_with_logits, categorical → cross_entropy,
Poisson → poisson_nll_loss.  Data are sampled from a linear model η = XWᵀ + b pushed through each
family's link; training the same linear model with the family's loss recovers (W, b); a constant model
recovers the closed-form MLE (mean, fraction of ones, class frequencies, mean count).
Run: python examples/theory/mle_recipe.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save
from tqdm import tqdm

from chainrule.theory import fit_constant, fit_glm, sample_glm

CASES = {
    "gaussian": ([[1.0, -2.0]], [0.5], "mse_loss"),
    "bernoulli": ([[1.0, -2.0]], [0.5], "binary_cross_entropy_with_logits"),
    "categorical": ([[0.0, 0.0], [1.0, -1.0], [-0.5, 2.0]], [0.0, 0.3, -0.2], "cross_entropy"),
    "poisson": ([[0.5, -0.3]], [1.0], "poisson_nll_loss"),
}


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__)
    import matplotlib.pyplot as plt

    n = 2000 if args.quick else 20000
    steps = 600 if args.quick else 2000
    out, hists = {}, {}
    for fam, (W, b, loss) in tqdm(CASES.items(), desc="families"):
        X, y = sample_glm(fam, W, b, n, seed=0)
        Wh, bh, h = fit_glm(fam, X, y, steps=steps, lr=0.05)
        hists[fam] = h
        err = float(max(np.max(np.abs(Wh - np.array(W))), np.max(np.abs(bh - np.array(b)))))
        out[fam] = {"loss": loss, "W_true": W, "b_true": b, "W_fit": np.round(Wh, 4), "b_fit": np.round(bh, 4),
                    "max_abs_error": err}
    rng = np.random.default_rng(1)
    m = 1000
    y_g, y_b = rng.normal(3.0, 2.0, m), (rng.random(m) < 0.3).astype(float)
    y_c, y_p = rng.choice(3, m, p=[0.2, 0.5, 0.3]), rng.poisson(4.0, m).astype(float)
    const = {
        "gaussian_mean": (float(fit_constant("gaussian", y_g, steps=steps)[0]), float(y_g.mean())),
        "bernoulli_fraction": (float(fit_constant("bernoulli", y_b, steps=steps)[0]), float(y_b.mean())),
        "categorical_freq": (np.round(fit_constant("categorical", y_c, steps=steps), 4), np.bincount(y_c) / m),
        "poisson_mean": (float(fit_constant("poisson", y_p, steps=steps)[0]), float(y_p.mean())),
    }
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for fam, h in hists.items():
        ax[0].plot(h - h.min() + 1e-8, label=f"{fam} ({CASES[fam][2]})")
    ax[0].set(yscale="log", xlabel="Adam step", ylabel="NLL − final", title=f"training with each loss, N = {n}")
    ax[0].legend(fontsize=8)
    labels, true, fit = [], [], []
    for fam, r in out.items():
        Wt, Wf = np.array(r["W_true"]), np.array(r["W_fit"])
        rows = range(1, Wt.shape[0]) if fam == "categorical" else range(Wt.shape[0])
        for k in rows:
            for d in range(Wt.shape[1]):
                labels.append(f"{fam[:4]} W{k}{d}")
                true.append(Wt[k, d])
                fit.append(Wf[k, d])
    xs = np.arange(len(labels))
    ax[1].bar(xs - 0.2, true, 0.4, label="generating")
    ax[1].bar(xs + 0.2, fit, 0.4, label="maximum likelihood fit")
    ax[1].set_xticks(xs, labels, rotation=60, fontsize=7)
    ax[1].set(title="recovered weights (categorical: rows minus class 0)")
    ax[1].legend(fontsize=8)
    return save(args, "mle_recipe", fig, {"n_samples": n, "families": out, "constant_models_fit_vs_closed_form": const,
                                         "max_weight_error": max(r["max_abs_error"] for r in out.values())},
                seconds_digits=2)


if __name__ == "__main__":
    main()
