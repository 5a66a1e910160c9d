"""The tutorial's regression CNN (spec: CNN-REGRESSION-PIPELINE, TRAIN-LOOP-000)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.presets import tutorial_regression


def test_structure_and_init():
    m = cr.models.regression_cnn(generator=cr.Generator(0))
    x = cr.Tensor(np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32))
    assert m(x).shape == (4, 1)
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU",
                     "BatchNorm1d", "Linear"]
    for layer in m:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            assert np.all(layer.bias.data == 0)                       # zero biases
            fan_in = int(np.prod(layer.weight.shape[1:]))
            if layer.weight.size > 1000:                                # Kaiming normal: std √(2/fan_in)
                assert layer.weight.data.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.1)


def test_too_small_images_raise():
    with pytest.raises(ValueError, match="too small"):
        cr.models.regression_cnn(image_size=8)


def test_pipeline_beats_predicting_the_mean():
    """MSE + weight decay + SGD momentum (tutorial presets) learns a real-valued image target."""
    rng = np.random.default_rng(0)
    X = rng.random((256, 1, 16, 16), dtype=np.float32)
    y = X[:, 0, 4:12, 4:12].mean(axis=(1, 2))[:, None].astype(np.float32) * 10   # ink in the centre
    p = tutorial_regression()
    m = cr.models.regression_cnn(channels=(4, 8), hidden=16, image_size=16, generator=cr.Generator(0))
    opt = cr.optim.SGD(m.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=1e-4)
    loader = cr.DataLoader(cr.TensorDataset(X[:192], y[:192]), batch_size=32, shuffle=True,
                           generator=cr.Generator(1))
    for _ in range(30):
        for xb, yb in loader:
            loss = nn.functional.mse_loss(m(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    m.eval()
    with cr.no_grad():
        mse = float(((m(cr.Tensor(X[192:])).data - y[192:]) ** 2).mean())
    baseline = float(((y[:192].mean() - y[192:]) ** 2).mean())
    assert mse < 0.5 * baseline
