"""Hebb's rule: units that are active together strengthen their connection.  (spec: CLS-HEBB)"""

from __future__ import annotations

import numpy as np

from ..ops._base import _plain


def hebbian_update(W, pre, post, lr: float = 1.0) -> np.ndarray:
    """One Hebbian step  ΔW = η a_post a_preᵀ,  i.e. Δw_ij = η a_i a_j (W is (out, in), i = post-synaptic,
    j = pre-synaptic unit).

    ``pre`` (in,) and ``post`` (out,) for one pattern, or batches (N, in) and (N, out): then the
    outer products are summed, ΔW = η Postᵀ Pre.  Returns the new weights (W is not modified).
    """
    W = np.asarray(_plain(W), dtype=np.float64)
    pre = np.asarray(_plain(pre), dtype=np.float64)
    post = np.asarray(_plain(post), dtype=np.float64)
    if pre.ndim != post.ndim or pre.ndim not in (1, 2):
        raise ValueError(f"pre and post must both be vectors or both (N, ·) batches, got shapes {pre.shape}, "
                         f"{post.shape}")
    P, Q = (pre[None], post[None]) if pre.ndim == 1 else (pre, post)
    if P.shape[0] != Q.shape[0]:
        raise ValueError(f"pre and post batches have different lengths: {P.shape[0]} vs {Q.shape[0]}")
    if W.shape != (Q.shape[1], P.shape[1]):
        raise ValueError(f"W must have shape (out, in) = ({Q.shape[1]}, {P.shape[1]}), got {W.shape}")
    return W + lr * Q.T @ P


def hebbian_associative_memory(patterns, targets=None, lr: float = 1.0) -> np.ndarray:
    """Store pattern pairs with Hebb's rule from W = 0: W = η Σₙ tₙ pₙᵀ (auto-association when
    ``targets`` is None).  Recall with sign(W p); exact for orthogonal ±1 patterns."""
    P = np.asarray(patterns, dtype=np.float64)
    T = P if targets is None else np.asarray(targets, dtype=np.float64)
    return hebbian_update(np.zeros((T.shape[1], P.shape[1])), P, T, lr)
