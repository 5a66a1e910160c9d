"""Property tests (hypothesis): random shapes, broadcasting, axes and indices against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import compare_with_torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import ops

torch = pytest.importorskip("torch")
FAST = settings(max_examples=15, deadline=None)


@st.composite
def broadcastable_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 1.5, s) for s in shapes.input_shapes]


@FAST
@given(arrays=broadcastable_pair(), op=st.sampled_from(["add", "sub", "mul", "div", "pow", "maximum"]))
def test_binary_broadcasting_matches_torch(arrays, op):
    f = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
         "div": lambda a, b: a / b, "pow": lambda a, b: a ** b}
    if op == "maximum":
        compare_with_torch(ops.maximum, torch.maximum, arrays)
    else:
        compare_with_torch(f[op], f[op], arrays)


@st.composite
def array_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    seed = draw(st.integers(0, 2 ** 16))
    return np.random.default_rng(seed).normal(size=shape), tuple(axes), draw(st.booleans())


@FAST
@given(case=array_and_axis(), red=st.sampled_from(["sum", "mean", "logsumexp", "amax", "var"]))
def test_reductions_match_torch(case, red):
    x, axes, keep = case
    if red == "var":
        n = int(np.prod([x.shape[a] for a in axes]))
        if n < 2:
            return
        compare_with_torch(lambda a: ops.var(a, axes, 1, keep),
                           lambda a: torch.var(a, axes, correction=1, keepdim=keep), [x])
        return
    fc = {"sum": ops.sum, "mean": ops.mean, "logsumexp": ops.logsumexp, "amax": ops.max}[red]
    ft = {"sum": torch.sum, "mean": torch.mean, "logsumexp": torch.logsumexp, "amax": torch.amax}[red]
    compare_with_torch(lambda a: fc(a, axes, keep), lambda a: ft(a, axes, keep), [x])


@st.composite
def index_case(draw):
    n, m = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    idx = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=8))
    seed = draw(st.integers(0, 2 ** 16))
    return np.random.default_rng(seed).normal(size=(n, m)), np.array(idx)


@FAST
@given(case=index_case())
def test_integer_array_indexing_scatter_adds(case):
    x, idx = case
    compare_with_torch(lambda a: a[idx] * 2.0, lambda a: a[torch.tensor(idx)] * 2.0, [x])


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), seed=st.integers(0, 1000))
def test_permute_reshape_roundtrip_gradient(shape, seed):
    x = np.random.default_rng(seed).normal(size=shape)
    perm = tuple(np.random.default_rng(seed).permutation(len(shape)))
    compare_with_torch(lambda a: (a.permute(*perm).reshape(-1) ** 2),
                       lambda a: (a.permute(*perm).reshape(-1) ** 2), [x])


@FAST
@given(arrays=broadcastable_pair())
def test_float32_never_upcast(arrays):
    a = cr.Tensor(arrays[0].astype(np.float32), requires_grad=True)
    y = (a * np.float64(2.0) + arrays[1] - 1.0) / 3.0
    assert y.dtype == np.float32
    y.sum().backward()
    assert a.grad.dtype == np.float32
