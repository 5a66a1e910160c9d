"""Training recurrent models by backpropagation through time: full BPTT and truncated BPTT(k1, k2).

(spec: RNN-BPTT)  A recurrent model is any callable ``model(x, state) -> (y, new_state)`` on time-major
chunks x (T, N, F) → y (T, N, …); ``state`` is None (initial state), a tensor, or a tuple of tensors
(``nn.RNN``/``nn.GRU`` return h_n, ``nn.LSTM`` returns (h_n, c_n), so they qualify; add a per-step
read-out with :class:`StepwiseHead`).

* **Full BPTT** (:func:`bptt_step`): forward over the whole sequence, loss on every output, one
  backward pass through all T steps (the engine's reverse mode *is* BPTT), optional clipping, one step.
* **Truncated BPTT(k1, k2)** (:func:`truncated_bptt`), 1 ≤ k1 ≤ k2: the stream is consumed k1 steps at a
  time.  At each update time e (every k1 steps; the last chunk may be shorter) the loss is the sum over
  the last k1 outputs (t ∈ [e − k1, e)) of ``loss_fn`` and its gradient is propagated back through at
  most k2 steps: the forward pass is re-run over [e − k2, e) from the *detached* state at e − k2 (a
  constant: ``h.detach()`` cuts the graph), so nothing earlier receives gradient.  k1 = k2 = k is the
  common "split into chunks of k and detach the state between chunks"; k1 = k2 = T is full BPTT.
  With k2 > k1 the windows overlap and each forward step is computed ≈ k2/k1 times.

Gradient clipping (``clip_norm`` → :func:`chainrule.nn.utils.clip_grad_norm_`, ``clip_value`` →
``clip_grad_value_``) is applied after each backward pass, before the optimizer step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .. import ops
from ..nn.module import Module
from ..nn.utils import clip_grad_norm_, clip_grad_value_
from ..ops._base import as_tensor
from ..tensor import Tensor

__all__ = ["detach_state", "bptt_step", "truncated_bptt", "TBPTTResult", "StepwiseHead"]


def detach_state(state):
    """The state with every tensor detached from the graph (None, a tensor, or nested tuples/lists)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"a recurrent state must be None, a Tensor or a tuple of Tensors, got {type(state).__name__}")


class StepwiseHead(Module):
    """``rnn`` followed by ``head`` applied to the output at every time step:
    ``forward(x, state) -> (head(rnn_output), new_state)``; e.g. ŷ_t = h_t W_hoᵀ + b_o (spec: RNN-ELMAN)."""

    def __init__(self, rnn: Module, head: Module):
        super().__init__()
        self.rnn = rnn
        self.head = head

    def forward(self, x, state=None):
        out, new_state = self.rnn(x, state)
        return self.head(out), new_state


def _clip(params, clip_norm, clip_value):
    total = None
    if clip_value is not None:
        clip_grad_value_(params, clip_value)
    if clip_norm is not None:
        total = float(clip_grad_norm_(params, clip_norm).data)
    return total


def _params(model, optimizer):
    if isinstance(model, Module):
        return list(model.parameters())
    return [p for g in optimizer.param_groups for p in g["params"]]


def bptt_step(model: Callable, x, y, loss_fn: Callable, optimizer, state=None, clip_norm: float | None = None,
              clip_value: float | None = None) -> tuple[float, object]:
    """One full-BPTT update on the sequence batch x (T, N, F), targets y (T, N, …).

    loss = ``loss_fn(model(x, state)[0], y)``; backward through all T steps; clip; ``optimizer.step()``.
    Returns (loss value, detached final state).  (spec: RNN-BPTT)
    """
    optimizer.zero_grad()
    out, new_state = model(as_tensor(x), state)
    loss = loss_fn(out, as_tensor(y) if not isinstance(y, Tensor) else y)
    loss.backward()
    _clip(_params(model, optimizer), clip_norm, clip_value)
    optimizer.step()
    return float(loss.data), detach_state(new_state)


class TBPTTResult(NamedTuple):
    losses: list           # loss of every update (mean over its k1 outputs, as loss_fn reduces)
    state: object          # detached state after the whole sequence (pass it to the next call)
    grad_norms: list       # global gradient norm before clipping per update (None without clip_norm)


def _slice_t(t: Tensor, a: int, b: int) -> Tensor:
    return t[a:b]


def truncated_bptt(model: Callable, inputs, targets, loss_fn: Callable, optimizer, k1: int, k2: int | None = None,
                   state=None, clip_norm: float | None = None, clip_value: float | None = None,
                   callback: Callable | None = None) -> TBPTTResult:
    """Train on one long (batch of) sequence(s) with truncated BPTT(k1, k2).  (spec: RNN-BPTT)

    ``inputs`` (T, N, F), ``targets`` (T, N, …) time-major; ``model(x, state) -> (y, state)``;
    ``loss_fn(y_chunk, target_chunk)`` on the last k1 outputs of each window.  ``state``: initial
    state (detached; None = the model's default).  ``callback(update_index, loss)`` after each update.
    See the module docstring for the exact semantics.
    """
    k2 = k1 if k2 is None else k2
    if int(k1) != k1 or k1 < 1:
        raise ValueError(f"k1 (steps between updates) must be a positive integer, got {k1!r}")
    if int(k2) != k2 or k2 < k1:
        raise ValueError(f"k2 (steps to backpropagate) must be an integer >= k1 = {k1}, got {k2!r}; "
                         "truncating the gradient of the window's own outputs is not supported")
    x = as_tensor(inputs)
    y = targets if isinstance(targets, Tensor) else Tensor._wrap(np.asarray(targets))
    T = x.shape[0]
    if y.shape[0] != T:
        raise ValueError(f"inputs and targets must have the same number of time steps, got {T} and {y.shape[0]}")
    params = _params(model, optimizer)
    start_state = {0: detach_state(state)}
    losses, norms = [], []
    e_prev = 0
    while e_prev < T:
        e = min(e_prev + k1, T)                     # this update covers outputs [e_prev, e)
        s = max(0, e - k2)                          # ... and backpropagates through [s, e)
        s_next = max(0, min(e + k1, T) - k2) if e < T else e
        optimizer.zero_grad()
        st = start_state[s]
        if s < s_next < e:                          # the next window starts inside this one
            o1, st = model(_slice_t(x, s, s_next), st)
            start_state[s_next] = detach_state(st)
            o2, st = model(_slice_t(x, s_next, e), st)
            out = ops.concatenate([o1, o2], 0)
        else:
            out, st = model(_slice_t(x, s, e), st)
        start_state[e] = detach_state(st)
        n_loss = e - e_prev
        loss = loss_fn(out[out.shape[0] - n_loss:], y[e_prev:e])
        loss.backward()
        norms.append(_clip(params, clip_norm, clip_value))
        optimizer.step()
        losses.append(float(loss.data))
        if callback is not None:
            callback(len(losses) - 1, losses[-1])
        for key in [k for k in start_state if k < s_next]:
            del start_state[key]
        e_prev = e
    return TBPTTResult(losses, start_state[T], norms)
