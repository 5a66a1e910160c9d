"""End-to-end CNN regression with k-fold cross-validation.  (spec: CNN-REGRESSION-PIPELINE, TRAIN-LOOP-000,
TUT-HPARAMS, CV-KFOLD, INIT-KAIMING-NORMAL, REG-L2-WEIGHT-DECAY, OPT-SGD-MOMENTUM, LOSS-MSE)

    python examples/cnn/cnn_regression.py            # 10,000 MNIST images, 5 folds, 10 epochs, 2 decay values
    python examples/cnn/cnn_regression.py --quick    # 1,500 images, 3 folds, 2 epochs

The tutorial's motivating task (body measurements from 200×200 images) has no data, so the **substitute
target is the digit's value as a real number** (0.0 … 9.0) of genuine MNIST images (spec: "a real image
regression target, stated as a substitute").  Pipeline (TRAIN-LOOP-000 inside CV-KFOLD):

    (N,1,28,28) → Conv2d(1,16,5) valid + bias → ReLU → MaxPool2d(2) → Conv2d(16,32,3) valid → ReLU →
    MaxPool2d(2) → Flatten 800 → Linear(800,128) → ReLU → BatchNorm1d(128) → Linear(128, K=1)

Kaiming-normal weights N(0, 2/fan_in), zero biases; MSE loss; the tutorial's hyperparameters
(``presets.tutorial_regression()``): SGD with momentum 0.9, lr ε = 0.01, batch n = 100, χ = 10 epochs, with
lr × 0.1 for the last 30 % of the epochs (without it the BatchNorm running statistics lag the fast-moving
weights and the fold test error jumps between epochs).  L2 weight decay α on the conv/dense weights only
(biases and BatchNorm's γ, β excluded): the tutorial's α = 0.2 and a small α = 1e-4, compared by 5-fold CV
(mean ± std of the fold test MSE).  Baseline: predict the training fold's mean.  The α with the lower CV
error is then refitted on all 10,000 images and scored once on the 10,000 MNIST test images.

Writes docs/cnn/cnn_regression.json and cnn_regression.png, then regenerates results.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args
from cnn_common import cnn_options, load_images, predict, save_result, train_epoch

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.presets import tutorial_regression
from chainrule.train.model_selection import KFold
from chainrule.train.plots import new_figure, save_figure


def make_model(seed: int, channels=(16, 32), hidden: int = 128) -> nn.Module:
    """The regression CNN with Kaiming-normal weights and zero biases (TRAIN-LOOP-000 step 1)."""
    return cr.models.regression_cnn(1, channels, hidden, generator=cr.Generator(seed))


def make_optimizer(m: nn.Module, lr: float, momentum: float, weight_decay: float):
    """SGD + momentum; weight decay on weights only (REG-L2-WEIGHT-DECAY: biases/normalisation excluded)."""
    decay = [layer.weight for layer in m.modules() if isinstance(layer, (nn.Conv2d, nn.Linear))]
    ids = {id(p) for p in decay}
    rest = [p for p in m.parameters() if id(p) not in ids]
    return cr.optim.SGD([{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}],
                        lr=lr, momentum=momentum)


def mse_loss(out, y):
    return F.mse_loss(out.reshape((-1,)), cr.Tensor(y))


def scores(pred: np.ndarray, y: np.ndarray) -> dict:
    err = pred - y
    mse = float((err ** 2).mean())
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": float(np.abs(err).mean()),
            "r2": 1.0 - mse / float(((y - y.mean()) ** 2).mean()),
            "rounded_acc": float((np.clip(np.rint(pred), 0, 9) == y).mean())}


def fit(X, y, Xv, yv, args, wd: float, seed: int, desc: str) -> tuple[nn.Module, list]:
    cr.manual_seed(seed)
    m = make_model(seed, tuple(args.channels), args.hidden)
    opt = make_optimizer(m, args.lr, args.momentum, wd)
    rng = np.random.default_rng(seed)
    curve = []
    drop_at = int(np.ceil(args.drop_frac * args.epochs)) + 1 if args.drop_frac < 1 else args.epochs + 1
    for ep in range(1, args.epochs + 1):
        if ep == drop_at:
            for grp in opt.param_groups:
                grp["lr"] = args.lr * 0.1
        tr = train_epoch(m, opt, X, y, args.batch, rng, loss_fn=mse_loss, classification=False,
                         desc=f"{desc} epoch {ep}", progress=not args.no_progress)
        rec = {"epoch": ep, "train_mse": tr["loss"], "seconds": tr["seconds"]}
        if Xv is not None:
            rec["test_mse"] = scores(predict(m, Xv)[:, 0], yv)["mse"]
        curve.append(rec)
    return m, curve


def main(argv=None) -> dict:
    tut = tutorial_regression()  # TUT-HPARAMS: ε 0.01, α 0.2, χ 10, n 100, momentum 0.9

    def extra(p):
        cnn_options(p)
        p.add_argument("--n", type=int, default=10_000, help="MNIST training images used for CV")
        p.add_argument("--folds", type=int, default=5)
        p.add_argument("--epochs", type=int, default=tut.epochs)
        p.add_argument("--batch", type=int, default=tut.batch_size)
        p.add_argument("--lr", type=float, default=tut.lr)
        p.add_argument("--momentum", type=float, default=tut.momentum)
        p.add_argument("--decays", type=float, nargs="+", default=[tut.weight_decay, 1e-4])
        p.add_argument("--drop-frac", type=float, default=0.7, help="lr × 0.1 after this fraction of the epochs")
        p.add_argument("--channels", type=int, nargs=2, default=[16, 32])
        p.add_argument("--hidden", type=int, default=128, help="dense ReLU layer before the BatchNorm (0: none)")
    args = parse_args(__doc__.split("\n\n")[0], argv, script=__file__, seed=True, extra=extra)
    if args.quick:
        args.n, args.folds, args.epochs = 1500, 3, 2
    Xall, yall, Xte, yte = load_images("mnist", args.data_dir)
    X, y = Xall[:args.n], yall[:args.n].astype(np.float32)
    yte = yte.astype(np.float32)
    if args.quick:
        Xte, yte = Xte[:2000], yte[:2000]

    kf = KFold(args.folds, shuffle=True, random_state=args.seed)
    splits = list(kf.split(X))
    t0 = time.perf_counter()
    cv = {}
    for wd in args.decays:
        folds, oof = [], np.zeros(len(y))
        for k, (tr, te) in enumerate(splits):
            m, curve = fit(X[tr], y[tr], X[te], y[te], args, wd, args.seed + k, f"α={wd:g} fold {k + 1}/{args.folds}")
            pred = predict(m, X[te])[:, 0]
            oof[te] = pred
            base = np.full(len(te), y[tr].mean())
            folds.append({"fold": k, "cnn": scores(pred, y[te]), "mean_baseline": scores(base, y[te]), "curve": curve})
            print(f"α={wd:g} fold {k + 1}: test MSE {folds[-1]['cnn']['mse']:.3f} (mean baseline "
                  f"{folds[-1]['mean_baseline']['mse']:.3f})", flush=True)
        mse = np.array([f["cnn"]["mse"] for f in folds])
        base = np.array([f["mean_baseline"]["mse"] for f in folds])
        cv[wd] = {"folds": folds, "cv_mse_mean": float(mse.mean()), "cv_mse_std": float(mse.std(ddof=1)),
                  "baseline_mse_mean": float(base.mean()), "baseline_mse_std": float(base.std(ddof=1)),
                  "cv_rmse_mean": float(np.mean([f["cnn"]["rmse"] for f in folds])),
                  "cv_r2_mean": float(np.mean([f["cnn"]["r2"] for f in folds])), "oof": oof}
    cv_s = time.perf_counter() - t0
    best = min(args.decays, key=lambda w: cv[w]["cv_mse_mean"])
    final, final_curve = fit(X, y, Xte, yte, args, best, args.seed + 100, f"refit α={best:g}")
    test = scores(predict(final, Xte)[:, 0], yte)
    test_base = scores(np.full(len(yte), y.mean()), yte)
    total_s = time.perf_counter() - t0

    # figure: learning curves of the folds, out-of-fold predictions per digit, CV error bars
    stem = "cnn_regression" + args.suffix
    fig = new_figure(figsize=(14, 4))
    ax = fig.add_subplot(1, 3, 1)
    for i, wd in enumerate(args.decays):
        for f in cv[wd]["folds"]:
            ep = [c["epoch"] for c in f["curve"]]
            ax.plot(ep, [c["train_mse"] for c in f["curve"]], "-", color=f"C{i}", alpha=0.5, lw=0.8)
            ax.plot(ep, [c["test_mse"] for c in f["curve"]], "--", color=f"C{i}", alpha=0.8, lw=0.8)
        ax.plot([], [], "-", color=f"C{i}", label=f"α = {wd:g}: train (—), fold test (- -)")
    ax.axhline(cv[best]["baseline_mse_mean"], color="gray", ls=":", label="predict the mean")
    ax.set(xlabel="epoch", ylabel="MSE", yscale="log", title="learning curves (every fold)")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(1, 3, 2)
    oof = cv[best]["oof"]
    ax.violinplot([oof[y == d] for d in range(10)], positions=range(10), showmedians=True)
    ax.plot([-0.5, 9.5], [-0.5, 9.5], "k:", lw=0.8)
    ax.set(xlabel="true digit value", ylabel="predicted value",
           title=f"out-of-fold predictions, α = {best:g} (R² {cv[best]['cv_r2_mean']:.3f})")
    ax = fig.add_subplot(1, 3, 3)
    names = [f"CNN α={w:g}" for w in args.decays] + ["mean baseline"]
    vals = [cv[w]["cv_mse_mean"] for w in args.decays] + [cv[best]["baseline_mse_mean"]]
    errs = [cv[w]["cv_mse_std"] for w in args.decays] + [cv[best]["baseline_mse_std"]]
    ax.bar(range(len(names)), vals, yerr=errs, capsize=4, color=[f"C{i}" for i in range(len(args.decays))] + ["gray"])
    ax.set_xticks(range(len(names)), labels=names, fontsize=8)
    ax.set(ylabel=f"{args.folds}-fold CV test MSE (mean ± std)", yscale="log", title="cross-validated error")
    for a in fig.axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, args.out / f"{stem}.png")

    summary = [["target (substitute)", "MNIST digit value as a real number 0…9 (MSE regression)"],
               ["data", f"{args.n:,} MNIST training images, {args.folds}-fold CV (shuffled, seed {args.seed}); "
                        f"{len(yte):,} test images for the refit"],
               ["training", f"SGD lr {args.lr:g}, momentum {args.momentum:g}, batch {args.batch}, {args.epochs} "
                            "epochs, Kaiming-normal init, zero biases"]]
    for wd in args.decays:
        summary.append([f"CV test MSE, weight decay α = {wd:g}",
                        f"{cv[wd]['cv_mse_mean']:.3f} ± {cv[wd]['cv_mse_std']:.3f} (RMSE {cv[wd]['cv_rmse_mean']:.3f}, "
                        f"R² {cv[wd]['cv_r2_mean']:.3f})"])
    summary += [["CV test MSE, predict the training mean",
                 f"{cv[best]['baseline_mse_mean']:.3f} ± {cv[best]['baseline_mse_std']:.3f}"],
                [f"refit (α = {best:g}) on the MNIST test set",
                 f"MSE {test['mse']:.3f}, RMSE {test['rmse']:.3f}, R² {test['r2']:.3f}, rounded = label "
                 f"{100 * test['rounded_acc']:.1f} % (mean baseline MSE {test_base['mse']:.3f})"],
                ["time", f"CV {cv_s:.0f} s, total {total_s:.0f} s"]]
    res = {"cv": {str(w): {k: v for k, v in d.items() if k != "oof"} for w, d in cv.items()}, "best_decay": best,
           "test": test, "test_mean_baseline": test_base, "refit_curve": final_curve, "cv_seconds": cv_s,
           "total_seconds": total_s}
    save_result(args, "cnn_regression", res, summary,
                "CNN regression with k-fold CV (CNN-REGRESSION-PIPELINE)")
    return res


if __name__ == "__main__":
    main()
