"""Hard and soft weight sharing; multitask learning.  spec: REG-SOFT-WEIGHT-SHARING, REG-MULTITASK"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import compare_with_torch, t64

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.regularize import GaussianMixturePrior, MultiTaskLoss, MultiTaskNet, TiedLinear, tie_parameters


# --------------------------------------------------------------------------- hard sharing
def test_tied_parameter_gradient_is_sum_of_untied_gradients():
    g = cr.Generator(0)
    tied = nn.Sequential(nn.Linear(4, 4, dtype=np.float64, generator=g), nn.Tanh(),
                         nn.Linear(4, 4, dtype=np.float64, generator=g))
    tie_parameters(tied[2], "weight", tied[0])
    assert tied[2].weight is tied[0].weight
    assert len(list(tied.parameters())) == 3  # listed once
    untied = nn.Sequential(nn.Linear(4, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 4, dtype=np.float64))
    for dst, src in zip(untied.parameters(), [tied[0].weight, tied[0].bias, tied[0].weight, tied[2].bias]):
        dst.data[...] = src.data
    x = cr.Tensor(np.random.default_rng(0).standard_normal((5, 4)))
    (tied(x) ** 2).sum().backward()
    (untied(x) ** 2).sum().backward()
    np.testing.assert_allclose(tied[0].weight.grad.data, untied[0].weight.grad.data + untied[2].weight.grad.data,
                               rtol=1e-13)
    assert np.abs(untied[2].weight.grad.data).max() > 1e-3  # both uses contribute
    with pytest.raises(ValueError, match="TiedLinear"):
        tie_parameters(nn.Linear(3, 4), "weight", nn.Linear(4, 3))


def test_tied_linear_autoencoder_matches_torch_and_gradcheck():
    rng = np.random.default_rng(1)
    W0, X0 = rng.standard_normal((3, 5)), rng.standard_normal((4, 5))

    def ours(W, X):
        enc = nn.Linear(5, 3, bias=False, dtype=np.float64)
        enc._parameters["weight"] = W
        dec = TiedLinear(enc, bias=False)
        return dec(cr.ops.tanh(enc(X)))

    def theirs(W, X):
        return (X @ W.T).tanh() @ W

    compare_with_torch(ours, theirs, [W0, X0])
    cr.gradcheck(ours, [t64(W0), t64(X0)])


# --------------------------------------------------------------------------- soft sharing
def _prior(J=3):
    return GaussianMixturePrior(J, means=[-0.8, 0.1, 0.9][:J], stds=[0.3, 0.2, 0.5][:J], mixing=[0.2, 0.5, 0.3][:J])


def test_mixture_prior_gradcheck_all_four():
    # spec: REG-SOFT-WEIGHT-SHARING  gradcheck of w, μ, σ (via log σ) and γ
    rng = np.random.default_rng(0)
    w0 = rng.uniform(-1.5, 1.5, 7)
    pr = _prior()

    def f(w, mu, ls, gam):
        pr._parameters.update(mu=mu, log_sigma=ls, gamma=gam)
        return pr([w])

    args = [t64(w0), t64(pr.mu.data), t64(pr.log_sigma.data), t64(pr.gamma.data)]
    cr.gradcheck(f, args)
    cr.gradgradcheck(f, args)


def test_mixture_prior_gradients_match_spec_formulas():
    # spec: REG-SOFT-WEIGHT-SHARING  ∂Ω/∂w, ∂Ω/∂μ, ∂Ω/∂σ, ∂Ω/∂γ in terms of r_j(w) = p(j | w) (erratum N9)
    rng = np.random.default_rng(1)
    wv = rng.uniform(-1.5, 1.5, 9)
    w = t64(wv)
    pr = _prior()
    om = pr([w])
    om.backward()
    mu, sg, al = pr.mu.data, pr.sigma, pr.mixing
    dens = al * np.exp(-0.5 * ((wv[:, None] - mu) / sg) ** 2) / (sg * math.sqrt(2 * math.pi))
    assert om.item() == pytest.approx(-np.log(dens.sum(1)).sum(), rel=1e-13)
    r = dens / dens.sum(1, keepdims=True)
    np.testing.assert_allclose(pr.responsibilities([w]), r, rtol=1e-12)
    d = wv[:, None] - mu
    np.testing.assert_allclose(w.grad.data, (r * d / sg ** 2).sum(1), rtol=1e-12)
    np.testing.assert_allclose(pr.mu.grad.data, -(r * d / sg ** 2).sum(0), rtol=1e-12)
    dsigma = (r * (1 / sg - d ** 2 / sg ** 3)).sum(0)
    np.testing.assert_allclose(pr.log_sigma.grad.data, dsigma * sg, rtol=1e-12)  # chain rule through log σ
    np.testing.assert_allclose(pr.gamma.grad.data, -(r - al).sum(0), rtol=1e-12, atol=1e-14)


def test_one_component_is_l2_toward_mu():
    # spec: REG-SOFT-WEIGHT-SHARING  one component = L2 toward μ with strength 1/σ²
    pr = GaussianMixturePrior(1, means=[0.4], stds=[0.5])
    w = t64([1.0, -0.3, 0.4])
    pr([w]).backward()
    np.testing.assert_allclose(w.grad.data, (w.data - 0.4) / 0.25, rtol=1e-13)


def test_soft_sharing_pulls_weights_into_clusters():
    # spec: REG-SOFT-WEIGHT-SHARING  the prior pulls each weight toward its component's centre, and the
    # learned centres move to the weight clusters
    rng = np.random.default_rng(2)
    layer = nn.Linear(20, 10, dtype=np.float64)
    layer.weight.data[...] = rng.uniform(-1, 1, (10, 20))
    pr = GaussianMixturePrior(2, means=[-0.5, 0.5], stds=[0.3, 0.3], learn=False)
    opt = cr.optim.SGD(layer.parameters(), lr=0.01)
    spread0 = np.min(np.abs(layer.weight.data[..., None] - pr.mu.data), axis=-1).mean()
    for _ in range(200):
        opt.zero_grad()
        pr(layer).backward()
        opt.step()
    spread = np.min(np.abs(layer.weight.data[..., None] - pr.mu.data), axis=-1).mean()
    assert spread < 0.1 * spread0
    assert layer.bias.grad is None  # a Module source means weights only

    w = cr.Tensor(np.concatenate([rng.normal(-0.9, 0.05, 100), rng.normal(0.2, 0.05, 100)]))
    learned = GaussianMixturePrior(2, means=[-0.5, 0.5], stds=[0.3, 0.3])
    opt = cr.optim.Adam(learned.parameters(), lr=0.02)  # plain SGD is unstable here: ∇ ∝ 1/σ² as σ shrinks
    for _ in range(400):
        opt.zero_grad()
        learned([w]).backward()
        opt.step()
    np.testing.assert_allclose(np.sort(learned.mu.data), [-0.9, 0.2], atol=0.02)
    assert np.all(learned.sigma < 0.07)  # the components sharpen around their clusters


# --------------------------------------------------------------------------- multitask
def _mt(seed=0):
    g = cr.Generator(seed)
    trunk = nn.Sequential(nn.Linear(4, 6, dtype=np.float64, generator=g), nn.Tanh())
    return MultiTaskNet(trunk, [nn.Linear(6, 3, dtype=np.float64, generator=g),
                                nn.Linear(6, 1, dtype=np.float64, generator=g)])


def _task_data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = cr.Tensor(rng.standard_normal((n, 4)))
    yc = rng.integers(0, 3, n)
    yr = rng.standard_normal((n, 1))
    return X, yc, yr


def test_multitask_weight_zero_gives_single_task_trunk_gradients():
    # spec: REG-MULTITASK  α = (1, 0) gives the single-task trunk gradients
    X, yc, yr = _task_data()
    a, b = _mt(), _mt()
    crit = MultiTaskLoss([F.cross_entropy, F.mse_loss], weights=[1.0, 0.0])
    crit(a(X), [yc, yr]).backward()
    F.cross_entropy(b(X)[0], cr.Tensor(yc)).backward()
    for pa, pb in zip(a.trunk.parameters(), b.trunk.parameters()):
        np.testing.assert_allclose(pa.grad.data, pb.grad.data, rtol=1e-13)
    c = _mt()
    crit.weights = [1.0, 2.0]  # set by a callback: now the second task changes the trunk gradient
    crit(c(X), [yc, yr]).backward()
    assert np.abs(c.trunk[0].weight.grad.data - a.trunk[0].weight.grad.data).max() > 1e-4
    with pytest.raises(ValueError, match="weights"):
        crit.weights = [1.0]


def test_multitask_missing_labels_only_change_their_task():
    # spec: REG-MULTITASK  missing labels (NaN or mask) are excluded from their task's mean
    X, yc, yr = _task_data()
    net = _mt()
    crit = MultiTaskLoss([F.cross_entropy, F.mse_loss], weights=[0.7, 1.3])
    out = net(X)
    full = crit.task_losses(out, [yc, yr])
    yr_nan = yr.copy()
    yr_nan[[1, 5]] = np.nan
    part = crit.task_losses(out, [yc, yr_nan])
    assert part[0].item() == full[0].item()  # the other task is untouched
    keep = np.setdiff1d(np.arange(12), [1, 5])
    assert part[1].item() == pytest.approx(float(((out[1].data[keep] - yr[keep]) ** 2).mean()), rel=1e-13)
    assert part[1].item() != pytest.approx(full[1].item())
    mask = np.ones(12, bool)
    mask[[0, 2, 3]] = False
    masked = crit.task_losses(out, [yc, yr], masks=[mask, None])
    assert masked[1].item() == full[1].item()
    ref = F.cross_entropy(cr.Tensor(out[0].data[mask]), cr.Tensor(yc[mask])).item()
    assert masked[0].item() == pytest.approx(ref, rel=1e-13)
    total = crit(out, [yc, yr_nan])
    assert total.item() == pytest.approx(0.7 * part[0].item() + 1.3 * part[1].item(), rel=1e-13)
    total.backward()
    assert np.all(np.isfinite(net.trunk[0].weight.grad.data))
    # no labelled row at all: the task drops out
    none = crit.task_losses(out, [yc, np.full((12, 1), np.nan)])
    assert none[1] is None
