"""Helpers of the CNN examples (examples/cnn/) only: their data options, MNIST/Fashion-MNIST arrays, a training
epoch with a progress bar, evaluation, and the JSON + ``docs/cnn/results.md`` outputs.

Every example writes ``<out>/<stem>.json`` (``<stem>_quick.json`` with ``--quick``) holding its numbers, a
``summary`` list of (quantity, value) rows and the command that produced it; ``write_results_md`` then
regenerates ``<out>/results.md`` (``results_quick.md``) from all the JSON files in the folder, so the
markdown is never edited by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import md_cell, pct, run_options, write_json

import chainrule as cr
from chainrule.nn import functional as F


def cnn_options(p: argparse.ArgumentParser) -> None:
    """The data and progress options of the CNN examples (``parse_args(..., extra=...)`` adds them)."""
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX .gz files (default: library search)")
    p.add_argument("--fashion-dir", default=None, help="folder with the Fashion-MNIST IDX .gz files")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")


# ----------------------------------------------------------------------------------------------- data
def load_images(name: str = "mnist", data_dir: str | None = None) -> tuple[np.ndarray, ...]:
    """(X_train, y_train, X_test, y_test): images (N, 1, 28, 28) float32 in [0, 1], labels int64, from the
    genuine IDX files (``chainrule.data.load_mnist`` / ``load_fashion_mnist``)."""
    from chainrule.data import load_fashion_mnist, load_mnist
    fn = load_mnist if name == "mnist" else load_fashion_mnist
    try:
        Xtr, ytr = fn(data_dir, "train")
        Xte, yte = fn(data_dir, "test")
    except (FileNotFoundError, OSError) as e:
        raise SystemExit(f"{name} IDX files not found ({e}); pass --data-dir/--fashion-dir DIR (the folder "
                         "with train-images-idx3-ubyte.gz etc.) or set CHAINRULE_MNIST_DIR / "
                         "CHAINRULE_FASHION_MNIST_DIR") from e
    return Xtr, ytr, Xte, yte


def standardize(*arrays: np.ndarray, ref: np.ndarray | None = None) -> tuple[list[np.ndarray], float, float]:
    """(x − μ)/σ with μ, σ the pixel mean/std of ``ref`` (default: the first array)."""
    ref = arrays[0] if ref is None else ref
    mu, sd = float(ref.mean()), float(ref.std())
    return [((a - mu) / sd).astype(np.float32) for a in arrays], mu, sd


# ------------------------------------------------------------------------------------------- training
def train_epoch(model, opt, X: np.ndarray, y: np.ndarray, batch: int, rng: np.random.Generator,
                loss_fn=F.cross_entropy, desc: str = "", progress: bool = True, log_every: int = 100,
                classification: bool = True, max_steps: int | None = None) -> dict:
    """One pass over shuffled mini-batches; returns mean loss (and accuracy), seconds, samples/s and the
    loss every ``log_every`` steps."""
    from tqdm import tqdm
    model.train()
    perm = rng.permutation(len(X))
    nb = int(np.ceil(len(perm) / batch))
    if max_steps is not None:
        nb = min(nb, max_steps)
    tot_loss, correct, seen, log = 0.0, 0, 0, []
    t0 = time.perf_counter()
    bar = tqdm(range(nb), desc=desc, disable=not progress, leave=False, mininterval=2.0)
    for b in bar:
        idx = perm[b * batch:(b + 1) * batch]
        out = model(cr.Tensor(X[idx]))
        loss = loss_fn(out, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        lv = float(loss.data)
        tot_loss += lv * len(idx)
        if classification:
            correct += int((out.data.argmax(1) == y[idx]).sum())
        seen += len(idx)
        if b % log_every == 0:
            log.append((b, lv))
            bar.set_postfix(loss=f"{tot_loss / seen:.4f}")
    sec = time.perf_counter() - t0
    res = {"loss": tot_loss / seen, "seconds": sec, "samples_per_s": seen / sec, "steps": nb, "log": log}
    if classification:
        res["acc"] = correct / seen
    return res


def predict(model, X: np.ndarray, batch: int = 500) -> np.ndarray:
    """Model outputs on X in eval mode without a graph (the model's mode is restored)."""
    was = model.training
    model.eval()
    outs = []
    with cr.no_grad():
        for i in range(0, len(X), batch):
            outs.append(model(cr.Tensor(X[i:i + batch])).data)
    model.train(was)
    return np.concatenate(outs)


def evaluate(model, X: np.ndarray, y: np.ndarray, batch: int = 500) -> tuple[float, float, np.ndarray]:
    """(accuracy, mean cross-entropy, logits)."""
    logits = predict(model, X, batch)
    loss = float(F.cross_entropy(cr.Tensor(logits.astype(np.float64)), y).data)
    return float((logits.argmax(1) == y).mean()), loss, logits


# ------------------------------------------------------------------------------------------- outputs
def save_result(args: argparse.Namespace, stem: str, numbers: dict, summary: list, title: str) -> Path:
    """Write ``<out>/<stem>[_quick].json`` (numbers, then the run's options as ``config``, summary rows, title,
    command, seconds, threads) and regenerate the results markdown of the folder."""
    numbers = dict(numbers)
    numbers.update(config=run_options(args), title=title, summary=summary, command=args.command,
                   seconds=round(time.perf_counter() - args.t0, 1),
                   threads=os.environ.get("OMP_NUM_THREADS", "default"))
    path = args.out / f"{stem}{args.suffix}.json"
    write_json(path, numbers, indent=1)
    write_results_md(args.out, quick=args.quick)
    print(f"wrote {path}")
    return path


# stems in the order they appear in results.md; lenet5_mnist.json is written by examples/cnn/lenet5_mnist.py
ORDER = ("lenet5_mnist", "tf_cnn_mnist", "cnn_regression", "cam_mnist", "transfer_fashion")


def _lenet_summary(d: dict) -> tuple[str, list, str]:
    cfg = d.get("config", {})
    rows = [["parameters", f"{d.get('parameters', 0):,}"],
            ["training / test images", f"{d.get('train_images', 0):,} / {d.get('test_images', 0):,}"],
            ["epochs, batch, SGD lr, momentum",
             f"{cfg.get('epochs')}, {cfg.get('batch')}, {cfg.get('lr')}, {cfg.get('momentum')}"],
            ["final test accuracy", pct(d["final_test_acc"])],
            ["best test accuracy", pct(d["best_test_acc"])],
            ["wall time", f"{d.get('wall_s', 0):.0f} s"]]
    cmd = "python examples/cnn/lenet5_mnist.py" + (" --quick" if cfg.get("quick") else "")
    return "LeNet-5 on MNIST (CNN-LENET5; target ≥ 98.9 %)", rows, cmd


def write_results_md(out: Path, quick: bool = False) -> Path:
    """Regenerate ``results.md`` (or ``results_quick.md``) from the JSON files in ``out``."""
    suffix = "_quick" if quick else ""
    found = {}
    for p in sorted(Path(out).glob("*.json")):
        stem = p.stem
        if quick != stem.endswith("_quick"):
            continue
        base = stem[:-6] if quick else stem
        if base not in ORDER:
            continue
        try:
            found[base] = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    lines = ["# CNN reproductions — results" + (" (--quick smoke runs)" if quick else ""), "",
             "Generated by `examples/cnn/*.py` from the JSON files in this folder (do not edit by hand).",
             "Times are wall-clock seconds on a shared, heavily loaded 2-core machine (one BLAS thread).", ""]
    for base in ORDER:
        if base not in found:
            continue
        d = found[base]
        if base == "lenet5_mnist":
            title, rows, cmd = _lenet_summary(d)
        else:
            title, rows, cmd = d.get("title", base), d.get("summary", []), d.get("command", "")
        lines += [f"## {title}", "", f"`{cmd}` → `{base}{suffix}.json`", "", "| quantity | value |", "|---|---|"]
        lines += [f"| {md_cell(k)} | {md_cell(v)} |" for k, v in rows]
        figs = sorted(q.name for q in Path(out).glob(f"{base}{suffix}*.png") if quick or "_quick" not in q.name)
        if figs:
            lines += ["", "Figures: " + ", ".join(f"[{f}]({f})" for f in figs)]
        lines.append("")
    path = Path(out) / f"results{suffix}.md"
    path.write_text("\n".join(lines))
    return path
