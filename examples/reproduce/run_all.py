"""Reproduce every reference result of the spec and write docs/results.md.

    python examples/reproduce/run_all.py                 # everything (resumes from the cache)
    python examples/reproduce/run_all.py --quick         # smoke version into out/reproduce/quick/
    python examples/reproduce/run_all.py --only nielsen  # one script (or task ids / patterns: 'nielsen-*')
    python examples/reproduce/run_all.py --force         # recompute instead of reusing the cache
    python examples/reproduce/run_all.py --list          # list the tasks and whether they are cached

Finished tasks are cached in out/reproduce/cache/<task-id>.json, keyed by a hash of their settings, so an
interrupted run resumes where it stopped and a second run only redraws the report.  Rows of tasks that
were not selected with ``--only`` are taken from the cache when present.  Results go to
docs/results/results.json, figures to docs/results/*.png, and make_report.py turns them into
docs/results.md.  ``--jobs 2`` (the default) runs two tasks at a time with one BLAS thread each.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # examples/: _shared.py


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--quick", action="store_true", help="fast smoke version (small data, few epochs)")
    p.add_argument("--force", action="store_true", help="recompute the selected tasks even when cached")
    p.add_argument("--only", nargs="+", default=None, metavar="ID",
                   help="script names, task ids or glob patterns to run (others come from the cache)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="cache folder (default out/reproduce/cache; --quick: out/reproduce/quick/cache)")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="folder for results.json and figures (default docs/results; --quick: "
                        "out/reproduce/quick/results)")
    p.add_argument("--report", type=Path, default=None,
                   help="markdown report to write (default docs/results.md; --quick: out/reproduce/quick/results.md)")
    p.add_argument("--jobs", type=int, default=2, help="tasks run at the same time (default 2)")
    p.add_argument("--no-report", action="store_true", help="do not run make_report.py at the end")
    p.add_argument("--list", action="store_true", help="list the tasks and their cache state, run nothing")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be >= 1, got {args.jobs}")
    return args


def _defaults(args) -> None:
    from _shared import DOCS
    from reproduce_common import FULL_CACHE, QUICK_DIR
    if args.cache_dir is None:
        args.cache_dir = QUICK_DIR / "cache" if args.quick else FULL_CACHE
    if args.out_dir is None:
        args.out_dir = QUICK_DIR / "results" if args.quick else DOCS / "results"
    if args.report is None:
        args.report = (QUICK_DIR / "results.md") if args.quick else DOCS / "results.md"


def machine_info() -> dict:
    """Cores, CPU model, NumPy and its BLAS, Python, date and load (for the report header)."""
    import platform

    import numpy as np
    info = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "python": platform.python_version(),
            "platform": platform.platform(), "numpy": np.__version__, "cpu_count": os.cpu_count()}
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        info["usable_cores"] = os.cpu_count()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["blas"] = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - informational only
        info["blas"] = "unknown"
    try:
        info["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


def _selected(task_id: str, module: str, patterns) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatch(task_id, p) or fnmatch.fnmatch(module, p) or task_id.startswith(p + "-")
               for p in patterns)


def _worker(task, cache_dir: str, quick: bool, force: bool):
    """Run one task in a worker process; returns (id, result or None, error text or None)."""
    from reproduce_common import run_task
    try:
        return task.id, run_task(task, Path(cache_dir), quick, force, progress=False), None
    except Exception:  # noqa: BLE001 - reported, the other tasks go on
        return task.id, None, traceback.format_exc()[-4000:]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.jobs > 1:  # one BLAS thread per worker: two workers fill the two cores
        for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(v, "1")
    _defaults(args)
    import importlib
    import json

    from _shared import write_json
    from reproduce_common import MODULES, SECTIONS, load_cached, run_task
    from tqdm import tqdm

    t_start = time.perf_counter()
    info = machine_info()
    mods = {name: importlib.import_module(name) for name in MODULES if (HERE / f"{name}.py").is_file()}
    if args.only:
        unknown = [p for p in args.only if not any(
            _selected(t.id, m, [p]) for m, mod in mods.items() for t in mod.tasks(args.quick))]
        if unknown:
            ids = sorted(t.id for mod in mods.values() for t in mod.tasks(args.quick))
            print(f"--only {' '.join(unknown)}: no such script or task. Scripts: {', '.join(MODULES)}; "
                  f"tasks: {', '.join(ids)}", file=sys.stderr)
            return 2
    all_tasks = [(m, t) for m, mod in mods.items() for t in mod.tasks(args.quick)]
    ids = [t.id for _, t in all_tasks]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise RuntimeError(f"duplicate task ids: {sorted(dup)}")

    if args.list:
        for m, t in all_tasks:
            hit = load_cached(t, args.cache_dir)
            state = f"cached ({hit['_seconds']:.1f} s)" if hit else "to run"
            print(f"{m:15s} {t.id:34s} est {t.est_s:7.0f} s  {state}")
        return 0

    results: dict[str, dict] = {}
    errors: dict[str, str] = {}
    todo = []
    for m, t in all_tasks:
        hit = None if (args.force and _selected(t.id, m, args.only)) else load_cached(t, args.cache_dir)
        if hit is not None:
            results[t.id] = hit
        elif _selected(t.id, m, args.only):
            todo.append(t)
    todo.sort(key=lambda t: -t.est_s)  # longest first: better packing on two workers
    n_cached = sum(1 for m, t in all_tasks if t.id in results)
    print(f"{len(all_tasks)} tasks: {n_cached} cached, {len(todo)} to run "
          f"(estimated {sum(t.est_s for t in todo) / 60:.0f} min of CPU; --jobs {args.jobs}); cache {args.cache_dir}",
          flush=True)

    bar = tqdm(total=len(todo), desc="reproduce", unit="task", disable=args.no_progress or not todo)
    if args.jobs == 1 or len(todo) <= 1:
        for t in todo:
            bar.set_postfix_str(t.id)
            try:
                results[t.id] = run_task(t, args.cache_dir, args.quick, force=args.force,
                                         progress=not args.no_progress)
                tqdm.write(f"  done {t.id} ({results[t.id]['_seconds']:.1f} s)")
            except Exception:  # noqa: BLE001
                errors[t.id] = traceback.format_exc()[-4000:]
                tqdm.write(f"  FAILED {t.id}:\n{errors[t.id]}")
            bar.update(1)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as ex:
            futs = {ex.submit(_worker, t, str(args.cache_dir), args.quick, args.force): t for t in todo}
            for f in as_completed(futs):
                tid, res, err = f.result()
                if err is None:
                    results[tid] = res
                    tqdm.write(f"  done {tid} ({res['_seconds']:.1f} s)")
                else:
                    errors[tid] = err
                    tqdm.write(f"  FAILED {tid}:\n{err}")
                bar.update(1)
    bar.close()

    rows = []
    for name, mod in mods.items():
        try:
            for r in mod.rows(results, args.quick):
                r["section"] = name
                r["seconds"] = sum(float(results[t].get("_seconds", 0.0)) for t in r["tasks"] if t in results)
                rows.append(r)
        except Exception:  # noqa: BLE001 - a broken rows() must not lose the other sections
            errors[f"rows:{name}"] = traceback.format_exc()[-4000:]
            print(f"rows() of {name} failed:\n{errors[f'rows:{name}']}", file=sys.stderr)
    try:
        info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    wall = time.perf_counter() - t_start
    task_info = {t.id: {"module": m, "est_s": t.est_s,
                        "seconds": results[t.id]["_seconds"] if t.id in results else None,
                        "cached": results[t.id]["_cached"] if t.id in results else None,
                        "error": errors.get(t.id)} for m, t in all_tasks}
    doc = {"generated": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick, "machine": info,
           "command": "python examples/reproduce/run_all.py" + (" --quick" if args.quick else ""),
           "invocation_wall_s": wall, "jobs": args.jobs,
           "compute_s": sum(v["seconds"] or 0.0 for v in task_info.values()),
           "sections": SECTIONS, "tasks": task_info, "rows": rows, "errors": errors}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    prev = args.out_dir / "results.json"
    if prev.is_file():  # keep the wall time of the last complete fresh run (the budget measurement)
        try:
            old = json.loads(prev.read_text())
            if "fresh_run" in old:
                doc["fresh_run"] = old["fresh_run"]
        except (OSError, ValueError):
            pass
    if not args.only and n_cached == 0 and not errors:
        doc["fresh_run"] = {"wall_s": wall, "date": info["date"], "jobs": args.jobs,
                            "loadavg_start": info.get("loadavg_start"), "loadavg_end": info.get("loadavg_end")}
    write_json(args.out_dir / "results.json", doc, indent=1)

    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("ok", "fail", "na", "missing")}
    print(f"{len(rows)} rows: {counts['ok']} ✓, {counts['fail']} ✗, {counts['na']} n.a., {counts['missing']} missing; "
          f"wall {wall / 60:.1f} min; wrote {args.out_dir / 'results.json'}")
    for r in rows:
        if r["status"] in ("fail", "missing"):
            print(f"  {r['status']:7s} {r['id']}: {r['what']} — reported {r['reported']}, got {r['reproduced']}")
    if not args.no_report:
        import make_report
        make_report.main(["--results", str(args.out_dir / "results.json"), "--cache-dir", str(args.cache_dir),
                          "--out", str(args.report), "--fig-dir", str(args.out_dir)])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
