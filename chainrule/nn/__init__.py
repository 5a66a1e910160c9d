"""Layers, losses and the Module system."""

from . import alpha_dropout as snn
from . import functional, init, utils
from .activation import (
                         CELU,
                         ELU,
                         GELU,
                         SELU,
                         Hardsigmoid,
                         Hardswish,
                         Hardtanh,
                         LeakyReLU,
                         LogSigmoid,
                         LogSoftmax,
                         Mish,
                         PReLU,
                         ReLU,
                         ReLU6,
                         SecondOrderLinear,
                         Sigmoid,
                         Sign,
                         SiLU,
                         Softmax,
                         Softplus,
                         Softsign,
                         Step,
                         Swish,
                         Tanh,
                         get_activation,
)
from .alpha_dropout import AlphaDropout
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conv import Conv1d, Conv2d, ConvBlock, ConvTranspose1d, ConvTranspose2d
from .dropout import Dropout, mc_predict
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
from .normalization import LayerNorm, remove_weight_norm, weight_norm
from .pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    GlobalAvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from .rnn import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    PackedSequence,
    RNNCell,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
)
from .stochastic import StochasticBinary, Threshold, bernoulli, reinforce_surrogate, stochastic_binary

__all__ = [
    "snn",
    "AlphaDropout", "CELU", "GRU", "GRUCell", "Hardsigmoid", "Hardswish", "Hardtanh", "LSTM", "LSTMCell", "LayerNorm", "LogSigmoid", "Mish", "PReLU", "PackedSequence", "RNN", "RNNCell", "ReLU6", "SecondOrderLinear", "Softsign", "StochasticBinary", "Swish", "Threshold", "bernoulli", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence", "reinforce_surrogate", "remove_weight_norm", "stochastic_binary", "weight_norm",
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "ConvBlock", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "GlobalAvgPool2d", "BatchNorm1d", "BatchNorm2d",
    "mc_predict",
    "functional", "init", "ELU", "GELU", "SELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Sign", "SiLU",
    "Softmax", "Softplus", "Step", "Tanh", "get_activation", "Dropout", "Flatten", "Identity", "Linear",
    "Unflatten", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "GaussianNLLLoss", "HuberLoss",
    "KLDivLoss", "L1Loss", "MSELoss", "NLLLoss", "PoissonNLLLoss", "Module", "ModuleDict", "ModuleList",
    "Parameter", "Sequential",
]
