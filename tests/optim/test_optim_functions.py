"""The optimizer test functions and the non-convex Gabor landscape (different starts → different minima)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import functions as F


def _t(x):
    return cr.Tensor(np.array(x, dtype=np.float64), requires_grad=True)


def test_function_minima_and_residual_forms():
    assert float(F.rosenbrock(_t((1.0, 1.0)))) == 0.0
    assert float(F.beale(_t((3.0, 0.5)))) == pytest.approx(0.0, abs=1e-30)
    assert float(F.quadratic(_t((0.6, -0.8)))) == pytest.approx(-0.7)
    for w in [(-1.5, 2.0), (0.3, -0.7)]:
        assert float(F.rosenbrock(_t(w))) == pytest.approx(float((F.rosenbrock_residuals(_t(w)) ** 2).sum()), rel=1e-14)
        r = F.quadratic_residuals(_t(w))
        assert 0.5 * float((r * r).sum()) - float(F.quadratic(_t(w))) == pytest.approx(
            0.5 * float((F.quadratic_residuals(_t((0.6, -0.8))) ** 2).sum()) + 0.7, abs=1e-14)
    cr.gradcheck(lambda w: F.beale(w), [_t((1.2, 0.3))])
    cr.gradcheck(lambda w: F.ill_conditioned_quadratic(w), [_t((1.2, 0.3))])


def _gabor_gd(steps):
    x, y = F.gabor_data(n=100, noise=0.1, seed=0)
    grid = np.array([[a, b] for a in np.linspace(-10, 10, 5) for b in np.linspace(2.5, 47.5, 5)])
    phi = cr.Tensor(grid.copy(), requires_grad=True)
    opt = optim.GD([phi], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        F.gabor_loss(x, y, phi).sum().backward()  # rows are independent: GD on each start at once
        opt.step()
    final = F.gabor_loss(x, y, phi).data
    l_star = float(F.gabor_loss(x, y, cr.Tensor(np.array([0.0, 25.0]))).data)
    return final, l_star, phi.data


def test_gabor_landscape_has_several_minima_quick():
    # spec: OPT-GABOR-LANDSCAPE  full-batch GD, lr 0.05, 5×5 grid of starts (2,000 steps here)
    final, l_star, _ = _gabor_gd(2000)
    assert final.max() - final.min() > 1e-3
    assert len(np.unique(np.round(final, 3))) >= 2
    assert final.min() <= 1.5 * l_star


@pytest.mark.slow
def test_gabor_landscape_full_protocol():
    # spec: OPT-GABOR-LANDSCAPE  20,000 steps: ≥ 2 final losses differing by > 1e-3; lowest ≤ 1.5·L(φ*)
    final, l_star, phi = _gabor_gd(20000)
    assert len(np.unique(np.round(final, 3))) >= 2
    assert final.min() <= 1.5 * l_star
    assert np.isfinite(phi).all()
