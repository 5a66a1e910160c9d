"""Levenberg-Marquardt for nonlinear least squares."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _second_order as so
from .optimizer import Optimizer, check_range


class LevenbergMarquardt(Optimizer):
    r"""Levenberg-Marquardt.  (spec: OPT-LM)

    Minimizes R(w) = ½‖r(w)‖² for a residual function r: ℝᵂ → ℝᴹ.  With J_r = ∂r/∂w (M × W, through the
    engine: one reverse pass per residual or per parameter entry, whichever is fewer):

        (J_rᵀJ_r + λD) δ = −J_rᵀr,      D = I (``scaling='identity'``, Levenberg)
                                         or diag(J_rᵀJ_r) (``'diag'``, Marquardt)

    Algorithm (one iteration): 1. λ = λ₀ at the start. 2. Solve for δ (Cholesky; a failed factorization
    counts as a rejection). 3. If R(w + δ) < R(w): accept, λ ← λ/``down``; else reject, λ ← λ·``up`` and go
    back to 2 — the run stops (no exception) once λ > ``lambda_max`` (1e16). 4. Stop when ‖J_rᵀr‖₂ <
    ``tol`` or after ``max_iter`` iterations.  R never increases.

    API: ``opt = LevenbergMarquardt(params, residual_fn)`` where ``residual_fn()`` returns the residual
    tensor r(w) computed from the parameters (any shape; *no* backward() call); ``opt.step()`` runs up to
    ``max_iter`` iterations (like LBFGS's ``max_iter`` per step; use ``max_iter=1`` for one iteration per
    call) and returns R before it.  ``step(closure)`` uses a closure returning the residuals instead.
    State (``opt.lm_state``): ``lambda``, ``n_iter`` (accepted iterations), ``n_evals`` (residual
    evaluations), ``converged``, ``failed``, ``history`` (R after every accepted iteration).
    For a model: ``residual_fn = lambda: (model(X) - Y).reshape(-1)``.  w (and W) are the parameters that
    require grad; frozen ones are constants.
    """

    def __init__(self, params, residual_fn: Callable | None = None, lambda0: float = 1e-3, up: float = 10.0,
                 down: float = 10.0, scaling: str = "identity", max_iter: int = 200, tol: float = 1e-12,
                 lambda_max: float = 1e16, jacobian_mode: str = "auto"):
        check_range("lambda0", lambda0, 0.0, low_open=True, hint="the initial damping λ₀, e.g. 1e-3")
        check_range("up", up, 1.0, low_open=True, hint="λ is multiplied by up > 1 after a rejected step")
        check_range("down", down, 1.0, low_open=True, hint="λ is divided by down > 1 after an accepted step")
        check_range("tol", tol, 0.0)
        check_range("lambda_max", lambda_max, 0.0, low_open=True)
        if scaling not in ("identity", "diag"):
            raise ValueError(f"scaling must be 'identity' (D = I, Levenberg) or 'diag' (D = diag(JᵀJ), Marquardt), "
                             f"got {scaling!r}")
        if not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
        if jacobian_mode not in ("auto", "rows", "columns"):
            raise ValueError(f"jacobian_mode must be 'auto', 'rows' or 'columns', got {jacobian_mode!r}")
        super().__init__(params, dict(lambda0=lambda0, up=up, down=down, scaling=scaling, max_iter=max_iter,
                                      tol=tol, lambda_max=lambda_max, jacobian_mode=jacobian_mode))
        if len(self.param_groups) != 1:
            raise ValueError("LevenbergMarquardt works on all parameters together and supports one parameter "
                             "group only")
        self.residual_fn = residual_fn

    @property
    def lm_state(self) -> dict:
        return self._global_state()

    def step(self, closure: Callable | None = None) -> float:
        fn = closure if closure is not None else self.residual_fn
        if fn is None:
            raise RuntimeError("LevenbergMarquardt needs the residuals: pass residual_fn to the constructor or "
                               "step(closure) with a closure returning the residual tensor r(w)")
        grp = self.param_groups[0]
        params = self._flat_params()
        st = self.lm_state
        st.setdefault("lambda", float(grp["lambda0"]))
        for k in ("n_iter", "n_evals", "n_rejected"):
            st.setdefault(k, 0)
        st.setdefault("history", [])
        st["converged"], st["failed"] = False, False

        out = so.call(fn)
        st["n_evals"] += 1
        r = out.data.ravel().astype(np.float64)
        R = 0.5 * float(r @ r)
        R0 = R
        for _ in range(grp["max_iter"]):
            # the Jacobian at the current point (computed only when an iteration needs it)
            J = so.jacobian_of(out, params, "LevenbergMarquardt", grp["jacobian_mode"])
            gJ = J.T @ r
            if float(np.linalg.norm(gJ)) < grp["tol"]:
                st["converged"] = True
                break
            A = J.T @ J
            if grp["scaling"] == "diag":
                D = np.diag(A).copy()
                D[D <= 0] = 1.0 if not np.any(D > 0) else D[D > 0].min()
            else:
                D = np.ones(A.shape[0])
            x0 = self._gather_flat_params()
            accepted = False
            while True:
                lam = st["lambda"]
                delta = so.cholesky_solve(A + lam * np.diag(D), -gJ)
                if delta is not None:
                    self._set_flat(x0 + delta.astype(x0.dtype))
                    new = so.call(fn)
                    st["n_evals"] += 1
                    r_new = new.data.ravel().astype(np.float64)
                    R_new = 0.5 * float(r_new @ r_new)
                    if R_new < R:
                        st["lambda"] = lam / grp["down"]
                        accepted = True
                        break
                    self._set_flat(x0)
                st["n_rejected"] += 1
                st["lambda"] = lam * grp["up"]
                if st["lambda"] > grp["lambda_max"]:
                    st["failed"] = True
                    break
            if not accepted:
                break
            st["n_iter"] += 1
            out, r, R = new, r_new, R_new
            st["history"].append(R)
        return R0
