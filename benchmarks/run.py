#!/usr/bin/env python
"""Throughput benchmark: chainrule against PyTorch, interleaved in one process.

Discovers ``benchmarks/workloads/*.py`` (each defines NAME, DESCRIPTION, TARGET and
``make(lib, seed) -> (step, samples_per_step)``, see docs/DEVELOPING.md), and for each workload:

1. builds both steps (same initial weights, same batch order);
2. warms each up (``--warmup`` seconds), then runs ``--repeat`` rounds; in every round each library
   trains for ``--seconds`` seconds (the order alternates between rounds);
3. reports the samples/s of each (``--stat best``: the fastest round, the default, as ``timeit`` takes the
   minimum time — on a shared machine it is the estimate least distorted by other processes;
   ``--stat median``: the typical round; both are always in the JSON), the ratio chainrule/torch
   against the workload's TARGET, and
   the peak memory of one step: chainrule via tracemalloc (NumPy reports its buffers to it), torch via
   the profiler's memory timeline (high-water mark of CPU tensors created during the step);
4. prints a table and, with ``--json``, writes all numbers (and the machine set-up) to a file.

Threads: torch's intra-op thread count is set to NumPy's BLAS thread count (threadpoolctl), so both use
the same number of cores; ``--torch-threads N`` overrides it (the value used is reported).

    python benchmarks/run.py                       # all workloads
    python benchmarks/run.py --only W1,W2 --repeat 5 --seconds 2 --json out.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def discover(folder: Path = HERE / "workloads") -> list:
    """Workload modules in ``folder`` (files not starting with '_'), sorted by NAME."""
    mods = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"chainrule_bench_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        missing = [a for a in ("NAME", "DESCRIPTION", "TARGET", "make") if not hasattr(mod, a)]
        if missing:
            print(f"warning: {path.name} lacks {missing}; skipped", file=sys.stderr)
            continue
        mods.append(mod)

    def key(m):
        name = str(m.NAME)
        return (name[0], int(name[1:])) if name[1:].isdigit() else (name, 0)

    return sorted(mods, key=key)


def _mb(b: int | None) -> str:
    return "n/a" if b is None else f"{b / 2**20:.2f}"


def run_workload(mod, seconds: float, repeat: int, warmup: float, seed: int, memory: bool,
                 stat: str = "best", clock: str = "wall") -> dict:
    from chainrule.utils.benchmark import peak_memory_chainrule, peak_memory_torch, time_interleaved
    t0 = time.perf_counter()
    cr_step, cr_n = mod.make("chainrule", seed)
    th_step, th_n = mod.make("torch", seed)
    res = time_interleaved({"chainrule": (cr_step, cr_n), "torch": (th_step, th_n)}, seconds=seconds,
                           repeat=repeat, warmup=warmup, clock=clock)
    out = {
        "name": mod.NAME, "description": mod.DESCRIPTION, "target": float(mod.TARGET),
        "data": getattr(mod, "SOURCE", None),
        "chainrule": res["chainrule"], "torch": res["torch"],
        "ratio_median": res["chainrule"]["samples_per_s"] / res["torch"]["samples_per_s"],
        "ratio_best": res["chainrule"]["best_samples_per_s"] / res["torch"]["best_samples_per_s"],
        "stat": stat,
    }
    out["ratio"] = out["ratio_best"] if stat == "best" else out["ratio_median"]
    out["meets_target"] = out["ratio"] >= out["target"]
    if memory:
        out["chainrule"]["peak_mem_bytes"] = peak_memory_chainrule(cr_step)
        out["torch"]["peak_mem_bytes"] = peak_memory_torch(th_step)
    out["wall_s"] = time.perf_counter() - t0
    return out


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine_info(torch_threads: int) -> dict:
    import numpy as np

    import chainrule
    info = {"python": platform.python_version(), "platform": platform.platform(), "numpy": np.__version__,
            "chainrule": chainrule.__version__, "cpu_count": os.cpu_count(), "torch_threads": torch_threads}
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: d.get(k) for k in ("internal_api", "num_threads", "version", "architecture")}
                        for d in threadpool_info() if d.get("user_api") == "blas"]
    except ImportError:
        info["blas"] = None
    return info


def print_table(rows: list[dict]) -> None:
    head = (f"{'id':<4} {'chainrule samples/s':>20} {'torch samples/s':>16} {'ratio':>7} {'target':>7} {'ok':>4} "
            f"{'cr ms/step':>10} {'th ms/step':>10} {'cr peak MB':>10} {'th peak MB':>10}  description")
    stat = rows[0]["stat"] if rows else "best"
    print(f"({stat} of the rounds; ratio = chainrule/torch samples per second)")
    print(head)
    print("-" * len(head))
    for r in rows:
        c, t = r["chainrule"], r["torch"]
        sps, ms = ("best_samples_per_s", "best_step_ms") if r["stat"] == "best" else ("samples_per_s", "step_ms")
        print(f"{r['name']:<4} {c[sps]:>20,.0f} {t[sps]:>16,.0f} {r['ratio']:>7.2f} "
              f"{r['target']:>7.2f} {'yes' if r['meets_target'] else 'NO':>4} {c[ms]:>10.3f} "
              f"{t[ms]:>10.3f} {_mb(c.get('peak_mem_bytes')):>10} {_mb(t.get('peak_mem_bytes')):>10}  "
              f"{r['description']}" + (f" [data: {r['data']}]" if r.get("data") and r["data"] != "MNIST" else ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, help="comma-separated workload ids, e.g. W1,W2")
    ap.add_argument("--repeat", type=int, default=5, help="timed rounds per library (default 5)")
    ap.add_argument("--seconds", type=float, default=1.0, help="seconds per library per round (default 1.0)")
    ap.add_argument("--warmup", type=float, default=None, help="warm-up seconds per library (default: = --seconds, "
                    "at most 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch.set_num_threads value (default: NumPy's BLAS thread count)")
    ap.add_argument("--threads", type=int, default=None,
                    help="set BOTH NumPy's BLAS (threadpoolctl) and torch to this many threads")
    ap.add_argument("--clock", choices=("wall", "process"), default="wall",
                    help="wall time (default) or CPU time of the process (all threads; with --threads 1 it is "
                         "insensitive to other processes on a shared machine)")
    ap.add_argument("--stat", choices=("best", "median"), default="best",
                    help="which round gives the headline numbers (default best; both are in the JSON)")
    ap.add_argument("--no-memory", action="store_true", help="skip the per-step peak-memory measurement")
    ap.add_argument("--json", default=None, help="write the results to this JSON file")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = ap.parse_args(argv)

    mods = discover()
    if args.list:
        for m in mods:
            print(f"{m.NAME:<4} target {m.TARGET:>4}  {m.DESCRIPTION}")
        return 0
    if args.only:
        want = [w.strip().upper() for w in args.only.split(",") if w.strip()]
        known = {str(m.NAME).upper() for m in mods}
        unknown = [w for w in want if w not in known]
        if unknown:
            print(f"error: unknown workload(s) {unknown}; available: {sorted(known)}", file=sys.stderr)
            return 2
        mods = [m for m in mods if str(m.NAME).upper() in want]
    try:
        import torch
    except ImportError:
        print("error: the benchmark compares against PyTorch, which is not installed (pip install torch)",
              file=sys.stderr)
        return 2
    from chainrule.utils.benchmark import blas_threads, limit_threads
    if args.threads:
        if not limit_threads(args.threads):
            print("error: --threads needs threadpoolctl to set NumPy's BLAS threads", file=sys.stderr)
            return 2
    nthreads = args.threads or args.torch_threads or blas_threads()
    torch.set_num_threads(nthreads)
    warmup = args.warmup if args.warmup is not None else min(args.seconds, 1.0)
    print(f"torch.set_num_threads({nthreads}) (NumPy BLAS threads: {blas_threads()}); {args.repeat} rounds x "
          f"{args.seconds:g} s per library, warm-up {warmup:g} s, {args.clock} clock")
    rows = []
    for m in mods:
        print(f"running {m.NAME}: {m.DESCRIPTION} ...", flush=True)
        rows.append(run_workload(m, args.seconds, args.repeat, warmup, args.seed, not args.no_memory, args.stat,
                                 args.clock))
    print()
    print_table(rows)
    if args.json:
        payload = {"machine": machine_info(nthreads) | {"blas_threads_used": blas_threads(),
                                                        "load_average": _loadavg()},
                   "settings": vars(args) | {"warmup": warmup},
                   "memory_method": {"chainrule": "tracemalloc high-water mark during one step",
                                     "torch": "torch.profiler memory timeline: high-water mark of CPU tensors "
                                              "created during one step"},
                   "results": rows}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
