"""Hold-out, K-fold/stratified/LOO CV, search, nested CV, curves, nn adapter.
spec: CV-HOLDOUT, CV-KFOLD, CV-MODEL-SELECT, CV-COMPLEXITY-CURVE, CV-RISK, LOSS-MAP-L2"""

import numpy as np
import pytest
from scipy import stats

import chainrule as cr
from chainrule import nn
from chainrule.classic import (
    LinearRegression,
    LogisticRegression,
    PolynomialRegression,
    leave_one_out_residuals,
    ridge_alpha_from_prior,
)
from chainrule.train.model_selection import (
    GridSearchCV,
    KFold,
    LeaveOneOut,
    ModuleEstimator,
    RandomizedSearchCV,
    StratifiedKFold,
    clone,
    complexity_curve,
    cross_val_predict,
    cross_val_score,
    nested_cross_val_score,
    register_backend,
    select_ridge_alpha,
    train_test_split,
    validation_curve,
)


def _reg(n=40, d=3, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X @ np.arange(1.0, d + 1) + 0.5 + noise * rng.normal(size=n)


# ------------------------------------------------------------------------------ hold-out
def test_train_test_split_sizes_disjoint_reproducible():
    # spec: CV-HOLDOUT: sizes, disjointness, seed reproducibility
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    a = train_test_split(X, y, test_size=0.3, random_state=1)
    b = train_test_split(X, y, test_size=0.3, random_state=1)
    c = train_test_split(X, y, test_size=0.3, random_state=2)
    Xtr, Xte, ytr, yte = a
    assert len(Xtr) == 7 and len(Xte) == 3
    assert set(ytr) | set(yte) == set(range(10)) and not set(ytr) & set(yte)
    np.testing.assert_array_equal(Xtr[:, 0] // 2, ytr)  # rows stay aligned
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))
    assert len(train_test_split(X, test_size=4)[1]) == 4
    assert len(train_test_split(X, train_size=0.6)[0]) == 6
    Xt, _ = train_test_split(cr.Tensor(X.astype(float)), random_state=0)
    assert isinstance(Xt, cr.Tensor) and Xt.shape == (7, 2)
    lt, le = train_test_split(list("abcdefghij"), test_size=0.2, shuffle=False)
    assert lt == list("abcdefgh") and le == ["i", "j"]


def test_train_test_split_stratified_within_one_sample():
    # spec: CV-HOLDOUT: stratified ratios within one sample
    rng = np.random.default_rng(0)
    for seed in range(20):
        y = rng.permutation(np.repeat([0, 1, 2, 3], [48, 29, 14, 6]))
        ytr, yte = train_test_split(y, test_size=0.3, stratify=y, random_state=seed)
        n_test = len(yte)
        assert n_test == int(np.ceil(0.3 * 97)) and len(ytr) == 97 - n_test
        for c in range(4):
            share = np.mean(y == c)
            assert abs(np.sum(yte == c) - n_test * share) < 1
            assert abs(np.sum(ytr == c) - len(ytr) * share) < 1 + 1e-9


def test_train_test_split_errors():
    with pytest.raises(ValueError, match="same number of samples"):
        train_test_split(np.ones(5), np.ones(4))
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\)"):
        train_test_split(np.ones(5), test_size=1.5)
    with pytest.raises(ValueError, match="least populated class"):
        train_test_split(np.ones(5), stratify=[0, 0, 0, 0, 1])


# ------------------------------------------------------------------------------ splitters
def test_kfold_disjoint_covering_sizes():
    # spec: CV-KFOLD: folds disjoint and covering; sizes ⌊N/L⌋ or ⌈N/L⌉, first N mod L larger
    for n, L in [(10, 3), (12, 4), (7, 7), (23, 5)]:
        for shuffle in (False, True):
            folds = list(KFold(L, shuffle=shuffle, random_state=0).split(np.zeros(n)))
            assert len(folds) == L
            tests = [te for _, te in folds]
            assert sorted(np.concatenate(tests).tolist()) == list(range(n))
            sizes = [len(t) for t in tests]
            assert sizes == [n // L + 1] * (n % L) + [n // L] * (L - n % L)
            for tr, te in folds:
                assert not set(tr) & set(te) and len(tr) + len(te) == n
    with pytest.raises(ValueError, match="cannot make n_splits=5"):
        list(KFold(5).split(np.zeros(3)))
    with pytest.raises(ValueError, match="integer >= 2"):
        KFold(1)


def test_stratified_kfold_keeps_proportions_and_loo():
    y = np.array([0] * 30 + [1] * 12 + [2] * 7)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(49), y))
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(49))
    for c in range(3):
        counts = [np.sum(y[te] == c) for _, te in folds]
        assert max(counts) - min(counts) <= 1
    sizes = [len(te) for _, te in folds]
    assert max(sizes) - min(sizes) <= 1
    with pytest.warns(UserWarning, match="least populated class"):
        list(StratifiedKFold(8).split(np.zeros(49), y))
    loo = list(LeaveOneOut().split(np.zeros(6)))
    assert len(loo) == 6 and all(len(te) == 1 and len(tr) == 5 for tr, te in loo)


# ------------------------------------------------------------------------------ cross-validation
def test_loo_residuals_equal_e_over_one_minus_h():
    # spec: CV-KFOLD: LOO residuals of linear regression = eᵢ/(1 − hᵢᵢ), h = diag(X(XᵀX)⁻¹Xᵀ)
    X, y = _reg(n=25)
    held_out = y - cross_val_predict(LinearRegression(), X, y, cv=LeaveOneOut())
    fast = leave_one_out_residuals(X, y)
    np.testing.assert_allclose(held_out, fast, rtol=1e-10, atol=1e-12)
    Xa = np.c_[np.ones(25), X]
    h = np.diag(Xa @ np.linalg.solve(Xa.T @ Xa, Xa.T))
    e = y - LinearRegression().fit(X, y).predict(X)
    np.testing.assert_allclose(fast, e / (1 - h), rtol=1e-10)
    cv = cross_val_score(LinearRegression(), X, y, cv=LeaveOneOut(), scoring="mse")
    assert cv.pooled_mean() == pytest.approx(np.mean(fast**2), rel=1e-10)


def test_pooled_mean_vs_fold_means():
    # spec: CV-KFOLD: pooled mean (1/N)Σ held-out losses and mean ± std of fold means (equal when L | N)
    X, y = _reg(n=23)
    r = cross_val_score(LinearRegression(), X, y, cv=KFold(5), scoring="mse")
    p = cross_val_predict(LinearRegression(), X, y, cv=KFold(5))
    assert r.pooled_mean() == pytest.approx(np.mean((y - p) ** 2), rel=1e-12)
    assert r.mean() == pytest.approx(np.mean(r.scores)) and r.std() == pytest.approx(np.std(r.scores))
    assert r.pooled_mean() != pytest.approx(r.mean(), rel=1e-9)  # unequal folds: 5,5,5,4,4
    r20 = cross_val_score(LinearRegression(), X[:20], y[:20], cv=KFold(5), scoring="mse")
    assert r20.pooled_mean() == pytest.approx(r20.mean(), rel=1e-12)
    assert np.mean(r) == pytest.approx(r.mean()) and len(r) == 5 and "± " in str(r)


class _Leaky:
    """An estimator that would cheat if reused across folds (it memorises every y it has seen)."""

    _estimator_type = "regressor"

    def __init__(self, seen=None):
        self.seen = [] if seen is None else seen

    def get_params(self, deep=True):
        return {"seen": self.seen}

    def set_params(self, **p):
        self.seen = p.get("seen", self.seen)
        return self

    def fit(self, X, y):
        self.seen = self.seen + [len(y)]
        self.n_fits_ = len(self.seen)
        return self

    def score(self, X, y):
        return float(self.n_fits_)


def test_fresh_clone_per_fold():
    # spec: CV-KFOLD: per fold a fresh estimator clone
    X, y = _reg(n=20)
    est = _Leaky()
    r = cross_val_score(est, X, y, cv=4, return_estimators=True)
    np.testing.assert_array_equal(r.scores, 1.0)  # each fold's model was fitted exactly once
    assert est.seen == [] and not hasattr(est, "n_fits_")
    assert len({id(e) for e in r.estimators}) == 4
    # a factory works too
    r2 = cross_val_score(lambda: LinearRegression(alpha=1.0), X, y, cv=4, scoring="mse")
    r3 = cross_val_score(LinearRegression(alpha=1.0), X, y, cv=4, scoring="mse")
    np.testing.assert_allclose(r2.scores, r3.scores)


def test_classifier_cv_uses_stratified_folds_and_scorings():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(int)
    order = np.argsort(y, kind="stable")  # sorted labels: unstratified unshuffled folds would hold one class
    X, y = X[order], y[order]
    acc = cross_val_score(LogisticRegression(), X, y, cv=5)
    err = cross_val_score(LogisticRegression(), X, y, cv=5, scoring="error_rate")
    np.testing.assert_allclose(acc.scores + err.scores, 1.0)  # spec: CV-RISK accuracy + error rate = 1
    assert acc.mean() > 0.7
    ll = cross_val_score(LogisticRegression(), X, y, cv=5, scoring="log_loss")
    assert not ll.greater_is_better and np.all(ll.scores > 0)


def test_monte_carlo_near_unbiasedness():
    # spec: CV-KFOLD: E[R_cv(Z_N)] ≈ E[risk of a model trained on N(1 − 1/L) points]
    rng = np.random.default_rng(0)
    N, L, d, reps = 30, 5, 3, 400
    w = np.array([1.0, -1.0, 0.5])
    Xtest = rng.normal(size=(4000, d))
    cv_vals, risk_small, risk_full = [], [], []
    for _ in range(reps):
        X = rng.normal(size=(N, d))
        y = X @ w + rng.normal(size=N)
        cv_vals.append(np.mean(leave_one_out_residuals(X, y) ** 2) if L == N else
                       cross_val_score(LinearRegression(), X, y, cv=KFold(L), scoring="mse").pooled_mean())
        m_small = LinearRegression().fit(X[: N - N // L], y[: N - N // L])
        risk_small.append(1 + np.mean((Xtest @ (m_small.coef_ - w) + m_small.intercept_) ** 2))
        m_full = LinearRegression().fit(X, y)
        risk_full.append(1 + np.mean((Xtest @ (m_full.coef_ - w) + m_full.intercept_) ** 2))
    cv_vals, risk_small = np.array(cv_vals), np.array(risk_small)
    diff = cv_vals - risk_small
    se = diff.std(ddof=1) / np.sqrt(reps)
    assert abs(diff.mean()) < 3 * se + 0.02
    assert np.mean(risk_small) > np.mean(risk_full)  # fewer training points → higher risk


def test_joblib_backend_equals_sequential_and_custom_backend_dispatch():
    pytest.importorskip("joblib")
    X, y = _reg(n=30)
    seq = cross_val_score(LinearRegression(alpha=0.5), X, y, cv=3, scoring="mse", backend="sequential")
    par = cross_val_score(LinearRegression(alpha=0.5), X, y, cv=3, scoring="mse", n_jobs=2)
    np.testing.assert_allclose(par.scores, seq.scores, rtol=1e-14)
    calls = []

    def runner(fn, tasks, n_jobs, verbose):
        calls.append(len(tasks))
        return [fn(*t) for t in reversed(tasks)][::-1]

    register_backend("test-reversed", runner)
    r = cross_val_score(LinearRegression(alpha=0.5), X, y, cv=3, scoring="mse", backend="test-reversed")
    assert calls == [3]
    np.testing.assert_allclose(r.scores, seq.scores)
    with pytest.raises(ValueError, match="unknown backend"):
        cross_val_score(LinearRegression(), X, y, backend="dask-not-installed")


# ------------------------------------------------------------------------------ search
def test_grid_search_min_for_losses_ties_first_refit():
    # spec: CV-MODEL-SELECT: per setting mean ± std; the minimum (ties → first); refit on all data
    X, y = _reg(n=40, noise=2.0)
    grid = {"alpha": [0.0, 1.0, 10.0, 1000.0]}
    g = GridSearchCV(LinearRegression(), grid, cv=KFold(4), scoring="mse").fit(X, y)
    for i, a in enumerate(grid["alpha"]):
        r = cross_val_score(LinearRegression(alpha=a), X, y, cv=KFold(4), scoring="mse")
        assert g.cv_results_["mean_test_score"][i] == pytest.approx(r.mean())
        assert g.cv_results_["std_test_score"][i] == pytest.approx(r.std())
    assert g.best_index_ == int(np.argmin(g.cv_results_["mean_test_score"]))
    assert g.best_params_["alpha"] != 1000.0
    ref = LinearRegression(alpha=g.best_params_["alpha"]).fit(X, y)
    np.testing.assert_allclose(g.best_estimator_.coef_, ref.coef_)
    np.testing.assert_allclose(g.predict(X), ref.predict(X))
    table = g.results_table()
    assert table.count("\n") == 5 and "mean mse" in table and "± std" in table
    assert "rank" in g.results_table(fmt="text")
    # ties → first: a parameter that changes nothing
    t = GridSearchCV(LinearRegression(), {"max_iter": [5, 1, 3]}, cv=3).fit(X, y)
    assert t.best_params_ == {"max_iter": 5}
    # greater-is-better scoring picks the maximum
    r2 = GridSearchCV(LinearRegression(), grid, cv=KFold(4)).fit(X, y)
    assert r2.best_index_ == int(np.argmax(r2.cv_results_["mean_test_score"]))


def test_randomized_search_reproducible():
    X, y = _reg(n=40)
    dist = {"alpha": stats.loguniform(1e-3, 1e3)}
    a = RandomizedSearchCV(LinearRegression(), dist, n_iter=6, random_state=3, cv=3, scoring="mse").fit(X, y)
    b = RandomizedSearchCV(LinearRegression(), dist, n_iter=6, random_state=3, cv=3, scoring="mse").fit(X, y)
    assert [p["alpha"] for p in a.cv_results_["params"]] == [p["alpha"] for p in b.cv_results_["params"]]
    assert len(set(p["alpha"] for p in a.cv_results_["params"])) == 6
    grid_like = RandomizedSearchCV(LinearRegression(), {"alpha": [0.1, 1, 10]}, n_iter=10, random_state=0,
                                   cv=3).fit(X, y)
    assert sorted(p["alpha"] for p in grid_like.cv_results_["params"]) == [0.1, 1, 10]


def test_nested_cv_reports_inner_and_outer_separately():
    # spec: CV-MODEL-SELECT: inner and nested scores reported separately
    X, y = _reg(n=50, noise=2.0)
    search = GridSearchCV(LinearRegression(), {"alpha": [0.1, 10.0, 100.0]}, cv=KFold(3), scoring="mse")
    res = nested_cross_val_score(search, X, y, cv=KFold(5))
    assert len(res.outer) == 5 and len(res.inner_best_scores) == 5 and len(res.best_params) == 5
    tr, te = next(KFold(5).split(X))
    s = clone(search).fit(X[tr], y[tr])
    assert res.inner_best_scores[0] == pytest.approx(s.best_score_)
    assert res.outer.scores[0] == pytest.approx(np.mean((s.predict(X[te]) - y[te]) ** 2))
    assert "nested" in str(res) and "inner" in str(res)


def test_cv_selects_ridge_alpha_near_the_map_optimum():
    # spec: CV-MODEL-SELECT, LOSS-MAP-L2: CV picks an α near σ²/σ_p² on synthetic data
    n, d, sigma, sigma_p = 80, 30, 1.0, 0.3
    a_star = ridge_alpha_from_prior(sigma**2, sigma_p**2)  # ≈ 11.1
    logs = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(n, d))
        y = X @ rng.normal(0, sigma_p, size=d) + rng.normal(0, sigma, size=n)
        s = select_ridge_alpha(X, y, alphas=np.logspace(-2, 4, 25), cv=KFold(10, shuffle=True, random_state=seed))
        logs.append(np.log10(s.best_params_["alpha"] / a_star))
    assert abs(np.median(logs)) < 0.5  # within a factor ~3 of the analytic optimum
    assert np.all(np.abs(logs) < 1.25)


def test_complexity_curve_polynomial_degrees():
    # spec: CV-COMPLEXITY-CURVE: degrees 1–15 on noisy sine: train MSE non-increasing, test minimum interior
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 30)
    y = np.sin(2 * np.pi * x) + rng.normal(0, 0.3, 30)
    xt = rng.uniform(x.min(), x.max(), 2000)  # inside the fitted domain
    yt = np.sin(2 * np.pi * xt) + rng.normal(0, 0.3, 2000)
    c = complexity_curve(PolynomialRegression(), "degree", range(1, 16), x, y, xt, yt, scoring="mse")
    assert np.all(np.diff(c["train"]) <= 1e-12)
    k = int(np.argmin(c["test"]))
    assert 0 < k < 14 and c["test"][0] > 2 * c["test"][k] and c["test"][-1] > 1.2 * c["test"][k]
    tr, te = validation_curve(PolynomialRegression(), x, y, "degree", [1, 3, 12], cv=KFold(5, shuffle=True,
                                                                                            random_state=0),
                              scoring="mse")
    assert tr.shape == te.shape == (3, 5)
    assert np.argmin(te.mean(1)) == 1


# ------------------------------------------------------------------------------ nn adapter
def _net(hidden=8):
    return nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def test_module_estimator_cv_and_weight_decay_search():
    X, y = _reg(n=45, noise=0.5)
    est = ModuleEstimator(_net, model_kwargs={"hidden": 8}, lr=0.05, epochs=150)
    r1 = cross_val_score(est, X, y, cv=3)
    r2 = cross_val_score(est, X, y, cv=3)
    np.testing.assert_allclose(r1.scores, r2.scores)  # seeded initialisation: reproducible
    assert r1.mean() > 0.8
    g = GridSearchCV(est, {"model_kwargs__hidden": [1, 8], "weight_decay": [0.0, 1.0]}, cv=3).fit(X, y)
    assert len(g.cv_results_["params"]) == 4
    assert g.best_estimator_.model_.state_dict()["0.weight"].shape[0] == g.best_params_["model_kwargs__hidden"]
    assert g.best_params_["weight_decay"] == 0.0  # strong decay hurts this well-determined problem
    with pytest.raises(TypeError, match="ModuleEstimator"):
        cross_val_score(_net(), X, y)


def test_module_estimator_classification():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] * X[:, 1] > 0, "same", "diff")  # XOR-like: needs the hidden layer
    est = ModuleEstimator(lambda: nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2)),
                          task="classification", lr=0.05, epochs=300)
    est.fit(X, y)
    assert est.score(X, y) > 0.9 and set(est.predict(X)) <= {"same", "diff"}
    np.testing.assert_allclose(est.predict_proba(X).sum(1), 1)
    lin = cross_val_score(LogisticRegression(), X, y, cv=3)
    mlp = cross_val_score(est, X, y, cv=3)
    assert mlp.mean() > lin.mean() + 0.15
