"""Same trajectory on 1 and 2 processes, and through a lost worker + restart with fewer workers.

    python examples/distributed/fault_tolerance_demo.py           # 3 epochs of MNIST per run (a few minutes)
    python examples/distributed/fault_tolerance_demo.py --quick   # 6,400 images, 1 epoch

Runs examples/distributed/train_mnist_dp.py (float64) four times with mpiexec:
  A. 1 process;  B. 2 processes;
  C. 2 processes, checkpoint every 10 steps, rank 1 hangs at step 25 → rank 0's collective times out
     (CHAINRULE_DIST_TIMEOUT=5) and the run stops with a message naming rank 1 and the last checkpoint;
  D. 1 process resumes C's checkpoint and finishes.
Then compares the per-step training losses: B and C+D must equal A (up to float64 rounding), because the
global batch — not the number of workers — defines the steps (spec: TRAIN-SGD-MODES, SGD-MINIBATCH).
Writes docs/distributed/fault_tolerance[_quick].{json,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "distributed" / "train_mnist_dp.py"
OUT = ROOT / "docs" / "distributed"


def mpiexec() -> str:
    cand = Path(sys.executable).parent / "mpiexec"
    if cand.exists():
        return str(cand)
    import shutil
    exe = shutil.which("mpiexec")
    if exe is None:
        sys.exit("mpiexec not found: pip install mpich mpi4py")
    return exe


def run(n: int, extra: list[str], env: dict | None = None, timeout: float = 3600) -> subprocess.CompletedProcess:
    e = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **(env or {}))
    cmd = [mpiexec(), "-n", str(n), sys.executable, str(SCRIPT), "--dtype", "float64", *extra]
    print("$", " ".join(cmd[1:3]), "python", " ".join(cmd[4:]), flush=True)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
    print(f"  exit {r.returncode} after {time.perf_counter() - t:.1f} s", flush=True)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    q = ["--quick"] if args.quick else []
    suffix = "_quick" if args.quick else ""
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        common = [*q, "--out", str(d)]
        ra = run(1, [*common, "--tag", "_A"])
        rb = run(2, [*common, "--tag", "_B"])
        ck = str(d / "state.npz")
        rc = run(2, [*common, "--tag", "_C", "--checkpoint", ck, "--checkpoint-every", "10", "--fail-at-step", "25"],
                 env={"CHAINRULE_DIST_TIMEOUT": "5"})
        rd = run(1, [*common, "--tag", "_D", "--checkpoint", ck, "--resume"])
        for name, r in (("A", ra), ("B", rb), ("D", rd)):
            if r.returncode != 0:
                sys.exit(f"run {name} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
        if rc.returncode == 0:
            sys.exit("run C was expected to stop with a lost worker, but it finished")
        msg = [ln for ln in (rc.stdout + rc.stderr).splitlines() if "did not respond" in ln]
        m = re.search(r"resumed from .*\(global step (\d+)\)", rd.stdout)
        resumed = int(m.group(1)) if m else None
        res = {k: json.loads((d / f"mnist_dp_p{p}_{k}{suffix}.json").read_text())
               for k, p in (("A", 1), ("B", 2), ("D", 1))}
    a = np.asarray(res["A"]["history"]["step_loss"])
    b = np.asarray(res["B"]["history"]["step_loss"])
    dd = np.asarray(res["D"]["history"]["step_loss"])
    report = {
        "steps": len(a), "data": res["A"]["data"],
        "max_abs_diff_loss_B_vs_A": float(np.max(np.abs(b - a))),
        "max_abs_diff_loss_CD_vs_A": float(np.max(np.abs(dd - a))),
        "test_accuracy": {k: v["test_accuracy"] for k, v in res.items()},
        "lost_worker_message": msg[0] if msg else None,
        "resumed_from_step": resumed,
        "samples_per_s": {k: v["samples_per_s"] for k, v in res.items()},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"fault_tolerance{suffix}.json").write_text(json.dumps(report, indent=1))
    from chainrule.train.plots import new_figure, save_figure
    fig = new_figure(figsize=(10, 3.6))
    ax = fig.add_subplot(1, 2, 1)
    s = np.arange(1, len(a) + 1)
    ax.plot(s, a, lw=2.5, alpha=0.5, label="A: 1 process")
    ax.plot(s, b, lw=1.0, label="B: 2 processes")
    ax.plot(s, dd, "k:", lw=1.0,
            label=f"C+D: 2 processes, rank 1 lost at 25, resumed at {report['resumed_from_step']} on 1")
    if report["resumed_from_step"]:
        ax.axvline(report["resumed_from_step"], color="gray", lw=0.5)
    ax.set_xlabel("global step")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(1, 2, 2)
    ax.semilogy(s, np.abs(b - a) + 1e-18, label="|B − A|")
    ax.semilogy(s, np.abs(dd - a) + 1e-18, label="|C+D − A|")
    ax.set_xlabel("global step")
    ax.set_ylabel("loss difference (float64)")
    ax.legend(fontsize=7)
    save_figure(fig, OUT / f"fault_tolerance{suffix}.png")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
