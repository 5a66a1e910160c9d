r"""Line searches along a direction d from w: Armijo backtracking and strong Wolfe.  (spec: OPT-LINE-SEARCH)

All searches work on flat float vectors through an ``obj_func(x, t, d) -> (f, g)`` that returns the
objective and its flat gradient at x + t·d (and leaves the parameters at x).  Optimizers build it from
their closure with ``Optimizer._directional_evaluate``; :func:`line_search` does it for any list of
parameters.  φ(t) = R(w + t d), φ′(t) = ∇R(w + t d)ᵀd; d must be a descent direction (gᵀd < 0).

- Armijo (sufficient decrease): start at t = t₀ (1); while φ(t) > φ(0) + c₁ t φ′(0): t ← ρ t
  (c₁ = 1e-4, ρ = 0.5).
- Strong Wolfe: Armijo and |φ′(t)| ≤ c₂|φ′(0)| (c₂ = 0.9 for quasi-Newton, 0.1 for CG), by bracketing
  and cubic interpolation (Nocedal–Wright Alg. 3.5/3.6; the same algorithm and constants as PyTorch's
  LBFGS, so L-BFGS trajectories agree with PyTorch's).

A user-supplied search is any callable with the signature of :func:`strong_wolfe`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..tensor import Tensor

ObjFunc = Callable[[np.ndarray, float, np.ndarray], tuple[float, np.ndarray]]


def cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                      bounds: tuple[float, float] | None = None) -> float:
    """Minimizer of the cubic through (x1, f1, f1′ = g1) and (x2, f2, g2), clamped to ``bounds``
    (default the interval between x1 and x2); the midpoint when the cubic has no minimizer."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = float(np.sqrt(d2_square))
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return float(min(max(min_pos, xmin_bound), xmax_bound))
    return (xmin_bound + xmax_bound) / 2.0


def strong_wolfe(obj_func: ObjFunc, x: np.ndarray, t: float, d: np.ndarray, f: float, g: np.ndarray,
                 gtd: float, c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                 max_ls: int = 25) -> tuple[float, np.ndarray, float, int]:
    r"""Find t with φ(t) ≤ φ(0) + c₁tφ′(0) and |φ′(t)| ≤ c₂|φ′(0)| (strong Wolfe).

    Bracketing phase: try t, extrapolate by cubic interpolation within [t + 0.01(t − t_prev), 10t]
    until a bracket is found; zoom phase: cubic interpolation inside the bracket, safeguarded to stay
    0.1·(bracket width) away from its ends.  At most ``max_ls`` evaluations.
    Returns (f_new, g_new, t, number_of_evaluations).
    """
    d_norm = float(np.abs(d).max())
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = float(g_new @ d)

    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list = []
    bracket_f: list = []
    bracket_g: list = []
    bracket_gtd: list = []
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1

    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
        bracket_gtd = [gtd, gtd_new]

    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    t = bracket[low_pos]
    return bracket_f[low_pos], bracket_g[low_pos], t, ls_func_evals


def armijo(obj_func: ObjFunc, x: np.ndarray, t: float, d: np.ndarray, f: float, g: np.ndarray, gtd: float,
           c1: float = 1e-4, rho: float = 0.5, max_ls: int = 50, **_ignored) -> tuple[float, np.ndarray, float, int]:
    r"""Armijo backtracking: t = t₀; while R(w + td) > R(w) + c₁ t gᵀd: t ← ρt.

    Returns (f_new, g_new, t, evaluations).  If no t within ``max_ls`` halvings decreases R enough, the
    trial with the lowest R is returned if it is below R(w), otherwise t = 0 (no move).
    """
    if not 0 < c1 < 1:
        raise ValueError(f"Armijo constant c1 must be in (0, 1), got {c1}")
    if not 0 < rho < 1:
        raise ValueError(f"backtracking factor rho must be in (0, 1), got {rho}")
    best = (f, g, 0.0)
    for k in range(1, max_ls + 1):
        f_new, g_new = obj_func(x, t, d)
        if f_new <= f + c1 * t * gtd:
            return f_new, g_new, t, k
        if f_new < best[0]:
            best = (f_new, g_new, t)
        t *= rho
    return best[0], best[1], best[2], max_ls


_SEARCHES = {"strong_wolfe": strong_wolfe, "armijo": armijo}


def get_line_search(fn) -> Callable:
    """'strong_wolfe' | 'armijo' | a callable with the signature of :func:`strong_wolfe`."""
    if callable(fn):
        return fn
    if fn not in _SEARCHES:
        raise ValueError(f"unknown line search {fn!r}: use 'strong_wolfe', 'armijo', None or a callable "
                         "(obj_func, x, t, d, f, g, gtd) -> (f_new, g_new, t, n_evals)")
    return _SEARCHES[fn]


def wolfe_conditions(f0: float, gtd0: float, f_t: float, gtd_t: float, t: float, c1: float = 1e-4,
                     c2: float = 0.9) -> tuple[bool, bool]:
    """(Armijo holds, strong curvature holds) for a step t: φ(t) ≤ φ(0) + c₁tφ′(0), |φ′(t)| ≤ c₂|φ′(0)|."""
    return bool(f_t <= f0 + c1 * t * gtd0), bool(abs(gtd_t) <= c2 * abs(gtd0))


def line_search(params: Sequence[Tensor], closure: Callable, direction: Sequence | np.ndarray | None = None,
                method="armijo", t0: float = 1.0, **kwargs) -> tuple[float, float]:
    """Search along ``direction`` (default −∇R) for the parameters ``params`` and move them there.

    ``closure`` recomputes the loss and its gradients (zero_grad, forward, backward, return loss), as
    for ``Optimizer.step``.  ``direction``: a flat array or one array per parameter (over the parameters
    that require grad; frozen ones stay fixed and their entries of a per-parameter list are ignored).  Returns
    (t, R(w + t d)).  Keyword arguments go to the search (c1, c2, rho, max_ls, ...).
    """
    from .optimizer import Optimizer

    class _Holder(Optimizer):
        def step(self, closure: Callable | None = None):  # pragma: no cover - never called
            raise NotImplementedError

    params = list(params)
    opt = _Holder(params, {})
    f = float(opt._eval_closure(closure))
    g = opt._gather_flat_grad()
    if direction is None:
        d = -g
    elif isinstance(direction, np.ndarray):
        d = np.asarray(direction, dtype=g.dtype).ravel()
    else:
        direction = list(direction)
        if len(direction) == len(params):  # one entry per parameter: frozen ones are not variables
            direction = [v for v, p in zip(direction, params) if p.requires_grad]
        d = np.concatenate([np.asarray(getattr(v, "data", v), dtype=g.dtype).ravel() for v in direction])
    if d.size != g.size:
        raise ValueError(f"direction has {d.size} entries but the parameters that require grad have {g.size} "
                         "(frozen parameters are not variables: a flat direction covers only the trainable ones)")
    gtd = float(g @ d)
    if gtd >= 0:
        raise ValueError(f"the direction is not a descent direction (gᵀd = {gtd:.3g} >= 0); use −gradient or "
                         "a direction with negative slope")
    x0 = opt._gather_flat_params()
    f_new, _g, t, _n = get_line_search(method)(
        lambda x, tt, dd: opt._directional_evaluate(closure, x, tt, dd), x0, t0, d, f, g, gtd, **kwargs)
    opt._add_flat(t, d)
    return t, f_new
