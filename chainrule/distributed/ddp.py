"""Data-parallel training: replicas that average their gradients.

Every rank holds a full copy of the model and computes the gradient of its own share of the global batch
𝓑 = ∪_r 𝓑_r (|𝓑_r| = b, |𝓑| = B = p·b).  The update uses the average of the ranks' gradients,

    g = (1/p) Σ_r ∇_w [ (1/b) Σ_{n∈𝓑_r} L_n ] = (1/B) Σ_{n∈𝓑} ∇_w L_n,

which is the gradient of the mean loss over the global batch (spec: TRAIN-SGD-MODES, OPT-SGD: the mean of
equal-size batch gradients is the gradient of their union), so p processes take the same step as one
process with batch B — for every optimizer, since all replicas then apply the identical update to
identical weights (spec: SGD-MINIBATCH).

:class:`DistributedDataParallel` (``ddp = DistributedDataParallel(model, comm)``):

* broadcasts parameters and buffers from rank 0 at construction (all replicas start equal);
* packs gradients into flat *buckets* (≤ ``bucket_cap_mb`` MB each, parameters in reverse registration
  order, i.e. roughly the order backward produces them) and sums each bucket with one allreduce;
* ``overlap=True``: a hook on every parameter (``Tensor.register_hook``) copies the gradient into its
  bucket as backward delivers it and starts a non-blocking allreduce (``Iallreduce``) as soon as a bucket
  is complete, so communication runs while backward computes the earlier layers; buckets are started in
  a fixed order on every rank (MPI requires it).  The number of gradient contributions per parameter is
  learnt in the first step (which synchronizes everything at the end);
* ``synchronize()`` (call it between ``backward()`` and ``optimizer.step()``, or wrap the optimizer in
  :class:`DistributedOptimizer`, which does) waits for the buckets and writes g back into ``p.grad``.
  Parameters that got no gradient on any rank keep ``grad = None``, as in a single process.
* ``with ddp.no_sync():`` backward passes accumulate locally (gradient accumulation); the next synced
  backward reduces the accumulated sum.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import numpy as np

from ..nn.module import Module
from ..tensor import Tensor
from .comm import Communicator, Request, get_communicator

__all__ = ["DistributedDataParallel", "DistributedOptimizer", "broadcast_parameters", "CommStats"]


def broadcast_parameters(module: Module, comm: Communicator, root: int = 0, buffers: bool = True) -> None:
    """Copy ``root``'s parameters (and floating/int buffers) into every rank's module, in place."""
    tensors = [p for p in module.parameters()]
    if buffers:
        tensors += [b for b in module.buffers()]
    for t in tensors:
        a = t.data
        if not a.flags.c_contiguous or not a.flags.writeable:
            a = np.ascontiguousarray(a).copy()
            t.data = a
        comm.broadcast(a, root=root)
        t._version += 1


class CommStats:
    """Wall-clock time spent in gradient communication (seconds) and counts, for benchmarks."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.steps = 0
        self.wait_time = 0.0      # time blocked in synchronize() waiting for allreduces
        self.sync_time = 0.0      # total time inside synchronize()
        self.hook_time = 0.0      # time spent in gradient hooks (copies, launches) during backward
        self.bytes = 0            # bytes reduced per rank

    def as_dict(self) -> dict:
        s = max(self.steps, 1)
        return {"steps": self.steps, "wait_ms_per_step": 1e3 * self.wait_time / s,
                "sync_ms_per_step": 1e3 * self.sync_time / s, "hook_ms_per_step": 1e3 * self.hook_time / s,
                "bytes_per_step": self.bytes / s}


class _Bucket:
    __slots__ = ("index", "params", "offsets", "numel", "dtype", "buf", "req", "ready", "n_ready")

    def __init__(self, index: int, dtype: np.dtype):
        self.index = index
        self.params: list[int] = []   # indices into DDP._params
        self.offsets: list[int] = []
        self.numel = 0
        self.dtype = dtype
        self.buf: np.ndarray | None = None
        self.req: Request | None = None
        self.ready = False
        self.n_ready = 0


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module, comm=None, bucket_cap_mb=25.0, overlap=True, broadcast_buffers=True,
    average=True)``: a Module whose ``forward`` is ``module``'s, with gradients averaged over the ranks
    (see the module docstring for the algorithm and the calling protocol).

    ``comm``: a Communicator (default :func:`get_communicator`).  ``average=False`` sums instead of averaging
    (for losses that are sums over the global batch).  ``broadcast_buffers``: copy rank 0's buffers (e.g.
    batch-norm running statistics) to all ranks before every forward in training mode.
    """

    def __init__(self, module: Module, comm: Communicator | None = None, bucket_cap_mb: float = 25.0,
                 overlap: bool = True, broadcast_buffers: bool = True, average: bool = True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps an nn.Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        self.module = module
        self.comm = comm if comm is not None else get_communicator()
        self.overlap = bool(overlap)
        self.average = bool(average)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_bytes = int(bucket_cap_mb * 2 ** 20)
        self.stats = CommStats()
        params = [p for p in module.parameters() if p.requires_grad]
        self._params = params
        self._buckets = self._build_buckets(params)
        self._where: dict = {}  # param index -> (bucket, offset, position in the bucket)
        for b in self._buckets:
            for j, (i, off) in enumerate(zip(b.params, b.offsets)):
                self._where[i] = (b, off, j)
        self._expected: list | None = None  # contributions per parameter (learnt in step 1)
        self._seen = [0] * len(params)
        self._active = False    # a backward has delivered gradients to the hooks
        self._next_launch = 0
        self._sync_enabled = True
        self._written: list | None = None
        self._grad_hooks: list = []
        broadcast_parameters(module, self.comm, 0, buffers=True)
        if self.overlap:
            for i, p in enumerate(params):
                h = self._make_hook(i)
                p.register_hook(h)
                self._grad_hooks.append((p, h))

    # ------------------------------------------------------------------ buckets
    def _build_buckets(self, params: list[Tensor]) -> list[_Bucket]:
        """Reverse registration order; a new bucket when the dtype changes or the cap is reached."""
        buckets: list[_Bucket] = []
        cur: _Bucket | None = None
        for i in reversed(range(len(params))):
            p = params[i]
            nbytes = p.data.nbytes
            if cur is None or cur.dtype != p.dtype or (cur.numel and (cur.numel * cur.dtype.itemsize + nbytes
                                                                       > self.bucket_cap_bytes)):
                cur = _Bucket(len(buckets), p.dtype)
                buckets.append(cur)
            cur.params.append(i)
            cur.offsets.append(cur.numel)
            cur.numel += p.size
        return buckets

    @property
    def bucket_sizes(self) -> list[int]:
        """Number of gradient entries in each bucket (in launch order)."""
        return [b.numel for b in self._buckets]

    def _fresh(self, b: _Bucket) -> None:
        # numel gradient entries, then one "has a gradient" flag per parameter (reduced with them)
        b.buf = np.zeros(b.numel + len(b.params), dtype=b.dtype)
        b.req = None
        b.ready = False
        b.n_ready = 0

    def _begin_backward(self) -> None:
        for b in self._buckets:
            self._fresh(b)
        self._seen[:] = [0] * len(self._params)
        self._next_launch = 0
        self._active = True
        self._written = None
        if self._expected is not None:  # parameters that get no gradient are ready from the start
            for b in self._buckets:
                for j, (i, off) in enumerate(zip(b.params, b.offsets)):
                    if self._expected[i] == 0:
                        b.n_ready += 1
                        p = self._params[i]
                        if p.grad is not None:  # accumulated earlier (no_sync): reduce it too
                            b.buf[off:off + p.size] = p.grad.data.ravel()
                            b.buf[b.numel + j] = 1.0
                b.ready = b.n_ready == len(b.params)
            self._launch_ready()

    def _launch(self, b: _Bucket) -> None:
        b.req = self.comm.iallreduce(b.buf, "sum")
        self.stats.bytes += b.buf.nbytes

    def _launch_ready(self) -> None:
        bs = self._buckets
        while self._next_launch < len(bs) and bs[self._next_launch].ready:
            self._launch(bs[self._next_launch])
            self._next_launch += 1

    def _make_hook(self, i: int) -> Callable:
        def hook(g: Tensor):
            if not self._sync_enabled:
                return None
            t0 = time.perf_counter()
            if not self._active:
                self._begin_backward()
            b, off, j = self._where[i]
            if b.req is not None:
                raise RuntimeError(
                    f"DistributedDataParallel: parameter #{i} (shape {self._params[i].shape}) received another "
                    "gradient contribution after its bucket was already being reduced: the graph differs from the "
                    "first step's (a parameter used a different number of times). Construct "
                    "DistributedDataParallel(..., overlap=False) for models whose graph changes between steps")
            p = self._params[i]
            n = p.size
            view = b.buf[off:off + n]
            if self._seen[i] == 0:
                b.buf[b.numel + j] = 1.0
                if p.grad is not None:  # gradient accumulated before this backward (no_sync)
                    view += p.grad.data.ravel()
            gd = g.data if isinstance(g, Tensor) else np.asarray(g)
            view += gd.ravel()
            self._seen[i] += 1
            exp = self._expected
            if exp is not None and self._seen[i] == exp[i]:
                b.n_ready += 1
                if b.n_ready == len(b.params):
                    b.ready = True
                    self._launch_ready()
            # drive the progress of reductions in flight (MPI progresses inside MPI calls)
            if self._next_launch:
                self._buckets[self._next_launch - 1].req.test()
            self.stats.hook_time += time.perf_counter() - t0
            return None

        return hook

    # ------------------------------------------------------------------ protocol
    def forward(self, *args, **kwargs):
        if self._active:
            raise RuntimeError(
                "DistributedDataParallel: the gradients of the previous backward() were never synchronized. Call "
                "ddp.synchronize() after loss.backward() and before optimizer.step(), or wrap the optimizer: "
                "optimizer = DistributedOptimizer(optimizer, ddp)")
        if self.broadcast_buffers and self.training and self.comm.size > 1:
            bufs = [b for b in self.module.buffers()]
            for t in bufs:
                self.comm.broadcast(t.data, root=0)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate gradients locally without communication."""
        prev = self._sync_enabled
        self._sync_enabled = False
        try:
            yield
        finally:
            self._sync_enabled = prev

    def synchronize(self) -> None:
        """Finish the gradient reduction: afterwards every rank's ``p.grad`` is the average (or sum) over the
        ranks of their local gradients (``None`` where no rank had one).  Idempotent."""
        t0 = time.perf_counter()
        if self.overlap:
            if not self._active:  # no hook fired since the last synchronize (e.g. no backward)
                if self._unchanged_since_sync():
                    return
                self._fill_from_grads()
            if self._expected is None:
                self._expected = list(self._seen)
        else:
            if self._unchanged_since_sync():
                return
            self._fill_from_grads()
        for b in self._buckets[self._next_launch:]:  # the rest, in the same order on every rank
            self._launch(b)
        self._next_launch = len(self._buckets)
        t1 = time.perf_counter()
        for b in self._buckets:
            b.req.wait()
        t2 = time.perf_counter()
        scale = 1.0 / self.comm.size if self.average else 1.0
        for b in self._buckets:
            flags = b.buf[b.numel:]
            for j, (i, off) in enumerate(zip(b.params, b.offsets)):
                p = self._params[i]
                if flags[j] > 0:
                    g = b.buf[off:off + p.size].reshape(p.shape)
                    if scale != 1.0:
                        g *= scale
                    p.grad = Tensor._wrap(g)
                else:
                    p.grad = None
            b.req = None
            b.buf = None  # the gradients are views of it: a new buffer for the next step
        self._written = [p.grad for p in self._params]
        self._active = False
        self.stats.steps += 1
        self.stats.wait_time += t2 - t1
        self.stats.sync_time += time.perf_counter() - t0

    def _unchanged_since_sync(self) -> bool:
        """True when every p.grad is still what the last synchronize() wrote (nothing new to reduce)."""
        w = self._written
        if w is None:
            return False
        return all(p.grad is g for p, g in zip(self._params, w))

    def _fill_from_grads(self) -> None:
        for b in self._buckets:
            self._fresh(b)
            for j, (i, off) in enumerate(zip(b.params, b.offsets)):
                p = self._params[i]
                if p.grad is not None:
                    b.buf[off:off + p.size] = p.grad.data.ravel()
                    b.buf[b.numel + j] = 1.0
        self._next_launch = 0
        self._active = True

    def remove_hooks(self) -> None:
        """Detach the gradient hooks from the parameters (the module is usable alone again)."""
        for p, h in self._grad_hooks:
            if p._hooks and h in p._hooks:
                p._hooks.remove(h)
        self._grad_hooks.clear()

    # ------------------------------------------------------------------ state: the wrapped module's
    def state_dict(self):
        return self.module.state_dict()

    def load_state_dict(self, state_dict, strict: bool = True):
        return self.module.load_state_dict(state_dict, strict)

    def extra_repr(self) -> str:
        return (f"rank={self.comm.rank}, size={self.comm.size}, buckets={len(self._buckets)}, "
                f"overlap={self.overlap}")


class DistributedOptimizer:
    """Wrap an optimizer so ``step()`` first calls ``ddp.synchronize()`` (Horovod's pattern).

    Everything else (``param_groups``, ``zero_grad``, ``state_dict``…) is the wrapped optimizer's.  For
    closure optimizers (L-BFGS, line searches) the closure is wrapped: after its backward the gradients are
    synchronized and the returned loss is averaged over the ranks, so every replica sees the global loss.
    """

    def __init__(self, optimizer, ddp: DistributedDataParallel):
        if not isinstance(ddp, DistributedDataParallel):
            raise TypeError(f"DistributedOptimizer needs the DistributedDataParallel model, got {type(ddp).__name__}")
        self.optimizer = optimizer
        self.ddp = ddp

    def step(self, closure: Callable | None = None):
        if closure is None:
            self.ddp.synchronize()
            return self.optimizer.step()
        ddp = self.ddp

        def synced():
            loss = closure()
            ddp.synchronize()
            val = np.array(loss.data if isinstance(loss, Tensor) else loss, dtype=np.float64).reshape(1)
            ddp.comm.allreduce(val, "mean")
            return Tensor._wrap(val.reshape(()).astype(loss.dtype if isinstance(loss, Tensor) else np.float64))

        return self.optimizer.step(synced)

    def __getattr__(self, name: str):
        return getattr(self.__dict__["optimizer"], name)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r})"
