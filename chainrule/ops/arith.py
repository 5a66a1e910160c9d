"""Elementwise arithmetic with broadcasting, and elementwise math functions.

Each op: forward on arrays, then ``vjp(g, out, *inputs)`` written with operators valid for arrays and
Tensors (see ``chainrule.tensor``).  Broadcast operands get their gradient summed back to their shape.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special as _sp

from ..backend import get_default_dtype
from ._base import Tensor, _make, _plain, as_tensor, is_t, operands, unbroadcast


# ------------------------------------------------------------------ binary
def _scalar(x):
    """``x`` as a Python number if it is a real scalar constant (Python or NumPy), else None.

    Python numbers are "weak" under NumPy's promotion rules (NEP 50), so ``float32_array * c`` stays
    float32; the scalar paths below also skip wrapping the constant and computing its gradient.
    """
    t = type(x)
    if t is float or t is int:
        return x
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return None


def _float_tensor(x) -> bool:
    return isinstance(x, Tensor) and x.data.dtype.kind == "f"


def _add_vjp(g, out, a, b):
    return unbroadcast(g, a.shape), unbroadcast(g, b.shape)


def _pass_vjp(g, out, a):
    return (g,)


def add(a, b) -> Tensor:
    """a + b (broadcasting)."""
    if _float_tensor(a) and (c := _scalar(b)) is not None:
        return _make(a.data + c, (a,), _pass_vjp)
    if _float_tensor(b) and (c := _scalar(a)) is not None:
        return _make(c + b.data, (b,), _pass_vjp)
    a, b = operands(a, b)
    return _make(a.data + b.data, (a, b), _add_vjp)


def _sub_vjp(g, out, a, b):
    return unbroadcast(g, a.shape), unbroadcast(-g, b.shape)


def _neg_vjp(g, out, a):
    return (-g,)


def sub(a, b) -> Tensor:
    """a − b (broadcasting)."""
    if _float_tensor(a) and (c := _scalar(b)) is not None:
        return _make(a.data - c, (a,), _pass_vjp)
    if _float_tensor(b) and (c := _scalar(a)) is not None:
        return _make(c - b.data, (b,), _neg_vjp)
    a, b = operands(a, b)
    return _make(a.data - b.data, (a, b), _sub_vjp)


def _mul_vjp(g, out, a, b):
    return unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape)


def mul(a, b) -> Tensor:
    """a ⊙ b (broadcasting)."""
    if _float_tensor(a) and (c := _scalar(b)) is not None:
        return _make(a.data * c, (a,), lambda g, out, x: (g * c,))
    if _float_tensor(b) and (c := _scalar(a)) is not None:
        return _make(c * b.data, (b,), lambda g, out, x: (g * c,))
    a, b = operands(a, b)
    return _make(a.data * b.data, (a, b), _mul_vjp)


def _div_vjp(g, out, a, b):
    ga = g / b
    return unbroadcast(ga, a.shape), unbroadcast(-ga * out, b.shape)


def _rdiv_vjp(g, out, a):  # out = c / a: d/da = −c/a² = −out/a
    return (-g * out / a,)


def div(a, b) -> Tensor:
    """a / b (broadcasting); d/db = −a/b² = −out/b.  Integer / integer gives the default float dtype."""
    if _float_tensor(a) and (c := _scalar(b)) is not None:
        return _make(a.data / c, (a,), lambda g, out, x: (g / c,))
    if _float_tensor(b) and (c := _scalar(a)) is not None:
        return _make(c / b.data, (b,), _rdiv_vjp)
    a, b = operands(a, b)
    if a.data.dtype.kind != "f":
        a, b = _float(a), _float(b)
    return _make(a.data / b.data, (a, b), _div_vjp)


def _float(t: Tensor) -> Tensor:
    return t if t.data.dtype.kind == "f" else Tensor._wrap(t.data.astype(get_default_dtype()))


def neg(a) -> Tensor:
    a = as_tensor(a)
    return _make(-a.data, (a,), _neg_vjp)


def pow(a, p) -> Tensor:
    """a ** p; p a number or a tensor. d/da = p·a^(p−1), d/dp = out·log a."""
    if not isinstance(p, Tensor) and np.ndim(p) == 0:
        a = as_tensor(a)
        p = float(p) if not float(p).is_integer() else int(p)

        def vjp(g, out, x):
            if p == 2:
                return (g * x * 2,)
            if p == 0:  # d/dx x⁰ = 0 everywhere, also at x = 0 (x⁻¹ would give 0·∞ = nan)
                return (g * 0,)
            return (g * p * x ** (p - 1),)

        return _make(a.data ** p, (a,), vjp)
    a, b = operands(a, p)

    def vjp2(g, out, x, y):
        gx = unbroadcast(g * y * x ** (y - 1), x.shape)
        xd = _plain(x)
        xs = where(xd > 0, x, 1) if is_t(x) else np.where(xd > 0, x, 1)  # d/dp := 0 where a <= 0
        gy = unbroadcast(g * out * _log(xs), y.shape)
        return gx, gy

    return _make(a.data ** b.data, (a, b), vjp2)


def rpow(a, base) -> Tensor:
    return pow(as_tensor(base, a), a)


# ------------------------------------------------------------------ unary math
def _exp_vjp(g, out, a):
    return (g * out,)


def exp(a) -> Tensor:
    a = as_tensor(a)
    return _make(np.exp(a.data), (a,), _exp_vjp)


def _log_vjp(g, out, a):
    return (g / a,)


def log(a) -> Tensor:
    a = as_tensor(a)
    return _make(np.log(a.data), (a,), _log_vjp)


def _log1p_vjp(g, out, a):
    return (g / (a + 1),)


def log1p(a) -> Tensor:
    a = as_tensor(a)
    return _make(np.log1p(a.data), (a,), _log1p_vjp)


def _expm1_vjp(g, out, a):
    return (g * (out + 1),)


def expm1(a) -> Tensor:
    a = as_tensor(a)
    return _make(np.expm1(a.data), (a,), _expm1_vjp)


def _sqrt_vjp(g, out, a):
    return (g * 0.5 / out,)


def sqrt(a) -> Tensor:
    a = as_tensor(a)
    return _make(np.sqrt(a.data), (a,), _sqrt_vjp)


def _abs_vjp(g, out, a):
    return (g * np.sign(_plain(a)),)  # subgradient 0 at 0 (PyTorch)


def abs(a) -> Tensor:  # noqa: A001
    a = as_tensor(a)
    return _make(np.abs(a.data), (a,), _abs_vjp)


def _sin_vjp(g, out, a):
    return (g * _cos(a),)


def sin(a) -> Tensor:
    a = as_tensor(a)
    return _make(np.sin(a.data), (a,), _sin_vjp)


def _cos_vjp(g, out, a):
    return (-g * _sin(a),)


def cos(a) -> Tensor:
    a = as_tensor(a)
    return _make(np.cos(a.data), (a,), _cos_vjp)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)  # a Python float: keeps float32 float32


def _erf_vjp(g, out, a):
    return (g * _TWO_OVER_SQRT_PI * _exp(-(a * a)),)


def erf(a) -> Tensor:
    """Gauss error function; d/dx = 2/√π·exp(−x²)."""
    a = as_tensor(a)
    return _make(_sp.erf(a.data), (a,), _erf_vjp)


def clip(a, min=None, max=None) -> Tensor:  # noqa: A002
    """Clamp to [min, max]; gradient 1 inside the closed interval, 0 outside (PyTorch clamp)."""
    a = as_tensor(a)
    lo = -np.inf if min is None else min
    hi = np.inf if max is None else max

    def vjp(g, out, x):
        xd = _plain(x)
        return (g * ((xd >= lo) & (xd <= hi)),)

    return _make(np.clip(a.data, lo, hi).astype(a.dtype, copy=False), (a,), vjp)


clamp = clip


def _maximum_vjp(g, out, a, b):
    ad, bd = _plain(a), _plain(b)
    w = (ad > bd) + 0.5 * (ad == bd)  # ties split evenly (PyTorch)
    return unbroadcast(g * w.astype(ad.dtype), a.shape), unbroadcast(g * (1 - w).astype(ad.dtype), b.shape)


def maximum(a, b) -> Tensor:
    """Elementwise max; at ties each operand gets half of the gradient (as PyTorch)."""
    a, b = operands(a, b)
    return _make(np.maximum(a.data, b.data), (a, b), _maximum_vjp)


def _minimum_vjp(g, out, a, b):
    ad, bd = _plain(a), _plain(b)
    w = (ad < bd) + 0.5 * (ad == bd)
    return unbroadcast(g * w.astype(ad.dtype), a.shape), unbroadcast(g * (1 - w).astype(ad.dtype), b.shape)


def minimum(a, b) -> Tensor:
    """Elementwise min; at ties each operand gets half of the gradient (as PyTorch)."""
    a, b = operands(a, b)
    return _make(np.minimum(a.data, b.data), (a, b), _minimum_vjp)


def where(cond, a, b) -> Tensor:
    """Select a where cond else b (broadcasting); cond receives no gradient."""
    c = _plain(cond) if not isinstance(cond, Tensor) else cond.data
    c = np.asarray(c, dtype=bool)
    a, b = operands(a, b)

    def vjp(g, out, x, y):
        return unbroadcast(g * c, x.shape), unbroadcast(g * ~c, y.shape)

    return _make(np.where(c, a.data, b.data), (a, b), vjp)


def _nograd(name: str, hint: str):
    def vjp(*_):
        raise RuntimeError(f"{name} has no gradient (it is piecewise constant): {hint}")

    vjp.__name__ = f"{name}_backward"
    return vjp


_sign_vjp = _nograd("sign", "a network trained by backprop needs a smooth unit such as tanh; "
                    "perceptron learning uses its own update rule (chainrule.classic.Perceptron)")
_step_vjp = _nograd("step", "use sigmoid for gradient training, or the perceptron rule for threshold units")


def sign(a) -> Tensor:
    """sign(x) ∈ {−1, 0, 1}; asking for its gradient raises (no useful gradient)."""
    a = as_tensor(a)
    return _make(np.sign(a.data), (a,), _sign_vjp)


def step(a) -> Tensor:
    """Heaviside step 1[x > 0] (threshold unit); asking for its gradient raises."""
    a = as_tensor(a)
    return _make((a.data > 0).astype(a.dtype), (a,), _step_vjp)


# ------------------------------------------------------------------ dispatch helpers for rules
def _exp(x):
    return exp(x) if is_t(x) else np.exp(x)


def _log(x):
    return log(x) if is_t(x) else np.log(x)


def _sin(x):
    return sin(x) if is_t(x) else np.sin(x)


def _cos(x):
    return cos(x) if is_t(x) else np.cos(x)


def _erf(x):
    return erf(x) if is_t(x) else _sp.erf(x)
