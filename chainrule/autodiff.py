"""Derivative tools built on the engine: grad, jacobian, hessian, hvp, gradcheck, gradgradcheck,
input_optimize.

Layouts (spec conventions): ``grad`` has each input's shape (denominator layout); ``jacobian(f, x)``
has shape ``out.shape + x.shape`` (rows = outputs, numerator layout); ``hessian`` over several
parameters is over their concatenation, shape (W, W).  (spec: AD-GRADCHECK, AD-JACOBIAN-IO,
AD-JACOBIAN-LAYER, AD-HESSIAN, AD-HVP)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .tensor import Tensor, backprop, enable_grad


def _as_list(x) -> tuple[list, bool]:
    if isinstance(x, Tensor):
        return [x], True
    return list(x), False


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False, materialize: bool = False):
    """d(outputs)/d(inputs) as a vector-Jacobian product, without touching ``.grad``.

    ``grad_outputs`` is the vector (required for non-scalar outputs).  With ``create_graph=True`` the
    result is differentiable.  Inputs that do not influence the outputs raise unless
    ``allow_unused`` (→ None) or ``materialize`` (→ zeros).
    """
    outs, _ = _as_list(outputs)
    ins, single = _as_list(inputs)
    gos = [None] * len(outs) if grad_outputs is None else _as_list(grad_outputs)[0]
    for o in outs:
        if not o.requires_grad:
            raise RuntimeError("grad(): an output does not require grad (no input had requires_grad=True)")
    got = backprop(outs, gos, retain_graph=retain_graph, create_graph=create_graph, accumulate=False,
                   inputs=ins)
    res = []
    for t in ins:
        g = got.get(id(t))
        if g is None:
            if materialize:
                g = np.zeros_like(t.data)
            elif not allow_unused:
                raise RuntimeError(
                    f"one of the inputs (shape {t.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True (gives None) or materialize=True (gives zeros)")
            else:
                res.append(None)
                continue
        res.append(g if isinstance(g, Tensor) else Tensor._wrap(np.asarray(g)))
    return res[0] if single else tuple(res)


def _data(v):
    return v.data if isinstance(v, Tensor) else np.asarray(v)


def _differentiable(xs: list) -> list[Tensor]:
    """The inputs as tensors that require grad: a tensor that does not is replaced by a new leaf
    sharing its data (the caller's tensor is left unchanged)."""
    out = []
    for t in xs:
        t = t if isinstance(t, Tensor) else Tensor(np.asarray(t, dtype=np.float64))
        out.append(t if t.requires_grad else Tensor(t.data, requires_grad=True))
    return out


def jacobian(f: Callable, x, create_graph: bool = False) -> Tensor | tuple:
    """∂f(x)/∂x with shape ``f(x).shape + x.shape`` (one reverse pass per output element): rows are
    outputs, J_ij = ∂f_i/∂x_j, so the chain rule is a matrix product J_{f∘g} = J_f J_g and an element-wise
    f has diag(f'(x)).  (spec: AD-JACOBIAN-IO, MATH-MATRIX-DERIV)

    ``x`` may be a tensor or a sequence of tensors (then a tuple of Jacobians is returned).
    """
    xs, single = _as_list(x)
    xs = _differentiable(xs)
    with enable_grad():
        y = f(*xs)
    m = y.size
    jacs = [np.zeros((m,) + t.shape, dtype=y.dtype) for t in xs]
    rows: list[list] = [[] for _ in xs]
    for i in range(m):
        e = np.zeros(y.shape, dtype=y.dtype)
        e.flat[i] = 1
        gs = grad(y, xs, grad_outputs=Tensor._wrap(e), retain_graph=True, create_graph=create_graph,
                  materialize=True)
        for k, gk in enumerate(gs):
            if create_graph:
                rows[k].append(gk)
            else:
                jacs[k][i] = gk.data
    if create_graph:
        from .ops import reshape, stack
        out = tuple(reshape(stack(r), y.shape + t.shape) for r, t in zip(rows, xs))
    else:
        out = tuple(Tensor._wrap(j.reshape(y.shape + t.shape)) for j, t in zip(jacs, xs))
    return out[0] if single else out


def batch_jacobian(f: Callable, x: Tensor) -> Tensor:
    """Per-sample input-output Jacobians ∂f(x)_n/∂x_n, shape (N, K, D) for x (N, D) → f(x) (N, K).

    The rows of a batch must not interact (no batch statistics); then K reverse passes suffice: pass k
    sends the cotangent e_k to every row.  (spec: AD-JACOBIAN-IO)
    """
    (xt,) = _differentiable([x])
    with enable_grad():
        y = f(xt)
    if y.ndim != 2 or xt.ndim < 2 or y.shape[0] != xt.shape[0]:
        raise ValueError(f"batch_jacobian needs x (N, ...) and f(x) (N, K); got {xt.shape} -> {y.shape}")
    N, K = y.shape
    J = np.zeros((N, K) + xt.shape[1:], dtype=y.dtype)
    for k in range(K):
        e = np.zeros(y.shape, dtype=y.dtype)
        e[:, k] = 1
        J[:, k] = grad(y, xt, grad_outputs=Tensor._wrap(e), retain_graph=k < K - 1, materialize=True).data
    return Tensor._wrap(J)


def hessian(f: Callable, x) -> Tensor:
    """Exact Hessian of a scalar f by double backward: row i = ∇ of ∂f/∂x_i.  (spec: AD-HESSIAN)

    The convex objectives of the notes give closed forms the tests compare with: XᵀX for least
    squares (MATH-CONVEX-LINREG), Σᵢ xᵢxᵢᵀpᵢ(1 − pᵢ) = XᵀRX for logistic regression (MATH-CONVEX-LOGREG),
    Σᵢ(diag(pᵢ) − pᵢpᵢᵀ) ⊗ xᵢxᵢᵀ for softmax regression (MATH-CONVEX-SOFTMAX).

    ``x`` a tensor → shape ``x.shape + x.shape``; a sequence of tensors (e.g. ``model.parameters()``)
    → the (W, W) Hessian over their concatenation (W = total number of entries).  f takes the
    tensors as positional arguments; for parameters pass ``lambda *ps: loss()``.
    """
    xs, single = _as_list(x)
    xs = _differentiable(xs)
    with enable_grad():
        y = f(*xs)
    if y.size != 1:
        raise ValueError(f"hessian needs a scalar function, f returned shape {y.shape}")
    gs = grad(y, xs, create_graph=True, materialize=True)
    gs = (gs,) if isinstance(gs, Tensor) else gs
    from .ops import concatenate, reshape
    gflat = concatenate([reshape(g, (-1,)) for g in gs]) if len(gs) > 1 else reshape(gs[0], (-1,))
    n = gflat.size
    H = np.zeros((n, n), dtype=y.dtype)
    for i in range(n):
        if not gflat.requires_grad:
            break  # gradient does not depend on x: Hessian is zero
        row = grad(gflat[i], xs, retain_graph=True, materialize=True, allow_unused=True)
        row = (row,) if isinstance(row, Tensor) else row
        H[i] = np.concatenate([r.data.ravel() for r in row])
    if single:
        return Tensor._wrap(H.reshape(xs[0].shape + xs[0].shape))
    return Tensor._wrap(H)


def hvp(f: Callable, x, v) -> Tensor | tuple:
    """Hessian-vector product H v = ∇ₓ(∇ₓf(x)·v) by double backward (Pearlmutter), without forming H."""
    xs, single = _as_list(x)
    xs = _differentiable(xs)
    vs = [v] if single else list(v)
    if len(vs) != len(xs) or any(np.shape(_data(vv)) != t.shape for vv, t in zip(vs, xs)):
        raise ValueError(f"hvp: v must match x: shapes {[np.shape(_data(vv)) for vv in vs]} given for "
                         f"inputs of shapes {[t.shape for t in xs]}")
    with enable_grad():
        y = f(*xs)
        gs = grad(y, xs, create_graph=True, materialize=True)
        gs = (gs,) if isinstance(gs, Tensor) else gs
        dot = None
        for g, vv in zip(gs, vs):
            term = (g * (vv.data if isinstance(vv, Tensor) else vv)).sum()
            dot = term if dot is None else dot + term
    if not dot.requires_grad:
        res = tuple(Tensor._wrap(np.zeros_like(t.data)) for t in xs)
    else:
        res = grad(dot, xs, materialize=True)
        res = (res,) if isinstance(res, Tensor) else res
    return res[0] if single else res


class GradcheckError(AssertionError):
    pass


def _numeric_jacobian(f, xs, k, eps):
    x = xs[k]
    base = x.data
    with enable_grad():
        y0 = f(*xs)
    m = y0.size
    J = np.zeros((m, base.size))
    for j in range(base.size):
        orig = base.flat[j]
        base.flat[j] = orig + eps
        yp = np.array(f(*xs).data, dtype=np.float64).ravel()
        base.flat[j] = orig - eps
        ym = np.array(f(*xs).data, dtype=np.float64).ravel()
        base.flat[j] = orig
        J[:, j] = (yp - ym) / (2 * eps)
    return J


def gradcheck(f: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare reverse-mode Jacobians with central differences (f(x+h) − f(x−h))/2h.

    Inputs must be float64 (float32 differences are too coarse).  Passes when
    |J_ad − J_num| ≤ atol + rtol·|J_num| everywhere; otherwise raises GradcheckError naming the input,
    the worst entry and both values.  (spec: AD-GRADCHECK)
    """
    xs, _ = _as_list(inputs)
    for t in xs:
        if t.requires_grad and t.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 inputs, got {t.dtype}; build them with dtype=np.float64")
    if not any(t.requires_grad for t in xs):
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check; "
                         "create the inputs with requires_grad=True")
    with enable_grad():
        y = f(*xs)
    outs = [y] if isinstance(y, Tensor) else list(y)
    if len(outs) != 1:
        raise ValueError("gradcheck expects f to return one tensor")
    y = outs[0]
    for k, x in enumerate(xs):
        if not x.requires_grad:
            continue
        m = y.size
        Ja = np.zeros((m, x.size))
        for i in range(m):
            e = np.zeros(y.shape, dtype=y.dtype)
            e.flat[i] = 1
            with enable_grad():
                yy = f(*xs)
            if not yy.requires_grad:
                break
            g = grad(yy, [x], grad_outputs=Tensor._wrap(e), materialize=True)[0]
            Ja[i] = g.data.ravel()
        Jn = _numeric_jacobian(f, xs, k, eps)
        bad = np.abs(Ja - Jn) > atol + rtol * np.abs(Jn)
        if bad.any():
            i, j = np.unravel_index(np.argmax(np.abs(Ja - Jn) - rtol * np.abs(Jn)), Ja.shape)
            msg = (f"gradcheck failed for input {k} (shape {x.shape}): output element {i}, input element {j}: "
                   f"analytic {Ja[i, j]:.10g} vs numerical {Jn[i, j]:.10g} ({int(bad.sum())} of {bad.size} "
                   f"entries outside atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(f: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  seed: int = 0, raise_exception: bool = True) -> bool:
    """gradcheck of the gradient map x ↦ (∂f/∂x)ᵀv for a fixed random v: checks second derivatives."""
    xs, _ = _as_list(inputs)
    with enable_grad():
        y0 = f(*xs)
    rng = np.random.default_rng(seed)
    v = Tensor._wrap(rng.standard_normal(y0.shape))
    diff = [x for x in xs if x.requires_grad]

    def gmap(*args):
        with enable_grad():
            y = f(*args)
            gs = grad(y, [a for a in args if a.requires_grad], grad_outputs=v, create_graph=True,
                      materialize=True)
        from .ops import concatenate, reshape
        return concatenate([reshape(g, (-1,)) for g in gs]) if len(gs) > 1 else reshape(gs[0], (-1,))

    if not diff:
        return True
    return gradcheck(gmap, xs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)


def numerical_grad(f: Callable, x: Tensor, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar f at x (float64), shape of x."""
    return _numeric_jacobian(f, [x], 0, eps).reshape(x.shape)


def check_along_direction(f: Callable, x: Tensor, v: np.ndarray, eps: float = 1e-6) -> tuple[float, float]:
    """(⟨∇f, v⟩, (f(x + hv) − f(x − hv))/2h): the cheap check for large inputs (spec: AD-GRADCHECK)."""
    with enable_grad():
        y = f(x)
    g = grad(y, [x])[0].data
    base = x.data
    orig = base.copy()
    base += eps * v
    fp = float(f(x).data)
    base[...] = orig - eps * v
    fm = float(f(x).data)
    base[...] = orig
    return float((g * v).sum()), (fp - fm) / (2 * eps)



def input_optimize(f: Callable, x, k: int, lr: float = 0.1, steps: int = 100, weight_decay: float = 0.0,
                   clip: tuple[float, float] | None = None) -> tuple[Tensor, list[float]]:
    """Gradient ascent on the input ("deep dream", basic form), weights untouched.  (spec: AD-INPUT-OPTIM)

    x ← x + η ∇ₓ[ŷ_k(x) − λ‖x‖²]  for ``steps`` steps, then optionally x ← clip(x, lo, hi).
    ``f`` maps inputs (N, D) or (D,) to outputs (..., K); for a batch the rows are optimized
    independently (the objective is the sum over rows).  ∇ₓŷ_k is row k of the input-output Jacobian
    (AD-JACOBIAN-IO).  Only the input gradient is computed (``grad``), so no parameter's ``.grad`` or
    value changes.  Returns the optimized input and the history of Σ ŷ_k before each step.
    """
    xd = np.array(x.data if isinstance(x, Tensor) else x, copy=True)
    if xd.dtype.kind != "f":
        raise TypeError(f"input_optimize needs a floating input, got dtype {xd.dtype}")
    history: list[float] = []
    for _ in range(steps):
        xt = Tensor(xd, requires_grad=True)
        with enable_grad():
            y = f(xt)
            yk = y[..., k].sum()
            obj = yk - (xt * xt).sum() * weight_decay if weight_decay else yk
        history.append(float(yk.data))
        g = grad(obj, xt)
        xd = xd + g.data * lr
        if clip is not None:
            xd = np.clip(xd, clip[0], clip[1]).astype(xd.dtype, copy=False)
    return Tensor(xd), history
