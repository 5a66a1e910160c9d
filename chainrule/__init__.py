"""chainrule — a deep-learning library written from first principles over NumPy."""

from __future__ import annotations

import numpy as np

from . import ops
from .backend import Generator, get_default_dtype, manual_seed, set_default_dtype
from .ops import *  # noqa: F401,F403
from .tensor import Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__version__ = "0.1.0"

float32 = np.float32
float64 = np.float64


def tensor(values, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new tensor holding a copy of ``values``."""
    if isinstance(values, (Tensor, np.ndarray)):  # arrays keep their dtype; Python numbers get the default
        values = np.array(values.data if isinstance(values, Tensor) else values, copy=True)
    return Tensor(values, requires_grad=requires_grad, dtype=dtype)


from . import (
    cam,
    classic,
    data,
    distributed,
    io,
    models,
    nn,
    optim,
    presets,
    regularize,
    theory,
    train,
    transfer,
    visualize,
)
from . import regularize as regularizers  # the spec's name for the module
from .autodiff import (
    batch_jacobian,
    grad,
    gradcheck,
    gradgradcheck,
    hessian,
    hvp,
    input_optimize,
    jacobian,
)
from .data import DataLoader, TensorDataset
from .train import parallel as _parallel  # registers backend='dask' for model_selection
