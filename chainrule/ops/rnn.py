"""Recurrent cells and fused recurrent layers (Elman RNN, LSTM, GRU) with hand-written BPTT.

Notation (spec: RNN-ELMAN, RNN-LSTM): sequences X (T, N, F) (time, batch, features), hidden states
(N, H).  Weights follow PyTorch: ``w_ih`` (G·H, F), ``w_hh`` (G·H, H), ``b_ih``, ``b_hh`` (G·H,) with the
gate blocks stacked in this order:

==========  ====  ==========================================================================
layer       G     gate order of the rows of w_ih / w_hh / b_ih / b_hh
==========  ====  ==========================================================================
RNN         1     (one block)   h_t = φ(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh), φ ∈ {tanh, relu, sigmoid}
LSTM        4     i, f, g, o    A = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh, i = σ(A_i), f = σ(A_f),
                                g = tanh(A_g), o = σ(A_o); c_t = f ⊙ c_{t−1} + i ⊙ g; h_t = o ⊙ tanh(c_t)
GRU         3     r, z, n       r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr), z = σ(… same with z …),
                                n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)), h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
==========  ====  ==========================================================================

Two implementations of every layer:

* **cells** (``rnn_cell``, ``lstm_cell``, ``gru_cell``): one time step composed of engine ops (one GEMM
  per operand for all gates of the step).  Fully differentiable to any order; used by ``nn.RNNCell``
  etc. and as the reference.
* **fused layers** (``rnn_layer``, ``lstm_layer``, ``gru_layer``): the whole sequence in one op.  The
  input projection of all time steps is one GEMM (X W_ihᵀ for the T·N rows), each step is one GEMM
  (h W_hhᵀ) plus in-place gate arithmetic, and the backward pass is hand-written BPTT over arrays
  (spec: RNN-BPTT, RNN-LSTM "backward per step"): per step only dA_t and dh_{t−1} = dA_t W_hh; the weight
  gradients are accumulated at the end by single GEMMs G_{W_hh} = Σ_t dA_tᵀ h_{t−1} = dAᵀ H_prev,
  G_{W_ih} = dAᵀ X, G_b = colsum(dA).  With ``create_graph=True`` the backward recomputes the step
  with the differentiable cells and differentiates that, so second derivatives are exact.

Fused layers return one packed tensor P of shape (T + 1, N, H) (RNN, GRU) or (T + 2, N, H) (LSTM):
P[:T] are the outputs h_t (zero at masked steps), P[T] is the final hidden state h_n and P[T + 1] the
final cell state c_n.  ``reverse=True`` runs t = T−1 … 0 (the backward direction of a bidirectional
layer; outputs stay aligned with the input times).  ``mask`` (T, N) bool: at a masked step the state is
carried over unchanged and the output is 0, which is how variable-length (padded/packed) sequences are
run: for a sequence of length L the forward direction stops at L and the reverse direction starts at
L − 1, exactly as PyTorch's packed sequences.
"""

from __future__ import annotations

import numpy as np

from ..tensor import is_grad_enabled
from ._base import Tensor, _make, as_tensor, is_t
from .activation import relu, sigmoid, tanh
from .arith import where
from .linalg import linear
from .shape import concatenate, reshape, stack

__all__ = ["rnn_cell", "lstm_cell", "gru_cell", "rnn_layer", "lstm_layer", "gru_layer", "clear_workspace"]


# ---------------------------------------------------------------------------------------- workspace
class _Workspace:
    """Reuse of the large per-sequence work arrays between calls.

    A fresh multi-megabyte array costs page faults on first touch (the allocator returns such blocks to
    the OS when they are freed); for an LSTM step of W5's size that was ~30% of the time.  Arrays used
    only inside the forward or the backward pass are returned right after use; the arrays saved for the
    backward pass are returned when the op's backward closure dies (after ``backward()`` frees the graph,
    or at once under ``no_grad``).  Only internal buffers are pooled — never an output or a gradient.
    """

    def __init__(self, max_bytes: int = 256 * 2 ** 20, per_key: int = 8):
        self.free: dict = {}
        self.bytes = 0
        self.max_bytes, self.per_key = max_bytes, per_key

    def take(self, shape: tuple, dtype) -> np.ndarray:
        lst = self.free.get((shape, np.dtype(dtype).str))
        if lst:
            a = lst.pop()
            self.bytes -= a.nbytes
            return a
        return np.empty(shape, dtype=dtype)

    def give(self, *arrays) -> None:
        for a in arrays:
            if a is None or a.base is not None or not a.flags.c_contiguous:
                continue
            lst = self.free.setdefault((a.shape, a.dtype.str), [])
            if len(lst) >= self.per_key or self.bytes + a.nbytes > self.max_bytes:
                continue
            lst.append(a)
            self.bytes += a.nbytes

    def clear(self) -> None:
        self.free.clear()
        self.bytes = 0


_WS = _Workspace()


def clear_workspace() -> None:
    """Release the cached work arrays of the fused recurrent layers."""
    _WS.clear()


class _Keep:
    """Lifetime token held by a backward closure; its death returns the saved buffers to the pool."""

    __slots__ = ("__weakref__",)


def _hold(*arrays) -> _Keep:
    import weakref
    k = _Keep()
    weakref.finalize(k, _WS.give, *arrays)
    return k

_NONLIN = ("tanh", "relu", "sigmoid")


# ---------------------------------------------------------------------------------------- cells
def _affine2(x, h, w_ih, w_hh, b_ih, b_hh):
    return linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh") -> Tensor:
    """One Elman step h' = φ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).  (spec: RNN-ELMAN)"""
    z = _affine2(x, h, w_ih, w_hh, b_ih, b_hh)
    if nonlinearity == "tanh":
        return tanh(z)
    if nonlinearity == "relu":
        return relu(z)
    if nonlinearity == "sigmoid":
        return sigmoid(z)
    raise ValueError(f"nonlinearity must be one of {_NONLIN}, got {nonlinearity!r}")


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Tensor, Tensor]:
    """One LSTM step, gate order i, f, g, o (PyTorch).  Returns (h', c').  (spec: RNN-LSTM)

    A = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh (N, 4H); i, f, o = σ(A_i), σ(A_f), σ(A_o); g = tanh(A_g);
    c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c').
    """
    A = _affine2(x, h, w_ih, w_hh, b_ih, b_hh)
    H = A.shape[-1] // 4
    i = sigmoid(A[..., :H])
    f = sigmoid(A[..., H:2 * H])
    g = tanh(A[..., 2 * H:3 * H])
    o = sigmoid(A[..., 3 * H:])
    c2 = f * c + i * g
    return o * tanh(c2), c2


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One GRU step, gate order r, z, n (PyTorch).

    r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr); z likewise; n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn));
    h' = (1 − z) ⊙ n + z ⊙ h.
    """
    gi = linear(x, w_ih, b_ih)
    gh = linear(h, w_hh, b_hh)
    H = gi.shape[-1] // 3
    r = sigmoid(gi[..., :H] + gh[..., :H])
    z = sigmoid(gi[..., H:2 * H] + gh[..., H:2 * H])
    n = tanh(gi[..., 2 * H:] + r * gh[..., 2 * H:])
    return n + z * (h - n)


# ---------------------------------------------------------------------------------------- checks
def _check_layer(name, x, h0, w_ih, w_hh, b_ih, b_hh, gates, c0=None, mask=None):
    if x.ndim != 3:
        raise ValueError(f"{name}: expected an input of shape (T, N, F), got {x.shape}")
    T, N, F = x.shape
    GH = w_hh.shape[0]
    H = GH // gates
    if w_ih.shape != (GH, F) or w_hh.shape != (GH, H) or GH != gates * H:
        raise ValueError(f"{name}: weights must be w_ih ({gates}·H, F) = ({gates * H}, {F}) and w_hh "
                         f"({gates}·H, H); got w_ih {w_ih.shape}, w_hh {w_hh.shape} for an input with F = {F}")
    for nm, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and b.shape != (GH,):
            raise ValueError(f"{name}: {nm} must have shape ({GH},), got {b.shape}")
    for nm, s in (("h0", h0), ("c0", c0)):
        if s is not None and s.shape != (N, H):
            raise ValueError(f"{name}: initial state {nm} must have shape (N, H) = ({N}, {H}), got {s.shape}")
    dts = {t.dtype for t in (x, h0, c0, w_ih, w_hh, b_ih, b_hh) if t is not None}
    if len(dts) != 1:
        raise TypeError(f"{name}: inputs, states and weights must share one floating dtype, got "
                        f"{sorted(str(d) for d in dts)}; cast with .to(np.float64) or .float()")
    m = None
    if mask is not None:
        m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if m.shape != (T, N):
            raise ValueError(f"{name}: mask must have shape (T, N) = ({T}, {N}), got {m.shape}")
        m = m.astype(bool)
        if m.all():
            m = None
    return T, N, F, H, m


def _fmask(m, dtype):
    return None if m is None else m.astype(dtype)[:, :, None]


# ---------------------------------------------------------------------------------------- fallback
def _differentiable_vjp(compose, parents, g):
    """Gradients of ``compose(*parents)`` for the cotangent ``g`` as differentiable Tensors.

    Used when the backward pass is recorded (``create_graph=True``): the fused layer is recomputed with
    the differentiable cells and differentiated by the engine.  The recomputation starts from "cut"
    nodes (identity on the parents) that stop the inner backward pass at the parents; afterwards they
    pass gradients through, so the returned gradients stay differentiable with respect to the parents.
    """
    from ..autodiff import grad

    active = [False]

    def _cut_vjp(gg, out, p):
        return (gg if active[0] else None,)

    cuts = tuple(_make(p.data, (p,), _cut_vjp) if (p is not None and p.requires_grad) else p for p in parents)
    out = compose(*cuts)
    need = [i for i, p in enumerate(parents) if p is not None and p.requires_grad]
    gs = grad(out, [cuts[i] for i in need], grad_outputs=g, create_graph=True, allow_unused=True) if need else ()
    active[0] = True
    res = [None] * len(parents)
    for i, gi in zip(need, gs):
        res[i] = gi
    return tuple(res)


def _merge(m, new, old):
    """m ⊙ new + (1 − m) ⊙ old with a 0/1 mask (differentiable form)."""
    return where(m, new, old)


def _compose_layer(kind, T, reverse, mask, nonlinearity="tanh"):
    """The fused layer written with the differentiable cells (packed output)."""
    mb = None if mask is None else mask[:, :, None]

    def compose(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        h, c = h0, c0
        outs = [None] * T
        zero = None
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            if kind == "lstm":
                hn, cn = lstm_cell(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
            elif kind == "gru":
                hn = gru_cell(x[t], h, w_ih, w_hh, b_ih, b_hh)
            else:
                hn = rnn_cell(x[t], h, w_ih, w_hh, b_ih, b_hh, nonlinearity)
            if mb is None:
                h = hn
                outs[t] = hn
                if kind == "lstm":
                    c = cn
            else:
                if zero is None:
                    zero = Tensor._wrap(np.zeros(hn.shape, dtype=hn.dtype))
                h = _merge(mb[t], hn, h)
                outs[t] = _merge(mb[t], hn, zero)
                if kind == "lstm":
                    c = _merge(mb[t], cn, c)
        parts = [stack(outs, 0), reshape(h, (1,) + h.shape)]
        if kind == "lstm":
            parts.append(reshape(c, (1,) + c.shape))
        return concatenate(parts, 0)

    return compose


# ---------------------------------------------------------------------------------------- helpers
def _finish(P, parents, backward, compose):
    """Record the fused op.  ``parents`` may hold None (absent biases); ``backward(gP, need)`` returns
    array gradients for all of them (fast path); the recorded path differentiates ``compose``."""
    idx = [k for k, p in enumerate(parents) if p is not None]
    present = tuple(parents[k] for k in idx)
    need = [p is not None and p.requires_grad for p in parents]

    def vjp(gP, out, *ps):
        if is_t(gP):
            full = [None] * len(parents)
            for k, p in zip(idx, ps):
                full[k] = p
            res = _differentiable_vjp(compose, tuple(full), gP)
        else:
            res = backward(gP, need)
        return tuple(res[k] for k in idx)

    return _make(P, present, vjp)


def _as_opt(t, like):
    return None if t is None else as_tensor(t, like)


def _state(s, N, H, like):
    if s is None:
        return Tensor._wrap(np.zeros((N, H), dtype=like.dtype))
    return as_tensor(s, like)


def _prev_new(T, reverse):
    """Index helpers for the state buffer S (T + 1 rows): step t reads S[prev(t)] and writes S[new(t)].

    Forward: S[0] = h0, S[t + 1] = state after t.  Reverse: S[T] = h0, S[t] = state after t.  Either way
    the states before each time, in time order, are one contiguous slice, as are the states after.
    """
    if reverse:
        return (lambda t: t + 1), (lambda t: t), slice(1, T + 1), slice(0, T), 0, T
    return (lambda t: t), (lambda t: t + 1), slice(0, T), slice(1, T + 1), T, 0


def _order(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


_LSTM_PERM: dict = {}
_KF = 10              # LSTM forward: time steps per batch of backward factors


def _lstm_perm(H):
    """Internal gate order o, i, f, g (from PyTorch's i, f, g, o): σ-gates contiguous, and the gates
    multiplied by dc in the backward pass (i, f, g) contiguous too.  Returns (perm, inverse, scale);
    σ(a) = ½(1 + tanh(a/2)), so the σ rows are pre-scaled by ½ and a single tanh serves all gates."""
    p = _LSTM_PERM.get(H)
    if p is None:
        perm = np.concatenate([np.arange(3 * H, 4 * H), np.arange(0, 3 * H)])
        sc = np.ones(4 * H)
        sc[:3 * H] = 0.5
        p = _LSTM_PERM[H] = (perm, np.argsort(perm), sc)
    return p


# ---------------------------------------------------------------------------------------- LSTM
def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse: bool = False, mask=None) -> Tensor:
    """A whole LSTM layer over the sequence x (T, N, F) in one op.  (spec: RNN-LSTM, RNN-BPTT)

    Returns the packed tensor P (T + 2, N, H): P[:T] = h_1..h_T (time order), P[T] = h_n, P[T + 1] = c_n.
    ``h0``, ``c0``: (N, H) or None (zeros).  Gate order i, f, g, o.  Backward: the spec's per-step LSTM
    equations (do = dh ⊙ tanh c_t; dc = dh ⊙ o ⊙ (1 − tanh² c_t) + dc_next; di = dc ⊙ g; dg = dc ⊙ i;
    df = dc ⊙ c_{t−1}; dc_prev = dc ⊙ f; dA = [di σ', df σ', dg (1 − g²), do σ']; dh_prev = dA W_hh), then
    G_{[W_ih | W_hh | b]} = dAᵀ [X | H_prev | 1] and dX = dA W_ih as single GEMMs.

    Layout (an implementation detail, measured ~25 % faster than batch-major on W5): the kernels work
    on transposed, feature-major states — gates A_t (4H, N) = W [x_t; h_{t−1}; 1] with one GEMM per
    step on the stacked columns Z_t = [x_t; h_{t−1}; 1] (the input projection and both biases ride
    along), element-wise work on contiguous (H, N) gate blocks, and the factors the backward needs per
    step (σ', 1 − tanh² c, …) computed in the forward while the gates are in cache.
    """
    x = as_tensor(x)
    w_ih, w_hh = as_tensor(w_ih, x), as_tensor(w_hh, x)
    b_ih, b_hh = _as_opt(b_ih, x), _as_opt(b_hh, x)
    T, N, F, H, m = _check_layer("lstm_layer", x, as_tensor(h0, x) if h0 is not None else None, w_ih, w_hh,
                                 b_ih, b_hh, 4, as_tensor(c0, x) if c0 is not None else None, mask)
    h0, c0 = _state(h0, N, H, x), _state(c0, N, H, x)
    parents = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    need_grad = is_grad_enabled() and any(p is not None and p.requires_grad for p in parents)
    dt = x.dtype
    perm, inv, sc = _lstm_perm(H)
    scd = sc.astype(dt)[:, None]
    K = F + H + 1                                 # rows of Z_t: x_t, h_{t−1}, 1
    H2, H3, H4 = 2 * H, 3 * H, 4 * H
    W = np.empty((H4, K), dtype=dt)               # [W_ih | W_hh | b], internal gate order, σ rows halved
    W[:, :F] = w_ih.data[perm]
    W[:, F:F + H] = w_hh.data[perm]
    bias = W[:, F + H]
    bias[...] = 0
    if b_ih is not None:
        bias += b_ih.data[perm]
    if b_hh is not None:
        bias += b_hh.data[perm]
    W *= scd
    prev, new, sprev, snew, sfin, _ = _prev_new(T, reverse)
    Z = _WS.take((K, T + 1, N), dt)               # column prev(t) = [x_t; h before t; 1] (see _prev_new)
    Z[:F, sprev] = x.data.transpose(2, 0, 1)
    Z[F + H] = 1
    Zh = Z[F:F + H]                               # the hidden states, (H, T + 1, N)
    Zh[:, prev(T - 1) if reverse else 0] = h0.data.T
    G = _WS.take((T, H4, N), dt)                  # activated gates o, i, f, g
    Cs = _WS.take((T + 1, H, N), dt)              # cell states, same indexing as Z's columns
    Cs[prev(T - 1) if reverse else 0] = c0.data.T
    TC = _WS.take((T, H, N), dt)                  # tanh c_t
    if need_grad:                                 # per-step factors of the backward pass
        Q = _WS.take((T, H, N), dt)               # dA_o = dh ⊙ Q,       Q = tanh c ⊙ σ'(o)
        R = _WS.take((T, H, N), dt)               # dc += dh ⊙ R,        R = o ⊙ (1 − tanh² c)
        Pm = _WS.take((T, H3, N), dt)             # [dA_i; dA_f; dA_g] = dc ⊙ Pm
    fm = None if m is None else m.astype(dt)[:, None, :]     # (T, 1, N)
    Hn = None if fm is None else np.empty((T, H, N), dtype=dt)
    tmp = np.empty((H, N), dtype=dt)
    Cprev = Cs[sprev]                             # time-aligned views of the states before / after each step
    Hnew = Zh[:, snew].transpose(1, 0, 2) if fm is None else Hn

    def factors(a, b):   # steps a..b−1 at once: a tenth of the NumPy calls of doing it step by step
        g4 = G[a:b]
        s3 = g4[:, :H3]
        t3 = np.multiply(s3, s3)                  # σ' = σ − σ² of o, i, f
        np.subtract(s3, t3, out=t3)
        tc = TC[a:b]
        np.multiply(tc, t3[:, :H], out=Q[a:b])
        r = R[a:b]
        np.multiply(Hnew[a:b], tc, out=r)         # o (1 − tanh² c) = o − h tanh c
        np.subtract(g4[:, :H], r, out=r)
        pm = Pm[a:b]
        ig, gg = g4[:, H:H2], g4[:, H3:]
        np.multiply(gg, t3[:, H:H2], out=pm[:, :H])
        np.multiply(Cprev[a:b], t3[:, H2:H3], out=pm[:, H:H2])
        np.multiply(ig, gg, out=pm[:, H2:])       # i (1 − g²) = i − (i g) g
        pm[:, H2:] *= gg
        np.subtract(ig, pm[:, H2:], out=pm[:, H2:])

    for k, t in enumerate(_order(T, reverse)):
        A = G[t]
        np.matmul(W, Z[:, prev(t)], out=A)
        np.tanh(A, out=A)
        s = A[:H3]
        s *= 0.5
        s += 0.5
        o, i, f, g = A[:H], A[H:H2], A[H2:H3], A[H3:]
        cp = Cs[prev(t)]
        c = Cs[new(t)] if fm is None else np.empty((H, N), dtype=dt)
        np.multiply(f, cp, out=c)
        np.multiply(i, g, out=tmp)
        c += tmp
        tc = TC[t]
        np.tanh(c, out=tc)
        h = Zh[:, new(t)] if fm is None else Hn[t]
        np.multiply(o, tc, out=h)
        if fm is not None:
            mt = fm[t]
            np.copyto(Cs[new(t)], np.where(mt > 0, c, cp))
            np.copyto(Zh[:, new(t)], np.where(mt > 0, h, Zh[:, prev(t)]))
        if need_grad and ((k + 1) % _KF == 0 or k == T - 1):   # the last ≤ _KF steps' factors, while in cache
            k0 = k - k % _KF                                        # the batch's first step (processing order)
            factors(*((t, T - k0) if reverse else (k0, t + 1)))
    P = np.empty((T + 2, N, H), dtype=dt)
    P[:T] = Zh[:, snew].transpose(1, 2, 0) if fm is None else (Hn * fm).transpose(0, 2, 1)
    P[T] = Zh[:, sfin].T
    P[T + 1] = Cs[sfin].T
    if not need_grad:
        _WS.give(Z, G, Cs, TC)
        return _finish(P, parents, None, _compose_layer("lstm", T, reverse, m))

    WhT = np.ascontiguousarray(w_hh.data[perm].T)       # (H, 4H), internal order, unscaled
    keep = _hold(Z, G, Cs, TC, Q, R, Pm)

    def backward(gP, need):
        assert keep is not None                         # the saved buffers live as long as this closure
        dh = np.ascontiguousarray(gP[T].T)
        dc = np.ascontiguousarray(gP[T + 1].T)
        gY = gP[:T]
        gy_live = bool(gY.any())                        # often only h_n / c_n are used
        dA = _WS.take((H4, T, N), dt)                   # column block t = dA_t, so dAᵀ Z is one GEMM
        tmp = np.empty((H, N), dtype=dt)
        steps = range(T) if reverse else range(T - 1, -1, -1)
        last = steps[-1]
        for t in steps:
            if fm is None:
                if gy_live:
                    dh += gY[t].T
            else:
                mt = fm[t]
                ch, cc = dh * (1 - mt), dc * (1 - mt)
                dh = (dh + gY[t].T) * mt
                dc = dc * mt
            d = dA[:, t]
            np.multiply(dh, Q[t], out=d[:H])
            np.multiply(dh, R[t], out=tmp)
            dc += tmp
            np.multiply(dc, Pm[t].reshape(3, H, N), out=d[H:].reshape(3, H, N))
            dc *= G[t, H2:H3]
            if t != last or need[1]:
                dh = WhT @ d
            if fm is not None:
                dc += cc
                dh += ch
        dA2 = dA.reshape(H4, T * N)
        gW = None
        if need[3] or need[4] or need[5] or need[6]:
            gW = (dA2 @ Z[:, sprev].reshape(K, T * N).T)[inv]     # [G_{W_ih} | G_{W_hh} | G_b]
        gx = None
        if need[0]:
            gx = np.ascontiguousarray((w_ih.data.T[:, perm] @ dA2).reshape(F, T, N).transpose(1, 2, 0))
        part = (lambda a, b: np.ascontiguousarray(gW[:, a:b])) if gW is not None else None
        gb = np.ascontiguousarray(gW[:, F + H]) if (need[5] or need[6]) else None
        res = (gx, np.ascontiguousarray(dh.T) if need[1] else None, np.ascontiguousarray(dc.T) if need[2] else None,
               part(0, F) if need[3] else None, part(F, F + H) if need[4] else None,
               gb if need[5] else None, gb if need[6] else None)
        _WS.give(dA)
        return res

    return _finish(P, parents, backward, _compose_layer("lstm", T, reverse, m))


# ---------------------------------------------------------------------------------------- GRU
def gru_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse: bool = False, mask=None) -> Tensor:
    """A whole GRU layer over x (T, N, F) in one op; gate order r, z, n.  Returns P (T + 1, N, H):
    P[:T] = outputs, P[T] = h_n.

    Backward per step (dh = gradient of h_t): dn = dh ⊙ (1 − z); dA_n = dn ⊙ (1 − n²);
    dA_z = dh ⊙ (h_{t−1} − n) ⊙ z(1 − z); dA_r = dA_n ⊙ (h_{t−1}W_hnᵀ + b_hn) ⊙ r(1 − r);
    input-side gradient dGi = [dA_r, dA_z, dA_n], hidden-side dGh = [dA_r, dA_z, dA_n ⊙ r];
    dh_{t−1} = dGh W_hh + dh ⊙ z; G_{W_ih} = dGiᵀ X, G_{W_hh} = dGhᵀ H_prev.  (spec: RNN-BPTT)
    """
    x = as_tensor(x)
    w_ih, w_hh = as_tensor(w_ih, x), as_tensor(w_hh, x)
    b_ih, b_hh = _as_opt(b_ih, x), _as_opt(b_hh, x)
    T, N, F, H, m = _check_layer("gru_layer", x, as_tensor(h0, x) if h0 is not None else None, w_ih, w_hh,
                                 b_ih, b_hh, 3, None, mask)
    h0 = _state(h0, N, H, x)
    dt = x.dtype
    H2 = 2 * H
    sc = np.ones(3 * H, dtype=dt)
    sc[:H2] = 0.5                                      # σ(a) = ½(1 + tanh(a/2)) for r, z
    Xp = _WS.take((T, N, 3 * H), dt)
    np.matmul(x.data.reshape(T * N, F), (w_ih.data * sc[:, None]).T, out=Xp.reshape(T * N, 3 * H))
    if b_ih is not None:
        Xp += b_ih.data * sc
    WhT = (w_hh.data * sc[:, None]).T.copy()
    bh = b_hh.data * sc if b_hh is not None else None
    prev, new, sprev, snew, sfin, _ = _prev_new(T, reverse)
    Hs = _WS.take((T + 1, N, H), dt)
    Hs[prev(T - 1) if reverse else 0] = h0.data
    RZ = _WS.take((T, N, H2), dt)
    Nn = _WS.take((T, N, H), dt)
    GHn = _WS.take((T, N, H), dt)                     # h_{t−1} W_hnᵀ + b_hn
    gh = np.empty((N, 3 * H), dtype=dt)
    tmp = np.empty((N, H), dtype=dt)
    fm = _fmask(m, dt)
    Hn = None if fm is None else np.empty((T, N, H), dtype=dt)
    for t in _order(T, reverse):
        hp = Hs[prev(t)]
        np.matmul(hp, WhT, out=gh)
        if bh is not None:
            gh += bh
        s = RZ[t]
        np.add(Xp[t, :, :H2], gh[:, :H2], out=s)
        np.tanh(s, out=s)
        s *= 0.5
        s += 0.5
        r, z = s[:, :H], s[:, H:]
        np.copyto(GHn[t], gh[:, H2:])
        n = Nn[t]
        np.multiply(r, GHn[t], out=n)
        n += Xp[t, :, H2:]
        np.tanh(n, out=n)
        np.subtract(hp, n, out=tmp)
        tmp *= z
        hn = Hs[new(t)] if fm is None else Hn[t]
        np.add(n, tmp, out=hn)
        if fm is not None:
            np.copyto(Hs[new(t)], np.where(fm[t] > 0, hn, hp))
    _WS.give(Xp)
    P = np.empty((T + 1, N, H), dtype=dt)
    P[:T] = Hs[snew] if fm is None else Hn * fm
    P[T] = Hs[sfin]
    keep = _hold(Hs, RZ, Nn, GHn)

    def backward(gP, need):
        assert keep is not None                        # the saved buffers live as long as this closure
        gY, dh = gP[:T], gP[T].copy()
        r, z = RZ[..., :H], RZ[..., H:]
        K1 = 1 - Nn * Nn
        K1 *= 1 - z                                    # dA_n = dh ⊙ K1
        K2 = GHn * r * (1 - r)                         # dA_r = dA_n ⊙ K2
        K3 = (Hs[sprev] - Nn) * z * (1 - z)            # dA_z = dh ⊙ K3
        dGh = _WS.take((T, N, 3 * H), dt)
        dGn = _WS.take((T, N, H), dt)                  # input-side dA_n
        steps = list(range(T) if reverse else range(T - 1, -1, -1))
        last = steps[-1]
        Wh = w_hh.data
        for t in steps:
            if fm is None:
                dh += gY[t]
            else:
                mt = fm[t]
                ch = dh * (1 - mt)
                dh = (dh + gY[t]) * mt
            d = dGh[t]
            an = dGn[t]
            np.multiply(dh, K1[t], out=an)
            np.multiply(an, r[t], out=d[:, H2:])
            np.multiply(an, K2[t], out=d[:, :H])
            np.multiply(dh, K3[t], out=d[:, H:H2])
            dz = dh * z[t]
            if t != last or need[1]:
                dh = d @ Wh
                dh += dz
            if fm is not None:
                dh += ch
        dGh2 = dGh.reshape(T * N, 3 * H)
        need_i = need[0] or need[2] or need[4]
        if need_i:
            dGi = dGh.copy()
            dGi[..., H2:] = dGn
            dGi2 = dGi.reshape(T * N, 3 * H)
        ones = np.ones(T * N, dtype=dt)
        res = ((dGi2 @ w_ih.data).reshape(T, N, F) if need[0] else None,
               dh if need[1] else None,
               dGi2.T @ x.data.reshape(T * N, F) if need[2] else None,
               dGh2.T @ Hs[sprev].reshape(T * N, H) if need[3] else None,
               ones @ dGi2 if need[4] else None,
               ones @ dGh2 if need[5] else None)
        _WS.give(dGh, dGn)
        return res

    compose = _compose_layer("gru", T, reverse, m)
    return _finish(P, (x, h0, w_ih, w_hh, b_ih, b_hh), backward,
                   lambda x_, h_, wi, wh, bi, bh_: compose(x_, h_, None, wi, wh, bi, bh_))


# ---------------------------------------------------------------------------------------- Elman RNN
def rnn_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh", reverse: bool = False,
              mask=None) -> Tensor:
    """A whole Elman layer over x (T, N, F) in one op: h_t = φ(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh).
    Returns P (T + 1, N, H): P[:T] = outputs, P[T] = h_n.  (spec: RNN-ELMAN)

    Backward = the spec's BPTT (spec: RNN-BPTT): Δ_T+1 = 0, Δ_t = φ'(z_t) ⊙ (∂c/∂h_t + Δ_{t+1} W_hh);
    G_{W_ih} = Σ_t Δ_tᵀ X_t, G_{W_hh} = Σ_t Δ_tᵀ h_{t−1}, G_b = Σ_t colsum Δ_t, G_{h0} = Δ_1 W_hh.
    φ' from the saved output: tanh' = 1 − h², σ' = h(1 − h), relu' = 𝟙[h > 0].
    """
    if nonlinearity not in _NONLIN:
        raise ValueError(f"nonlinearity must be one of {_NONLIN}, got {nonlinearity!r}")
    x = as_tensor(x)
    w_ih, w_hh = as_tensor(w_ih, x), as_tensor(w_hh, x)
    b_ih, b_hh = _as_opt(b_ih, x), _as_opt(b_hh, x)
    T, N, F, H, m = _check_layer("rnn_layer", x, as_tensor(h0, x) if h0 is not None else None, w_ih, w_hh,
                                 b_ih, b_hh, 1, None, mask)
    h0 = _state(h0, N, H, x)
    dt = x.dtype
    k = 0.5 if nonlinearity == "sigmoid" else 1.0
    Xp = _WS.take((T, N, H), dt)
    np.matmul(x.data.reshape(T * N, F), w_ih.data.T, out=Xp.reshape(T * N, H))
    if b_ih is not None:
        Xp += b_ih.data
    if b_hh is not None:
        Xp += b_hh.data
    if k != 1.0:
        Xp *= k
    WhT = (w_hh.data.T * k).copy() if k != 1.0 else w_hh.data.T.copy()
    prev, new, sprev, snew, sfin, _ = _prev_new(T, reverse)
    Hs = _WS.take((T + 1, N, H), dt)
    Hs[prev(T - 1) if reverse else 0] = h0.data
    fm = _fmask(m, dt)
    Hn = None if fm is None else np.empty((T, N, H), dtype=dt)
    for t in _order(T, reverse):
        hp = Hs[prev(t)]
        hn = Hs[new(t)] if fm is None else Hn[t]
        np.matmul(hp, WhT, out=hn)
        hn += Xp[t]
        if nonlinearity == "tanh":
            np.tanh(hn, out=hn)
        elif nonlinearity == "relu":
            np.maximum(hn, 0, out=hn)
        else:
            np.tanh(hn, out=hn)
            hn *= 0.5
            hn += 0.5
        if fm is not None:
            np.copyto(Hs[new(t)], np.where(fm[t] > 0, hn, hp))
    _WS.give(Xp)
    P = np.empty((T + 1, N, H), dtype=dt)
    P[:T] = Hs[snew] if fm is None else Hn * fm
    P[T] = Hs[sfin]
    keep = _hold(Hs)

    def backward(gP, need):
        assert keep is not None                        # the saved buffers live as long as this closure
        gY, dh = gP[:T], gP[T].copy()
        Y = Hs[snew] if fm is None else Hn
        if nonlinearity == "tanh":
            D = 1 - Y * Y
        elif nonlinearity == "relu":
            D = (Y > 0).astype(dt)
        else:
            D = Y * (1 - Y)
        dZ = _WS.take((T, N, H), dt)
        steps = list(range(T) if reverse else range(T - 1, -1, -1))
        last = steps[-1]
        Wh = w_hh.data
        for t in steps:
            if fm is None:
                dh += gY[t]
            else:
                mt = fm[t]
                ch = dh * (1 - mt)
                dh = (dh + gY[t]) * mt
            np.multiply(dh, D[t], out=dZ[t])
            if t != last or need[1]:
                dh = dZ[t] @ Wh
            if fm is not None:
                dh += ch
        dZ2 = dZ.reshape(T * N, H)
        gb = np.ones(T * N, dtype=dt) @ dZ2 if (need[4] or need[5]) else None
        res = ((dZ2 @ w_ih.data).reshape(T, N, F) if need[0] else None,
               dh if need[1] else None,
               dZ2.T @ x.data.reshape(T * N, F) if need[2] else None,
               dZ2.T @ Hs[sprev].reshape(T * N, H) if need[3] else None,
               gb if need[4] else None, gb if need[5] else None)
        _WS.give(dZ)
        return res

    compose = _compose_layer("rnn", T, reverse, m, nonlinearity)
    return _finish(P, (x, h0, w_ih, w_hh, b_ih, b_hh), backward,
                   lambda x_, h_, wi, wh, bi, bh_: compose(x_, h_, None, wi, wh, bi, bh_))
