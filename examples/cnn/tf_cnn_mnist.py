"""The TensorFlow "Deep MNIST" two-convolution CNN on MNIST.  (spec: RECIPE-TF-CNN-MNIST, CNN-FILTER-VIS)

    python examples/cnn/tf_cnn_mnist.py            # 3 epochs on the 60,000 training images (~15-25 min)
    python examples/cnn/tf_cnn_mnist.py --quick    # 1 epoch on 3,000 images, 2,000 test images

(N,1,28,28) → Conv2d(1,32,5,padding=2) → ReLU → MaxPool2d(2) → Conv2d(32,64,5,padding=2) → ReLU →
MaxPool2d(2) → Flatten 3136 → Linear(3136,1024) → ReLU → Dropout(0.5) → Linear(1024,10), 3,274,634
parameters (``chainrule.models.TFCNN``).  Softmax cross-entropy, Adam (β = 0.9, 0.999), batch 50 as the
recipe; the tutorial's 20,000 steps at lr 1e-4 (≈ 17 epochs) are too slow for a shared 2-core CPU, so this
runs lr 1e-3 (the spec's CI-smoke setting) for 3 epochs (3,600 steps) with lr × 0.3 in the last epoch.
Inputs standardised with the training mean/std.  The test set is only used for the reported accuracy.

Writes to docs/cnn/: tf_cnn_mnist.json and figures tf_cnn_mnist_{curves,filters,feature_maps,confusion,
misclassified,actmax}.png, then regenerates results.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, pct
from cnn_common import cnn_options, evaluate, load_images, save_result, standardize, train_epoch

import chainrule as cr
from chainrule.models import TFCNN, count_parameters
from chainrule.train.metrics import confusion_matrix
from chainrule.train.plots import new_figure, plot_confusion_matrix, plot_misclassified, save_figure
from chainrule.visualize import activation_maximization, feature_maps, plot_feature_maps, plot_filters


def main(argv=None) -> dict:
    def extra(p):
        cnn_options(p)
        p.add_argument("--epochs", type=int, default=3)
        p.add_argument("--batch", type=int, default=50)
        p.add_argument("--lr", type=float, default=1e-3)
        p.add_argument("--final-lr-factor", type=float, default=0.3, help="lr multiplier in the last epoch")
        p.add_argument("--train-size", type=int, default=None)
    args = parse_args(__doc__.split("\n\n")[0], argv, script=__file__, seed=True, extra=extra)
    n_train = args.train_size or (3000 if args.quick else None)
    if args.quick:
        args.epochs = 1
    Xtr, ytr, Xte, yte = load_images("mnist", args.data_dir)
    if n_train:
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]
    if args.quick:
        Xte, yte = Xte[:2000], yte[:2000]
    raw_te = Xte
    (Xtr, Xte), mu, sd = standardize(Xtr, Xte)

    cr.manual_seed(args.seed)
    model = TFCNN(dropout=0.5, generator=cr.Generator(args.seed))
    n_params = count_parameters(model)
    opt = cr.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    history, step_log, step0 = [], [], 0
    t0 = time.perf_counter()
    for ep in range(1, args.epochs + 1):
        if ep == args.epochs and args.epochs > 1:
            for g in opt.param_groups:
                g["lr"] = args.lr * args.final_lr_factor
        tr = train_epoch(model, opt, Xtr, ytr, args.batch, rng, desc=f"epoch {ep}/{args.epochs}",
                         progress=not args.no_progress)
        step_log += [(step0 + b, lv) for b, lv in tr["log"]]
        step0 += tr["steps"]
        te_acc, te_loss, logits = evaluate(model, Xte, yte)
        rec = {"epoch": ep, "lr": opt.param_groups[0]["lr"], "train_loss": tr["loss"], "train_acc": tr["acc"],
               "test_loss": te_loss, "test_acc": te_acc, "epoch_s": tr["seconds"],
               "train_samples_per_s": tr["samples_per_s"], "steps": step0}
        history.append(rec)
        print(f"epoch {ep}: train loss {tr['loss']:.4f} acc {tr['acc']:.4f}  test loss {te_loss:.4f} "
              f"acc {te_acc:.4f}  ({tr['seconds']:.0f} s, {tr['samples_per_s']:.0f} samples/s)", flush=True)
    train_s = time.perf_counter() - t0
    stem = "tf_cnn_mnist" + args.suffix
    out = args.out

    # learning curves
    fig = new_figure(figsize=(11, 3.8))
    ax = fig.add_subplot(1, 2, 1)
    s, lv = np.array(step_log).T
    ax.plot(s, lv, lw=0.8, label="training batch loss (every 100 steps)")
    ax.plot([h["steps"] for h in history], [h["test_loss"] for h in history], "s-", label="test loss (end of epoch)")
    ax.set(xlabel="Adam step (batch 50)", ylabel="cross-entropy", yscale="log", title="TF-CNN on MNIST: loss")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(1, 2, 2)
    ep = [h["epoch"] for h in history]
    ax.plot(ep, [100 * (1 - h["train_acc"]) for h in history], "o-", label="train (running, dropout on)")
    ax.plot(ep, [100 * (1 - h["test_acc"]) for h in history], "s-", label="test")
    ax.set(xlabel="epoch", ylabel="error (%)", yscale="log",
           title=f"final test accuracy {pct(history[-1]['test_acc'])}")
    ax.legend(fontsize=8)
    for a in fig.axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out / f"{stem}_curves.png")

    # inside the network (spec: CNN-FILTER-VIS)
    plot_filters(model.features.conv1.weight, out / f"{stem}_filters.png",
                 title="TF-CNN conv1: 32 learned 5×5 filters (each min–max scaled)")
    k = int(np.flatnonzero(yte == 7)[0])
    maps = feature_maps(model, Xte[k:k + 1], ["features.relu1", "features.pool1", "features.relu2", "features.pool2"])
    plot_feature_maps(maps, out / f"{stem}_feature_maps.png", image=raw_te[k, 0], max_channels=12,
                      title=f"feature maps of test image {k} (label {yte[k]}), first 12 channels per layer")
    cm = confusion_matrix(logits, yte, num_classes=10)
    plot_confusion_matrix(cm, out / f"{stem}_confusion.png", title=f"TF-CNN test confusion matrix (accuracy "
                          f"{pct(np.trace(cm) / cm.sum())})")
    n_wrong = int((logits.argmax(1) != yte).sum())
    if n_wrong:
        plot_misclassified(raw_te, yte, logits, out / f"{stem}_misclassified.png", max_images=36)
    # activation maximisation of each class logit (AD-INPUT-OPTIM), from the standardised blank image
    blank = np.full((1, 1, 28, 28), -mu / sd, dtype=np.float32)
    am, gains = [], []
    for c in range(10):
        x, hist = activation_maximization(model, None, c, x0=blank, lr=5.0, steps=30 if args.quick else 100,
                                          weight_decay=0.01, clip=(-mu / sd, (1 - mu) / sd))
        am.append(x.data[0, 0])
        gains.append((hist[0], hist[-1]))
    fig = new_figure(figsize=(11, 1.7))
    for c in range(10):
        ax = fig.add_subplot(1, 10, c + 1)
        ax.imshow(am[c], cmap="gray")
        ax.set_title(f"{c}: {gains[c][0]:.1f}→{gains[c][1]:.1f}", fontsize=7)
        ax.axis("off")
    fig.suptitle("activation maximisation of each class logit (gradient ascent on the input, η = 5, "
                 "λ = 0.01, pixels clipped to [0, 1])", fontsize=8)
    save_figure(fig, out / f"{stem}_actmax.png")

    final = history[-1]
    summary = [
        ["parameters", f"{n_params:,}"],
        ["training / test images", f"{len(Xtr):,} / {len(Xte):,}"],
        ["optimizer", f"Adam lr {args.lr:g} (× {args.final_lr_factor:g} in the last epoch), batch {args.batch}, "
                      f"dropout 0.5, {args.epochs} epoch(s) = {step0:,} steps"],
        ["final test accuracy", pct(final["test_acc"])],
        ["test accuracy per epoch", ", ".join(pct(h["test_acc"]) for h in history)],
        ["misclassified test images", str(n_wrong)],
        ["training throughput", f"{np.mean([h['train_samples_per_s'] for h in history]):.0f} samples/s"],
        ["training time", f"{train_s:.0f} s"],
        ["reference (spec RECIPE-TF-CNN-MNIST)", "0.99 after 20,000 steps of Adam 1e-4; check ≥ 0.985"],
    ]
    res = {"parameters": n_params, "train_images": len(Xtr), "test_images": len(Xte),
           "final_test_acc": final["test_acc"],
           "history": history, "step_log": step_log, "train_seconds": train_s, "misclassified": n_wrong,
           "confusion_matrix": cm, "actmax_logit_start_end": gains}
    save_result(args, "tf_cnn_mnist", res, summary,
                "TensorFlow-style CNN on MNIST (RECIPE-TF-CNN-MNIST; target ≥ 99.0 %)")
    return res


if __name__ == "__main__":
    main()
