"""Layers, losses and the Module system."""

from . import functional, init
from .activation import (
                         ELU,
                         GELU,
                         SELU,
                         LeakyReLU,
                         LogSoftmax,
                         ReLU,
                         Sigmoid,
                         Sign,
                         SiLU,
                         Softmax,
                         Softplus,
                         Step,
                         Tanh,
                         get_activation,
)
from .dropout import Dropout
from .linear import Flatten, Identity, Linear, Unflatten
from .loss import (
                         BCELoss,
                         BCEWithLogitsLoss,
                         CrossEntropyLoss,
                         GaussianNLLLoss,
                         HuberLoss,
                         KLDivLoss,
                         L1Loss,
                         MSELoss,
                         NLLLoss,
                         PoissonNLLLoss,
)
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential

__all__ = [
    "functional", "init", "ELU", "GELU", "SELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Sign", "SiLU",
    "Softmax", "Softplus", "Step", "Tanh", "get_activation", "Dropout", "Flatten", "Identity", "Linear",
    "Unflatten", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "GaussianNLLLoss", "HuberLoss",
    "KLDivLoss", "L1Loss", "MSELoss", "NLLLoss", "PoissonNLLLoss", "Module", "ModuleDict", "ModuleList",
    "Parameter", "Sequential",
]
