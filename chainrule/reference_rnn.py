"""Backpropagation through time written out in NumPy: the test oracle for the recurrent layers.

Nothing here uses the autodiff engine.  The equations are the spec's, in batch form (rows = sequences):

Elman network (spec: RNN-ELMAN, RNN-BPTT), X (T, N, m), targets Y (T, N, d)::

    z^h_t = X_t W_ihᵀ + h_{t−1} W_hhᵀ + b_h,   h_t = σ_h(z^h_t)
    z^o_t = h_t W_hoᵀ + b_o,                     ŷ_t = σ_o(z^o_t)
    c = −(1/T) Σ_t Σ_i [Y log ŷ + (1 − Y) log(1 − ŷ)]   (σ_o = sigmoid; softmax: −(1/T) Σ_t Σ_i Y log ŷ)
    C = mean of c over the N sequences

    Δ^o_t = (ŷ_t − Y_t) / T  (/ N for C)
    Δ^h_{T+1} = 0;  Δ^h_t = σ_h'(z^h_t) ⊙ (Δ^o_t W_ho + Δ^h_{t+1} W_hh),   t = T … 1
    G_{W_ho} = Σ_t Δ^{oᵀ}_t h_t,  G_{b_o} = Σ_t colsum Δ^o_t,  G_{W_ih} = Σ_t Δ^{hᵀ}_t X_t,
    G_{W_hh} = Σ_t Δ^{hᵀ}_t h_{t−1},  G_{b_h} = Σ_t colsum Δ^h_t,  G_{h_0} = Δ^h_1 W_hh

LSTM (spec: RNN-LSTM, "backward per step"), gate order i, f, g, o::

    do = dh ⊙ tanh c_t; dc = dh ⊙ o ⊙ (1 − tanh² c_t) + dc_next; di = dc ⊙ g; dg = dc ⊙ i;
    df = dc ⊙ c_{t−1}; dc_prev = dc ⊙ f; dA = [di⊙i(1−i), df⊙f(1−f), dg⊙(1−g²), do⊙o(1−o)];
    G_{W_ih} += dAᵀ x_t; G_{W_hh} += dAᵀ h_{t−1}; G_b += colsum dA; dx_t = dA W_ih; dh_prev = dA W_hh
"""

from __future__ import annotations

import numpy as np
from scipy import special as _sp

__all__ = ["elman_forward", "elman_bptt", "lstm_forward", "lstm_bptt"]


def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return _sp.expit(z)
    if name == "relu":
        return np.maximum(z, 0)
    raise ValueError(f"unknown activation {name!r}: use 'tanh', 'sigmoid' or 'relu'")


def _dact(name: str, h: np.ndarray) -> np.ndarray:
    """σ_h'(z) from the output h = σ_h(z)."""
    if name == "tanh":
        return 1 - h * h
    if name == "sigmoid":
        return h * (1 - h)
    return (h > 0).astype(h.dtype)


def elman_forward(X, h0, W_ih, W_hh, b_h, W_ho, b_o, hidden: str = "tanh", output: str = "sigmoid") -> dict:
    """Forward pass storing z^h_t, h_t (h[0] = h0), z^o_t, ŷ_t."""
    T, N, _ = X.shape
    H = W_hh.shape[0]
    h = np.empty((T + 1, N, H))
    h[0] = h0
    zo = np.empty((T, N, W_ho.shape[0]))
    for t in range(T):
        h[t + 1] = _act(hidden, X[t] @ W_ih.T + h[t] @ W_hh.T + b_h)
        zo[t] = h[t + 1] @ W_ho.T + b_o
    if output == "sigmoid":
        yhat = _sp.expit(zo)
    elif output == "softmax":
        yhat = _sp.softmax(zo, axis=-1)
    else:
        raise ValueError(f"output must be 'sigmoid' or 'softmax', got {output!r}")
    return {"h": h, "zo": zo, "yhat": yhat}


def elman_bptt(X, Y, h0, W_ih, W_hh, b_h, W_ho, b_o, hidden: str = "tanh", output: str = "sigmoid"):
    """Cost C (mean over sequences of the spec's per-sequence c) and its gradients by BPTT.

    Returns (C, grads) with grads keys W_ih, W_hh, b_h, W_ho, b_o, h0, X and ``delta_o`` (the Δ^o_t
    for the per-sequence cost c, i.e. (ŷ_t − Y_t)/T) for checks.  (spec: RNN-BPTT)
    """
    T, N, _ = X.shape
    fw = elman_forward(X, h0, W_ih, W_hh, b_h, W_ho, b_o, hidden, output)
    h, yhat = fw["h"], fw["yhat"]
    if output == "sigmoid":
        eps = 1e-300
        c = -(Y * np.log(yhat + eps) + (1 - Y) * np.log(1 - yhat + eps)).sum(axis=(0, 2)) / T
    else:
        c = -(Y * np.log(yhat)).sum(axis=(0, 2)) / T
    C = float(c.mean())
    delta_o = (yhat - Y) / T                     # per-sequence Δ^o_t
    Do = delta_o / N                             # for the mean over sequences
    g = {k: np.zeros_like(v) for k, v in (("W_ih", W_ih), ("W_hh", W_hh), ("b_h", b_h), ("W_ho", W_ho),
                                          ("b_o", b_o))}
    gX = np.zeros_like(X)
    dh_next = np.zeros((N, W_hh.shape[0]))       # Δ^h_{T+1} = 0
    for t in range(T - 1, -1, -1):
        g["W_ho"] += Do[t].T @ h[t + 1]
        g["b_o"] += Do[t].sum(axis=0)
        Dh = _dact(hidden, h[t + 1]) * (Do[t] @ W_ho + dh_next @ W_hh)
        g["W_ih"] += Dh.T @ X[t]
        g["W_hh"] += Dh.T @ h[t]
        g["b_h"] += Dh.sum(axis=0)
        gX[t] = Dh @ W_ih
        dh_next = Dh
    g["h0"] = dh_next @ W_hh
    g["X"] = gX
    g["delta_o"] = delta_o
    return C, g


def lstm_forward(X, h0, c0, W_ih, W_hh, b):
    """LSTM forward (gate order i, f, g, o; b = b_ih + b_hh).  Returns a dict of per-step values."""
    T, N, _ = X.shape
    H = W_hh.shape[1]
    h = np.empty((T + 1, N, H))
    c = np.empty((T + 1, N, H))
    h[0], c[0] = h0, c0
    gates = np.empty((T, N, 4 * H))
    for t in range(T):
        A = X[t] @ W_ih.T + h[t] @ W_hh.T + b
        i, f, g, o = (_sp.expit(A[:, :H]), _sp.expit(A[:, H:2 * H]), np.tanh(A[:, 2 * H:3 * H]),
                      _sp.expit(A[:, 3 * H:]))
        gates[t] = np.concatenate([i, f, g, o], axis=1)
        c[t + 1] = f * c[t] + i * g
        h[t + 1] = o * np.tanh(c[t + 1])
    return {"h": h, "c": c, "gates": gates}


def lstm_bptt(X, h0, c0, W_ih, W_hh, b, dH, dh_n=None, dc_n=None) -> dict:
    """Gradients of L with ∂L/∂h_t = dH[t] (T, N, H) (plus dh_n, dc_n on the final states) by the spec's
    per-step LSTM backward.  Returns W_ih, W_hh, b, X, h0, c0 gradients.  (spec: RNN-LSTM)"""
    T, N, _ = X.shape
    H = W_hh.shape[1]
    fw = lstm_forward(X, h0, c0, W_ih, W_hh, b)
    h, c, G = fw["h"], fw["c"], fw["gates"]
    gW_ih, gW_hh, gb = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros_like(b)
    gX = np.zeros_like(X)
    dh_next = np.zeros((N, H)) if dh_n is None else np.array(dh_n, dtype=float)
    dc_next = np.zeros((N, H)) if dc_n is None else np.array(dc_n, dtype=float)
    for t in range(T - 1, -1, -1):
        i, f, g, o = G[t, :, :H], G[t, :, H:2 * H], G[t, :, 2 * H:3 * H], G[t, :, 3 * H:]
        tc = np.tanh(c[t + 1])
        dh = dH[t] + dh_next
        do = dh * tc
        dc = dh * o * (1 - tc * tc) + dc_next
        di, dg, df = dc * g, dc * i, dc * c[t]
        dA = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], axis=1)
        gW_ih += dA.T @ X[t]
        gW_hh += dA.T @ h[t]
        gb += dA.sum(axis=0)
        gX[t] = dA @ W_ih
        dh_next = dA @ W_hh
        dc_next = dc * f
    return {"W_ih": gW_ih, "W_hh": gW_hh, "b": gb, "X": gX, "h0": dh_next, "c0": dc_next}
