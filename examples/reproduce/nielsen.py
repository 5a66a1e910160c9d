"""The sigmoid-MLP MNIST recipe, three depths × three seeds (spec 03 reference results rows 1–3,
RECIPE-NIELSEN-MNIST).

Data: the first 50,000 MNIST training images (pixel/255, flattened; one-hot targets), the last 10,000 as
validation (recorded, unused), the 10,000 test images.  Model ``MLP(sizes, activation='sigmoid',
output_activation='sigmoid', init='normal')`` (N(0, 1) weights and biases).  Cost ½‖a − y‖² summed over
the 10 outputs and averaged over the batch, plain SGD η = 3.0, batch 10, 30 epochs, reshuffled every
epoch — implemented as ``mse_loss(reduction='mean')`` with η = 15.0, which is the same update (the mean
also divides by the K = 10 outputs, so mse = c·2/K and 15·2/K = 3.0; checked by the task
``nielsen-equivalence`` and by tests/examples/test_reproduce.py).  Reported: 94.84 %, 95.81 %, 95.07 %.

    python examples/reproduce/nielsen.py [--quick] [--force]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import pct
from reproduce_common import Task, load_mnist_flat, missing_row, row, standalone

ARCHS = {"784-30-10": [784, 30, 10], "784-30-30-10": [784, 30, 30, 10], "784-30-30-30-10": [784, 30, 30, 30, 10]}
REPORTED = {"784-30-10": 0.9484, "784-30-30-10": 0.9581, "784-30-30-30-10": 0.9507}
SEEDS = (0, 1, 2)
SRC = "spec 03, reference results"


def nielsen_model(sizes, seed: int, dtype=None):
    """The recipe's network: sigmoid hidden and output units, N(0, 1) weights and biases."""
    import chainrule as cr
    from chainrule.models import MLP
    return MLP(list(sizes), activation="sigmoid", output_activation="sigmoid", init="normal", dtype=dtype,
               generator=cr.Generator(seed))


def sgd_updates(model, X, Y, batch_order, lr: float, loss: str) -> None:
    """Minibatch SGD over the batches ``batch_order`` (index arrays).  ``loss='mse_mean'``: the library's
    mse_loss(reduction='mean') (averaged over batch and outputs); ``'half_sum'``: c = ½‖a − y‖² summed
    over outputs, averaged over the batch (the recipe's cost)."""
    import chainrule as cr
    from chainrule.nn import functional as F
    opt = cr.optim.SGD(model.parameters(), lr=lr)
    for idx in batch_order:
        out = model(cr.Tensor(X[idx]))
        if loss == "mse_mean":
            c = F.mse_loss(out, Y[idx])
        elif loss == "half_sum":
            c = F.mse_loss(out, Y[idx], reduction="sum") * (0.5 / len(idx))
        else:
            raise ValueError(f"loss must be 'mse_mean' or 'half_sum', got {loss!r}")
        opt.zero_grad()
        c.backward()
        opt.step()


def equivalence_gap(X, Y, sizes=(784, 30, 10), steps: int = 200, batch: int = 10, seed: int = 0) -> float:
    """Largest |Δw| between SGD with mse_loss(mean) at η = 15 and SGD with ½‖a − y‖² (summed over the
    K = 10 outputs, mean over the batch) at η = 3, in float64 from the same init over the same batches.
    The gradients differ by the factor 2/K = 0.2, so the updates agree to rounding."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    rng = np.random.default_rng(seed)
    order = [rng.choice(len(X), batch, replace=False) for _ in range(steps)]
    a = nielsen_model(sizes, seed, dtype=np.float64)
    b = nielsen_model(sizes, seed, dtype=np.float64)
    sgd_updates(a, X, Y, order, 15.0, "mse_mean")
    sgd_updates(b, X, Y, order, 3.0, "half_sum")
    moved = max(float(np.abs(p.data - q.data).max()) for p, q in zip(a.parameters(), nielsen_model(sizes, seed,
                                                                                                    np.float64).parameters()))
    if moved == 0.0:
        raise RuntimeError("equivalence check: SGD did not move the weights")
    return max(float(np.abs(p.data - q.data).max()) for p, q in zip(a.parameters(), b.parameters()))


def _accuracy(model, X, y) -> tuple[float, np.ndarray]:
    import chainrule as cr
    with cr.no_grad():
        pred = model(cr.Tensor(X)).data.argmax(1)
    return float((pred == y).mean()), pred


def train(settings: dict, ctx) -> dict:
    """One run of the recipe; per-epoch test/validation accuracy and training cost."""
    from tqdm import tqdm

    import chainrule as cr
    from chainrule.nn import functional as F
    sizes, seed, epochs = settings["sizes"], settings["seed"], settings["epochs"]
    n_train, batch, lr = settings["n_train"], settings["batch"], settings["lr_mse_mean"]
    Xall, yall = load_mnist_flat("train")
    Xte, yte = load_mnist_flat("test")
    X, y = Xall[:n_train], yall[:n_train]
    Xva, yva = Xall[50000:], yall[50000:]
    Y = np.eye(10, dtype=np.float32)[y]
    model = nielsen_model(sizes, seed)
    opt = cr.optim.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    hist = {"epoch": [], "test_acc": [], "val_acc": [], "train_cost": [], "epoch_s": []}
    curve = []  # training cost (½‖a−y‖², the recipe's c) averaged over blocks of 500 updates
    acc0, _ = _accuracy(model, Xte, yte)
    t_train = 0.0
    for epoch in range(1, epochs + 1):
        perm = rng.permutation(n_train)
        t0 = time.perf_counter()
        costs = []
        for i in tqdm(range(0, n_train, batch), desc=f"{settings['arch']} s{seed} ep {epoch}/{epochs}",
                      leave=False, disable=not ctx.progress, mininterval=1.0):
            idx = perm[i:i + batch]
            out = model(cr.Tensor(X[idx]))
            loss = F.mse_loss(out, Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            costs.append(loss.data)
        dt = time.perf_counter() - t0
        t_train += dt
        c = np.asarray(costs, dtype=np.float64) * 5.0  # mse mean × K/2 = ½‖a − y‖² per example
        curve += [float(b.mean()) for b in np.array_split(c, max(1, len(c) // 500))]
        te, _ = _accuracy(model, Xte, yte)
        va, _ = _accuracy(model, Xva, yva)
        for k, v in (("epoch", epoch), ("test_acc", te), ("val_acc", va), ("train_cost", float(c.mean())),
                     ("epoch_s", dt)):
            hist[k].append(v)
    final, pred = _accuracy(model, Xte, yte)
    cm = np.zeros((10, 10), dtype=np.int64)
    np.add.at(cm, (yte, pred), 1)
    res = {"arch": settings["arch"], "seed": seed, "test_acc_init": acc0, "final_test_acc": final,
           "best_test_acc": max(hist["test_acc"]), "best_epoch": int(np.argmax(hist["test_acc"]) + 1),
           "history": hist, "cost_curve_500": curve, "train_seconds": t_train,
           "samples_per_s": n_train * epochs / t_train, "confusion": cm,
           "misclassified": np.flatnonzero(pred != yte)[:64], "misclassified_pred": pred[pred != yte][:64]}
    if seed == SEEDS[0]:
        first = model.net[0]
        np.savez_compressed(ctx.artifact("npz"), W1=first.weight.data, b1=first.bias.data)
        res["artifact"] = ctx.artifact("npz").name
    return res


def equivalence(settings: dict, ctx) -> dict:
    X, y = load_mnist_flat("train")
    X, y = X[:2000], y[:2000]
    Y = np.eye(10)[y]
    gap = equivalence_gap(X, Y, steps=settings["steps"], seed=0)
    return {"max_abs_weight_diff": gap, "steps": settings["steps"]}


def tasks(quick: bool) -> list[Task]:
    out = []
    for arch, sizes in ARCHS.items():
        for seed in (SEEDS[:1] if quick else SEEDS):
            s = {"arch": arch, "sizes": sizes, "seed": seed, "epochs": 1 if quick else 30,
                 "n_train": 50000, "batch": 10, "lr_mse_mean": 15.0, "quick": quick}
            est = 8 * len(sizes) / 3 if quick else 25 * len(sizes) + 15
            out.append(Task(f"nielsen-{arch}-s{seed}", train, s, est_s=est))
    out.append(Task("nielsen-equivalence", equivalence, {"steps": 100 if quick else 500}, est_s=5))
    return out


def rows(res: dict, quick: bool) -> list[dict]:
    out = []
    means = {}
    for i, (arch, rep) in enumerate(REPORTED.items(), start=1):
        ids = [t.id for t in tasks(quick) if t.id.startswith(f"nielsen-{arch}-s")]
        got = [res[t] for t in ids if t in res]
        what = f"MLP [{arch.replace('-', ',')}] sigmoid, quadratic cost, SGD η 3.0, batch 10, 30 epochs: test accuracy"
        if not got:
            out.append(missing_row(f"03-{i}", what, source=SRC, spec=["RECIPE-NIELSEN-MNIST"], tasks=ids,
                                   reported=pct(rep, unit="%")))
            continue
        fin = np.array([g["final_test_acc"] for g in got])
        best = np.array([g["best_test_acc"] for g in got])
        means[arch] = (fin.mean(), fin.std(ddof=1) if len(fin) > 1 else 0.0)
        sd = fin.std(ddof=1) if len(fin) > 1 else float("nan")
        repro = (f"{100 * fin.mean():.2f} ± {100 * sd:.2f}% final, {100 * best.mean():.2f}% best epoch "
                 f"({len(fin)} seeds: {', '.join(f'{100 * v:.2f}' for v in fin)})") if len(fin) > 1 else \
            f"{100 * fin[0]:.2f}% final, {100 * best[0]:.2f}% best (1 seed)"
        speed = np.mean([g["samples_per_s"] for g in got])
        if quick:
            ok, tol = bool(fin.mean() >= 0.85), "quick smoke: 1 epoch ≥ 85% (spec CI smoke)"
        elif arch == "784-30-10":
            ok, tol = bool(fin.mean() >= 0.94), "final ≥ 94% (spec RECIPE-NIELSEN-MNIST check)"
        else:
            ok, tol = bool(abs(fin.mean() - rep) <= 0.015), "±1.5 points (spec RECIPE-NIELSEN-MNIST check)"
        note = (f"Reported numbers are single runs (source); here mean ± sample std over seeds. "
                f"{speed:,.0f} training samples/s per run.")
        if len(fin) > 1 and abs(fin.mean() - rep) > 2 * sd:
            note += (f" The mean differs from the reported single run by {100 * (fin.mean() - rep):+.2f} points "
                     f"(> 2 std, inside the spec's ±1.5): the source omits activation, loss and init (spec "
                     f"erratum), so the spec's recipe fixes them; the reported run lies above all our seeds (best "
                     f"epochs {', '.join(f'{100 * v:.2f}' for v in best)}) — a lucky draw or an unstated setting "
                     f"(e.g. reporting the best epoch).")
        out.append(row(f"03-{i}", what, pct(rep, unit="%"), repro, ok, source=SRC,
                       spec=["RECIPE-NIELSEN-MNIST", "SGD-MINIBATCH", "INIT-GAUSSIAN-FANIN"],
                       tasks=ids, tolerance=tol, note=note, value=float(fin.mean()), reported_value=rep))
    if len(means) == 3:
        m2, m3 = means["784-30-30-10"], means["784-30-30-30-10"]
        spread = max(m2[1], m3[1])
        ok = bool(m3[0] <= m2[0] + max(spread, 0.002))
        out.append(row("03-3b", "a third hidden layer does not help (\"deep learning might not help\")",
                       "95.07% < 95.81% (3 vs 2 hidden layers)",
                       f"{100 * m3[0]:.2f}% vs {100 * m2[0]:.2f}% (3 vs 2 hidden layers)", ok, source=SRC,
                       spec=["RECIPE-NIELSEN-MNIST"],
                       tasks=[t.id for t in tasks(quick) if t.id.startswith("nielsen-784-30-30")],
                       tolerance="3-hidden mean ≤ 2-hidden mean + seed spread",
                       note="Sigmoid nets with N(0,1) init train the early layers slowly (vanishing gradients, "
                            "THEORY-VANISHING-GRADIENT), so the extra layer brings no gain at 30 epochs."))
    if "nielsen-equivalence" in res:
        g = res["nielsen-equivalence"]["max_abs_weight_diff"]
        out.append(row("03-1c", "mse_loss(reduction='mean') with η 15 ≡ ½‖a−y‖² (sum over outputs, mean over "
                       "batch) with η 3", "same update (spec RECIPE-NIELSEN-MNIST)",
                       f"max |Δw| = {g:.1e} after {res['nielsen-equivalence']['steps']} float64 steps", g < 1e-10,
                       source="spec 03 RECIPE-NIELSEN-MNIST", spec=["RECIPE-NIELSEN-MNIST", "LOSS-MSE"],
                       tasks=["nielsen-equivalence"], tolerance="< 1e-10"))
    else:
        out.append(missing_row("03-1c", "mse_loss mean η 15 ≡ half-sum η 3", source="spec 03",
                               tasks=["nielsen-equivalence"]))
    return out


def figures(res: dict, fig_dir, cache_dir, quick: bool) -> list[dict]:
    """Learning curves of the three nets (mean ± std over seeds), confusion matrix, misclassified test
    digits and the first-layer weights of seed 0 of [784, 30, 10]."""
    from pathlib import Path

    from chainrule.train.plots import new_figure, plot_confusion_matrix, plot_image_grid, save_figure
    fig_dir = Path(fig_dir)
    figs = []
    runs = {arch: [res[t.id] for t in tasks(quick) if t.id.startswith(f"nielsen-{arch}-s") and t.id in res]
            for arch in ARCHS}
    if any(runs.values()):
        fig = new_figure(figsize=(12, 4))
        ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        for k, (arch, rs) in enumerate(runs.items()):
            if not rs:
                continue
            acc = np.array([r["history"]["test_acc"] for r in rs]) * 100
            cost = np.array([r["history"]["train_cost"] for r in rs])
            ep = np.arange(1, acc.shape[1] + 1)
            ax1.plot(ep, acc.mean(0), "o-", ms=3, color=f"C{k}", label=f"[{arch.replace('-', ',')}]")
            if len(rs) > 1:
                ax1.fill_between(ep, acc.min(0), acc.max(0), color=f"C{k}", alpha=0.2)
            ax1.axhline(100 * REPORTED[arch], color=f"C{k}", ls=":", lw=1)
            ax2.plot(ep, cost.mean(0), "o-", ms=3, color=f"C{k}", label=f"[{arch.replace('-', ',')}]")
        ax1.set(xlabel="epoch", ylabel="test accuracy (%)",
                title="test accuracy (mean, min–max over seeds; dotted: reported)")
        ax1.set_ylim(90, 97)
        ax2.set(xlabel="epoch", ylabel="training cost ½‖a−y‖² (mean over epoch)", yscale="log",
                title="training cost")
        for a in (ax1, ax2):
            a.grid(alpha=0.3)
            a.legend(fontsize=8)
        fig.tight_layout()
        save_figure(fig, fig_dir / "nielsen_curves.png")
        figs.append({"file": "nielsen_curves.png", "caption": "Sigmoid MLPs on MNIST (spec 03 rows 1–3): test "
                     "accuracy after each epoch (band: min–max over seeds, dotted: the reported single runs) and "
                     "training cost."})
    r0 = res.get(f"nielsen-784-30-10-s{SEEDS[0]}")
    if r0:
        plot_confusion_matrix(np.array(r0["confusion"]), fig_dir / "nielsen_confusion.png",
                              title=f"[784,30,10] seed 0: confusion matrix "
                                    f"(test accuracy {100 * r0['final_test_acc']:.2f}%)")
        figs.append({"file": "nielsen_confusion.png", "caption": "Confusion matrix of [784,30,10], seed 0, on the "
                     "10,000 test images (rows: true digit)."})
        try:
            Xte, yte = load_mnist_flat("test")
            idx = np.array(r0["misclassified"][:36], dtype=int)
            pred = np.array(r0["misclassified_pred"][:36], dtype=int)
            plot_image_grid(Xte[idx].reshape(-1, 28, 28), fig_dir / "nielsen_misclassified.png",
                            titles=[f"{t}→{p}" for t, p in zip(yte[idx], pred)], ncols=9,
                            title="[784,30,10] seed 0: misclassified test digits (true→predicted)")
            figs.append({"file": "nielsen_misclassified.png", "caption": "The first 36 misclassified test digits "
                         "(true→predicted)."})
        except (FileNotFoundError, OSError):
            pass
        art = Path(cache_dir) / str(r0.get("artifact", ""))
        if r0.get("artifact") and art.is_file():
            W1 = np.load(art)["W1"]
            plot_image_grid(W1.reshape(-1, 28, 28), fig_dir / "nielsen_filters.png", ncols=10, normalize_each=True,
                            cmap="RdBu_r", title="[784,30,10] seed 0: incoming weights of the 30 hidden units")
            figs.append({"file": "nielsen_filters.png", "caption": "First-layer weights (one 28×28 tile per hidden "
                         "unit, each scaled to its own range) after training."})
    return figs


if __name__ == "__main__":
    standalone("nielsen")
