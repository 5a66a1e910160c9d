"""Classical single-layer models (spec: CLS-PERCEPTRON, CLS-PERCEPTRON-BOUND, CLS-LOGREG-IRLS,
CLS-LOGREG-GD, CLS-SOFTMAX-REG, CLS-XOR, CLS-LINREG-CLOSED).

* perceptron on AND: 18 updates, w = (−4, 3, 2); update counts vs the bound (R/γ)² over 100 seeds;
* logistic regression on the IRLS fixture: Newton/IRLS vs gradient descent (distance to the optimum);
* XOR: least squares predicts ½, the perceptron fails, 2-4-1 tanh nets solve it;
* softmax regression on the embedded 8×8 digits (test accuracy).
Run: python examples/theory/classical.py [--quick]
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save
from tqdm import trange

from chainrule.classic import (
    ConvergenceWarning,
    LinearRegression,
    LogisticRegression,
    Perceptron,
    SoftmaxRegression,
    perceptron_bound,
    train_xor_network,
    xor_data,
)
from chainrule.data import load_digits


def margin_data(seed, n=80, d=4, gamma0=0.1):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d)
    u = np.concatenate([[-w @ rng.uniform(-1, 1, d)], w])
    u /= np.linalg.norm(u)
    X = rng.uniform(-2, 2, size=(30 * n, d))
    s = np.c_[np.ones(len(X)), X] @ u
    keep = np.abs(s) >= gamma0
    return X[keep][:n], np.sign(s[keep][:n]), u


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__)
    import matplotlib.pyplot as plt

    AND_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    AND_y = np.array([-1, -1, -1, 1])
    p = Perceptron().fit(AND_X, AND_y)
    and_res = {"updates": p.n_updates_, "epochs": p.n_epochs_, "w": p.w_,
               "bound_max_margin": perceptron_bound(AND_X, AND_y, [-3, 2, 2])}
    ratios = []
    for seed in trange(30 if args.quick else 100, desc="perceptron bound"):
        X, y, u = margin_data(seed)
        ratios.append(Perceptron(shuffle=True, random_state=seed).fit(X, y).n_updates_ / perceptron_bound(X, y, u))

    x6, y6 = np.arange(6.0)[:, None], np.array([0, 0, 1, 0, 1, 1])
    irls = LogisticRegression(solver="irls").fit(x6, y6)
    w_star = np.r_[irls.intercept_, irls.coef_[0]]
    dist_irls = [np.linalg.norm(np.zeros(2) - w_star)] + [np.linalg.norm(w - w_star) for w in irls.coef_path_]
    gd_iters = [1, 3, 10, 30, 100, 300, 1000, 3000]
    dist_gd = []
    for it in gd_iters:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            g = LogisticRegression(solver="gd", lr=0.5, max_iter=it, tol=0).fit(x6, y6)
        dist_gd.append(np.linalg.norm(np.r_[g.intercept_, g.coef_[0]] - w_star))
    gd_full = LogisticRegression(solver="gd", lr=0.5).fit(x6, y6)

    Xx, yx = xor_data()
    ls_pred = LinearRegression().fit(Xx, yx).predict(Xx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pk = Perceptron(pocket=True, shuffle=True, random_state=0, max_epochs=100).fit(Xx, yx)
    n_seeds = 20
    solved = sum(train_xor_network(s, hidden=4, activation="tanh", steps=300)[2] for s in range(n_seeds))

    Xtr, ytr = load_digits("train", as_images=False)
    Xte, yte = load_digits("test", as_images=False)
    Xtr, Xte = Xtr.astype(np.float64), Xte.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sm = SoftmaxRegression(alpha=1e-3, lr=1.0, max_iter=300 if args.quick else 3000, tol=1e-6).fit(Xtr, ytr)
    digits = {"train_accuracy": sm.score(Xtr, ytr), "test_accuracy": sm.score(Xte, yte), "iterations": sm.n_iter_,
              "n_train": len(ytr), "n_test": len(yte)}

    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    ax[0].hist(ratios, bins=20)
    ax[0].set(title=f"perceptron updates / (R/γ)² over {len(ratios)} separable sets (max {max(ratios):.2f})",
              xlabel="ratio (≤ 1 by the convergence theorem)")
    ax[0].title.set_fontsize(9)
    ax[1].semilogy(range(len(dist_irls)), np.maximum(dist_irls, 1e-17), "o-", label="IRLS / Newton")
    ax[1].semilogy(gd_iters, dist_gd, "s-", label="gradient descent, η = 0.5")
    ax[1].set(xscale="symlog", xlabel="iteration", ylabel="‖w − w*‖", title="logistic regression on the fixture")
    ax[1].legend(fontsize=8)
    W = sm.coef_.reshape(10, 8, 8)
    vmax = np.abs(W).max()
    ax[2].imshow(np.concatenate([np.concatenate(list(W[:5]), 1), np.concatenate(list(W[5:]), 1)], 0), cmap="RdBu",
                 vmin=-vmax, vmax=vmax)
    ax[2].set(title=f"softmax regression weights, digits test acc. {digits['test_accuracy']:.3f}")
    ax[2].set_xticks([])
    ax[2].set_yticks([])
    return save(args, "classical", fig, {
        "perceptron_AND": and_res, "perceptron_bound_ratio_max": max(ratios), "perceptron_bound_ratio_mean":
        float(np.mean(ratios)), "logreg_optimum_b_w": w_star, "logreg_irls_iterations": irls.n_iter_,
        "logreg_gd_iterations": gd_full.n_iter_, "logreg_sum_nll": irls.nll_history_[-1],
        "xor_least_squares_predictions": ls_pred, "xor_pocket_accuracy": pk.score(Xx, yx),
        "xor_tanh_2_4_1_solved": f"{solved}/{n_seeds}", "digits_softmax_regression": digits}, seconds_digits=2)


if __name__ == "__main__":
    main()
