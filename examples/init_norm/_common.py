"""Shared helpers of the initialisation/normalisation examples: command line, output folder, saving."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "init_norm"
sys.path.insert(0, str(ROOT))


def parse_args(description: str, argv=None, extra=None) -> argparse.Namespace:
    """``--quick`` (fast smoke version, written to a temporary folder unless ``--out`` is given) and
    ``--out`` (default docs/init_norm)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="fast smoke version (small nets, few steps)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for PNG/JSON outputs (default docs/init_norm; --quick: a temporary folder)")
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    if args.out is None:
        args.out = Path(tempfile.gettempdir()) / "chainrule_init_norm_quick" if args.quick else DOCS
    args.out.mkdir(parents=True, exist_ok=True)
    args.t0 = time.perf_counter()
    return args


def plain(v):
    """JSON-ready copy (NumPy scalars/arrays → Python; non-finite floats → strings)."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return plain(v.tolist())
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if np.isfinite(f) else str(f)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def save_fig(args, name: str, fig) -> Path:
    import matplotlib.pyplot as plt
    path = args.out / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def save_json(args, name: str, numbers: dict, script: str) -> Path:
    numbers = dict(numbers)
    numbers["_command"] = f"python examples/init_norm/{script}" + (" --quick" if args.quick else "")
    numbers["_seconds"] = round(time.perf_counter() - args.t0, 1)
    path = args.out / f"{name}.json"
    with open(path, "w") as f:
        json.dump(plain(numbers), f, indent=1, ensure_ascii=False)
    return path


def mnist_arrays(quick: bool, n_train: int | None = None):
    """(X_train, y_train, X_test, y_test, name): MNIST from /work/shared/data (or $CHAINRULE_MNIST_DIR) as
    float32 (N, 784) in [0, 1]; falls back to the embedded 8×8 digits if the IDX files are absent."""
    import chainrule as cr
    try:
        Xtr, ytr = cr.data.load_mnist(split="train", flatten=True)
        Xte, yte = cr.data.load_mnist(split="test", flatten=True)
        name = "MNIST"
    except Exception as e:  # noqa: BLE001 - any missing/corrupt file: use the embedded set
        print(f"MNIST not available ({e}); using the embedded 8x8 digits instead")
        Xtr, ytr = cr.data.load_digits("train", as_images=False)
        Xte, yte = cr.data.load_digits("test", as_images=False)
        name = "digits8x8"
    if n_train is not None:
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]
    if quick:
        Xtr, ytr, Xte, yte = Xtr[:3000], ytr[:3000], Xte[:1000], yte[:1000]
    return Xtr, np.asarray(ytr, dtype=np.int64), Xte, np.asarray(yte, dtype=np.int64), name
