"""Shared checks for op tests: float64 gradcheck, PyTorch forward/backward comparison, gradgradcheck."""

from __future__ import annotations

import numpy as np
from helpers import compare_with_torch

import chainrule as cr


def check_op(f_cr, f_torch, arrays, smooth: bool = True, rtol: float = 1e-10, atol: float = 1e-12,
             gg_atol: float = 1e-5) -> None:
    """gradcheck (central differences, float64) + torch comparison (rtol 1e-10) + gradgradcheck if smooth."""
    xs = [cr.Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    assert cr.gradcheck(f_cr, xs)
    if f_torch is not None:
        compare_with_torch(f_cr, f_torch, arrays, rtol=rtol, atol=atol)
    if smooth:
        assert cr.gradgradcheck(f_cr, xs, atol=gg_atol)


def rng_arrays(*shapes, seed: int = 0, low: float = -1.0, high: float = 1.0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(low, high, s) for s in shapes]
