"""Metrics on fixed arrays (spec: CV-RISK, METRIC-TOPK)."""

import numpy as np
import pytest

from chainrule import Tensor
from chainrule.train import metrics as M


def test_classification_metrics_fixed_arrays():  # spec: CV-RISK
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]])
    y = np.array([0, 1, 1, 2, 2])
    # predictions 0, 1, 2, 0, 2 -> mistakes at rows 2 and 3
    assert M.error_count(scores, y) == 2
    assert M.error_rate(scores, y) == pytest.approx(0.4)
    assert M.accuracy(scores, y) == pytest.approx(0.6)
    assert M.accuracy(scores, y) + M.error_rate(scores, y) == 1.0
    # one-hot targets and Tensors give the same numbers
    onehot = np.eye(3, dtype=np.float32)[y]
    assert M.accuracy(Tensor(scores), Tensor(onehot)) == pytest.approx(0.6)
    # labels as predictions
    assert M.error_count(np.array([0, 1, 2, 0, 2]), y) == 2


def test_accuracy_plus_error_rate_is_one_random():  # spec: CV-RISK
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = rng.standard_normal((37, 5))
        y = rng.integers(0, 5, 37)
        assert M.accuracy(s, y) + M.error_rate(s, y) == pytest.approx(1.0, abs=1e-15)
        assert M.error_count(s, y) == round(M.error_rate(s, y) * 37)


def test_binary_threshold():
    p = np.array([0.2, 0.7, 0.51, 0.49])
    y = np.array([0, 1, 1, 1])
    assert M.accuracy(p, y) == 0.75
    assert M.accuracy(p - 0.5, y, threshold=0.0) == 0.75   # logits
    assert M.accuracy(p[:, None], y) == 0.75               # (N, 1)


def test_confusion_matrix_matches_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    s = rng.standard_normal((200, 4))
    y = rng.integers(0, 4, 200)
    cm = M.confusion_matrix(s, y)
    np.testing.assert_array_equal(cm, sk.confusion_matrix(y, s.argmax(1), labels=range(4)))
    assert np.trace(cm) / cm.sum() == pytest.approx(M.accuracy(s, y))
    assert M.confusion_matrix(s, y, num_classes=6).shape == (6, 6)
    with pytest.raises(ValueError, match="num_classes"):
        M.confusion_matrix(s, y, num_classes=2)


def test_regression_metrics_match_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    t = rng.standard_normal((50, 3))
    o = t + 0.3 * rng.standard_normal((50, 3))
    assert M.mse(o, t) == pytest.approx(sk.mean_squared_error(t, o))
    assert M.mae(o, t) == pytest.approx(sk.mean_absolute_error(t, o))
    assert M.r2(o, t) == pytest.approx(sk.r2_score(t, o))
    assert M.r2(o[:, 0], t[:, 0]) == pytest.approx(sk.r2_score(t[:, 0], o[:, 0]))
    assert M.rmse(o, t) == pytest.approx(np.sqrt(M.mse(o, t)))
    assert M.r2(t, t) == 1.0
    assert M.r2(np.full(50, t[:, 0].mean()), t[:, 0]) == pytest.approx(0.0, abs=1e-12)


def test_topk_spec_example():  # spec: METRIC-TOPK
    scores = [[0.1, 0.5, 0.4], [0.3, 0.2, 0.5]]
    assert M.topk_accuracy(scores, [2, 0], k=1) == 0.0
    assert M.topk_accuracy(scores, [2, 0], k=2) == 1.0
    assert M.topk_accuracy(scores, [2, 0], k=(1, 2)) == (0.0, 1.0)
    assert M.topk_accuracy(scores, [2, 0], k=(1, 5)) == (0.0, 1.0)  # k >= K counts every sample


def test_topk_ties_exactly_as_torch():  # spec: METRIC-TOPK (ties as torch.topk)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for trial in range(60):
        c = int(rng.choice([3, 5, 10, 17, 100, 700]))
        k = int(rng.integers(1, min(c, 10) + 1))
        s = rng.integers(0, 3, (25, c)).astype(np.float64)   # many ties at the k-th place
        if trial % 5 == 0:
            s[rng.random(s.shape) < 0.05] = np.nan             # NaN counts as the largest, as in torch
        y = rng.integers(0, c, 25)
        ti = torch.topk(torch.tensor(s), k).indices.numpy()
        np.testing.assert_array_equal(np.sort(M.topk_indices(s, k), 1), np.sort(ti, 1))
        expect = float(np.mean((ti == y[:, None]).any(1)))
        assert M.topk_accuracy(s, y, k) == expect


def test_metric_registry_and_errors():
    assert M.get_metric("acc")[0] == "accuracy"
    name, f = M.get_metric("top2")
    assert name == "top2" and f([[0.1, 0.5, 0.4]], [2]) == 1.0
    with pytest.raises(ValueError, match="unknown metric"):
        M.get_metric("precision@k")
    with pytest.raises(ValueError, match="samples"):
        M.accuracy(np.zeros((3, 2)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="non-integer"):
        M.accuracy(np.zeros((2, 2)), np.array([0.5, 1.0]))
