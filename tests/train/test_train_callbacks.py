"""Callbacks (spec: REG-EARLY-STOP, TRAIN-VAL-EARLYSTOP, TRAIN-CURVES)."""

import csv
import json
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.io import load_checkpoint, load_metadata
from chainrule.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientNormLogger,
    JSONLogger,
    LambdaCallback,
    LRSchedulerCallback,
    ModelCheckpoint,
    StopAtTarget,
    TerminateOnNaN,
    evaluate,
    fit,
)


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    return X, y


def _weights(model):
    return [p.data.copy() for p in model.parameters()]


class Scripted(Callback):
    """Replaces logs['val_loss'] by a scripted sequence and snapshots the weights every epoch."""

    def __init__(self, values):
        self.values = values
        self.snapshots = []

    def on_epoch_end(self, epoch, logs):
        logs["val_loss"] = self.values[epoch]
        self.snapshots.append(_weights(self.model))


def _run_scripted(values, patience, **kw):
    X, y = _data()
    model = nn.Linear(4, 2)
    script = Scripted(values)
    es = EarlyStopping(monitor="val_loss", patience=patience, **kw)
    h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5), (X, y), epochs=len(values),
            batch_size=16, val_loader=(X, y), callbacks=[script, es], progress=False)
    return model, script, es, h


def test_early_stopping_spec_sequence_patience_2():  # spec: REG-EARLY-STOP
    model, script, es, h = _run_scripted([1.0, 0.9, 0.95, 0.96, 0.8], patience=2)
    assert h.num_epochs == 4 and h.stopped_early  # stops after the 4th epoch
    assert es.stopped_epoch == 3 and es.best_epoch == 1 and es.best == 0.9
    for w, s in zip(_weights(model), script.snapshots[1]):  # weights after the 2nd epoch restored
        np.testing.assert_array_equal(w, s)
    assert not all(np.array_equal(w, s) for w, s in zip(script.snapshots[3], script.snapshots[1]))


def test_early_stopping_patience_0_stops_at_first_non_improvement():  # spec: REG-EARLY-STOP
    _, _, es, h = _run_scripted([1.0, 0.9, 0.95, 0.96, 0.8], patience=0)
    assert h.num_epochs == 3 and es.stopped_epoch == 2


def test_early_stopping_min_delta_mode_max_baseline_and_no_restore():  # spec: REG-EARLY-STOP
    # improvement smaller than min_delta does not count
    _, _, es, h = _run_scripted([1.0, 0.99, 0.98, 0.97, 0.96], patience=1, min_delta=0.05)
    assert h.num_epochs == 2 and es.best == 1.0
    # mode 'auto' on an accuracy name is 'max'
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    # baseline: wait is not reset until the baseline is beaten -> stops after `patience` epochs
    _, _, es, h = _run_scripted([1.0, 0.9, 0.8, 0.7, 0.6], patience=2, baseline=0.5)
    assert h.num_epochs == 2
    _, _, es, h = _run_scripted([1.0, 0.4, 0.45, 0.3, 0.6], patience=2, baseline=0.5)
    assert h.num_epochs == 5  # beaten at epoch 1: normal patience from then on
    # restore_best_weights=False keeps the last weights
    model, script, es, h = _run_scripted([1.0, 0.9, 0.95, 0.96, 0.8], patience=2, restore_best_weights=False)
    for w, s in zip(_weights(model), script.snapshots[-1]):
        np.testing.assert_array_equal(w, s)
    # start_from_epoch ignores the first epochs
    _, _, es, h = _run_scripted([1.0, 2.0, 3.0, 4.0, 5.0], patience=0, start_from_epoch=2)
    assert h.num_epochs == 4 and es.best_epoch == 2


def test_early_stopping_missing_monitor_is_explained():
    X, y = _data()
    model = nn.Linear(4, 2)
    with pytest.raises(KeyError, match="val_loader"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2,
            callbacks=[EarlyStopping()], progress=False)


def test_early_stopping_big_mlp_noisy_points_restores_best_exactly():  # spec: TRAIN-VAL-EARLYSTOP
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (100, 1))
    yv = np.sin(3 * x) + 0.3 * rng.standard_normal((100, 1))
    Xtr, ytr, Xva, yva = x[:50], yv[:50], x[50:], yv[50:]
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 128, dtype=np.float64), nn.Tanh(), nn.Linear(128, 128, dtype=np.float64),
                          nn.Tanh(), nn.Linear(128, 1, dtype=np.float64))
    es = EarlyStopping(patience=5)
    h = fit(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.01), (Xtr, ytr), epochs=500, batch_size=10,
            val_loader=(Xva, yva), callbacks=[es], metrics=(), progress=False)
    assert h.stopped_early and h.num_epochs < 500
    best = min(h["val_loss"])
    assert evaluate(model, (Xva, yva), nn.MSELoss(), metrics=())["loss"] == best  # exactly the best epoch
    assert h["val_loss"][-1] > best


def test_model_checkpoint_atomic_and_loadable(tmp_path):
    X, y = _data()
    model = nn.Linear(4, 2)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    ck = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}.npz", monitor="loss", save_best_only=False)
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss", save_best_only=True)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=3, batch_size=16, val_loader=(X, y),
            callbacks=[ck, best], progress=False)
    names = sorted(os.listdir(tmp_path))
    assert names == ["best.npz", "ckpt-01.npz", "ckpt-02.npz", "ckpt-03.npz"]  # no temporary files left
    fresh = nn.Linear(4, 2)
    load_checkpoint(tmp_path / "ckpt-03.npz", model=fresh)
    for a, b in zip(fresh.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    meta = load_metadata(tmp_path / "ckpt-03.npz")["metadata"]
    assert meta["epoch"] == 3 and meta["logs"]["loss"] == pytest.approx(h["loss"][2])
    assert best.best == min(h["val_loss"])
    assert load_metadata(tmp_path / "best.npz")["metadata"]["epoch"] == 1 + int(np.argmin(h["val_loss"]))


def test_model_checkpoint_crash_keeps_previous_file(tmp_path, monkeypatch):
    X, y = _data()
    model = nn.Linear(4, 2)
    path = tmp_path / "m.npz"
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5), (X, y), epochs=1,
        callbacks=[ModelCheckpoint(path, monitor="loss")], progress=False)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(OSError, match="simulated"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5), (X, y), epochs=1,
            callbacks=[ModelCheckpoint(path, monitor="loss")], progress=False)
    assert path.read_bytes() == before            # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["m.npz"]      # and no temporary file is left behind


def test_csv_and_json_loggers(tmp_path):
    X, y = _data()
    model = nn.Linear(4, 2)
    h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5), (X, y), epochs=3,
            batch_size=16, val_loader=(X, y),
            callbacks=[CSVLogger(tmp_path / "log.csv"), JSONLogger(tmp_path / "h.json")], progress=False)
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["val_loss"]) for r in rows] == h["val_loss"]
    d = json.load(open(tmp_path / "h.json"))
    assert len(d["batch_loss"]) == h.num_updates and d["metrics"]["loss"] == h["loss"]
    # append mode continues the same file with the same columns
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5), (X, y), epochs=1, batch_size=16,
        val_loader=(X, y), callbacks=[CSVLogger(tmp_path / "log.csv", append=True)], progress=False)
    assert len(list(csv.DictReader(open(tmp_path / "log.csv")))) == 4


def test_lr_scheduler_callback_per_epoch_and_plateau():
    X, y = _data()
    model = nn.Linear(4, 2)
    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=3, callbacks=[LRSchedulerCallback(sched)],
            progress=False)
    assert h["lr"] == [1.0, 0.5, 0.25]  # lr used in each epoch
    assert opt.param_groups[0]["lr"] == 0.125
    if not hasattr(optim.lr_scheduler, "ReduceLROnPlateau"):
        return
    opt = optim.SGD(model.parameters(), lr=1.0)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    script = Scripted([1.0, 1.0, 1.0, 1.0])
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=4, val_loader=(X, y),
        callbacks=[script, LRSchedulerCallback(plateau, monitor="val_loss")], progress=False)
    assert opt.param_groups[0]["lr"] == 0.125  # no improvement after epoch 0: halved three times


def test_gradient_norm_logger_sees_vanishing_gradients():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 8))
    y = rng.integers(0, 2, 64)
    layers = []
    for _ in range(6):
        layers += [nn.Linear(8, 8, dtype=np.float64), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(8, 2, dtype=np.float64))
    gl = GradientNormLogger(every=2)
    h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2, batch_size=16,
            callbacks=[gl], progress=False)
    assert gl.steps == [0, 2, 4, 6]
    first, last = np.mean(gl.norms["0.weight"]), np.mean(gl.norms["12.weight"])
    assert first < last / 10  # sigmoid stack: the first layer's gradient is much smaller
    assert h.extra["grad_norms"] is gl.norms
    with pytest.raises(ValueError, match="no parameters named"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=1,
            callbacks=[GradientNormLogger(names=["nope"])], progress=False)


def test_terminate_on_nan_and_lambda_callback():
    X, y = _data()
    model = nn.Linear(4, 2)
    calls = []
    with np.errstate(all="ignore"):
        h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1e38), (X * 1e30, y), epochs=5,
                batch_size=8, callbacks=[TerminateOnNaN(), LambdaCallback(on_epoch_end=lambda e, lg: calls.append(e))],
                progress=False)
    assert h.stopped_early and "TerminateOnNaN" in h.stop_reason
    assert h.num_updates < 5 * 8
    assert calls == [0]


def test_callback_type_checked():
    X, y = _data()
    model = nn.Linear(4, 2)
    with pytest.raises(TypeError, match="Callback"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), callbacks=[print],
            progress=False)


def test_stop_at_target_for_the_capacity_check():  # spec: TRICK-CAPACITY
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 20)).astype(np.float32)
    y = rng.integers(0, 3, 40)  # random labels: only memorization can fit them
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 3))
    stop = StopAtTarget("accuracy", 1.0)
    h = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), (X, y), epochs=300,
            batch_size=40, callbacks=[stop], progress=False, train_metrics="eval")
    assert h.stopped_early and stop.reached_epoch == h.num_epochs - 1 < 299
    assert h["accuracy"][-1] == 1.0 and max(h["accuracy"][:-1]) < 1.0
    assert StopAtTarget("val_loss", 0.1).mode == "min"


class _FakeTTY:
    def __init__(self):
        import io
        self.buf = io.StringIO()

    def isatty(self):
        return True

    def write(self, s):
        return self.buf.write(s)

    def flush(self):
        pass


def test_progress_bar_quiet_without_tty_and_shown_on_tty(capsys):
    import io

    from chainrule.train import ProgressBar
    X, y = _data()
    model = nn.Linear(4, 2)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2, progress=True)
    assert capsys.readouterr().err == ""          # pytest's stderr is not a terminal: quiet
    pipe = io.StringIO()
    bar = ProgressBar(file=pipe)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=1, callbacks=[bar])
    assert pipe.getvalue() == "" and not bar.wants_batch_end()
    tty = _FakeTTY()
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2,
        callbacks=[ProgressBar(file=tty)])
    text = tty.buf.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text and "2/2" in text and "loss=" in text
    off = _FakeTTY()
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=1,
        callbacks=[ProgressBar(enabled=False, file=off)])
    assert off.buf.getvalue() == ""
