"""Time-series regression with truncated BPTT: RNN vs LSTM vs GRU on the Mackey–Glass series.

(spec: RNN-BPTT, RNN-ELMAN, RNN-LSTM)  The chaotic Mackey–Glass series (τ = 17) is predicted one step
ahead: input x_t, target x_{t+1}.  The 8000-step training stream is cut into 16 parallel streams of 500
steps and consumed by truncated BPTT(k1 = 20, k2 = 40) — every 20 steps an update whose loss is the MSE
of the last 20 predictions and whose gradient flows back 40 steps — with the state carried (detached)
from window to window and gradient norms clipped at 1.0.  Each model: one recurrent layer (hidden 32)
and a per-step Linear read-out (``StepwiseHead``); Adam 3e-3; the same data and windows for all three.
Reported: test MSE on a held-out continuation (after a 100-step warm-up), relative to the "persistence"
forecast x̂_{t+1} = x_t.

Writes docs/sequence/time_series.{png,json}.
Run: python examples/sequence/time_series.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save
from tqdm import tqdm

import chainrule as cr
from chainrule import nn, optim
from chainrule.train.bptt import StepwiseHead, truncated_bptt


def mackey_glass(n: int, tau: int = 17, beta: float = 0.2, gamma: float = 0.1, p: int = 10, dt: float = 0.1,
                 sample: int = 10, seed: int = 0) -> np.ndarray:
    """dx/dt = β x(t−τ)/(1 + x(t−τ)^p) − γ x(t), Euler with step dt, sampled every ``sample`` steps (= 1 time unit)."""
    rng = np.random.default_rng(seed)
    d = int(tau / dt)
    steps = (n + 200) * sample
    x = np.empty(steps + d)
    x[:d] = 1.2 + 0.05 * rng.standard_normal(d)
    for t in range(d, steps + d - 1):
        xd = x[t - d]
        x[t + 1] = x[t] + dt * (beta * xd / (1 + xd ** p) - gamma * x[t])
    return x[d + 200 * sample::sample][:n]


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__, seed=True)
    import matplotlib.pyplot as plt
    n_train, n_test = (2000, 600) if args.quick else (8000, 2000)
    series = mackey_glass(n_train + n_test + 1, seed=args.seed)
    mu, sd = series[:n_train].mean(), series[:n_train].std()
    z = ((series - mu) / sd).astype(np.float32)
    S = 16
    L = n_train // S
    tr = z[:S * L + 1]
    X = np.stack([tr[i * L:(i + 1) * L] for i in range(S)], 1)[:, :, None]          # (L, S, 1)
    Y = np.stack([tr[i * L + 1:(i + 1) * L + 1] for i in range(S)], 1)[:, :, None]
    te_x = z[n_train:n_train + n_test][:, None, None]
    te_y = z[n_train + 1:n_train + n_test + 1][:, None, None]
    epochs = 4 if args.quick else 30
    k1, k2 = 20, 40
    mse = lambda a, b: nn.functional.mse_loss(a, b)
    res, curves, preds = {}, {}, {}
    warm = 100
    persistence = float(np.mean((te_x[warm:, 0, 0] - te_y[warm:, 0, 0]) ** 2))
    for name in ("RNN", "LSTM", "GRU"):
        g = cr.Generator(args.seed)
        model = StepwiseHead(getattr(nn, name)(1, 32, generator=g), nn.Linear(32, 1, generator=g))
        opt = optim.Adam(model.parameters(), lr=3e-3)
        losses, epoch_loss = [], []
        import time
        t0 = time.perf_counter()
        for _ in tqdm(range(epochs), desc=f"{name:4s}", unit="epoch"):
            r = truncated_bptt(model, cr.Tensor(X), cr.Tensor(Y), mse, opt, k1=k1, k2=k2, clip_norm=1.0)
            losses.extend(r.losses)
            epoch_loss.append(float(np.mean(r.losses[1:])))   # the first window starts from a zero state
        secs = time.perf_counter() - t0
        with cr.no_grad():
            p, _ = model(cr.Tensor(te_x))
        err = float(np.mean((p.data[warm:, 0, 0] - te_y[warm:, 0, 0]) ** 2))
        res[name] = {"test_mse": err, "test_mse_over_persistence": err / persistence,
                     "final_train_loss_avg50": float(np.mean(losses[-50:])), "updates": len(losses),
                     "train_seconds": secs}
        res[name]["train_loss_per_epoch"] = epoch_loss
        curves[name], preds[name] = epoch_loss, p.data[:, 0, 0]
        print(f"{name}: test MSE {err:.2e} = {err / persistence:.3f} × persistence")
    fig, ax = plt.subplots(1, 3, figsize=(17, 4))
    for name, l in curves.items():
        ax[0].plot(np.arange(1, len(l) + 1), l, "o-", ms=3, label=f"{name}: test MSE {res[name]['test_mse']:.1e}")
    ax[0].axhline(persistence, color="k", ls=":", label=f"persistence {persistence:.1e}")
    ax[0].set(yscale="log", xlabel="epoch (TBPTT k1 = 20, k2 = 40)", ylabel="train MSE (mean over the epoch's windows)",
              title="Mackey–Glass one-step-ahead prediction")
    ax[0].legend(fontsize=8)
    t = np.arange(warm, min(n_test, warm + 300))
    ax[1].plot(t, te_y[t, 0, 0], "k", lw=2, label="target")
    for name in preds:
        ax[1].plot(t, preds[name][t], lw=1, label=name)
    ax[1].set(xlabel="test time step", title="predictions on the held-out continuation")
    ax[1].legend(fontsize=8)
    names = list(res)
    vals = [res[k]["test_mse_over_persistence"] for k in names]
    ax[2].bar(names, vals, color=["C0", "C1", "C2"])
    ax[2].set(yscale="log", ylabel="test MSE / persistence MSE", title="final error (lower is better)")
    for i, v in enumerate(vals):
        ax[2].text(i, v, f"{v:.3f}", ha="center", va="bottom")
    fig.tight_layout()
    return save(args, "time_series", fig,
                {"series": "Mackey-Glass tau=17, standardized", "train_steps": S * L, "parallel_streams": S,
                 "test_steps": n_test, "epochs": epochs, "k1": k1, "k2": k2, "hidden": 32,
                 "optimizer": "Adam 3e-3, clip_grad_norm 1.0", "persistence_mse": persistence, "results": res,
                 **{f"{k}_test_mse": v["test_mse"] for k, v in res.items()}})


if __name__ == "__main__":
    main()
