"""Helpers for throughput benchmarks (``benchmarks/run.py`` and ``chainrule bench``).

* :func:`mnist_or_random` — MNIST training arrays, or random arrays of the same shape when the files are
  absent (the caller reports which);
* :class:`IndexStream` — the batch index arrays of a shuffled pass over N samples, epoch after epoch
  (the "DataLoader equivalent" both libraries index their preloaded arrays with, so they see the same
  data in the same order);
* :func:`time_interleaved` — warm both steps up, then alternate timed rounds of each in one process;
* :func:`peak_memory_chainrule` / :func:`peak_memory_torch` — the high-water mark of memory allocated
  *during* one step (memory that existed before the step and is freed in it is not subtracted).
  chainrule side: ``tracemalloc`` (NumPy reports its array buffers to it); torch side: the profiler's
  memory timeline (``profile_memory=True``), counting the CPU tensors created during the step.
"""

from __future__ import annotations

import functools
import gc
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["mnist_or_random", "IndexStream", "time_interleaved", "peak_memory_chainrule", "peak_memory_torch",
           "blas_threads", "match_torch_threads", "limit_threads", "CLOCKS"]


@functools.lru_cache(maxsize=4)
def mnist_or_random(n: int | None = None, flatten: bool = True, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """(X float32 in [0, 1], y int64, source) — the MNIST training set (first ``n`` rows) if its IDX files
    are found (``chainrule.data.load_mnist``'s search path), else uniform random images and labels of
      the same shape with ``source = 'random (MNIST not found)'``.  Cached: every caller shares the same
    arrays (both libraries index the same preloaded data); do not modify them."""
    try:
        from ..data import load_mnist
        X, y = load_mnist(split="train", flatten=flatten)
        src = "MNIST"
    except (FileNotFoundError, OSError, RuntimeError, ValueError):
        rng = np.random.default_rng(seed)
        m = n or 60000
        X = rng.random((m, 784) if flatten else (m, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, m).astype(np.int64)
        src = "random (MNIST not found)"
    if n is not None:
        X, y = X[:n], y[:n]
    return np.ascontiguousarray(X, dtype=np.float32), np.ascontiguousarray(y), src


class IndexStream:
    """Endless mini-batch index arrays: a fresh permutation of range(n) per epoch (seeded), cut into
    batches of ``batch_size`` (the last partial batch of an epoch is dropped so every batch has the same
    size).  ``next()`` returns an int64 array."""

    def __init__(self, n: int, batch_size: int, seed: int = 0):
        if batch_size > n:
            raise ValueError(f"batch_size {batch_size} exceeds the number of samples {n}")
        self.n, self.b = int(n), int(batch_size)
        self.rng = np.random.default_rng(seed)
        self._batches: list[np.ndarray] = []
        self._i = 0

    def _refill(self) -> None:
        perm = self.rng.permutation(self.n)
        nb = self.n // self.b
        self._batches = [perm[i * self.b:(i + 1) * self.b] for i in range(nb)]
        self._i = 0

    def __next__(self) -> np.ndarray:
        if self._i >= len(self._batches):
            self._refill()
        idx = self._batches[self._i]
        self._i += 1
        return idx

    next = __next__

    def __iter__(self):
        return self


def blas_threads() -> int:
    """Threads NumPy's BLAS uses (threadpoolctl if installed, else OMP/OPENBLAS env, else the CPU count)."""
    try:
        from threadpoolctl import threadpool_info
        np.ones((2, 2)) @ np.ones((2, 2))
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                return int(info["num_threads"])
    except ImportError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def limit_threads(n: int) -> bool:
    """Set NumPy's BLAS pool to ``n`` threads for the rest of the process (threadpoolctl); False if
    threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    global _LIMITER
    _LIMITER = threadpool_limits(limits=int(n), user_api="blas")
    return True


_LIMITER: Any = None


def match_torch_threads() -> int:
    """Set torch's intra-op threads to NumPy's BLAS thread count; returns it."""
    import torch
    n = blas_threads()
    torch.set_num_threads(n)
    return n


CLOCKS = {"wall": time.perf_counter, "process": time.process_time}


def _run_for(step: Callable[[], Any], seconds: float, chunk: int, clock: Callable[[], float] = time.perf_counter
             ) -> tuple[int, float]:
    steps = 0
    t0 = clock()
    end = t0 + seconds
    while True:
        for _ in range(chunk):
            step()
        steps += chunk
        t = clock()
        if t >= end:
            return steps, t - t0


def time_interleaved(steps: dict[str, tuple[Callable[[], Any], int]], seconds: float = 1.0, repeat: int = 5,
                     warmup: float = 0.3, min_steps: int = 1, clock: str = "wall") -> dict[str, dict[str, Any]]:
    """Throughput of several step functions measured in one process, interleaved.

    ``steps``: {label: (step, samples_per_step)}.  Each step is warmed up (``warmup`` seconds, at least
    ``min_steps`` calls), then ``repeat`` rounds are run; in each round every label runs for ``seconds``
    (the order alternates between rounds, so slow drifts of the machine hit all libraries alike).
    Returns {label: {'samples_per_s': median over rounds, 'best_samples_per_s': best round, 'rounds': [...],
    'step_ms': median ms/step, 'best_step_ms': fastest round's ms/step, 'steps': total timed steps}}.
    On a shared machine the best round is the better estimate of uncontended speed (as ``timeit`` uses
    the minimum time); the median shows the typical speed under the load of the moment.
    ``clock='process'`` measures CPU time of the whole process (all threads) instead of wall time: with
    one thread per library it is insensitive to other processes competing for the cores.
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {clock!r}")
    clk = CLOCKS[clock]
    labels = list(steps)
    chunks = {}
    for lab in labels:
        fn, _ = steps[lab]
        n, dt = _run_for(fn, warmup, 1, clk) if warmup > 0 else (0, 0.0)
        while n < min_steps:
            fn()
            n += 1
        per = dt / max(n, 1) if dt > 0 else 1e-3
        chunks[lab] = max(1, min(1000, int(0.005 / max(per, 1e-7))))
    rounds: dict[str, list[float]] = {lab: [] for lab in labels}
    step_ms: dict[str, list[float]] = {lab: [] for lab in labels}
    total: dict[str, int] = dict.fromkeys(labels, 0)
    for r in range(repeat):
        order = labels if r % 2 == 0 else labels[::-1]
        for lab in order:
            fn, samples = steps[lab]
            n, dt = _run_for(fn, seconds, chunks[lab], clk)
            rounds[lab].append(n * samples / dt)
            step_ms[lab].append(1e3 * dt / n)
            total[lab] += n
    return {lab: {"samples_per_s": statistics.median(rounds[lab]), "best_samples_per_s": max(rounds[lab]),
                  "rounds": rounds[lab], "step_ms": statistics.median(step_ms[lab]),
                  "best_step_ms": min(step_ms[lab]), "steps": total[lab]} for lab in labels}


def peak_memory_chainrule(step: Callable[[], Any]) -> int:
    """Bytes: high-water mark of Python/NumPy memory allocated during one call of ``step`` (tracemalloc
    started just before the call, so blocks allocated earlier are neither counted nor subtracted).  The
    recurrent layers' work-array pool is emptied first, so the buffers a step uses count as allocated."""
    from chainrule.ops.rnn import clear_workspace
    clear_workspace()
    gc.collect()
    was = tracemalloc.is_tracing()
    if was:
        tracemalloc.stop()
    tracemalloc.start()
    try:
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        if was:
            tracemalloc.start()
    return int(peak)


def peak_memory_torch(step: Callable[[], Any]) -> int | None:
    """Bytes: high-water mark of CPU tensor memory created during one call of ``step``, from the torch
    profiler's memory timeline (tensors that existed before the call are ignored, also when freed).
    Falls back to ordering the profiler's leaf-op allocations by time; None if the profiler fails."""
    import warnings

    from torch.profiler import ProfilerActivity, profile
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True,
                         with_stack=True) as prof:
                step()
        except Exception:  # noqa: BLE001 - profiler internals vary by version
            return None
    try:
        from torch.profiler._memory_profiler import Action
        created: dict[Any, int] = {}
        cur = peak = 0
        for _t, action, (key, _ver), size in prof._memory_profile().timeline:
            if action == Action.CREATE:
                created[key] = size
                cur += size
            elif action == Action.DESTROY and key in created:
                cur -= created.pop(key)
            peak = max(peak, cur)
        return int(peak)
    except Exception:  # noqa: BLE001 - private API: fall back to the public event list
        evs = [e for e in prof.events() if e.self_cpu_memory_usage > 0 and not e.cpu_children]
        return int(sum(e.self_cpu_memory_usage for e in evs)) if evs else None
