"""Learning-rate search (spec: TRICK-LR-SEARCH)."""

import numpy as np
import pytest

from chainrule import nn
from chainrule.train import lr_search
from chainrule.train.plots import plot_lr_search


def _quadratic_problem(eigs=(8.0, 2.0, 0.5), n=60, seed=0):
    """Least squares R(w) = mean (Xw − y)² whose Hessian (2/N) XᵀX has the eigenvalues ``eigs``."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, len(eigs))))
    X = q * np.sqrt(np.asarray(eigs) * n / 2)
    H = 2 * X.T @ X / n
    y = X @ rng.standard_normal((len(eigs), 1))
    return X, y, float(np.linalg.eigvalsh(H).max())


def test_lr_search_picks_a_stable_rate_and_flags_divergence(tmp_path):  # spec: TRICK-LR-SEARCH
    X, y, lam_max = _quadratic_problem()
    assert lam_max == pytest.approx(8.0)

    def make():
        return nn.Linear(3, 1, bias=False, dtype=np.float64)

    res = lr_search(make, nn.MSELoss(), (X, y), (X, y), epochs=20, batch_size=len(X))  # full-batch GD
    table = {r["lr"]: r for r in res.table}
    assert [r["lr"] for r in res.table] == [1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001]  # highest first
    assert res.best_lr is not None and res.best_lr < 2 / lam_max
    assert res.best_lr == 0.1  # the largest stable rate converges fastest here
    for lr in (1.0, 0.3):      # η > 2/λ_max = 0.25 diverges, reported without raising
        assert table[lr]["diverged"], table[lr]
    for lr in (0.1, 0.03, 0.01):
        assert not table[lr]["diverged"]
    assert table[0.1]["val_loss"] < table[0.01]["val_loss"] < res.initial_val_loss
    assert "best" in res.to_markdown()
    assert plot_lr_search(res, tmp_path / "lr.png").exists()


def test_lr_search_same_init_for_every_run_and_all_diverged():
    X, y, _ = _quadratic_problem(eigs=(400.0, 300.0))
    calls = []

    def make():
        m = nn.Linear(2, 1, bias=False, dtype=np.float64)
        calls.append(m.weight.data.copy())
        return m

    res = lr_search(make, nn.MSELoss(), (X, y), (X, y), grid=(1.0, 0.1), epochs=10, batch_size=len(X))
    assert res.best_lr is None and all(r["diverged"] for r in res.table)  # 2/λ_max = 0.005
    first = res.histories[1.0].batch_loss[0]
    assert res.histories[0.1].batch_loss[0] == first  # both runs started from the same weights
    with pytest.raises(ValueError, match="positive"):
        lr_search(make, nn.MSELoss(), (X, y), (X, y), grid=(0.1, -1.0))
