"""Smoke runs of the CNN examples (``--quick``) on genuine MNIST / Fashion-MNIST; slow, skipped without data.

spec: RECIPE-TF-CNN-MNIST, CNN-REGRESSION-PIPELINE, CAM-GAP, CAM-CLASS-MAP, TRANSFER-FINETUNE, CNN-FILTER-VIS
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import ROOT, fashion_dir, mnist_dir

pytestmark = pytest.mark.slow
PNG = b"\x89PNG\r\n\x1a\n"


def _run(script: str, out, *extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    cmd = [sys.executable, str(ROOT / "examples" / "cnn" / script), "--quick", "--no-progress", "--out", str(out),
           "--data-dir", str(mnist_dir()), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, f"{script} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    stem = script[:-3] + "_quick"
    d = json.loads((out / f"{stem}.json").read_text())
    assert d["command"] == f"python examples/cnn/{script} --quick" and d["summary"]
    md = (out / "results_quick.md").read_text()
    assert d["title"] in md
    return d


def _pngs(out, stem):
    files = sorted(out.glob(f"{stem}*.png"))
    assert files
    for f in files:
        assert f.read_bytes()[:8] == PNG
    return [f.name for f in files]


def test_tf_cnn_mnist_quick(tmp_path):
    # spec: RECIPE-TF-CNN-MNIST, CNN-FILTER-VIS — 3,000 images, 1 epoch of Adam 1e-3, batch 50
    d = _run("tf_cnn_mnist.py", tmp_path)
    assert d["parameters"] == 3_274_634
    assert d["final_test_acc"] > 0.85, d["final_test_acc"]
    names = _pngs(tmp_path, "tf_cnn_mnist_quick")
    for part in ("curves", "filters", "feature_maps", "confusion", "misclassified", "actmax"):
        assert f"tf_cnn_mnist_quick_{part}.png" in names
    assert all(end > start for start, end in d["actmax_logit_start_end"])  # AD-INPUT-OPTIM raised every logit


def test_cnn_regression_quick(tmp_path):
    # spec: CNN-REGRESSION-PIPELINE — k-fold CV mean ± std, mean baseline reported
    d = _run("cnn_regression.py", tmp_path)
    for cv in d["cv"].values():
        assert len(cv["folds"]) == 3 and cv["cv_mse_std"] >= 0 and cv["baseline_mse_mean"] > 6.0
    assert d["test"]["mse"] > 0
    _pngs(tmp_path, "cnn_regression_quick")


def test_cam_mnist_quick(tmp_path):
    # spec: CAM-GAP, CAM-CLASS-MAP — identity mean M_c + b_c = s_c; class map = crop logits; localisation numbers
    d = _run("cam_mnist.py", tmp_path)
    g, c = d["gap"], d["class_map"]
    assert g["max_abs_mean_cam_plus_bias_minus_logit"] < 1e-4
    assert c["max_abs_class_map_minus_crop_logits"] < 1e-4
    assert c["class_map_shape"] == [11, 17, 17] and c["stride"] == [4, 4]
    assert c["true_class_peak_within_2_cells"] > 0.5  # a digit pasted in a 3× canvas: its class map peaks there
    assert g["peak_in_paste_box"] > g["chance_paste_box"]
    names = _pngs(tmp_path, "cam_mnist_quick")
    assert names == ["cam_mnist_quick_classmap.png", "cam_mnist_quick_gap.png"]


def test_transfer_fashion_quick(tmp_path):
    # spec: TRANSFER-FINETUNE — frozen parameters are checked bitwise inside the script
    d = _run("transfer_fashion.py", tmp_path, "--fashion-dir", str(fashion_dir()))
    res = d["fashion"]["10"]
    assert set(res) >= {"scratch", "frozen pretrained features + head", "fine-tune all (copied layers 0.1× lr)"}
    fr = res["frozen pretrained features + head"]
    assert fr["trainable_params"] == 128 * 10 + 10 and fr["frozen_params"] > 0
    assert all(0.1 < r["test_acc"] <= 1 for r in res.values())
    _pngs(tmp_path, "transfer_fashion_quick")


def test_tf_cnn_ci_smoke_10k_one_epoch(tmp_path):
    # spec: RECIPE-TF-CNN-MNIST — CI smoke: 10,000 training images, 1 epoch, batch 50, Adam 1e-3: ≥ 0.93
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    cmd = [sys.executable, str(ROOT / "examples" / "cnn" / "tf_cnn_mnist.py"), "--train-size", "10000", "--epochs", "1",
           "--no-progress", "--out", str(tmp_path), "--data-dir", str(mnist_dir())]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    assert p.returncode == 0, p.stderr[-3000:]
    d = json.loads((tmp_path / "tf_cnn_mnist.json").read_text())
    assert d["train_images"] == 10_000 and d["test_images"] == 10_000 and len(d["history"]) == 1
    assert d["config"]["batch"] == 50 and d["config"]["lr"] == 1e-3
    assert d["final_test_acc"] >= 0.93, d["final_test_acc"]
