"""Tensor: construction, dtype policy, operators, graph recording, backward, in-place safety."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import compare_with_torch, t64

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import ops


# ----------------------------------------------------------------------------- construction
def test_construction_dtypes():
    assert cr.Tensor([1.0, 2.0]).dtype == np.float32
    assert cr.Tensor(3.5).dtype == np.float32 and cr.Tensor(3.5).shape == ()
    assert cr.Tensor([1, 2]).dtype.kind == "i"
    assert cr.Tensor(np.zeros(3, dtype=np.float64)).dtype == np.float64
    assert cr.Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert cr.Tensor(np.float64(1.5)).dtype == np.float64  # NumPy scalars keep their dtype, like arrays
    assert cr.Tensor(np.float32(1.5)).dtype == np.float32
    cr.set_default_dtype(np.float64)
    assert cr.Tensor([1.0]).dtype == np.float64
    with pytest.raises(TypeError, match="floating dtype"):
        cr.set_default_dtype(np.int32)


def test_ndarray_is_not_copied_and_tensor_copies():
    a = np.zeros(3)
    assert cr.Tensor(a).data is a
    b = cr.tensor(a)
    assert b.data is not a and np.array_equal(b.data, a)


def test_properties_and_conversions():
    x = cr.Tensor(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.numel() == 6 and x.dim() == 2
    assert len(x) == 2 and x.device == "cpu" and x.is_leaf and x.grad_fn is None
    assert x.numpy() is x.data
    assert cr.Tensor([[4.0]]).item() == 4.0
    assert x.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert x.double().dtype == np.float64 and x.float().dtype == np.float32 and x.to(np.float32).dtype == np.float32
    assert x.to("cpu") is x
    with pytest.raises(ValueError, match="item\\(\\) needs a tensor with one element"):
        x.item()
    with pytest.raises(ValueError, match="not available"):
        x.to("cuda")
    y = cr.Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach\\(\\).numpy\\(\\)"):
        y.numpy()
    assert float(cr.Tensor(2.5)) == 2.5 and int(cr.Tensor(3)) == 3


def test_integer_and_bool_tensors_cannot_require_grad():
    for data in ([1, 2], [True, False]):
        with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
            cr.Tensor(data, requires_grad=True)
        with pytest.raises(TypeError, match="Convert it first"):
            cr.Tensor(data).requires_grad_()


def test_requires_grad_off_only_on_leaves():
    x = cr.Tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)
    x.requires_grad_(False)
    assert not (x * 2).requires_grad


def test_repr():
    x = cr.Tensor(np.eye(2), requires_grad=True)
    r = repr(x)
    assert r.startswith("tensor([[1., 0.],\n        [0., 1.]]") and "float64" in r and "requires_grad=True" in r
    assert "grad_fn=" in repr(x * 2)
    assert repr(cr.Tensor([1.0, 2.0])) == "tensor([1., 2.])"


# ----------------------------------------------------------------------------- operators
def test_operators_match_numpy_with_broadcasting():
    rng = np.random.default_rng(0)
    A, B = rng.uniform(1, 2, (3, 4)), rng.uniform(1, 2, (4,))
    a, b = cr.Tensor(A), cr.Tensor(B)
    for got, want in [(a + b, A + B), (a - b, A - B), (a * b, A * B), (a / b, A / B), (a ** b, A ** B),
                      (-a, -A), (abs(-a), A), (a @ B, A @ B), (2.0 + a, 2 + A), (2.0 - a, 2 - A),
                      (2.0 * a, 2 * A), (2.0 / a, 2 / A), (2.0 ** a, 2 ** A), (B @ a.T, B @ A.T),
                      (B + a, B + A), (B - a, B - A), (B * a, B * A), (B / a, B / A)]:
        assert isinstance(got, cr.Tensor)
        np.testing.assert_allclose(got.data, want, rtol=1e-15)
    assert (a > 1.5).dtype == bool and not (a > 1.5).requires_grad
    np.testing.assert_array_equal((a <= b).data, A <= B)
    np.testing.assert_array_equal(((a > 1.2) & (a < 1.8)).data, (A > 1.2) & (A < 1.8))


def test_reflected_operators_gradients_torch():
    rng = np.random.default_rng(1)
    compare_with_torch(lambda x, y: 2.0 - x / y + 3.0 / x * (1.5 ** y),
                       lambda x, y: 2.0 - x / y + 3.0 / x * (1.5 ** y),
                       [rng.uniform(0.5, 2, (2, 3)), rng.uniform(0.5, 2, (3,))])


FLOAT32_OPS = {
    "add_py": lambda x: x + 1.5,
    "radd_np64": lambda x: np.float64(1.5) + x,
    "sub_np64": lambda x: x - np.float64(0.5),
    "rsub_py": lambda x: 1.0 - x,
    "mul_np64": lambda x: x * np.float64(2.0),
    "rmul_np64": lambda x: np.float64(2.0) * x,
    "div_np64": lambda x: x / np.float64(3.0),
    "rdiv_np64": lambda x: np.float64(1.0) / (x + 2),
    "pow_np64": lambda x: (x + 2) ** np.float64(1.5),
    "rpow_np64": lambda x: np.float64(2.0) ** x,
    "pow_tensor": lambda x: (x + 2) ** (x * 0.5),
    "array64": lambda x: x * np.ones(4),
    "neg": lambda x: -x,
    "exp": ops.exp,
    "log": lambda x: ops.log(x + 2),
    "log1p": lambda x: ops.log1p(x + 0.5),
    "expm1": ops.expm1,
    "sqrt": lambda x: ops.sqrt(x + 2),
    "abs": ops.abs,
    "sin": ops.sin,
    "cos": ops.cos,
    "erf": ops.erf,
    "clip": lambda x: ops.clip(x, np.float64(-0.3), np.float64(0.4)),
    "maximum": lambda x: ops.maximum(x, np.float64(0.1)),
    "minimum": lambda x: ops.minimum(x, 0.1),
    "where": lambda x: ops.where(x.data > 0, x, np.float64(2.0)),
    "matmul": lambda x: x @ x.T,
    "matmul_np64": lambda x: x @ np.ones((4, 2)),
    "linear": lambda x: ops.linear(x, x, x[:, 0]),
    "reshape": lambda x: x.reshape(4, 3),
    "transpose": lambda x: x.T,
    "permute": lambda x: x.permute(1, 0),
    "expand": lambda x: x[None].expand(2, 3, 4),
    "getitem": lambda x: x[[0, 0, 2], 1:],
    "cat": lambda x: ops.cat([x, x], 1),
    "stack": lambda x: ops.stack([x, x]),
    "split": lambda x: ops.split(x, 2, 1)[1],
    "pad": lambda x: ops.pad(x, 1, np.float64(0.5)),
    "sum": lambda x: x.sum(0),
    "mean": lambda x: x.mean(),
    "var": lambda x: x.var(1),
    "std": lambda x: x.std(correction=1),
    "max": lambda x: x.max(1),
    "min": lambda x: x.min(),
    "logsumexp": ops.logsumexp,
    "softmax": ops.softmax,
    "log_softmax": ops.log_softmax,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "relu": ops.relu,
    "mse": lambda x: F.mse_loss(x, np.zeros((3, 4))),
    "l1": lambda x: F.l1_loss(x, np.zeros((3, 4))),
    "huber": lambda x: F.huber_loss(x, np.zeros((3, 4))),
    "bce": lambda x: F.binary_cross_entropy(ops.sigmoid(x), np.ones((3, 4))),
    "bce_logits": lambda x: F.binary_cross_entropy_with_logits(x, np.ones((3, 4))),
    "bce_logits_none": lambda x: F.binary_cross_entropy_with_logits(x, np.ones((3, 4)), reduction="none"),
    "ce_index": lambda x: F.cross_entropy(x, np.array([0, 3, 1])),
    "ce_probs": lambda x: F.cross_entropy(x, np.full((3, 4), 0.25)),
    "ce_smooth": lambda x: F.cross_entropy(x, np.array([0, 3, 1]), label_smoothing=0.1, weight=np.arange(1.0, 5.0)),
    "nll": lambda x: F.nll_loss(x, np.array([0, 3, 1])),
    "gaussian_nll": lambda x: F.gaussian_nll_loss(x, np.zeros((3, 4)), np.ones((3, 4)), full=True),
    "poisson": lambda x: F.poisson_nll_loss(x, np.ones((3, 4)), full=True),
    "poisson_rate": lambda x: F.poisson_nll_loss(x + 2, np.ones((3, 4)), log_input=False),
    "kl_div": lambda x: F.kl_div(ops.log_softmax(x), np.full((3, 4), 0.25), reduction="batchmean"),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_OPS))
def test_float32_graph_stays_float32(name):
    """dtype policy: Python floats and np.float64 scalars never upcast a float32 graph, forward or backward."""
    x = cr.Tensor(np.random.default_rng(0).uniform(-1, 1, (3, 4)).astype(np.float32), requires_grad=True)
    y = FLOAT32_OPS[name](x)
    assert y.dtype == np.float32, f"{name}: forward gave {y.dtype}"
    (y.sum() if y.size > 1 else y).backward()
    assert x.grad.dtype == np.float32, f"{name}: gradient is {x.grad.dtype}"
    # second order stays float32 too
    x.grad = None
    y = FLOAT32_OPS[name](x)
    g = cr.grad(y.sum(), x, create_graph=True)
    if g.requires_grad:
        gg = cr.grad((g * g).sum(), x, allow_unused=True)
        assert gg is None or gg.dtype == np.float32


def test_float64_graph_stays_float64():
    x = t64(np.ones((2, 2)))
    y = (x * 2.0 + np.float32(1.0)) / 3.0
    assert y.dtype == np.float64


def test_mixing_float32_and_float64_tensors_raises():
    a, b = cr.Tensor([1.0]), cr.Tensor(np.array([1.0]))
    with pytest.raises(TypeError, match="does not upcast silently.*Cast one explicitly"):
        a + b
    with pytest.raises(TypeError):
        ops.matmul(cr.Tensor(np.ones((2, 2), np.float32)), cr.Tensor(np.ones((2, 2))))
    with pytest.raises(TypeError, match="cast them to one dtype"):
        ops.cat([a, b])


def test_integer_operands():
    i = cr.Tensor([1, 2])
    assert (i + 1).dtype.kind == "i" and (i * 2).dtype.kind == "i"
    assert (i + 0.5).dtype == np.float32 and (i / 2).dtype == np.float32 and i.mean().dtype == np.float32
    f = cr.Tensor([1.0, 1.0], requires_grad=True)
    y = f * i  # int operand converted to the float dtype
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(f.grad.data, [1, 2])


# ----------------------------------------------------------------------------- graph and backward
def test_graph_recording_and_no_grad():
    x = cr.Tensor([1.0, 2.0], requires_grad=True)
    c = cr.Tensor([3.0, 4.0])
    assert not (c * 2).requires_grad
    y = x * c
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    with cr.no_grad():
        z = x * c
        assert not cr.is_grad_enabled()
        with cr.enable_grad():
            assert (x * 1).requires_grad
    assert not z.requires_grad and z.is_leaf and cr.is_grad_enabled()
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    d = x.detach()
    assert not d.requires_grad and d.data is x.data


def test_no_grad_decorator_is_reentrant():
    """Regression: a recursive function decorated with @no_grad() left grad mode switched off."""
    @cr.no_grad()
    def f(n):
        assert not cr.is_grad_enabled()
        if n:
            f(n - 1)

    f(3)
    assert cr.is_grad_enabled()
    ng = cr.no_grad()
    with ng:
        with ng:
            pass
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_no_grad_restores_mode_on_exception():
    with pytest.raises(ValueError), cr.no_grad():
        raise ValueError
    assert cr.is_grad_enabled()


def test_grad_mode_is_thread_local():
    """no_grad() in one thread leaves recording on in another (PyTorch's grad mode is thread-local); each
    thread starts enabled, whatever the mode of the thread that started it.  Events fix the interleaving."""
    import threading

    x = t64([1.0, 2.0])
    a_off, b_done, a_done = threading.Event(), threading.Event(), threading.Event()
    seen: dict = {}

    def thread_a():  # enters no_grad, then waits while B records
        with cr.no_grad():
            seen["a_mode"] = cr.is_grad_enabled()
            a_off.set()
            b_done.wait(10)
            seen["a_rec"] = (x * 2).requires_grad
        seen["a_after"] = cr.is_grad_enabled()
        a_done.set()

    def thread_b():  # runs while A is inside no_grad
        a_off.wait(10)
        seen["b_mode"] = cr.is_grad_enabled()
        y = (x * x).sum()
        seen["b_rec"] = y.requires_grad
        y.backward()  # backprop switches recording off in this thread only while it runs
        seen["b_after_backward"] = cr.is_grad_enabled()
        b_done.set()

    # the main thread's mode is not inherited by new threads (except where new threads copy their creator's
    # context: free-threaded CPython >= 3.14, sys.flags.thread_inherit_context)
    inherit = bool(getattr(sys.flags, "thread_inherit_context", False))
    with cr.set_grad_enabled(inherit):
        ta, tb = threading.Thread(target=thread_a), threading.Thread(target=thread_b)
        ta.start()
        tb.start()
        ta.join(20)
        tb.join(20)
        assert cr.is_grad_enabled() == inherit
    assert a_done.is_set() and b_done.is_set()
    assert seen == {"a_mode": False, "b_mode": True, "b_rec": True, "b_after_backward": True, "a_rec": False,
                    "a_after": True}
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    assert cr.is_grad_enabled()


def test_no_grad_decorator_in_two_threads_at_once():
    """One decorated function running in two threads at once: each call gets its own context, so each
    thread gets its own mode back (a stack shared by the calls would hand thread 1 thread 2's mode).
    Order forced with events: 1 enters (its mode off), 2 enters (on), 1 leaves, 2 leaves."""
    import threading

    ev = {k: threading.Event() for k in ("in1", "in2", "out1")}
    after = {}

    @cr.no_grad()
    def work(me):
        assert not cr.is_grad_enabled()
        if me == 1:
            ev["in1"].set()
            ev["in2"].wait(10)
        else:
            ev["in2"].set()
            ev["out1"].wait(10)

    def t1():
        with cr.no_grad():
            work(1)
            after[1] = cr.is_grad_enabled()
        ev["out1"].set()

    def t2():
        ev["in1"].wait(10)
        work(2)
        after[2] = cr.is_grad_enabled()

    ts = [threading.Thread(target=t1), threading.Thread(target=t2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    assert after == {1: False, 2: True} and cr.is_grad_enabled()


def test_backward_accumulates_and_gradient_argument():
    x = cr.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 2 * x.data + 3)
    assert isinstance(x.grad, cr.Tensor)
    x.grad = None
    v = np.array([1.0, -1.0, 0.5])
    (x * x).backward(gradient=v)
    np.testing.assert_array_equal(x.grad.data, 2 * x.data * v)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * x).backward()
    with pytest.raises(RuntimeError, match="gradient has shape"):
        (x * x).backward(np.ones(2))
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.Tensor([1.0]).backward()


def test_retain_graph():
    x = cr.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * g1)
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_create_graph_higher_derivatives():
    """Four nested create_graph passes give the exact derivatives of x⁵ sin x (Leibniz rule)."""
    from math import comb, factorial, pi, sin

    x0 = 1.3
    x = cr.Tensor(np.array(x0), requires_grad=True)
    d = x ** 5 * ops.sin(x)
    for k in range(1, 5):
        d = cr.grad(d, x, create_graph=True)
        exact = sum(comb(k, j) * factorial(5) / factorial(5 - j) * x0 ** (5 - j) * sin(x0 + (k - j) * pi / 2)
                    for j in range(min(k, 5) + 1))
        assert abs(d.item() - exact) < 1e-10 * max(1.0, abs(exact)), k


def test_backward_create_graph_sets_differentiable_grad():
    x = cr.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


def test_deep_chain_no_recursion_error():
    """A chain of 100,000 ops backpropagates (the backward pass is iterative)."""
    x = cr.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(100_000):  # an even number of negations
        y = -y
    assert sys.getrecursionlimit() < 100_000
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
    del y  # freeing the chain must not overflow the C stack either


def test_deep_chain_create_graph():
    x = cr.Tensor(np.array(0.3), requires_grad=True)
    y = x
    for _ in range(3000):
        y = ops.sin(y) * 1.0
    g = cr.grad(y, x, create_graph=True)
    h = cr.grad(g, x)
    assert np.isfinite(h.item())


def test_diamond_graph_gradients_sum():
    x = t64([0.7])
    a = x * 2
    y = a * a + a.exp() + x
    y.backward(np.ones(1))
    np.testing.assert_allclose(x.grad.data, 8 * 0.7 + 2 * np.exp(1.4) + 1, rtol=1e-14)


def test_leaf_root_and_unused_parents():
    x = t64([1.0, 2.0])
    x.backward(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [3, 4])
    w, c = t64([1.0]), cr.Tensor(np.array([5.0]))
    (w * c).backward(np.ones(1))
    assert c.grad is None


def test_grads_are_private_writable_arrays():
    """Regression: a rule that passes its gradient through (add) or as a view (sum's broadcast) made
    two parameters share one read-only .grad array; an in-place change of one changed the other."""
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0])
    gout = np.array([1.0, 1.0])
    (a + b).backward(gout)
    assert not np.shares_memory(a.grad.data, b.grad.data)
    assert not np.shares_memory(a.grad.data, gout)
    a.grad.data *= 10
    np.testing.assert_array_equal(b.grad.data, [1, 1])
    np.testing.assert_array_equal(gout, [1, 1])
    c = t64(np.ones((2, 3)))
    c.sum().backward()
    assert c.grad.data.flags.writeable and c.grad.data.flags.owndata
    c.grad.data[0, 0] = 5.0
    assert c.grad.data.sum() == 10
    d = t64(np.ones(6))
    e = t64(np.ones((2, 3)))
    (d.reshape(2, 3) + e).sum().backward()
    assert not np.shares_memory(d.grad.data, e.grad.data)


def test_hooks_and_retain_grad():
    x = t64([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))
    x.register_hook(lambda g: g * 2)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    np.testing.assert_allclose(seen[0], 2 * h.data)
    np.testing.assert_allclose(x.grad.data, 2 * 3 * 2 * h.data)
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.Tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(None)


def test_register_hook_returns_a_removable_handle():
    """PyTorch's RemovableHandle: the hook runs until remove(); removing twice is harmless; the other
    hooks (even the same function registered twice) stay; ``with handle:`` removes on exit."""
    x = t64([1.0, 2.0])
    calls = []

    def double(g):
        calls.append("double")
        return g * 2

    def count(g):
        calls.append("count")

    h1 = x.register_hook(double)
    h2 = x.register_hook(count)
    h3 = x.register_hook(double)
    assert h1.id != h2.id != h3.id
    (x * 1).sum().backward()
    assert calls == ["double", "count", "double"]
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0])
    h1.remove()
    h1.remove()  # harmless
    calls.clear()
    x.grad = None
    (x * 1).sum().backward()
    assert calls == ["count", "double"]
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    h3.remove()
    h2.remove()
    calls.clear()
    x.grad = None
    (x * 1).sum().backward()
    assert calls == [] and x._hooks is None
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
    # on a non-leaf, as a context manager, and a hook removing itself while it runs
    y = x * 3
    with y.register_hook(lambda g: g * 10):
        pass
    box = {}

    def once(g):
        box["h"].remove()
        return g * 5

    box["h"] = y.register_hook(once)
    x.grad = None
    y.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.data, [15.0, 15.0])
    x.grad = None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    # the handle does not keep the tensor alive; removing after it is gone does nothing
    import gc
    import weakref

    z = t64([1.0])
    hz = z.register_hook(count)
    ref = weakref.ref(z)
    del z
    gc.collect()
    assert ref() is None
    hz.remove()


def test_backward_inputs_argument():
    a, b = t64([1.0]), t64([2.0])
    (a * b).backward(np.ones(1), inputs=[a])
    assert a.grad is not None and b.grad is None


# ----------------------------------------------------------------------------- in-place safety
def test_inplace_on_tensor_requiring_grad_raises():
    x = cr.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place modification of a leaf tensor that requires grad"):
        x[0] = 3.0
    with pytest.raises(RuntimeError, match="in-place"):
        (x * 2).fill_(0.0)
    y = x
    y += 1  # falls back to out of place for tensors that require grad
    assert y is not x and np.array_equal(x.data, [1, 2])
    with cr.no_grad():
        x[0] = 3.0  # allowed: optimizers work this way
    assert x.data[0] == 3.0


@pytest.mark.parametrize("how", ["setitem", "iadd", "imul", "copy_", "fill_", "zero_", "version"])
def test_modifying_saved_operand_raises(how):
    w = cr.Tensor(np.array([1.0, 2.0]))
    x = t64([3.0, 4.0])
    y = (x * w).sum()
    if how == "setitem":
        w[0] = 10.0
    elif how == "iadd":
        w += 1.0
    elif how == "imul":
        w *= 2.0
    elif how == "copy_":
        w.copy_(np.zeros(2))
    elif how in ("fill_", "zero_"):
        getattr(w, how)(*(() if how == "zero_" else (1.0,)))
    else:
        w._version += 1  # what optimizers do after p.data -= lr * g
    with pytest.raises(RuntimeError, match="modified in place.*gradient would be wrong"):
        y.backward()


def test_modifying_leaf_under_no_grad_raises():
    x = t64([1.0, 2.0])
    y = (x * x).sum()
    with cr.no_grad():
        x[1] = 5.0
    with pytest.raises(RuntimeError, match="version 0 -> 1"):
        y.backward()


def test_modifying_through_detach_or_view_raises():
    """detach() and view ops share the version counter of the array they alias."""
    for modify in (lambda t: t.detach().fill_(0.0),
                   lambda t: t.detach().reshape(-1).__setitem__(0, 9.0),
                   lambda t: t.detach()[0].fill_(7.0),
                   lambda t: t.detach().T.zero_()):
        x = t64(np.ones((2, 2)))
        y = ops.exp(x)
        z = (y * y).sum()
        modify(y)
        with pytest.raises(RuntimeError, match="modified in place"):
            z.backward()


def test_modifying_an_output_whose_rule_reads_it_raises():
    x = t64([1.0, 2.0])
    y = ops.exp(x)  # exp's rule reads its output
    with cr.no_grad():
        y[0] = 100.0
    with pytest.raises(RuntimeError, match="the output of an operation"):
        y.sum().backward()


def test_clone_is_independent():
    x = t64([1.0, 2.0])
    y = ops.exp(x)
    z = (y * y).sum()
    y.detach().clone().fill_(0.0)  # a copy: the graph is not affected
    z.backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(2 * x.data))


def test_optimizer_step_then_old_graph_backward_raises():
    p = cr.nn.Parameter(np.array([1.0, 2.0]))
    loss = (p * p).sum()
    with cr.no_grad():
        p.data -= 0.1
    p._version += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


# ----------------------------------------------------------------------------- randomness
def test_manual_seed_and_generators_reproducible():
    cr.manual_seed(123)
    a = cr.nn.Linear(4, 3).weight.data.copy()
    cr.manual_seed(123)
    b = cr.nn.Linear(4, 3).weight.data.copy()
    np.testing.assert_array_equal(a, b)
    g1, g2 = cr.Generator(7), cr.Generator().manual_seed(7)
    np.testing.assert_array_equal(g1.normal(size=5), g2.normal(size=5))
    assert g1.normal(size=1).dtype == np.float32 and g1.initial_seed() == 7
    st = g1.get_state()
    u = g1.uniform(size=3)
    g1.set_state(st)
    np.testing.assert_array_equal(g1.uniform(size=3), u)
    c = cr.nn.Linear(4, 3, generator=cr.Generator(5)).weight.data
    d = cr.nn.Linear(4, 3, generator=cr.Generator(5)).weight.data
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(c, cr.nn.Linear(4, 3, generator=cr.Generator(6)).weight.data)


def _short_run(seed: int) -> list[float]:
    cr.manual_seed(seed)
    model = cr.nn.Sequential(cr.nn.Linear(5, 8), cr.nn.Tanh(), cr.nn.Linear(8, 1))
    X = cr.Tensor(cr.backend.default_generator.normal(size=(16, 5)))
    y = cr.Tensor(cr.backend.default_generator.normal(size=(16, 1)))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.mse_loss(F.dropout(model(X), 0.3), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_same_seed_same_run():
    """manual_seed(n): initialisation, data and dropout masks repeat exactly."""
    assert _short_run(3) == _short_run(3)
    assert _short_run(3) != _short_run(4)


def test_set_grad_enabled_switches_at_once_and_restores_in_a_with_block():
    # PyTorch semantics: a plain call switches recording until switched back; a with block restores the
    # mode it found; used as a decorator it switches only inside the call
    x = cr.Tensor([1.0, 2.0], requires_grad=True)
    try:
        cr.set_grad_enabled(False)
        assert not cr.is_grad_enabled() and not (x * 2).requires_grad
        cr.set_grad_enabled(True)
        assert cr.is_grad_enabled() and (x * 2).requires_grad
        with cr.set_grad_enabled(False):
            assert not cr.is_grad_enabled()
            with cr.set_grad_enabled(True):
                assert cr.is_grad_enabled()
            assert not cr.is_grad_enabled()
        assert cr.is_grad_enabled()

        @cr.set_grad_enabled(False)
        def f(t):
            return (t * 2).requires_grad

        assert cr.is_grad_enabled() and f(x) is False and cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)


def test_optimizer_rejects_a_non_leaf_tensor():
    w = cr.Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        cr.optim.SGD([w * 2], lr=0.1)
