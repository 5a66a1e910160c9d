"""The distributed command line, examples and scaling benchmark run end to end.

spec: TRAIN-SGD-MODES, CV-KFOLD, CV-MODEL-SELECT
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dist_common import mpi_available, run_mpi

from chainrule.distributed.cli import main as dist_main

ROOT = Path(__file__).resolve().parents[2]
needs_mpi = pytest.mark.skipif(mpi_available() is not None, reason=str(mpi_available()))


def test_distributed_train_command_single_process_and_resume(tmp_path, capsys):
    args = ["train", "--data", "digits", "--limit", "300", "--epochs", "1", "--batch-size", "30", "--out",
            str(tmp_path), "--no-progress", "--distributed", "--hidden", "16"]
    assert dist_main(args) == 0
    meta = json.loads((tmp_path / "metrics.json").read_text())
    assert meta["workers"] == 1 and meta["epochs_run"] == 1 and 0 <= meta["test"]["accuracy"] <= 1
    assert (tmp_path / "train_state.npz").exists() and (tmp_path / "curves.png").exists()
    args[args.index("--epochs") + 1] = "2"
    assert dist_main(args + ["--resume", "auto"]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs_run"] == 2
    assert dist_main(["train", "--data", "digits", "--optimizer", "nope", "--out", str(tmp_path), "--distributed"]) == 2


@pytest.mark.slow
@pytest.mark.mpi
@needs_mpi
def test_distributed_train_command_under_mpiexec(tmp_path):
    r = run_mpi(2, ["-m", "chainrule.distributed", "train", "--data", "digits", "--limit", "600", "--epochs", "2",
                    "--batch-size", "32", "--out", str(tmp_path), "--no-progress", "--checkpoint-every", "5"],
                timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "with 2 worker(s)" in r.stdout and r.stdout.count("test: loss") == 1  # rank 0 prints once
    meta = json.loads((tmp_path / "metrics.json").read_text())
    assert meta["workers"] == 2 and meta["test"]["accuracy"] > 0.5
    r = run_mpi(3, ["-m", "chainrule.distributed", "train", "--data", "digits", "--batch-size", "32", "--out",
                    str(tmp_path), "--no-progress"], timeout=300)
    assert r.returncode == 2 and "divisible by the 3 workers" in r.stderr


def _run(script: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


@pytest.mark.slow
@pytest.mark.mpi
@needs_mpi
def test_fault_tolerance_demo_quick():
    r = _run("examples/distributed/fault_tolerance_demo.py", "--quick")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    rep = json.loads((ROOT / "docs/distributed/fault_tolerance_quick.json").read_text())
    assert rep["max_abs_diff_loss_B_vs_A"] < 1e-12 and rep["max_abs_diff_loss_CD_vs_A"] < 1e-12
    assert "rank 1 did not respond" in rep["lost_worker_message"]


@pytest.mark.slow
def test_cv_backends_example_quick():
    pytest.importorskip("dask.distributed")
    r = _run("examples/distributed/cv_backends.py", "--quick")
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((ROOT / "docs/distributed/cv_backends_quick.json").read_text())
    assert all(rep["identical_to_sequential"].values())


@pytest.mark.slow
@pytest.mark.mpi
@needs_mpi
def test_scaling_benchmark_quick():
    r = _run("benchmarks/scaling.py", "--quick")
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((ROOT / "docs/distributed/scaling_quick.json").read_text())
    assert {r["global_batch"] // r["batch_per_worker"] for r in rep["throughput"]} == {1, 2}
    f = rep["alpha_beta"]["min_us"]
    assert 0 < f["alpha_s"] < 0.1 and f["beta_bytes_per_s"] > 1e6
