"""Losses: PyTorch forward+backward (float64, rtol 1e-10), gradcheck, gradgradcheck, the spec's checks.

spec: LOSS-MSE, LOSS-BCE, LOSS-CE, LOSS-LP, LOSS-MLE-KL, LOSS-MLE-RECIPE, LOSS-GAUSSIAN-NLL,
LOSS-BERNOULLI, LOSS-CATEGORICAL, LOSS-POISSON, LOSS-KL-DIVERGENCE, LOSS-OUTPUT-DELTA
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import compare_with_torch, t64

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, ops

torch = pytest.importorskip("torch")
TF = torch.nn.functional
RNG = np.random.default_rng(0)
REDUCTIONS = ["mean", "sum", "none"]


def _check(f_cr, f_t, arrays, smooth=True):
    compare_with_torch(f_cr, f_t, arrays)
    xs = [t64(a) for a in arrays]
    assert cr.gradcheck(f_cr, xs)
    if smooth:
        assert cr.gradgradcheck(f_cr, xs)


# ----------------------------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_l1_huber_match_torch(reduction):
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    _check(lambda x, y: F.mse_loss(x, y, reduction), lambda x, y: TF.mse_loss(x, y, reduction=reduction), [a, b])
    _check(lambda x, y: F.l1_loss(x, y, reduction), lambda x, y: TF.l1_loss(x, y, reduction=reduction), [a, b],
           smooth=False)
    for delta in (1.0, 0.4):
        _check(lambda x, y, d=delta: F.huber_loss(x, y, reduction, d),
               lambda x, y, d=delta: TF.huber_loss(x, y, reduction=reduction, delta=d), [a, b], smooth=False)


def test_loss_shape_mismatch_and_bad_reduction_raise():
    with pytest.raises(ValueError, match="input shape \\(3, 1\\) and target shape \\(3,\\) differ"):
        F.mse_loss(cr.Tensor(np.ones((3, 1))), cr.Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(cr.Tensor(np.ones(3)), cr.Tensor(np.ones(3)), "avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.l1_loss(cr.Tensor(np.ones(3)), cr.Tensor(np.ones(3)), "avg")


def test_mse_half_sum_gradient_and_gaussian_log_likelihood():
    """spec: LOSS-MSE — ∂/∂pred ½·sum-MSE = pred − target; log p(y|X, w, σ) = −(N/2)log(2πσ²) − S(w)/σ²."""
    pred, y = RNG.normal(size=7), RNG.normal(size=7)
    p = t64(pred)
    (0.5 * F.mse_loss(p, cr.Tensor(y), reduction="sum")).backward()
    np.testing.assert_allclose(p.grad.data, pred - y, rtol=1e-14)
    X, w, sigma = RNG.normal(size=(20, 3)), RNG.normal(size=3), 0.7
    yy = X @ w + sigma * RNG.normal(size=20)
    S = 0.5 * F.mse_loss(cr.Tensor(X @ w), cr.Tensor(yy), reduction="sum").item()  # S(w) = ½‖y − Xw‖²
    loglik = sum(-0.5 * math.log(2 * math.pi * sigma ** 2) - (t - m) ** 2 / (2 * sigma ** 2)
                 for t, m in zip(yy, X @ w))
    assert abs(loglik - (-(20 / 2) * math.log(2 * math.pi * sigma ** 2) - S / sigma ** 2)) < 1e-10
    # minimizing S maximizes the likelihood: the least-squares w beats any perturbation of it
    w_ls = np.linalg.lstsq(X, yy, rcond=None)[0]
    S_ls = 0.5 * F.mse_loss(cr.Tensor(X @ w_ls), cr.Tensor(yy), "sum").item()
    assert all(S_ls < 0.5 * F.mse_loss(cr.Tensor(X @ (w_ls + 0.01 * d)), cr.Tensor(yy), "sum").item()
               for d in RNG.normal(size=(5, 3)))


def test_lp_loss_relations():
    """spec: LOSS-LP — p-norm over components; Σ‖·‖₁ = l1 sum, Σ‖·‖₂² = mse sum, J = (K/2)·mse_loss."""
    a, b = RNG.normal(size=(5, 4)), RNG.normal(size=(5, 4))
    x, y = t64(a), cr.Tensor(b)
    np.testing.assert_allclose(F.lp_loss(x, y, 1, "sum").item(), F.l1_loss(x, y, "sum").item(), rtol=1e-14)
    np.testing.assert_allclose(F.lp_loss(x, y, 3, "none").data, (np.abs(a - b) ** 3).sum(1) ** (1 / 3), rtol=1e-14)
    np.testing.assert_allclose((F.lp_loss(x, y, 2, "none") ** 2).sum().item(), F.mse_loss(x, y, "sum").item(),
                               rtol=1e-14)
    J = np.mean([0.5 * ((a[i] - b[i]) ** 2).sum() for i in range(5)])
    assert abs(J - 4 / 2 * F.mse_loss(x, y).item()) < 1e-14
    assert abs(F.l1_loss(x, y).item() - TF.l1_loss(torch.tensor(a), torch.tensor(b)).item()) < 1e-15
    assert cr.gradcheck(lambda t: F.lp_loss(t, y, 3), [x])
    with pytest.raises(ValueError, match="p must be > 0"):
        F.lp_loss(x, y, 0)


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 3), (4, 1), (4,)], ids=str)
def test_gaussian_nll_matches_torch(full, reduction, var_shape):
    mu, y = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    var = RNG.uniform(0.3, 2.0, var_shape)
    _check(lambda m, t, v: F.gaussian_nll_loss(m, t, v, full=full, reduction=reduction),
           lambda m, t, v: TF.gaussian_nll_loss(m, t, v, full=full, reduction=reduction), [mu, y, var])


def test_gaussian_nll_clamps_variance_but_keeps_gradient():
    mu, y = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    var = np.array([[1e-9, 0.5], [2.0, 1e-8], [0.3, 0.0]])
    compare_with_torch(lambda m, t, v: F.gaussian_nll_loss(m, t, v), lambda m, t, v: TF.gaussian_nll_loss(m, t, v),
                       [mu, y, var])
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(t64(mu), cr.Tensor(y), cr.Tensor(-np.ones((3, 2))))
    with pytest.raises(ValueError, match="var has shape"):
        F.gaussian_nll_loss(t64(mu), cr.Tensor(y), cr.Tensor(np.ones((2, 3))))


def test_gaussian_nll_with_unit_variance_is_half_mse_plus_constant():
    """spec: LOSS-GAUSSIAN-NLL — var ≡ 1 ⇒ GaussianNLL − ½·MSE is constant in μ; ∂ℓ/∂μ = (μ − y)/σ²."""
    y = RNG.normal(size=6)
    diffs = []
    for _ in range(4):
        mu = RNG.normal(size=6)
        diffs.append(F.gaussian_nll_loss(t64(mu), cr.Tensor(y), np.ones(6), full=True).item()
                     - 0.5 * F.mse_loss(t64(mu), cr.Tensor(y)).item())
    np.testing.assert_allclose(diffs, 0.5 * math.log(2 * math.pi), rtol=1e-14)
    mu, var = t64(RNG.normal(size=6)), RNG.uniform(0.5, 2, 6)
    F.gaussian_nll_loss(mu, cr.Tensor(y), var, reduction="sum").backward()
    np.testing.assert_allclose(mu.grad.data, (mu.data - y) / var, rtol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll_matches_torch(reduction):
    z, y = RNG.normal(size=(4, 3)), RNG.poisson(2.0, (4, 3)).astype(float)
    _check(lambda a, t: F.poisson_nll_loss(a, t, reduction=reduction),
           lambda a, t: TF.poisson_nll_loss(a, t, reduction=reduction), [z, y])
    lam = RNG.uniform(0.5, 3, (4, 3))
    _check(lambda a, t: F.poisson_nll_loss(a, t, log_input=False, reduction=reduction),
           lambda a, t: TF.poisson_nll_loss(a, t, log_input=False, reduction=reduction), [lam, y])


def test_poisson_gradient_and_full_term():
    """spec: LOSS-POISSON — ∂ℓ/∂z = e^z − y; full adds log y! exactly (lgamma)."""
    z, y = RNG.normal(size=5), np.array([0.0, 1.0, 2.0, 5.0, 9.0])
    zt = t64(z)
    F.poisson_nll_loss(zt, cr.Tensor(y), reduction="sum").backward()
    np.testing.assert_allclose(zt.grad.data, np.exp(z) - y, rtol=1e-14)
    full = F.poisson_nll_loss(t64(z), cr.Tensor(y), full=True, reduction="none").data
    exact = [-(k * zz - math.exp(zz) - math.lgamma(k + 1)) for zz, k in zip(z, y)]
    np.testing.assert_allclose(full, exact, rtol=1e-13)


# ----------------------------------------------------------------------------- classification losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_torch(reduction, weighted):
    a, y = RNG.uniform(0.05, 0.95, (4, 3)), RNG.uniform(0, 1, (4, 3))
    w = RNG.uniform(0.5, 2, (4, 3)) if weighted else None
    _check(lambda p, t: F.binary_cross_entropy(p, t, w, reduction),
           lambda p, t: TF.binary_cross_entropy(p, t, None if w is None else torch.tensor(w), reduction=reduction),
           [a, y])


def test_bce_at_zero_and_one_is_finite_like_torch():
    """Each log clamped at −100; the gradient's denominator at 1e-12 (PyTorch)."""
    a, y = np.array([0.0, 1.0, 0.0, 1.0, 1e-50]), np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    x, xt = t64(a), torch.tensor(a, requires_grad=True)
    loss = F.binary_cross_entropy(x, cr.Tensor(y), reduction="none")
    loss_t = TF.binary_cross_entropy(xt, torch.tensor(y), reduction="none")
    np.testing.assert_allclose(loss.data, [0, 0, 100, 100, 100])
    np.testing.assert_allclose(loss.data, loss_t.detach().numpy())
    loss.sum().backward()
    loss_t.sum().backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12)
    assert np.isfinite(x.grad.data).all()
    # the target gradient is the derivative of the clamped loss (finite; PyTorch's is ±inf at 0 and 1)
    yt = t64(y)
    F.binary_cross_entropy(cr.Tensor(a), yt, reduction="sum").backward()
    np.testing.assert_allclose(yt.grad.data, [100, -100, 100, -100, 100])
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\].*with_logits"):
        F.binary_cross_entropy(cr.Tensor(np.array([1.5])), cr.Tensor(np.array([1.0])))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("extra", ["plain", "weight", "pos_weight"])
def test_bce_with_logits_matches_torch(reduction, extra):
    s, y = RNG.normal(size=(4, 3)) * 3, RNG.uniform(0, 1, (4, 3))
    w = RNG.uniform(0.5, 2, (4, 3)) if extra == "weight" else None
    pw = RNG.uniform(0.5, 3, 3) if extra == "pos_weight" else None
    _check(lambda z, t: F.binary_cross_entropy_with_logits(z, t, w, reduction, pw),
           lambda z, t: TF.binary_cross_entropy_with_logits(
               z, t, None if w is None else torch.tensor(w), reduction=reduction,
               pos_weight=None if pw is None else torch.tensor(pw)), [s, y])


def test_bce_logit_and_probability_forms_agree_and_logits_are_stable():
    """spec: LOSS-BCE, LOSS-BERNOULLI — forms agree (1e-10) for |z| ≤ 10; logit form finite at ±50, ±1000;
    gradient σ(z) − y."""
    z = np.linspace(-10, 10, 41)
    y = (RNG.uniform(size=41) > 0.5).astype(float)
    a = ops.sigmoid(t64(z))
    p_form = F.binary_cross_entropy(a, cr.Tensor(y), reduction="none").data
    l_form = F.binary_cross_entropy_with_logits(t64(z), cr.Tensor(y), reduction="none").data
    np.testing.assert_allclose(p_form, l_form, rtol=1e-10, atol=1e-12)
    zz = t64([-1000.0, -50.0, 50.0, 1000.0])
    yy = cr.Tensor(np.array([1.0, 1.0, 0.0, 0.0]))
    loss = F.binary_cross_entropy_with_logits(zz, yy, reduction="sum")
    loss.backward()
    assert abs(loss.item() - 2100.0) < 1e-9 and np.isfinite(zz.grad.data).all()
    np.testing.assert_allclose(zz.grad.data, [-1, -1, 1, 1], atol=1e-20)
    zt = t64(z)
    F.binary_cross_entropy_with_logits(zt, cr.Tensor(y), reduction="sum").backward()
    np.testing.assert_allclose(zt.grad.data, 1 / (1 + np.exp(-z)) - y, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_index_targets_match_torch(reduction, weighted, smoothing):
    s, t = RNG.normal(size=(5, 4)) * 2, RNG.integers(0, 4, 5)
    w = RNG.uniform(0.5, 2, 4) if weighted else None
    _check(lambda z: F.cross_entropy(z, t, w, reduction, smoothing),
           lambda z: TF.cross_entropy(z, torch.tensor(t), None if w is None else torch.tensor(w),
                                      reduction=reduction, label_smoothing=smoothing), [s])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_ignore_index_matches_torch(reduction, weighted, smoothing):
    s, t = RNG.normal(size=(6, 4)), np.array([1, -100, 3, 0, -100, 2])
    w = RNG.uniform(0.5, 2, 4) if weighted else None
    wt = None if w is None else torch.tensor(w)
    _check(lambda z: F.cross_entropy(z, t, w, reduction, smoothing),
           lambda z: TF.cross_entropy(z, torch.tensor(t), wt, reduction=reduction, label_smoothing=smoothing), [s])
    lp = np.log(RNG.dirichlet(np.ones(4), 6))
    t2 = np.array([1, 3, 3, 0, 2, 2])
    _check(lambda z: F.nll_loss(z, t2, w, reduction, ignore_index=3),
           lambda z: TF.nll_loss(z, torch.tensor(t2), wt, reduction=reduction, ignore_index=3), [lp])
    m = nn.CrossEntropyLoss(ignore_index=2)(t64(s), np.array([2, 2, 1, 0, 2, 2]))
    mt = TF.cross_entropy(torch.tensor(s), torch.tensor([2, 2, 1, 0, 2, 2]), ignore_index=2)
    assert abs(m.item() - mt.item()) < 1e-14


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_targets_match_torch(reduction, weighted):
    s = RNG.normal(size=(5, 4))
    q = RNG.dirichlet(np.ones(4), 5)
    w = RNG.uniform(0.5, 2, 4) if weighted else None
    _check(lambda z, p: F.cross_entropy(z, p, w, reduction),
           lambda z, p: TF.cross_entropy(z, p, None if w is None else torch.tensor(w), reduction=reduction), [s, q])


def test_cross_entropy_single_sample_and_errors():
    s = RNG.normal(size=4)
    compare_with_torch(lambda z: F.cross_entropy(z, np.array(2)), lambda z: TF.cross_entropy(z, torch.tensor(2)), [s])
    with pytest.raises(ValueError, match="class indices must be in \\[0, 3\\] \\(or ignore_index=-100\\)"):
        F.cross_entropy(t64(np.zeros((2, 4))), np.array([0, 4]))
    with pytest.raises(ValueError, match="integers of shape \\(2,\\)"):
        F.cross_entropy(t64(np.zeros((2, 4))), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="permute"):
        F.cross_entropy(t64(np.zeros((2, 4, 3, 3))), np.zeros((2, 3, 3), int))
    with pytest.raises(TypeError, match="integer class indices or float probabilities"):
        F.cross_entropy(t64(np.zeros((2, 4))), np.array(["a", "b"]))


def test_cross_entropy_index_equals_onehot_and_gradient_is_a_minus_y():
    """spec: LOSS-CE, LOSS-CATEGORICAL, LOSS-OUTPUT-DELTA — index and one-hot targets agree; ∂ℓ/∂z = softmax − y;
    shift invariant; finite for logits of 1000."""
    s, t = RNG.normal(size=(6, 5)), RNG.integers(0, 5, 6)
    z1, z2 = t64(s), t64(s)
    l1 = F.cross_entropy(z1, t, reduction="sum")
    l2 = F.cross_entropy(z2, np.eye(5)[t], reduction="sum")
    l3 = F.nll_loss(ops.log_softmax(t64(s), 1), t, reduction="sum")
    assert abs(l1.item() - l2.item()) < 1e-13 and abs(l1.item() - l3.item()) < 1e-13
    l1.backward()
    l2.backward()
    soft = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    np.testing.assert_allclose(z1.grad.data, soft - np.eye(5)[t], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(z2.grad.data, z1.grad.data, rtol=1e-12, atol=1e-15)
    assert abs(F.cross_entropy(t64(s + 77.0), t).item() - F.cross_entropy(t64(s), t).item()) < 1e-13
    big = t64(np.array([[1000.0, 0.0, -1000.0]]))
    loss = F.cross_entropy(big, np.array([2]))
    loss.backward()
    assert loss.item() == 2000.0 and np.isfinite(big.grad.data).all()
    # ℓ = −z_c + logsumexp(z)
    np.testing.assert_allclose(F.cross_entropy(t64(s), t, reduction="none").data,
                               -s[np.arange(6), t] + ops.logsumexp(t64(s), 1).data, rtol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(reduction, weighted):
    lp, t = np.log(RNG.dirichlet(np.ones(4), 5)), RNG.integers(0, 4, 5)
    w = RNG.uniform(0.5, 2, 4) if weighted else None
    _check(lambda x: F.nll_loss(x, t, w, reduction),
           lambda x: TF.nll_loss(x, torch.tensor(t), None if w is None else torch.tensor(w), reduction=reduction),
           [lp])


@pytest.mark.filterwarnings("ignore:reduction")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    lp = np.log(RNG.dirichlet(np.ones(5), 3))
    q = RNG.dirichlet(np.ones(5), 3)
    tgt = np.log(q) if log_target else q
    compare_with_torch(lambda a, b: F.kl_div(a, b, reduction, log_target),
                       lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target), [lp, tgt])
    assert cr.gradcheck(lambda a, b: F.kl_div(a, b, reduction, log_target), [t64(lp), t64(tgt)])


def test_kl_div_zero_target_entries():
    """0 log 0 = 0: a zero target probability contributes nothing (PyTorch's xlogy)."""
    lp = np.log(RNG.dirichlet(np.ones(4), 2))
    q = np.array([[0.5, 0.0, 0.25, 0.25], [0.0, 0.0, 1.0, 0.0]])
    x, xt = t64(lp), torch.tensor(lp, requires_grad=True)
    out, out_t = F.kl_div(x, cr.Tensor(q), "sum"), TF.kl_div(xt, torch.tensor(q), reduction="sum")
    assert abs(out.item() - out_t.item()) < 1e-14
    out.backward()
    out_t.backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-14)


def test_kl_divergence_properties_and_numbers():
    """spec: LOSS-KL-DIVERGENCE, LOSS-MLE-KL."""
    assert abs(F.kl_divergence([0.9, 0.1], [0.5, 0.5]) - 0.368064) < 1e-6
    assert abs(F.kl_divergence([0.5, 0.5], [0.9, 0.1]) - 0.510826) < 1e-6
    for seed in range(5):
        r = np.random.default_rng(seed)
        q, p = r.dirichlet(np.ones(5)), r.dirichlet(np.ones(5))
        assert F.kl_divergence(q, p) >= 0 and abs(F.kl_divergence(q, q)) < 1e-15
        H_qp, H_q = -(q * np.log(p)).sum(), -(q * np.log(q)).sum()
        assert abs(H_qp - H_q - F.kl_divergence(q, p)) < 1e-12
        # kl_div(log p, q, 'batchmean') is KL(q‖p) per sample
        assert abs(F.kl_div(t64(np.log(p)[None]), cr.Tensor(q[None]), "batchmean").item()
                   - F.kl_divergence(q, p)) < 1e-14


def test_kl_to_empirical_distribution_is_nll_plus_constant():
    """spec: LOSS-KL-DIVERGENCE, LOSS-MLE-KL — KL(q̂‖p_θ) = −(1/N)Σ log p_θ(x_i) + const ⇒ argmin KL = MLE."""
    data = np.array([0, 1, 1, 2, 2, 2, 2, 3])
    qhat = np.bincount(data, minlength=4) / len(data)
    consts = []
    for seed in range(4):
        p = np.random.default_rng(seed).dirichlet(np.ones(4))
        nll = -np.log(p[data]).mean()
        consts.append(F.kl_divergence(qhat, p) - nll)
    np.testing.assert_allclose(consts, consts[0], atol=1e-14)
    assert F.kl_divergence(qhat, qhat) == 0.0


# ----------------------------------------------------------------------------- MLE recipe
def _neg_log_pdfs(rng):
    """Each loss against an independently coded −log pdf/pmf (math module only).  spec: LOSS-MLE-RECIPE"""
    mu, y, var = rng.normal(size=5), rng.normal(size=5), rng.uniform(0.5, 2, 5)
    z, b = rng.normal(size=5), rng.integers(0, 2, 5).astype(float)
    s, c = rng.normal(size=(5, 3)), rng.integers(0, 3, 5)
    k = rng.poisson(3.0, 5).astype(float)
    return [
        (F.gaussian_nll_loss(t64(mu), cr.Tensor(y), var, full=True, reduction="sum").item(),
         sum(-math.log(math.exp(-(yy - m) ** 2 / (2 * v)) / math.sqrt(2 * math.pi * v))
             for m, yy, v in zip(mu, y, var))),
        (F.binary_cross_entropy_with_logits(t64(z), cr.Tensor(b), reduction="sum").item(),
         sum(-math.log((1 / (1 + math.exp(-zz))) ** bb * (1 - 1 / (1 + math.exp(-zz))) ** (1 - bb))
             for zz, bb in zip(z, b))),
        (F.binary_cross_entropy(ops.sigmoid(t64(z)), cr.Tensor(b), reduction="sum").item(),
         sum(-math.log((1 / (1 + math.exp(-zz))) ** bb * (1 - 1 / (1 + math.exp(-zz))) ** (1 - bb))
             for zz, bb in zip(z, b))),
        (F.cross_entropy(t64(s), c, reduction="sum").item(),
         sum(-math.log(math.exp(row[cc]) / sum(math.exp(v) for v in row)) for row, cc in zip(s, c))),
        (F.nll_loss(ops.log_softmax(t64(s), 1), c, reduction="sum").item(),
         sum(-math.log(math.exp(row[cc]) / sum(math.exp(v) for v in row)) for row, cc in zip(s, c))),
        (F.poisson_nll_loss(t64(z), cr.Tensor(k), full=True, reduction="sum").item(),
         sum(-math.log(math.exp(zz) ** kk * math.exp(-math.exp(zz)) / math.factorial(int(kk)))
             for zz, kk in zip(z, k))),
        (0.5 * F.mse_loss(t64(mu), cr.Tensor(y), reduction="sum").item() + 5 * 0.5 * math.log(2 * math.pi),
         sum(-math.log(math.exp(-(yy - m) ** 2 / 2) / math.sqrt(2 * math.pi)) for m, yy in zip(mu, y))),
    ]


def test_each_loss_is_an_independently_coded_negative_log_likelihood():
    for got, want in _neg_log_pdfs(np.random.default_rng(7)):
        assert abs(got - want) < 1e-10 * max(1.0, abs(want))


def _fit_constant(loss_fn, theta0, lr, steps=400):
    theta = cr.Tensor(np.array(theta0, dtype=np.float64), requires_grad=True)
    for _ in range(steps):
        theta.grad = None
        loss_fn(theta).backward()
        with cr.no_grad():
            theta.data -= lr * theta.grad.data
    return theta.data


def test_constant_model_trained_by_gd_recovers_the_mle():
    """spec: LOSS-MLE-RECIPE, LOSS-POISSON — mean, fraction of ones, class frequencies, log-mean."""
    rng = np.random.default_rng(3)
    y = rng.normal(2.0, 1.5, 200)
    mu = _fit_constant(lambda t: F.mse_loss(ops.expand(t, (200,)), cr.Tensor(y)), 0.0, 0.4)
    assert abs(mu - y.mean()) < 1e-8
    b = (rng.uniform(size=200) < 0.3).astype(float)
    z = _fit_constant(lambda t: F.binary_cross_entropy_with_logits(ops.expand(t, (200,)), cr.Tensor(b)), 0.0, 4.0)
    assert abs(1 / (1 + np.exp(-z)) - b.mean()) < 1e-6
    c = rng.choice(4, 300, p=[0.1, 0.2, 0.3, 0.4])
    logits = _fit_constant(lambda t: F.cross_entropy(ops.expand(t[None], (300, 4)), c), np.zeros(4), 3.0, 600)
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(), np.bincount(c, minlength=4) / 300, atol=1e-6)
    k = rng.poisson(4.0, 200).astype(float)
    zp = _fit_constant(lambda t: F.poisson_nll_loss(ops.expand(t, (200,)), cr.Tensor(k)), 0.0, 0.1, 600)
    assert abs(zp - np.log(k.mean())) < 1e-6


def test_gaussian_mle_by_minimizing_nll_matches_closed_form():
    """spec: LOSS-MLE-KL — minimizing gaussian_nll over (μ, log σ) gives μ̂ = mean, σ̂² = (1/m)Σ(x − μ̂)²."""
    x = np.random.default_rng(4).normal(1.0, 2.0, 50)
    params = cr.Tensor(np.array([0.0, 0.0]), requires_grad=True)  # (μ, log σ)
    opt = cr.optim.Adam([params], lr=0.05)
    for _ in range(1500):
        opt.zero_grad()
        mu = ops.expand(params[0], (50,))
        var = ops.expand(ops.exp(2 * params[1]), (50,))
        F.gaussian_nll_loss(mu, cr.Tensor(x), var).backward()
        opt.step()
    assert abs(params.data[0] - x.mean()) < 1e-4
    assert abs(np.exp(2 * params.data[1]) - x.var()) < 1e-3


def test_mle_bias_monte_carlo():
    """spec: LOSS-MLE-KL — E σ̂² = (m − 1)σ²/m (bias −σ²/m); the Bernoulli sample mean is unbiased."""
    rng = np.random.default_rng(5)
    m, sigma2, reps = 5, 4.0, 40000
    X = rng.normal(0.0, 2.0, (reps, m))
    s2 = ops.var(cr.Tensor(X), 1).data  # biased (1/m) estimate = the MLE
    bias = s2.mean() - sigma2
    assert abs(bias - (-sigma2 / m)) < 0.05
    B = rng.uniform(size=(reps, m)) < 0.3
    assert abs(B.mean(1).mean() - 0.3) < 0.005


# ----------------------------------------------------------------------------- modules
def test_loss_modules_equal_functional():
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    x, y = t64(a), cr.Tensor(b)
    p, q = cr.Tensor(RNG.uniform(0.1, 0.9, (4, 3))), cr.Tensor(RNG.uniform(size=(4, 3)))
    t = RNG.integers(0, 3, 4)
    pairs = [
        (nn.MSELoss(reduction="sum")(x, y), F.mse_loss(x, y, "sum")),
        (nn.L1Loss()(x, y), F.l1_loss(x, y)),
        (nn.HuberLoss(delta=0.5)(x, y), F.huber_loss(x, y, delta=0.5)),
        (nn.BCELoss()(p, q), F.binary_cross_entropy(p, q)),
        (nn.BCEWithLogitsLoss(pos_weight=np.full(3, 2.0))(x, q),
         F.binary_cross_entropy_with_logits(x, q, pos_weight=np.full(3, 2.0))),
        (nn.CrossEntropyLoss(label_smoothing=0.1)(x, t), F.cross_entropy(x, t, label_smoothing=0.1)),
        (nn.NLLLoss()(ops.log_softmax(x, 1), t), F.nll_loss(ops.log_softmax(x, 1), t)),
        (nn.GaussianNLLLoss(full=True)(x, y, np.ones((4, 3))),
         F.gaussian_nll_loss(x, y, np.ones((4, 3)), full=True)),
        (nn.PoissonNLLLoss()(x, cr.Tensor(np.ones((4, 3)))), F.poisson_nll_loss(x, cr.Tensor(np.ones((4, 3))))),
        (nn.KLDivLoss(reduction="batchmean")(ops.log_softmax(x, 1), p),
         F.kl_div(ops.log_softmax(x, 1), p, "batchmean")),
    ]
    for got, want in pairs:
        assert got.item() == want.item()
    assert "reduction='sum'" in repr(nn.MSELoss(reduction="sum"))


def test_losses_keep_float32():
    x = cr.Tensor(RNG.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    for loss in (F.mse_loss(x, np.zeros((4, 3))), F.binary_cross_entropy(ops.sigmoid(x), np.ones((4, 3))),
                 F.cross_entropy(x, np.array([0, 1, 2, 0])), F.lp_loss(x, np.zeros((4, 3)), 3),
                 F.kl_div(ops.log_softmax(x, 1), np.full((4, 3), 1 / 3), "batchmean")):
        assert loss.dtype == np.float32
        x.grad = None
        loss.backward()
        assert x.grad.dtype == np.float32


def test_one_hot_delegates_to_data_transforms():
    np.testing.assert_array_equal(F.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError):
        F.one_hot(np.array([3]), 3)
