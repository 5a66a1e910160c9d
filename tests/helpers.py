"""Shared test helpers: PyTorch reference comparisons and data locations."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

ROOT = Path(__file__).resolve().parents[1]


def torch_or_skip():
    return pytest.importorskip("torch")


def t64(a, requires_grad: bool = True) -> cr.Tensor:
    """A float64 chainrule tensor (copy)."""
    return cr.Tensor(np.array(a, dtype=np.float64), requires_grad=requires_grad)


def rand(*shape, seed: int = 0, low: float = -1.0, high: float = 1.0, requires_grad: bool = True) -> cr.Tensor:
    rng = np.random.default_rng(seed)
    return cr.Tensor(rng.uniform(low, high, size=shape), requires_grad=requires_grad)


def compare_with_torch(f_cr, f_torch, arrays, rtol: float = 1e-10, atol: float = 1e-12, grad_out_seed: int = 1):
    """Run f on chainrule and torch float64 tensors built from ``arrays``; compare outputs and
    input gradients for a random output cotangent."""
    torch = torch_or_skip()
    xs = [cr.Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    ts = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    y = f_cr(*xs)
    yt = f_torch(*ts)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=atol)
    go = np.random.default_rng(grad_out_seed).standard_normal(y.shape)
    y.backward(cr.Tensor(go))
    yt.backward(torch.tensor(go))
    for x, t in zip(xs, ts):
        if t.grad is None:
            assert x.grad is None or np.allclose(x.grad.data, 0)
            continue
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=rtol, atol=atol)


def data_dir(name: str) -> Path | None:
    """Folder with the genuine IDX files for 'mnist' or 'fashion-mnist', or None."""
    env = os.environ.get("CHAINRULE_MNIST_DIR" if name == "mnist" else "CHAINRULE_FASHION_MNIST_DIR")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data" / name]:
        if (cand / "train-images-idx3-ubyte.gz").exists():
            return cand
    return None


def mnist_dir() -> Path:
    d = data_dir("mnist")
    if d is None:
        pytest.skip("MNIST IDX files not found (set CHAINRULE_MNIST_DIR)")
    return d


def fashion_dir() -> Path:
    d = data_dir("fashion-mnist")
    if d is None:
        pytest.skip("Fashion-MNIST IDX files not found (set CHAINRULE_FASHION_MNIST_DIR)")
    return d
