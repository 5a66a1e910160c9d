"""A binary RBM on MNIST trained by CD-1 and by persistent CD: filters, Gibbs samples, features.

(spec: RBM, NEURON-STOCHASTIC-BINARY)  784 visible units (pixel intensities in [0, 1] used as the
probabilities of binary units), 225 hidden units, learning rate 0.05, momentum 0.5, batch 20.
Reported per epoch: mean-field reconstruction error and the stochastic pseudo-log-likelihood (one random
pixel flipped per image, V·log σ(F(ṽ) − F(v)), as scikit-learn's ``score_samples``) on train and test;
then samples from Gibbs chains started at test digits and at noise, and the test accuracy of a softmax
classifier trained on the 225 hidden probabilities (vs. on the raw pixels).

Writes docs/unsupervised/rbm_{filters,samples,curves}.png and rbm_mnist.json.
Run: python examples/unsupervised/rbm_mnist.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, plain, save, save_fig, tile_images
from tqdm import tqdm

import chainrule as cr
from chainrule import nn, optim
from chainrule.models import BernoulliRBM
from chainrule.nn import functional as F


def load(quick: bool):
    try:
        X, y = cr.data.load_mnist(split="train", flatten=True)
        Xt, yt = cr.data.load_mnist(split="test", flatten=True)
        src, side = "MNIST", 28
    except Exception:                                                         # noqa: BLE001
        Xa, ya = cr.data.load_digits()
        Xa = np.asarray(Xa, np.float32).reshape(len(Xa), -1)
        Xa /= Xa.max()
        X, y, Xt, yt, src, side = Xa[:1400], ya[:1400], Xa[1400:], ya[1400:], "embedded 8x8 digits", 8
    if quick:
        X, y, Xt, yt = X[:3000], y[:3000], Xt[:1000], yt[:1000]
    return X.astype(np.float32), np.asarray(y), Xt.astype(np.float32), np.asarray(yt), src, side


def pseudo_ll(rbm: BernoulliRBM, X: np.ndarray, rng) -> float:
    """Stochastic pseudo-log-likelihood per image: V · log σ(F(ṽ) − F(v)), ṽ = v with one random bit flipped
    (on binarised v)."""
    V = (X > 0.5).astype(np.float64)
    flip = rng.integers(0, V.shape[1], len(V))
    Vf = V.copy()
    Vf[np.arange(len(V)), flip] = 1 - Vf[np.arange(len(V)), flip]
    fe = rbm._free_energy_np(V)
    fe_f = rbm._free_energy_np(Vf)
    return float(np.mean(V.shape[1] * -np.logaddexp(0, -(fe_f - fe))))


def softmax_probe(Ftr, y, Fte, yt, epochs: int, seed: int) -> float:
    lin = nn.Linear(Ftr.shape[1], 10, generator=cr.Generator(seed))
    opt = optim.Adam(lin.parameters(), lr=1e-2 if Ftr.shape[1] < 300 else 3e-3)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        perm = rng.permutation(len(Ftr))
        for s in range(0, len(Ftr), 128):
            b = perm[s:s + 128]
            loss = F.cross_entropy(lin(cr.Tensor(Ftr[b])), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with cr.no_grad():
        return float((lin(cr.Tensor(Fte)).data.argmax(1) == yt).mean())


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__, seed=True)
    import matplotlib.pyplot as plt
    X, y, Xt, yt, src, side = load(args.quick)
    epochs = 2 if args.quick else 10
    H = 225 if side == 28 else 64
    rng = np.random.default_rng(args.seed)
    runs, hist = {}, {}
    for mode in ("CD-1", "PCD-1"):
        rbm = BernoulliRBM(H, learning_rate=0.05, batch_size=20, momentum=0.5, persistent=(mode == "PCD-1"),
                           n_chains=100, generator=cr.Generator(args.seed))
        h = []
        bar = tqdm(range(epochs), desc=mode, unit="epoch")
        for ep in bar:
            rbm.fit(X, epochs=1)
            rec = {"epoch": ep + 1, "recon_train": rbm.reconstruction_error(X[:5000]),
                   "recon_test": rbm.reconstruction_error(Xt[:5000]),
                   "pseudo_ll_train": pseudo_ll(rbm, X[:5000], rng), "pseudo_ll_test": pseudo_ll(rbm, Xt[:5000], rng)}
            h.append(rec)
            bar.set_postfix(recon=f"{rec['recon_test']:.4f}", pll=f"{rec['pseudo_ll_test']:.1f}")
        runs[mode], hist[mode] = rbm, h

    rbm = runs["CD-1"]
    # filters
    W = rbm.components_
    fig = plt.figure(figsize=(8, 8))
    k = int(np.sqrt(H))
    lim = np.percentile(np.abs(W), 99)
    plt.imshow(tile_images(np.clip(W / lim, -1, 1), side, k, k), cmap="gray", vmin=-1, vmax=1)
    plt.axis("off")
    plt.title(f"{H} RBM filters (rows of W) after {epochs} epochs of CD-1 on {src}")
    save_fig(args, "rbm_filters", fig)
    # Gibbs samples: chains from test digits and from noise, for both training methods
    snaps = [1, 10, 100, 1000] if not args.quick else [1, 10, 100]
    fig, axes = plt.subplots(2, 1, figsize=(10, 2.1 * (len(snaps) + 2) * 0.95))
    for ax, (mode, model) in zip(axes, runs.items()):
        g = cr.Generator(args.seed + 7)
        starts = Xt[:10]
        rows = [starts]
        V = (starts > 0.5).astype(np.float32)
        done = 0
        for sstep in snaps:
            V = model.gibbs(V, steps=sstep - done, generator=g)
            done = sstep
            rows.append(model.visible_probs(model._sample_h(model.hidden_probs(V), g)))
        rows.append(model.sample(10, n_steps=snaps[-1], generator=g))
        ax.imshow(tile_images(np.concatenate(rows), side, len(rows), 10), cmap="gray")
        ax.set_yticks([(i + 0.5) * (side + 1) for i in range(len(rows))])
        ax.set_yticklabels(["test digit"] + [f"Gibbs step {s_}" for s_ in snaps] + [f"from noise, {snaps[-1]} steps"])
        ax.set_xticks([])
        ax.set_title(f"{mode} model: P(v | h) along Gibbs chains")
    fig.tight_layout()
    save_fig(args, "rbm_samples", fig)
    # classification probe
    pe = 3 if args.quick else 10
    acc_rbm = softmax_probe(rbm.transform(X), y, rbm.transform(Xt), yt, pe, args.seed)
    acc_raw = softmax_probe(X, y, Xt, yt, pe, args.seed)
    # curves
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    for mode, h in hist.items():
        e = [r["epoch"] for r in h]
        ax[0].plot(e, [r["recon_train"] for r in h], "o-", label=f"{mode} train")
        ax[0].plot(e, [r["recon_test"] for r in h], "s--", label=f"{mode} test")
        ax[1].plot(e, [r["pseudo_ll_train"] for r in h], "o-", label=f"{mode} train")
        ax[1].plot(e, [r["pseudo_ll_test"] for r in h], "s--", label=f"{mode} test")
    ax[0].set(xlabel="epoch", ylabel="mean-field reconstruction MSE", title="reconstruction error")
    ax[1].set(xlabel="epoch", ylabel="pseudo-log-likelihood / image", title="stochastic pseudo-likelihood")
    ax[0].legend(fontsize=8)
    ax[1].legend(fontsize=8)
    numbers = {"data": src, "hidden_units": H, "epochs": epochs, "learning_rate": 0.05, "batch": 20, "momentum": 0.5,
               "history": plain(hist),
               "final": {m: h[-1] for m, h in hist.items()},
               "softmax_on_rbm_features_test_acc": acc_rbm, "softmax_on_pixels_test_acc": acc_raw,
               "CD-1_recon_test": hist["CD-1"][-1]["recon_test"], "PCD-1_recon_test": hist["PCD-1"][-1]["recon_test"],
               "CD-1_pseudo_ll_test": hist["CD-1"][-1]["pseudo_ll_test"],
               "PCD-1_pseudo_ll_test": hist["PCD-1"][-1]["pseudo_ll_test"],
               "figures": ["rbm_filters.png", "rbm_samples.png", "rbm_curves.png"]}
    return save(args, "rbm_curves", fig, numbers, json_name="rbm_mnist")


if __name__ == "__main__":
    main()
