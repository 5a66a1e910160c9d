"""Named hyperparameter sets and the model registry used by the CLI and the examples.

* :func:`tutorial_regression` — the tutorial's defaults (spec: TUT-HPARAMS, TRAIN-LOOP-000);
* :func:`nielsen_mnist` — the "basic recipe" sigmoid MLP on MNIST (spec: RECIPE-NIELSEN-MNIST);
* a model registry: ``register_model(name)`` decorates a builder ``f(input_shape, num_classes, **kw)``
  returning a Module; ``build_model(name, input_shape, num_classes)``; ``available_models()`` lists the
  builders whose layers exist in this installation (e.g. 'cnn' needs ``nn.Conv2d``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["Preset", "tutorial_regression", "nielsen_mnist", "QuadraticCost", "register_model", "build_model",
           "available_models", "MODEL_REGISTRY"]


@dataclass(frozen=True)
class Preset:
    """A named set of training hyperparameters (read-only); ``as_dict()`` for logging."""

    name: str
    lr: float
    epochs: int
    batch_size: int
    momentum: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "sgd"
    init: str = "default"
    loss: str = "mse"
    sizes: tuple[int, ...] | None = None
    activation: str | None = None
    output_activation: str | None = None
    lr_choices: tuple[float, ...] = ()
    epochs_choices: tuple[int, ...] = ()
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def make_optimizer(self, params):
        """The optimizer these settings describe (SGD with the preset's momentum and weight decay)."""
        from . import optim
        if self.optimizer != "sgd":
            raise ValueError(f"preset {self.name!r} uses optimizer {self.optimizer!r}; build it yourself")
        return optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)


def tutorial_regression() -> Preset:
    """The tutorial's defaults (spec: TUT-HPARAMS): learning rate ε = 0.01 (or 0.1), weight decay α = 0.2,
    epochs χ = 10 (or 5, 100), batch n = 100, momentum 0.9; Kaiming-normal weights, zero biases, MSE
    (spec: TRAIN-LOOP-000)."""
    return Preset(name="tutorial_regression", lr=0.01, epochs=10, batch_size=100, momentum=0.9, weight_decay=0.2,
                  optimizer="sgd", init="kaiming", loss="mse", lr_choices=(0.01, 0.1), epochs_choices=(5, 10, 100),
                  notes="TUT-HPARAMS: epsilon 0.01 or 0.1; weight decay 0.2; epochs 5, 10 or 100; batch 100; "
                        "momentum 0.9 (TRAIN-LOOP-000: Kaiming-normal weights, zero biases)")


class QuadraticCost:
    """c = ½‖a − y‖² per example (summed over outputs), averaged over the batch ('mean'), summed ('sum')
    or per example ('none') — the cost of spec RECIPE-NIELSEN-MNIST.  Its gradient is (a − y)/B per
    example, so SGD with η = 3.0 takes Nielsen's step w ← w − (η/B)Σ∇c.  (Equal to
    ``MSELoss()`` · K/2 for K outputs.)"""

    def __init__(self, reduction: str = "mean"):
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def __call__(self, output, target):
        from .nn import functional as F
        from .ops._base import as_tensor
        output = as_tensor(output)
        if self.reduction == "none":
            d = output - target
            return (d * d).sum(axis=tuple(range(1, output.ndim))) * 0.5 if output.ndim > 1 else d * d * 0.5
        total = F.mse_loss(output, target, reduction="sum")
        if self.reduction == "sum":
            return total * 0.5
        return total * (0.5 / output.shape[0])

    def __repr__(self) -> str:
        return f"QuadraticCost(reduction={self.reduction!r})"


def nielsen_mnist(sizes: tuple[int, ...] = (784, 30, 10)) -> Preset:
    """The sigmoid-MLP MNIST recipe (spec: RECIPE-NIELSEN-MNIST): ``MLP(sizes, 'sigmoid',
    output_activation='sigmoid', init='normal')`` (N(0, 1) weights and biases), one-hot targets, cost
    c = ½‖a − y‖² averaged over the batch (:class:`QuadraticCost`), plain SGD η = 3.0, batch 10, 30 epochs,
    train = first 50,000 training images (last 10,000 validation), test = 10,000.  Equivalently
    ``MSELoss(reduction='mean')`` with η = 15.0 (it also averages over the 10 outputs).
    Reported: 94.84 % ([784,30,10]), 95.81 % ([784,30,30,10]), 95.07 % ([784,30,30,30,10])."""
    return Preset(name="nielsen_mnist", lr=3.0, epochs=30, batch_size=10, momentum=0.0, weight_decay=0.0,
                  optimizer="sgd", init="normal", loss="quadratic", sizes=tuple(sizes), activation="sigmoid",
                  output_activation="sigmoid", lr_choices=(3.0,), epochs_choices=(30,),
                  notes="RECIPE-NIELSEN-MNIST; with MSELoss(reduction='mean') use lr 15.0",
                  extra={"train_size": 50000, "val_size": 10000, "test_size": 10000, "one_hot": True,
                         "mse_mean_lr": 15.0, "reported_test_accuracy": {"784-30-10": 0.9484,
                                                                         "784-30-30-10": 0.9581,
                                                                         "784-30-30-30-10": 0.9507}})


def nielsen_model(preset: Preset | None = None, generator=None):
    """The MLP of :func:`nielsen_mnist`."""
    from .models import MLP
    p = preset or nielsen_mnist()
    return MLP(list(p.sizes), activation=p.activation, output_activation=p.output_activation, init=p.init,
               generator=generator)


# ----------------------------------------------------------------------------- model registry
ModelBuilder = Callable[..., Any]
MODEL_REGISTRY: dict[str, tuple[ModelBuilder, Callable[[], bool], str]] = {}


def register_model(name: str, available: Callable[[], bool] = lambda: True, description: str = ""):
    """Decorator: register ``builder(input_shape, num_classes, **kw) -> Module`` under ``name``.
    ``available()`` says whether the layers it needs exist (the CLI lists only available models)."""
    def deco(fn: ModelBuilder) -> ModelBuilder:
        MODEL_REGISTRY[name.lower()] = (fn, available, description or (fn.__doc__ or "").strip().split("\n")[0])
        return fn
    return deco


def available_models() -> list[str]:
    return [k for k, (_, avail, _) in MODEL_REGISTRY.items() if avail()]


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int, **kwargs) -> Any:
    """Build a registered model for inputs of shape ``input_shape`` (one sample, e.g. (1, 28, 28)) and
    ``num_classes`` outputs."""
    key = name.lower()
    if key not in MODEL_REGISTRY:
        raise ValueError(f"unknown model {name!r}; registered: {sorted(MODEL_REGISTRY)}")
    fn, avail, _ = MODEL_REGISTRY[key]
    if not avail():
        raise ValueError(f"model {name!r} needs layers this chainrule build lacks; available: {available_models()}")
    return fn(tuple(input_shape), int(num_classes), **kwargs)


def _has(module: str, *names: str) -> Callable[[], bool]:
    def check() -> bool:
        import importlib
        try:
            mod = importlib.import_module(f"chainrule.{module}")
        except ImportError:
            return False
        return all(hasattr(mod, n) for n in names)
    return check


@register_model("mlp", description="Flatten → MLP [D, hidden..., K] with ReLU (hidden default 128)")
def _build_mlp(input_shape, num_classes, hidden=(128,), activation="relu", generator=None, **_):
    """Flatten → MLP [D, hidden..., K] with ReLU."""
    from . import nn
    from .models import MLP
    d = int(np.prod(input_shape))
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    mlp = MLP([d, *hidden, num_classes], activation=activation, output_activation=None, generator=generator)
    return nn.Sequential(nn.Flatten(), mlp) if len(input_shape) > 1 else mlp


@register_model("cnn", available=_has("nn", "Conv2d", "MaxPool2d"),
                description="conv3x3(16)-ReLU-pool2 → conv3x3(32)-ReLU-pool2 → linear (any H, W divisible by 4)")
def _build_cnn(input_shape, num_classes, channels=(16, 32), generator=None, **_):
    """Small CNN: [conv 3×3 (padding 1) → ReLU → max-pool 2] × 2 → flatten → linear."""
    from . import nn
    if len(input_shape) != 3:
        raise ValueError(f"cnn needs image inputs (C, H, W), got sample shape {input_shape}")
    c, h, w = input_shape
    layers = []
    for co in channels:
        layers += [nn.Conv2d(c, co, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c, h, w = co, h // 2, w // 2
    if h < 1 or w < 1:
        raise ValueError(f"cnn: images {input_shape[1:]} are too small for {len(channels)} poolings")
    layers += [nn.Flatten(), nn.Linear(c * h * w, num_classes)]
    return nn.Sequential(*layers)


@register_model("lenet5", available=_has("models", "LeNet5"),
                description="LeNet-5 (28x28 inputs are zero-padded to 32x32)")
def _build_lenet5(input_shape, num_classes, activation="tanh", **_):
    """LeNet-5 on 32×32 inputs; 28×28 images are zero-padded by 2."""
    from . import nn
    from .models import LeNet5
    if len(input_shape) != 3 or input_shape[1:] not in ((28, 28), (32, 32)):
        raise ValueError(f"lenet5 needs 28x28 or 32x32 images, the data has sample shape {input_shape}; "
                         "use --model cnn or mlp for other sizes (e.g. the 8x8 digits)")
    net = LeNet5(activation=activation, num_classes=num_classes, in_channels=input_shape[0])
    if input_shape[1:] == (28, 28):
        from .models import pad_mnist

        class _Pad(nn.Module):
            def forward(self, x):
                return pad_mnist(x)

        return nn.Sequential(_Pad(), net)
    return net
