"""Communicators: the collective operations data-parallel training needs.

A :class:`Communicator` connects ``size`` processes numbered ``rank = 0 … size−1`` and offers

* ``allreduce(x, op='sum'|'mean')`` — every rank ends with Σ_r x_r (or (1/size)Σ_r x_r); in place on a
  NumPy array (or a Tensor's array), returned for a Python number;
* ``iallreduce(x, op)`` — the same, non-blocking: returns a request whose ``wait()`` completes it (used to
  overlap gradient communication with the backward pass);
* ``broadcast(x, root=0)`` — arrays in place, any other (small, picklable) object returned;
* ``barrier()`` and ``allgather(obj)`` (a list with every rank's small object, in rank order).

Two implementations: :class:`SingleProcessCommunicator` (size 1, every collective is the identity — the
default, so distributed code runs unchanged in one process) and :class:`MPICommunicator` on mpi4py.
:func:`get_communicator` picks MPI when the process was started by ``mpiexec``/``srun`` with more than one
process, else the single-process one.

Fault handling (MPI): every collective runs as its non-blocking form polled with a deadline
(``timeout`` seconds, default ``$CHAINRULE_DIST_TIMEOUT`` or 1800).  When it expires, the rank asks every
other rank over a separate health channel which collective it is in; ranks that do not answer are named
as lost, and :class:`WorkerLostError` is raised.  Under MPI an uncaught exception on any rank prints
``chainrule.distributed: rank r/p: …`` and aborts the whole job (``MPI_Abort``), so a run that loses a
worker stops with a message naming the rank instead of hanging; restart it from the last checkpoint
(:class:`~chainrule.distributed.trainer.DataParallelTrainer`), with the same or another number of
workers.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = [
    "Communicator", "SingleProcessCommunicator", "MPICommunicator", "Request", "WorkerLostError",
    "get_communicator", "set_communicator", "launched_world_size", "DEFAULT_TIMEOUT",
]

_MPI_HINT = ("mpi4py is not installed: install the MPI extra with `pip install chainrule[mpi]` "
             "(or `pip install mpi4py mpich` for a self-contained MPI), then launch with `mpiexec -n 4 python "
             "script.py`")


def _default_timeout() -> float | None:
    v = os.environ.get("CHAINRULE_DIST_TIMEOUT")
    if v is None:
        return 1800.0
    if v.strip().lower() in ("", "none", "0", "inf"):
        return None
    try:
        t = float(v)
    except ValueError:
        raise ValueError(f"CHAINRULE_DIST_TIMEOUT must be a number of seconds (or 'none'), got {v!r}") from None
    return t if t > 0 else None


DEFAULT_TIMEOUT = 1800.0


class WorkerLostError(RuntimeError):
    """A collective did not complete in time: a worker crashed, hung or took another code path."""

    def __init__(self, message: str, rank: int = -1, lost: Sequence[int] = ()):
        super().__init__(message)
        self.rank = rank
        self.lost = list(lost)


def _array_of(x) -> np.ndarray | None:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.ndarray):
        return x
    return None


def _check_op(op: str) -> str:
    if op not in ("sum", "mean"):
        raise ValueError(f"allreduce: op must be 'sum' or 'mean', got {op!r}")
    return op


def _check_contiguous(a: np.ndarray, what: str) -> None:
    if not a.flags.c_contiguous or not a.flags.writeable:
        raise ValueError(f"{what}: works in place on a writable C-contiguous array; got a "
                         f"{'non-contiguous' if not a.flags.c_contiguous else 'read-only'} array of shape {a.shape}. "
                         "Pass np.ascontiguousarray(x) (a copy) and use the result")


class Request:
    """A pending non-blocking collective; ``wait()`` completes it (idempotent) and returns its array."""

    def __init__(self, array: np.ndarray | None = None, finish=None, test=None):
        self.array = array
        self._finish = finish
        self._test = test
        self.done = finish is None

    def test(self) -> bool:
        """Drive progress; True once the operation has completed (then call ``wait``)."""
        if self.done:
            return True
        return bool(self._test()) if self._test is not None else False

    def wait(self) -> np.ndarray | None:
        if not self.done:
            self._finish()
            self.done = True
        return self.array


class Communicator:
    """Interface of a process group (see the module docstring).  Subclasses implement the primitives."""

    rank: int = 0
    size: int = 1
    timeout: float | None = None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes checkpoints and logs."""
        return self.rank == 0

    # -- primitives -------------------------------------------------------------
    def iallreduce(self, x, op: str = "sum") -> Request:  # pragma: no cover - interface
        raise NotImplementedError

    def broadcast(self, x, root: int = 0):  # pragma: no cover - interface
        raise NotImplementedError

    def barrier(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def allgather(self, obj: Any) -> list:  # pragma: no cover - interface
        raise NotImplementedError

    def abort(self, message: str, code: int = 1) -> None:
        """Print ``message`` (prefixed with the rank) and stop every process of the group."""
        sys.stderr.write(f"chainrule.distributed: rank {self.rank}/{self.size}: {message}\n")
        sys.stderr.flush()
        raise SystemExit(code)

    # -- derived ----------------------------------------------------------------
    def allreduce(self, x, op: str = "sum"):
        """Σ_r x_r (op='sum') or (1/size)Σ_r x_r (op='mean') on every rank.

        ``x``: a NumPy array or Tensor (reduced *in place*, returned) or a Python/NumPy number (the
        reduced number is returned)."""
        _check_op(op)
        a = _array_of(x)
        if a is None:
            arr = np.array([x], dtype=np.float64 if isinstance(x, float | np.floating) else np.asarray(x).dtype)
            self.iallreduce(arr, op).wait()
            return arr[0].item()
        self.iallreduce(x, op).wait()
        return x

    def allreduce_many(self, arrays: Sequence[np.ndarray], op: str = "sum") -> None:
        """Reduce several arrays in place, with all operations in flight at once."""
        reqs = [self.iallreduce(a, op) for a in arrays]
        for r in reqs:
            r.wait()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


class SingleProcessCommunicator(Communicator):
    """One process: rank 0 of a world of size 1; every collective is the identity (arrays unchanged)."""

    def __init__(self) -> None:
        self.rank = 0
        self.size = 1
        self.timeout = None

    def iallreduce(self, x, op: str = "sum") -> Request:
        _check_op(op)
        a = _array_of(x)
        if a is None:
            raise TypeError(f"iallreduce needs a NumPy array or Tensor (reduced in place), got {type(x).__name__}; "
                            "use allreduce() for numbers")
        _check_contiguous(a, "iallreduce")
        return Request(a)

    def broadcast(self, x, root: int = 0):
        if root != 0:
            raise ValueError(f"broadcast: root must be a rank in [0, 1), got {root}")
        return x

    def barrier(self) -> None:
        return None

    def allgather(self, obj: Any) -> list:
        return [obj]


# ================================================================================== MPI
_PING, _PONG = 7101, 7102


class MPICommunicator(Communicator):
    """Collectives over MPI (mpi4py).  ``comm``: an mpi4py communicator (default ``MPI.COMM_WORLD``).

    ``timeout``: seconds a collective may wait before the lost ranks are identified and
    :class:`WorkerLostError` is raised (None: wait forever with the plain blocking calls).
    ``abort_on_exception``: install a ``sys.excepthook`` that prints the error with the rank and calls
    ``MPI_Abort`` so no other rank is left waiting.
    """

    def __init__(self, comm=None, timeout: float | None | str = "env", abort_on_exception: bool = True):
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError(_MPI_HINT) from None
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.timeout = _default_timeout() if timeout == "env" else timeout
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
        self._health = self.comm.Dup()  # separate channel: pings never match a collective's messages
        self._seq = 0
        self._what = "idle"
        self._pong_sends: list = []
        if abort_on_exception and self.size > 1:
            _install_excepthook(self)

    # -------------------------------------------------------------- waiting with a deadline
    def _serve_health(self) -> None:
        """Answer pings from ranks that timed out: tell them which collective this rank is in."""
        MPI = self._MPI
        st = MPI.Status()
        while self._health.Iprobe(source=MPI.ANY_SOURCE, tag=_PING, status=st):
            src = st.Get_source()
            self._health.recv(source=src, tag=_PING)
            self._pong_sends.append(self._health.isend((self._seq, self._what), dest=src, tag=_PONG))

    def _wait(self, req, what: str) -> None:
        if self.timeout is None:
            req.Wait()
            return
        if req.Test():
            return
        t0 = time.monotonic()
        deadline = t0 + self.timeout
        pause = 0.0
        while not req.Test():
            now = time.monotonic()
            if now - t0 > 2e-3:  # spin briefly (low latency), then back off to ≤ 1 ms naps
                self._serve_health()
                pause = min(1e-3, pause * 2 if pause else 2e-5)
                time.sleep(pause)
            if now > deadline:
                self._timed_out(what)

    def _timed_out(self, what: str) -> None:
        MPI = self._MPI
        others = [r for r in range(self.size) if r != self.rank]
        for r in others:
            self._health.isend(("ping", self._seq), dest=r, tag=_PING)
        answers: dict[int, tuple] = {}
        grace = min(5.0, max(0.5, 0.25 * self.timeout))
        end = time.monotonic() + grace
        st = MPI.Status()
        while time.monotonic() < end and len(answers) < len(others):
            self._serve_health()
            while self._health.Iprobe(source=MPI.ANY_SOURCE, tag=_PONG, status=st):
                src = st.Get_source()
                answers[src] = self._health.recv(source=src, tag=_PONG)
            time.sleep(1e-3)
        lost = [r for r in others if r not in answers]
        out_of_step = {r: a for r, a in answers.items() if a[0] != self._seq}
        msg = (f"rank {self.rank}/{self.size}: {what} (collective #{self._seq}) did not complete within "
               f"{self.timeout:g} s. ")
        if lost:
            msg += (f"Lost worker(s): rank {', '.join(map(str, lost))} did not respond (crashed, hung, or stuck in "
                    f"a computation longer than the timeout). ")
        if out_of_step:
            msg += "Ranks out of step (different code paths?): " + "; ".join(
                f"rank {r} is in {w} (collective #{s})" for r, (s, w) in out_of_step.items()) + ". "
        msg += ("Stopping the run: restart it from the last checkpoint (DataParallelTrainer(..., "
                "resume=PATH), or --resume of the distributed train command), with the same or another `mpiexec -n`; "
                "raise the limit with CHAINRULE_DIST_TIMEOUT=seconds if steps are legitimately slow.")
        raise WorkerLostError(msg, rank=self.rank, lost=lost)

    def _begin(self, what: str) -> None:
        self._seq += 1
        self._what = what

    # -------------------------------------------------------------- primitives
    def iallreduce(self, x, op: str = "sum") -> Request:
        _check_op(op)
        a = _array_of(x)
        if a is None:
            raise TypeError(f"iallreduce needs a NumPy array or Tensor (reduced in place), got {type(x).__name__}; "
                            "use allreduce() for numbers")
        _check_contiguous(a, "iallreduce")
        self._begin(f"allreduce of {a.size} x {a.dtype}")
        what = self._what
        if a.size == 0:
            return Request(a)
        req = self.comm.Iallreduce(self._MPI.IN_PLACE, a, op=self._MPI.SUM)
        size = self.size

        def finish():
            self._wait(req, what)
            if op == "mean":
                if a.dtype.kind == "f":
                    a[...] /= size
                else:
                    a[...] //= size

        return Request(a, finish, req.Test)

    def broadcast(self, x, root: int = 0):
        if not 0 <= root < self.size:
            raise ValueError(f"broadcast: root must be a rank in [0, {self.size}), got {root}")
        a = _array_of(x)
        if a is not None:
            _check_contiguous(a, "broadcast")
            self._begin(f"broadcast of {a.size} x {a.dtype} from rank {root}")
            if a.size:
                self._wait(self.comm.Ibcast(a, root=root), self._what)
            return x
        self._begin(f"broadcast of a {type(x).__name__} from rank {root}")
        payload = pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL) if self.rank == root else b""
        n = np.array([len(payload)], dtype=np.int64)
        self._wait(self.comm.Ibcast(n, root=root), self._what)
        buf = np.frombuffer(payload, dtype=np.uint8).copy() if self.rank == root else np.empty(int(n[0]), np.uint8)
        if buf.size:
            self._wait(self.comm.Ibcast(buf, root=root), self._what)
        return x if self.rank == root else pickle.loads(buf.tobytes())

    def barrier(self) -> None:
        self._begin("barrier")
        self._wait(self.comm.Ibarrier(), self._what)

    def allgather(self, obj: Any) -> list:
        self._begin(f"allgather of a {type(obj).__name__}")
        payload = np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8).copy()
        counts = np.zeros(self.size, dtype=np.int64)
        self._wait(self.comm.Iallgather(np.array([payload.size], dtype=np.int64), counts), self._what)
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        out = np.empty(int(counts.sum()), dtype=np.uint8)
        self._wait(self.comm.Iallgatherv(payload, [out, counts.tolist(), displs.tolist(), self._MPI.BYTE]),
                   self._what)
        return [pickle.loads(out[d:d + c].tobytes()) for d, c in zip(displs, counts)]

    def abort(self, message: str, code: int = 1) -> None:
        sys.stderr.write(f"chainrule.distributed: rank {self.rank}/{self.size}: {message}\n")
        sys.stderr.flush()
        sys.stdout.flush()
        # the launcher forwards our output through a pipe and kills every rank on Abort: give it a moment
        # to pass the message on (on a loaded machine it was sometimes lost)
        time.sleep(0.5)
        self.comm.Abort(code)


def _install_excepthook(comm: MPICommunicator) -> None:
    prev = sys.excepthook

    def hook(etype, value, tb):
        prev(etype, value, tb)
        if issubclass(etype, KeyboardInterrupt):
            comm.abort("interrupted; aborting all ranks", 130)
        first = str(value).splitlines()[0] if str(value) else ""
        if len(first) > 200:
            first = first[:200] + "…"
        comm.abort(f"{etype.__name__}: {first}\nchainrule.distributed: rank {comm.rank} failed (traceback above); "
                   f"aborting all {comm.size} ranks. Restart from the last checkpoint, with the same or another "
                   "number of workers", 1)

    sys.excepthook = hook


# ================================================================================== selection
_ENV_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")
_current: Communicator | None = None


def launched_world_size() -> int:
    """The number of processes the launcher (mpiexec, srun with PMI) started, from its environment
    variables (1 when not launched by one); reading it does not initialise MPI."""
    for k in _ENV_SIZE:
        v = os.environ.get(k)
        if v:
            try:
                return max(1, int(v))
            except ValueError:
                continue
    return 1


def get_communicator(backend: str = "auto", timeout: float | None | str = "env") -> Communicator:
    """The process-wide communicator (created once, then reused).

    ``backend``: 'auto' — MPI when the launcher started more than one process (``mpiexec -n 4 …``), else
    single-process; 'mpi' — always MPI (also for ``-n 1``; error naming ``pip install chainrule[mpi]`` if
    mpi4py is missing); 'single' — the single-process communicator.
    """
    global _current
    if backend not in ("auto", "mpi", "single"):
        raise ValueError(f"get_communicator: backend must be 'auto', 'mpi' or 'single', got {backend!r}")
    want_mpi = backend == "mpi" or (backend == "auto" and launched_world_size() > 1)
    if _current is not None:
        if want_mpi == isinstance(_current, MPICommunicator) or backend == "auto":
            return _current
    _current = MPICommunicator(timeout=timeout) if want_mpi else SingleProcessCommunicator()
    return _current


def set_communicator(comm: Communicator | None) -> None:
    """Replace the process-wide communicator returned by ``get_communicator()`` (None: choose again)."""
    global _current
    if comm is not None and not isinstance(comm, Communicator):
        raise TypeError(f"set_communicator expects a Communicator, got {type(comm).__name__}")
    _current = comm
