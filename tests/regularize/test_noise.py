"""Noise injection and its Tikhonov equivalent.  spec: REG-NOISE, AUG-INVARIANCE"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import t64

import chainrule as cr
from chainrule import nn
from chainrule.regularize import GaussianNoise, WeightNoise, input_gradient_penalty, tikhonov_penalty, weight_noise


def test_gaussian_noise_layer_train_and_eval():
    # spec: REG-NOISE  N(0, std²) in training, identity (deterministic) in eval
    layer = GaussianNoise(0.3, generator=cr.Generator(0))
    x = cr.Tensor(np.zeros((1000, 100)))
    y = layer(x).data
    assert abs(y.std() - 0.3) < 0.003 and abs(y.mean()) < 0.003
    layer.eval()
    z = cr.Tensor(np.random.default_rng(0).standard_normal((4, 5)))
    np.testing.assert_array_equal(layer(z).data, z.data)
    np.testing.assert_array_equal(layer(z).data, layer(z).data)
    # gradient passes unchanged
    layer.train()
    x = t64(np.ones((3, 2)))
    layer(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 1.0)
    with pytest.raises(ValueError):
        GaussianNoise(-1)


def test_input_noise_linear_model_equals_ridge_monte_carlo():
    # spec: REG-NOISE  E_ε[½(y − wᵀ(x + ε))²] = ½(y − wᵀx)² + ½σ²‖w‖² (exact for a linear model);
    # X (50 × 3) standard normal, σ = 0.3, 20,000 draws
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    w = np.array([1.5, -2.0, 0.7])
    y = X @ np.array([1.0, -1.0, 0.5]) + 0.1 * rng.standard_normal(50)
    sigma = 0.3
    model = nn.Sequential(GaussianNoise(sigma, generator=cr.Generator(1)),
                          nn.Linear(3, 1, bias=False, dtype=np.float64))
    model[1].weight.data[...] = w
    Xr = cr.Tensor(np.tile(X, (400, 1)))  # 400 batches of 50 at once = 20,000 draws
    with cr.no_grad():
        r = y[None, :] - model(Xr).data.reshape(400, 50)
    mc = (0.5 * r ** 2).sum(axis=1).mean()
    analytic = (0.5 * (y - X @ w) ** 2).sum() + 50 * 0.5 * sigma ** 2 * (w @ w)
    noiseless = (0.5 * (y - X @ w) ** 2).sum()
    assert abs(mc - analytic) < 0.01 * analytic
    assert abs(mc - noiseless) > 0.05 * analytic  # the noise does change the expected loss
    # the deterministic regularizer agrees exactly: (σ²/2)Σ‖∇ₓg‖² = (σ²/2)‖w‖²
    lin = model[1]
    assert tikhonov_penalty(lin, cr.Tensor(X), sigma).item() == pytest.approx(0.5 * sigma ** 2 * (w @ w), rel=1e-12)


def test_input_noise_nonlinear_tikhonov_monte_carlo():
    # spec: REG-NOISE  at a perfect fit E[½‖y − g(x + ε)‖²] ≈ (σ²/2)Σ_k‖∇ₓg_k‖² for small σ
    g = cr.Generator(0)
    net = nn.Sequential(nn.Linear(4, 8, dtype=np.float64, generator=g), nn.Tanh(),
                        nn.Linear(8, 3, dtype=np.float64, generator=g))
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 4))
    sigma = 0.02
    with cr.no_grad():
        Y = net(cr.Tensor(X)).data
        reps = 4000
        Xn = np.tile(X, (reps, 1)) + sigma * rng.standard_normal((10 * reps, 4))
        R = Y[None] - net(cr.Tensor(Xn)).data.reshape(reps, 10, 3)
    mc = (0.5 * (R ** 2).sum(axis=2)).mean()
    tik = tikhonov_penalty(net, cr.Tensor(X), sigma).item()
    assert mc == pytest.approx(tik, rel=0.03)
    # and Σ_k‖∇ₓg_k‖² agrees with the engine's Jacobian
    J = np.stack([cr.jacobian(lambda x: net(x), cr.Tensor(X[i:i + 1])).data.reshape(3, 4) for i in range(10)])
    assert input_gradient_penalty(net, cr.Tensor(X)).item() == pytest.approx((J ** 2).sum() / 10, rel=1e-12)


def test_input_gradient_penalty_is_differentiable_in_the_weights():
    # spec: REG-NOISE  the Tikhonov term trains by double backward
    rng = np.random.default_rng(4)
    X = cr.Tensor(rng.standard_normal((5, 3)))
    W0, V0 = rng.standard_normal((4, 3)), rng.standard_normal((2, 4))

    def pen(W, V):
        return input_gradient_penalty(lambda x: cr.ops.tanh(x @ W.T) @ V.T, X)

    cr.gradcheck(pen, [t64(W0), t64(V0)])
    # training on it shrinks the input sensitivity (it does something)
    W, V = t64(W0), t64(V0)
    opt = cr.optim.SGD([W, V], lr=0.05)
    first = pen(W, V).item()
    for _ in range(50):
        opt.zero_grad()
        pen(W, V).backward()
        opt.step()
    assert pen(W, V).item() < 0.5 * first


def test_weight_noise_wrapper_gradient_at_perturbed_weights():
    # spec: REG-NOISE, AUG-INVARIANCE  fresh noise each training forward, gradient at w̃ applied to clean w,
    # inactive in eval
    lin = nn.Linear(3, 2, dtype=np.float64, generator=cr.Generator(0))
    W = lin.weight.data.copy()
    wn = WeightNoise(lin, std=0.5, generator=cr.Generator(9))
    x = cr.Tensor(np.random.default_rng(0).standard_normal((4, 3)))
    y1 = wn(x)
    y2 = wn(x)
    assert np.abs(y1.data - y2.data).max() > 1e-3  # resampled per forward
    np.testing.assert_array_equal(lin.weight.data, W)  # clean weights untouched
    wn.eval()
    np.testing.assert_allclose(wn(x).data, x.data @ W.T + lin.bias.data, rtol=1e-14)
    wn.train()
    # replay the noise of the next forward to get the expected gradient at the perturbed weights
    eps = cr.Generator(9)
    eps.normal(0, 0.5, size=W.shape, dtype=np.float64)
    eps.normal(0, 0.5, size=W.shape, dtype=np.float64)
    e3 = eps.normal(0, 0.5, size=W.shape, dtype=np.float64)
    out = wn(x)
    np.testing.assert_allclose(out.data, x.data @ (W + e3).T + lin.bias.data, rtol=1e-13)
    (out * out).sum().backward()
    expected = 2 * (x.data @ (W + e3).T + lin.bias.data).T @ x.data
    np.testing.assert_allclose(lin.weight.grad.data, expected, rtol=1e-12)
    assert lin.bias.grad is not None  # biases not perturbed but trained
    with pytest.raises(TypeError, match="wraps a Module"):
        WeightNoise(0.1)


def test_weight_noise_context_linear_model_adds_half_sigma2_x2():
    # spec: REG-NOISE  weight noise on a linear model adds ½σ²‖x‖² to ½(y − wᵀx)²
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4))
    y = 0.3
    lin = nn.Linear(4, 1, bias=False, dtype=np.float64, generator=cr.Generator(1))
    sigma = 0.2
    gen = cr.Generator(2)
    vals = []
    for _ in range(20000):
        with cr.no_grad(), weight_noise(lin, sigma, generator=gen):
            vals.append(0.5 * (y - lin(cr.Tensor(x)).item()) ** 2)
    clean = 0.5 * (y - (x @ lin.weight.data.T).item()) ** 2
    assert np.mean(vals) == pytest.approx(clean + 0.5 * sigma ** 2 * (x ** 2).sum(), rel=0.02)
    assert lin._parameters["weight"] is lin.weight and isinstance(lin.weight, nn.Parameter)  # restored
