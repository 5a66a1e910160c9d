"""Matrix products: (batched) matmul and the fused affine map of a dense layer."""

from __future__ import annotations

from ._base import Tensor, _make, operands, unbroadcast
from .shape import _mT, reshape


def matmul(a, b) -> Tensor:
    """a @ b with NumPy semantics (batched, broadcasting batch axes; 1-D operands promoted).

    Rule: dA = G Bᵀ, dB = Aᵀ G, summed over broadcast batch axes.
    """
    a, b = operands(a, b)
    if a.ndim == 1 or b.ndim == 1:
        a2 = reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
        b2 = reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
        out = matmul(a2, b2)
        shape = out.shape[:-2] + (() if a.ndim == 1 else out.shape[-2:-1]) + (() if b.ndim == 1 else out.shape[-1:])
        return reshape(out, shape)
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align "
                         f"({a.shape[-1]} != {b.shape[-2]}); the inner dimensions must match")
    need_a, need_b = a.requires_grad, b.requires_grad

    def vjp(g, out, x, y):
        gx = unbroadcast(g @ _mT(y), x.shape) if need_a else None
        gy = unbroadcast(_mT(x) @ g, y.shape) if need_b else None
        return gx, gy

    return _make(a.data @ b.data, (a, b), vjp)


def linear(x, weight, bias=None) -> Tensor:
    """Y = X Wᵀ + b, W of shape (out, in), X of shape (..., in).  (spec: MLP-FORWARD, CLS-LINEAR-MODEL)

    Fused so the forward is one GEMM (+ bias) and the rule is dX = G W, dW = Gᵀ X, db = Σ_rows G.
    """
    x, weight = operands(x, weight)
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the weight "
                         f"expects {weight.shape[-1]} (weight shape {weight.shape} = (out, in))")
    need_x, need_w = x.requires_grad, weight.requires_grad
    y = x.data @ weight.data.T
    if bias is None:
        def vjp(g, out, X, W):
            gX = g @ W if need_x else None
            if need_w:
                g2 = g.reshape((-1, g.shape[-1])) if g.ndim != 2 else g
                X2 = X.reshape((-1, X.shape[-1])) if X.ndim != 2 else X
                gW = g2.T @ X2
            else:
                gW = None
            return gX, gW

        return _make(y, (x, weight), vjp)
    x, bias = operands(x, bias)
    if bias.shape != weight.shape[:1]:
        raise ValueError(f"linear: bias has shape {bias.shape} but the weight {weight.shape} = (out, in) "
                         f"needs a bias of shape ({weight.shape[0]},)")
    y += bias.data
    need_b = bias.requires_grad

    def vjp_b(g, out, X, W, b):
        gX = g @ W if need_x else None
        g2 = g.reshape((-1, g.shape[-1])) if g.ndim != 2 else g
        if need_w:
            X2 = X.reshape((-1, X.shape[-1])) if X.ndim != 2 else X
            gW = g2.T @ X2
        else:
            gW = None
        gb = g2.sum(axis=0) if need_b else None
        return gX, gW, gb

    return _make(y, (x, weight, bias), vjp_b)


def outer(a, b) -> Tensor:
    a, b = operands(a, b)
    return matmul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def dot(a, b) -> Tensor:
    return matmul(a, b)

