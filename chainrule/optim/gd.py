"""Full-batch gradient descent, optionally with a line search."""

from __future__ import annotations

from collections.abc import Callable

from .line_search import get_line_search
from .optimizer import Optimizer, check_lr, check_range


class GD(Optimizer):
    r"""Gradient descent on the whole empirical risk: w⁽ᵗ⁺¹⁾ = w⁽ᵗ⁾ − η∇R(w⁽ᵗ⁾).  (spec: OPT-GD)

    Guarantee (R convex, ∇R L-Lipschitz, η ≤ 1/L): R(w⁽ᵗ⁺¹⁾) ≤ R(w⁽ᵗ⁾) − (η/2)‖∇R(w⁽ᵗ⁾)‖² and
    R(w⁽ᵗ⁾) − R(w*) ≤ ‖w⁽⁰⁾ − w*‖²/(2ηt) for t = 1, 2, … (erratum N2: the telescoping sum runs t = 1…T;
    N1: the minimized objective is R(w), not ∇R(w)).  On a quadratic GD diverges along an eigenvector of
    the Hessian iff η > 2/λ.

    ``line_search_fn`` ('armijo', 'strong_wolfe' or a callable, spec OPT-LINE-SEARCH) chooses the step
    t along d = −g starting from t₀ = η; it needs ``step(closure)`` with a closure that recomputes the
    loss and calls backward.  Without it ``GD`` equals ``SGD(lr)`` (no momentum) fed full batches.
    """

    def __init__(self, params, lr: float = 0.1, weight_decay: float = 0.0, line_search_fn=None,
                 maximize: bool = False, **line_search_kwargs):
        check_lr(lr)
        check_range("weight_decay", weight_decay, 0.0)
        if line_search_fn is not None:
            get_line_search(line_search_fn)
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, line_search_fn=line_search_fn,
                                      maximize=maximize))
        self.line_search_kwargs = line_search_kwargs

    def step(self, closure: Callable | None = None):
        ls = self.param_groups[0]["line_search_fn"]
        if ls is None:
            loss = self._eval_closure(closure)
            for group in self.param_groups:
                lr, wd = group["lr"], group["weight_decay"]
                for p in self._params_with_grad(group):
                    g = self._grad(p, group)
                    if wd:
                        g = g + wd * p.data
                    p.data -= lr * g
                    p._version += 1
            return loss
        if closure is None:
            raise RuntimeError("GD with a line search needs step(closure): the closure must zero the gradients, "
                               "compute the loss, call backward() and return the loss")
        if len(self.param_groups) != 1 or self.param_groups[0]["weight_decay"]:
            raise ValueError("GD with a line search supports one parameter group and no weight_decay (add the "
                             "penalty to the loss instead)")
        loss = self._eval_closure(closure)
        f = self._sign() * float(loss)
        g = self._gather_flat_grad()
        d = -g
        gtd = float(g @ d)
        if gtd == 0:
            return loss
        x0 = self._gather_flat_params()
        _f, _g, t, n = get_line_search(ls)(lambda x, tt, dd: self._directional_evaluate(closure, x, tt, dd),
                                           x0, float(self.param_groups[0]["lr"]), d, f, g, gtd,
                                           **self.line_search_kwargs)
        self._add_flat(t, d)
        st = self._global_state()
        st["t"] = t
        st["func_evals"] = st.get("func_evals", 0) + 1 + n
        return loss
