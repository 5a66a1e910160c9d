"""chainrule demo: train a small network on the embedded 8x8 digits and plot its learning curves.

    python examples/demo.py                 # a small CNN (default), ~20 s on an idle 2-core machine
    python examples/demo.py --model mlp     # a multilayer perceptron, ~2 s
    python examples/demo.py --quick         # 3 epochs, smoke test

Writes out/demo/curves.png (learning curves), out/demo/confusion.png and out/demo/results.json.
No download: the 1,797 digits ship inside the package (chainrule.data.load_digits).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim, presets
from chainrule.data import DataLoader, TensorDataset, load_digits
from chainrule.train import (
    EarlyStopping,
    confusion_matrix,
    evaluate,
    fit,
    plot_confusion_matrix,
    plot_learning_curves,
    predict,
)

# The model the demo trains by default: a small CNN ("mlp" for the multilayer perceptron).
DEFAULT_MODEL = "cnn"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL, choices=presets.available_models(),
                    help=f"default {DEFAULT_MODEL}")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="3 epochs (smoke test)")
    ap.add_argument("--out", default="out/demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    epochs = 3 if args.quick else args.epochs

    cr.manual_seed(args.seed)
    X, y = load_digits("train")              # (1438, 1, 8, 8) float32 in [0, 1], labels 0..9
    X_test, y_test = load_digits("test")     # (359, 1, 8, 8), a fixed stratified split
    perm = np.random.default_rng(args.seed).permutation(len(X))
    val, tr = perm[:200], perm[200:]         # hold out 200 training images for validation
    train_loader = DataLoader(TensorDataset(X[tr], y[tr]), batch_size=32, shuffle=True,
                              generator=cr.Generator(args.seed))

    kwargs = {"hidden": (64,), "generator": cr.Generator(args.seed)} if args.model == "mlp" else {}
    model = presets.build_model(args.model, X.shape[1:], 10, **kwargs)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    print(f"{args.model}: {model.num_parameters():,} parameters; {len(tr)} train / {len(val)} validation / "
          f"{len(X_test)} test images")

    t0 = time.perf_counter()
    history = fit(model, loss_fn, opt, train_loader, epochs=epochs, val_loader=(X[val], y[val]),
                  callbacks=[EarlyStopping(monitor="val_loss", patience=5)], progress=not args.no_progress)
    seconds = time.perf_counter() - t0
    test = evaluate(model, (X_test, y_test), loss_fn, ("accuracy",))
    cm = confusion_matrix(predict(model, X_test), y_test, num_classes=10)

    out = Path(args.out)
    plot_learning_curves(history, out / "curves.png", title=f"{args.model} on the 8x8 digits")
    plot_confusion_matrix(cm, out / "confusion.png")
    result = {"model": args.model, "parameters": model.num_parameters(), "epochs_run": history.num_epochs,
              "updates": history.num_updates, "train_seconds": round(seconds, 2),
              "test_accuracy": test["accuracy"], "test_loss": test["loss"], "test_loss_se": test["loss_se"],
              "best_val_loss": min(history["val_loss"]), "stopped_early": history.stopped_early}
    (out / "results.json").write_text(json.dumps(result, indent=1))
    print(f"trained {history.num_epochs} epochs ({history.num_updates} updates) in {seconds:.1f} s"
          + (" — stopped early, best weights restored" if history.stopped_early else ""))
    print(f"test accuracy {test['accuracy']:.4f}  (test loss {test['loss']:.4f} ± {test['loss_se']:.4f})")
    print(f"wrote {out / 'curves.png'}, {out / 'confusion.png'}, {out / 'results.json'}")
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
