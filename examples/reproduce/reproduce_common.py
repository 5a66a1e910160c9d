"""Shared machinery of the reproduction scripts: tasks, the resumable cache, rows, data, subprocesses.

A *task* is one unit of computation (a training run, a set of computed constants, a call of another
developer's example script).  Its result is a JSON-able dict stored in ``<cache>/<task-id>.json`` together
with the hash of its settings; a later run with the same settings reuses it (``--force`` recomputes).
A *row* is one line of docs/results.md: a number the spec reports next to the number reproduced here,
with a status ✓ (within the stated tolerance), ✗ (outside it) or n.a. (nothing to compare: a literature
value, a definition or a figure-only claim).  Each script ``examples/reproduce/<name>.py`` defines
``tasks(quick) -> list[Task]`` and ``rows(results, quick) -> list[dict]`` (and optionally
``figures(results, fig_dir, cache_dir, quick) -> list[dict]``); ``run_all.py`` runs them and
``make_report.py`` writes the report.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

from _shared import ROOT, plain

HERE = Path(__file__).resolve().parent
FULL_CACHE = ROOT / "out" / "reproduce" / "cache"
QUICK_DIR = ROOT / "out" / "reproduce" / "quick"
PYTHON = sys.executable

# Every script, in report order.
MODULES = ["nielsen", "cnn", "counts", "activations", "optimization", "regularization", "init_norm", "theory",
           "literature"]

SECTIONS = {
    "nielsen": "MNIST recipes: sigmoid MLPs (spec 03 rows 1–3, RECIPE-NIELSEN-MNIST)",
    "cnn": "Convolutional networks on MNIST (LeNet-5, the TF CNN, CAM, transfer, regression)",
    "counts": "Derived counts: parameters, feature-map and receptive-field sizes, arithmetic",
    "activations": "Activations, SELU, initialization constants",
    "optimization": "Optimization (spec 02 ch. 7, Table O)",
    "regularization": "Regularization (spec 02 ch. 8; spec 03 rows 19–20)",
    "init_norm": "Initialization and normalization experiments (spec 02 ch. 9–10)",
    "theory": "Theory results (spec 03 rows 9–18, spec 01 XOR)",
    "literature": "Literature values, data-set facts and definitions",
}


# ----------------------------------------------------------------------------------------------- tasks
@dataclass
class Task:
    """One cached computation.  ``fn(settings, ctx) -> dict`` (JSON-able); ``est_s`` is a rough cost in
    seconds on 2 idle cores (used to order the work and weight the progress bar)."""

    id: str
    fn: Callable[[dict, Context], dict]
    settings: dict = field(default_factory=dict)
    est_s: float = 1.0
    version: int = 1

    def key(self) -> str:
        """Hash of what determines the result: the task id, its settings and its version."""
        blob = json.dumps({"id": self.id, "settings": self.settings, "version": self.version}, sort_keys=True,
                          default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Context:
    """What a task function may use besides its settings."""

    task_id: str
    cache_dir: Path
    quick: bool
    progress: bool = True

    def artifact(self, suffix: str) -> Path:
        """Path of a side file of this task (e.g. ``.npz`` with weights), kept next to its JSON."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return self.cache_dir / f"{self.task_id}.{suffix}"

    def workdir(self) -> Path:
        """A folder for the outputs of a subprocess (another example script) of this task."""
        d = self.cache_dir / f"{self.task_id}.out"
        d.mkdir(parents=True, exist_ok=True)
        return d


def cache_path(cache_dir: Path, task_id: str) -> Path:
    return Path(cache_dir) / f"{task_id}.json"


def load_cached(task: Task, cache_dir: Path) -> dict | None:
    """The cached result of ``task`` if one with the same settings hash exists, else None."""
    p = cache_path(cache_dir, task.id)
    if not p.is_file():
        return None
    try:
        rec = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if rec.get("key") != task.key():
        return None
    res = rec.get("result")
    if not isinstance(res, dict):
        return None
    res = dict(res)
    res["_seconds"] = float(rec.get("seconds", 0.0))
    res["_cached"] = True
    return res


def save_cached(task: Task, cache_dir: Path, result: dict, seconds: float) -> Path:
    """Write the result atomically (a crash never leaves a half-written cache entry)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    rec = {"id": task.id, "key": task.key(), "settings": task.settings, "version": task.version,
           "seconds": round(float(seconds), 3), "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
           "result": plain(result)}
    p = cache_path(cache_dir, task.id)
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rec, indent=1, ensure_ascii=False, allow_nan=True))
    os.replace(tmp, p)
    return p


def run_task(task: Task, cache_dir: Path, quick: bool, force: bool = False, progress: bool = True) -> dict:
    """The task's result: from the cache when its settings hash matches (unless ``force``), else computed
    (timed) and cached.  ``_seconds`` is the compute time of the run that produced the result."""
    if not force:
        hit = load_cached(task, cache_dir)
        if hit is not None:
            return hit
    ctx = Context(task.id, Path(cache_dir), quick, progress)
    t0 = time.perf_counter()
    result = task.fn(dict(task.settings), ctx)
    seconds = time.perf_counter() - t0
    if not isinstance(result, dict):
        raise TypeError(f"task {task.id!r} returned {type(result).__name__}; a task must return a dict")
    save_cached(task, cache_dir, result, seconds)
    out = plain(result)
    out["_seconds"] = seconds
    out["_cached"] = False
    return out


# ------------------------------------------------------------------------------------------------ rows
def row(id: str, what: str, reported: str, reproduced: str, ok: bool | None, *, source: str, spec: Sequence[str] = (),
        tasks: Sequence[str] = (), note: str = "", tolerance: str = "", value: Any = None,
        reported_value: Any = None) -> dict:
    """One line of the report.  ``ok``: True ✓ (within ``tolerance``), False ✗, None n.a."""
    return {"id": id, "what": what, "source": source, "spec": list(spec), "reported": reported,
            "reproduced": reproduced, "status": {True: "ok", False: "fail", None: "na"}[ok if ok is None else bool(ok)],
            "tolerance": tolerance, "note": note, "tasks": list(tasks), "value": plain(value),
            "reported_value": plain(reported_value)}


def missing_row(id: str, what: str, *, source: str, spec: Sequence[str] = (), tasks: Sequence[str] = (),
                reported: str = "", why: str = "not run yet") -> dict:
    """A row whose computation has no result (not run, or the script it needs is missing)."""
    r = row(id, what, reported, "—", None, source=source, spec=spec, tasks=tasks, note=why)
    r["status"] = "missing"
    return r


def decimals_of(reported: str) -> int:
    """Number of decimals written in a reported number such as '0.7737' or '94.84'."""
    s = reported.strip().split()[0].rstrip("%")
    return len(s.split(".")[1]) if "." in s else 0


def matches_rounded(value: float, reported: str, slack: float = 1.0) -> bool:
    """True when ``value`` rounds to the reported decimal string (|value − reported| ≤ slack · ½ ulp)."""
    s = reported.strip().split()[0].rstrip("%").replace(",", "").replace("−", "-")
    d = decimals_of(s)
    return abs(float(value) - float(s)) <= slack * 0.5 * 10.0 ** (-d) + 1e-15


def fmt(x: float, digits: int = 4) -> str:
    """A number for the table: integers with thousands separators, floats with ``digits`` significant."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return f"{int(x):,}"
    if x == 0 or not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


# ------------------------------------------------------------------------------------------------ data
def load_mnist_flat(split: str):
    """MNIST as float32 (N, 784) pixel/255 and int64 labels, via ``chainrule.data.load_mnist`` (which
    finds ../shared/data/mnist or $CHAINRULE_MNIST_DIR).  Raises FileNotFoundError when absent."""
    import chainrule as cr
    X, y = cr.data.load_mnist(split=split, flatten=True)
    return X, y


# ------------------------------------------------------------------------------------------ subprocess
def run_script(script: str | Path, args: Sequence[str] = (), timeout: float | None = None,
               env: dict | None = None) -> dict:
    """Run another example script (path relative to the repository root) as ``python script args``;
    returns {'returncode', 'seconds', 'tail'} (last 3,000 characters of its output).  Raises RuntimeError
    with the tail when it fails, so the task fails visibly and is not cached."""
    path = ROOT / script
    if not path.is_file():
        raise FileNotFoundError(f"{script} does not exist (yet)")
    e = dict(os.environ)
    e.setdefault("MPLBACKEND", "Agg")
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    if env:
        e.update(env)
    t0 = time.perf_counter()
    p = subprocess.run([PYTHON, str(path), *map(str, args)], cwd=str(ROOT), env=e, capture_output=True, text=True,
                       timeout=timeout)
    out = (p.stdout or "") + (p.stderr or "")
    res = {"returncode": p.returncode, "seconds": time.perf_counter() - t0, "tail": out[-3000:]}
    if p.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(map(str, args))} failed (exit {p.returncode}):\n{out[-3000:]}")
    return res


def import_example(script: str):
    """Import another developer's example script (path relative to the repository root) as the module
    ``example_<folder>_<name>``; its folder goes to the end of ``sys.path`` so that its own helper module
    (e.g. ``init_norm_common``) is found without shadowing the modules of this folder."""
    import importlib.util
    path = ROOT / script
    if not path.is_file():
        raise FileNotFoundError(f"{script} does not exist (yet)")
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(f"example_{path.parent.name}_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ----------------------------------------------------------------------------------------- standalone
def standalone(module_name: str) -> None:
    """``python examples/reproduce/<module>.py [--quick] [--force]``: run one script's tasks through
    run_all (cache, report rows) and print its rows."""
    sys.path.insert(0, str(HERE))
    import run_all
    argv = sys.argv[1:]
    run_all.main(["--only", module_name, *argv])
