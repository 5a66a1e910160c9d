"""Recurrent layers: RNN (Elman), LSTM, GRU, their cells, and variable-length sequence helpers.

Conventions (PyTorch's, spec: RNN-ELMAN, RNN-LSTM): sequences are (T, N, F) (time, batch, features), or
(N, T, F) with ``batch_first=True``; a 2-D input (T, F) is one unbatched sequence.  Hidden states are
(num_layers · num_directions, N, H).  Parameters per layer k (suffix ``_reverse`` for the backward
direction of a bidirectional layer)::

    weight_ih_l{k}  (G·H, F_k)   F_0 = input_size, F_k = num_directions·H for k > 0
    weight_hh_l{k}  (G·H, H)
    bias_ih_l{k}, bias_hh_l{k}  (G·H,)

with G gate blocks stacked in the order **RNN: one block; LSTM: i, f, g, o (input, forget, cell candidate,
output); GRU: r, z, n (reset, update, new)**, so a state_dict copies to and from PyTorch unchanged.  All
parameters start as U(−1/√H, 1/√H) (PyTorch's init).  Each layer runs as one fused op
(``chainrule.ops.rnn``): one GEMM for the input projection of all time steps, one GEMM per step for all
gates, and a hand-written BPTT backward (spec: RNN-BPTT).

Variable-length batches: pass ``lengths`` (N,) or a ``mask`` (T, N) to ``forward``, or a
:class:`PackedSequence` (``pack_padded_sequence``).  A sequence's forward direction stops after its
last valid step, its backward direction starts at it, outputs past the end are 0 and ``h_n`` holds each
sequence's own final state — the same results as PyTorch's packed sequences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .. import ops
from ..backend import Generator, _gen, get_default_dtype
from ..ops import rnn as _rnn
from ..ops._base import as_tensor
from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter

__all__ = [
    "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
    "PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
    "lengths_to_mask",
]

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


# ============================================================================ variable-length helpers
class PackedSequence(NamedTuple):
    """Sequences of different lengths without padding (PyTorch's layout).

    ``data`` (Σ lengths, F): time step 0 of every sequence, then step 1 of every sequence still running,
    …, sequences ordered by decreasing length; ``batch_sizes[t]`` = number of sequences with length > t;
    ``sorted_indices[k]`` = original batch index of the k-th longest sequence;
    ``unsorted_indices`` = its inverse permutation.
    """

    data: Tensor
    batch_sizes: np.ndarray
    sorted_indices: np.ndarray | None = None
    unsorted_indices: np.ndarray | None = None


def lengths_to_mask(lengths, max_len: int | None = None) -> np.ndarray:
    """(T, N) boolean mask, True where t < lengths[n]."""
    L = _lengths_array(lengths)
    T = int(L.max()) if max_len is None else int(max_len)
    return np.arange(T)[:, None] < L[None, :]


def _lengths_array(lengths) -> np.ndarray:
    L = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if L.ndim != 1 or L.dtype.kind not in "iu":
        raise ValueError(f"lengths must be a 1-D sequence of integers (one per sequence), got dtype {L.dtype} "
                         f"shape {L.shape}")
    if L.size and L.min() < 0:
        raise ValueError(f"lengths must be non-negative, got {L.tolist()}")
    return L.astype(np.int64)


def _pack_index(L: np.ndarray, enforce_sorted: bool):
    if L.size and L.min() < 1:
        raise ValueError(f"pack_padded_sequence: every length must be >= 1, got {L.tolist()}")
    if enforce_sorted:
        if np.any(np.diff(L) > 0):
            raise ValueError(f"pack_padded_sequence: lengths {L.tolist()} are not sorted in decreasing order; "
                             "sort the batch or pass enforce_sorted=False")
        order = None
        Ls = L
    else:
        order = np.argsort(-L, kind="stable")
        Ls = L[order]
    T = int(Ls[0])
    batch_sizes = (np.arange(T)[:, None] < Ls[None, :]).sum(axis=1).astype(np.int64)
    sidx = np.arange(len(L)) if order is None else order
    t_idx = np.concatenate([np.full(b, t) for t, b in enumerate(batch_sizes)])
    b_idx = np.concatenate([sidx[:b] for b in batch_sizes])
    return batch_sizes, order, t_idx, b_idx


def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, N, *) (or (N, T, *)) of sequences with the given lengths (differentiable)."""
    x = as_tensor(input)
    if batch_first:
        x = ops.transpose(x, 0, 1)
    L = _lengths_array(lengths)
    if L.shape[0] != x.shape[1]:
        raise ValueError(f"pack_padded_sequence: got {L.shape[0]} lengths for a batch of {x.shape[1]} sequences")
    if L.size and L.max() > x.shape[0]:
        raise ValueError(f"pack_padded_sequence: a length ({L.max()}) exceeds the padded length {x.shape[0]}")
    batch_sizes, order, t_idx, b_idx = _pack_index(L, enforce_sorted)
    data = x[t_idx, b_idx]
    unsorted = None if order is None else np.argsort(order)
    return PackedSequence(data, batch_sizes, order, unsorted)


def _packed_lengths(seq: PackedSequence) -> np.ndarray:
    bs = np.asarray(seq.batch_sizes)
    N = int(bs[0])
    Ls = (bs[None, :] > np.arange(N)[:, None]).sum(axis=1)   # lengths in sorted order
    if seq.sorted_indices is None:
        return Ls
    L = np.empty(N, dtype=np.int64)
    L[np.asarray(seq.sorted_indices)] = Ls
    return L


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, np.ndarray]:
    """Inverse of :func:`pack_padded_sequence`: (padded (T, N, *), lengths (N,)) in the original order."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence expects a PackedSequence, got {type(sequence).__name__}")
    data = as_tensor(sequence.data)
    bs = np.asarray(sequence.batch_sizes)
    N, T = int(bs[0]), len(bs)
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"total_length={total_length} is shorter than the longest sequence ({T})")
        T = int(total_length)
    sidx = np.arange(N) if sequence.sorted_indices is None else np.asarray(sequence.sorted_indices)
    t_idx = np.concatenate([np.full(b, t) for t, b in enumerate(bs)])
    b_idx = np.concatenate([sidx[:b] for b in bs])
    out = ops.scatter_add(data, (t_idx, b_idx), (T, N) + data.shape[1:])
    if padding_value != 0.0:
        fill = np.full(out.shape, padding_value, dtype=out.dtype)
        fill[t_idx, b_idx] = 0
        out = out + Tensor._wrap(fill)
    if batch_first:
        out = ops.transpose(out, 0, 1)
    return out, _packed_lengths(sequence)


def _repack(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a padded (T, N, *) batch in the layout of ``like`` (same batch sizes and order)."""
    bs = np.asarray(like.batch_sizes)
    N = int(bs[0])
    sidx = np.arange(N) if like.sorted_indices is None else np.asarray(like.sorted_indices)
    t_idx = np.concatenate([np.full(b, t) for t, b in enumerate(bs)])
    b_idx = np.concatenate([sidx[:b] for b in bs])
    return PackedSequence(padded[t_idx, b_idx], like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def pad_sequence(sequences: Sequence, batch_first: bool = False, padding_value: float = 0.0) -> Tensor:
    """Stack sequences of shapes (L_i, *) into (max L, N, *) (or (N, max L, *)), padding with a value."""
    seqs = [as_tensor(s) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequence needs at least one sequence")
    T = max(s.shape[0] for s in seqs)
    rest = seqs[0].shape[1:]
    cols = []
    for s in seqs:
        if s.shape[1:] != rest:
            raise ValueError(f"pad_sequence: sequences must agree after the time axis, got {s.shape[1:]} and {rest}")
        pad = T - s.shape[0]
        cols.append(ops.pad(s, [(0, pad)] + [(0, 0)] * len(rest), value=padding_value) if pad else s)
    return ops.stack(cols, 0 if batch_first else 1)


def pack_sequence(sequences: Sequence, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) sequences."""
    lengths = [as_tensor(s).shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


# ============================================================================ layers
class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM`, :class:`GRU` (see the module docstring)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 nonlinearity: str = "tanh", forget_bias: float = 0.0, learn_h0: bool = False, dtype=None,
                 generator: Generator | None = None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"mode must be one of {list(_GATES)}, got {mode!r}")
        for nm, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if int(v) != v or v < 1:
                raise ValueError(f"{mode}: {nm} must be a positive integer, got {v!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{mode}: dropout must be in [0, 1), got {dropout}")
        if nonlinearity not in ("tanh", "relu", "sigmoid"):
            raise ValueError(f"{mode}: nonlinearity must be 'tanh', 'relu' or 'sigmoid', got {nonlinearity!r}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        self.nonlinearity = nonlinearity
        self.forget_bias = float(forget_bias)
        self.learn_h0 = bool(learn_h0)
        D = 2 if bidirectional else 1
        G, H = _GATES[mode], self.hidden_size
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        gen = _gen(generator)
        bound = 1.0 / math.sqrt(H)
        self._flat_names: list[list[str]] = []
        for layer in range(self.num_layers):
            fin = self.input_size if layer == 0 else D * H
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"] + ([f"bias_ih{sfx}", f"bias_hh{sfx}"] if bias else [])
                shapes = [(G * H, fin), (G * H, H), (G * H,), (G * H,)]
                for nm, shp in zip(names, shapes):
                    setattr(self, nm, Parameter(gen.rng.uniform(-bound, bound, size=shp).astype(dt)))
                if bias and mode == "LSTM" and forget_bias:
                    getattr(self, f"bias_ih{sfx}").data[H:2 * H] += forget_bias  # spec: RNN-LSTM forget_bias
                self._flat_names.append(names)
        if self.learn_h0:
            self.h0 = Parameter(np.zeros((self.num_layers * D, 1, H), dtype=dt))
            if mode == "LSTM":
                self.c0 = Parameter(np.zeros((self.num_layers * D, 1, H), dtype=dt))

    # ------------------------------------------------------------------ helpers
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, n) for n in names] for names in self._flat_names]

    def flatten_parameters(self) -> None:
        """No-op (PyTorch compatibility: parameters are already used in place)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.forget_bias:
            s += f", forget_bias={self.forget_bias}"
        return s

    def _name(self) -> str:
        return type(self).__name__

    def _check_input(self, x: Tensor) -> tuple[Tensor, bool]:
        name = self._name()
        layout = "(N, T, F)" if self.batch_first else "(T, N, F)"
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected a sequence batch of shape {layout} or one unbatched sequence (T, F) "
                             f"with F = input_size = {self.input_size}; got shape {x.shape}")
        if x.dtype.kind != "f":
            raise TypeError(f"{name}: input must be floating point, got {x.dtype}; convert with "
                            f"Tensor(x, dtype=np.float32)")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {x.shape[-1]} features (shape {x.shape}) but input_size = "
                             f"{self.input_size}; expected {layout}")
        p = self._flat_names[0][0]
        if x.dtype != getattr(self, p).dtype:
            raise TypeError(f"{name}: input dtype {x.dtype} differs from the parameters' {getattr(self, p).dtype}; "
                            f"cast the input or call .to(np.{x.dtype}) on the module")
        unbatched = x.ndim == 2
        if unbatched:
            x = ops.reshape(x, (x.shape[0], 1, x.shape[1]))
        elif self.batch_first:
            x = ops.transpose(x, 0, 1)
        if x.shape[0] == 0:
            raise ValueError(f"{name}: the sequence is empty (T = 0)")
        return x, unbatched

    def _check_state(self, s, N: int, unbatched: bool, what: str) -> Tensor:
        name = self._name()
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        s = as_tensor(s)
        want = (LD, H) if unbatched else (LD, N, H)
        if s.shape != want:
            raise ValueError(f"{name}: initial {what} must have shape (num_layers·num_directions, N, H) = {want}"
                             f"{' (unbatched input)' if unbatched else ''}, got {s.shape}")
        if unbatched:
            s = ops.reshape(s, (LD, 1, H))
        return s

    def _initial(self, hx, N: int, unbatched: bool, dt):
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        lstm = self.mode == "LSTM"
        if hx is None:
            if self.learn_h0:
                h = ops.expand(self.h0, (LD, N, H))
                c = ops.expand(self.c0, (LD, N, H)) if lstm else None
            else:
                z = Tensor._wrap(np.zeros((LD, N, H), dtype=dt))
                h, c = z, (Tensor._wrap(np.zeros((LD, N, H), dtype=dt)) if lstm else None)
            return h, c
        if lstm:
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"LSTM: the initial state must be a tuple (h0, c0), got {type(hx).__name__}")
            return (self._check_state(hx[0], N, unbatched, "hidden state h0"),
                    self._check_state(hx[1], N, unbatched, "cell state c0"))
        if isinstance(hx, (tuple, list)):
            raise TypeError(f"{self._name()}: the initial state is one tensor h0, not a {type(hx).__name__}")
        return self._check_state(hx, N, unbatched, "hidden state h0"), None

    def _mask(self, T: int, N: int, lengths, mask, unbatched: bool):
        name = self._name()
        if lengths is not None and mask is not None:
            raise ValueError(f"{name}: pass either lengths or mask, not both")
        if lengths is not None:
            L = _lengths_array(lengths)
            if L.shape != (N,):
                raise ValueError(f"{name}: lengths must have one entry per sequence ({N}), got shape {L.shape}")
            if L.size and L.max() > T:
                raise ValueError(f"{name}: a length ({int(L.max())}) exceeds the sequence length T = {T}")
            return None if np.all(L == T) else lengths_to_mask(L, T)
        if mask is not None:
            m = np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool)
            if unbatched and m.ndim == 1:
                m = m[:, None]
            elif self.batch_first and m.ndim == 2:
                m = m.T
            if m.shape != (T, N):
                raise ValueError(f"{name}: mask must have shape {'(N, T)' if self.batch_first else '(T, N)'} "
                                 f"matching the input, got {np.shape(mask)}")
            return None if m.all() else m
        return None

    # ------------------------------------------------------------------ forward
    def forward(self, input, hx=None, lengths=None, mask=None):
        """Run the layer.  Returns ``(output, h_n)`` (RNN, GRU) or ``(output, (h_n, c_n))`` (LSTM).

        ``input``: (T, N, F), (N, T, F) if ``batch_first``, (T, F) unbatched, or a :class:`PackedSequence`.
        ``hx``: initial state(s) (num_layers·num_directions, N, H), zeros (or the learned h0) if None.
        ``lengths`` (N,) / ``mask`` (T, N): variable-length sequences (see the module docstring).
        ``output``: (T, N, D·H) (last layer, both directions concatenated), or a PackedSequence.
        """
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None or mask is not None:
                raise ValueError(f"{self._name()}: a PackedSequence carries its lengths; do not pass lengths/mask")
            x, L = pad_packed_sequence(input)
            if x.shape[-1] != self.input_size:
                raise ValueError(f"{self._name()}: packed data has {x.shape[-1]} features, input_size = "
                                 f"{self.input_size}")
            unbatched = False
            T, N = x.shape[0], x.shape[1]
            m = None if np.all(L == T) else lengths_to_mask(L, T)
        else:
            x = as_tensor(input)
            x, unbatched = self._check_input(x)
            T, N = x.shape[0], x.shape[1]
            m = self._mask(T, N, lengths, mask, unbatched)
        h0, c0 = self._initial(hx, N, unbatched, x.dtype)
        D, H = self.num_directions, self.hidden_size
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                w = [getattr(self, n) for n in self._flat_names[k]]
                b_ih, b_hh = (w[2], w[3]) if self.bias else (None, None)
                rev = d == 1
                if self.mode == "LSTM":
                    P = _rnn.lstm_layer(layer_in, h0[k], c0[k], w[0], w[1], b_ih, b_hh, reverse=rev, mask=m)
                    cs.append(P[T + 1])
                elif self.mode == "GRU":
                    P = _rnn.gru_layer(layer_in, h0[k], w[0], w[1], b_ih, b_hh, reverse=rev, mask=m)
                else:
                    P = _rnn.rnn_layer(layer_in, h0[k], w[0], w[1], b_ih, b_hh, nonlinearity=self.nonlinearity,
                                       reverse=rev, mask=m)
                outs.append(P[:T])
                hs.append(P[T])
            out = outs[0] if D == 1 else ops.concatenate(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                out = F.dropout(out, self.dropout, True)
            layer_in = out
        h_n = ops.stack(hs, 0)
        c_n = ops.stack(cs, 0) if self.mode == "LSTM" else None
        output = layer_in
        if packed:
            output = _repack(output, input)
        elif unbatched:
            output = ops.reshape(output, (T, D * H))
            h_n = ops.reshape(h_n, (h_n.shape[0], H))
            c_n = ops.reshape(c_n, (c_n.shape[0], H)) if c_n is not None else None
        elif self.batch_first:
            output = ops.transpose(output, 0, 1)
        return (output, (h_n, c_n)) if self.mode == "LSTM" else (output, h_n)


class RNN(RNNBase):
    """Elman recurrent layer (spec: RNN-ELMAN): h_t = φ(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh'|'relu'|'sigmoid', bias=True,
    batch_first=False, dropout=0, bidirectional=False, learn_h0=False)``.  Returns (output, h_n):
    output (T, N, D·H) = h_1..h_T of the last layer, h_n (num_layers·D, N, H) the final states.  A
    per-step read-out ŷ_t = σ_o(h_t W_hoᵀ + b_o) is a separate ``Linear`` applied to ``output``;
    sequence classification uses h_T only.  ``learn_h0=True`` makes h_0 a trained parameter (else zeros).
    Gradients: backpropagation through time (spec: RNN-BPTT) by the fused layer op.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 learn_h0: bool = False, dtype=None, generator: Generator | None = None):
        super().__init__("RNN", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         nonlinearity=nonlinearity, learn_h0=learn_h0, dtype=dtype, generator=generator)


class LSTM(RNNBase):
    """Long short-term memory layer (spec: RNN-LSTM).  Gate order i, f, g, o (PyTorch)::

        A = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh          (N, 4H), split [i | f | g | o]
        i = σ(A_i), f = σ(A_f), g = tanh(A_g), o = σ(A_o)
        c_t = f ⊙ c_{t−1} + i ⊙ g,    h_t = o ⊙ tanh(c_t)

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0,
    bidirectional=False, forget_bias=0.0, learn_h0=False)`` → (output (T, N, D·H), (h_n, c_n)).
    ``forget_bias`` is added to the f-block of ``bias_ih`` at initialisation (1.0 is the usual choice for
    long time lags: ∂c_t/∂c_{t−1} = diag(f) stays near 1, the "constant error carousel").
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 forget_bias: float = 0.0, learn_h0: bool = False, dtype=None, generator: Generator | None = None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         forget_bias=forget_bias, learn_h0=learn_h0, dtype=dtype, generator=generator)


class GRU(RNNBase):
    """Gated recurrent unit layer.  Gate order r, z, n (PyTorch)::

        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr),   z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)),   h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

    Same arguments and outputs as :class:`RNN` (no ``nonlinearity``).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 learn_h0: bool = False, dtype=None, generator: Generator | None = None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         learn_h0=learn_h0, dtype=dtype, generator=generator)


# ============================================================================ cells
class RNNCellBase(Module):
    """One time step, for custom loops.  Parameters weight_ih (G·H, F), weight_hh (G·H, H), bias_ih,
    bias_hh (G·H,), U(−1/√H, 1/√H); same gate order as the layers."""

    _G = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None,
                 generator: Generator | None = None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        G, H = self._G, self.hidden_size
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        gen = _gen(generator)
        bound = 1.0 / math.sqrt(H)
        self.weight_ih = Parameter(gen.rng.uniform(-bound, bound, (G * H, self.input_size)).astype(dt))
        self.weight_hh = Parameter(gen.rng.uniform(-bound, bound, (G * H, H)).astype(dt))
        if bias:
            self.bias_ih = Parameter(gen.rng.uniform(-bound, bound, (G * H,)).astype(dt))
            self.bias_hh = Parameter(gen.rng.uniform(-bound, bound, (G * H,)).astype(dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _prep(self, x, h):
        x = as_tensor(x)
        name = type(self).__name__
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input (N, {self.input_size}) or ({self.input_size},), got {x.shape}")
        unbatched = x.ndim == 1
        if unbatched:
            x = ops.reshape(x, (1, -1))
        N, H = x.shape[0], self.hidden_size
        if h is None:
            h = Tensor._wrap(np.zeros((N, H), dtype=x.dtype))
        else:
            h = as_tensor(h, x)
            if unbatched and h.shape == (H,):
                h = ops.reshape(h, (1, H))
            if h.shape != (N, H):
                raise ValueError(f"{name}: state must have shape (N, H) = ({N}, {H}), got {h.shape}")
        return x, h, unbatched

    @staticmethod
    def _out(t: Tensor, unbatched: bool) -> Tensor:
        return ops.reshape(t, (t.shape[-1],)) if unbatched else t


class RNNCell(RNNCellBase):
    """h' = φ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), φ = tanh | relu | sigmoid.  (spec: RNN-ELMAN)"""

    _G = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=None, generator: Generator | None = None):
        if nonlinearity not in ("tanh", "relu", "sigmoid"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh', 'relu' or 'sigmoid', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, dtype, generator)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None) -> Tensor:
        x, h, ub = self._prep(input, hx)
        return self._out(_rnn.rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                                       self.nonlinearity), ub)


class LSTMCell(RNNCellBase):
    """One LSTM step (gate order i, f, g, o); ``forward(x, (h, c))`` → (h', c').  (spec: RNN-LSTM)"""

    _G = 4

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        if hx is None:
            x, h, ub = self._prep(input, None)
            c = Tensor._wrap(np.zeros(h.shape, dtype=h.dtype))
        else:
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"LSTMCell: the state must be a tuple (h, c), got {type(hx).__name__}")
            x, h, ub = self._prep(input, hx[0])
            _, c, _ = self._prep(input, hx[1])
        h2, c2 = _rnn.lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return self._out(h2, ub), self._out(c2, ub)


class GRUCell(RNNCellBase):
    """One GRU step (gate order r, z, n)."""

    _G = 3

    def forward(self, input, hx=None) -> Tensor:
        x, h, ub = self._prep(input, hx)
        return self._out(_rnn.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh), ub)
