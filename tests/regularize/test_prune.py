"""Pruning masks, magnitude pruning, OBD and OBS.  spec: REG-PRUNE-MASK, REG-OBD, REG-OBS"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.regularize import l2_penalty, prune

H_SPEC = np.array([[4, 1.8, 0], [1.8, 1, 0.2], [0, 0.2, 2]])
W_SPEC = np.array([1, 0.5, -0.3])


def _half_sse(pred, target):
    d = pred - target
    return 0.5 * (d * d).sum()


def _quadratic_model(H=H_SPEC, w_star=W_SPEC, n_out=1):
    """A linear model whose loss ½‖Xw − y‖² equals ½(w − w*)ᵀH(w − w*): X = Lᵀ with H = LLᵀ."""
    L = np.linalg.cholesky(H)
    X = L.T.copy()
    lin = nn.Linear(H.shape[0], n_out, bias=False, dtype=np.float64)
    W = np.tile(w_star, (n_out, 1))
    lin.weight.data[...] = W
    Y = X @ W.T
    return lin, (cr.Tensor(X), cr.Tensor(Y))


def _mlp(seed=0):
    g = cr.Generator(seed)
    return nn.Sequential(nn.Linear(5, 8, dtype=np.float64, generator=g), nn.Tanh(),
                         nn.Linear(8, 3, dtype=np.float64, generator=g))


# =========================================================================== masks
@pytest.mark.parametrize("opt_name", ["sgd_momentum", "adam"])
def test_masked_entries_stay_zero_through_training(opt_name):
    # spec: REG-PRUNE-MASK  masked entries stay 0 through 10 steps of SGD-momentum or Adam
    rng = np.random.default_rng(0)
    X, Y = cr.Tensor(rng.standard_normal((20, 5))), cr.Tensor(rng.standard_normal((20, 3)))
    net = _mlp()
    opt = cr.optim.SGD(net.parameters(), lr=0.1, momentum=0.9) if opt_name == "sgd_momentum" else \
        cr.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(3):  # build up momentum / moments before pruning
        opt.zero_grad()
        F.mse_loss(net(X), Y).backward()
        opt.step()
    mask = rng.random((8, 5)) > 0.4
    orig = net[0].weight
    prune.apply_mask(net[0], "weight", mask)
    assert net[0]._parameters["weight_orig"] is orig  # same Parameter: the optimizer keeps working
    for _ in range(10):
        opt.zero_grad()
        F.mse_loss(net(X), Y).backward()
        assert np.all(orig.grad.data[~mask] == 0)
        opt.step()
        net(X)
        assert np.all(net[0].weight.data[~mask] == 0)
    assert np.abs(net[0].weight.data[mask]).min() > 0  # the others still train
    sd = net.state_dict()
    assert "0.weight_orig" in sd and "0.weight_mask" in sd and "0.weight" not in sd
    prune.remove(net[0], "weight")
    assert net[0].weight is orig and np.all(orig.data[~mask] == 0)
    assert "forward" not in net[0].__dict__
    assert set(net.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_masks_combine_and_bad_shapes():
    lin = nn.Linear(4, 3, dtype=np.float64)
    m1 = np.ones((3, 4), bool)
    m1[0, 0] = False
    m2 = np.ones((3, 4), bool)
    m2[2, 3] = False
    prune.apply_mask(lin, "weight", m1)
    prune.apply_mask(lin, "weight", m2)
    np.testing.assert_array_equal(prune.get_mask(lin), m1 & m2)
    with pytest.raises(ValueError, match="mask shape"):
        prune.apply_mask(lin, "weight", np.ones((4, 3)))
    with pytest.raises(KeyError):
        prune.apply_mask(lin, "gain", np.ones(3))


def test_magnitude_pruning_global_and_layer():
    # spec: REG-PRUNE-MASK  prune.magnitude removes the smallest |w|
    net = _mlp(1)
    w_all = np.concatenate([net[0].weight.data.ravel(), net[2].weight.data.ravel()])
    thr = np.sort(np.abs(w_all))[int(round(0.5 * w_all.size)) - 1]
    out = prune.magnitude(net, 0.5)
    assert prune.sparsity(net) == pytest.approx(0.5, abs=1 / w_all.size)
    for m in (net[0], net[2]):
        kept = prune.get_mask(m)
        assert np.all(np.abs(prune._param(m, "weight").data[kept]) > thr)
        assert np.all(m.weight.data[~kept] == 0)
    assert set(out) == {"0", "2"}
    prune.magnitude(net, 0.8)  # further pruning keeps the old mask
    assert prune.sparsity(net) == pytest.approx(0.8, abs=1 / w_all.size)
    net2 = _mlp(1)
    res = prune.magnitude(net2, 0.25, scope="layer")
    assert res["0"] == pytest.approx(0.25, abs=0.02) and res["2"] == pytest.approx(0.25, abs=0.05)
    with pytest.raises(ValueError, match="fraction"):
        prune.magnitude(net2, 1.5)


def test_remove_units_and_inputs():
    # spec: REG-PRUNE-MASK  units and input units are removed by masking rows/columns
    g = cr.Generator(2)
    net = nn.Sequential(nn.Linear(4, 5, dtype=np.float64, generator=g), nn.Sigmoid(),
                        nn.Linear(5, 2, dtype=np.float64, generator=g))
    prune.remove_units(net[0], [1, 3], next_layer=net[2])
    x = np.random.default_rng(0).standard_normal((6, 4))
    h = 1 / (1 + np.exp(-(x @ net[0].weight.data.T + net[0].bias.data)))
    keep = [0, 2, 4]
    expected = h[:, keep] @ prune._param(net[2], "weight").data[:, keep].T + net[2].bias.data
    np.testing.assert_allclose(net(cr.Tensor(x)).data, expected, rtol=1e-13)
    assert np.all(net[0].bias.data[[1, 3]] == 0) and np.all(net[2].weight.data[:, [1, 3]] == 0)
    prune.remove_inputs(net[0], [2])
    x2 = x.copy()
    x2[:, 2] = 123.0  # input 2 no longer matters
    np.testing.assert_allclose(net(cr.Tensor(x)).data, net(cr.Tensor(x2)).data, rtol=1e-13)


# =========================================================================== OBD
def test_obd_computed_example():
    # spec: REG-OBD  H of REG-L2, w* = (1, 0.5, −0.3): s = (2, 0.125, 0.09) → removes w₃, true increase 0.09
    lin, data = _quadratic_model()
    hd = prune.hessian_diagonal(lin, _half_sse, data, "exact")[0]
    np.testing.assert_allclose(hd[0], np.diag(H_SPEC), rtol=1e-12)
    np.testing.assert_allclose(prune.obd_saliencies(W_SPEC, np.diag(H_SPEC)), [2, 0.125, 0.09], rtol=1e-12)
    # Gauss–Newton diagonal is exact for a linear model with squared loss: Σₙxⱼ²
    gn = prune.hessian_diagonal(lin, _half_sse, data, "gauss_newton")[0]
    np.testing.assert_allclose(gn[0], (data[0].data ** 2).sum(0), rtol=1e-12)
    np.testing.assert_allclose(gn[0], np.diag(H_SPEC), rtol=1e-12)
    res = prune.obd(lin, _half_sse, data, n_remove=1)
    assert res.removed == [("", (0, 2))]
    assert res.saliencies[0] == pytest.approx(0.09, rel=1e-12)
    assert res.loss_after - res.loss_before == pytest.approx(0.09, rel=1e-10)
    np.testing.assert_allclose(lin.weight.data[0], [1, 0.5, 0], atol=1e-15)
    # a second call never re-selects a pruned weight
    res2 = prune.obd(lin, _half_sse, data, n_remove=1, hessian="gauss_newton")
    assert res2.removed == [("", (0, 1))]


def test_obd_saliency_is_half_hqq_wq2_on_a_net():
    # spec: REG-OBD  saliency = ½ h_qq w_q² with h the exact Hessian diagonal (engine double backward)
    net = _mlp(3)
    rng = np.random.default_rng(1)
    X, Y = cr.Tensor(rng.standard_normal((10, 5))), cr.Tensor(rng.standard_normal((10, 3)))
    H = cr.hessian(lambda *ps: F.mse_loss(net(X), Y), [net[0].weight, net[2].weight]).data
    hd = prune.hessian_diagonal(net, F.mse_loss, (X, Y), "exact")
    np.testing.assert_allclose(np.concatenate([h.ravel() for h in hd]), np.diag(H), rtol=1e-10, atol=1e-14)
    w = np.concatenate([net[0].weight.data.ravel(), net[2].weight.data.ravel()])
    res = prune.obd(net, F.mse_loss, (X, Y), n_remove=3)
    s = 0.5 * np.diag(H) * w * w
    np.testing.assert_allclose(sorted(res.saliencies), np.sort(s)[:3], rtol=1e-10)
    assert prune.sparsity(net) == pytest.approx(3 / w.size)


def test_gauss_newton_diagonal_one_hidden_layer_single_output_is_exact_gn():
    # spec: REG-OBD  the GN recursion: exact Gauss–Newton diagonal for one hidden layer and one output
    g = cr.Generator(4)
    net = nn.Sequential(nn.Linear(3, 4, dtype=np.float64, generator=g), nn.Sigmoid(),
                        nn.Linear(4, 1, dtype=np.float64, generator=g), nn.Tanh())
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((7, 3)), rng.standard_normal((7, 1))
    gn = prune.hessian_diagonal(net, _half_sse, (X, Y), "gauss_newton")
    # exact GN diagonal: Σₙ (∂ŷⁿ/∂w)² (output Hessian of ½(ŷ − y)² is 1)
    ws = [net[0].weight, net[2].weight]
    ref = [np.zeros(w.shape) for w in ws]
    for n in range(7):
        y = net(cr.Tensor(X[n:n + 1])).sum()
        gs = cr.grad(y, ws)
        for r, gk in zip(ref, gs):
            r += gk.data ** 2
    for a, b in zip(gn, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# =========================================================================== OBS
def test_obs_computed_example():
    # spec: REG-OBS  L = (0.3469387755, 0.02125, 0.0805263158) → removes w₂, new w = (1.225, 0, −0.25),
    # exact increase 0.02125; the inverse update = inverse of H without row/column q
    Hinv = np.linalg.inv(H_SPEC)
    np.testing.assert_allclose(prune.obs_saliencies(W_SPEC, Hinv), [0.3469387755, 0.02125, 0.0805263158],
                               rtol=1e-9)
    w_new, H_new, inc = prune.obs_remove(W_SPEC, Hinv, 1)
    np.testing.assert_allclose(w_new, [1.225, 0, -0.25], atol=1e-12)
    assert inc == pytest.approx(0.02125, rel=1e-12)
    keep = [0, 2]
    np.testing.assert_allclose(H_new[np.ix_(keep, keep)], np.linalg.inv(H_SPEC[np.ix_(keep, keep)]), rtol=1e-12)
    assert np.all(H_new[1] == 0) and np.all(H_new[:, 1] == 0)

    lin, data = _quadratic_model()
    res = prune.obs(lin, _half_sse, data, n_remove=1, damping=0.0)
    assert res.removed == [("", (0, 1))]
    np.testing.assert_allclose(lin.weight.data[0], [1.225, 0, -0.25], atol=1e-10)
    assert res.loss_after - res.loss_before == pytest.approx(0.02125, rel=1e-9)  # exact for a quadratic
    assert res.saliencies[0] == pytest.approx(0.02125, rel=1e-9)


def test_obs_redundant_inputs_obd_is_blind():
    # spec: REG-OBS, REG-OBD  two identical inputs weighted 0.5/0.5 (H + 1e-8 I): OBS removes one, the
    # other → 1.0, zero increase; OBD (no compensation) pays a real increase
    rng = np.random.default_rng(0)
    a = rng.standard_normal(20)
    X = np.stack([a, a, rng.standard_normal(20)], axis=1)
    w = np.array([0.5, 0.5, 0.7])
    Y = (X @ w)[:, None]

    def model():
        lin = nn.Linear(3, 1, bias=False, dtype=np.float64)
        lin.weight.data[0] = w
        return lin

    lin = model()
    with pytest.warns(UserWarning, match="inaccurate"):  # H is singular: the safeguard says so
        res = prune.obs(lin, _half_sse, (X, Y), n_remove=1, damping=1e-8)
    i = res.removed[0][1][1]
    assert i in (0, 1)
    assert lin.weight.data[0, 1 - i] == pytest.approx(1.0, abs=1e-6)
    assert lin.weight.data[0, 2] == pytest.approx(0.7, abs=1e-6)
    assert res.loss_after - res.loss_before == pytest.approx(0.0, abs=1e-8)
    lin2 = model()
    r2 = prune.obd(lin2, _half_sse, (X, Y), n_remove=1)
    assert r2.loss_after - r2.loss_before > 0.1


def _trained_net():
    """A 3-3-1 tanh net (input 3 irrelevant) at a strict minimum of ½SSE + 0.05·½‖W‖² (BFGS, |∇| < 1e-8)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (40, 3))
    y = np.sin(2 * X[:, :1]) * np.cos(X[:, 1:2]) + 0.1 * rng.standard_normal((40, 1))
    g = cr.Generator(1)
    net = nn.Sequential(nn.Linear(3, 3, dtype=np.float64, generator=g), nn.Tanh(),
                        nn.Linear(3, 1, dtype=np.float64, generator=g))
    ps = list(net.parameters())
    Xt, yt = cr.Tensor(X), cr.Tensor(y)

    def loss():
        return _half_sse(net(Xt), yt) + 0.05 * l2_penalty(net)

    def fg(v):
        off = 0
        for p in ps:
            p.data[...] = v[off:off + p.size].reshape(p.shape)
            off += p.size
        for p in ps:
            p.grad = None
        val = loss()
        val.backward()
        return val.item(), np.concatenate([p.grad.data.ravel() for p in ps])

    r = optimize.minimize(fg, np.concatenate([p.data.ravel() for p in ps]), jac=True, method="BFGS",
                          options={"gtol": 1e-12, "maxiter": 5000})
    fg(r.x)
    assert np.abs(r.jac).max() < 1e-8
    return net, loss


def test_obs_exact_hessian_small_net_second_order():
    # spec: REG-OBS  exact Hessian on a small net at a minimum: OBS removes the weight of least saliency and
    # the loss increase equals the predicted saliency to second order
    net, loss = _trained_net()
    state = net.state_dict()
    T = prune._Targets(net)
    H = cr.hessian(lambda *ps: loss(), [net[0].weight, net[2].weight]).data
    Hinv = np.linalg.inv(H)
    w = T.vector()
    L = prune.obs_saliencies(w, Hinv)
    base = loss().item()

    def set_w(v):
        net.load_state_dict(state)
        net[0].weight.data[...] = v[:9].reshape(3, 3)
        net[2].weight.data[...] = v[9:].reshape(1, 3)

    true = []
    for q in range(w.size):
        wq, _, _ = prune.obs_remove(w, Hinv, q, gamma=None)
        set_w(wq)
        true.append(loss().item() - base)
    q_best = int(np.argmin(L))
    assert int(np.argmin(true)) == q_best  # the least salient weight is also the cheapest to remove
    assert true[q_best] == pytest.approx(L[q_best], rel=0.05)
    # second order: along the OBS direction, shrinking w_q by a fraction t costs t²L_q + O(t³)
    wq, _, _ = prune.obs_remove(w, Hinv, q_best, gamma=None)
    errs = []
    for t in (0.4, 0.2, 0.1):
        set_w(w + t * (wq - w))
        errs.append(abs(loss().item() - base - t * t * L[q_best]) / (t * t * L[q_best]))
    assert errs[1] / errs[0] == pytest.approx(0.5, abs=0.15) and errs[2] / errs[1] == pytest.approx(0.5, abs=0.15)
    # the driver does the same with the engine's exact Hessian
    set_w(w)
    res = prune.obs(net, None, loss, n_remove=1, hessian="exact", gamma=None, damping=0.0)
    assert res.saliencies[0] == pytest.approx(L[q_best], rel=1e-8)
    assert res.loss_after - res.loss_before == pytest.approx(true[q_best], rel=1e-8)
    assert prune.sparsity(net) == pytest.approx(1 / 12)


def test_obs_sequential_removals_match_reduced_problem():
    # spec: REG-OBS  step 6: removing weights one by one with the rank-one update = solving the reduced problem
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 6))
    H = A @ A.T + 0.5 * np.eye(6)
    w_star = rng.standard_normal(6)
    lin, data = _quadratic_model(H, w_star)
    res = prune.obs(lin, _half_sse, data, n_remove=3, damping=0.0, gamma=None)
    removed = [r[1][1] for r in res.removed]
    keep = [i for i in range(6) if i not in removed]
    # optimum of ½(w − w*)ᵀH(w − w*) with w_removed = 0
    Hk = H[np.ix_(keep, keep)]
    wk = w_star[keep] + np.linalg.solve(Hk, H[np.ix_(keep, removed)] @ w_star[removed])
    np.testing.assert_allclose(lin.weight.data[0, keep], wk, rtol=1e-9)
    d = np.zeros(6)
    d[keep] = wk - w_star[keep]
    d[removed] = -w_star[removed]
    assert res.predicted_increase == pytest.approx(0.5 * d @ H @ d, rel=1e-9)
    assert res.loss_after - res.loss_before == pytest.approx(0.5 * d @ H @ d, rel=1e-9)


def test_obs_max_increase_stops():
    # spec: REG-OBS  stop when the next L_q exceeds max_increase
    lin, data = _quadratic_model()
    res = prune.obs(lin, _half_sse, data, max_increase=0.05, damping=0.0)
    assert len(res.removed) == 1 and res.saliencies[0] <= 0.05


def test_obs_use_gradient_away_from_minimum():
    # spec: REG-OBS  use_gradient: δ = −H⁻¹(g + αe_q), increase ½α²[H⁻¹]_qq − ½gᵀH⁻¹g (exact for a quadratic)
    lin, data = _quadratic_model()
    lin.weight.data[0] = [0.8, 0.9, 0.1]  # not at the minimum
    res = prune.obs(lin, _half_sse, data, n_remove=1, use_gradient=True, damping=0.0, gamma=None)
    assert res.loss_after - res.loss_before == pytest.approx(res.saliencies[0], rel=1e-9, abs=1e-12)
    # the result is the constrained minimum: the remaining gradient is 0
    w = lin.weight.data[0]
    g = H_SPEC @ (w - W_SPEC)
    q = res.removed[0][1][1]
    assert np.abs(np.delete(g, q)).max() < 1e-9
    lin2, _ = _quadratic_model()
    lin2.weight.data[0] = [0.8, 0.9, 0.1]
    r2 = prune.obs(lin2, _half_sse, data, n_remove=1, use_gradient=False, damping=0.0, gamma=None)
    assert abs((r2.loss_after - r2.loss_before) - r2.saliencies[0]) > 1e-3  # plain OBS mispredicts here


def test_obs_gamma_caps_compensation():
    # spec: REG-OBS  if max_{i≠q}|δᵢ| > γ those components are scaled by γ/max|δᵢ|
    H = np.array([[1.0, 0.99], [0.99, 1.0]])
    w = np.array([1.0, 1.0])
    Hinv = np.linalg.inv(H)
    free, _, _ = prune.obs_remove(w, Hinv, 0)
    capped, _, _ = prune.obs_remove(w, Hinv, 0, gamma=0.5)
    assert abs(free[1] - 1.0) > 0.5
    assert capped[0] == 0 and abs(capped[1] - 1.0) == pytest.approx(0.5)


def test_outer_product_inverse_recursion():
    # spec: REG-OBS  H⁻¹_{m+1} = H⁻¹_m − H⁻¹_m x xᵀ H⁻¹_m/(P + xᵀH⁻¹_m x), H₀⁻¹ = α⁻¹I
    net = _mlp(5)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((6, 5))
    T = prune._Targets(net)
    alpha = 1e-4
    Hinv = prune._outer_product_inverse(net, T, X, alpha)
    rows = []
    for n in range(6):
        for k in range(3):
            y = net(cr.Tensor(X[n:n + 1]))[0, k]
            gs = cr.grad(y, [net[0].weight, net[2].weight])
            rows.append(np.concatenate([g.data.ravel() for g in gs]))
    G = np.array(rows)
    H = alpha * np.eye(G.shape[1]) + G.T @ G / 6
    np.testing.assert_allclose(Hinv @ H, np.eye(H.shape[0]), atol=1e-6)
    # for a linear model with E = (1/2P)Σ‖y − ŷ‖² it is the exact Hessian: same pruning as 'exact'
    lin, (Xq, Yq) = _quadratic_model()
    lin2, _ = _quadratic_model()
    mean_half_sse = lambda p, t: _half_sse(p, t) * (1.0 / 3)  # noqa: E731
    r1 = prune.obs(lin, mean_half_sse, (Xq, Yq), n_remove=2, hessian="outer_product", damping=1e-10)
    r2 = prune.obs(lin2, mean_half_sse, (Xq, Yq), n_remove=2, hessian="exact", damping=1e-10)
    assert r1.removed == r2.removed
    np.testing.assert_allclose(lin.weight.data, lin2.weight.data, atol=1e-7)


def test_block_gauss_newton_equals_exact_for_linear_model():
    # spec: REG-OBS  block-diagonal GN: exact for a linear model with squared loss (blocks = output units)
    rng = np.random.default_rng(6)
    A = rng.standard_normal((4, 4))
    H = A @ A.T + np.eye(4)
    lin, data = _quadratic_model(H, rng.standard_normal(4), n_out=2)
    lin.weight.data[1] *= -0.7
    data = (data[0], cr.Tensor(data[0].data @ lin.weight.data.T))
    lin2 = nn.Linear(4, 2, bias=False, dtype=np.float64)
    lin2.weight.data[...] = lin.weight.data
    r1 = prune.obs(lin, _half_sse, data, n_remove=3, hessian="block_gauss_newton", damping=0.0, gamma=None)
    r2 = prune.obs(lin2, _half_sse, data, n_remove=3, hessian="exact", damping=0.0, gamma=None)
    assert r1.removed == r2.removed and r1.info["n_blocks"] == 2
    np.testing.assert_allclose(lin.weight.data, lin2.weight.data, atol=1e-9)
    np.testing.assert_allclose(r1.saliencies, r2.saliencies, rtol=1e-9)


def test_obs_on_mlp_block_gn_keeps_masks_and_iterative_retraining():
    # spec: REG-OBS, REG-PRUNE-MASK  OBS rounds with retraining; pruned weights stay 0
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((30, 5)), rng.integers(0, 3, 30)
    net = _mlp(8)
    opt = cr.optim.Adam(net.parameters(), lr=0.02)

    def retrain(model, steps=30):
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(cr.Tensor(X)), cr.Tensor(Y)).backward()
            opt.step()
        return F.cross_entropy(model(cr.Tensor(X)), cr.Tensor(Y)).item()

    retrain(net, 100)
    rounds = prune.iterative_prune(
        net, lambda m: prune.obs(m, F.cross_entropy, (X, Y), n_remove=10, hessian="block_gauss_newton"),
        retrain, rounds=3)
    assert len(rounds) == 3
    assert prune.sparsity(net) == pytest.approx(30 / 64)
    assert all(len(r.removed) == 10 for r, _ in rounds)
    for m in (net[0], net[2]):
        assert np.all(m.weight.data[~prune.get_mask(m)] == 0)
    with pytest.raises(NotImplementedError, match="Softmax"):
        prune.hessian_diagonal(nn.Sequential(nn.Linear(5, 3), nn.Softmax()), F.mse_loss,
                               (X.astype(np.float32), np.zeros((30, 3), np.float32)), "gauss_newton")
