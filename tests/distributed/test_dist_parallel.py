"""Folds and sweeps on joblib and Dask give the results of the sequential run.

spec: CV-KFOLD (folds may run in parallel processes), CV-MODEL-SELECT (grid search with CV)
"""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import nn
from chainrule.train import model_selection as ms
from chainrule.train.parallel import BACKENDS, run_tasks, sweep

pytest.importorskip("joblib")


def _square_plus(x, y=0.0):
    return x * x + y


def _quadratic_risk(lr, momentum, steps=20):
    """GD/momentum on R(w) = ½·3w² from w = 1: returns R at the end (deterministic)."""
    w, v = 1.0, 0.0
    for _ in range(steps):
        v = momentum * v + 3.0 * w
        w -= lr * v
    return 1.5 * w * w


def _mlp(hidden=8):
    import chainrule as cr
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(60)
    return X, y


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_run_tasks_backends_agree(dask_client):
    tasks = [(i, 0.5) for i in range(6)] + [7]
    want = [_square_plus(*t) if isinstance(t, tuple) else _square_plus(t) for t in tasks]
    assert run_tasks(_square_plus, tasks) == want
    assert run_tasks(_square_plus, tasks, backend="joblib", n_jobs=2) == want
    assert run_tasks(_square_plus, tasks, backend="dask", client=dask_client) == want
    assert run_tasks(_square_plus, [], backend="dask") == []
    # a large shared array is scattered once and still reaches every task
    big = np.arange(300_000, dtype=np.float64)
    assert run_tasks(np.sum, [(big,), (big,)], backend="dask", client=dask_client) == [big.sum()] * 2


def test_run_tasks_argument_errors():
    with pytest.raises(ValueError, match="backend must be one of"):
        run_tasks(_square_plus, [(1,)], backend="ray")
    with pytest.raises(ValueError, match="needs backend='dask'"):
        run_tasks(_square_plus, [(1,)], backend="joblib", client=object())
    with pytest.raises(TypeError, match="callable"):
        run_tasks(3, [(1,)])
    assert BACKENDS == ("sequential", "joblib", "dask")


def test_sweep_grid_on_every_backend(dask_client):
    grid = {"lr": [0.05, 0.1, 0.3], "momentum": [0.0, 0.5]}
    seq = sweep(_quadratic_risk, grid, steps=10)
    assert [r["params"] for r in seq][:2] == [{"lr": 0.05, "momentum": 0.0}, {"lr": 0.05, "momentum": 0.5}]
    assert len(seq) == 6
    for kw in ({"backend": "joblib", "n_jobs": 2}, {"backend": "dask", "client": dask_client}):
        assert sweep(_quadratic_risk, grid, steps=10, **kw) == seq
    assert len(sweep(_quadratic_risk, [{"lr": [0.1], "momentum": [0.0]}, {"lr": [0.2], "momentum": [0.1]}])) == 2
    with pytest.raises(TypeError, match="must be a list"):
        sweep(_quadratic_risk, {"lr": 0.1})


def test_kfold_search_identical_on_joblib_and_dask(dask_client):
    """GridSearchCV over (hidden, weight decay) × 3 folds of a seeded MLP regressor: the cv_results_ on joblib
    and on a Dask LocalCluster equal the sequential ones exactly (same fits, same order)."""
    X, y = _data()
    est = ms.ModuleEstimator(_mlp, task="regression", lr=0.05, epochs=15, random_state=0)
    grid = {"weight_decay": [0.0, 0.1], "model_kwargs": [{"hidden": 4}, {"hidden": 8}]}
    res = {}
    for backend in ("sequential", "joblib", "dask"):
        gs = ms.GridSearchCV(est, grid, cv=ms.KFold(3, shuffle=True, random_state=0), scoring="mse",
                             backend=backend, n_jobs=2 if backend != "sequential" else None, refit=False)
        gs.fit(X, y)
        res[backend] = gs
    base = res["sequential"].cv_results_
    for backend in ("joblib", "dask"):
        r = res[backend].cv_results_
        for key in ("mean_test_score", "std_test_score", "split0_test_score", "split2_test_score"):
            np.testing.assert_array_equal(r[key], base[key])
        assert res[backend].best_params_ == res["sequential"].best_params_
    assert len(set(np.round(base["mean_test_score"], 12))) == 4  # the settings differ: not a vacuous equality


def test_cross_val_score_backend_dask(dask_client):
    X, y = _data()
    est = ms.ModuleEstimator(_mlp, task="regression", lr=0.05, epochs=10, random_state=1)
    a = ms.cross_val_score(est, X, y, cv=3, scoring="mse")
    b = ms.cross_val_score(est, X, y, cv=3, scoring="mse", backend="dask")
    np.testing.assert_array_equal(a.scores, b.scores)


def test_threaded_inprocess_dask_cluster_is_refused():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c, \
            distributed.Client(c) as client:
        with pytest.raises(ValueError, match="threads inside this process"):
            run_tasks(_square_plus, [(1,)], backend="dask", client=client)
