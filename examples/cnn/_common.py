"""Shared helpers of the CNN examples: command line, MNIST/Fashion-MNIST arrays, a training epoch with a
progress bar, evaluation, and the JSON + ``docs/cnn/results.md`` outputs.

Every example writes ``<out>/<stem>.json`` (``<stem>_quick.json`` with ``--quick``) holding its numbers, a
``summary`` list of (quantity, value) rows and the command that produced it; ``write_results_md`` then
regenerates ``<out>/results.md`` (``results_quick.md``) from all the JSON files in the folder, so the
markdown is never edited by hand.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import chainrule as cr  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402

OUT = ROOT / "docs" / "cnn"
FASHION_CLASSES = ("T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")


def parse_args(description: str, argv=None, extra=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fast smoke version (small data, one short epoch)")
    p.add_argument("--out", type=Path, default=OUT, help="folder for PNG/JSON/markdown outputs (default docs/cnn)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX .gz files (default: library search)")
    p.add_argument("--fashion-dir", default=None, help="folder with the Fashion-MNIST IDX .gz files")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.t0 = time.perf_counter()
    args.suffix = "_quick" if args.quick else ""
    return args


# ----------------------------------------------------------------------------------------------- data
def _read_idx_gz(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_images(name: str = "mnist", data_dir: str | None = None) -> tuple[np.ndarray, ...]:
    """(X_train, y_train, X_test, y_test): images (N, 1, 28, 28) float32 in [0, 1], labels int64, from the
    genuine IDX files (``chainrule.data``; a plain NumPy IDX reader if that module is missing)."""
    try:
        from chainrule.data import load_fashion_mnist, load_mnist
        fn = load_mnist if name == "mnist" else load_fashion_mnist
        try:
            Xtr, ytr = fn(data_dir, "train")
            Xte, yte = fn(data_dir, "test")
            return Xtr, ytr, Xte, yte
        except (FileNotFoundError, OSError) as e:
            raise SystemExit(f"{name} IDX files not found ({e}); pass --data-dir/--fashion-dir DIR (the folder "
                             "with train-images-idx3-ubyte.gz etc.) or set CHAINRULE_MNIST_DIR / "
                             "CHAINRULE_FASHION_MNIST_DIR") from e
    except ImportError:
        d = Path(data_dir) if data_dir else ROOT.parent / "shared" / "data" / name
        out = []
        for split in ("train", "t10k"):
            X = _read_idx_gz(d / f"{split}-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255.0
            y = _read_idx_gz(d / f"{split}-labels-idx1-ubyte.gz").astype(np.int64)
            out += [X, y]
        return tuple(out)


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
def plain(v):
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return plain(v.tolist())
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def save_json(args, stem: str, script: str, numbers: dict, summary: list, title: str) -> Path:
    """Write ``<out>/<stem>[_quick].json`` (numbers, summary rows, command, seconds) and regenerate the
    results markdown of the folder."""
    numbers = dict(numbers)
    cmd = f"python examples/cnn/{script}" + (" --quick" if args.quick else "")
    numbers.update(title=title, summary=summary, command=cmd, seconds=round(time.perf_counter() - args.t0, 1),
                   threads=os.environ.get("OMP_NUM_THREADS", "default"))
    path = args.out / f"{stem}{args.suffix}.json"
    path.write_text(json.dumps(plain(numbers), indent=1, ensure_ascii=False))
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
            ["final test accuracy", f"{100 * d['final_test_acc']:.2f} %"],
            ["best test accuracy", f"{100 * d['best_test_acc']:.2f} %"],
            ["wall time", f"{d.get('wall_s', 0):.0f} s"]]
    cmd = "python examples/cnn/lenet5_mnist.py" + (" --quick" if cfg.get("quick") else "")
    return "LeNet-5 on MNIST (CNN-LENET5; target ≥ 98.9 %)", rows, cmd


def _cell(x) -> str:
    """A markdown table cell: '|' escaped."""
    return str(x).replace("|", "\\|")


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
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]
        figs = sorted(q.name for q in Path(out).glob(f"{base}{suffix}*.png") if quick or "_quick" not in q.name)
        if figs:
            lines += ["", "Figures: " + ", ".join(f"[{f}]({f})" for f in figs)]
        lines.append("")
    path = Path(out) / f"results{suffix}.md"
    path.write_text("\n".join(lines))
    return path


def pct(x: float) -> str:
    return f"{100 * x:.2f} %"
