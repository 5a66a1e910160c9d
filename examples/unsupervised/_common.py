"""Shared helpers of the sequence examples: command line, output folder, saving figures and numbers."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def parse_args(description: str, default_out: str, argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fast smoke version (small data, few steps)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / default_out,
                   help=f"folder for the PNG and JSON outputs (default docs/{default_out})")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.t0 = time.perf_counter()
    return args


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


def save(args, name: str, script: str, fig, numbers: dict) -> dict:
    """Write ``<out>/<name>.png`` and ``<out>/<name>.json`` (numbers plus the command and run time)."""
    import matplotlib.pyplot as plt
    if fig is not None:
        fig.savefig(args.out / f"{name}.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
    numbers = dict(numbers)
    numbers["_command"] = f"python {script}" + (" --quick" if args.quick else "")
    numbers["_seconds"] = round(time.perf_counter() - args.t0, 1)
    out = plain(numbers)
    with open(args.out / f"{name}.json", "w") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
    print(json.dumps({k: v for k, v in out.items() if not isinstance(v, (list, dict))}, indent=1, ensure_ascii=False))
    return out


def smooth(y, k: int = 20) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if len(y) < k:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    return (c[k:] - c[:-k]) / k
