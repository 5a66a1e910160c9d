"""Overfit first (spec: TRICK-CAPACITY): an MLP memorizes 1,000 MNIST images with *random* labels.

Before regularizing, check that the network can fit the training set at all.  The strongest form of
that check is memorization: with labels drawn uniformly at random there is nothing to learn, yet an
MLP with enough parameters reaches 100 % training accuracy.  A single-layer baseline (softmax
regression, 7,850 parameters) is trained the same way and reported beside it, on random and on true
labels; test accuracy (true labels) shows that memorizing random labels generalizes to nothing.

    python examples/train/capacity.py            # 1,000 images, ~1 min on 2 cores
    python examples/train/capacity.py --quick    # 300 images, smoke test

Writes docs/train/capacity.json, docs/train/capacity.md and docs/train/capacity.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import StopAtTarget, evaluate, fit
from chainrule.train.plots import new_figure, save_figure

ROOT = Path(__file__).resolve().parents[2]


def load_subset(n: int, seed: int):
    """First n MNIST training images (flattened, [0, 1]), true labels, random labels, and 2,000 test images."""
    try:
        from chainrule.data import load_mnist
        X, y = load_mnist(split="train", flatten=True)
        Xt, yt = load_mnist(split="test", flatten=True)
    except (FileNotFoundError, OSError, RuntimeError) as e:
        sys.exit(f"MNIST not found ({e}); set CHAINRULE_MNIST_DIR to the folder of the IDX files")
    rng = np.random.default_rng(seed)
    return X[:n], y[:n], rng.integers(0, 10, n).astype(np.int64), Xt[:2000], yt[:2000]


def train(model, X, y, epochs: int, lr: float, seed: int, progress: bool):
    opt = optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=epochs, batch_size=100,
            generator=cr.Generator(seed), callbacks=[StopAtTarget("accuracy", 1.0)], progress=progress,
            train_metrics="eval")
    return h, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="number of training images (default 1000)")
    ap.add_argument("--epochs", type=int, default=300, help="maximum epochs (stops at 100%% training accuracy)")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--quick", action="store_true", help="300 images, at most 150 epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "docs" / "train"))
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    n, epochs = (300, 150) if args.quick else (args.n, args.epochs)
    X, y_true, y_rand, Xt, yt = load_subset(n, args.seed)
    progress = not args.no_progress

    runs = {}
    for labels_name, labels in (("random", y_rand), ("true", y_true)):
        for model_name in ("mlp", "softmax_regression"):
            cr.manual_seed(args.seed)
            g = cr.Generator(args.seed)
            if model_name == "mlp":
                model = nn.Sequential(nn.Linear(784, args.hidden, generator=g), nn.ReLU(),
                                      nn.Linear(args.hidden, args.hidden, generator=g), nn.ReLU(),
                                      nn.Linear(args.hidden, 10, generator=g))
            else:
                model = nn.Linear(784, 10, generator=g)  # softmax regression: softmax inside the loss
            print(f"{model_name} on {labels_name} labels ({model.num_parameters():,} parameters) ...", flush=True)
            h, secs = train(model, X, labels, epochs, lr=1e-3, seed=args.seed, progress=progress)
            final = evaluate(model, (X, labels), nn.CrossEntropyLoss(), ("accuracy",))
            test = evaluate(model, (Xt, yt), nn.CrossEntropyLoss(), ("accuracy",))
            runs[f"{model_name}/{labels_name}"] = {
                "model": model_name, "labels": labels_name, "parameters": model.num_parameters(),
                "epochs_run": h.num_epochs, "reached_100pct": final["accuracy"] == 1.0,
                "train_accuracy": final["accuracy"], "train_loss": final["loss"],
                "test_accuracy_true_labels": test["accuracy"], "seconds": round(secs, 1),
                "accuracy_curve": h["accuracy"],
            }

    lines = [f"# TRICK-CAPACITY: memorizing {n} MNIST images", "",
             "| model | parameters | labels | epochs | train accuracy | test accuracy (true labels) |",
             "|---|---|---|---|---|---|"]
    for r in runs.values():
        lines.append(f"| {r['model']} | {r['parameters']:,} | {r['labels']} | {r['epochs_run']} | "
                     f"{r['train_accuracy']:.4f} | {r['test_accuracy_true_labels']:.4f} |")
    table = "\n".join(lines)
    print()
    print(table)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig = new_figure(figsize=(6.5, 4))
    ax = fig.add_subplot(1, 1, 1)
    for key, r in runs.items():
        ax.plot(np.arange(1, len(r["accuracy_curve"]) + 1), r["accuracy_curve"],
                ls="-" if r["labels"] == "random" else "--", label=key)
    ax.axhline(1.0, color="gray", lw=0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training accuracy")
    ax.set_title(f"memorizing {n} MNIST images (Adam 1e-3, batch 100)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, out / ("capacity_quick.png" if args.quick else "capacity.png"))
    stem = "capacity_quick" if args.quick else "capacity"
    summary = {"n": n, "seed": args.seed, "hidden": args.hidden, "runs": runs}
    (out / f"{stem}.json").write_text(json.dumps(summary, indent=1))
    (out / f"{stem}.md").write_text(table + "\n\nCommand: `python examples/train/capacity.py"
                                    + (" --quick" if args.quick else "") + "`\n")
    print(f"\nwrote {out / (stem + '.json')}, {out / (stem + '.md')}, {out / (stem + '.png')}")
    return summary


if __name__ == "__main__":
    main()
