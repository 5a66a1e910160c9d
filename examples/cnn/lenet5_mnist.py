"""Train LeNet-5 (the notes' modified version, 61,706 parameters) on MNIST.  (spec: CNN-LENET5)

    python examples/cnn/lenet5_mnist.py            # 20 epochs on the 60,000 training images
    python examples/cnn/lenet5_mnist.py --quick    # 1 epoch on 3,000 images (smoke run)

Images are zero-padded from 28×28 to 32×32 and standardised with the training mean/std; softmax
cross-entropy, SGD with momentum 0.9 (lr 0.05, ×0.3 at 50 % and 75 % of the epochs), batch 64, tanh and
max pooling (``--activation relu --pool avg`` for the variants).  The test set (10,000 images) is used
only for the reported accuracy after each epoch.  Writes docs/cnn/lenet5_mnist[_quick].{json,png}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from cnn_common import load_images
from tqdm import tqdm

import chainrule as cr
from chainrule.models import LeNet5, count_parameters, pad_mnist, summary
from chainrule.nn import functional as F

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "cnn"


def evaluate(model, X, y, batch: int = 1000) -> tuple[float, float]:
    model.eval()
    correct, loss = 0, 0.0
    with cr.no_grad():
        for i in range(0, len(X), batch):
            out = model(cr.Tensor(X[i:i + batch]))
            loss += float(F.cross_entropy(out, y[i:i + batch], reduction="sum").data)
            correct += int((out.data.argmax(1) == y[i:i + batch]).sum())
    model.train()
    return correct / len(X), loss / len(X)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 epoch on 3,000 training images")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--activation", default="tanh", choices=("tanh", "relu"))
    ap.add_argument("--pool", default="max", choices=("max", "avg"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.epochs = 1

    Xtr, ytr, Xte, yte = load_images("mnist", args.data_dir)
    if args.quick:
        Xtr, ytr = Xtr[:3000], ytr[:3000]
    mean, std = float(Xtr.mean()), float(Xtr.std())
    Xtr = ((pad_mnist(Xtr).data - mean) / std).astype(np.float32)
    Xte = ((pad_mnist(Xte).data - mean) / std).astype(np.float32)   # padding value 0 → −mean/std, as train

    cr.manual_seed(args.seed)
    model = LeNet5(args.activation, args.pool, generator=cr.Generator(args.seed))
    table = summary(model, (1, 1, 32, 32))
    print(table)
    opt = cr.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    milestones = {int(args.epochs * 0.5), int(args.epochs * 0.75)} - {0}
    rng = np.random.default_rng(args.seed)
    history = []
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        if epoch in milestones:
            for g in opt.param_groups:
                g["lr"] *= 0.3
        perm = rng.permutation(len(Xtr))
        nb = len(perm) // args.batch
        run_loss, run_correct, seen = 0.0, 0, 0
        te = time.perf_counter()
        bar = tqdm(range(nb), desc=f"epoch {epoch}/{args.epochs}", disable=args.no_progress, leave=False)
        for b in bar:
            idx = perm[b * args.batch:(b + 1) * args.batch]
            out = model(cr.Tensor(Xtr[idx]))
            loss = F.cross_entropy(out, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            run_loss += float(loss.data) * len(idx)
            run_correct += int((out.data.argmax(1) == ytr[idx]).sum())
            seen += len(idx)
            if b % 50 == 0:
                bar.set_postfix(loss=f"{run_loss / seen:.4f}")
        epoch_s = time.perf_counter() - te
        test_acc, test_loss = evaluate(model, Xte, yte)
        rec = {"epoch": epoch, "lr": opt.param_groups[0]["lr"], "train_loss": run_loss / seen,
               "train_acc": run_correct / seen, "test_loss": test_loss, "test_acc": test_acc, "epoch_s": epoch_s}
        history.append(rec)
        print(f"epoch {epoch:2d}  lr {rec['lr']:.4f}  train loss {rec['train_loss']:.4f} acc {rec['train_acc']:.4f}  "
              f"test loss {test_loss:.4f} acc {test_acc:.4f}  ({epoch_s:.0f} s)", flush=True)
    total = time.perf_counter() - t0

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "lenet5_mnist" + ("_quick" if args.quick else "")
    result = {
        "model": f"LeNet5(activation={args.activation!r}, pool={args.pool!r})",
        "parameters": count_parameters(model), "train_images": len(Xtr), "test_images": len(Xte),
        "config": {k: v for k, v in vars(args).items() if k not in ("out", "no_progress")},
        "final_test_acc": history[-1]["test_acc"], "best_test_acc": max(h["test_acc"] for h in history),
        "wall_s": total, "history": history,
    }
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        ep = [h["epoch"] for h in history]
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        ax[0].plot(ep, [h["train_loss"] for h in history], "o-", label="train")
        ax[0].plot(ep, [h["test_loss"] for h in history], "s-", label="test")
        ax[0].set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="LeNet-5 on MNIST: loss")
        ax[1].plot(ep, [100 * (1 - h["train_acc"]) for h in history], "o-", label="train")
        ax[1].plot(ep, [100 * (1 - h["test_acc"]) for h in history], "s-", label="test")
        ax[1].set(xlabel="epoch", ylabel="error (%)", yscale="log",
                  title=f"final test accuracy {100 * history[-1]['test_acc']:.2f} %")
        for a in ax:
            a.legend()
            a.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / f"{stem}.png", dpi=120)
    except ImportError:
        pass
    print(f"final test accuracy {100 * history[-1]['test_acc']:.2f} % after {args.epochs} epochs, {total:.0f} s; "
          f"wrote {out / (stem + '.json')}")


if __name__ == "__main__":
    main()
