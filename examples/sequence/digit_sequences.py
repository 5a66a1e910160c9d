"""Digits read as sequences: RNN vs LSTM vs GRU on row-by-row MNIST (spec: RNN-ELMAN, RNN-LSTM, RNN-BPTT).

Each 28×28 image is a sequence of T = 28 rows of 28 pixels (time-major (T, N, 28)); a recurrent layer
(hidden 64) reads it and a Linear(64, 10) head classifies the last hidden state h_T (softmax
cross-entropy, full BPTT through the 28 steps, Adam 1e-3, batch 64, gradient norm clipped at 1).
The three layers get identical data order and settings.  Without the MNIST files the embedded 8×8
digits are used (T = 8 rows of 8 pixels).

Writes docs/sequence/digit_sequences.{png,json}.
Run: python examples/sequence/digit_sequences.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save, smooth
from tqdm import tqdm

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.nn.utils import clip_grad_norm_


def load(quick: bool):
    try:
        X, y = cr.data.load_mnist(split="train")
        Xt, yt = cr.data.load_mnist(split="test")
        src = "MNIST"
        X, Xt = X[:, 0], Xt[:, 0]                                  # (N, 28, 28)
    except Exception:                                               # noqa: BLE001  (no data: embedded digits)
        D = cr.data.load_digits()
        Xa, ya = (D[0], D[1]) if isinstance(D, tuple) else (D["data"], D["target"])
        Xa = np.asarray(Xa, np.float32).reshape(-1, 8, 8)
        Xa = Xa / max(1.0, float(Xa.max()))
        ya = np.asarray(ya, np.int64)
        perm = np.random.default_rng(0).permutation(len(Xa))
        Xa, ya = Xa[perm], ya[perm]
        n = int(0.8 * len(Xa))
        X, y, Xt, yt, src = Xa[:n], ya[:n], Xa[n:], ya[n:], "embedded 8x8 digits"
    if quick:
        X, y, Xt, yt = X[:3000], y[:3000], Xt[:1000], yt[:1000]
    # time-major sequences (T, N, F)
    return (np.ascontiguousarray(X.transpose(1, 0, 2), np.float32), y,
            np.ascontiguousarray(Xt.transpose(1, 0, 2), np.float32), yt, src)


def accuracy(rnn, head, X, y, bs=1000):
    correct = 0
    with cr.no_grad():
        for s in range(0, X.shape[1], bs):
            _, h = rnn(cr.Tensor(X[:, s:s + bs]))
            h = h[0] if isinstance(h, tuple) else h
            correct += int((head(h[-1]).data.argmax(1) == y[s:s + bs]).sum())
    return correct / X.shape[1]


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__, seed=True)
    import matplotlib.pyplot as plt
    X, y, Xt, yt, src = load(args.quick)
    T, n, Fdim = X.shape
    H, bs = 64, 64
    epochs = 1 if args.quick else 3
    res, curves = {}, {}
    for name in ("RNN", "LSTM", "GRU"):
        g = cr.Generator(args.seed)
        rnn = getattr(nn, name)(Fdim, H, generator=g)
        head = nn.Linear(H, 10, generator=g)
        opt = optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-3)
        params = list(rnn.parameters()) + list(head.parameters())
        rng = np.random.default_rng(args.seed + 1)                   # same batch order for all three
        losses, evals = [], []
        steps = epochs * (n // bs)
        bar = tqdm(total=steps, desc=f"{name:4s}", unit="step")
        import time
        t0 = time.perf_counter()
        for _ep in range(epochs):
            perm = rng.permutation(n)
            for s in range(0, n - bs + 1, bs):
                b = perm[s:s + bs]
                _, h = rnn(cr.Tensor(X[:, b]))
                h = h[0] if isinstance(h, tuple) else h
                loss = F.cross_entropy(head(h[-1]), y[b])
                opt.zero_grad()
                loss.backward()
                clip_grad_norm_(params, 1.0)
                opt.step()
                losses.append(float(loss.data))
                bar.update(1)
                if len(losses) % 50 == 0:
                    bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
            evals.append(accuracy(rnn, head, Xt, yt))
        bar.close()
        secs = time.perf_counter() - t0
        res[name] = {"test_accuracy": evals[-1], "test_accuracy_per_epoch": evals,
                     "final_train_loss_avg100": float(np.mean(losses[-100:])), "train_seconds": secs,
                     "parameters": int(sum(p.size for p in params)), "steps": len(losses)}
        curves[name] = losses
        print(f"{name}: test accuracy {evals[-1]:.4f}  ({secs:.0f} s)")
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    for name, l in curves.items():
        ax[0].plot(smooth(l, 25), label=f"{name} (test acc {res[name]['test_accuracy']:.3f})")
    ax[0].set(xlabel="update", ylabel="training loss (moving avg 25)", yscale="log",
              title=f"{src} read row by row (T = {T}), hidden 64")
    ax[0].legend()
    names = list(res)
    ax[1].bar(names, [1 - res[k]["test_accuracy"] for k in names], color=["C0", "C1", "C2"])
    ax[1].set(ylabel="test error", title=f"after {epochs} epoch(s) of {n} sequences")
    for i, k in enumerate(names):
        ax[1].text(i, 1 - res[k]["test_accuracy"], f"{1 - res[k]['test_accuracy']:.3f}", ha="center", va="bottom")
    return save(args, "digit_sequences", fig,
                {"data": src, "T": T, "train_sequences": n, "test_sequences": Xt.shape[1], "epochs": epochs,
                 "hidden": H, "batch": bs, "optimizer": "Adam 1e-3, clip_grad_norm 1.0", "results": res,
                 **{f"{k}_test_accuracy": v["test_accuracy"] for k, v in res.items()}})


if __name__ == "__main__":
    main()
