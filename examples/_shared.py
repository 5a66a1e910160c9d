"""Helpers shared by the example scripts: paths, the command line, JSON and figure outputs, small utilities.

Python puts only a script's own folder on ``sys.path``, so a script ``examples/<folder>/<name>.py`` (and any
module that imports this one) first puts ``examples/`` there:

    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

    from _shared import parse_args, save

which works from the repository root and from inside the folder.  Helpers used by one folder only live in
that folder under a name of its own (``cnn/cnn_common.py``, ``init_norm/init_norm_common.py``,
``reproduce/reproduce_common.py``), so the helper modules of several folders can be imported in one process.
Importing this module also puts the repository root on ``sys.path`` (``chainrule`` runs from a checkout
without being installed) and selects matplotlib's non-interactive Agg backend.

Scripts built on ``parse_args`` share the command line ``--quick`` (a fast smoke version) and ``--out DIR``
(default ``docs/<folder>``, or ``$CHAINRULE_<FOLDER>_OUT`` when set), and record in their JSON the canonical
command that produced it (``python examples/<folder>/<name>.py [--quick]``) and the run time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------------------------- command line
def default_out(script: str | Path) -> Path:
    """``$CHAINRULE_<FOLDER>_OUT`` if set, else ``docs/<folder>``, for a script in ``examples/<folder>/``."""
    folder = Path(script).resolve().parent.name
    env = os.environ.get(f"CHAINRULE_{folder.upper()}_OUT")
    return Path(env) if env else DOCS / folder


def script_command(script: str | Path, quick: bool = False) -> str:
    """``python examples/<folder>/<name>.py`` (`` --quick`` appended when ``quick``): the command recorded in
    the outputs, the same wherever the script was started from."""
    path = Path(script).resolve()
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    return f"python {rel}" + (" --quick" if quick else "")


def parse_args(description: str, argv: Sequence[str] | None = None, *, script: str | Path, seed: bool = False,
               quick_out: Path | None = None,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The common command line of a script (``script``: its ``__file__``).

    Options: ``--quick``; ``--out`` (default :func:`default_out`; with ``--quick`` and no ``--out``:
    ``quick_out`` when given); ``--seed`` (default 0) when ``seed``; then those that ``extra(parser)`` adds.
    The returned namespace also has ``t0`` (start time, ``time.perf_counter``), ``command``
    (:func:`script_command`) and ``suffix`` (``"_quick"`` with ``--quick``, else ``""``); ``out`` exists.
    """
    out = default_out(script)
    shown = out.relative_to(ROOT).as_posix() if out.is_relative_to(ROOT) else str(out)
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fast smoke version (small data, few steps)")
    p.add_argument("--out", type=Path, default=None,
                   help=f"folder for the PNG and JSON outputs (default {shown}"
                        + (f"; with --quick: {quick_out}" if quick_out is not None else "") + ")")
    if seed:
        p.add_argument("--seed", type=int, default=0)
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    if args.out is None:
        args.out = quick_out if args.quick and quick_out is not None else out
    args.out.mkdir(parents=True, exist_ok=True)
    args.t0 = time.perf_counter()
    args.command = script_command(script, args.quick)
    args.suffix = "_quick" if args.quick else ""
    return args


def run_options(args: argparse.Namespace) -> dict:
    """The options of a run as given (for its JSON): ``vars(args)`` without ``out`` and what :func:`parse_args`
    adds (``t0``, ``command``, ``suffix``)."""
    return {k: v for k, v in vars(args).items() if k not in ("out", "t0", "command", "suffix")}


# ------------------------------------------------------------------------------------------------------ JSON
def plain(v: Any, nonfinite_as_str: bool = False) -> Any:
    """JSON-ready copy: dict keys → str, tuples → lists, NumPy arrays/scalars → Python, paths → str.  Non-finite
    floats stay floats (JSON ``NaN``/``Infinity``), or become ``"nan"``/``"inf"``/``"-inf"`` with
    ``nonfinite_as_str``."""
    if isinstance(v, dict):
        return {str(k): plain(x, nonfinite_as_str) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x, nonfinite_as_str) for x in v]
    if isinstance(v, np.ndarray):
        return plain(v.tolist(), nonfinite_as_str)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return str(f) if nonfinite_as_str and not math.isfinite(f) else f
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, Path):
        return str(v)
    return v


def write_json(path: str | Path, obj: Any, *, indent: int = 2, nonfinite_as_str: bool = False) -> Any:
    """Write ``plain(obj)`` as UTF-8 JSON (non-ASCII characters kept); returns what was written."""
    out = plain(obj, nonfinite_as_str)
    Path(path).write_text(json.dumps(out, indent=indent, ensure_ascii=False), encoding="utf-8")
    return out


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_json(args: argparse.Namespace, name: str, numbers: dict, *, indent: int = 2, seconds_digits: int = 1,
              nonfinite_as_str: bool = False) -> dict:
    """Write ``<out>/<name>.json``: ``numbers`` plus ``_command`` (``args.command``) and ``_seconds`` (time since
    ``args.t0``, rounded to ``seconds_digits``); returns the JSON-ready dict."""
    numbers = dict(numbers)
    numbers["_command"] = args.command
    numbers["_seconds"] = round(time.perf_counter() - args.t0, seconds_digits)
    return write_json(args.out / f"{name}.json", numbers, indent=indent, nonfinite_as_str=nonfinite_as_str)


# --------------------------------------------------------------------------------------------------- figures
def save_fig(args: argparse.Namespace, name: str, fig) -> Path:
    """``<out>/<name>.png`` at 110 dpi (tight bounding box); the figure is closed."""
    import matplotlib.pyplot as plt
    path = args.out / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def save(args: argparse.Namespace, name: str, fig, numbers: dict, *, json_name: str | None = None,
         seconds_digits: int = 1) -> dict:
    """``fig`` → ``<out>/<name>.png`` (none when ``fig`` is None), then ``numbers`` → ``<out>/<json_name or
    name>.json`` (:func:`save_json`, indent 2); prints the scalar entries and returns the JSON-ready dict."""
    if fig is not None:
        save_fig(args, name, fig)
    out = save_json(args, json_name or name, numbers, seconds_digits=seconds_digits)
    print(json.dumps({k: v for k, v in out.items() if not isinstance(v, (list, dict))}, indent=1, ensure_ascii=False))
    return out


def log2_ticks(ax, values: Sequence, axis: str = "x") -> None:
    """Log-2 axis with the given values as plain tick labels."""
    from matplotlib.ticker import NullFormatter
    setter = ax.set_xscale if axis == "x" else ax.set_yscale
    setter("log", base=2)
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_minor_formatter(NullFormatter())
    (ax.set_xticks if axis == "x" else ax.set_yticks)(list(values), [str(v) for v in values])


def tile_images(images, side: int, rows: int, cols: int, pad: int = 1) -> np.ndarray:
    """The first ``rows · cols`` images (each ``side²`` values) in a row-major grid on a background of ones,
    ``pad`` pixels apart (for ``imshow``)."""
    out = np.ones((rows * (side + pad), cols * (side + pad)))
    for k, im in enumerate(images[:rows * cols]):
        r, c = divmod(k, cols)
        out[r * (side + pad):r * (side + pad) + side, c * (side + pad):c * (side + pad) + side] = im.reshape(side, side)
    return out


# ------------------------------------------------------------------------------------------------ formatting
def smooth(y, k: int = 20) -> np.ndarray:
    """Moving average over ``k`` consecutive values (``y`` itself when shorter than ``k``)."""
    y = np.asarray(y, dtype=float)
    if len(y) < k:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    return (c[k:] - c[:-k]) / k


def pct(x: float, digits: int = 2, unit: str = " %") -> str:
    """``x`` as a percentage: ``pct(0.98765) == "98.77 %"``; ``unit="%"`` for ``"98.77%"``."""
    return f"{100 * x:.{digits}f}{unit}"


def md_cell(x: Any) -> str:
    """A markdown table cell: ``None`` → empty, ``|`` escaped, line breaks → spaces."""
    return str(x if x is not None else "").replace("|", "\\|").replace("\n", " ")
