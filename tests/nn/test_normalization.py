"""LayerNorm, weight normalization (with the corrected gradient), the invariance table, and the SELU
moment map of self-normalizing networks.

spec: NORM-LAYERNORM NORM-WEIGHTNORM NORM-INVARIANCES NORM-SNN-MAP ACT-SELU
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import compare_with_torch, torch_or_skip
from scipy import integrate

import chainrule as cr
from chainrule import nn, ops
from chainrule.nn import snn
from chainrule.nn.normalization import layer_norm, norm_except_dim, remove_weight_norm, weight_norm, weight_norm_fn

torch = torch_or_skip()
TF = torch.nn.functional


# ------------------------------------------------------------------ LayerNorm
@pytest.mark.parametrize("shape,ns", [((6, 5), (5,)), ((3, 4, 5), (5,)), ((3, 4, 5), (4, 5)), ((1, 7), (7,))])
def test_layer_norm_matches_torch(shape, ns):
    # spec: NORM-LAYERNORM forward and backward (x, γ, β) within 1e-10 of PyTorch in float64
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 1
    w = rng.standard_normal(ns)
    b = rng.standard_normal(ns)
    compare_with_torch(lambda a, g, c: layer_norm(a, ns, g, c, 1e-5), lambda a, g, c: TF.layer_norm(a, ns, g, c, 1e-5),
                       [x, w, b])
    compare_with_torch(lambda a: layer_norm(a, ns, eps=1e-3), lambda a: TF.layer_norm(a, ns, eps=1e-3), [x])


def test_layer_norm_module_matches_torch_module():
    x = np.random.default_rng(1).standard_normal((4, 3, 6))
    m = nn.LayerNorm(6, dtype=np.float64)
    tm = torch.nn.LayerNorm(6).double()
    with cr.no_grad():
        m.weight.data[...] = np.linspace(0.5, 2, 6)
        m.bias.data[...] = np.linspace(-1, 1, 6)
    with torch.no_grad():
        tm.weight[...] = torch.tensor(np.linspace(0.5, 2, 6))
        tm.bias[...] = torch.tensor(np.linspace(-1, 1, 6))
    xc, xt = cr.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = m(xc), tm(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    go = np.random.default_rng(2).standard_normal(y.shape)
    y.backward(cr.Tensor(go))
    yt.backward(torch.tensor(go))
    np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.weight.grad.data, tm.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.bias.grad.data, tm.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert nn.LayerNorm(6, elementwise_affine=False).num_parameters() == 0
    assert nn.LayerNorm(6, bias=False).bias is None


def test_layer_norm_gradcheck_and_gradgradcheck():
    # spec: NORM-LAYERNORM gradcheck (and second derivatives through the fused rule)
    rng = np.random.default_rng(3)
    x = cr.Tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = cr.Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    b = cr.Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    f = lambda a, g, c: layer_norm(a, (2, 4), g, c)
    assert cr.gradcheck(f, [x, w, b])
    assert cr.gradgradcheck(f, [x, w, b])
    assert cr.gradgradcheck(lambda a: layer_norm(a, 4), [x])


def test_layer_norm_backward_formula():
    # spec: NORM-LAYERNORM ∂L/∂s = (h − mean(h) − ŝ·mean(h⊙ŝ))/√(σ² + ε), h = γ⊙∂L/∂y
    rng = np.random.default_rng(4)
    s = rng.standard_normal((5, 8))
    gam = rng.standard_normal(8)
    gy = rng.standard_normal((5, 8))
    eps = 1e-5
    x = cr.Tensor(s, requires_grad=True)
    layer_norm(x, 8, cr.Tensor(gam), None, eps).backward(cr.Tensor(gy))
    mu, var = s.mean(1, keepdims=True), s.var(1, keepdims=True)
    sh = (s - mu) / np.sqrt(var + eps)
    h = gam * gy
    ref = (h - h.mean(1, keepdims=True) - sh * (h * sh).mean(1, keepdims=True)) / np.sqrt(var + eps)
    np.testing.assert_allclose(x.grad.data, ref, rtol=1e-12, atol=1e-14)


def test_layer_norm_statistics_batch_one_train_eval_and_constant_rows():
    # spec: NORM-LAYERNORM per-sample mean 0, variance ≈ 1; batch 1; train = eval; erratum N18 (ε: constant s finite)
    m = nn.LayerNorm(50, dtype=np.float64)
    x = cr.Tensor(np.random.default_rng(5).standard_normal((8, 50)) * 7 + 3)
    y = m(x).data
    np.testing.assert_allclose(y.mean(1), 0, atol=1e-14)
    np.testing.assert_allclose(y.var(1), 1, rtol=1e-5)
    np.testing.assert_allclose(m(x[2:3]).data, y[2:3], atol=1e-15)  # per sample: independent of the batch
    m.eval()
    np.testing.assert_array_equal(m(x).data, y)
    c = cr.Tensor(np.full((2, 50), 4.2), requires_grad=True)
    out = m(c)
    out.sum().backward()
    assert np.all(np.isfinite(out.data)) and np.abs(out.data).max() < 1e-9 and np.all(np.isfinite(c.grad.data))
    y32 = nn.LayerNorm(50)(cr.Tensor(x.data.astype(np.float32)))
    assert y32.dtype == np.float32
    with pytest.raises(ValueError, match="normalized_shape"):
        m(cr.Tensor(np.zeros((3, 49))))


# ------------------------------------------------------------------ weight normalization
def _wn_autodiff(v, g, dim=0):
    """w = g·v/‖v‖ from primitive ops (autodiff reference)."""
    axes = tuple(i for i in range(v.ndim) if i != dim)
    n = ops.sqrt(ops.sum(v * v, axes, keepdims=True))
    return ops.reshape(g, n.shape) * v / n


@pytest.mark.parametrize("shape,dim", [((4, 6), 0), ((5, 3, 2, 2), 0), ((4, 6), 1), ((3, 4, 5), 2)])
def test_weight_norm_fn_matches_torch(shape, dim):
    # spec: NORM-WEIGHTNORM both gradients = autodiff through w (PyTorch-verified)
    rng = np.random.default_rng(6)
    v = rng.standard_normal(shape)
    gshape = tuple(s if i == dim else 1 for i, s in enumerate(shape))
    g = rng.uniform(0.5, 2, size=gshape)
    compare_with_torch(lambda a, b: weight_norm_fn(a, b, dim), lambda a, b: torch._weight_norm(a, b, dim), [v, g])


def test_weight_norm_gradient_erratum_and_properties():
    # spec: NORM-WEIGHTNORM erratum N19: ∇_v L = (g/‖v‖)(I − vvᵀ/‖v‖²)∇_w L, not only its diagonal;
    # vᵀ∇_v L = 0; one SGD step grows ‖v‖² by η²‖∇_v L‖²; row norms of w equal g
    rng = np.random.default_rng(7)
    v0, g0 = rng.standard_normal((3, 5)), rng.uniform(0.5, 2, (3, 1))
    gw = rng.standard_normal((3, 5))
    v, g = cr.Tensor(v0.copy(), requires_grad=True), cr.Tensor(g0.copy(), requires_grad=True)
    w = weight_norm_fn(v, g)
    np.testing.assert_allclose(np.linalg.norm(w.data, axis=1), g0.ravel(), rtol=1e-14)
    w.backward(cr.Tensor(gw))
    va, ga = cr.Tensor(v0.copy(), requires_grad=True), cr.Tensor(g0.copy(), requires_grad=True)
    _wn_autodiff(va, ga).backward(cr.Tensor(gw))
    np.testing.assert_allclose(v.grad.data, va.grad.data, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g.grad.data, ga.grad.data, rtol=1e-12, atol=1e-15)
    nv = np.linalg.norm(v0, axis=1, keepdims=True)
    proj = (g0 / nv) * (gw - v0 * (v0 * gw).sum(1, keepdims=True) / nv ** 2)
    np.testing.assert_allclose(v.grad.data, proj, rtol=1e-12, atol=1e-15)
    notes = (g0 / nv) * (1 - v0 ** 2 / nv ** 2) * gw  # the notes' diagonal-only formula
    assert np.abs(notes - v.grad.data).max() > 1e-3
    np.testing.assert_allclose((v0 * v.grad.data).sum(1), 0, atol=1e-14)
    eta = 0.3
    v1 = v0 - eta * v.grad.data
    np.testing.assert_allclose((v1 ** 2).sum(1), (v0 ** 2).sum(1) + eta ** 2 * (v.grad.data ** 2).sum(1), rtol=1e-13)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_fn_gradcheck_gradgradcheck(dim):
    rng = np.random.default_rng(8)
    v = cr.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    gshape = () if dim is None else ((3, 1) if dim == 0 else (1, 4))
    g = cr.Tensor(rng.uniform(0.5, 2, size=gshape), requires_grad=True)
    assert cr.gradcheck(lambda a, b: weight_norm_fn(a, b, dim), [v, g])
    assert cr.gradgradcheck(lambda a, b: weight_norm_fn(a, b, dim), [v, g])


def test_weight_norm_module_matches_torch():
    # spec: NORM-WEIGHTNORM weight_norm(module, name='weight', dim=0): weight_g (out, 1) = ‖w‖, weight_v = w
    lin = nn.Linear(5, 3, dtype=np.float64, generator=cr.Generator(0))
    W0, b0 = lin.weight.data.copy(), lin.bias.data.copy()
    weight_norm(lin)
    assert [k for k, _ in lin.named_parameters()] == ["bias", "weight_g", "weight_v"]
    assert lin.weight_g.shape == (3, 1)
    np.testing.assert_allclose(lin.weight_g.data.ravel(), np.linalg.norm(W0, axis=1), rtol=1e-15)
    np.testing.assert_array_equal(lin.weight_v.data, W0)
    np.testing.assert_allclose(lin.weight.data, W0, rtol=1e-15)
    tl = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        tl.weight[...] = torch.tensor(W0)
        tl.bias[...] = torch.tensor(b0)
    with pytest.warns(FutureWarning):
        tl = torch.nn.utils.weight_norm(tl)
    x = np.random.default_rng(1).standard_normal((7, 5))
    xc, xt = cr.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = lin(xc), tl(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    go = np.random.default_rng(2).standard_normal(y.shape)
    y.backward(cr.Tensor(go))
    yt.backward(torch.tensor(go))
    for a, t in [(xc.grad, xt.grad), (lin.weight_g.grad, tl.weight_g.grad), (lin.weight_v.grad, tl.weight_v.grad),
                 (lin.bias.grad, tl.bias.grad)]:
        np.testing.assert_allclose(a.data, t.numpy(), rtol=1e-10, atol=1e-12)
    assert set(lin.state_dict()) == {"bias", "weight_g", "weight_v"}


def test_weight_norm_training_updates_g_and_v_and_remove():
    lin = nn.Linear(4, 2, dtype=np.float64, generator=cr.Generator(3))
    weight_norm(lin)
    opt = cr.optim.SGD(lin.parameters(), lr=0.1)
    rng = np.random.default_rng(4)
    x, y = cr.Tensor(rng.standard_normal((64, 4))), cr.Tensor(rng.standard_normal((64, 2)))
    g0, v0 = lin.weight_g.data.copy(), lin.weight_v.data.copy()
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = ((lin(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]
    assert np.abs(lin.weight_g.data - g0).max() > 1e-3 and np.abs(lin.weight_v.data - v0).max() > 1e-3
    # ‖v‖ never shrinks under plain GD (vᵀ∇_vL = 0)
    assert np.all(np.linalg.norm(lin.weight_v.data, axis=1) >= np.linalg.norm(v0, axis=1))
    w = lin.weight_g.data * lin.weight_v.data / np.linalg.norm(lin.weight_v.data, axis=1, keepdims=True)
    yb = lin(x).data
    remove_weight_norm(lin)
    assert [k for k, _ in lin.named_parameters()] == ["bias", "weight"]
    np.testing.assert_allclose(lin.weight.data, w, rtol=1e-14)
    np.testing.assert_allclose(lin(x).data, yb, rtol=1e-13)


def test_weight_norm_survives_deepcopy_and_stacks():
    import copy
    lin = weight_norm(nn.Linear(3, 2, dtype=np.float64, generator=cr.Generator(5)))
    assert isinstance(lin, nn.Linear) and type(lin).__name__ == "Linear"
    x = cr.Tensor(np.random.default_rng(6).standard_normal((4, 3)))
    y0 = lin(x).data.copy()
    c = copy.deepcopy(lin)
    with cr.no_grad():
        c.weight_g.data[...] *= 2  # the copy has its own parameters and recomputes its own weight
    np.testing.assert_array_equal(lin(x).data, y0)
    np.testing.assert_allclose(c(x).data - c.bias.data, 2 * (y0 - lin.bias.data), rtol=1e-13)
    weight_norm(lin, "bias", dim=None)
    assert [k for k, _ in lin.named_parameters()] == ["weight_g", "weight_v", "bias_g", "bias_v"]
    np.testing.assert_allclose(lin(x).data, y0, rtol=1e-13)
    remove_weight_norm(lin, "bias")
    remove_weight_norm(lin)
    assert type(lin) is nn.Linear
    np.testing.assert_allclose(lin(x).data, y0, rtol=1e-13)


def test_weight_norm_errors():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="no parameter"):
        weight_norm(lin, "kernel")
    weight_norm(lin)
    with pytest.raises(RuntimeError, match="already applied"):
        weight_norm(lin)
    z = nn.Linear(3, 2)
    nn.init.zeros_(z.weight)
    with pytest.raises(ValueError, match="all-zero row"):
        weight_norm(z)
    with pytest.raises(ValueError, match="must have shape"):
        weight_norm_fn(cr.Tensor(np.ones((3, 4))), cr.Tensor(np.ones((4, 1))))
    np.testing.assert_allclose(norm_except_dim(np.ones((3, 4)), 0).ravel(), 2.0)


# ------------------------------------------------------------------ invariance table
def _bn(s):  # batch normalization of pre-activations, training mode, ε = 0, no affine
    return (s - s.mean(0)) / s.std(0)


def _ln(s):
    return layer_norm(cr.Tensor(s), s.shape[-1], eps=0.0).data


def _transforms(rng, J, N, I):
    """The six transforms of Ba et al.'s table, each mapping (W, X) ↦ (W', X')."""
    d = 3.7
    gam = rng.standard_normal(J)
    rows = rng.uniform(0.5, 3, (I, 1))
    cases = rng.uniform(0.5, 3, (N, 1))
    return {
        "weight matrix re-scaling": lambda W, X: (d * W, X),
        "weight matrix re-centering": lambda W, X: (W + gam, X),
        "weight vector re-scaling": lambda W, X: (rows * W, X),
        "dataset re-scaling": lambda W, X: (W, d * X),
        "dataset re-centering": lambda W, X: (W, X + gam),
        "single training case re-scaling": lambda W, X: (W, cases * X),
    }


TABLE = {  # spec: NORM-INVARIANCES (BN, WN, LN, SELU net)
    "weight matrix re-scaling": (True, True, True, False),
    "weight matrix re-centering": (False, False, True, False),
    "weight vector re-scaling": (True, True, False, False),
    "dataset re-scaling": (True, False, True, False),
    "dataset re-centering": (True, False, False, False),
    "single training case re-scaling": (False, False, True, False),
}


def _selu_net_out(W, X):
    h = ops.selu(cr.Tensor(X @ W.T)).data
    W2 = np.random.default_rng(99).standard_normal((4, W.shape[0])) / math.sqrt(W.shape[0])
    return ops.selu(cr.Tensor(h @ W2.T)).data


@pytest.mark.parametrize("transform", list(TABLE))
def test_invariance_table(transform):
    """Each "yes" holds to 1e-10 under random transforms; each "no" breaks by > 1e-3.
    BN/LN normalise s = XWᵀ (W transformed); WN computes s = X wᵀ with w = g·v/‖v‖ (v transformed, g fixed).
    spec: NORM-INVARIANCES"""
    rng = np.random.default_rng(10)
    N, J, I = 16, 6, 5
    W, X = rng.standard_normal((I, J)), rng.standard_normal((N, J))
    g = cr.Tensor(rng.uniform(0.5, 2, (I, 1)))
    T = _transforms(rng, J, N, I)[transform]
    W2, X2 = T(W, X)
    methods = [
        lambda W_, X_: _bn(X_ @ W_.T),
        lambda W_, X_: X_ @ weight_norm_fn(cr.Tensor(W_), g).data.T,
        lambda W_, X_: _ln(X_ @ W_.T),
        _selu_net_out,
    ]
    for method, expected in zip(methods, TABLE[transform]):
        a, b = method(W, X), method(W2, X2)
        diff = np.abs(a - b).max()
        if expected:
            assert diff < 1e-10, (transform, diff)
        else:
            assert diff > 1e-3, (transform, diff)


def test_invariance_with_library_batchnorm_if_available():
    BN = getattr(nn, "BatchNorm1d", None)
    if BN is None:
        pytest.skip("chainrule.nn.BatchNorm1d not available yet")
    rng = np.random.default_rng(11)
    W, X = rng.standard_normal((5, 6)), rng.standard_normal((16, 6))
    bn = BN(5, eps=0.0, affine=False).to(np.float64)
    bn.train()
    ref = bn(cr.Tensor(X @ W.T)).data
    np.testing.assert_allclose(ref, _bn(X @ W.T), rtol=1e-9, atol=1e-9)
    # spec: NORM-BATCHNORM (02) ε = 0: BN(ReLU(X(cW)ᵀ)) = BN(ReLU(XWᵀ)) for c = 7.3
    a = bn(ops.relu(cr.Tensor(X @ (7.3 * W).T))).data
    b = bn(ops.relu(cr.Tensor(X @ W.T))).data
    np.testing.assert_allclose(a, b, atol=1e-10)


# ------------------------------------------------------------------ SELU moment map (self-normalizing nets)
def test_moment_map_values():
    # spec: NORM-SNN-MAP computed: (0.3, 1.4, 0.2, 0.9) → (0.0810753347140988, 1.21965044949231);
    # (−0.5, 0.7, 1, 1.1) → (−0.500613412323824, 0.653663451590468); (0, 1, 0, 1) → (0, 1)
    m, v = snn.moment_map(0.3, 1.4, 0.2, 0.9)
    assert m == pytest.approx(0.0810753347140988, rel=1e-12) and v == pytest.approx(1.21965044949231, rel=1e-12)
    m, v = snn.moment_map(-0.5, 0.7, 1, 1.1)
    assert m == pytest.approx(-0.500613412323824, rel=1e-12) and v == pytest.approx(0.653663451590468, rel=1e-12)
    m, v = snn.moment_map(0, 1, 0, 1)
    assert abs(m) < 1e-15 and v == pytest.approx(1, rel=1e-15)


@pytest.mark.parametrize("args", [(0.3, 1.4, 0.2, 0.9), (-0.5, 0.7, 1, 1.1), (1.0, 3.0, 2.0, 0.5),
                                  (-2.0, 0.2, 3.0, 1.0)])
def test_moment_map_equals_quadrature(args):
    # spec: NORM-SNN-MAP = quadrature of E[selu(s)], s ~ N(μω, ντ)
    mu, nu, om, tau = args
    a, c = mu * om, nu * tau
    dens = lambda s: math.exp(-(s - a) ** 2 / (2 * c)) / math.sqrt(2 * math.pi * c)
    f = lambda s: float(ops.selu(cr.Tensor(np.array([s]))).data[0])
    lo, hi = a - 40 * math.sqrt(c), a + 40 * math.sqrt(c)
    m1 = sum(integrate.quad(lambda s: f(s) * dens(s), p, q, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
             for p, q in [(lo, 0), (0, hi)])
    m2 = sum(integrate.quad(lambda s: f(s) ** 2 * dens(s), p, q, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
             for p, q in [(lo, 0), (0, hi)])
    m, v = snn.moment_map(mu, nu, om, tau)
    assert m == pytest.approx(m1, rel=1e-9, abs=1e-12)
    assert v == pytest.approx(m2 - m1 ** 2, rel=1e-9, abs=1e-12)


def test_moment_map_matches_simulation():
    # one SELU unit with Gaussian inputs x_j ~ N(μ, ν): s = Σ w_j x_j ~ N(μω, ντ) exactly
    rng = np.random.default_rng(12)
    w = rng.standard_normal(40) * 0.2
    om, tau = w.sum(), (w ** 2).sum()
    x = 0.4 + math.sqrt(1.6) * rng.standard_normal((200_000, 40))
    y = ops.selu(cr.Tensor(x @ w)).data
    m, v = snn.moment_map(0.4, 1.6, om, tau)
    assert y.mean() == pytest.approx(m, abs=0.01) and y.var() == pytest.approx(v, rel=0.01)


def test_moment_map_jacobian_and_fixed_point():
    # spec: NORM-SNN-MAP Jacobian at (0, 1), ω = 0, τ = 1: [[0, 0.0888347551068901], [0, 0.782647883196813]],
    # spectral norm 0.7876733 < 1 (erratum N21: J₁₂ = 0.088835)
    J = snn.jacobian(0.0, 1.0, 0.0, 1.0)
    np.testing.assert_allclose(J, [[0, 0.0888347551068901], [0, 0.782647883196813]], rtol=1e-12, atol=1e-15)
    assert np.linalg.norm(J, 2) == pytest.approx(0.7876733, abs=1e-7)
    # cross-check against central differences of the map
    h = 1e-6
    Jn = np.array([[(snn.moment_map(h, 1)[i] - snn.moment_map(-h, 1)[i]) / (2 * h),
                    (snn.moment_map(0, 1 + h)[i] - snn.moment_map(0, 1 - h)[i]) / (2 * h)] for i in range(2)])
    np.testing.assert_allclose(J, Jn, atol=1e-8)
    # the fixed point attracts: iterating from (0.5, 2.0) converges to (0, 1)
    traj = snn.iterate_moments(0.5, 2.0, 60)
    np.testing.assert_allclose(traj[-1], [0, 1], atol=1e-6)
    assert abs(traj[1][1] - 1) < abs(traj[0][1] - 1)


def test_solve_alpha_lambda_returns_selu_constants():
    # spec: NORM-SNN-MAP solve_alpha_lambda returns ACT-SELU's constants (1e-15)
    alpha, lam = snn.solve_alpha_lambda(0.0, 1.0)
    assert alpha == pytest.approx(snn.SELU_ALPHA, rel=1e-15, abs=0)
    assert lam == pytest.approx(snn.SELU_SCALE, rel=1e-15, abs=0)
    a2, l2 = snn.solve_alpha_lambda(0.0, 2.0)  # another fixed point needs other constants
    m, v = snn.moment_map(0.0, 2.0, 0.0, 1.0, l2, a2)
    assert abs(m) < 1e-13 and v == pytest.approx(2.0, rel=1e-13)
    assert abs(a2 - snn.SELU_ALPHA) > 1e-3
