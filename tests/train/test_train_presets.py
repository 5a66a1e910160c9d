"""Presets and the model registry (spec: TUT-HPARAMS, RECIPE-NIELSEN-MNIST)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, presets
from chainrule.train import per_sample_loss


def test_tutorial_regression_defaults():  # spec: TUT-HPARAMS
    p = presets.tutorial_regression()
    assert (p.lr, p.weight_decay, p.epochs, p.batch_size, p.momentum) == (0.01, 0.2, 10, 100, 0.9)
    assert p.lr_choices == (0.01, 0.1) and p.epochs_choices == (5, 10, 100)
    assert p.init == "kaiming"
    opt = p.make_optimizer(nn.Linear(2, 1).parameters())
    g = opt.param_groups[0]
    assert (g["lr"], g["momentum"], g["weight_decay"]) == (0.01, 0.9, 0.2)
    import dataclasses
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.lr = 1.0  # frozen


def test_nielsen_preset_and_model():  # spec: RECIPE-NIELSEN-MNIST
    p = presets.nielsen_mnist()
    assert (p.lr, p.batch_size, p.epochs, p.sizes) == (3.0, 10, 30, (784, 30, 10))
    assert p.extra["train_size"] == 50000 and p.extra["mse_mean_lr"] == 15.0
    m = presets.nielsen_model(p, generator=cr.Generator(0))
    assert m.num_parameters() == 23860
    assert presets.nielsen_model(presets.nielsen_mnist((784, 30, 30, 10))).num_parameters() == 24790


def test_quadratic_cost_equals_scaled_mse_and_gradients():  # spec: RECIPE-NIELSEN-MNIST
    rng = np.random.default_rng(0)
    a = cr.Tensor(rng.random((7, 10)), requires_grad=True)
    yv = cr.Tensor(np.eye(10)[rng.integers(0, 10, 7)])
    c = presets.QuadraticCost()
    expect = 0.5 * ((a.data - yv.data) ** 2).sum() / 7
    assert float(c(a, yv).data) == pytest.approx(expect, rel=1e-12)
    assert float(c(a, yv).data) == pytest.approx(float(nn.MSELoss()(a, yv).data) * 10 / 2, rel=1e-12)
    c(a, yv).backward()
    np.testing.assert_allclose(a.grad.data, (a.data - yv.data) / 7, rtol=1e-12)  # (a − y)/B
    y34 = cr.Tensor(rng.random((3, 4)))
    assert cr.gradcheck(lambda t: c(t, y34), [cr.Tensor(rng.random((3, 4)), requires_grad=True)])
    assert cr.gradgradcheck(lambda t: c(t, y34), [cr.Tensor(rng.random((3, 4)), requires_grad=True)])
    per = per_sample_loss(c, a, yv)
    assert per.mean() == pytest.approx(expect, rel=1e-12)
    assert float(presets.QuadraticCost("sum")(a, yv).data) == pytest.approx(expect * 7, rel=1e-12)


def test_model_registry():
    assert "mlp" in presets.available_models()
    m = presets.build_model("mlp", (1, 8, 8), 10, hidden=(16, 8))
    assert m(cr.Tensor(np.zeros((2, 1, 8, 8), np.float32))).shape == (2, 10)
    with pytest.raises(ValueError, match="unknown model"):
        presets.build_model("resnet152", (3, 32, 32), 10)

    @presets.register_model("tiny_test_model")
    def _tiny(input_shape, num_classes, **kw):
        return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), num_classes))

    try:
        assert "tiny_test_model" in presets.available_models()
        assert presets.build_model("tiny_test_model", (4,), 3)(cr.Tensor(np.zeros((1, 4), np.float32))).shape == (1, 3)
    finally:
        presets.MODEL_REGISTRY.pop("tiny_test_model")
    if "cnn" in presets.available_models():
        cnn = presets.build_model("cnn", (1, 8, 8), 10)
        assert cnn(cr.Tensor(np.zeros((2, 1, 8, 8), np.float32))).shape == (2, 10)
    if "lenet5" in presets.available_models():
        with pytest.raises(ValueError, match="28x28"):
            presets.build_model("lenet5", (1, 8, 8), 10)
