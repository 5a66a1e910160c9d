"""Ready-made models."""

from .cnn import TFCNN, cnn_mnist, summary
from .lenet import LeNet5, pad_mnist
from .mlp import MLP, count_parameters

__all__ = ["MLP", "count_parameters"]
