"""Autoencoders on MNIST: the deep (RBM-pretrained) autoencoder vs PCA, 2-D codes, denoising.

(spec: AUTOENCODER-DEEP, RBM)
1. Hinton & Salakhutdinov (2006) architecture 784-1000-500-250-30 (logistic hidden units, linear 30-unit
   code, logistic outputs): greedy CD-1 pretraining of the RBM stack (the code RBM with Gaussian hidden
   units), unrolling, fine-tuning by backprop on the cross-entropy reconstruction error (Adam 1e-3,
   batch 128).  The same net fine-tuned from a random initialisation, and 30-component PCA, for comparison
   (test reconstruction MSE per pixel).
2. A 784-512-128-2 autoencoder (ReLU, sigmoid output): the 2-D codes of test digits, next to PCA's first two
   components.
3. A denoising autoencoder 784-256-64 trained on masked inputs (40% of the pixels zeroed) vs the same
   autoencoder trained on clean inputs: reconstructions of masked test digits.

Writes docs/unsupervised/autoencoder_{reconstructions,codes2d,denoising}.png and autoencoder_mnist.json.
Run: python examples/unsupervised/autoencoder_mnist.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save, save_fig, tile_images

import chainrule as cr
from chainrule.models import AutoEncoder, DenoisingAutoEncoder


def load(quick: bool):
    try:
        X, y = cr.data.load_mnist(split="train", flatten=True)
        Xt, yt = cr.data.load_mnist(split="test", flatten=True)
    except Exception as e:                                                    # noqa: BLE001
        raise SystemExit(f"this example needs the MNIST IDX files (CHAINRULE_MNIST_DIR): {e}") from e
    n, m = (2000, 1000) if quick else (20000, 10000)
    return X[:n].astype(np.float32), y[:n], Xt[:m].astype(np.float32), yt[:m]


def pca(X, k):
    mu = X.mean(0)
    _, _, Vt = np.linalg.svd(X - mu, full_matrices=False)
    return mu, Vt[:k]


def mse(a, b):
    return float(np.mean((a - b) ** 2))


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__, seed=True)
    import matplotlib.pyplot as plt
    X, y, Xt, yt = load(args.quick)
    ep = 1 if args.quick else 10
    pep = 1 if args.quick else 3
    out = {"train_images": len(X), "test_images": len(Xt), "finetune_epochs": ep, "rbm_pretrain_epochs_per_layer": pep}

    # 1. deep autoencoder, pretrained vs random, vs PCA
    mu, P30 = pca(X, 30)
    rec_pca = (Xt - mu) @ P30.T @ P30 + mu
    out["pca30_test_mse"] = mse(rec_pca, Xt)
    sizes = [784, 1000, 500, 250, 30]
    nets = {}
    for name, pre in (("pretrained", True), ("random_init", False)):
        ae = AutoEncoder(sizes, activation="sigmoid", code_activation=None, output_activation="sigmoid",
                         generator=cr.Generator(args.seed))
        if pre:
            ae.pretrain(X, epochs=pep, lr=0.1, batch_size=100, verbose=True)
            out["deep_ae_unrolled_rbms_test_mse_before_finetuning"] = mse(ae.reconstruct(Xt), Xt)
        ae.fit(X, epochs=ep, batch_size=128, lr=1e-3, loss="bce", verbose=True)
        nets[name] = ae
        out[f"deep_ae_{name}_test_mse"] = mse(ae.reconstruct(Xt), Xt)
        out[f"deep_ae_{name}_history"] = ae.history_
        print(f"deep AE ({name}): test MSE {out[f'deep_ae_{name}_test_mse']:.5f}   PCA-30: {out['pca30_test_mse']:.5f}")
    idx = [int(np.flatnonzero(yt == d)[0]) for d in range(10)]
    rows = [Xt[idx], rec_pca[idx], nets["pretrained"].reconstruct(Xt[idx]), nets["random_init"].reconstruct(Xt[idx])]
    fig, ax = plt.subplots(figsize=(10, 4.6))
    ax.imshow(tile_images(np.concatenate([np.clip(r, 0, 1) for r in rows]), 28, len(rows), 10), cmap="gray")
    ax.set_yticks([(i + 0.5) * 29 for i in range(4)])
    ax.set_yticklabels(["test digit", f"PCA-30 ({out['pca30_test_mse']:.4f})",
                        f"deep AE, RBM-pretrained ({out['deep_ae_pretrained_test_mse']:.4f})",
                        f"deep AE, random init ({out['deep_ae_random_init_test_mse']:.4f})"])
    ax.set_xticks([])
    ax.set_title("784-1000-500-250-30 autoencoder vs PCA (test MSE per pixel)")
    save_fig(args, "autoencoder_reconstructions", fig)

    # 2. 2-D codes
    ae2 = AutoEncoder([784, 512, 128, 2], activation="relu", output_activation="sigmoid",
                      generator=cr.Generator(args.seed + 1))
    ae2.fit(X, epochs=ep, batch_size=128, lr=1e-3, loss="bce", verbose=True)
    Z = ae2.transform(Xt)
    mu2, P2 = pca(X, 2)
    Zp = (Xt - mu2) @ P2.T
    out["ae2d_test_mse"] = mse(ae2.reconstruct(Xt), Xt)
    out["pca2_test_mse"] = mse(Zp @ P2 + mu2, Xt)
    fig, ax = plt.subplots(1, 2, figsize=(13, 5.5))
    for a, C, title in ((ax[0], Zp, f"PCA, 2 components (test MSE {out['pca2_test_mse']:.4f})"),
                        (ax[1], Z, f"autoencoder 784-512-128-2 (test MSE {out['ae2d_test_mse']:.4f})")):
        sc = a.scatter(C[:5000, 0], C[:5000, 1], c=yt[:5000], cmap="tab10", s=3, alpha=0.7)
        a.set_title(title)
    fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
    save_fig(args, "autoencoder_codes2d", fig)

    # 3. denoising
    p = 0.4
    Xc = Xt * (np.random.default_rng(args.seed + 2).random(Xt.shape) >= p).astype(np.float32)
    dae = DenoisingAutoEncoder([784, 256, 64], noise="masking", noise_level=p, activation="sigmoid",
                               output_activation="sigmoid", generator=cr.Generator(args.seed + 3))
    dae.fit(X, epochs=ep, batch_size=128, lr=1e-3, loss="bce", verbose=True)
    plain = AutoEncoder([784, 256, 64], activation="sigmoid", output_activation="sigmoid",
                        generator=cr.Generator(args.seed + 3))
    plain.fit(X, epochs=ep, batch_size=128, lr=1e-3, loss="bce", verbose=True)
    out["masking_noise"] = p
    out["masked_input_mse"] = mse(Xc, Xt)
    out["denoising_ae_mse_on_masked"] = mse(dae.reconstruct(Xc), Xt)
    out["plain_ae_mse_on_masked"] = mse(plain.reconstruct(Xc), Xt)
    out["denoising_ae_mse_on_clean"] = mse(dae.reconstruct(Xt), Xt)
    out["plain_ae_mse_on_clean"] = mse(plain.reconstruct(Xt), Xt)
    rows = [Xt[idx], Xc[idx], dae.reconstruct(Xc[idx]), plain.reconstruct(Xc[idx])]
    fig, ax = plt.subplots(figsize=(10, 4.6))
    ax.imshow(tile_images(np.concatenate(rows), 28, len(rows), 10), cmap="gray")
    ax.set_yticks([(i + 0.5) * 29 for i in range(4)])
    ax.set_yticklabels(["clean", f"{int(p * 100)}% pixels masked ({out['masked_input_mse']:.4f})",
                        f"denoising AE ({out['denoising_ae_mse_on_masked']:.4f})",
                        f"plain AE ({out['plain_ae_mse_on_masked']:.4f})"])
    ax.set_xticks([])
    ax.set_title("784-256-64 autoencoders on masked test digits (MSE to the clean digit)")
    return save(args, "autoencoder_denoising", fig, out, json_name="autoencoder_mnist")


if __name__ == "__main__":
    main()
