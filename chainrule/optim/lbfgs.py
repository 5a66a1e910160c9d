"""L-BFGS with PyTorch's semantics (max_iter inner iterations per step, optional strong-Wolfe search)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .line_search import get_line_search
from .optimizer import Optimizer, check_lr, check_range


class LBFGS(Optimizer):
    r"""Limited-memory BFGS, PyTorch's algorithm and defaults.  (spec: OPT-LBFGS, OPT-LINE-SEARCH)

    Direction d = −H_k g by the two-loop recursion over the last ``history_size`` pairs
    s = Δw = t·d, y = Δg (a pair is skipped unless yᵀs > 1e-10), with H₀ = (sᵀy / yᵀy) I.  The first step
    length is min(1, 1/‖g‖₁)·lr, later ones lr; with ``line_search_fn='strong_wolfe'`` (or 'armijo', or a
    callable) the step comes from the line search (c₁ = 1e-4, c₂ = 0.9).

    ``step(closure)`` (closure: zero_grad, loss, backward, return loss) performs up to ``max_iter``
    iterations and at most ``max_eval`` (default ⌊1.25·max_iter⌋) closure evaluations, stopping when
    max|g| ≤ ``tolerance_grad``, when gᵀd > −``tolerance_change``, or when the step max|t·d| or the change
    of R falls below ``tolerance_change``.  Returns the loss from the first evaluation.  One parameter
    group only (all parameters that require grad are treated as one vector; frozen ones are left alone,
    and the history restarts if that set changes between steps).

    As in PyTorch, the line search may use only ``max_eval`` − (evaluations so far) evaluations: with
    ``max_iter=1`` and the default ``max_eval`` (= 1) it cannot search at all and stalls at t = 0 once the
    first trial step fails — pass ``max_eval`` explicitly (e.g. 25) when stepping one iteration at a time.
    """

    def __init__(self, params, lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn=None, maximize: bool = False):
        check_lr(lr)
        if not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if not isinstance(max_eval, int) or max_eval < 1:
            raise ValueError(f"max_eval must be a positive integer or None, got {max_eval!r}")
        if not isinstance(history_size, int) or history_size < 1:
            raise ValueError(f"history_size must be a positive integer, got {history_size!r}")
        check_range("tolerance_grad", tolerance_grad, 0.0)
        check_range("tolerance_change", tolerance_change, 0.0)
        if line_search_fn is not None:
            get_line_search(line_search_fn)
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn, maximize=maximize))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    def step(self, closure: Callable | None = None):
        if closure is None:
            raise RuntimeError("LBFGS needs step(closure): the closure must zero the gradients, compute the "
                               "loss, call backward() and return the loss")
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        sign = self._sign()

        state = self._global_state()
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._eval_closure(closure)
        loss = sign * float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        # a fresh start: the first step ever, or the trainable parameters changed (the stored pairs
        # belong to another variable vector)
        fresh = state["n_iter"] == 0 or prev_flat_grad is None or prev_flat_grad.size != flat_grad.size

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            first = fresh and n_iter == 1
            if first:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)
                num_old = len(old_dirs)
                al = [0.0] * num_old
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q = q - al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = float(old_dirs[i] @ r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if first:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._gather_flat_params()
                kwargs = {"max_ls": max_eval - current_evals} if not callable(line_search_fn) else {}
                loss, flat_grad, t, ls_func_evals = get_line_search(line_search_fn)(
                    lambda x, tt, dd: self._directional_evaluate(closure, x, tt, dd),
                    x_init, t, d, loss, flat_grad, gtd, **kwargs)
                self._add_flat(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_flat(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = sign * float(self._eval_closure(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
