"""Transfer learning: an MNIST-trained CNN feature extractor reused for Fashion-MNIST (and for new digits).
(spec: TRANSFER-FINETUNE)

    python examples/cnn/transfer_fashion.py            # pretrain 1 epoch on MNIST; 10/100/1000 examples per class
    python examples/cnn/transfer_fashion.py --quick    # small pretraining, 10 examples per class, few steps

Network: ``TFCNN(channels=(16, 32), hidden=128)`` — Conv(1,16,5,pad 2) → ReLU → pool → Conv(16,32,5,pad 2)
→ ReLU → pool → Linear(1568,128) → ReLU → Dropout(0.5) → Linear(128, d) (the head).

Recipe ([S4]): 1) train the source net on MNIST (60,000 images, 1 epoch, Adam 1e-3, batch 50); 2) copy its
parameters up to, not including, the head (``load_pretrained``); 3) a fresh Linear(128, 10) head
(``replace_head``); 4a) freeze the copied layers (``freeze(upto=head)``; only the head trains; or freeze only
the convolutions and retrain fc1 + head) or 4b)
fine-tune everything with the copied layers at 0.1× lr (``finetune_param_groups``); 5) train on n
Fashion-MNIST examples per class.  Every variant gets the same budget (the same number of Adam steps at lr
1e-3, batch 50) and the same head initialisation; controls: the same network from scratch, and a frozen
*random* extractor with a trained head.  Accuracy on the 10,000 Fashion-MNIST test images.

Second experiment (the spec's demo): pretrain on MNIST digits 0-4 only, transfer to digits 5-9 with 50
examples per class, test on all test images of 5-9.

Writes docs/cnn/transfer_fashion.json and transfer_fashion.png, then regenerates results.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, pct
from cnn_common import cnn_options, evaluate, load_images, save_result, standardize, train_epoch

import chainrule as cr
from chainrule.models import TFCNN
from chainrule.train.plots import new_figure, save_figure
from chainrule.transfer import finetune_param_groups, freeze, load_pretrained, replace_head, trainable_parameters

HEAD = "classifier.fc2"
VARIANTS = ("scratch", "frozen random features + head", "frozen pretrained features + head",
            "frozen pretrained convs, fc1 + head trained", "fine-tune all (copied layers 0.1× lr)")
SHORT = ("scratch", "frozen\nrandom", "frozen\npretrained", "frozen convs\n+ fc1", "fine-tune\nall")


def net(num_classes: int, seed: int) -> TFCNN:
    return TFCNN(num_classes=num_classes, channels=(16, 32), hidden=128, dropout=0.5, generator=cr.Generator(seed))


def pretrain(X, y, num_classes, args, desc) -> tuple[TFCNN, dict]:
    m = net(num_classes, args.seed)
    opt = cr.optim.Adam(m.parameters(), lr=1e-3)
    tr = train_epoch(m, opt, X, y, 50, np.random.default_rng(args.seed), desc=desc, progress=not args.no_progress)
    return m, tr


def balanced_subset(y: np.ndarray, per_class: int, classes, rng) -> np.ndarray:
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in classes])


def run_variant(variant: str, source: TFCNN, d_new: int, X, y, Xte, yte, steps: int, args, seed: int) -> dict:
    m = net(d_new, seed + 1000)  # target-architecture with fresh weights (the scratch / random-features start)
    head = net(d_new, seed + 2000).classifier.fc2  # the same fresh head for every variant
    replace_head(m, head)
    if "pretrained" in variant or variant.startswith("fine-tune"):
        copied = load_pretrained(m, source.state_dict(), exclude=[HEAD])
        assert len(copied) == 6
    if variant.startswith("frozen"):
        freeze(m, upto="classifier.fc1" if "fc1" in variant else HEAD)
        opt = cr.optim.Adam(trainable_parameters(m), lr=1e-3)
    elif variant.startswith("fine-tune"):
        opt = cr.optim.Adam(finetune_param_groups(m, lr=1e-3, head=HEAD, base_lr_factor=0.1))
    else:
        opt = cr.optim.Adam(m.parameters(), lr=1e-3)
    frozen_before = {n: p.data.copy() for n, p in m.named_parameters() if not p.requires_grad}
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    done = 0
    while done < steps:  # the same number of Adam steps for every variant (several epochs on small sets)
        tr = train_epoch(m, opt, X, y, 50, rng, progress=False, max_steps=steps - done)
        done += tr["steps"]
    sec = time.perf_counter() - t0
    for n, p in m.named_parameters():  # spec check: frozen parameters bitwise unchanged, no gradient
        if n in frozen_before:
            assert np.array_equal(p.data, frozen_before[n]) and p.grad is None, n
    acc, loss, _ = evaluate(m, Xte, yte)
    return {"variant": variant, "test_acc": acc, "test_loss": loss, "train_loss_last_epoch": tr["loss"],
            "steps": done, "seconds": sec, "trainable_params": int(sum(p.size for p in trainable_parameters(m))),
            "frozen_params": int(sum(v.size for v in frozen_before.values()))}


def main(argv=None) -> dict:
    def extra(p):
        cnn_options(p)
        p.add_argument("--per-class", type=int, nargs="+", default=[10, 100, 1000])
        p.add_argument("--steps", type=int, default=300, help="Adam steps (batch 50) for every target variant")
        p.add_argument("--digits-per-class", type=int, default=50)
    args = parse_args(__doc__.split("\n\n")[0], argv, script=__file__, seed=True, extra=extra)
    if args.quick:
        args.per_class, args.steps = [10], 30
    Mtr, mtr, Mte, mte = load_images("mnist", args.data_dir)
    Ftr, ftr, Fte, fte = load_images("fashion-mnist", args.fashion_dir)
    if args.quick:
        Mtr, mtr = Mtr[:2000], mtr[:2000]
        Fte, fte, Mte, mte = Fte[:1000], fte[:1000], Mte[:1000], mte[:1000]
    # each data set standardised with its own training statistics (what a user of the target task would do)
    (Mtr_s, Mte_s), _, _ = standardize(Mtr, Mte)
    (Ftr_s, Fte_s), _, _ = standardize(Ftr, Fte)
    t0 = time.perf_counter()

    # ---- Experiment 1: MNIST → Fashion-MNIST
    source, tr = pretrain(Mtr_s, mtr, 10, args, "pretrain MNIST")
    src_acc, _, _ = evaluate(source, Mte_s, mte)
    print(f"source net: MNIST test accuracy {src_acc:.4f} ({tr['seconds']:.0f} s)", flush=True)
    rng = np.random.default_rng(args.seed)
    fashion = {}
    for n in args.per_class:
        idx = balanced_subset(ftr, n, range(10), rng)
        fashion[n] = {}
        for v in VARIANTS:
            r = run_variant(v, source, 10, Ftr_s[idx], ftr[idx], Fte_s, fte, args.steps, args, args.seed + n)
            fashion[n][v] = r
            print(f"Fashion {n}/class  {v:46s} test acc {r['test_acc']:.4f}  ({r['seconds']:.0f} s)", flush=True)

    # ---- Experiment 2: digits 0-4 → digits 5-9 (50 per class)
    lo, hi = mtr < 5, mte >= 5
    src04, _ = pretrain(Mtr_s[lo], mtr[lo], 5, args, "pretrain digits 0-4")
    src04_acc, _, _ = evaluate(src04, Mte_s[mte < 5], mte[mte < 5])
    k = 10 if args.quick else args.digits_per_class
    idx = balanced_subset(mtr, k, range(5, 10), rng)
    digits = {}
    for v in VARIANTS:
        r = run_variant(v, src04, 5, Mtr_s[idx], mtr[idx] - 5, Mte_s[hi], mte[hi] - 5, args.steps, args, args.seed + 7)
        digits[v] = r
        print(f"digits 5-9, {k}/class  {v:46s} test acc {r['test_acc']:.4f}", flush=True)
    total = time.perf_counter() - t0

    # ---- figure
    stem = "transfer_fashion" + args.suffix
    fig = new_figure(figsize=(12, 4))
    ax = fig.add_subplot(1, 2, 1)
    for i, v in enumerate(VARIANTS):
        ax.plot(args.per_class, [100 * fashion[n][v]["test_acc"] for n in args.per_class], "o-", color=f"C{i}", label=v)
    ax.set(xscale="log", xlabel="Fashion-MNIST training examples per class", ylabel="test accuracy (%)",
           title=f"MNIST → Fashion-MNIST ({args.steps} Adam steps each)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(1, 2, 2)
    ax.bar(range(len(VARIANTS)), [100 * digits[v]["test_acc"] for v in VARIANTS],
           color=[f"C{i}" for i in range(len(VARIANTS))])
    for i, v in enumerate(VARIANTS):
        ax.text(i, 100 * digits[v]["test_acc"] + 0.5, f"{100 * digits[v]['test_acc']:.1f}", ha="center", fontsize=8)
    ax.set_xticks(range(len(VARIANTS)), labels=SHORT, fontsize=7)
    ax.set(ylabel="test accuracy (%)", title=f"digits 0-4 → 5-9, {k} examples per class")
    ax.set_ylim(min(100 * digits[v]["test_acc"] for v in VARIANTS) - 10, 100)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    save_figure(fig, args.out / f"{stem}.png")

    summary = [["source network", f"TFCNN(16, 32, hidden 128), 1 epoch on {len(Mtr):,} MNIST images: "
                                  f"{pct(src_acc)} MNIST test accuracy"],
               ["budget per variant", f"{args.steps} Adam steps (lr 1e-3, batch 50), same fresh head; "
                                      f"{len(Fte):,} Fashion-MNIST test images"]]
    for n in args.per_class:
        summary.append([f"Fashion-MNIST, {n} examples/class",
                        "; ".join(f"{v}: {pct(fashion[n][v]['test_acc'])}" for v in VARIANTS)])
    summary += [["digits 0-4 → 5-9 source", f"{pct(src04_acc)} test accuracy on digits 0-4"],
                [f"digits 5-9, {k} examples/class", "; ".join(f"{v}: {pct(digits[v]['test_acc'])}" for v in VARIANTS)],
                ["time", f"{total:.0f} s"]]
    res = {"source_mnist_test_acc": src_acc, "source_train_seconds": tr["seconds"],
           "fashion": {str(n): d for n, d in fashion.items()}, "digits_0_4_to_5_9": digits,
           "source_0_4_test_acc": src04_acc, "seconds": total}
    save_result(args, "transfer_fashion", res, summary,
                "Transfer learning MNIST → Fashion-MNIST (TRANSFER-FINETUNE)")
    return res


if __name__ == "__main__":
    main()
