"""``chainrule train`` on several processes.

    mpiexec -n 4 python -m chainrule.distributed train --model mlp --data mnist --epochs 5 --batch-size 128
    mpiexec -n 2 python -m chainrule.distributed train ... --resume runs/latest/train_state.npz

The arguments are those of ``chainrule train`` plus ``--resume PATH|auto``, ``--checkpoint-every N`` (steps),
``--no-overlap`` and ``--bucket-mb``.  ``--batch-size`` is the **global** batch (each of the p workers
takes batch/p samples per step), so the trajectory does not depend on the number of workers and a run
can resume with a different ``-n``.  Rank 0 prints, writes ``model.npz`` (readable by ``chainrule eval``),
``history.json``, ``curves.png``, ``metrics.json`` and the resumable ``train_state.npz``.

Hook for the main CLI (``chainrule/cli.py``): ``add_distributed_arguments(train_parser)`` in
``build_parser`` and, first thing in ``cmd_train``,
``rc = maybe_distributed_train(args); if rc is not None: return rc`` — then
``mpiexec -n 4 chainrule train ...`` runs data-parallel.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .comm import get_communicator, launched_world_size

__all__ = ["add_distributed_arguments", "maybe_distributed_train", "distributed_train", "build_parser", "main"]


def add_distributed_arguments(train_parser: argparse.ArgumentParser) -> None:
    """The options of the data-parallel path, added to a ``train`` sub-parser."""
    g = train_parser.add_argument_group("distributed (mpiexec -n P ...)")
    g.add_argument("--resume", default=None,
                   help="continue from this train_state.npz ('auto': OUT/train_state.npz if it exists), with any "
                        "number of workers")
    g.add_argument("--checkpoint-every", type=int, default=None,
                   help="also write OUT/train_state.npz every N steps (always at each epoch's end)")
    g.add_argument("--no-overlap", action="store_true", help="reduce gradients after backward instead of during it")
    g.add_argument("--bucket-mb", type=float, default=25.0, help="gradient bucket size in MB (default 25)")
    g.add_argument("--distributed", action="store_true",
                   help="use the data-parallel path even with one process (auto under mpiexec -n P > 1)")


def maybe_distributed_train(args: argparse.Namespace) -> int | None:
    """Run :func:`distributed_train` when launched by mpiexec with several processes (or with --distributed /
    --resume); return None to let the single-process ``cmd_train`` continue."""
    if launched_world_size() > 1 or getattr(args, "distributed", False) or getattr(args, "resume", None):
        return distributed_train(args)
    return None


def _history_object(hist: dict, epochs_done: int):
    from ..train.loop import History
    h = History()
    h.batch_loss = [float(v) for v in hist.get("step_loss", [])]
    steps_per_epoch = len(h.batch_loss) // max(epochs_done, 1) if epochs_done else 0
    for e in range(len(hist.get("loss", []))):
        logs = {k: hist[k][e] for k in ("loss", "val_loss", "val_accuracy", "time") if k in hist and e < len(hist[k])}
        h._log_epoch(e, logs, min((e + 1) * steps_per_epoch, len(h.batch_loss)))
    return h


def distributed_train(args: argparse.Namespace) -> int:
    """``chainrule train`` with :class:`~chainrule.distributed.trainer.DataParallelTrainer` (see the module doc)."""

    from .. import presets
    from ..cli import CLIError, _check_device, prepare_training
    from ..io import save_checkpoint
    from ..train import plot_learning_curves
    from .trainer import DataParallelTrainer, distributed_evaluate, rank0_print

    comm = get_communicator()
    _check_device(args.device)
    if args.epochs < 1 or args.batch_size < 1:
        raise CLIError(f"--epochs and --batch-size must be positive, got {args.epochs} and {args.batch_size}")
    if args.batch_size % comm.size:
        ok = [k for k in range(1, args.batch_size + 1) if args.batch_size % k == 0]
        raise CLIError(f"--batch-size {args.batch_size} is the global batch and must be divisible by the {comm.size} "
                       f"workers; use mpiexec -n k with k in {ok}, or a multiple of {comm.size}")
    if args.model.lower() not in presets.available_models():
        raise CLIError(f"unknown or unavailable model {args.model!r}; available: "
                       f"{', '.join(presets.available_models())}")
    (X, y, Xte, yte, desc, n_val, val_idx, Xtr, ytr, num_classes, input_shape, kwargs, model, opt,
     loss_fn) = prepare_training(args)  # the split is seeded, so it is the same on every rank
    out = Path(args.out)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    state_path = out / "train_state.npz"
    resume = getattr(args, "resume", None)
    if resume == "auto":
        resume = True
    trainer = DataParallelTrainer(
        model, loss_fn, opt, (Xtr, ytr), batch_size=args.batch_size, comm=comm, seed=args.seed,
        checkpoint=state_path, checkpoint_every=getattr(args, "checkpoint_every", None), resume=resume,
        overlap=not getattr(args, "no_overlap", False), bucket_cap_mb=getattr(args, "bucket_mb", 25.0),
        val_data=(X[val_idx], y[val_idx]) if n_val else None, progress=not args.no_progress,
        metadata={"data": args.data, "model": args.model.lower()})
    rank0_print(f"training {args.model} ({model.num_parameters():,} parameters) on {desc} with {comm.size} "
                f"worker(s): {len(Xtr)} train / {n_val} validation samples, {args.optimizer} lr "
                f"{opt.param_groups[0]['lr']:g}, global batch {args.batch_size} ({trainer.local_batch_size} per "
                f"worker), {args.epochs} epoch(s)", comm=comm)
    patience = getattr(args, "patience", None)
    best, bad = float("inf"), 0
    while trainer.epoch < args.epochs:
        hist = trainer.fit(trainer.epoch + 1, total_epochs=args.epochs)
        if patience is not None and "val_loss" in hist:
            v = hist["val_loss"][-1]
            best, bad = (v, 0) if v < best else (best, bad + 1)
            if bad > patience:  # the same decision on every rank: the history is reduced
                rank0_print(f"early stopping: val_loss has not improved for {patience} epoch(s)", comm=comm)
                break
    hist = trainer.history
    test = distributed_evaluate(model, Xte, yte, loss_fn, comm)
    meta = {"model": args.model.lower(), "model_kwargs": {k: v for k, v in kwargs.items() if k != "generator"},
            "input_shape": list(input_shape), "num_classes": num_classes, "data": args.data,
            "dtype": args.dtype, "optimizer": args.optimizer, "lr": opt.param_groups[0]["lr"],
            "epochs_run": len(hist["loss"]), "seed": args.seed, "workers": comm.size,
            "global_batch_size": args.batch_size,
            "test": {"loss": test["loss"], "loss_se": test["loss_se"], "accuracy": test.get("accuracy")}}
    meta["model_kwargs"] = {k: list(v) if isinstance(v, tuple) else v for k, v in meta["model_kwargs"].items()}
    if comm.rank == 0:
        ckpt = save_checkpoint(out / "model.npz", model=model, optimizer=opt, metadata=meta, epoch=len(hist["loss"]))
        h = _history_object(hist, len(hist["loss"]))
        h.save_json(out / "history.json")
        plot_learning_curves(h, out / "curves.png", title=f"{args.model} on {args.data} ({comm.size} workers)")
        (out / "metrics.json").write_text(json.dumps(meta, indent=1))
        acc = test.get("accuracy", float("nan"))
        print(f"test: loss {test['loss']:.4f} ± {test['loss_se']:.4f} (SE), accuracy {acc:.4f} on {test['n']} samples")
        print(f"wrote {ckpt}, {out / 'history.json'}, {out / 'curves.png'}, {out / 'metrics.json'}, {state_path}")
        sys.stdout.flush()
    comm.barrier()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """``chainrule``'s parser with the distributed options on ``train``."""
    from ..cli import build_parser as base
    p = base()
    p.prog = "python -m chainrule.distributed"
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    t = sub.choices["train"]
    if not any(a.dest == "resume" for a in t._actions):
        add_distributed_arguments(t)
    t.set_defaults(func=distributed_train)
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m chainrule.distributed train ...`` (other sub-commands behave as in ``chainrule``)."""
    from ..cli import main as cli_main
    return cli_main(argv, parser=build_parser())
