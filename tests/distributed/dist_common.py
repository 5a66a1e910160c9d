"""Shared by the distributed tests and the scripts they launch with mpiexec: data, model, optimizers, the
single-process reference trajectory and the mpiexec launcher."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader, RandomSampler, TensorDataset
from chainrule.nn import functional as F

HERE = Path(__file__).resolve().parent
N, D, K = 96, 6, 3        # samples, inputs, classes
B = 16                    # global batch


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return X, y


class Net(nn.Module):
    """A smooth net with a layer applied twice (two gradient contributions) and an unused parameter."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(D, 8)
        self.h = nn.Linear(8, 8)
        self.out = nn.Linear(8, K)
        self.unused = nn.Parameter(np.zeros(2))

    def forward(self, x):
        z = cr.tanh(self.a(x))
        z = cr.tanh(self.h(z))
        z = cr.tanh(self.h(z))
        return self.out(z)


def make_model(seed: int = 0) -> Net:
    cr.set_default_dtype(np.float64)
    cr.manual_seed(seed)
    return Net()


def make_opt(name: str, params):
    if name == "sgd":
        return cr.optim.SGD(params, lr=0.1, momentum=0.9)
    if name == "adam":
        return cr.optim.Adam(params, lr=0.01)
    raise ValueError(name)


def params_of(model) -> list[np.ndarray]:
    return [p.data.copy() for p in model.parameters()]


def reference(opt_name: str, steps: int, seed: int = 0, data_seed: int = 0) -> list[np.ndarray]:
    """One process, global batch B, epochs = permutations from RandomSampler(N, seed)."""
    X, y = make_data()
    model = make_model()
    opt = make_opt(opt_name, model.parameters())
    loader = DataLoader(TensorDataset(X, y), batch_size=B, sampler=RandomSampler(N, seed=data_seed))
    done = 0
    while done < steps:
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return params_of(model)


def max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    assert len(a) == len(b)
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


# ------------------------------------------------------------------------------------------ mpiexec
def mpiexec_path() -> str | None:
    cand = Path(sys.executable).parent / "mpiexec"
    if cand.exists():
        return str(cand)
    return shutil.which("mpiexec")


def mpi_available() -> str | None:
    """Why MPI tests cannot run (None when they can)."""
    if mpiexec_path() is None:
        return "mpiexec not found (pip install mpich mpi4py)"
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py not installed (pip install chainrule[mpi])"
    return None


def mpiexec_args(n: int) -> list[str]:
    """mpiexec -n n, plus the flags Open MPI needs as root / on few cores (MPICH needs none and rejects them)."""
    exe = mpiexec_path()
    args = [exe, "-n", str(n)]
    try:
        ver = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        ver = ""
    if "Open MPI" in ver or "OpenRTE" in ver:
        args += ["--oversubscribe"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args += ["--allow-run-as-root"]
    return args


def run_mpi(n: int, script_args: list[str], timeout: float = 60,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``mpiexec -n n python <script_args>`` with one BLAS thread per process and a hard timeout."""
    e = dict(os.environ)
    e.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "PYTHONPATH": os.pathsep.join([str(HERE), e.get("PYTHONPATH", "")])})
    for k in ("PMI_RANK", "PMI_SIZE", "PMI_FD", "MPI_LOCALNRANKS", "MPI_LOCALRANKID"):
        e.pop(k, None)
    if env:
        e.update(env)
    return subprocess.run(mpiexec_args(n) + [sys.executable, *script_args], capture_output=True, text=True,
                          timeout=timeout, env=e)
