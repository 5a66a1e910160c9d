"""Shared fixtures of the optimizer tests: the spec's quadratic Q and Rosenbrock ρ, closures, runners."""

from __future__ import annotations

import numpy as np

import chainrule as cr

A_Q = np.array([[3.0, 1.0], [1.0, 2.0]])
B_Q = np.array([1.0, -1.0])
W0_Q = (1.0, 1.0)
WSTAR_Q = np.array([0.6, -0.8])
W0_RHO = (-1.5, 2.0)


def Q(w: cr.Tensor) -> cr.Tensor:
    """Q(w) = ½wᵀAw − bᵀw, A = [[3,1],[1,2]], b = (1, −1); minimum (0.6, −0.8), ∇Q(1, 1) = (3, 4)."""
    return 0.5 * (w * (cr.Tensor(A_Q) @ w)).sum() - (cr.Tensor(B_Q) * w).sum()


def rho(w: cr.Tensor) -> cr.Tensor:
    """Rosenbrock ρ(x, y) = (1 − x)² + 100(y − x²)²."""
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


def rho_residuals(w: cr.Tensor) -> cr.Tensor:
    """ρ = ‖r‖² with r = (10(y − x²), 1 − x) (GN/LM minimise ½‖r‖²)."""
    return cr.stack([10 * (w[1] - w[0] ** 2), 1 - w[0]])


def param(w0) -> cr.Tensor:
    return cr.Tensor(np.array(w0, dtype=np.float64), requires_grad=True)


def make_closure(opt, f, w, backward: bool = True):
    def closure():
        opt.zero_grad()
        loss = f(w)
        if backward:
            loss.backward()
        return loss
    return closure


# optimizers whose closure returns the loss/residuals without calling backward()
NO_BACKWARD = ("Newton", "GaussNewton", "LevenbergMarquardt")


def run(make_opt, f, w0, n: int, residual: bool = False) -> list[np.ndarray]:
    """Iterates w after each of n steps (a closure is always passed)."""
    w = param(w0)
    opt = make_opt([w])
    backward = type(opt).__name__ not in NO_BACKWARD
    closure = make_closure(opt, f, w, backward)
    out = []
    for _ in range(n):
        opt.step(closure)
        out.append(w.data.copy())
    return out
