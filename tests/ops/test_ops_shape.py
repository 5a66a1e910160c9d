"""Shape and indexing ops: gradcheck (float64), PyTorch forward+backward, gradgradcheck."""

from __future__ import annotations

import numpy as np
import pytest
from _opcheck import check_op, rng_arrays
from helpers import t64

import chainrule as cr
from chainrule import ops

torch = pytest.importorskip("torch")

X34 = rng_arrays((3, 4), seed=0)
X234 = rng_arrays((2, 3, 4), seed=1)


CASES = {
    "reshape": (lambda a: a.reshape(4, 3) * 1.5, lambda a: a.reshape(4, 3) * 1.5, X34),
    "reshape_tuple_-1": (lambda a: ops.reshape(a, (2, -1)) ** 2, lambda a: a.reshape(2, -1) ** 2, X34),
    "view": (lambda a: a.view(12), lambda a: a.view(12), X34),
    "flatten": (lambda a: a.flatten(1) ** 2, lambda a: a.flatten(1) ** 2, X234),
    "flatten_all": (lambda a: ops.flatten(a), lambda a: a.flatten(), X234),
    "permute": (lambda a: a.permute(2, 0, 1) ** 2, lambda a: a.permute(2, 0, 1) ** 2, X234),
    "transpose": (lambda a: a.transpose(0, 2) ** 2, lambda a: a.transpose(0, 2) ** 2, X234),
    "T": (lambda a: a.T @ a, lambda a: a.T @ a, X34),
    "mT": (lambda a: a.mT ** 3, lambda a: a.mT ** 3, X234),
    "expand": (lambda a: a[:, None, :].expand(3, 5, 4) ** 2, lambda a: a[:, None, :].expand(3, 5, 4) ** 2, X34),
    "expand_-1": (lambda a: a[None].expand(2, -1, -1) ** 2, lambda a: a[None].expand(2, -1, -1) ** 2, X34),
    "broadcast_to": (lambda a: ops.broadcast_to(a, (2, 3, 4)) ** 2,
                     lambda a: torch.broadcast_to(a, (2, 3, 4)) ** 2, X34),
    "squeeze": (lambda a: a[:, None].squeeze(1) ** 2, lambda a: a[:, None].squeeze(1) ** 2, X34),
    "squeeze_all": (lambda a: a[None, :, None].squeeze() ** 2, lambda a: a[None, :, None].squeeze() ** 2, X34),
    "unsqueeze": (lambda a: a.unsqueeze(-1) ** 2, lambda a: a.unsqueeze(-1) ** 2, X34),
    "getitem_int": (lambda a: a[1] ** 2, lambda a: a[1] ** 2, X34),
    "getitem_slice": (lambda a: a[1:, ::2] ** 2, lambda a: a[1:, ::2] ** 2, X34),
    "getitem_negative": (lambda a: a[-1, -3:] ** 2, lambda a: a[-1, -3:] ** 2, X34),
    "getitem_ellipsis_none": (lambda a: a[..., None, 1] ** 2, lambda a: a[..., None, 1] ** 2, X234),
    "getitem_int_array_dups": (lambda a: a[[0, 2, 0, 0]] ** 2, lambda a: a[[0, 2, 0, 0]] ** 2, X34),
    "getitem_two_arrays": (lambda a: a[[0, 1, 1], [3, 2, 2]] ** 2, lambda a: a[[0, 1, 1], [3, 2, 2]] ** 2, X34),
    "getitem_mixed": (lambda a: a[1:, [0, 0, 3]] ** 2, lambda a: a[1:, [0, 0, 3]] ** 2, X34),
    "getitem_bool": (lambda a: a[np.array([True, False, True])] ** 2,
                     lambda a: a[torch.tensor([True, False, True])] ** 2, X34),
    "getitem_tensor_index": (lambda a: a[cr.Tensor(np.array([2, 0, 2]))] ** 2,
                             lambda a: a[torch.tensor([2, 0, 2])] ** 2, X34),
    "cat": (lambda a, b: ops.cat([a, b * 2, a], 0) ** 2, lambda a, b: torch.cat([a, b * 2, a], 0) ** 2,
            rng_arrays((3, 4), (2, 4), seed=2)),
    "cat_axis1": (lambda a, b: ops.concatenate([a, b], axis=1) ** 2, lambda a, b: torch.cat([a, b], 1) ** 2,
                  rng_arrays((3, 4), (3, 2), seed=3)),
    "cat_neg_axis": (lambda a, b: ops.cat([a, b], -1) ** 2, lambda a, b: torch.cat([a, b], -1) ** 2,
                     rng_arrays((3, 4), (3, 2), seed=3)),
    "stack": (lambda a, b: ops.stack([a, b, a]) ** 2, lambda a, b: torch.stack([a, b, a]) ** 2,
              rng_arrays((3, 4), (3, 4), seed=4)),
    "stack_axis_last": (lambda a, b: ops.stack([a, b], -1) ** 2, lambda a, b: torch.stack([a, b], -1) ** 2,
                        rng_arrays((3, 4), (3, 4), seed=5)),
    "split_int": (lambda a: ops.split(a, 3, 1)[1] ** 2, lambda a: torch.split(a, 3, 1)[1] ** 2, X34),
    "split_sizes": (lambda a: ops.split(a, [1, 2], 0)[1] ** 2, lambda a: torch.split(a, [1, 2], 0)[1] ** 2, X34),
    "split_method": (lambda a: a.split(2, 1)[0] * a.split(2, 1)[1],
                     lambda a: a.split(2, 1)[0] * a.split(2, 1)[1], X34),
    "chunk": (lambda a: ops.chunk(a, 2, 1)[1] ** 2, lambda a: torch.chunk(a, 2, 1)[1] ** 2, X34),
    "pad": (lambda a: ops.pad(a, ((1, 2), (0, 1))) ** 2,
            lambda a: torch.nn.functional.pad(a, (0, 1, 1, 2)) ** 2, X34),
    "pad_int_value": (lambda a: ops.pad(a, 1, value=0.5) ** 2,
                      lambda a: torch.nn.functional.pad(a, (1, 1, 1, 1), value=0.5) ** 2, X34),
    "clone": (lambda a: a.clone() ** 2, lambda a: a.clone() ** 2, X34),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_ops(name):
    f, ft, arrays = CASES[name]
    check_op(f, ft, arrays)


def test_getitem_duplicates_scatter_add():
    x = t64(np.arange(5.0))
    y = x[np.array([0, 0, 3, 0])]
    y.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [7, 0, 0, 3, 0])


def test_getitem_second_order_through_scatter():
    x = t64([1.0, 2.0, 3.0])
    y = (x[[0, 0, 2]] ** 3).sum()
    g = cr.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.data, [6, 0, 27])
    h = cr.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, [12, 0, 18])


def test_scatter_add_op():
    g = t64([1.0, 2.0, 3.0])
    z = ops.scatter_add(g, (np.array([0, 0, 2]),), (4,))
    np.testing.assert_array_equal(z.data, [3, 0, 3, 0])
    assert cr.gradcheck(lambda t: ops.scatter_add(t, (np.array([0, 0, 2]),), (4,)) ** 2, [g])


def test_cast_gradient_dtype():
    x = cr.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.double() * 3.0
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3, 3])
    assert x.astype(np.float32) is x
    i = x.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad


def test_shape_errors_are_clear():
    x = cr.Tensor(np.ones((3, 4)))
    with pytest.raises(ValueError, match="split sizes \\[1, 1\\] sum to 2, but the axis has length 3"):
        ops.split(x, [1, 1])
    with pytest.raises(ValueError, match="stack needs tensors of one shape"):
        ops.stack([x, cr.Tensor(np.ones((4, 3)))])
    with pytest.raises(ValueError, match="at least one"):
        ops.cat([])


def test_views_share_version_counter():
    x = t64(np.ones((2, 3)))
    y = ops.exp(x)
    v = y.reshape(6)
    assert v._version is y._version
    z = (y * y).sum()
    with cr.no_grad():
        v[0] = 5.0  # changes y's data too
    assert y.data[0, 0] == 5.0
    with pytest.raises(RuntimeError, match="modified in place"):
        z.backward()
    c = y.detach()[:, [0, 1]]  # advanced indexing copies: no shared counter
    assert c._version is not y._version
    assert y.T.reshape(-1)._version is not y._version  # reshaping a transpose copies
    assert y[1:][:, 1:]._version is y._version  # views of views share the owner's counter
