"""Measure the convolution algorithms on the layer shapes of LeNet-5, the TF MNIST CNN and a few others.

    python examples/cnn/conv_algorithms.py           # all shapes, 7 repeats
    python examples/cnn/conv_algorithms.py --quick   # fewer repeats

For each shape: forward and forward+backward time of chainrule's im2col/GEMM with the batch-inner and
the batch-last column layout, the FFT algorithm (stride 1 only), the alternatives that were rejected
(forward only: ``sliding_window_view`` + ``tensordot``, ``einsum``, and accumulating one GEMM per kernel
offset), and PyTorch.  Times are the *thread CPU time* of the best repeat (robust on a shared machine);
run with ``OPENBLAS_NUM_THREADS=1`` for single-thread numbers.  The ``auto`` column is the algorithm
chainrule picks.  Writes docs/cnn/conv_algorithms[_quick].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import chainrule as cr
from chainrule.ops import conv as C

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "cnn"

# name: (input (N, C, H, W), weight (K, C, k, k), stride, padding, input needs grad)
SHAPES = {
    "LeNet-5 C1": ((64, 1, 32, 32), (6, 1, 5, 5), 1, 0, False),
    "LeNet-5 C3": ((64, 6, 14, 14), (16, 6, 5, 5), 1, 0, True),
    "LeNet-5 C5": ((64, 16, 5, 5), (120, 16, 5, 5), 1, 0, True),
    "TF-CNN conv1": ((50, 1, 28, 28), (32, 1, 5, 5), 1, 2, False),
    "TF-CNN conv2": ((50, 32, 14, 14), (64, 32, 5, 5), 1, 2, True),
    "3x3 64->64 16x16": ((32, 64, 16, 16), (64, 64, 3, 3), 1, 1, True),
    "3x3 s2 32->64 32x32": ((32, 32, 32, 32), (64, 32, 3, 3), 2, 1, True),
}


def best_time(f, repeats: int, inner: int = 3) -> float:
    f()
    best = float("inf")
    for _ in range(repeats):
        t = time.thread_time()
        for _ in range(inner):
            f()
        best = min(best, (time.thread_time() - t) / inner)
    return best * 1e3


def alt_tensordot(x, w, s, p):
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    v = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::s, ::s]      # (N, C, Ho, Wo, k, k)
    return np.tensordot(v, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)


def alt_einsum(x, w, s, p):
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    v = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::s, ::s]
    return np.einsum("nchwij,kcij->nkhw", v, w, optimize=True)


def alt_offsets(x, w, s, p):
    """Accumulate one GEMM per kernel offset over strided slices (no column matrix)."""
    N, Cc, H, W = x.shape
    K, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))).transpose(1, 0, 2, 3)
    Ho, Wo = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    y = np.zeros((K, N * Ho * Wo), x.dtype)
    for i in range(kh):
        for j in range(kw):
            sl = np.ascontiguousarray(xp[:, :, i:i + s * (Ho - 1) + 1:s, j:j + s * (Wo - 1) + 1:s]).reshape(Cc, -1)
            y += w[:, :, i, j] @ sl
    return y.reshape(K, N, Ho, Wo).transpose(1, 0, 2, 3)


def chainrule_times(x, w, s, p, need_x, repeats, mode: dict) -> tuple[float, float]:
    old = (C._NLAST_MIN, C._FFT_MODE)
    C._NLAST_MIN, C._FFT_MODE = mode["nlast"], mode["fft"]
    try:
        X = cr.Tensor(x, requires_grad=need_x)
        W = cr.Tensor(w, requires_grad=True)
        y = C.conv2d(X, W, stride=s, padding=p)
        g = cr.Tensor(np.ones(y.shape, x.dtype))

        def fwd():
            with cr.no_grad():
                C.conv2d(X, W, stride=s, padding=p)

        def fwd_bwd():
            C.conv2d(X, W, stride=s, padding=p).backward(g)

        return best_time(fwd, repeats), best_time(fwd_bwd, repeats)
    finally:
        C._NLAST_MIN, C._FFT_MODE = old


def measure(name, xs, ws, s, p, need_x, repeats, modes, torch, rng) -> dict:
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    g = C._Geom(ws[2], ws[3], s, s, 1, 1, p, p, p, p, 1, xs[2], xs[3], xs[1], xs[0], ws[0])
    auto = "fft" if g.fft else ("im2col batch-last" if g.nlast else "im2col batch-inner")
    row = {"shape": name, "input": xs, "weight": ws, "stride": s, "padding": p, "auto": auto, "ms": {}}
    for mname, mode in modes.items():
        if mname == "fft" and s != 1:
            continue
        row["ms"][mname] = chainrule_times(x, w, s, p, need_x, repeats, mode)
    alternatives = (("swv+tensordot", alt_tensordot), ("swv+einsum", alt_einsum), ("per-offset GEMMs", alt_offsets))
    for aname, f in alternatives:
        row["ms"][aname] = (best_time(lambda f=f: f(x, w, s, p), repeats), None)
    if torch is not None:
        xt = torch.tensor(x, requires_grad=need_x)
        wt = torch.tensor(w, requires_grad=True)
        gt = torch.ones(torch.nn.functional.conv2d(xt, wt, stride=s, padding=p).shape)

        def tf():
            with torch.no_grad():
                torch.nn.functional.conv2d(xt, wt, stride=s, padding=p)

        def tfb():
            torch.nn.functional.conv2d(xt, wt, stride=s, padding=p).backward(gt)

        row["ms"]["torch"] = (best_time(tf, repeats), best_time(tfb, repeats))
    print(name, {k: tuple(None if v is None else round(v, 2) for v in t) for k, t in row["ms"].items()},
          "auto:", auto, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    repeats = 2 if args.quick else 7
    modes = {"im2col batch-inner": {"nlast": 10**9, "fft": "never"}, "im2col batch-last": {"nlast": 0, "fft": "never"},
             "fft": {"nlast": 64, "fft": "always"}}
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    rows = [measure(name, *spec, repeats, modes, torch, rng) for name, spec in SHAPES.items()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "conv_algorithms" + ("_quick" if args.quick else "")
    env = {k: v for k, v in os.environ.items() if k.startswith(("MALLOC_", "OPENBLAS_", "OMP_"))}
    (out / f"{stem}.json").write_text(json.dumps({"clock": "thread CPU time, best repeat", "env": env, "rows": rows},
                                                 indent=1))
    cols = list(modes) + ["swv+tensordot", "swv+einsum", "per-offset GEMMs", "torch"]
    lines = ["# Convolution algorithms: forward / forward+backward, ms (thread CPU time, best of "
             f"{repeats}; float32)", "", "| layer | auto | " + " | ".join(cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            t = r["ms"].get(c)
            cells.append("—" if t is None else (f"{t[0]:.2f}" + ("" if t[1] is None else f" / {t[1]:.2f}")))
        lines.append(f"| {r['shape']} | {r['auto']} | " + " | ".join(cells) + " |")
    lines += ["", f"Environment: {env or 'defaults'}.  On this VM a fresh page costs ~4 µs to fault in; "
              "``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` keep freed memory in the heap as a training "
              "loop's steady state does (isolated calls otherwise pay ~1 ms per 4 MB of new temporaries).",
              "", "Forward-only alternatives (sliding_window_view + tensordot/einsum, per-offset GEMM accumulation) "
              "were measured and rejected; chainrule picks the algorithm in the `auto` column (see "
              "`chainrule.ops.conv._Geom`)."]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / (stem + '.md')}")


if __name__ == "__main__":
    main()
