"""Data-parallel training of an MLP on MNIST: one script, any number of processes.

    python examples/distributed/train_mnist_dp.py                    # 1 process
    mpiexec -n 2 python examples/distributed/train_mnist_dp.py       # 2 processes, same trajectory
    mpiexec -n 2 python examples/distributed/train_mnist_dp.py --checkpoint runs/dp/state.npz --checkpoint-every 50
    mpiexec -n 1 python examples/distributed/train_mnist_dp.py --checkpoint runs/dp/state.npz --resume
    python examples/distributed/train_mnist_dp.py --quick            # smoke test (a few hundred steps)

MLP 784-256-256-10 (ReLU), Adam lr 1e-3, global batch 128 (128/p per process); every process holds the
data, the DistributedSampler gives rank r its share of each epoch's permutation, gradients are averaged
by allreduce, rank 0 logs and writes.  Writes ``docs/distributed/mnist_dp_p{P}[_quick].json`` (history,
test accuracy, time, samples/s) and a PNG of the loss curves.  Falls back to the embedded 8×8 digits when
the MNIST IDX files are absent.  (spec: TRAIN-SGD-MODES, TRAIN-EPOCHS, SGD-MINIBATCH)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.distributed import DataParallelTrainer, distributed_evaluate, get_communicator, rank0_print

ROOT = Path(__file__).resolve().parents[2]


def load_data(quick: bool):
    try:
        from chainrule.data import load_mnist
        X, y = load_mnist(split="train", flatten=True)
        Xt, yt = load_mnist(split="test", flatten=True)
        name = "MNIST"
    except (FileNotFoundError, OSError, RuntimeError):
        from chainrule.data import load_digits
        X, y = load_digits("train")
        Xt, yt = load_digits("test")
        X, Xt = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
        name = "embedded 8x8 digits (MNIST not found)"
    if quick:
        X, y, Xt, yt = X[:6400], y[:6400], Xt[:2000], yt[:2000]
    return X, y, Xt, yt, name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128, help="global batch (divisible by the process count)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", default=None, help="training-state file (rank 0 writes it)")
    ap.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints")
    ap.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many global steps")
    ap.add_argument("--out", default=str(ROOT / "docs" / "distributed"))
    ap.add_argument("--tag", default="", help="suffix of the output files")
    ap.add_argument("--quick", action="store_true", help="6,400 training images, 1 epoch")
    ap.add_argument("--fail-at-step", type=int, default=None,
                    help="simulate a failure of the last rank at this global step (see --fail-mode)")
    ap.add_argument("--fail-mode", choices=("hang", "crash"), default="hang",
                    help="hang: the rank stops responding (the others time out after $CHAINRULE_DIST_TIMEOUT s); "
                         "crash: it raises")
    args = ap.parse_args()
    if args.quick:
        args.epochs = 1

    comm = get_communicator()
    dt = np.float64 if args.dtype == "float64" else np.float32
    cr.set_default_dtype(dt)
    X, y, Xt, yt, name = load_data(args.quick)
    X, Xt = X.astype(dt), Xt.astype(dt)
    model = nn.Sequential(nn.Linear(X.shape[1], 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    model.to(dt)
    opt = cr.optim.Adam(model.parameters(), lr=args.lr)
    callbacks = []
    if args.fail_at_step is not None:
        def fail(trainer, step, loss):
            if step == args.fail_at_step and comm.rank == comm.size - 1:
                if args.fail_mode == "crash":
                    raise RuntimeError(f"simulated failure of rank {comm.rank} at step {step}")
                time.sleep(3600)  # a hung worker

        callbacks.append(fail)
    trainer = DataParallelTrainer(model, nn.CrossEntropyLoss(), opt, (X, y), batch_size=args.batch_size, comm=comm,
                                  seed=args.seed, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                                  resume=True if args.resume else None, val_data=(Xt, yt), step_callbacks=callbacks)
    rank0_print(f"{name}: {len(X)} training images, {comm.size} process(es), global batch {args.batch_size} "
                f"({trainer.local_batch_size} per process)", comm=comm)
    steps0 = trainer.global_step
    t0 = time.perf_counter()
    hist = trainer.fit(args.epochs, max_steps=args.max_steps)
    elapsed = time.perf_counter() - t0
    test = distributed_evaluate(model, Xt, yt, nn.CrossEntropyLoss(), comm)
    steps = trainer.global_step - steps0
    res = {"data": name, "processes": comm.size, "global_batch": args.batch_size, "dtype": args.dtype,
           "epochs": trainer.epoch, "global_steps": trainer.global_step, "seconds": elapsed,
           "samples_per_s": steps * args.batch_size / elapsed if elapsed > 0 else None,
           "test_loss": test["loss"], "test_accuracy": test.get("accuracy"), "history": hist,
           "comm": trainer.ddp.stats.as_dict()}
    rank0_print(f"test accuracy {test.get('accuracy', float('nan')):.4f}, loss {test['loss']:.4f}; {steps} steps in "
                f"{elapsed:.1f} s ({res['samples_per_s']:.0f} samples/s); allreduce wait "
                f"{res['comm']['wait_ms_per_step']:.2f} ms/step", comm=comm)
    if comm.rank == 0:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"mnist_dp_p{comm.size}{args.tag}{'_quick' if args.quick else ''}"
        (out / f"{stem}.json").write_text(json.dumps(res, indent=1))
        from chainrule.train.plots import new_figure, save_figure
        fig = new_figure(figsize=(6, 3.6))
        ax = fig.add_subplot(1, 1, 1)
        sl = np.asarray(hist["step_loss"])
        ax.plot(np.arange(1, len(sl) + 1), sl, lw=0.7)
        ax.set_xlabel("global step")
        ax.set_ylabel("training loss (mean over the global batch)")
        ax.set_title(f"{comm.size} process(es), test acc {test.get('accuracy', float('nan')):.4f}")
        save_figure(fig, out / f"{stem}.png")
        print(f"wrote {out / (stem + '.json')} and .png")


if __name__ == "__main__":
    main()
