"""Slow: the TRICK-CAPACITY example (MLP memorizes random MNIST labels; softmax-regression baseline)."""

import importlib.util
from pathlib import Path

import pytest
from helpers import mnist_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mlp_memorizes_random_labels(tmp_path, monkeypatch, capsys):  # spec: TRICK-CAPACITY
    monkeypatch.setenv("CHAINRULE_MNIST_DIR", str(mnist_dir()))
    spec = importlib.util.spec_from_file_location("capacity_example", ROOT / "examples" / "train" / "capacity.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    summary = mod.main(["--out", str(tmp_path), "--no-progress"])
    runs = summary["runs"]
    assert summary["n"] == 1000
    assert runs["mlp/random"]["train_accuracy"] == 1.0          # memorized: 100 % on random labels
    assert runs["softmax_regression/random"]["train_accuracy"] < 1.0
    assert runs["mlp/random"]["test_accuracy_true_labels"] < 0.2  # nothing learned that generalizes
    out = capsys.readouterr().out
    assert "softmax_regression" in out and "| mlp |" in out      # baseline printed beside it
    assert (tmp_path / "capacity.png").exists() and (tmp_path / "capacity.json").exists()
