"""Shared pieces of the second-order optimizers: derivatives through the engine and safe solves."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.linalg

from ..autodiff import grad
from ..tensor import Tensor, _freed_vjp, enable_grad

_CLOSURE_HINT = (
    "{name} differentiates the loss itself: the closure must return the {what} as a tensor computed from the "
    "parameters *without* calling backward() (or with backward(retain_graph=True))")


def _check_graph(out, name: str, what: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: the closure must return the {what} as a chainrule Tensor, got "
                        f"{type(out).__name__}")
    if not out.requires_grad:
        raise RuntimeError(f"{name}: the {what} returned by the closure does not depend on the parameters "
                           "(no graph: was it computed under no_grad(), or from detached values?)")
    if out._vjp is _freed_vjp:
        raise RuntimeError(_CLOSURE_HINT.format(name=name, what=what))
    return out


def call(closure: Callable) -> Tensor:
    with enable_grad():
        return closure()


def flat_grad(loss: Tensor, params: Sequence[Tensor], create_graph: bool = False, retain_graph: bool | None = None):
    gs = grad(loss, list(params), create_graph=create_graph, retain_graph=retain_graph, materialize=True)
    gs = (gs,) if isinstance(gs, Tensor) else gs
    return gs


def loss_grad_hessian(loss: Tensor, params: Sequence[Tensor], name: str = "Newton"
                      ) -> tuple[float, np.ndarray, np.ndarray]:
    """(R, ∇R, ∇²R) of a scalar loss over the concatenated parameters, by double backward (exact).
    One reverse pass through the gradient graph per Hessian row (W rows).  (spec: AD-HESSIAN)"""
    _check_graph(loss, name, "loss")
    if loss.size != 1:
        raise ValueError(f"{name}: the closure must return a scalar loss, got shape {loss.shape}")
    params = list(params)
    with enable_grad():
        gs = flat_grad(loss, params, create_graph=True)
        from ..ops import concatenate, reshape
        gflat = concatenate([reshape(g, (-1,)) for g in gs]) if len(gs) > 1 else reshape(gs[0], (-1,))
    n = gflat.size
    dtype = np.result_type(*[p.dtype for p in params])
    H = np.zeros((n, n), dtype=dtype)
    if gflat.requires_grad:
        e = np.zeros(n, dtype=gflat.dtype)
        for i in range(n):
            e[i] = 1
            row = grad(gflat, params, grad_outputs=Tensor._wrap(e), retain_graph=True, materialize=True)
            row = (row,) if isinstance(row, Tensor) else row
            H[i] = np.concatenate([r.data.ravel() for r in row])
            e[i] = 0
    H = 0.5 * (H + H.T)  # exact up to rounding; symmetrize for the Cholesky solve
    return float(loss.data), np.array(gflat.data, dtype=dtype), H


def jacobian_of(out: Tensor, params: Sequence[Tensor], name: str = "Gauss-Newton", mode: str = "auto"
                ) -> np.ndarray:
    """J = ∂out/∂w (M × W, rows = outputs, numerator layout) through the engine.

    ``mode='rows'``: one reverse pass per output (M passes, as ``chainrule.jacobian``);
    ``'columns'``: one reverse pass per parameter entry through the double-backward graph of Jᵀu
    (W passes: column j is ∂(Jᵀu)ⱼ/∂u); ``'auto'`` picks columns when M > 3W.
    """
    _check_graph(out, name, "residuals")
    params = list(params)
    M = out.size
    W = sum(p.size for p in params)
    dtype = out.dtype
    J = np.zeros((M, W), dtype=dtype)
    if mode == "auto":
        mode = "columns" if M > 3 * W else "rows"
    if mode == "rows":
        e = np.zeros(out.shape, dtype=dtype)
        for i in range(M):
            e.flat[i] = 1
            row = grad(out, params, grad_outputs=Tensor._wrap(e), retain_graph=True, materialize=True)
            row = (row,) if isinstance(row, Tensor) else row
            J[i] = np.concatenate([r.data.ravel() for r in row])
            e.flat[i] = 0
        return J
    if mode != "columns":
        raise ValueError(f"unknown Jacobian mode {mode!r}: use 'auto', 'rows' or 'columns'")
    from ..ops import concatenate, reshape
    with enable_grad():
        u = Tensor(np.zeros(out.shape, dtype=dtype), requires_grad=True)
        s = (out * u).sum()
        gs = flat_grad(s, params, create_graph=True, retain_graph=True)
        gflat = concatenate([reshape(g, (-1,)) for g in gs]) if len(gs) > 1 else reshape(gs[0], (-1,))
    if not gflat.requires_grad:
        return J
    e = np.zeros(W, dtype=dtype)
    for j in range(W):
        e[j] = 1
        col = grad(gflat, [u], grad_outputs=Tensor._wrap(e), retain_graph=True, materialize=True)
        col = col[0] if isinstance(col, tuple) else col
        J[:, j] = col.data.ravel()
        e[j] = 0
    return J


def loss_hessian_wrt_outputs(y: np.ndarray, loss_fn: Callable) -> tuple[float, np.ndarray, np.ndarray]:
    """(L, ∇_yL, ∇²_yL) of loss_fn at the outputs y (gradient and Hessian over y flattened), for the
    generalized Gauss-Newton."""
    yt = Tensor(np.array(y, copy=True), requires_grad=True)
    with enable_grad():
        L = loss_fn(yt)
    if not isinstance(L, Tensor) or L.size != 1:
        raise ValueError("loss_fn(outputs) must return a scalar chainrule Tensor")
    _, g, H = loss_grad_hessian(L, [yt], name="GaussNewton loss_fn")
    return float(L.data), g, H


def ggn_products(y: np.ndarray, loss_fn: Callable, J: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(L, Jᵀ∇_yL, Jᵀ∇²_yL J) without forming the M × M loss Hessian: one Hessian-vector product
    ∇²_yL·J[:, j] (double backward through the loss only) per column of J (W passes instead of M)."""
    yt = Tensor(np.array(y, copy=True), requires_grad=True)
    with enable_grad():
        L = loss_fn(yt)
        if not isinstance(L, Tensor) or L.size != 1:
            raise ValueError("loss_fn(outputs) must return a scalar chainrule Tensor")
        gL = grad(L, [yt], create_graph=True, materialize=True)
        gL = gL[0] if isinstance(gL, tuple) else gL
    g = gL.data.ravel()
    HJ = np.zeros_like(J)
    if gL.requires_grad:
        for j in range(J.shape[1]):
            hv = grad(gL, [yt], grad_outputs=Tensor._wrap(J[:, j].reshape(y.shape).astype(gL.dtype)),
                      retain_graph=True, materialize=True)
            hv = hv[0] if isinstance(hv, tuple) else hv
            HJ[:, j] = hv.data.ravel()
    return float(L.data), J.T @ g, J.T @ HJ


def _finite(*arrays) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


def cholesky_solve(A: np.ndarray, b: np.ndarray, rcond: float = 1e-13, refine: int = 1) -> np.ndarray | None:
    """x with A x = b via Cholesky (plus ``refine`` steps of iterative refinement), or None when A is not
    (numerically) positive definite."""
    try:
        c, low = scipy.linalg.cho_factor(A, lower=True, check_finite=False)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        return None
    d = np.abs(np.diag(c))
    if d.size and (not np.all(np.isfinite(d)) or d.min() ** 2 <= rcond * d.max() ** 2):
        return None
    x = scipy.linalg.cho_solve((c, low), b, check_finite=False)
    if not np.all(np.isfinite(x)):
        return None
    for _ in range(refine):  # iterative refinement with the same factor: recovers the digits lost in LLᵀ
        x = x + scipy.linalg.cho_solve((c, low), b - A @ x, check_finite=False)
    return x


def solve_abs_eig(A: np.ndarray, b: np.ndarray, rel_floor: float = 1e-8) -> tuple[np.ndarray, float]:
    """Solve |A| x = b where |A| = Q max(|Λ|, δ) Qᵀ (eigenvalues reflected and floored at
    δ = rel_floor·max|Λ|): negative curvature becomes positive with the same magnitude, so steps along it
    have the size a convex model of that curvature would give.  Returns (x, number of modified eigenvalues)."""
    if not _finite(A, b):
        raise FloatingPointError("the Hessian or gradient has non-finite entries (overflow/NaN in the loss); "
                                 "lower the learning rate or add damping")
    lam, V = np.linalg.eigh(A)
    floor = rel_floor * max(float(np.abs(lam).max()) if lam.size else 1.0, 1e-300)
    mod = np.maximum(np.abs(lam), floor)
    if not np.any(lam > 0):
        mod = np.maximum(mod, 1.0)  # no curvature information at all: a unit gradient step
    x = V @ ((V.T @ b) / mod)
    return x, float(np.sum(mod != lam))


def solve_modified_cholesky(A: np.ndarray, b: np.ndarray, beta: float = 1e-3, max_tries: int = 80
                            ) -> tuple[np.ndarray, float]:
    """Solve (A + τI)x = b with the smallest τ ≥ 0 on the doubling ladder that makes A + τI positive
    definite (Cholesky with added multiple of the identity, Nocedal–Wright Alg. 3.3).  Returns (x, τ).
    Falls back to least squares instead of failing on a singular matrix."""
    if not _finite(A, b):
        raise FloatingPointError("the Hessian or gradient has non-finite entries (overflow/NaN in the loss); "
                                 "lower the learning rate or add damping")
    n = b.size
    diag = np.diag(A)
    b0 = beta * max(float(np.abs(diag).max()) if n else 1.0, 1.0)
    tau = 0.0 if n and diag.min() > 0 else float(-diag.min()) + b0 if n else 0.0
    eye = np.eye(n, dtype=A.dtype)
    for _ in range(max_tries):
        x = cholesky_solve(A + tau * eye, b)
        if x is not None:
            return x, tau
        tau = max(2 * tau, b0)
    x = np.linalg.lstsq(A + tau * eye, b, rcond=None)[0]
    return x, tau
