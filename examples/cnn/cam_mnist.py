"""Class activation maps and fully convolutional class maps on MNIST digits placed in larger canvases.
(spec: CAM-GAP, CAM-CLASS-MAP)

    python examples/cnn/cam_mnist.py            # GAP-CNN on 20,000 56×56 canvases (2 epochs), LeNet-5 1 epoch
    python examples/cnn/cam_mnist.py --quick    # 2,000 canvases, LeNet-5 on 3,000 images, fewer test canvases

Part 1 — CAM-GAP.  Each 28×28 MNIST digit is pasted at a random position into a blank 56×56 canvas; a
``GAPCNN`` (3×3 'same' convs 16-32-64, two 2×2 max pools → 64 maps of 14×14 → global average pooling →
Linear(64, 10)) is trained on the canvases with class labels only (Adam 1e-3, batch 50).  For each test
canvas, the class activation map M_c(x, y) = Σ_k w_{c,k} f_k(x, y) of the predicted class is upsampled
bilinearly to 56×56; we report how often its arg-max falls inside the digit's ink bounding box (and inside
the 28×28 paste box) against the chance rate (mean box area / canvas area).  The identity
mean M_c + b_c = s_c is checked on every test canvas.

Part 2 — CAM-CLASS-MAP.  LeNet-5 (valid convolutions, total stride 4), trained on 32×32 crops (MNIST padded
by 2) with an 11th "background" class (crops whose digit is displaced by 8-20 px), is rewritten by
``to_fully_convolutional`` (C5 is already a 5×5 conv; F6 and the output become 1×1 convs) and run once on
a 96×96 canvas (3× the crop) holding one test digit → an 11×17×17 class map whose cell
(u, v) are the logits of the crop at (4u, 4v).  We check this equality on one canvas against the 289 crop
evaluations, compare their times, and report how often the true class's map peaks within one cell of the
paste position and how often the most confident digit cell names the right digit (softmax per cell).

Writes docs/cnn/cam_mnist.json, cam_mnist_gap.png, cam_mnist_classmap.png, then regenerates results.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, pct
from cnn_common import cnn_options, evaluate, load_images, save_result, train_epoch

import chainrule as cr
from chainrule.cam import GAPCNN, class_activation_map, class_map, class_map_boxes, to_fully_convolutional
from chainrule.models import LeNet5, pad_mnist
from chainrule.train.plots import new_figure, save_figure


def make_canvases(X: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paste each 28×28 image at a uniform random position into a zero size×size canvas.
    Returns canvases (N, 1, size, size), paste offsets (N, 2) and tight ink boxes (N, 4) = (top, left, bottom, right)
    (exclusive), ink = pixel > 0.3."""
    n = len(X)
    off = rng.integers(0, size - 28 + 1, size=(n, 2))
    C = np.zeros((n, 1, size, size), dtype=np.float32)
    boxes = np.zeros((n, 4), dtype=int)
    for i in range(n):
        r, c = off[i]
        C[i, 0, r:r + 28, c:c + 28] = X[i, 0]
        rows, cols = np.nonzero(X[i, 0] > 0.3)
        boxes[i] = (r + rows.min(), c + cols.min(), r + rows.max() + 1, c + cols.max() + 1)
    return C, off, boxes


def inside(pt: np.ndarray, box: np.ndarray) -> np.ndarray:
    return (pt[:, 0] >= box[:, 0]) & (pt[:, 0] < box[:, 2]) & (pt[:, 1] >= box[:, 1]) & (pt[:, 1] < box[:, 3])


def part_gap(args, Xtr, ytr, Xte, yte) -> tuple[dict, list]:
    rng = np.random.default_rng(args.seed)
    S = args.canvas
    n_tr = 2000 if args.quick else args.gap_train
    n_te = 500 if args.quick else 2000
    Ctr, _, _ = make_canvases(Xtr[:n_tr], S, rng)
    Cte, off_te, box_te = make_canvases(Xte[:n_te], S, rng)
    ytr_, yte_ = ytr[:n_tr], yte[:n_te]
    mu, sd = float(Ctr.mean()), float(Ctr.std())
    Ztr, Zte = (Ctr - mu) / sd, (Cte - mu) / sd
    model = GAPCNN(channels=(16, 32, 64), pools=(2, 2, 1), generator=cr.Generator(args.seed))
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    epochs = 1 if args.quick else args.gap_epochs
    hist = []
    for ep in range(1, epochs + 1):
        tr = train_epoch(model, opt, Ztr, ytr_, 50, rng, desc=f"GAP-CNN epoch {ep}/{epochs}",
                         progress=not args.no_progress)
        acc, loss, logits = evaluate(model, Zte, yte_, batch=250)
        hist.append({"epoch": ep, "train_loss": tr["loss"], "train_acc": tr["acc"], "test_acc": acc, "test_loss": loss,
                     "seconds": tr["seconds"], "samples_per_s": tr["samples_per_s"]})
        print(f"GAP-CNN epoch {ep}: train acc {tr['acc']:.4f}  test acc {acc:.4f}  ({tr['seconds']:.0f} s)", flush=True)
    # CAMs of the predicted class (and of the true class), batched
    cams, cams_true, low, lg = [], [], [], []
    for i in range(0, n_te, 250):
        c, s = class_activation_map(model, Zte[i:i + 250], None, return_logits=True)
        cams.append(c)
        lg.append(s)
        cams_true.append(class_activation_map(model, Zte[i:i + 250], yte_[i:i + 250]))
        low.append(class_activation_map(model, Zte[i:i + 250], yte_[i:i + 250], upsample=False))
    cams, cams_true, low, lg = map(np.concatenate, (cams, cams_true, low, lg))
    b = model.fc.bias.data
    ident_err = float(np.abs(low.mean(axis=(1, 2)) + b[yte_] - lg[np.arange(n_te), yte_]).max())
    peak = np.array(np.unravel_index(cams.reshape(n_te, -1).argmax(1), (S, S))).T
    peak_t = np.array(np.unravel_index(cams_true.reshape(n_te, -1).argmax(1), (S, S))).T
    paste = np.concatenate([off_te, off_te + 28], axis=1)
    res = {
        "canvas": S, "train_canvases": n_tr, "test_canvases": n_te, "history": hist,
        "test_acc": hist[-1]["test_acc"],
        "peak_in_ink_box": float(inside(peak, box_te).mean()),
        "peak_in_paste_box": float(inside(peak, paste).mean()),
        "true_class_peak_in_ink_box": float(inside(peak_t, box_te).mean()),
        "chance_ink_box": float(((box_te[:, 2] - box_te[:, 0]) * (box_te[:, 3] - box_te[:, 1])).mean() / S ** 2),
        "chance_paste_box": 28 * 28 / S ** 2,
        "max_abs_mean_cam_plus_bias_minus_logit": ident_err,
        "feature_map": list(low.shape[1:]),
    }
    # figure: 8 canvases with the ink box and CAM of the predicted class
    pred = lg.argmax(1)
    fig = new_figure(figsize=(14, 3.8))
    for j in range(8):
        for row, img in enumerate((Cte[j, 0], cams[j])):
            ax = fig.add_subplot(2, 8, row * 8 + j + 1)
            if row == 0:
                ax.imshow(img, cmap="gray")
                ax.set_title(f"label {yte_[j]}, pred {pred[j]}", fontsize=8)
            else:
                ax.imshow(Cte[j, 0], cmap="gray")
                ax.imshow(img, cmap="jet", alpha=0.5)
                ax.plot(peak[j, 1], peak[j, 0], "w+", ms=10, mew=2)
            t, l_, btm, r = box_te[j]
            ax.add_patch(_rect(l_ - 0.5, t - 0.5, r - l_, btm - t))
            ax.axis("off")
    fig.suptitle(f"CAM-GAP: class activation maps of the predicted class on {S}×{S} canvases (top: input + ink box; "
                 f"bottom: CAM, + = arg-max). Arg-max inside the ink box for {pct(res['peak_in_ink_box'])} of "
                 f"{n_te} test canvases (chance {pct(res['chance_ink_box'])})", fontsize=9)
    fig.tight_layout()
    save_figure(fig, args.out / f"cam_mnist{args.suffix}_gap.png")
    summary = [
        ["GAP-CNN (CAM-GAP)", f"3×3 convs 16-32-64, pools 2-2 → 64×14×14 → GAP → Linear(64,10); "
                              f"{n_tr:,} training canvases {S}×{S}, {epochs} epoch(s) Adam 1e-3"],
        ["GAP-CNN test accuracy (canvases)", f"{pct(res['test_acc'])} on {n_te:,} test canvases"],
        ["CAM arg-max inside the digit's ink box",
         f"{pct(res['peak_in_ink_box'])} (chance {pct(res['chance_ink_box'])}); "
         f"true-class CAM {pct(res['true_class_peak_in_ink_box'])}"],
        ["CAM arg-max inside the 28×28 paste box",
         f"{pct(res['peak_in_paste_box'])} (chance {pct(res['chance_paste_box'])})"],
        ["max |mean M_c + b_c − s_c| (CAM-GAP check)", f"{ident_err:.1e} (float32)"],
    ]
    return res, summary


def _rect(x, y, w, h, color="lime"):
    from matplotlib.patches import Rectangle
    return Rectangle((x, y), w, h, fill=False, ec=color, lw=1.2)


def background_crops(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """32×32 crops of a 96×96 canvas holding one digit, displaced by 8-20 px (L∞) from the training position."""
    out = np.zeros((len(X), 1, 32, 32), dtype=np.float32)
    for i in range(len(X)):
        big = np.zeros((96, 96), dtype=np.float32)
        big[34:62, 34:62] = X[i, 0]
        while True:
            d = rng.integers(-20, 21, size=2)
            if np.abs(d).max() >= 8:
                break
        out[i, 0] = big[32 + d[0]:64 + d[0], 32 + d[1]:64 + d[1]]
    return out


def part_classmap(args, Xtr, ytr, Xte, yte) -> tuple[dict, list]:
    rng = np.random.default_rng(args.seed + 1)
    n_tr = 3000 if args.quick else len(Xtr)
    n_bg = n_tr // 4
    P = pad_mnist(Xtr[:n_tr]).data
    # class 10 = "background": crops where the digit is shifted by 8-20 px (partly or not visible), so that the
    # class map can say "no digit centred here" (a crop classifier has no such answer otherwise)
    B = background_crops(Xtr[n_tr - n_bg:n_tr] if args.quick else Xtr[:n_bg], rng)
    mu, sd = float(P.mean()), float(P.std())
    Ptr = ((np.concatenate([P, B]) - mu) / sd).astype(np.float32)
    ytr_bg = np.concatenate([ytr[:n_tr], np.full(n_bg, 10)])
    Pte = ((pad_mnist(Xte).data - mu) / sd).astype(np.float32)
    model = LeNet5(num_classes=11, generator=cr.Generator(args.seed))
    opt = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train_epoch(model, opt, Ptr, ytr_bg, 64, rng, desc="LeNet-5", progress=not args.no_progress)
    acc, _, _ = evaluate(model, Pte, yte)
    print(f"LeNet-5 (1 epoch on {n_tr} images + {n_bg} background crops): test acc {acc:.4f}", flush=True)
    fcn = to_fully_convolutional(model, (32, 32))
    L = 3 * 32
    n_te = 100 if args.quick else 1000
    idx = rng.choice(len(Xte), n_te, replace=False)
    canv = np.zeros((n_te, 1, L, L), dtype=np.float32)
    off = rng.integers(0, L - 28 + 1, size=(n_te, 2))
    for i, k in enumerate(idx):
        canv[i, 0, off[i, 0]:off[i, 0] + 28, off[i, 1]:off[i, 1] + 28] = Xte[k, 0]
    Z = ((canv - mu) / sd).astype(np.float32)
    y = yte[idx]
    # equality with crop-by-crop evaluation on one canvas, and the cost of both
    t = time.perf_counter()
    cm0 = class_map(fcn, Z[0])
    t_fcn = time.perf_counter() - t
    hu, wv = cm0.shape[1:]
    t = time.perf_counter()
    crops = np.stack([Z[0, :, 4 * u:4 * u + 32, 4 * v:4 * v + 32] for u in range(hu) for v in range(wv)])
    model.eval()
    with cr.no_grad():
        ref = model(cr.Tensor(crops)).data
    t_crops_batched = time.perf_counter() - t
    t = time.perf_counter()
    with cr.no_grad():
        for c in crops:
            model(cr.Tensor(c[None]))
    t_crops_loop = time.perf_counter() - t
    eq_err = float(np.abs(cm0.transpose(1, 2, 0).reshape(-1, 11) - ref).max())
    # maps for all canvases
    probs = np.concatenate([class_map(fcn, Z[i:i + 50], softmax=True) for i in range(0, n_te, 50)])
    logits = np.concatenate([class_map(fcn, Z[i:i + 50]) for i in range(0, n_te, 50)])
    true_map = logits[np.arange(n_te), y]  # (n, hu, wv)
    pk = np.array(np.unravel_index(true_map.reshape(n_te, -1).argmax(1), (hu, wv))).T
    target_cell = (off - 2) / 4.0  # the crop at (4u, 4v) holds the digit where training put it (offset 2)
    cheb = np.abs(pk - target_cell).max(1)
    digit = probs[:, :10]  # the background channel 10 is left out of detections
    conf = digit.max(1)  # (n, hu, wv)
    best = conf.reshape(n_te, -1).argmax(1)
    bu, bv = np.unravel_index(best, (hu, wv))
    best_cls = digit.argmax(1)[np.arange(n_te), bu, bv]
    det_ok = best_cls == y
    uu, vv = np.meshgrid(np.arange(hu), np.arange(wv), indexing="ij")
    far = [np.maximum(np.abs(uu - target_cell[i, 0]), np.abs(vv - target_cell[i, 1])) >= 4 for i in range(n_te)]
    bg_far = float(np.mean([probs[i, 10][far[i]].mean() for i in range(n_te)]))
    # top box of class_map_boxes at threshold 0.9
    ious = []
    for i in range(n_te):
        bxs = class_map_boxes(probs[i], fcn.stride, fcn.input_hw, threshold=0.9, classes=range(10))
        if not bxs or bxs[0][0] != y[i]:
            ious.append(0.0)
            continue
        t_, l_, b_, r_ = bxs[0][2]
        gt = (off[i, 0], off[i, 1], off[i, 0] + 28, off[i, 1] + 28)
        ih = max(0, min(b_, gt[2]) - max(t_, gt[0]))
        iw = max(0, min(r_, gt[3]) - max(l_, gt[1]))
        inter = ih * iw
        ious.append(inter / ((b_ - t_) * (r_ - l_) + 28 * 28 - inter))
    ious = np.array(ious)
    res = {"lenet_train_images": n_tr, "lenet_test_acc_32x32": acc, "canvas": L, "test_canvases": n_te,
           "class_map_shape": [11, hu, wv], "stride": list(fcn.stride),
           "max_abs_class_map_minus_crop_logits": eq_err, "seconds_fully_convolutional": t_fcn,
           "seconds_crops_batched": t_crops_batched, "seconds_crops_one_by_one": t_crops_loop,
           "true_class_peak_within_1_cell": float((cheb <= 1.0).mean()),
           "true_class_peak_within_2_cells": float((cheb <= 2.0).mean()),
           "most_confident_cell_correct": float(det_ok.mean()), "mean_p_background_4_cells_away": bg_far,
           "top_box_correct_class_iou_gt_0.5": float((ious > 0.5).mean()), "mean_iou_top_box": float(ious.mean())}
    # figure
    fig = new_figure(figsize=(13, 10))
    for j in range(4):
        ax = fig.add_subplot(3, 4, j + 1)
        ax.imshow(canv[j, 0], cmap="gray")
        ax.add_patch(_rect(off[j, 1] - 0.5, off[j, 0] - 0.5, 28, 28))
        bxs = class_map_boxes(probs[j], fcn.stride, fcn.input_hw, threshold=0.9, classes=range(10))
        if bxs:
            c, p, (t_, l_, b_, r_) = bxs[0]
            ax.add_patch(_rect(l_ - 0.5, t_ - 0.5, r_ - l_, b_ - t_, color="red"))
            ax.set_title(f"label {y[j]}; top box: {c} (p {p:.2f})", fontsize=8)
        ax.axis("off")
        ax = fig.add_subplot(3, 4, 4 + j + 1)
        ax.imshow(probs[j, y[j]], cmap="viridis", vmin=0, vmax=1)
        ax.plot(target_cell[j, 1], target_cell[j, 0], "r+", ms=10, mew=2)
        ax.set_title(f"p(class {y[j]}) per cell, 0 (purple) to 1\n(yellow); + = paste position", fontsize=8)
        ax.axis("off")
        ax = fig.add_subplot(3, 4, 8 + j + 1)
        ax.imshow(probs[j, 10], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title("p(background) per cell (black = 1);\nred: digit class where p > 0.9", fontsize=8)
        for u in range(hu):
            for v in range(wv):
                if conf[j, u, v] > 0.9:
                    ax.text(v, u, str(digit[j, :, u, v].argmax()), fontsize=6, ha="center", va="center", color="red")
        ax.axis("off")
    fig.suptitle(f"CAM-CLASS-MAP: LeNet-5 (trained on 32×32) run fully convolutionally on {L}×{L} canvases — green: "
                 f"paste box, red: merged cells of the top class (p > 0.9)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, args.out / f"cam_mnist{args.suffix}_classmap.png")
    summary = [
        ["LeNet-5 for class maps",
         f"11 classes (10 digits + background = digit displaced 8-20 px), 1 epoch SGD on {n_tr:,} images + "
         f"{n_bg:,} background crops: {pct(acc)} digit test accuracy (32×32)"],
        ["class map on a 96×96 canvas",
         f"11×{hu}×{wv}, stride {fcn.stride[0]}; max |cell − crop logits| = {eq_err:.1e} (float32)"],
        ["time: one fully convolutional pass vs 289 crops",
         f"{1e3 * t_fcn:.1f} ms vs {1e3 * t_crops_batched:.1f} ms batched / {1e3 * t_crops_loop:.0f} ms one by one"],
        ["true-class map peaks within 1 (2) cells of the paste position",
         f"{pct(res['true_class_peak_within_1_cell'])} ({pct(res['true_class_peak_within_2_cells'])}) "
         f"of {n_te} canvases"],
        ["most confident digit cell names the right digit", pct(res["most_confident_cell_correct"])],
        ["mean p(background) ≥ 4 cells from the digit", f"{bg_far:.3f}"],
        ["top merged box (p > 0.9) right class and IoU > 0.5 with the paste box",
         f"{pct(res['top_box_correct_class_iou_gt_0.5'])} (mean IoU {res['mean_iou_top_box']:.2f})"],
    ]
    return res, summary


def main(argv=None) -> dict:
    def extra(p):
        cnn_options(p)
        p.add_argument("--canvas", type=int, default=56)
        p.add_argument("--gap-train", type=int, default=20_000)
        p.add_argument("--gap-epochs", type=int, default=2)
    args = parse_args(__doc__.split("\n\n")[0], argv, script=__file__, seed=True, extra=extra)
    Xtr, ytr, Xte, yte = load_images("mnist", args.data_dir)
    gap, s1 = part_gap(args, Xtr, ytr, Xte, yte)
    cmap, s2 = part_classmap(args, Xtr, ytr, Xte, yte)
    res = {"gap": gap, "class_map": cmap}
    save_result(args, "cam_mnist", res, s1 + s2,
                "Class activation maps and fully convolutional class maps (CAM-GAP, CAM-CLASS-MAP)")
    return res


if __name__ == "__main__":
    main()
