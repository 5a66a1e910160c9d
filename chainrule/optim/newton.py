"""Newton's method with the exact Hessian (double backward), damping and modified Cholesky."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _second_order as so
from .line_search import get_line_search
from .optimizer import Optimizer, check_lr, check_range


class Newton(Optimizer):
    r"""Newton's method for small models (up to ~10⁴ parameters).  (spec: OPT-NEWTON, AD-HESSIAN)

    Each ``step(closure)`` computes R, g = ∇R and the exact Hessian H = ∇²R over the parameters that
    require grad (concatenated, W × W; frozen ones are constants) by double backward, then solves — never
    with an explicit inverse —

        (H + λI + τI) δ = −g,       w ← w + η δ

    λ = ``damping``; τ ≥ 0 is added only when H + λI is not positive definite (``modification=
    'cholesky'``, default: Cholesky with an added multiple of the identity, τ doubling from
    −min diag + β until the factorization succeeds, Nocedal–Wright Alg. 3.3), so δ is always a descent
    direction.  A small τ can still give a very long step along negative curvature: use a line search,
    damping, or ``modification='eigen'``, which replaces H + λI by Q max(|Λ|, δ) Qᵀ (negative eigenvalues
    reflected; ``state['tau']`` is then the number of modified eigenvalues).
    η = ``lr`` (1 = the full Newton step, exact on a quadratic in one step), or a
    line search from t₀ = η along δ (``line_search_fn='armijo'|'strong_wolfe'|callable``).
    ``maximize=True`` applies the method to −R.  ``state['tau']`` records the last shift,
    ``state['n_iter']`` the number of steps.

    **Closure contract**: ``closure()`` returns the scalar loss computed from the parameters and must
    *not* call ``backward()`` (Newton differentiates the graph twice itself; ``p.grad`` is left alone).
    Cost per step: W reverse passes through the gradient graph plus an O(W³) solve.
    """

    def __init__(self, params, lr: float = 1.0, damping: float = 0.0, line_search_fn=None,
                 modification: str = "cholesky", maximize: bool = False, **line_search_kwargs):
        check_lr(lr)
        if modification not in ("cholesky", "eigen"):
            raise ValueError(f"modification must be 'cholesky' (add τI until positive definite) or 'eigen' "
                             f"(reflect negative eigenvalues), got {modification!r}")
        check_range("damping", damping, 0.0, hint="damping λ adds λI to the Hessian (Levenberg damping)")
        if line_search_fn is not None:
            get_line_search(line_search_fn)
        super().__init__(params, dict(lr=lr, damping=damping, line_search_fn=line_search_fn,
                                      modification=modification, maximize=maximize))
        if len(self.param_groups) != 1:
            raise ValueError("Newton works on all parameters together and supports one parameter group only")
        self.line_search_kwargs = line_search_kwargs

    def _loss_grad(self, closure):
        params = self._flat_params()
        loss = so._check_graph(so.call(closure), "Newton", "loss")
        gs = so.flat_grad(loss, params)
        g = np.concatenate([x.data.ravel() for x in gs])
        s = self._sign()
        return s * float(loss.data), s * g

    def step(self, closure: Callable | None = None):
        if closure is None:
            raise RuntimeError("Newton needs step(closure): the closure returns the loss (without calling "
                               "backward()); Newton computes the gradient and Hessian from it")
        group = self.param_groups[0]
        params = self._flat_params()
        loss = so.call(closure)
        f, g, H = so.loss_grad_hessian(loss, params, name="Newton")
        s = self._sign()
        f, g, H = s * f, s * g, s * H
        A = H + group["damping"] * np.eye(g.size, dtype=H.dtype) if group["damping"] else H
        if group["modification"] == "eigen":
            delta, tau = so.solve_abs_eig(A, -g)
        else:
            delta, tau = so.solve_modified_cholesky(A, -g)
        st = self._global_state()
        st["n_iter"] = st.get("n_iter", 0) + 1
        st["tau"] = tau
        ls = group["line_search_fn"]
        if ls is None:
            self._add_flat(group["lr"], delta)
            return loss
        gtd = float(g @ delta)
        if gtd >= 0:  # only possible for a zero gradient
            return loss
        x0 = self._gather_flat_params()

        def obj(x, t, d):
            self._add_flat(t, d)
            try:
                return self._loss_grad(closure)
            finally:
                self._set_flat(x)

        _f, _g, t, _n = get_line_search(ls)(obj, x0, float(group["lr"]), delta, f, g, gtd, **self.line_search_kwargs)
        self._add_flat(t, delta)
        st["t"] = t
        return loss
