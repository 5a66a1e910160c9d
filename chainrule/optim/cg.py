"""Nonlinear conjugate gradient (Fletcher-Reeves, Polak-Ribière+) with restarts and a line search."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .line_search import get_line_search
from .optimizer import Optimizer, check_lr, check_range


class ConjugateGradient(Optimizer):
    r"""Nonlinear conjugate gradient.  (spec: OPT-CG, OPT-LINE-SEARCH)

        d₀ = −g₀;   w_{k+1} = w_k + α_k d_k  (α_k from the line search)
        β = max(0, g_{k+1}ᵀ(g_{k+1} − g_k) / g_kᵀg_k)    (``beta='PR'``, Polak–Ribière+, default)
          = ‖g_{k+1}‖² / ‖g_k‖²                          (``beta='FR'``, Fletcher–Reeves)
        d_{k+1} = −g_{k+1} + β d_k

    restarting with d = −g every ``restart`` iterations (default W, the number of parameters) or when
    g_{k+1}ᵀd_{k+1} ≥ 0 (not a descent direction).  The line search is strong Wolfe with c₂ = 0.1
    (``line_search_fn``: 'strong_wolfe', 'armijo' or a callable with the signature of
    ``line_search.strong_wolfe``); its first trial is t₀ = min(1, 1/‖g‖₁)·lr at the first iteration
    and α_{k−1}·g_{k−1}ᵀd_{k−1}/g_kᵀd_k afterwards (Nocedal–Wright (3.60)).  With exact line searches
    on a W-dimensional convex quadratic CG converges in ≤ W iterations.

    ``step(closure)`` (closure: zero_grad, loss, backward, return loss — as for LBFGS) runs up to
    ``max_iter`` iterations (default 1), stopping early when max|g| ≤ ``tolerance_grad`` or the change
    in w or R is below ``tolerance_change``.  The variables are the parameters that require grad (frozen
    ones are left alone); if that set changes between steps the method restarts from d = −g.
    """

    def __init__(self, params, lr: float = 1.0, beta: str = "PR", restart: int | None = None,
                 line_search_fn="strong_wolfe", c1: float = 1e-4, c2: float = 0.1, max_iter: int = 1,
                 max_ls: int = 25, tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 maximize: bool = False):
        check_lr(lr)
        if beta not in ("PR", "FR"):
            raise ValueError(f"beta must be 'PR' (Polak–Ribière+) or 'FR' (Fletcher–Reeves), got {beta!r}")
        if restart is not None and (not isinstance(restart, int) or restart < 1):
            raise ValueError(f"restart must be a positive integer or None (= number of parameters), got {restart!r}")
        check_range("c1", c1, 0.0, 1.0, low_open=True, high_open=True)
        check_range("c2", c2, c1, 1.0, low_open=True, high_open=True, hint="need c1 < c2 < 1; CG uses c2 = 0.1")
        if not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
        get_line_search(line_search_fn)
        super().__init__(params, dict(lr=lr, beta=beta, restart=restart, line_search_fn=line_search_fn, c1=c1,
                                      c2=c2, max_iter=max_iter, max_ls=max_ls, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, maximize=maximize))
        if len(self.param_groups) != 1:
            raise ValueError("ConjugateGradient works on all parameters together and supports one parameter group only")

    def step(self, closure: Callable | None = None):
        if closure is None:
            raise RuntimeError("ConjugateGradient needs step(closure): the closure must zero the gradients, "
                               "compute the loss, call backward() and return the loss")
        grp = self.param_groups[0]
        st = self._global_state()
        st.setdefault("n_iter", 0)
        st.setdefault("func_evals", 0)
        restart = grp["restart"] or self._numel()
        search = get_line_search(grp["line_search_fn"])
        kw = {"c1": grp["c1"], "c2": grp["c2"], "max_ls": grp["max_ls"]}
        if grp["line_search_fn"] == "strong_wolfe":
            kw["tolerance_change"] = grp["tolerance_change"]
        elif callable(grp["line_search_fn"]):
            kw = {}

        orig_loss = self._eval_closure(closure)
        f = self._sign() * float(orig_loss)
        g = self._gather_flat_grad()
        st["func_evals"] += 1
        # the trainable parameters changed since the last step: the stored direction is for another vector
        fresh = st.get("d") is not None and st["d"].size != g.size
        if fresh:
            st["d"] = st["g_prev"] = None
        for _ in range(grp["max_iter"]):
            if np.abs(g).max() <= grp["tolerance_grad"]:
                break
            d, g_prev = st.get("d"), st.get("g_prev")
            if d is None or g_prev is None:
                d, since = -g, 0
            else:
                gg = float(g_prev @ g_prev)
                if grp["beta"] == "FR":
                    beta = float(g @ g) / gg
                else:
                    beta = max(0.0, float(g @ (g - g_prev)) / gg)
                d = -g + beta * d
                since = st.get("since_restart", 0) + 1
                if since >= restart or float(g @ d) >= 0:
                    d, since = -g, 0
            gtd = float(g @ d)
            if st["n_iter"] == 0 or "t" not in st or fresh:
                t0 = min(1.0, 1.0 / float(np.abs(g).sum())) * grp["lr"]
            else:
                t0 = st["t"] * st["gtd"] / gtd
                if not t0 > 0:
                    t0 = grp["lr"]
            x0 = self._gather_flat_params()
            f_new, g_new, t, n = search(lambda x, tt, dd: self._directional_evaluate(closure, x, tt, dd),
                                        x0, t0, d, f, g, gtd, **kw)
            self._add_flat(t, d)
            st["func_evals"] += n
            st["n_iter"] += 1
            st.update(d=d, g_prev=g, since_restart=since, t=t, gtd=gtd)
            fresh = False
            done = np.abs(d * t).max() <= grp["tolerance_change"] or abs(f_new - f) < grp["tolerance_change"]
            f, g = f_new, g_new
            if t == 0:
                st["d"] = None  # the search found no decrease: restart from −g next time
                break
            if done:
                break
        return orig_loss
