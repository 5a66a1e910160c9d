"""Universal approximation, constructively: shallow networks whose weights are *assigned* so that they
approximate a given 1-D function, plus the trained counterpart.  (spec: THEORY-UAT-DEMO)

Statements.  Cybenko: for a continuous discriminatory σ, sums G(x) = Σ_{j=1}^{N} α_j σ(y_jᵀx + θ_j)
are dense in C([0, 1]^n) (erratum: the notes write y_iᵀ).  Leshno et al.: for continuous σ,
span{σ(w·x − b)} is dense in C(ℝ^d) uniformly on compacts iff σ is not a polynomial.  Proof idea:
pick x₀ with σ^{(k)}(−x₀) ≠ 0 for all k; σ(hx − x₀) → σ(−x₀) gives constants,
[σ((λ + h)x − x₀) − σ(λx − x₀)]/h → xσ'(λx − x₀) gives x (see :func:`derivative_trick_network`),
higher differences give monomials, then Stone–Weierstrass; ridge functions lift to ℝ^d.  Barron:
n sigmoid units reach an L² error ≤ c/n with c = (2rC_f)² depending on f and r (not on n), while n
fixed basis functions cannot beat order (1/n)^{2/d}.  A polynomial σ of degree r gives polynomials
of degree ≤ r with one hidden layer (≤ r^{L−1} in general).  The approximating net needs a *linear*
output unit.

Constructions on [lo, hi] with h = (hi − lo)/n, x_j = lo + jh, all as Linear(1, n) → activation →
Linear(n, 1) Modules:

1. steps (Heaviside or steep sigmoid, slope s = 20n/(hi − lo)): thresholds t_j = x_j − h/2,
   G(x) = f(x₀) + Σ_j [f(x_j) − f(x_{j−1})]·H(x − t_j); sup error ≤ ω(f, h) (≤ Kh/2 + ... for
   Lipschitz K; the spec's bounds: Heaviside ≤ K/(2n), sigmoid ≤ K/n on [0, 1]);
2. ReLU interpolant: slopes m_j = (f(x_{j+1}) − f(x_j))/h,
   G(x) = f(x₀) + m₀ReLU(x − x₀) + Σ_{j=1}^{n−1}(m_j − m_{j−1})ReLU(x − x_j), the piecewise-linear
   interpolant (error ≤ h²·max|f''|/8);
3. derivative trick: two sigmoid units [σ((λ + h)x − x₀) − σ(λx − x₀)]/h ≈ xσ'(−x₀).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import nn, optim
from ..backend import Generator
from ..tensor import Tensor, no_grad


def _shallow(n: int, act: nn.Module, dtype) -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, n, dtype=dtype), act, nn.Linear(n, 1, dtype=dtype))


def _assign(net: nn.Sequential, w1, b1, w2, b2) -> nn.Sequential:
    with no_grad():
        net[0].weight.data[...] = np.asarray(w1, dtype=net[0].weight.dtype).reshape(-1, 1)
        net[0].bias.data[...] = b1
        net[2].weight.data[...] = np.asarray(w2).reshape(1, -1)
        net[2].bias.data[...] = b2
    return net


def _grid(f: Callable, n: int, lo: float, hi: float):
    if int(n) != n or n < 1:
        raise ValueError(f"n (hidden units) must be a positive integer, got {n!r}")
    h = (hi - lo) / n
    xs = lo + h * np.arange(n + 1)
    return h, xs, np.asarray(f(xs), dtype=np.float64)


def step_network(f: Callable, n: int, lo: float = 0.0, hi: float = 1.0, activation: str = "heaviside",
                 slope: float | None = None, dtype=np.float64) -> nn.Sequential:
    """n step units: G(x) = f(x₀) + Σ_j [f(x_j) − f(x_{j−1})]·H(s(x − t_j)), t_j = x_j − h/2.

    ``activation='heaviside'`` uses the exact step (``nn.Step``, H(z) = 1[z > 0], weights 1);
    ``'sigmoid'`` the steep logistic σ(s(x − t_j)), s = ``slope`` (default 20n/(hi − lo)).
    """
    h, xs, fx = _grid(f, n, lo, hi)
    t = xs[1:] - h / 2
    if activation == "heaviside":
        s, act = 1.0, nn.Step()
    elif activation == "sigmoid":
        s, act = (20.0 * n / (hi - lo) if slope is None else float(slope)), nn.Sigmoid()
    else:
        raise ValueError(f"activation must be 'heaviside' or 'sigmoid', got {activation!r}")
    return _assign(_shallow(n, act, dtype), np.full(n, s), -s * t, np.diff(fx), fx[0])


def relu_interpolant_network(f: Callable, n: int, lo: float = 0.0, hi: float = 1.0,
                             dtype=np.float64) -> nn.Sequential:
    """n ReLU units whose output is the piecewise-linear interpolant of f at x₀..x_n (joints at
    x_j = −bias/weight):  G(x) = f(x₀) + m₀ReLU(x − x₀) + Σ_{j≥1}(m_j − m_{j−1})ReLU(x − x_j)."""
    h, xs, fx = _grid(f, n, lo, hi)
    m = np.diff(fx) / h
    coef = np.concatenate([[m[0]], np.diff(m)])
    return _assign(_shallow(n, nn.ReLU(), dtype), np.ones(n), -xs[:-1], coef, fx[0])


def derivative_trick_network(lam: float = 1e-3, h: float = 1e-3, x0: float = 1.0,
                             dtype=np.float64) -> nn.Sequential:
    """Two sigmoid units computing [σ((λ + h)x − x₀) − σ(λx − x₀)]/h → xσ'(λx − x₀) ≈ xσ'(−x₀):
    a finite difference in the *weight* turns a sigmoid layer into the monomial x (Leshno's proof)."""
    return _assign(_shallow(2, nn.Sigmoid(), dtype), [lam + h, lam], [-x0, -x0], [1.0 / h, -1.0 / h], 0.0)


def sup_error(model, f: Callable, lo: float = 0.0, hi: float = 1.0, n_points: int = 100_000) -> float:
    """max |model(x) − f(x)| over ``n_points`` equally spaced points of [lo, hi]."""
    x = np.linspace(lo, hi, n_points)
    dt = next(iter(model.parameters())).dtype
    with no_grad():
        y = model(Tensor(x[:, None].astype(dt))).data[:, 0]
    return float(np.max(np.abs(y - f(x))))


def train_shallow_relu(f: Callable, width: int, n_points: int = 200, steps: int = 3000, lr: float = 1e-2,
                       seed: int = 0, lo: float = 0.0, hi: float = 1.0,
                       dtype=np.float64) -> tuple[nn.Module, float]:
    """Fit MLP(1, width, 1) with ReLU to f on ``n_points`` equally spaced points by full-batch Adam on
    the MSE; returns (model, final training MSE).  Initialisation from ``Generator(seed)``."""
    g = Generator(seed)
    net = nn.Sequential(nn.Linear(1, width, dtype=dtype, generator=g), nn.ReLU(),
                        nn.Linear(width, 1, dtype=dtype, generator=g))
    x = np.linspace(lo, hi, n_points)
    X = Tensor(x[:, None].astype(dtype))
    Y = Tensor(np.asarray(f(x), dtype=dtype)[:, None])
    opt = optim.Adam(net.parameters(), lr=lr)
    loss = None
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(net(X), Y)
        loss.backward()
        opt.step()
    with no_grad():
        mse = float(nn.functional.mse_loss(net(X), Y).item())
    return net, mse
