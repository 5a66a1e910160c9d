"""chainrule — a deep-learning library written from first principles over NumPy."""

from __future__ import annotations

__version__ = "0.1.0"

import numpy as np

from . import ops
from .backend import Generator, get_default_dtype, manual_seed, set_default_dtype
from .ops import *  # noqa: F401,F403
from .tensor import Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled

float32 = np.float32
float64 = np.float64


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new tensor holding a copy of ``data``."""
    arr = np.array(data.data if isinstance(data, Tensor) else data, copy=True)
    return Tensor(arr, requires_grad=requires_grad, dtype=dtype)

from . import data, io, models, nn, optim  # noqa: E402
from . import presets, train  # noqa: E402
from . import classic, theory  # noqa: E402
from . import regularize  # noqa: E402
from . import distributed  # noqa: E402
from .train import parallel as _parallel  # noqa: E402,F401  (registers backend='dask' for model_selection)
from .data import DataLoader, TensorDataset  # noqa: E402
from .autodiff import (  # noqa: E402
    batch_jacobian,
    grad,
    gradcheck,
    gradgradcheck,
    hessian,
    hvp,
    input_optimize,
    jacobian,
)
