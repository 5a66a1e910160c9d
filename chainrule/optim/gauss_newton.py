"""Gauss-Newton for least squares (and the generalized Gauss-Newton for other losses)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _second_order as so
from .optimizer import Optimizer, check_lr, check_range


class GaussNewton(Optimizer):
    r"""Gauss-Newton.  (spec: OPT-GAUSS-NEWTON)

    Least squares R = ½‖r(w)‖² with the residual Jacobian J_r = ∂r/∂w (M × W, computed by reverse
    passes through the engine): solve

        (J_rᵀJ_r + λI) δ = −J_rᵀ r,      w ← w + η δ

    (λ = ``damping``, default 0; η = ``lr``).  J_rᵀJ_r is positive semi-definite; the system is solved by
    Cholesky and, when it is singular (rank-deficient J_r), by least squares on J_r δ ≈ −r (the
    minimum-norm step) instead of failing.  On a linear least-squares problem one step is the lstsq
    solution.

    Generalized Gauss-Newton (any loss): let the closure return ``(outputs, loss_fn)``; with J = ∂outputs/∂w
    and H_L = ∇²loss_fn(outputs) (positive semi-definite for MSE/cross-entropy),
    H ≈ JᵀH_L J and g = Jᵀ∇loss_fn, i.e. Σₙ J_nᵀ∇²_gL J_n.

    API: ``GaussNewton(params, residual_fn)``; ``step()`` evaluates ``residual_fn()`` (or ``step(closure)``
    with a closure returning the residuals / ``(outputs, loss_fn)``) — computed from the parameters,
    *without* calling backward().  Returns R before the step (a float).  w (and W) are the parameters
    that require grad; frozen ones are constants.
    """

    def __init__(self, params, residual_fn: Callable | None = None, lr: float = 1.0, damping: float = 0.0,
                 jacobian_mode: str = "auto"):
        check_lr(lr)
        check_range("damping", damping, 0.0)
        if jacobian_mode not in ("auto", "rows", "columns"):
            raise ValueError(f"jacobian_mode must be 'auto', 'rows' or 'columns', got {jacobian_mode!r}")
        super().__init__(params, dict(lr=lr, damping=damping, jacobian_mode=jacobian_mode))
        if len(self.param_groups) != 1:
            raise ValueError("GaussNewton works on all parameters together and supports one parameter group only")
        self.residual_fn = residual_fn

    def step(self, closure: Callable | None = None):
        fn = closure if closure is not None else self.residual_fn
        if fn is None:
            raise RuntimeError("GaussNewton needs the residuals: pass residual_fn to the constructor or "
                               "step(closure) with a closure returning the residual tensor r(w)")
        group = self.param_groups[0]
        params = self._flat_params()
        out = so.call(fn)
        if isinstance(out, tuple):
            y, loss_fn = out
            J = so.jacobian_of(y, params, "GaussNewton", group["jacobian_mode"])
            R, Jg, A = so.ggn_products(y.data, loss_fn, J)
            A, b = 0.5 * (A + A.T), -Jg
            r = None
        else:
            J = so.jacobian_of(out, params, "GaussNewton", group["jacobian_mode"])
            r = out.data.ravel()
            R = 0.5 * float(r @ r)
            A, b = J.T @ J, -(J.T @ r)
        lam = group["damping"]
        if lam:
            A = A + lam * np.eye(A.shape[0], dtype=A.dtype)
        delta = so.cholesky_solve(A, b)
        fallback = delta is None
        if fallback:
            if r is not None and not lam:
                delta = np.linalg.lstsq(J, -r, rcond=None)[0]
            else:
                delta = np.linalg.lstsq(A, b, rcond=None)[0]
        st = self._global_state()
        st["n_iter"] = st.get("n_iter", 0) + 1
        st["lstsq_fallback"] = bool(fallback)
        self._add_flat(group["lr"], delta.astype(params[0].dtype))
        return R
