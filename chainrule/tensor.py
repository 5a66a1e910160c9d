"""Tensor, the computation graph and reverse-mode differentiation.

A :class:`Tensor` wraps a NumPy array.  Every differentiable operation returns a new Tensor that
remembers its parents and a *vector-Jacobian rule* ``vjp(g, out, *inputs) -> grads``: given the
gradient ``g = dL/d(out)`` it returns ``dL/d(input)`` for each input.

Each rule is written once with operators that work on NumPy arrays *and* on Tensors (duck typing).
``backward()`` normally runs the rules on raw arrays (fast, no bookkeeping); with
``create_graph=True`` it runs the same rules on Tensors, so the backward pass is itself recorded and
can be differentiated again: Hessians, Hessian-vector products and ``gradgradcheck`` are exact.
(spec: AD-HESSIAN, AD-HVP)

The backward pass is iterative (an explicit stack, no recursion), so graphs of any depth work.
Tensors saved by an operation carry a version counter; changing one in place before the backward
pass raises an error instead of giving a silently wrong gradient.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import weakref
from collections.abc import Callable, Sequence

import numpy as np

from .backend import get_default_dtype

# Grad mode lives in a context variable.  Every thread runs in its own context and a new thread starts with
# an empty one (recording on), so the mode is thread-local, as PyTorch's is; an asyncio task works on a copy
# of its creator's context, so a no_grad() in one task does not leak into the others either.  ``_make``
# reads it once per op through the bound ``get`` (one C call: cheaper than a threading.local attribute).
# (Free-threaded CPython ≥ 3.14 lets a new thread inherit a copy of its creator's context by default: there a
# thread started inside no_grad() starts with recording off.)
_grad_mode = contextvars.ContextVar("chainrule_grad_enabled", default=True)
_recording = _grad_mode.get
_set_recording = _grad_mode.set


def is_grad_enabled() -> bool:
    """Whether operations in the calling thread record the graph (thread-local, True by default)."""
    return _recording()


class _GradMode(contextlib.ContextDecorator):
    """Switch graph recording on/off in the calling thread; the previous modes are kept on a stack, so
    one instance can be re-entered (nested ``with``).  As a decorator every call gets a fresh context,
    so a decorated function may run in several threads (or recurse) at once.
    The mode is thread-local, as in PyTorch: ``no_grad()`` in one thread leaves the others recording."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev: list[bool] = []

    def _recreate_cm(self):
        return _GradMode(self.mode)

    def __enter__(self):
        self._prev.append(_recording())
        _set_recording(self.mode)

    def __exit__(self, *exc):
        _set_recording(self._prev.pop())
        return False


def no_grad() -> _GradMode:
    """Context manager / decorator: operations inside record no graph (in the calling thread)."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Context manager / decorator: switch graph recording on (in the calling thread)."""
    return _GradMode(True)


class _SetGradEnabled(_GradMode):
    """``set_grad_enabled(mode)``: switches at once (a plain call ``set_grad_enabled(False)`` turns recording
    off until switched back, as in PyTorch); as a ``with`` block it restores the mode it found."""

    def __init__(self, mode: bool):
        super().__init__(mode)
        self._before = _recording()
        _set_recording(self.mode)

    def __enter__(self):
        self._prev.append(self._before if not self._prev else _recording())
        _set_recording(self.mode)

    def __call__(self, func):  # used as a decorator: undo the switch made at construction
        _set_recording(self._before)
        return super().__call__(func)


def set_grad_enabled(mode: bool) -> _GradMode:
    """Recording on (True) or off (False) in the calling thread: at once when called, restored at the end of
    a ``with set_grad_enabled(...)`` block; also a decorator."""
    return _SetGradEnabled(mode)


def _freed_vjp(*_):
    raise RuntimeError(
        "Trying to backward through the graph a second time: its saved values were freed after the "
        "first backward. Pass retain_graph=True to the first backward() (or grad()) if you need to "
        "backpropagate through the same graph twice."
    )


class _Version:
    """In-place modification counter.  Tensors whose arrays share memory (a tensor and its views,
    ``detach()``) share one counter, so changing any of them is seen by every graph that saved one."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def __iadd__(self, k: int) -> _Version:  # ``t._version += 1`` bumps the shared counter
        self.n += k
        return self

    def __int__(self) -> int:
        return self.n

    def __eq__(self, other) -> bool:
        return self.n == int(other)

    __hash__ = None

    def __repr__(self) -> str:
        return str(self.n)


def _to_array(data, dtype=None) -> np.ndarray:
    """NumPy arrays and scalars keep their dtype (arrays are not copied); Python numbers and lists of
    floats get the default dtype."""
    if isinstance(data, np.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, Tensor):
        return _to_array(data.data, dtype)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind == "f" or (arr.dtype == object):
        return arr.astype(get_default_dtype())
    return arr


class RemovableHandle:
    """Returned by ``Tensor.register_hook`` and ``Module.register_forward_hook``: ``remove()`` unregisters
    that hook (PyTorch's ``torch.utils.hooks.RemovableHandle``); removing twice does nothing.  Usable as a
    context manager: the hook is removed on exit.  ``undo`` is the registry's own removal function."""

    __slots__ = ("_undo", "id")
    _ids = itertools.count()

    def __init__(self, undo: Callable[[], None]):
        self._undo = undo
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        undo, self._undo = self._undo, None
        if undo is not None:
            undo()

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> bool:
        self.remove()
        return False


def _hook_remover(tensor: Tensor, hook: Callable) -> Callable[[], None]:
    """Removal of one ``register_hook`` registration; holds the tensor weakly (nothing to do once it is gone)."""
    ref = weakref.ref(tensor)

    def undo() -> None:
        t = ref()
        if t is None or not t._hooks:
            return
        for i, h in enumerate(t._hooks):  # by identity: this registration, not an equal object
            if h is hook:
                del t._hooks[i]
                break
        if not t._hooks:
            t._hooks = None

    return undo


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)``: ``data`` is an array, a Python number or a
    (nested) list.  Python floats and lists become the default dtype (float32 unless changed with
    ``chainrule.set_default_dtype``); NumPy arrays keep their dtype and are not copied.  Only floating
    tensors can require gradients.
    """

    __slots__ = ("data", "grad", "requires_grad", "_vjp", "_parents", "_versions", "_version",
                 "_hooks", "_retain", "name", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        self.data = _to_array(data, None if dtype is None else np.dtype(dtype))
        self.grad = None
        self._vjp = None
        self._parents = ()
        self._versions = ()
        self._version = _Version()
        self._hooks = None
        self._retain = False
        self.name = name
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def is_leaf(self) -> bool:
        return self._vjp is None

    @property
    def grad_fn(self):
        return self._vjp

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients; this tensor has dtype "
                f"{self.data.dtype}. Convert it first, e.g. Tensor(x, dtype=np.float64) or t.float()."
            )
        if not flag and self._vjp is not None:
            raise RuntimeError("requires_grad can only be switched off on leaf tensors; use detach()")
        self.requires_grad = bool(flag)
        return self

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The underlying array (no copy). Raises if the tensor requires grad, like PyTorch."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a Tensor that requires grad. Use t.detach().numpy().")
        return self.data

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing the data (and the in-place version counter) but cut from the graph."""
        t = Tensor._wrap(self.data)
        t._version = self._version
        return t

    def clone(self) -> Tensor:
        from . import ops
        return ops.clone(self)

    def astype(self, dtype) -> Tensor:
        from . import ops
        return ops.cast(self, dtype)

    to_dtype = astype

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def to(self, target) -> Tensor:
        """``t.to(np.float64)`` casts; ``t.to('cpu')`` is a no-op on this backend."""
        if isinstance(target, str):
            if target != "cpu":
                raise ValueError(
                    f"device {target!r} is not available: this build computes on the CPU with NumPy "
                    "(the CUDA path needs CuPy and a GPU)"
                )
            return self
        return self.astype(target)

    def cpu(self) -> Tensor:
        return self

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    @staticmethod
    def _wrap(data: np.ndarray) -> Tensor:
        t = Tensor.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = False
        t._vjp = None
        t._parents = ()
        t._versions = ()
        t._version = _Version()
        t._hooks = None
        t._retain = False
        t.name = None
        return t

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=40, edgeitems=3,
                               prefix="tensor(")
        extra = ""
        if self.data.dtype != get_default_dtype():
            extra += f", dtype={self.data.dtype}"
        if self._vjp is not None:
            extra += f", grad_fn={getattr(self._vjp, '__name__', 'op')}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __hash__(self):
        return id(self)

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError("the truth value of a tensor with more than one element is ambiguous; "
                             "use .any() or .all()")
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __index__(self):
        return int(self.data)

    # ----------------------------------------------------------------- in place
    def _bump(self) -> None:
        self._version.n += 1

    def _check_inplace(self) -> None:
        if self.requires_grad and _recording():
            kind = "a leaf tensor that requires grad" if self._vjp is None else "a tensor inside the graph"
            raise RuntimeError(
                f"in-place modification of {kind} would make its gradient wrong. Use an out-of-place "
                "operation (y = y + 1), or modify it under `with chainrule.no_grad():`."
            )

    def __setitem__(self, idx, value) -> None:
        self._check_inplace()
        self.data[_unwrap_index(idx)] = value.data if isinstance(value, Tensor) else value
        self._bump()

    def copy_(self, other) -> Tensor:
        self._check_inplace()
        self.data[...] = other.data if isinstance(other, Tensor) else other
        self._bump()
        return self

    def fill_(self, value) -> Tensor:
        self._check_inplace()
        self.data.fill(value)
        self._bump()
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def _inplace(self, op, other):
        if self.requires_grad:
            return NotImplemented  # Python falls back to the out-of-place operator: x = x + y
        o = other.data if isinstance(other, Tensor) else other
        op(self.data, o, out=self.data, casting="same_kind")
        self._bump()
        return self

    def __iadd__(self, other):
        return self._inplace(np.add, other)

    def __isub__(self, other):
        return self._inplace(np.subtract, other)

    def __imul__(self, other):
        return self._inplace(np.multiply, other)

    def __itruediv__(self, other):
        return self._inplace(np.true_divide, other)

    # ----------------------------------------------------------------- autodiff
    def register_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a return value replaces it.
        Hooks run in registration order.  Returns a handle whose ``remove()`` unregisters the hook
        (as PyTorch's ``RemovableHandle``; removing twice is harmless; ``with handle:`` removes on exit)."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad; call "
                               "requires_grad_() on a leaf first, or hook a tensor computed from one")
        if not callable(hook):
            raise TypeError(f"register_hook expects a callable hook(grad), got {type(hook).__name__}")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(_hook_remover(self, hook))

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward()."""
        self._retain = True

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs: Sequence[Tensor] | None = None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` is required for non-scalar tensors (the vector in the vector-Jacobian product).
        ``create_graph=True`` records the backward pass so the gradients can be differentiated again.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of the computation had "
                "requires_grad=True (or it ran under no_grad())."
            )
        backprop([self], [gradient], retain_graph=retain_graph, create_graph=create_graph,
                 accumulate=True, inputs=inputs)


def _unwrap_index(idx):
    if isinstance(idx, Tensor):
        return idx.data
    if isinstance(idx, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in idx)
    return idx


def _make(data: np.ndarray, parents: tuple, vjp: Callable) -> Tensor:
    """Create the output tensor of an op; record the graph only if a parent requires grad.

    ``_versions`` snapshots the version counters of the parents and, last, of the output itself:
    backward checks that none of the arrays its rule reads was modified in place since.
    """
    t = Tensor.__new__(Tensor)
    t.data = data
    t.grad = None
    t._version = _Version()
    t._hooks = None
    t._retain = False
    t.name = None
    if _recording():
        for p in parents:
            if p.requires_grad:
                t.requires_grad = True
                t._vjp = vjp
                t._parents = parents
                t._versions = tuple([q._version.n for q in parents] + [0])
                return t
    t.requires_grad = False
    t._vjp = None
    t._parents = ()
    t._versions = ()
    return t


def _share_version(view: Tensor, base: Tensor) -> Tensor:
    """Mark ``view`` (the output of a view op: reshape, transpose, basic indexing, ...) as sharing
    ``base``'s version counter when their arrays overlap, so in-place changes through either are seen."""
    v, b = view.data, base.data
    if (v if v.base is None else v.base) is (b if b.base is None else b.base):  # same memory owner
        view._version = base._version
        if view._versions:
            view._versions = view._versions[:-1] + (base._version.n,)
    return view


def _topo_order(roots: list[Tensor]) -> list[Tensor]:
    """Non-leaf tensors reachable from roots, parents before children (iterative DFS)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    for root in roots:
        if root._vjp is None or id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root._parents))]
        while stack:
            node, parents = stack[-1]
            for p in parents:  # descend into the first unvisited non-leaf parent
                if p._vjp is not None and id(p) not in seen:
                    seen.add(id(p))
                    stack.append((p, iter(p._parents)))
                    break
            else:  # all parents done: the node comes after them
                stack.pop()
                order.append(node)
    return order


def backprop(roots: Sequence[Tensor], root_grads: Sequence, retain_graph: bool | None = None,
             create_graph: bool = False, accumulate: bool = True,
             inputs: Sequence[Tensor] | None = None) -> dict[int, object] | None:
    """The reverse pass shared by ``Tensor.backward`` and ``autodiff.grad``.

    With ``accumulate=True`` leaf gradients are added to ``.grad`` (restricted to ``inputs`` if given);
    with ``accumulate=False`` the gradients of ``inputs`` are returned in a dict keyed by ``id``.
    """
    if retain_graph is None:
        retain_graph = create_graph
    grads: dict[int, object] = {}
    handed: set[int] = set()  # ids of arrays given out (see _deliver)
    for r, g in zip(roots, root_grads):
        if g is None:
            if r.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this output has shape "
                    f"{r.shape}. Pass gradient= (a tensor of that shape), or reduce it first (.sum())."
                )
            g = np.ones_like(r.data)
        elif create_graph and isinstance(g, Tensor) and g.requires_grad:
            pass  # a differentiable cotangent: d(vjp)/dv works (the double-vjp trick for jvps)
        else:
            g = np.asarray(g.data if isinstance(g, Tensor) else g, dtype=r.dtype)
            handed.add(id(g))  # the caller's array: never hand it out as a .grad
        if g.shape != r.shape:
            raise RuntimeError(f"gradient has shape {g.shape} but the output has shape {r.shape}; "
                               "pass one value per output element")
        if create_graph and not isinstance(g, Tensor):
            g = Tensor._wrap(g)
        grads[id(r)] = grads[id(r)] + g if id(r) in grads else g
    wanted = None if inputs is None else {id(t) for t in inputs}
    captured: dict[int, object] = {}
    order = _topo_order(list(roots))
    prev_mode = _recording()
    _set_recording(create_graph)
    try:
        # leaves (and roots that are leaves) get their gradient directly
        for r in roots:
            if r._vjp is None and id(r) in grads:
                _deliver(r, grads.pop(id(r)), accumulate, wanted, captured, create_graph, handed)
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._hooks:
                g = _run_hooks(node, g, create_graph)
            if wanted is not None and id(node) in wanted and not accumulate:
                captured[id(node)] = g
            if node._retain:
                node.grad = g if isinstance(g, Tensor) else Tensor._wrap(g.copy())
            if node._vjp is _freed_vjp:
                _freed_vjp()
            parents = node._parents
            saved = node._versions
            if node._version.n != saved[-1]:
                _modified_error(node, saved[-1], "the output of an operation")
            for p, v in zip(parents, saved):
                if p._version.n != v:
                    _modified_error(p, v, "a tensor saved for the backward pass")
            if create_graph:
                pgrads = node._vjp(g, node, *parents)
            else:
                pgrads = node._vjp(g, node.data, *[p.data for p in parents])
            for p, pg in zip(parents, pgrads):
                if pg is None or not p.requires_grad:
                    continue
                if create_graph and not isinstance(pg, Tensor):
                    pg = Tensor._wrap(np.asarray(pg))
                if p._vjp is None:
                    _deliver(p, pg, accumulate, wanted, captured, create_graph, handed)
                else:
                    k = id(p)
                    grads[k] = grads[k] + pg if k in grads else pg
            if not retain_graph:
                node._vjp = _freed_vjp
                node._parents = ()
                node._versions = ()
    finally:
        _set_recording(prev_mode)
    return captured


def _modified_error(t: Tensor, v: int, what: str):
    raise RuntimeError(
        f"{what} (shape {t.shape}, grad_fn={getattr(t._vjp, '__name__', None)}) was modified in place "
        f"(version {v} -> {t._version.n}) after the graph used it; its gradient would be wrong. Use an "
        "out-of-place operation (y = y * 2), or clone() the tensor before modifying it."
    )


def _run_hooks(t: Tensor, g, create_graph: bool):
    for hook in tuple(t._hooks):  # a hook may remove itself (or others) while running
        gt = g if isinstance(g, Tensor) else Tensor._wrap(g)
        r = hook(gt)
        if r is not None:
            g = r if create_graph else (r.data if isinstance(r, Tensor) else np.asarray(r))
    return g


def _deliver(leaf: Tensor, g, accumulate: bool, wanted, captured: dict, create_graph: bool,
             handed: set) -> None:
    """Give a leaf its gradient: add it to ``.grad`` or, for ``grad()``, to ``captured``.

    A rule may pass its incoming array on unchanged (``add``) or as a view (``reshape``, ``sum``'s
    read-only broadcast); such arrays are copied, so no two ``.grad`` arrays ever share memory and
    every ``.grad`` is writable (optimizers may modify it in place).
    """
    if leaf._hooks:
        g = _run_hooks(leaf, g, create_graph)
    if not create_graph:
        if g.base is not None or id(g) in handed:
            g = g.copy()
        handed.add(id(g))
    if not accumulate:
        if wanted is None or id(leaf) in wanted:
            k = id(leaf)
            captured[k] = captured[k] + g if k in captured else g
        return
    if wanted is not None and id(leaf) not in wanted:
        return
    if leaf.grad is None:
        leaf.grad = g if isinstance(g, Tensor) else Tensor._wrap(g)
    elif create_graph:
        leaf.grad = leaf.grad + g
    else:  # out of place: the old .grad array may be referenced elsewhere
        leaf.grad = Tensor._wrap(leaf.grad.data + g)
