"""Shared helpers of the theory demos: command line, output folder, saving figures and numbers."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "theory"
sys.path.insert(0, str(ROOT))


def parse_args(description: str, argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="fast smoke version (fewer seeds/steps/points)")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("CHAINRULE_THEORY_OUT", DOCS)),
                   help="folder for the PNG and JSON outputs (default docs/theory)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.t0 = time.perf_counter()
    return args


def _plain(v):
    import numpy as np
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def save(args, name: str, fig, numbers: dict) -> dict:
    """Write ``<out>/<name>.png`` and ``<out>/<name>.json`` (numbers plus the command and run time)."""
    import matplotlib.pyplot as plt
    fig.savefig(args.out / f"{name}.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    numbers = dict(numbers)
    numbers["_command"] = f"python examples/theory/{name}.py" + (" --quick" if args.quick else "")
    numbers["_seconds"] = round(time.perf_counter() - args.t0, 2)
    plain = _plain(numbers)
    with open(args.out / f"{name}.json", "w") as f:
        json.dump(plain, f, indent=2, ensure_ascii=False)
    print(json.dumps({k: v for k, v in plain.items() if not isinstance(v, (list, dict))}, indent=1,
                     ensure_ascii=False))
    return numbers


def log2_ticks(ax, values, axis: str = "x") -> None:
    """Log-2 axis with the given values as plain tick labels."""
    from matplotlib.ticker import NullFormatter
    setter = ax.set_xscale if axis == "x" else ax.set_yscale
    setter("log", base=2)
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_minor_formatter(NullFormatter())
    (ax.set_xticks if axis == "x" else ax.set_yticks)(list(values), [str(v) for v in values])
