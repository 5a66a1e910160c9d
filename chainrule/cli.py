"""The ``chainrule`` command: train, eval, gradcheck, bench, info.

    chainrule train --model mlp --data digits --epochs 10 --out runs/digits
    chainrule eval runs/digits/model.npz --data digits
    chainrule gradcheck
    chainrule bench --only W1 --seconds 1
    chainrule info

``--data`` is ``digits`` (the embedded 8x8 set), ``mnist``, ``fashion-mnist`` or a folder holding
MNIST-format IDX files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``).  Models come from the registry in
``chainrule.presets`` (``mlp``; ``cnn`` and ``lenet5`` when the convolution layers are installed).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "load_dataset", "OPTIMIZERS"]


class CLIError(Exception):
    """An error caused by the user's input: printed without a traceback, exit status 2."""


# ----------------------------------------------------------------------------- optimizers
# First-order optimizers that fit() can drive with step(); name → (class name, default lr)
OPTIMIZERS = {"sgd": ("SGD", 0.1), "adam": ("Adam", 1e-3), "adamw": ("AdamW", 1e-3), "rmsprop": ("RMSprop", 1e-3),
              "adagrad": ("Adagrad", 1e-2), "adadelta": ("Adadelta", 1.0), "rprop": ("Rprop", 1e-2),
              "momentum": ("Momentum", 0.01)}


def available_optimizers() -> list[str]:
    from . import optim
    return [k for k, (cls, _) in OPTIMIZERS.items() if hasattr(optim, cls)]


def make_optimizer(name: str, params, lr: float | None, momentum: float = 0.0, weight_decay: float = 0.0):
    from . import optim
    key = name.lower()
    if key not in available_optimizers():
        raise CLIError(f"unknown optimizer {name!r}; available: {', '.join(available_optimizers())}")
    cls_name, default_lr = OPTIMIZERS[key]
    cls = getattr(optim, cls_name)
    accepted = inspect.signature(cls.__init__).parameters
    kw: dict[str, Any] = {"lr": default_lr if lr is None else lr}
    for name, value, default in (("momentum", momentum, 0.0), ("weight_decay", weight_decay, 0.0)):
        if value != default:
            if name not in accepted:
                raise CLIError(f"--{name.replace('_', '-')} is not an option of {cls_name}; drop it or choose "
                               "an optimizer that has it (e.g. sgd)")
            kw[name] = value
    if lr is not None and lr <= 0:
        raise CLIError(f"--lr must be positive, got {lr}")
    return cls(params, **kw)


# ----------------------------------------------------------------------------- data
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def load_dataset(data: str, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(X float32 NCHW in [0, 1], y int64, description) for ``data`` ∈ {digits, mnist, fashion-mnist, PATH}."""
    if split not in ("train", "test"):
        raise CLIError(f"split must be 'train' or 'test', got {split!r}")
    key = data.lower()
    if key == "digits":
        from .data import load_digits
        X, y = load_digits(split)
        return X, y, f"embedded 8x8 digits ({split})"
    if key in ("mnist", "fashion-mnist", "fashion_mnist", "fashion"):
        from .data import load_fashion_mnist, load_mnist
        loader = load_mnist if key == "mnist" else load_fashion_mnist
        env = "CHAINRULE_MNIST_DIR" if key == "mnist" else "CHAINRULE_FASHION_MNIST_DIR"
        try:
            X, y = loader(split=split)
        except (FileNotFoundError, OSError, RuntimeError) as e:
            raise CLIError(f"cannot load {data} ({e}). Put the four IDX files in a folder and pass it as --data "
                           f"PATH, or set {env}") from None
        return X, y, f"{key} ({split})"
    folder = Path(data).expanduser()
    if not folder.exists():
        raise CLIError(f"--data {data!r}: not a known data set (digits, mnist, fashion-mnist) and no such folder")
    if not folder.is_dir():
        raise CLIError(f"--data {data!r} is a file; pass the folder that holds the IDX files")
    img_stem, lab_stem = _IDX_FILES[split]
    img, lab = _find_idx(folder, img_stem), _find_idx(folder, lab_stem)
    if img is None or lab is None:
        missing = [s for s, p in ((img_stem, img), (lab_stem, lab)) if p is None]
        raise CLIError(f"{folder}: missing IDX file(s) {missing} (optionally .gz) for the {split} split")
    from .data import read_idx
    try:
        X, y = read_idx(img), read_idx(lab)
    except Exception as e:  # noqa: BLE001 - reported as a data error
        raise CLIError(f"{folder}: cannot read IDX files: {e}") from None
    if X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
        raise CLIError(f"{folder}: expected images (N, H, W) and labels (N,), got {X.shape} and {y.shape}")
    X = X.astype(np.float32)
    if X.max(initial=0) > 1:
        X /= np.float32(255.0)
    return X[:, None], y.astype(np.int64), f"IDX folder {folder} ({split})"


def _check_device(device: str) -> None:
    if device.lower() != "cpu":
        raise CLIError(f"device {device!r} is not available: this build computes on the CPU with NumPy "
                       "(use --device cpu)")


# ----------------------------------------------------------------------------- train / eval
def prepare_training(args: argparse.Namespace) -> tuple:
    """What single-process and data-parallel ``train`` share: seed and dtype, the data and its validation
    split (the same on every rank), the model, the optimizer and the loss."""
    import chainrule as cr

    from . import nn, presets

    cr.manual_seed(args.seed)
    if args.dtype == "float64":
        cr.set_default_dtype(np.float64)
    X, y, desc = load_dataset(args.data, "train")
    Xte, yte, _ = load_dataset(args.data, "test")
    dt = np.float64 if args.dtype == "float64" else np.float32
    X, Xte = X.astype(dt, copy=False), Xte.astype(dt, copy=False)
    if args.limit:
        X, y = X[:args.limit], y[:args.limit]
    n_val = int(round(args.val_fraction * len(X)))
    perm = np.random.default_rng(args.seed).permutation(len(X))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    Xtr, ytr = X[tr_idx], y[tr_idx]
    num_classes = int(max(y.max(), yte.max())) + 1
    input_shape = tuple(X.shape[1:])
    kwargs: dict[str, Any] = {"generator": cr.Generator(args.seed)} if args.model.lower() == "mlp" else {}
    if args.model.lower() == "mlp" and args.hidden:
        kwargs["hidden"] = tuple(args.hidden)
    try:
        model = presets.build_model(args.model, input_shape, num_classes, **kwargs)
    except ValueError as e:
        raise CLIError(str(e)) from None
    if args.dtype == "float64":
        model.to(np.float64)
    opt = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum, args.weight_decay)
    return (X, y, Xte, yte, desc, n_val, val_idx, Xtr, ytr, num_classes, input_shape, kwargs, model, opt,
            nn.CrossEntropyLoss())


def cmd_train(args: argparse.Namespace) -> int:
    from .distributed.cli import maybe_distributed_train
    rc = maybe_distributed_train(args)
    if rc is not None:
        return rc
    import chainrule as cr

    from . import presets
    from .io import save_checkpoint
    from .train import EarlyStopping, fit, plot_learning_curves
    from .train.loop import evaluate

    _check_device(args.device)
    if args.epochs < 1 or args.batch_size < 1:
        raise CLIError(f"--epochs and --batch-size must be positive, got {args.epochs} and {args.batch_size}")
    if args.model.lower() not in presets.MODEL_REGISTRY:
        raise CLIError(f"unknown model {args.model!r}; available: {', '.join(presets.available_models())}")
    if args.model.lower() not in presets.available_models():
        raise CLIError(f"model {args.model!r} needs layers this build lacks; available: "
                       f"{', '.join(presets.available_models())}")
    (X, y, Xte, yte, desc, n_val, val_idx, Xtr, ytr, num_classes, input_shape, kwargs, model, opt,
     loss_fn) = prepare_training(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [EarlyStopping(patience=args.patience)] if args.patience is not None and n_val else []
    print(f"training {args.model} ({model.num_parameters():,} parameters) on {desc}: {len(Xtr)} train / "
          f"{n_val} validation samples, {args.optimizer} lr {opt.param_groups[0]['lr']:g}, batch {args.batch_size}, "
          f"{args.epochs} epoch(s)")
    hist = fit(model, loss_fn, opt, (Xtr, ytr), epochs=args.epochs, batch_size=args.batch_size,
               val_loader=(X[val_idx], y[val_idx]) if n_val else None, callbacks=callbacks,
               progress=not args.no_progress, generator=cr.Generator(args.seed))
    test = evaluate(model, (Xte, yte), loss_fn, ("accuracy",))
    meta = {"model": args.model.lower(), "model_kwargs": {k: v for k, v in kwargs.items() if k != "generator"},
            "input_shape": list(input_shape), "num_classes": num_classes, "data": args.data,
            "dtype": args.dtype, "optimizer": args.optimizer, "lr": opt.param_groups[0]["lr"],
            "epochs_run": hist.num_epochs, "seed": args.seed,
            "test": {"loss": test["loss"], "loss_se": test["loss_se"], "accuracy": test["accuracy"]}}
    meta["model_kwargs"] = {k: list(v) if isinstance(v, tuple) else v for k, v in meta["model_kwargs"].items()}
    ckpt = save_checkpoint(out / "model.npz", model=model, optimizer=opt, metadata=meta, epoch=hist.num_epochs)
    hist.save_json(out / "history.json")
    plot_learning_curves(hist, out / "curves.png", title=f"{args.model} on {args.data}")
    (out / "metrics.json").write_text(json.dumps(meta, indent=1))
    for e, (lo, acc) in enumerate(zip(hist["loss"], hist["accuracy"])):
        extra = ""
        if "val_loss" in hist:
            extra = f"  val_loss {hist['val_loss'][e]:.4f}  val_acc {hist['val_accuracy'][e]:.4f}"
        print(f"epoch {e + 1:3d}  loss {lo:.4f}  acc {acc:.4f}{extra}")
    print(f"test: loss {test['loss']:.4f} ± {test['loss_se']:.4f} (SE), accuracy {test['accuracy']:.4f} "
          f"on {test['n']} samples (training {hist.total_time:.2f} s)")
    print(f"wrote {ckpt}, {out / 'history.json'}, {out / 'curves.png'}, {out / 'metrics.json'}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from . import nn, presets
    from .io import CheckpointError, load_checkpoint, load_metadata
    from .train.loop import evaluate

    _check_device(args.device)
    path = Path(args.checkpoint)
    if path.is_dir():
        path = path / "model.npz"
    if not path.is_file():
        raise CLIError(f"checkpoint {path} not found (chainrule train --out DIR writes DIR/model.npz)")
    try:
        meta = load_metadata(path).get("metadata", {})
    except CheckpointError as e:
        raise CLIError(str(e)) from None
    if "model" not in meta or "input_shape" not in meta:
        raise CLIError(f"{path} lacks the model description in its metadata; it was not written by "
                       "`chainrule train`")
    data = args.data or meta.get("data")
    X, y, desc = load_dataset(data, args.split)
    shape = tuple(meta["input_shape"])
    if tuple(X.shape[1:]) != shape:
        raise CLIError(f"the checkpoint's model expects samples of shape {shape}, but {desc} has "
                       f"{tuple(X.shape[1:])}; pass the data it was trained on")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in meta.get("model_kwargs", {}).items()}
    model = presets.build_model(meta["model"], shape, int(meta["num_classes"]), **kwargs)
    if meta.get("dtype") == "float64":
        model.to(np.float64)
        X = X.astype(np.float64)
    try:
        load_checkpoint(path, model=model)
    except (CheckpointError, RuntimeError) as e:
        raise CLIError(f"cannot load {path}: {e}") from None
    res = evaluate(model, (X, y), nn.CrossEntropyLoss(), ("accuracy", "error_count"), batch_size=args.batch_size)
    print(f"{meta['model']} from {path} on {desc}:")
    print(f"  loss      {res['loss']:.6f} ± {res['loss_se']:.6f} (standard error over {res['n']} samples)")
    print(f"  accuracy  {res['accuracy']:.6f}  ({int(res['error_count'])} errors)")
    if args.json:
        Path(args.json).write_text(json.dumps({"checkpoint": str(path), "data": desc, **res}, indent=1))
    return 0


# ----------------------------------------------------------------------------- gradcheck / bench / info
def cmd_gradcheck(args: argparse.Namespace) -> int:
    from .utils import gradcheck_suite
    only = [s for s in args.only.split(",") if s] if args.only else None
    rows = gradcheck_suite.run_suite(second_order=not args.first_order_only, only=only, seed=args.seed)
    if not rows:
        raise CLIError(f"no gradcheck case matches --only {args.only!r}")
    print(gradcheck_suite.format_table(rows))
    failed = [r["name"] for r in rows if "FAIL" in (r["first"], r["second"])]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _bench_script() -> Path | None:
    p = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
    return p if p.is_file() else None


def _builtin_bench(seconds: float) -> int:
    """Micro-benchmark without the workload files: GEMM rate and a W1-like MLP step (chainrule only)."""
    import chainrule as cr
    from chainrule.models import MLP
    from chainrule.nn import functional as F
    from chainrule.utils.benchmark import IndexStream, time_interleaved
    rng = np.random.default_rng(0)
    a = rng.random((512, 512), dtype=np.float32)

    def gemm():
        return a @ a

    X = rng.random((1000, 784), dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 1000)]
    model = MLP([784, 30, 10], "sigmoid", "sigmoid", init="normal", generator=cr.Generator(0))
    opt = cr.optim.SGD(model.parameters(), lr=3.0)
    idx = IndexStream(1000, 10)

    def step():
        b = next(idx)
        loss = F.mse_loss(model(cr.Tensor._wrap(X[b])), cr.Tensor._wrap(Y[b]), reduction="sum") * 0.05
        opt.zero_grad()
        loss.backward()
        opt.step()

    res = time_interleaved({"gemm": (gemm, 1), "mlp": (step, 10)}, seconds=seconds, repeat=3, warmup=0.2)
    gflops = 2 * 512 ** 3 / (res["gemm"]["best_step_ms"] * 1e-3) / 1e9
    print(f"float32 GEMM 512x512: {gflops:.1f} GFLOP/s")
    print(f"MLP [784,30,10] sigmoid, SGD, batch 10 (random data): {res['mlp']['best_samples_per_s']:,.0f} samples/s "
          f"({res['mlp']['best_step_ms'] * 1e3:.0f} µs/step)")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    script = _bench_script()
    if script is None or args.builtin:
        if script is None:
            print("benchmarks/run.py not found (installed package without the source tree): built-in "
                  "micro-benchmark")
        return _builtin_bench(args.seconds)
    import importlib.util
    spec = importlib.util.spec_from_file_location("chainrule_bench_run", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    argv = ["--seconds", str(args.seconds), "--repeat", str(args.repeat)]
    if args.only:
        argv += ["--only", args.only]
    if args.json:
        argv += ["--json", args.json]
    return int(mod.main(argv) or 0)


def _info() -> dict[str, Any]:
    import platform

    import scipy

    import chainrule as cr

    from . import presets
    info: dict[str, Any] = {
        "chainrule": cr.__version__, "python": platform.python_version(), "platform": platform.platform(),
        "backend": "numpy (CPU)", "numpy": np.__version__, "scipy": scipy.__version__,
        "default_dtype": str(cr.get_default_dtype()), "devices": ["cpu"],
        "models": presets.available_models(), "optimizers": available_optimizers(),
    }
    try:
        cfg = np.show_config(mode="dicts")
        deps = cfg.get("Build Dependencies", {})
        info["blas_build"] = {k: {kk: deps[k].get(kk) for kk in ("name", "version") if kk in deps[k]}
                              for k in ("blas", "lapack") if k in deps}
    except (TypeError, AttributeError, KeyError):
        info["blas_build"] = None
    try:
        from threadpoolctl import threadpool_info
        np.ones((2, 2)) @ np.ones((2, 2))
        info["threadpools"] = [{k: d.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
                               for d in threadpool_info()]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    try:
        from .data.datasets import _candidate_dirs
        found = {}
        for name, env in (("mnist", "CHAINRULE_MNIST_DIR"), ("fashion-mnist", "CHAINRULE_FASHION_MNIST_DIR")):
            dirs = [d for d in _candidate_dirs(None, env, name) if (d / "train-images-idx3-ubyte.gz").exists()]
            found[name] = str(dirs[0]) if dirs else None
        info["datasets"] = found
    except ImportError:
        pass
    return info


def cmd_info(args: argparse.Namespace) -> int:
    info = _info()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    for k, v in info.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            print(f"{k}:")
            for d in v:
                print("  " + ", ".join(f"{a}={b}" for a, b in d.items()))
        else:
            print(f"{k}: {v}")
    return 0


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from . import presets
    p = argparse.ArgumentParser(prog="chainrule", description="chainrule: train, evaluate, check and benchmark.")
    sub = p.add_subparsers(dest="command", metavar="{train,eval,gradcheck,bench,info}")

    t = sub.add_parser("train", help="train a model on a data set; writes a checkpoint, history and curves")
    t.add_argument("--model", default="mlp",
                   help=f"registered model (available: {', '.join(presets.available_models())})")
    t.add_argument("--data", default="digits", help="digits | mnist | fashion-mnist | PATH to a folder of IDX files")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--optimizer", default="sgd", help=f"one of {', '.join(OPTIMIZERS)} (those installed)")
    t.add_argument("--lr", type=float, default=None, help="learning rate (default per optimizer: sgd 0.1, adam 1e-3)")
    t.add_argument("--momentum", type=float, default=0.0, help="SGD momentum")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--hidden", type=int, nargs="*", default=None, help="hidden layer sizes of the mlp (default 128)")
    t.add_argument("--val-fraction", type=float, default=0.1, help="share of the training set held out for validation")
    t.add_argument("--patience", type=int, default=None, help="early stopping on val_loss with this patience")
    t.add_argument("--limit", type=int, default=None, help="use only the first N training samples")
    t.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    t.add_argument("--out", default="runs/latest", help="output folder (default runs/latest)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="cpu", help="cpu (the only device of this NumPy build)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    from .distributed.cli import add_distributed_arguments
    add_distributed_arguments(t)  # `mpiexec -n P chainrule train ...` trains data-parallel
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint written by `chainrule train`")
    e.add_argument("checkpoint", help="model.npz (or the --out folder of train)")
    e.add_argument("--data", default=None, help="data set (default: the one it was trained on)")
    e.add_argument("--split", choices=("test", "train"), default="test")
    e.add_argument("--batch-size", type=int, default=1024)
    e.add_argument("--device", default="cpu")
    e.add_argument("--json", default=None, help="also write the results to this JSON file")
    e.set_defaults(func=cmd_eval)

    g = sub.add_parser("gradcheck", help="finite-difference gradient checks over the library's ops")
    g.add_argument("--only", default=None, help="comma-separated substrings of case names")
    g.add_argument("--first-order-only", action="store_true", help="skip gradgradcheck")
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(func=cmd_gradcheck)

    b = sub.add_parser("bench", help="throughput against PyTorch (benchmarks/run.py) or a built-in micro-benchmark")
    b.add_argument("--only", default=None, help="workload ids, e.g. W1,W2")
    b.add_argument("--seconds", type=float, default=1.0)
    b.add_argument("--repeat", type=int, default=5)
    b.add_argument("--json", default=None)
    b.add_argument("--builtin", action="store_true", help="run the built-in micro-benchmark (no torch needed)")
    b.set_defaults(func=cmd_bench)

    i = sub.add_parser("info", help="versions, backend, BLAS and threads, data sets found")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)
    return p


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 check failed, 2 usage/data error).
    ``parser`` replaces the default one (``python -m chainrule.distributed`` passes its own)."""
    import chainrule as cr
    parser = parser or build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help or a usage error
        return int(e.code or 0)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    dtype0 = cr.get_default_dtype()
    try:
        return int(args.func(args) or 0)
    except CLIError as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2
    finally:
        cr.set_default_dtype(dtype0)


if __name__ == "__main__":
    sys.exit(main())
