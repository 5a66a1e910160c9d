"""Data-parallel scaling: measured throughput with 1 and 2 MPI processes, allreduce cost model, prediction.

    python benchmarks/scaling.py            # launches mpiexec itself; writes docs/distributed/scaling.{json,md,png}
    python benchmarks/scaling.py --quick    # a fast smoke version

1. **Throughput** of W2 (MLP 784-256-256-10 ReLU, cross-entropy, Adam, batch 128) and W3 (LeNet-5, SGD
   momentum, batch 64) under ``DistributedDataParallel`` with p = 1 and 2 processes:
   *weak scaling* (every worker takes the workload's batch: global batch p·b) and *strong scaling* (the
   global batch is the workload's batch, b/p per worker); gradient reduction overlapped with backward or
   not.  Per step: wall time, CPU time, time blocked waiting for the allreduce (``ddp.stats``).
2. **Allreduce micro-benchmark** over message sizes 8 B … 16 MB with 2 processes; fit of the cost
   t(n) = a + b·n and, for the ring algorithm t_p(n) = 2(p−1)·α + 2(p−1)/p · n/β, α = a/2 and β = 1/b
   (p = 2).  The minimum over repeats estimates the uncontended cost, the median what a step sees.
3. **Prediction** for p = 1 … 64:  T_step(p) = T_c(batch per worker) + 2(p−1)α + 2(p−1)/p · n/β (no
   overlap), with the compute time T_c(b) = c₀ + c₁·b fitted to CPU time per step over batch sizes on one
   process; strong scaling uses T_c(B/p) (and the ideal T_c(B)/p for comparison).

Every worker process uses one BLAS thread (``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "distributed"
WORKLOADS = {  # small_bucket_mb: a bucket size that splits the gradient into several buckets (overlap possible)
    "W2": {"batch": 128, "small_bucket_mb": 0.25, "desc": "MLP 784-256-256-10 ReLU, Adam lr 1e-3, batch 128"},
    "W3": {"batch": 64, "small_bucket_mb": 0.05,
           "desc": "LeNet-5 (tanh, max-pool, 32x32), SGD lr 0.01 momentum 0.9, batch 64"}}


# ================================================================================== worker side
def _build(name: str, seed: int = 0):
    import chainrule as cr
    from chainrule.nn import functional as F
    from chainrule.utils.benchmark import mnist_or_random

    if name == "W2":
        from chainrule.models import MLP
        X, y, src = mnist_or_random(n=8192, flatten=True)
        model = MLP([784, 256, 256, 10], activation="relu", output_activation=None, generator=cr.Generator(seed))
        opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    else:
        from chainrule.models import LeNet5
        X, y, src = mnist_or_random(n=4096, flatten=False)
        X = np.ascontiguousarray(np.pad(X.reshape(-1, 1, 28, 28), ((0, 0), (0, 0), (2, 2), (2, 2))), dtype=np.float32)
        model = LeNet5(generator=cr.Generator(seed))
        opt = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return model, opt, F.cross_entropy, X, y, src


def _make_step(fwd, opt, loss_fn, X, y, idx, ddp=None):
    """One training step on the next batch of ``idx``: forward, backward, (gradient allreduce), update."""
    from chainrule import Tensor
    wrap = Tensor._wrap

    def step():
        i = next(idx)
        loss = loss_fn(fwd(wrap(X[i])), y[i])
        opt.zero_grad()
        loss.backward()
        if ddp is not None:
            ddp.synchronize()
        opt.step()

    return step


def _time_steps(step, k: int, comm) -> tuple[float, float]:
    comm.barrier()
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(k):
        step()
    comm.barrier()
    return (time.perf_counter() - w0) / k, (time.process_time() - c0) / k


def worker(args) -> None:
    from chainrule.distributed import DistributedDataParallel, get_communicator
    from chainrule.utils.benchmark import IndexStream

    comm = get_communicator()
    p, r = comm.size, comm.rank
    res: dict = {"p": p, "runs": [], "compute": []}
    for name in args.workloads.split(","):
        B = WORKLOADS[name]["batch"]
        small = WORKLOADS[name]["small_bucket_mb"]
        configs = [("weak", B, False, 25.0), ("weak", B, True, 25.0), ("weak", B, True, small)]
        if p > 1:
            configs += [("strong", B // p, False, 25.0), ("strong", B // p, True, small)]
        if args.async_progress:  # only the configuration whose communication can overlap
            configs = [c for c in configs if c[2] and c[3] == small]
        for scaling, b, overlap, cap in configs:
            model, opt, loss_fn, X, y, src = _build(name)
            ddp = DistributedDataParallel(model, comm, overlap=overlap, bucket_cap_mb=cap)
            step = _make_step(ddp, opt, loss_fn, X, y, IndexStream(len(X), b, seed=1 + r), ddp)
            for _ in range(3):
                step()
            ddp.stats.reset()
            wall, cpu = _time_steps(step, args.steps, comm)
            st = ddp.stats.as_dict()
            walls = comm.allgather((wall, cpu, st["wait_ms_per_step"], st["hook_ms_per_step"]))
            wmax = max(w[0] for w in walls)
            res["runs"].append({
                "workload": name, "scaling": scaling, "overlap": overlap, "batch_per_worker": b,
                "bucket_mb": cap, "buckets": len(ddp.bucket_sizes), "async_progress": args.async_progress,
                "global_batch": b * p, "step_ms": 1e3 * wmax, "cpu_ms": 1e3 * statistics.mean(w[1] for w in walls),
                "samples_per_s": b * p / wmax, "allreduce_wait_ms": statistics.mean(w[2] for w in walls),
                "hook_ms": statistics.mean(w[3] for w in walls), "bytes": st["bytes_per_step"],
                "params": int(sum(q.size for q in model.parameters())), "data": src})
            ddp.remove_hooks()
        if p == 1 and not args.async_progress:  # compute time vs batch size for the model T_c(b) = c0 + c1 b
            for b in args.batch_sweep:
                model, opt, loss_fn, X, y, _ = _build(name)
                cstep = _make_step(model, opt, loss_fn, X, y, IndexStream(len(X), b, seed=1))
                for _ in range(2):
                    cstep()
                wall, cpu = _time_steps(cstep, args.steps, comm)
                res["compute"].append({"workload": name, "batch": b, "wall_ms": 1e3 * wall, "cpu_ms": 1e3 * cpu})
    if r == 0:
        Path(args.result).write_text(json.dumps(res))


def allreduce_worker(args) -> None:
    from mpi4py import MPI

    from chainrule.distributed import get_communicator

    comm = get_communicator()
    world = MPI.COMM_WORLD
    rows = []
    for e in args.sizes:
        n = max(1, (1 << e) // 4)  # float32 entries
        a = np.ones(n, dtype=np.float32)
        reps = max(5, min(200, int(2e7 // (n * 4 + 2e4))))
        for _ in range(3):
            comm.allreduce(a)
        for impl in ("chainrule", "mpi4py"):
            ts = []
            for _ in range(reps):
                world.Barrier()
                t0 = time.perf_counter()
                if impl == "chainrule":
                    comm.allreduce(a)
                else:
                    world.Allreduce(MPI.IN_PLACE, a)
                ts.append(time.perf_counter() - t0)
            ts = comm.allgather(ts)
            per = [max(x) for x in zip(*ts)]  # a collective ends when its slowest rank ends
            rows.append({"bytes": n * 4, "impl": impl, "min_us": 1e6 * min(per),
                         "median_us": 1e6 * statistics.median(per), "reps": reps})
    if comm.rank == 0:
        lib = MPI.Get_library_version().splitlines()[0].strip()
        Path(args.result).write_text(json.dumps({"p": comm.size, "rows": rows, "library": lib}))


# ================================================================================== driver side
def _mpiexec() -> str:
    cand = Path(sys.executable).parent / "mpiexec"
    if cand.exists():
        return str(cand)
    import shutil
    exe = shutil.which("mpiexec")
    if exe is None:
        raise SystemExit("mpiexec not found: pip install mpich mpi4py (or chainrule[mpi] with a system MPI)")
    return exe


def _launch(p: int, extra: list[str], timeout: float, env: dict | None = None) -> dict:
    with tempfile.TemporaryDirectory() as d:
        res = Path(d) / "r.json"
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", **(env or {}))
        cmd = [_mpiexec(), "-n", str(p), sys.executable, str(Path(__file__).resolve()), *extra, "--result", str(res)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
        return json.loads(res.read_text())


def fit_alpha_beta(rows: list[dict], key: str, p: int = 2) -> dict:
    """Least squares of t(n) = a + b n with weights 1/t (relative errors), then α = a/(2(p−1)),
    β = 2(p−1)/(p·b) (ring allreduce)."""
    n = np.array([r["bytes"] for r in rows], dtype=float)
    t = np.array([r[key] for r in rows], dtype=float) * 1e-6
    w = 1.0 / t
    A = np.stack([np.ones_like(n), n], axis=1) * w[:, None]
    (a, b), *_ = np.linalg.lstsq(A, t * w, rcond=None)
    a, b = max(a, 1e-9), max(b, 1e-15)
    return {"a_s": a, "b_s_per_byte": b, "alpha_s": a / (2 * (p - 1)), "beta_bytes_per_s": 2 * (p - 1) / (p * b)}


def fit_compute(rows: list[dict], key: str = "cpu_ms") -> tuple[float, float]:
    b = np.array([r["batch"] for r in rows], dtype=float)
    t = np.array([r[key] for r in rows], dtype=float) * 1e-3
    c1, c0 = np.polyfit(b, t, 1)
    return float(max(c0, 0.0)), float(max(c1, 0.0))


def ring_time(nbytes: float, p: int, alpha: float, beta: float) -> float:
    return 0.0 if p == 1 else 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / beta


def predict(c0: float, c1: float, B: int, nbytes: float, alpha: float, beta: float, ps) -> list[dict]:
    out = []
    for p in ps:
        weak = c0 + c1 * B + ring_time(nbytes, p, alpha, beta)
        bl = max(B / p, 1.0)
        strong = c0 + c1 * bl + ring_time(nbytes, p, alpha, beta)
        ideal = (c0 + c1 * B) / p + ring_time(nbytes, p, alpha, beta)
        out.append({"p": p, "weak_samples_per_s": p * B / weak, "strong_samples_per_s": B / strong,
                    "strong_ideal_samples_per_s": B / ideal, "allreduce_ms": 1e3 * ring_time(nbytes, p, alpha, beta)})
    return out


NETWORKS = {  # assumed interconnects (not measured here), for the cluster prediction
    "10 GbE (α 30 µs, β 1.1 GB/s)": (30e-6, 1.1e9),
    "100 Gb/s InfiniBand (α 2 µs, β 11 GB/s)": (2e-6, 11e9),
}


def driver(args) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    quick = args.quick
    steps = 5 if quick else 20
    wl = "W2" if quick else "W2,W3"
    sweep = "16,64,128" if quick else "8,16,32,64,128"
    load0 = os.getloadavg()
    t0 = time.time()
    runs = {}
    for p in (1, 2):
        print(f"throughput with {p} process(es) ...", flush=True)
        runs[p] = _launch(p, ["--worker", "--workloads", wl, "--steps", str(steps), "--batch-sweep", sweep], 900)
    print("throughput with 2 processes and MPICH's asynchronous progress thread ...", flush=True)
    asy = _launch(2, ["--worker", "--workloads", wl, "--steps", str(steps), "--batch-sweep", sweep,
                      "--async-progress"], 900, env={"MPIR_CVAR_ASYNC_PROGRESS": "1"})
    runs[2]["runs"] += asy["runs"]
    sizes = "3,10,16,20,22" if quick else "3,6,10,13,16,18,20,22,24"
    print("allreduce micro-benchmark (2 processes) ...", flush=True)
    ar = _launch(2, ["--allreduce", "--sizes", sizes], 900)
    load1 = os.getloadavg()
    rows = [r for r in ar["rows"] if r["impl"] == "chainrule"]
    fits = {k: fit_alpha_beta(rows, k) for k in ("min_us", "median_us")}
    ps = [1, 2, 4, 8, 16, 32, 64]
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                          "load_avg_before": load0, "load_avg_after": load1, "mpi": ar.get("library", "")},
              "throughput": runs[1]["runs"] + runs[2]["runs"], "compute": runs[1]["compute"], "allreduce": ar["rows"],
              "alpha_beta": fits, "predictions": {}, "quick": quick, "seconds": None}
    for name in wl.split(","):
        B = WORKLOADS[name]["batch"]
        crow = [r for r in runs[1]["compute"] if r["workload"] == name]
        c0, c1 = fit_compute(crow)
        nbytes = next(r["params"] for r in runs[1]["runs"] if r["workload"] == name) * 4
        report["predictions"][name] = {"c0_ms": 1e3 * c0, "c1_ms_per_sample": 1e3 * c1, "grad_bytes": nbytes}
        for label, key in (("this machine, uncontended (min)", "min_us"), ("this machine, median", "median_us")):
            f = fits[key]
            report["predictions"][name][label] = predict(c0, c1, B, nbytes, f["alpha_s"], f["beta_bytes_per_s"], ps)
        for label, (al, be) in NETWORKS.items():
            report["predictions"][name][label] = predict(c0, c1, B, nbytes, al, be, ps)
    report["seconds"] = time.time() - t0
    (OUT / ("scaling_quick.json" if quick else "scaling.json")).write_text(json.dumps(report, indent=1))
    md = markdown(report)
    (OUT / ("scaling_quick.md" if quick else "scaling.md")).write_text(md)
    plot(report, OUT / ("scaling_quick.png" if quick else "scaling.png"))
    print(md)


def markdown(rep: dict) -> str:
    m = rep["machine"]
    L = [f"Measured on {m['cpus']} CPU cores ({m['platform']}), {m['mpi'].strip()}; load average "
         f"{m['load_avg_before'][0]:.1f} before, {m['load_avg_after'][0]:.1f} after (the machine is shared).", "",
         "| workload | scaling | p | batch/worker | overlap (buckets) | step ms (wall) | CPU ms | allreduce wait ms "
         "| samples/s |",
         "|---|---|---|---|---|---|---|---|---|"]
    for r in rep["throughput"]:
        p = r["global_batch"] // r["batch_per_worker"]
        ov = (("yes" if r["overlap"] else "no") + f" ({r['buckets']})"
              + (", async progress" if r.get("async_progress") else ""))
        L.append(f"| {r['workload']} | {r['scaling']} | {p} | {r['batch_per_worker']} | {ov} | "
                 f"{r['step_ms']:.1f} | {r['cpu_ms']:.1f} | {r['allreduce_wait_ms']:.2f} | {r['samples_per_s']:.0f} |")
    L += ["", "Allreduce (2 processes, float32, chainrule's MPICommunicator / raw mpi4py):", "",
          "| bytes | chainrule min µs | chainrule median µs | mpi4py min µs | mpi4py median µs |",
          "|---|---|---|---|---|"]
    by = {}
    for r in rep["allreduce"]:
        by.setdefault(r["bytes"], {})[r["impl"]] = r
    for nb, d in sorted(by.items()):
        L.append(f"| {nb} | {d['chainrule']['min_us']:.1f} | {d['chainrule']['median_us']:.1f} | "
                 f"{d['mpi4py']['min_us']:.1f} | {d['mpi4py']['median_us']:.1f} |")
    L.append("")
    for k, f in rep["alpha_beta"].items():
        L.append(f"- fit to the {k[:-3]}: α = {f['alpha_s'] * 1e6:.1f} µs, β = {f['beta_bytes_per_s'] / 1e9:.2f} GB/s")
    for name, pr in rep["predictions"].items():
        L += ["", f"Prediction for {name} (T_c(b) = {pr['c0_ms']:.2f} ms + {pr['c1_ms_per_sample']:.3f} ms·b CPU time, "
              f"gradient {pr['grad_bytes'] / 1e6:.2f} MB), samples/s:", "",
              "| interconnect | " + " | ".join(f"p={q['p']}" for q in pr["this machine, median"]) + " |",
              "|---|" + "---|" * len(pr["this machine, median"])]
        for label, rows in pr.items():
            if not isinstance(rows, list):
                continue
            L.append(f"| {label}, weak | " + " | ".join(f"{q['weak_samples_per_s']:.0f}" for q in rows) + " |")
            L.append(f"| {label}, strong | " + " | ".join(f"{q['strong_samples_per_s']:.0f}" for q in rows) + " |")
    return "\n".join(L) + "\n"


def plot(rep: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rep["predictions"])
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(5 * (len(names) + 1), 4))
    ax = axes[0]
    by: dict = {}
    for r in rep["allreduce"]:
        by.setdefault(r["impl"], []).append(r)
    for impl, rows in by.items():
        n = [r["bytes"] for r in rows]
        ax.loglog(n, [r["median_us"] for r in rows], "o-", label=f"{impl} median")
        ax.loglog(n, [r["min_us"] for r in rows], "x--", label=f"{impl} min")
    f = rep["alpha_beta"]["min_us"]
    nn = np.logspace(0.5, 7.3, 50)
    ax.loglog(nn, 1e6 * (f["a_s"] + f["b_s_per_byte"] * nn), "k:", label="fit a + b·n (min)")
    ax.set_xlabel("message bytes")
    ax.set_ylabel("allreduce time (µs), 2 processes")
    ax.legend(fontsize=7)
    for ax, name in zip(axes[1:], names):
        pr = rep["predictions"][name]
        for label, rows in pr.items():
            if isinstance(rows, list):
                ps = [q["p"] for q in rows]
                ax.loglog(ps, [q["weak_samples_per_s"] for q in rows], "o-", label=f"{label} (weak)", ms=3)
        meas = [r for r in rep["throughput"] if r["workload"] == name and r["scaling"] == "weak" and not r["overlap"]]
        ps_meas = [r["global_batch"] // r["batch_per_worker"] for r in meas]
        ax.loglog(ps_meas, [r["samples_per_s"] for r in meas], "k*", ms=12, label="measured (wall, shared cores)")
        ax.loglog(ps_meas, [r["global_batch"] / (r["cpu_ms"] * 1e-3) for r in meas], "kD", ms=7, mfc="none",
                  label="measured (CPU time per process)")
        ax.set_xlabel("workers p")
        ax.set_ylabel("samples/s")
        ax.set_title(f"{name}: predicted weak scaling")
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fast smoke version (W2 only, few steps)")
    ap.add_argument("--replot", action="store_true", help="redraw figure and table from the saved JSON")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--allreduce", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workloads", default="W2,W3", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=20, help=argparse.SUPPRESS)
    ap.add_argument("--batch-sweep", type=lambda s: [int(x) for x in s.split(",")], default=[8, 16, 32, 64, 128],
                    help=argparse.SUPPRESS)
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[3, 10, 16, 20, 24],
                    help=argparse.SUPPRESS)
    ap.add_argument("--result", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--async-progress", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replot:  # redraw the figure and table from the saved JSON
        stem = "scaling_quick" if args.quick else "scaling"
        rep = json.loads((OUT / f"{stem}.json").read_text())
        plot(rep, OUT / f"{stem}.png")
        (OUT / f"{stem}.md").write_text(markdown(rep))
        return
    if args.worker:
        worker(args)
    elif args.allreduce:
        allreduce_worker(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
