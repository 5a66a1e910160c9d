"""Compare every optimizer of chainrule.optim.

Writes into docs/optimizers/ (or --out):
- regression_curves.png, mnist_curves.png, mnist7_curves.png: training loss vs epoch and vs seconds
- trajectories.png: paths on Rosenbrock, Beale and an ill-conditioned quadratic
- gabor_landscape.png: gradient descent from 25 starts ends in different minima (OPT-GABOR-LANDSCAPE)
- results.md / results.json: final loss, accuracy, time under a fixed epoch budget and a fixed time budget

Tasks (the same model and data for every optimizer):
- regression: 1-16-1 tanh MLP (49 weights), 200 noisy points of sin(2x) + 0.3x, MSE;
- mnist: 784-64-10 tanh MLP on the 60,000 MNIST training images (accuracy on the 10,000 test images);
  Newton / Gauss-Newton / LM are for ≤ 10⁴ weights and skip this task;
- mnist7: the same digits average-pooled to 7 × 7, 49-10-10 MLP (610 weights), 2,000 training images —
  small enough for every optimizer including Newton, Gauss-Newton (generalized, cross-entropy) and LM
  (least squares on softmax − one-hot).
An "epoch" is one pass over the training set: ⌈N/B⌉ steps for mini-batch methods, one iteration for the
full-batch methods (which may evaluate the loss several times per iteration, e.g. in a line search).
Evaluation time is not counted in the time budget.

Run:  python examples/optimizers/compare.py            (full, ~30 min on a busy 2-core machine)
      python examples/optimizers/compare.py --quick    (smoke test, ~1 min, into docs/optimizers/quick/)
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# one BLAS thread: on a shared machine multi-threaded BLAS spin-waits make the timings (and the W × W solves of
# the second-order methods) erratic; set OPENBLAS_NUM_THREADS yourself to override
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tqdm import tqdm  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import nn, optim  # noqa: E402
from chainrule.optim import functions as F  # noqa: E402


# ------------------------------------------------------------------------------------------- optimizers
@dataclass
class Spec:
    name: str
    make: object          # params -> optimizer
    kind: str             # 'mb' mini-batch, 'fb' full batch closure, 'newton', 'gn', 'lm'
    hyper: str


def optimizer_specs(task: str) -> list[Spec]:
    """Hyperparameters chosen once per task by a short manual search (not tuned per run)."""
    reg = task == "regression"
    specs = [
        Spec("SGD", lambda p: optim.SGD(p, lr=0.1), "mb", "lr 0.1"),
        Spec("SGD momentum", lambda p: optim.SGD(p, lr=0.02, momentum=0.9), "mb", "lr 0.02, μ 0.9"),
        Spec("SGD Nesterov", lambda p: optim.SGD(p, lr=0.02, momentum=0.9, nesterov=True), "mb", "lr 0.02, μ 0.9"),
        Spec("Momentum (EMA)", lambda p: optim.Momentum(p, lr=0.2, momentum=0.9, form="ema"), "mb", "η 0.2, μ 0.9"),
        Spec("Adagrad", lambda p: optim.Adagrad(p, lr=0.05), "mb", "lr 0.05"),
        Spec("Adadelta", lambda p: optim.Adadelta(p, lr=1.0), "mb", "lr 1, ρ 0.9"),
        Spec("RMSprop", lambda p: optim.RMSprop(p, lr=1e-3), "mb", "lr 1e-3"),
        Spec("Adam", lambda p: optim.Adam(p, lr=3e-3 if reg else 1e-3), "mb", "lr 3e-3" if reg else "lr 1e-3"),
        Spec("AdamW", lambda p: optim.AdamW(p, lr=3e-3 if reg else 1e-3, weight_decay=1e-2), "mb",
             ("lr 3e-3" if reg else "lr 1e-3") + ", λ 0.01"),
        Spec("DeltaDelta", lambda p: optim.DeltaDelta(p, lr=0.1 if reg else 0.5, gamma=1e-3, min_lr=0.0), "fb",
             f"lr {0.1 if reg else 0.5}, γ 1e-3, full batch"),
        Spec("DeltaBarDelta", lambda p: optim.DeltaBarDelta(p, lr=0.1 if reg else 0.5, kappa=0.01, phi=0.2), "fb",
             f"lr {0.1 if reg else 0.5}, κ 0.01, φ 0.2, full batch"),
        Spec("Quickprop", lambda p: optim.Quickprop(p, lr=0.1 if reg else 0.5), "fb",
             f"lr {0.1 if reg else 0.5}, μ 1.75, full batch"),
        Spec("Rprop (iRprop−)", lambda p: optim.Rprop(p, lr=0.01), "fb", "Δ₀ 0.01, full batch"),
        Spec("Rprop (iRprop+)", lambda p: optim.Rprop(p, lr=0.01, variant="irprop+"), "fb", "Δ₀ 0.01, full batch"),
        Spec("CG (PR+)", lambda p: optim.ConjugateGradient(p), "fb", "strong Wolfe c₂ 0.1, full batch"),
        Spec("L-BFGS", lambda p: optim.LBFGS(p, max_iter=1, max_eval=25, history_size=20,
                                             line_search_fn="strong_wolfe"), "fb",
             "history 20, strong Wolfe, 1 iteration/epoch"),
    ]
    if task != "mnist":
        specs += [
            Spec("Newton", lambda p: optim.Newton(p, damping=1e-4 if reg else 1e-3, line_search_fn="armijo"), "newton",
                 "damping 1e-4, Armijo" if reg else "damping 1e-3, Armijo"),
            Spec("Gauss-Newton", lambda p: optim.GaussNewton(p, damping=1e-4 if reg else 1e-2), "gn",
                 "damping 1e-4" if reg else "generalized (CE), damping 1e-2"),
            Spec("Levenberg-Marquardt", lambda p: optim.LevenbergMarquardt(p, max_iter=1), "lm",
                 "λ₀ 1e-3, ×/÷10" + ("" if reg else ", residual softmax − one-hot")),
        ]
    return specs


# ------------------------------------------------------------------------------------------------ tasks
class Task:
    name: str
    batch: int
    classify: bool

    def __init__(self, X, Y, Xte=None, yte=None):
        self.X, self.Y, self.Xte, self.yte = X, Y, Xte, yte

    def model(self, seed: int):
        raise NotImplementedError

    def loss(self, out, Y):
        raise NotImplementedError


class Regression(Task):
    name, batch, classify = "regression", 20, False

    @staticmethod
    def build(seed: int = 0, n: int = 200):
        rng = np.random.default_rng(seed)
        x = rng.uniform(-2, 2, (n, 1))
        y = np.sin(2 * x) + 0.3 * x + 0.05 * rng.standard_normal((n, 1))
        return Regression(x, y)

    def model(self, seed):
        cr.manual_seed(seed)
        return nn.Sequential(nn.Linear(1, 16, dtype=np.float64), nn.Tanh(), nn.Linear(16, 1, dtype=np.float64))

    def loss(self, out, Y):
        return ((out - cr.Tensor(Y)) ** 2).mean()

    def residuals(self, model, X, Y):
        return (model(cr.Tensor(X)) - cr.Tensor(Y)).reshape(-1) / math.sqrt(len(X))  # ½‖r‖² = MSE/2


class MNISTTask(Task):
    name, batch, classify = "mnist", 128, True

    def __init__(self, X, y, Xte, yte, hidden=64, name="mnist"):
        super().__init__(X, y, Xte, yte)
        self.hidden, self.name = hidden, name

    def model(self, seed):
        cr.manual_seed(seed)
        d, dt = self.X.shape[1], self.X.dtype
        return nn.Sequential(nn.Linear(d, self.hidden, dtype=dt), nn.Tanh(), nn.Linear(self.hidden, 10, dtype=dt))

    def loss(self, out, y):
        return nn.functional.cross_entropy(out, y)

    def residuals(self, model, X, y):
        onehot = np.eye(10, dtype=X.dtype)[y]
        return (cr.softmax(model(cr.Tensor(X)), axis=1) - cr.Tensor(onehot)).reshape(-1)


def load_mnist_arrays():
    try:
        from chainrule.data import load_mnist
        Xtr, ytr = load_mnist(split="train", flatten=True, dtype=np.float32)
        Xte, yte = load_mnist(split="test", flatten=True, dtype=np.float32)
        return Xtr, ytr, Xte, yte
    except Exception:  # read the IDX files directly
        d = ROOT.parent / "shared" / "data" / "mnist"

        def idx(name, off):
            with gzip.open(d / name) as f:
                return np.frombuffer(f.read(), np.uint8, offset=off)
        Xtr = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
        Xte = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
        return Xtr, idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64), Xte, \
            idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)


def pool7(X):
    return X.reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4)).reshape(-1, 49)


# --------------------------------------------------------------------------------------------- training
def train(task: Task, spec: Spec, epochs: int, seconds: float, seed: int = 0, hard_cap: float = 4.0) -> dict:
    model = task.model(seed)
    params = list(model.parameters())
    opt = spec.make(params)
    X, Y = task.X, task.Y
    N = len(X)
    Xt = cr.Tensor(X)
    rng = np.random.default_rng(seed)

    def full_closure():
        opt.zero_grad()
        loss = task.loss(model(Xt), Y)
        loss.backward()
        return loss

    def evaluate():
        with cr.no_grad():
            out = model(Xt)
            loss = float(task.loss(out, Y))
            acc = None
            if task.classify:
                acc = float((model(cr.Tensor(task.Xte)).data.argmax(1) == task.yte).mean())
        return loss, acc

    loss0, acc0 = evaluate()
    hist = {"epoch": [0], "time": [0.0], "loss": [loss0], "acc": [acc0]}
    t_train, epoch = 0.0, 0
    while True:
        t0 = time.perf_counter()
        try:
            if spec.kind == "mb":
                perm = rng.permutation(N)
                for i in range(0, N, task.batch):
                    idx = perm[i:i + task.batch]
                    opt.zero_grad()
                    task.loss(model(cr.Tensor(X[idx])), Y[idx]).backward()
                    opt.step()
            elif spec.kind == "fb":
                opt.step(full_closure)
            elif spec.kind == "newton":
                opt.step(lambda: task.loss(model(Xt), Y))
            elif spec.kind == "gn":
                if task.classify:
                    opt.step(lambda: (model(Xt), lambda o: nn.functional.cross_entropy(o, Y)))
                else:
                    opt.step(lambda: task.residuals(model, X, Y))
            elif spec.kind == "lm":
                opt.step(lambda: task.residuals(model, X, Y))
        except (FloatingPointError, np.linalg.LinAlgError) as e:  # pragma: no cover - reported, not hidden
            hist["error"] = f"{type(e).__name__}: {e}"
            break
        t_train += time.perf_counter() - t0
        epoch += 1
        loss, acc = evaluate()
        hist["epoch"].append(epoch)
        hist["time"].append(t_train)
        hist["loss"].append(loss)
        hist["acc"].append(acc)
        if not math.isfinite(loss):
            hist["error"] = "diverged (non-finite loss)"
            break
        if (epoch >= epochs and t_train >= seconds) or t_train >= hard_cap * seconds:
            break
    return hist


def at_epoch(h, e):
    i = min(e, len(h["epoch"]) - 1)
    return {"epoch": h["epoch"][i], "loss": h["loss"][i], "acc": h["acc"][i], "time": h["time"][i]}


def at_time(h, t):
    i = max(k for k, s in enumerate(h["time"]) if s <= t)
    return {"epoch": h["epoch"][i], "loss": h["loss"][i], "acc": h["acc"][i], "time": h["time"][i]}


def run_task(task: Task, epochs: int, seconds: float, out: Path, title: str) -> list[dict]:
    rows = []
    specs = optimizer_specs(task.name)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    cmap = plt.get_cmap("tab20")
    for k, spec in enumerate(tqdm(specs, desc=task.name, unit="optimizer")):
        h = train(task, spec, epochs, seconds)
        e, s = at_epoch(h, epochs), at_time(h, seconds)
        rows.append({"optimizer": spec.name, "hyper": spec.hyper, "kind": spec.kind, "at_epochs": e,
                     "at_seconds": s, "epochs_budget_met": h["epoch"][-1] >= epochs, "error": h.get("error"),
                     "history": h})
        ls = "-" if spec.kind == "mb" else "--"
        axes[0].plot(h["epoch"], h["loss"], ls, color=cmap(k % 20), label=spec.name, lw=1.3)
        axes[1].plot(h["time"], h["loss"], ls, color=cmap(k % 20), label=spec.name, lw=1.3)
    for ax, xl in zip(axes, ("epoch", "training seconds")):
        ax.set_yscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel("training loss")
        ax.grid(alpha=0.3)
    axes[0].set_xlim(0, epochs)
    axes[1].set_xlim(0, seconds)
    axes[1].legend(fontsize=7, ncol=2, loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out / f"{task.name}_curves.png", dpi=110)
    plt.close(fig)
    return rows


# ------------------------------------------------------------------------------------ 2-D trajectories
def trajectories(out: Path, steps: int) -> dict:
    def beale_np(x, y):
        return sum((c - x + x * y ** i) ** 2 for i, c in enumerate((1.5, 2.25, 2.625), start=1))

    problems = [  # name, R, residuals, start, minimum, plot box, lr for GD-like methods, R on a grid (NumPy)
        ("Rosenbrock", F.rosenbrock, F.rosenbrock_residuals, (-1.5, 2.0), (1.0, 1.0), (-2, 2, -1, 3), 1e-3,
         lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2),
        ("Beale", F.beale, F.beale_residuals, (1.0, 1.5), (3.0, 0.5), (-0.5, 4, -1.5, 2), 1e-3, beale_np),
        ("ill-conditioned quadratic (κ = 50)", F.ill_conditioned_quadratic,
         lambda w: w * cr.Tensor(np.sqrt([1.0, 50.0])), (-4.0, 1.0), (0.0, 0.0), (-4.5, 4.5, -1.5, 1.5), 0.02,
         lambda x, y: 0.5 * (x * x + 50 * y * y)),
    ]
    methods = [
        ("GD", lambda p, lr: optim.GD(p, lr=lr), "loss"),
        ("SGD momentum", lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9), "loss"),
        ("Nesterov", lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9, nesterov=True), "loss"),
        ("Adagrad", lambda p, lr: optim.Adagrad(p, lr=0.5), "loss"),
        ("RMSprop", lambda p, lr: optim.RMSprop(p, lr=0.01), "loss"),
        ("Adam", lambda p, lr: optim.Adam(p, lr=0.05), "loss"),
        ("Rprop", lambda p, lr: optim.Rprop(p, lr=0.01), "loss"),
        ("Quickprop", lambda p, lr: optim.Quickprop(p, lr=lr), "loss"),
        ("CG", lambda p, lr: optim.ConjugateGradient(p), "loss"),
        ("L-BFGS", lambda p, lr: optim.LBFGS(p, max_iter=1, max_eval=25, line_search_fn="strong_wolfe"), "loss"),
        ("Newton", lambda p, lr: optim.Newton(p, line_search_fn="armijo"), "newton"),
        ("LM", lambda p, lr: optim.LevenbergMarquardt(p, max_iter=1), "residual"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.6))
    cmap = plt.get_cmap("tab20")
    summary = {}
    for ax, (pname, f, res, w0, wstar, box, lr, f_np) in zip(axes, problems):
        xs = np.linspace(box[0], box[1], 300)
        ys = np.linspace(box[2], box[3], 300)
        XX, YY = np.meshgrid(xs, ys)
        ZZ = f_np(XX, YY)
        ax.contour(XX, YY, np.log1p(ZZ - ZZ.min()), levels=30, cmap="Greys", linewidths=0.6)
        ax.plot(*wstar, "k*", ms=14)
        summary[pname] = {}
        for k, (mname, make, kind) in enumerate(methods):
            w = cr.Tensor(np.array(w0), requires_grad=True)
            opt = make([w], lr)

            def closure(opt=opt, w=w, kind=kind, f=f, res=res):
                if kind == "residual":
                    return res(w)
                if kind == "newton":
                    return f(w)
                opt.zero_grad()
                v = f(w)
                v.backward()
                return v
            path = [w.data.copy()]
            for _ in range(steps):
                try:
                    opt.step(closure)
                except FloatingPointError:
                    break
                path.append(w.data.copy())
                if not np.isfinite(w.data).all() or np.abs(w.data).max() > 1e3:
                    break
            path = np.array(path)
            dist = float(np.linalg.norm(path[-1] - np.array(wstar)))
            hit = next((i for i, p in enumerate(path) if np.linalg.norm(p - np.array(wstar)) < 1e-3), None)
            summary[pname][mname] = {"final_distance": dist, "steps_to_1e-3": hit}
            ax.plot(path[:, 0], path[:, 1], ".-", color=cmap(k), ms=2, lw=1, label=mname)
        ax.set_xlim(box[0], box[1])
        ax.set_ylim(box[2], box[3])
        ax.set_title(f"{pname}, {steps} steps from {w0}")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out / "trajectories.png", dpi=110)
    plt.close(fig)
    return summary


# --------------------------------------------------------------------------------------- Gabor landscape
def gabor(out: Path, steps: int) -> dict:
    """OPT-GABOR-LANDSCAPE: full-batch GD, lr 0.05, from a 5 × 5 grid of starts."""
    x, y = F.gabor_data(n=100, noise=0.1, seed=0)
    grid = np.array([[a, b] for a in np.linspace(-10, 10, 5) for b in np.linspace(2.5, 47.5, 5)])
    phi = cr.Tensor(grid.copy(), requires_grad=True)
    opt = optim.GD([phi], lr=0.05)
    paths = [phi.data.copy()]
    for k in tqdm(range(steps), desc="gabor GD", unit="step", mininterval=1.0):
        opt.zero_grad()
        F.gabor_loss(x, y, phi).sum().backward()
        opt.step()
        if k % max(1, steps // 200) == 0:
            paths.append(phi.data.copy())
    paths.append(phi.data.copy())
    paths = np.array(paths)
    final = F.gabor_loss(x, y, phi).data
    l_star = float(F.gabor_loss(x, y, cr.Tensor(np.array([0.0, 25.0]))).data)
    a = np.linspace(-12, 12, 121)
    b = np.linspace(0, 50, 121)
    AA, BB = np.meshgrid(a, b)
    LL = F.gabor_loss(x, y, cr.Tensor(np.stack([AA, BB], axis=-1))).data
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    cs = axes[0].contourf(AA, BB, LL, levels=40, cmap="viridis")
    fig.colorbar(cs, ax=axes[0], label="L(φ)")
    for i in range(paths.shape[1]):
        axes[0].plot(paths[:, i, 0], paths[:, i, 1], "w-", lw=0.8)
        axes[0].plot(paths[-1, i, 0], paths[-1, i, 1], "ro", ms=4)
    axes[0].plot(0, 25, "w*", ms=14)
    axes[0].set_xlabel("φ₀")
    axes[0].set_ylabel("φ₁")
    axes[0].set_title(f"GD (lr 0.05, {steps} steps) from 25 starts")
    xs = np.linspace(-15, 15, 400)
    axes[1].plot(x, y, "k.", ms=4, label="data")
    best, worst = int(np.argmin(final)), int(np.argmax(final))
    for i, lab in ((best, "best"), (worst, "worst")):
        axes[1].plot(xs, F.gabor_model(xs, cr.Tensor(phi.data[i])).data, label=f"{lab} start: L = {final[i]:.4f}")
    axes[1].legend()
    axes[1].set_title("fits from two starts")
    fig.tight_layout()
    fig.savefig(out / "gabor_landscape.png", dpi=110)
    plt.close(fig)
    return {"final_losses": sorted(float(v) for v in final), "n_distinct_1e-3": int(len(np.unique(np.round(final, 3)))),
            "L_phi_star": l_star, "lowest": float(final.min()), "steps": steps}


# -------------------------------------------------------------------------------------------- reporting
def fmt(v, nd=4):
    if v is None:
        return "–"
    return f"{v:.{nd}g}" if isinstance(v, float) else str(v)


def table(rows, epochs, seconds, classify) -> str:
    hdr = ["optimizer", "hyperparameters", f"loss @ {epochs} ep", f"s for {epochs} ep"]
    if classify:
        hdr.insert(3, f"test acc @ {epochs} ep")
    hdr += [f"loss @ {seconds:g} s", f"epochs in {seconds:g} s"]
    if classify:
        hdr.append(f"test acc @ {seconds:g} s")
    lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    for r in rows:
        e, s = r["at_epochs"], r["at_seconds"]
        cells = [r["optimizer"], r["hyper"], fmt(e["loss"]) + ("" if r["epochs_budget_met"] else " (budget not met)"),
                 fmt(e["time"], 3)]
        if classify:
            cells.insert(3, fmt(e["acc"], 4))
        cells += [fmt(s["loss"]), str(s["epoch"])]
        if classify:
            cells.append(fmt(s["acc"], 4))
        if r.get("error"):
            cells[0] += f" ({r['error'][:40]})"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test of the whole pipeline")
    ap.add_argument("--out", default=None,
                    help="output folder (default docs/optimizers; with --quick docs/optimizers/quick)")
    ap.add_argument("--parts", default="regression,mnist,mnist7,trajectories,gabor")
    args = ap.parse_args(argv)
    out = Path(args.out or (ROOT / "docs" / "optimizers" / ("quick" if args.quick else "")))
    out.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    q = args.quick
    results: dict = {"quick": q, "parts": {}}
    md = ["# Optimizer comparison", "",
          f"Generated by `python examples/optimizers/compare.py{' --quick' if q else ''}` "
          f"({time.strftime('%Y-%m-%d')}). Times are wall-clock seconds of training only, measured on a shared "
          "2-core machine (other jobs running), so compare them within one table only.", ""]

    tasks = []
    if "regression" in parts:
        tasks.append((Regression.build(), (10, 0.3) if q else (300, 10.0),
                      "regression: 1-16-1 tanh MLP, 200 points, MSE"))
    if "mnist" in parts or "mnist7" in parts:
        try:
            Xtr, ytr, Xte, yte = load_mnist_arrays()
        except Exception as e:  # pragma: no cover
            print(f"MNIST not available ({e}); skipping the MNIST tasks")
            Xtr = None
        if Xtr is not None and "mnist" in parts:
            n = 6000 if q else 60000
            tasks.append((MNISTTask(Xtr[:n], ytr[:n], Xte[:2000] if q else Xte, yte[:2000] if q else yte, 64, "mnist"),
                          (1, 0.5) if q else (5, 40.0), f"MNIST: 784-64-10 tanh MLP, {n} training images"))
        if Xtr is not None and "mnist7" in parts:
            n = 200 if q else 2000
            tasks.append((MNISTTask(pool7(Xtr[:n]).astype(np.float64), ytr[:n], pool7(Xte).astype(np.float64), yte, 10,
                                    "mnist7"), (2, 0.3) if q else (30, 20.0),
                          f"MNIST 7×7: 49-10-10 tanh MLP (610 weights), {n} training images, float64"))
    for task, (epochs, seconds), title in tasks:
        rows = run_task(task, epochs, seconds, out, title)
        results["parts"][task.name] = {"title": title, "epochs": epochs, "seconds": seconds, "rows": [
            {k: v for k, v in r.items() if k != "history"} for r in rows]}
        md += [f"## {title}", "", f"Budgets: {epochs} epochs, {seconds:g} s of training. Curves: "
               f"`{task.name}_curves.png` (dashed = full-batch methods).", "",
               table(rows, epochs, seconds, task.classify), "", f"![{task.name}]({task.name}_curves.png)", ""]
        if task.name == "mnist":
            md += ["Newton, Gauss-Newton and Levenberg-Marquardt form W × W matrices and are meant for ≤ 10⁴ weights; "
                   "this MLP has 50,890, so they run on the 7 × 7 task below instead.", ""]
    if "trajectories" in parts:
        summ = trajectories(out, 30 if q else 300)
        results["parts"]["trajectories"] = summ
        md += ["## Trajectories on 2-D test functions", "", "![trajectories](trajectories.png)", "",
               "| function | " + " | ".join(next(iter(summ.values())).keys()) + " |",
               "|---|" + "---|" * len(next(iter(summ.values())))]
        for fname, d in summ.items():
            md.append(f"| {fname} (steps to 1e-3) | " + " | ".join(
                str(v["steps_to_1e-3"]) if v["steps_to_1e-3"] is not None else f"– ({v['final_distance']:.2g})"
                for v in d.values()) + " |")
        md.append("")
    if "gabor" in parts:
        g = gabor(out, 500 if q else 20000)
        results["parts"]["gabor"] = g
        md += ["## Non-convex landscape (OPT-GABOR-LANDSCAPE)", "",
               f"Full-batch GD (lr 0.05, {g['steps']} steps) from the 5 × 5 grid φ₀ ∈ linspace(−10, 10, 5), "
               f"φ₁ ∈ linspace(2.5, 47.5, 5) ends at {g['n_distinct_1e-3']} distinct losses "
               f"({g['final_losses'][0]:.4f} … {g['final_losses'][-1]:.4f}); the lowest, {g['lowest']:.4f}, is within "
               f"1.5 × L(φ*) = {1.5 * g['L_phi_star']:.4f}.", "", "![gabor](gabor_landscape.png)", ""]
    name = "results"
    (out / f"{name}.md").write_text("\n".join(md) + "\n")
    (out / f"{name}.json").write_text(json.dumps(results, indent=1, default=float))
    print(f"wrote {out / (name + '.md')}")


if __name__ == "__main__":
    main()
