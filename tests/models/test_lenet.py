"""LeNet-5 and the TF MNIST CNN: parameter counts and layer shapes (spec tables), PyTorch equality,
``summary``, and a short MNIST training smoke test."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import mnist_dir, torch_or_skip

import chainrule as cr
from chainrule import nn
from chainrule.models import TFCNN, LeNet5, cnn_mnist, count_parameters, pad_mnist, summary


def test_lenet5_parameter_count_and_layer_shapes():
    # spec: CNN-LENET5, CNN-PARAM-COUNT: 156 + 0 + 2,416 + 0 + 48,120 + 10,164 + 850 = 61,706
    m = LeNet5()
    assert count_parameters(m) == 61_706
    rows = summary(m, (2, 1, 32, 32))
    assert rows.total_params == 61_706
    conv_pool = [(r.name.split(".")[-1], r.output_shape[1:], r.params) for r in rows if r.kind != "Tanh"]
    assert conv_pool == [("c1", (6, 28, 28), 156), ("s2", (6, 14, 14), 0), ("c3", (16, 10, 10), 2_416),
                         ("s4", (16, 5, 5), 0), ("c5", (120, 1, 1), 48_120), ("flatten", (120,), 0),
                         ("f6", (84,), 10_164), ("output", (10,), 850)]
    assert sum(r.params for r in rows) == 61_706
    assert "total parameters: 61,706" in str(rows)
    for act, pool in [("relu", "avg"), ("relu", "max"), ("tanh", "avg")]:
        v = LeNet5(activation=act, pool=pool)
        assert count_parameters(v) == 61_706
        assert v(cr.Tensor(np.zeros((3, 1, 32, 32), np.float32))).shape == (3, 10)
    with pytest.raises(ValueError, match=r"expected input \(N, C, 32, 32\).*pad_mnist"):
        m(cr.Tensor(np.zeros((1, 1, 28, 28), np.float32)))
    with pytest.raises(ValueError, match="activation"):
        LeNet5(activation="softsign")
    assert pad_mnist(np.zeros((4, 28, 28), np.float32)).shape == (4, 1, 32, 32)


def _torch_lenet(ref, torch):
    t = torch.nn
    act = t.Tanh if ref.activation == "tanh" else t.ReLU
    pool = t.MaxPool2d if ref.pool == "max" else t.AvgPool2d
    model = t.Sequential(t.Conv2d(1, 6, 5), act(), pool(2), t.Conv2d(6, 16, 5), act(), pool(2), t.Conv2d(16, 120, 5),
                         act(), t.Flatten(), t.Linear(120, 84), act(), t.Linear(84, 10)).double()
    src = [m for m in ref.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for d, s in zip([m for m in model if isinstance(m, (t.Conv2d, t.Linear))], src):
            d.weight.copy_(torch.from_numpy(s.weight.data))
            d.bias.copy_(torch.from_numpy(s.bias.data))
    return model


@pytest.mark.parametrize("act,pool", [("tanh", "max"), ("relu", "avg")])
def test_lenet5_forward_backward_equal_torch(act, pool):
    torch = torch_or_skip()
    m = LeNet5(act, pool, dtype=np.float64, generator=cr.Generator(1))
    tm = _torch_lenet(m, torch)
    x = np.random.default_rng(0).standard_normal((3, 1, 32, 32))
    y = np.array([1, 7, 3])
    loss = nn.functional.cross_entropy(m(cr.Tensor(x)), y)
    loss.backward()
    lt = torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y))
    lt.backward()
    assert abs(loss.item() - lt.item()) < 1e-12
    tparams = [p for mod in tm if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)) for p in (mod.weight, mod.bias)]
    for p, q in zip(m.parameters(), tparams):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_tfcnn_parameter_count_shapes_and_init():
    # spec: RECIPE-TF-CNN-MNIST: 832 + 51,264 + 3,212,288 + 10,250 = 3,274,634; (N, 64, 7, 7) before flatten
    m = cnn_mnist()
    assert isinstance(m, TFCNN) and count_parameters(m) == 3_274_634
    rows = summary(m, (1, 1, 28, 28))
    params = [r.params for r in rows if r.params]
    assert params == [832, 51_264, 3_212_288, 10_250]
    assert [r.output_shape for r in rows if r.name.endswith("pool2")] == [(1, 64, 7, 7)]
    assert [r.kind for r in rows].count("Dropout") == 1
    tf = TFCNN(init="tf", generator=cr.Generator(0))
    w = tf.features.conv2.weight.data
    assert np.abs(w).max() <= 0.2 and abs(w.std() - 0.088) < 0.01      # N(0, 0.1²) truncated at ±2σ
    np.testing.assert_array_equal(tf.classifier.fc1.bias.data, np.float32(0.1))
    m.eval()
    x = cr.Tensor(np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32))
    np.testing.assert_array_equal(m(x).data, m(x).data)                # eval: dropout off, deterministic
    assert m(x).dtype == np.float32


def test_summary_restores_the_model():
    m = LeNet5()
    m.train()
    summary(m, (1, 1, 32, 32))
    assert m.training and all("forward" not in mod.__dict__ for mod in m.modules())
    m.eval()
    rows = summary(m, (1, 1, 32, 32))
    assert not m.training and rows[0].name == "features.c1" and rows[0].kind == "Conv2d"


def test_lenet5_learns_mnist_quickly():
    # smoke test on genuine MNIST (skips without the files): one pass over 3,000 images.  Only the small
    # test file is read: train on its first 3,000 images, evaluate on its last 1,000.
    root = mnist_dir()
    from chainrule.data import load_mnist
    X, y = load_mnist(root, "test")
    Xp = pad_mnist(X).data
    cr.manual_seed(0)
    m = LeNet5(generator=cr.Generator(0))
    opt = cr.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    for i in range(0, 3000, 32):
        loss = nn.functional.cross_entropy(m(cr.Tensor(Xp[i:i + 32])), y[i:i + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    with cr.no_grad():
        acc = float((m(cr.Tensor(Xp[-1000:])).data.argmax(1) == y[-1000:]).mean())
    assert acc > 0.75, acc       # chance is 0.1


@pytest.mark.slow
@pytest.mark.parametrize("script", ["lenet5_mnist.py", "conv_algorithms.py"])
def test_cnn_examples_quick(script, tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    if script == "lenet5_mnist.py":
        mnist_dir()
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, str(root / "examples" / "cnn" / script), "--quick", "--out", str(tmp_path)]
                       + (["--no-progress"] if script == "lenet5_mnist.py" else []),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert any(p.suffix == ".json" for p in tmp_path.iterdir())
