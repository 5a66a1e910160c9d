"""The `chainrule` command, called in-process (train/eval/info/gradcheck/bench)."""

import json

import numpy as np
import pytest

from chainrule import cli
from chainrule.data import load_digits, write_idx


def test_train_and_eval_on_digits(tmp_path, capsys):
    out = tmp_path / "run"
    rc = cli.main(["train", "--data", "digits", "--epochs", "1", "--out", str(out), "--no-progress", "--seed", "1"])
    assert rc == 0
    for f in ("model.npz", "history.json", "curves.png", "metrics.json"):
        assert (out / f).is_file(), f
    text = capsys.readouterr().out
    assert "test: loss" in text and "accuracy" in text
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["model"] == "mlp" and meta["epochs_run"] == 1 and meta["test"]["accuracy"] > 0.5
    hist = json.loads((out / "history.json").read_text())
    assert len(hist["batch_loss"]) == int(np.ceil(0.9 * 1438 / 32))
    rc = cli.main(["eval", str(out / "model.npz"), "--json", str(tmp_path / "ev.json")])
    assert rc == 0
    assert "accuracy" in capsys.readouterr().out
    ev = json.loads((tmp_path / "ev.json").read_text())
    assert ev["accuracy"] == pytest.approx(meta["test"]["accuracy"])   # the same weights were reloaded
    assert ev["loss"] == pytest.approx(meta["test"]["loss"], rel=1e-6)
    assert cli.main(["eval", str(out)]) == 0  # the folder works too


def test_train_options_and_idx_folder(tmp_path, capsys):
    X, y = load_digits()
    imgs = (X[:, 0] * 255).astype(np.uint8)
    folder = tmp_path / "idx"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte", imgs[:300])
    write_idx(folder / "train-labels-idx1-ubyte", y[:300].astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", imgs[300:400])
    write_idx(folder / "t10k-labels-idx1-ubyte", y[300:400].astype(np.uint8))
    rc = cli.main(["train", "--data", str(folder), "--epochs", "2", "--optimizer", "adam", "--hidden", "32",
                   "--batch-size", "16", "--patience", "1", "--dtype", "float64", "--out", str(tmp_path / "o"),
                   "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    assert cli.main(["eval", str(tmp_path / "o"), "--data", str(folder)]) == 0


@pytest.mark.parametrize("argv, msg", [
    (["train", "--device", "cuda"], "not available"),
    (["train", "--data", "/nonexistent/folder"], "no such folder"),
    (["train", "--model", "resnet9000"], "unknown model"),
    (["train", "--optimizer", "sgdx"], "unknown optimizer"),
    (["train", "--epochs", "0"], "positive"),
    (["train", "--optimizer", "rprop", "--weight-decay", "0.1"], "not an option of Rprop"),
    (["train", "--lr", "-1"], "positive"),
    (["eval", "/nonexistent/model.npz"], "not found"),
])
def test_helpful_errors(argv, msg, capsys, tmp_path):
    rc = cli.main(argv + (["--out", str(tmp_path)] if argv[0] == "train" else []))
    assert rc == 2
    assert msg in capsys.readouterr().err


def test_eval_rejects_wrong_data_shape(tmp_path, capsys):
    assert cli.main(["train", "--epochs", "1", "--out", str(tmp_path), "--no-progress", "--limit", "200"]) == 0
    folder = tmp_path / "idx28"
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    capsys.readouterr()
    assert cli.main(["eval", str(tmp_path), "--data", str(folder)]) == 2
    assert "expects samples of shape (1, 8, 8)" in capsys.readouterr().err


def test_info(capsys):
    assert cli.main(["info"]) == 0
    text = capsys.readouterr().out
    for key in ("chainrule:", "numpy:", "default_dtype: float32", "backend: numpy (CPU)"):
        assert key in text
    assert cli.main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "mlp" in info["models"] and "sgd" in info["optimizers"]


def test_gradcheck_passes_and_failure_gives_nonzero_exit(capsys, monkeypatch):
    assert cli.main(["gradcheck", "--only", "tanh,linear,cross_entropy"]) == 0
    out = capsys.readouterr().out
    assert "tanh" in out and "3 passed, 0 failed" in out

    import chainrule as cr
    from chainrule.tensor import _make
    from chainrule.utils import gradcheck_suite

    def wrong_square(a):  # forward x², backward claims 3x: must be caught
        return _make(a.data ** 2, (a,), lambda g, out, x: (g * 3 * x,))

    monkeypatch.setattr(gradcheck_suite, "default_cases",
                        lambda: [gradcheck_suite.Case("wrong_square", wrong_square, ((2, 3),), smooth=False)])
    assert cli.main(["gradcheck"]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "wrong_square" in captured.err
    assert cli.main(["gradcheck", "--only", "no-such-op"]) == 2
    _ = cr


def test_bench_builtin(capsys):
    assert cli.main(["bench", "--builtin", "--seconds", "0.05"]) == 0
    assert "samples/s" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert cli.main(["--help"]) == 0
