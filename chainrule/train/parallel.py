"""Independent tasks in parallel: cross-validation folds and hyperparameter sweeps on joblib or Dask.

``run_tasks(fn, tasks, backend='sequential'|'joblib'|'dask', n_jobs=None, client=None)`` returns
``[fn(*t) for t in tasks]`` in task order, computed

* ``'sequential'`` — in this process, one after another;
* ``'joblib'`` — in ``n_jobs`` local worker processes (joblib's loky; ``None``/``-1``: one per core);
* ``'dask'`` — on a Dask cluster: ``client`` (a ``dask.distributed.Client``), else the current default
  client (``with Client(cluster): ...``), else a temporary ``LocalCluster`` of ``n_jobs`` single-threaded
  worker processes that is closed afterwards.  Large NumPy arguments shared by several tasks (the data
  X, y of every fold) are scattered to the workers once, not sent with each task.

Results do not depend on the backend when ``fn`` is deterministic given its arguments (seed estimators
with ``random_state``): the folds of a search give identical scores sequentially, on joblib and on Dask
(spec: CV-KFOLD "folds may run in parallel processes", CV-MODEL-SELECT).

chainrule keeps process-wide state (the grad mode of ``no_grad``, the default dtype, the global random
generator), so tasks must not run in several *threads* of one process: a Dask cluster with in-process
workers (``LocalCluster(processes=False)``) is accepted only with a single worker thread.

Importing this module registers ``'dask'`` with :func:`chainrule.train.model_selection.register_backend`, so
``cross_val_score(..., backend='dask')`` and ``GridSearchCV(..., backend='dask')`` use it (on the default
client).  :func:`sweep` runs a function over a parameter grid on any backend.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["run_tasks", "sweep", "dask_runner", "joblib_runner", "register_backends", "BACKENDS"]

BACKENDS = ("sequential", "joblib", "dask")
_SCATTER_BYTES = 1 << 20  # scatter NumPy arguments of at least 1 MiB once instead of shipping them per task


def _check_tasks(fn: Callable, tasks: Iterable) -> list[tuple]:
    if not callable(fn):
        raise TypeError(f"run_tasks: fn must be callable, got {type(fn).__name__}")
    out = []
    for t in tasks:
        out.append(tuple(t) if isinstance(t, tuple | list) else (t,))
    return out


def _sequential(fn: Callable, tasks: list[tuple], verbose: bool) -> list:
    it: Iterable = tasks
    if verbose:
        from tqdm.auto import tqdm
        it = tqdm(tasks, desc="tasks", leave=False)
    return [fn(*t) for t in it]


def joblib_runner(fn: Callable, tasks: list[tuple], n_jobs: int | None = None, verbose: bool = False) -> list:
    """``fn(*t)`` for every task on joblib's process pool (loky), results in task order."""
    try:
        from joblib import Parallel, delayed
    except ImportError:
        raise ImportError("backend='joblib' needs joblib: pip install joblib (or use backend='sequential')") from None
    jobs = -1 if n_jobs in (None, 0) else int(n_jobs)
    return Parallel(n_jobs=jobs, backend="loky", verbose=10 if verbose else 0)(delayed(fn)(*t) for t in tasks)


def _check_dask_client(client) -> None:
    info = client.scheduler_info()
    workers = info.get("workers", {})
    if not workers:
        raise RuntimeError("the Dask client has no workers; start the cluster (e.g. LocalCluster(n_workers=2)) first")
    inproc = sum(int(w.get("nthreads", 1)) for addr, w in workers.items() if str(addr).startswith("inproc://"))
    if inproc > 1:
        raise ValueError(
            f"the Dask cluster runs {inproc} worker threads inside this process; chainrule's grad mode, default dtype "
            "and global generator are per process, so concurrent fits in threads would interfere. Use worker "
            "processes (LocalCluster(processes=True, threads_per_worker=1)) or one in-process thread "
            "(LocalCluster(processes=False, n_workers=1, threads_per_worker=1))")


def _scatter_shared(client, tasks: list[tuple]) -> list[tuple]:
    """Replace large NumPy arrays that appear in the tasks by futures of one scattered copy each."""
    big: dict[int, Any] = {}
    for t in tasks:
        for a in t:
            if isinstance(a, np.ndarray) and a.nbytes >= _SCATTER_BYTES and id(a) not in big:
                big[id(a)] = a
    if not big:
        return tasks
    futs = {k: client.scatter(a, broadcast=True, hash=False) for k, a in big.items()}
    return [tuple(futs.get(id(a), a) if isinstance(a, np.ndarray) else a for a in t) for t in tasks]


def dask_runner(fn: Callable, tasks: list[tuple], n_jobs: int | None = None, verbose: bool = False,
                client=None) -> list:
    """``fn(*t)`` for every task on Dask (see the module docstring for the client choice)."""
    try:
        from dask.distributed import Client, LocalCluster, default_client
    except ImportError:
        raise ImportError("backend='dask' needs dask.distributed: pip install 'dask[distributed]' "
                          "(or use backend='joblib')") from None
    own = None
    if client is None:
        try:
            client = default_client()
        except ValueError:
            workers = n_jobs if n_jobs not in (None, 0, -1) else min(len(tasks), os.cpu_count() or 1)
            cluster = LocalCluster(n_workers=max(1, int(workers)), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
            own = (client, cluster)
    try:
        _check_dask_client(client)
        shipped = _scatter_shared(client, tasks)
        futures = [client.submit(fn, *t, pure=False) for t in shipped]
        if verbose:
            from dask.distributed import as_completed
            from tqdm.auto import tqdm
            for _ in tqdm(as_completed(futures), total=len(futures), desc="dask tasks", leave=False):
                pass
        return client.gather(futures)
    finally:
        if own is not None:
            own[0].close()
            own[1].close()


def run_tasks(fn: Callable, tasks: Iterable, backend: str = "sequential", n_jobs: int | None = None, client=None,
              verbose: bool = False) -> list:
    """``[fn(*t) for t in tasks]`` on the chosen backend, in task order (see the module docstring).

    ``tasks``: tuples of positional arguments (a non-tuple item is one argument).  ``fn`` and the arguments
    must be picklable for 'joblib' and 'dask' (a module-level function, plain data).  ``client`` is only
    used by 'dask'."""
    tasks = _check_tasks(fn, tasks)
    if backend not in BACKENDS:
        raise ValueError(f"run_tasks: backend must be one of {BACKENDS}, got {backend!r}")
    if client is not None and backend != "dask":
        raise ValueError(f"client= is a Dask client; it needs backend='dask', got backend={backend!r}")
    if not tasks:
        return []
    if backend == "sequential":
        return _sequential(fn, tasks, verbose)
    if backend == "joblib":
        return joblib_runner(fn, tasks, n_jobs, verbose)
    return dask_runner(fn, tasks, n_jobs, verbose, client=client)


def _grid(params: Mapping[str, Sequence] | Sequence[Mapping[str, Sequence]]) -> list[dict]:
    grids = [params] if isinstance(params, Mapping) else list(params)
    out: list[dict] = []
    for g in grids:
        if not isinstance(g, Mapping):
            raise TypeError(f"sweep: a grid is a dict name -> list of values, got {type(g).__name__}")
        keys = sorted(g)
        for k in keys:
            if isinstance(g[k], str) or not isinstance(g[k], Sequence | np.ndarray):
                raise TypeError(f"sweep: the values of {k!r} must be a list, got {g[k]!r}")
        for combo in itertools.product(*(g[k] for k in keys)):
            out.append(dict(zip(keys, combo)))
    return out


def _call_kwargs(fn: Callable, params: dict, fixed: dict) -> Any:
    return fn(**fixed, **params)


def sweep(fn: Callable, grid: Mapping[str, Sequence] | Sequence[Mapping[str, Sequence]], backend: str = "sequential",
          n_jobs: int | None = None, client=None, verbose: bool = False, **fixed: Any) -> list[dict]:
    """Hyperparameter sweep: ``fn(**fixed, **params)`` for every point of ``grid`` (a dict name → values, or a
    list of such dicts; points in sorted-name product order), on any backend.  Returns
    ``[{"params": params, "result": value}, ...]`` in grid order."""
    points = _grid(grid)
    results = run_tasks(_call_kwargs, [(fn, p, fixed) for p in points], backend, n_jobs, client, verbose)
    return [{"params": p, "result": r} for p, r in zip(points, results)]


def register_backends() -> bool:
    """Make ``backend='dask'`` available to :mod:`chainrule.train.model_selection` (cross_val_score,
    GridSearchCV, …; they use the default Dask client).  Returns False if model_selection has no registry."""
    try:
        from . import model_selection
    except ImportError:  # pragma: no cover - written by another module's author
        return False
    reg = getattr(model_selection, "register_backend", None)
    if reg is None:  # pragma: no cover
        return False
    reg("dask", lambda fn, tasks, n_jobs, verbose=False: dask_runner(fn, list(tasks), n_jobs, verbose))
    return True


register_backends()
