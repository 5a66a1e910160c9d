"""fit / evaluate / predict (spec: TRAIN-SGD-MODES, TRAIN-CURVES, TRAIN-LOOP-000, SGD-MINIBATCH, CV-TEST-SET)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset, load_digits
from chainrule.train import History, as_loader, clip_grad_norm_, evaluate, fit, per_sample_loss, predict


def _toy_classification(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return X, y


def test_fit_reduces_loss_and_history_lengths():  # spec: TRAIN-CURVES, SGD-MINIBATCH
    X, y = _toy_classification()
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = optim.SGD(model.parameters(), lr=0.2)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=6, batch_size=25, val_loader=(X[:40], y[:40]),
            progress=False)
    per_epoch = -(-120 // 25)  # ceil(N/B) updates per epoch, the last batch smaller
    assert h.num_updates == len(h.batch_loss) == 6 * per_epoch
    assert h.num_epochs == 6 and h.epochs == list(range(6))
    for key in ("loss", "accuracy", "val_loss", "val_loss_se", "val_accuracy", "lr", "time"):
        assert len(h[key]) == 6, key
    assert h.epoch_end_update == [per_epoch * (e + 1) for e in range(6)]
    assert h["loss"][-1] < 0.6 * h["loss"][0]
    assert h["val_accuracy"][-1] > h["val_accuracy"][0]
    assert h["loss"][0] == pytest.approx(np.mean(h.batch_loss[:per_epoch]))
    assert model.training  # left in train mode


def test_full_batch_without_shuffle_is_gradient_descent():  # spec: TRAIN-SGD-MODES
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(30)
    lin = nn.Linear(3, 1, dtype=np.float64)
    w0, b0 = lin.weight.data.copy(), lin.bias.data.copy()
    h = fit(lin, nn.MSELoss(), optim.SGD(lin.parameters(), lr=0.1), (X, y[:, None]), epochs=4, batch_size=30,
            shuffle=False, metrics=(), progress=False)
    assert h.num_updates == 4  # B = N: one GD step per epoch
    w, b = w0, b0
    for _ in range(4):
        r = X @ w.T + b - y[:, None]                   # residuals (N, 1)
        gw, gb = 2 * r.T @ X / 30, 2 * r.sum(0) / 30   # ∇ of mean squared error
        w, b = w - 0.1 * gw, b - 0.1 * gb
    np.testing.assert_allclose(lin.weight.data, w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lin.bias.data, b, rtol=1e-12, atol=1e-14)


def test_mean_of_batch_gradients_is_full_gradient():  # spec: TRAIN-SGD-MODES
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((24, 3)), rng.integers(0, 2, 24)
    model = nn.Sequential(nn.Linear(3, 5, dtype=np.float64), nn.Tanh(), nn.Linear(5, 2, dtype=np.float64))
    loss_fn = nn.CrossEntropyLoss()

    def grads(xb, yb):
        model.zero_grad()
        loss_fn(model(cr.Tensor(xb)), yb).backward()
        return [p.grad.data.copy() for p in model.parameters()]

    full = grads(X, y)
    batches = [grads(X[i], y[i]) for i in DataLoader(TensorDataset(X, y), 6, shuffle=True).batch_indices()]
    for k, g in enumerate(full):
        np.testing.assert_allclose(np.mean([b[k] for b in batches], axis=0), g, rtol=1e-12, atol=1e-15)


def test_online_mode_and_epoch_visits_each_sample_once():  # spec: TRAIN-SGD-MODES, SGD-MINIBATCH
    seen = []

    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(1, 1, dtype=np.float64)

        def forward(self, x):
            seen.append(x.data[:, 0].copy())
            return self.lin(x)

    X = np.arange(13, dtype=np.float64)[:, None]
    model = Recorder()
    h = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=1e-4), (X, X), epochs=2, batch_size=1,
            metrics=(), progress=False)
    assert h.num_updates == 26  # B = 1: one update per sample
    ids = np.concatenate(seen).astype(int)
    assert sorted(ids[:13]) == list(range(13)) and sorted(ids[13:]) == list(range(13))
    assert list(ids[:13]) != list(ids[13:])  # reshuffled each epoch


def test_tutorial_loop_decreases_loss_and_vectorized_equals_per_example():  # spec: TRAIN-LOOP-000, TUT-HPARAMS
    from chainrule.presets import tutorial_regression
    p = tutorial_regression()
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (200, 2))
    y = (np.sin(2 * X[:, :1]) + X[:, 1:] ** 2)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32, dtype=np.float64), nn.ReLU(), nn.Linear(32, 1, dtype=np.float64))
    for m in model:
        if isinstance(m, nn.Linear):  # TRAIN-LOOP-000 step 1: Kaiming-normal weights, zero biases
            nn.init.normal_(m.weight, 0.0, np.sqrt(2.0 / m.in_features))
            nn.init.zeros_(m.bias)
    # vectorized batch gradient = average of the per-example gradients (the tutorial's loop)
    loss_fn = nn.MSELoss()
    model.zero_grad()
    loss_fn(model(cr.Tensor(X[:8])), cr.Tensor(y[:8])).backward()
    vec = [q.grad.data.copy() for q in model.parameters()]
    per = []
    for i in range(8):
        model.zero_grad()
        loss_fn(model(cr.Tensor(X[i:i + 1])), cr.Tensor(y[i:i + 1])).backward()
        per.append([q.grad.data.copy() for q in model.parameters()])
    for k, g in enumerate(vec):
        np.testing.assert_allclose(np.mean([pp[k] for pp in per], axis=0), g, rtol=1e-12, atol=1e-14)
    opt = p.make_optimizer(model.parameters())  # SGD, momentum 0.9, weight decay 0.2
    h = fit(model, loss_fn, opt, (X, y), epochs=p.epochs, batch_size=p.batch_size, metrics=(), progress=False)
    assert h.num_updates == p.epochs * 2
    assert h["loss"][-1] < 0.5 * h["loss"][0]


def test_evaluate_mean_and_standard_error():  # spec: CV-TEST-SET
    X, y = _toy_classification(97)
    model = nn.Sequential(nn.Linear(4, 3))
    loss_fn = nn.CrossEntropyLoss()
    res = evaluate(model, (X, y), loss_fn, ("accuracy", "error_rate"), batch_size=10)
    from chainrule.nn import functional as F
    per = F.cross_entropy(model(cr.Tensor(X)), y, reduction="none").data.astype(np.float64)
    assert res["n"] == 97
    assert res["loss"] == pytest.approx(per.mean(), rel=1e-6)
    assert res["loss_se"] == pytest.approx(per.std(ddof=1) / np.sqrt(97), rel=1e-6)
    assert res["accuracy"] + res["error_rate"] == pytest.approx(1.0)
    assert loss_fn.reduction == "mean"  # restored


def test_evaluate_covers_known_risk_within_3_se():  # spec: CV-TEST-SET
    # y = 2x + ε, ε ~ N(0, σ²); for the true model the squared-error risk is exactly σ².
    sigma, hits = 0.7, 0
    lin = nn.Linear(1, 1, dtype=np.float64)
    lin.weight.data[...] = 2.0
    lin.bias.data[...] = 0.0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((200, 1))
        yv = 2 * x + sigma * rng.standard_normal((200, 1))
        r = evaluate(lin, (x, yv), nn.MSELoss(), metrics=())
        hits += abs(r["loss"] - sigma ** 2) <= 3 * r["loss_se"]
    assert hits >= 95


def test_per_sample_loss_forms():
    rng = np.random.default_rng(0)
    out = cr.Tensor(rng.standard_normal((6, 3)))
    t = cr.Tensor(rng.standard_normal((6, 3)))
    for red in ("mean", "sum"):
        per = per_sample_loss(nn.MSELoss(reduction=red), out, t)
        full = nn.MSELoss(reduction=red)(out, t).data
        assert per.shape == (6,)
        assert (per.mean() if red == "mean" else per.sum()) == pytest.approx(float(full))
    from chainrule.nn import functional as F
    assert per_sample_loss(F.mse_loss, out, t).mean() == pytest.approx(float(F.mse_loss(out, t).data))

    def plain(o, y):  # no reduction argument: evaluated sample by sample
        return ((o - y) ** 2).mean()
    np.testing.assert_allclose(per_sample_loss(plain, out, t), ((out.data - t.data) ** 2).mean(1))


def test_predict_eval_mode_and_batching():
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    X = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    a = predict(model, X, batch_size=7)
    b = predict(model, cr.Tensor(X), batch_size=50)
    assert a.shape == (50, 2)
    np.testing.assert_allclose(a, b, rtol=1e-6)  # dropout off in eval mode: deterministic
    assert model.training  # restored
    c = predict(model, DataLoader(TensorDataset(X), batch_size=16))
    np.testing.assert_allclose(a, c, rtol=1e-6)


def test_fit_accepts_plain_numpy_and_validates_inputs():
    X, y = _toy_classification(40)
    model = nn.Linear(4, 3)
    h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=1, batch_size=8,
            progress=False)
    assert h.num_updates == 5
    with pytest.raises(ValueError, match="rows"):
        as_loader((X, y[:10]))
    with pytest.raises(TypeError, match="one-shot"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), iter([(X, y)]), progress=False)
    with pytest.raises(TypeError, match=r"\(X, y\)"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), X, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=-1)


def test_train_metrics_modes():
    X, y = _toy_classification(64)
    for mode in ("running", "eval", None):
        model = nn.Linear(4, 3)
        h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2,
                batch_size=16, progress=False, train_metrics=mode)
        assert ("accuracy" in h) == (mode is not None)
    # 'eval' = accuracy of the end-of-epoch weights on the training set
    model = nn.Linear(4, 3)
    h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=1,
            batch_size=16, progress=False, train_metrics="eval")
    assert h["accuracy"][0] == evaluate(model, (X, y))["accuracy"]
    # evaluating the training set does not consume the shuffling state: same batches as without metrics
    runs = []
    for mode in ("eval", None):
        model = nn.Linear(4, 3, generator=cr.Generator(0))
        runs.append(fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=3,
                        batch_size=16, progress=False, train_metrics=mode, generator=cr.Generator(5)).batch_loss)
    assert runs[0] == runs[1]


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    gs = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ps = [cr.Tensor(np.zeros_like(g), requires_grad=True) for g in gs]
    for p, g in zip(ps, gs):
        p.grad = cr.Tensor(g.copy())
    tp = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for p, g in zip(tp, gs):
        p.grad = torch.tensor(g)
    n = clip_grad_norm_(ps, 1.5)
    nt = torch.nn.utils.clip_grad_norm_(tp, 1.5)
    assert n == pytest.approx(float(nt), rel=1e-12)
    for p, q in zip(ps, tp):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-12)
    assert np.sqrt(sum((p.grad.data ** 2).sum() for p in ps)) == pytest.approx(1.5, rel=1e-5)


def test_fit_clip_grad_norm_limits_the_step():
    X, y = _toy_classification(32)
    model = nn.Linear(4, 3)
    w0 = model.weight.data.copy()
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1.0), (X * 100, y), epochs=1,
        batch_size=32, clip_grad_norm=1e-3, progress=False, metrics=())
    assert np.linalg.norm(model.weight.data - w0) <= 1e-3 + 1e-7


def test_fit_with_closure_optimizer_lbfgs():
    if not hasattr(optim, "LBFGS"):
        pytest.skip("optim.LBFGS not available")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([[1.0], [-1.0], [2.0]])
    lin = nn.Linear(3, 1, dtype=np.float64)
    h = fit(lin, nn.MSELoss(), optim.LBFGS(lin.parameters(), lr=1.0, max_iter=20), (X, y), epochs=2,
            batch_size=40, metrics=(), progress=False)
    assert h.num_updates == 2 and h.batch_loss[-1] < 1e-6 < h.batch_loss[0]


def test_history_json_round_trip(tmp_path):
    X, y = load_digits("test", as_images=False)
    model = nn.Linear(64, 10)
    h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2, batch_size=64,
            progress=False)
    h.save_json(tmp_path / "h.json")
    h2 = History.load_json(tmp_path / "h.json")
    assert h2.batch_loss == h.batch_loss and h2.metrics == h.metrics and h2.epochs == h.epochs
    assert h.best("loss") == (1, h["loss"][1])
    with pytest.raises(KeyError, match="val_loss"):
        h["val_loss"]
