"""Model selection (spec: CV-COMPLEXITY-CURVE, CV-MODEL-SELECT, CV-KFOLD, LOSS-MAP-L2).

* complexity curve: polynomial degrees 1–15 on a noisy sine (train MSE falls, test MSE has an interior
  minimum);
* ridge α (weight decay) by 10-fold CV vs the MAP value σ²/σ_p², over several synthetic data sets,
  with nested CV (outer estimate) next to the optimistic inner best score;
* an nn model (ModuleEstimator, MLP on the embedded digits) cross-validated sequentially and with
  joblib processes (n_jobs=2).
Run: python examples/theory/model_selection.py [--quick]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save
from tqdm import trange

from chainrule import nn
from chainrule.classic import LinearRegression, PolynomialRegression, ridge_alpha_from_prior
from chainrule.data import load_digits
from chainrule.train.model_selection import (
    GridSearchCV,
    KFold,
    ModuleEstimator,
    complexity_curve,
    cross_val_score,
    nested_cross_val_score,
    select_ridge_alpha,
)


def digits_mlp(hidden: int = 32):
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__)
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 30)
    y = np.sin(2 * np.pi * x) + rng.normal(0, 0.3, 30)
    xt = rng.uniform(x.min(), x.max(), 5000)
    yt = np.sin(2 * np.pi * xt) + rng.normal(0, 0.3, 5000)
    cc = complexity_curve(PolynomialRegression(), "degree", range(1, 16), x, y, xt, yt, scoring="mse")
    best_degree = int(cc["param"][np.argmin(cc["test"])])

    n, d, sigma, sigma_p = 80, 30, 1.0, 0.3
    a_star = ridge_alpha_from_prior(sigma**2, sigma_p**2)
    alphas = np.logspace(-2, 4, 25)
    chosen, curves, nested = [], [], []
    n_sets = 3 if args.quick else 20
    for seed in trange(n_sets, desc="ridge α by CV"):
        r = np.random.default_rng(seed)
        X = r.normal(size=(n, d))
        yy = X @ r.normal(0, sigma_p, size=d) + r.normal(0, sigma, size=n)
        s = select_ridge_alpha(X, yy, alphas=alphas, cv=KFold(10, shuffle=True, random_state=seed))
        chosen.append(s.best_params_["alpha"])
        curves.append(s.cv_results_["mean_test_score"])
        if seed < 3:
            inner = GridSearchCV(LinearRegression(), {"alpha": list(alphas)}, cv=KFold(5, shuffle=True, random_state=0),
                                 scoring="mse")
            nres = nested_cross_val_score(inner, X, yy, cv=KFold(5, shuffle=True, random_state=1))
            nested.append({"outer_mse": nres.outer.mean(), "outer_std": nres.outer.std(),
                           "inner_best_mse": float(np.mean(nres.inner_best_scores)),
                           "chosen_alphas": [p["alpha"] for p in nres.best_params]})
    table = s.results_table()

    Xd, yd = load_digits(as_images=False)
    Xd = Xd.astype(np.float64)
    if args.quick:
        Xd, yd = Xd[:400], yd[:400]
    est = ModuleEstimator(digits_mlp, model_kwargs={"hidden": 32}, task="classification", lr=1e-2,
                          epochs=10 if args.quick else 30, batch_size=64)
    t0 = time.perf_counter()
    seq = cross_val_score(est, Xd, yd, cv=5, backend="sequential")
    t_seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    par = cross_val_score(est, Xd, yd, cv=5, n_jobs=2, backend="joblib")
    t_par = time.perf_counter() - t0

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    ax[0].semilogy(cc["param"], cc["train"], "o-", label="training MSE")
    ax[0].semilogy(cc["param"], cc["test"], "s-", label="test MSE")
    ax[0].axvline(best_degree, color="gray", ls=":")
    ax[0].set(xlabel="polynomial degree", title=f"noisy sine, N = 30: test minimum at degree {best_degree}")
    ax[0].legend(fontsize=8)
    for c in curves:
        ax[1].loglog(alphas, c, color="C0", alpha=0.3)
    ax[1].axvline(a_star, color="k", ls="--", label=f"MAP α* = σ²/σ_p² = {a_star:.1f}")
    ax[1].loglog(chosen, [np.interp(np.log(a), np.log(alphas), c) for a, c in zip(chosen, curves)], "ro",
                 label="CV choice")
    ax[1].set(xlabel="ridge α", ylabel="10-fold CV MSE", title=f"{n_sets} data sets, N = {n}, D = {d}")
    ax[1].legend(fontsize=8)
    logs = np.log10(np.array(chosen) / a_star)
    return save(args, "model_selection", fig, {
        "complexity_curve": {"degree": cc["param"], "train_mse": cc["train"], "test_mse": cc["test"]},
        "best_degree": best_degree,
        "train_mse_non_increasing": bool(np.all(np.diff(cc["train"]) <= 1e-12)),
        "ridge_alpha_map": a_star, "ridge_alpha_cv_chosen": chosen,
        "ridge_alpha_cv_median_ratio": float(10 ** np.median(logs)),
        "nested_cv": nested, "last_search_table": table,
        "digits_mlp_cv_accuracy": {"mean": seq.mean(), "std": seq.std(), "pooled": seq.pooled_mean()},
        "cv_joblib_equals_sequential": bool(np.allclose(seq.scores, par.scores)),
        "cv_seconds_sequential": t_seq, "cv_seconds_joblib_2_procs": t_par}, seconds_digits=2)


if __name__ == "__main__":
    main()
