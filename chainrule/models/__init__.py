"""Ready-made models."""

from .autoencoder import AutoEncoder, DenoisingAutoEncoder
from .cnn import TFCNN, cnn_mnist, regression_cnn, summary
from .lenet import LeNet5, pad_mnist
from .mlp import MLP, count_parameters
from .rbm import BernoulliRBM

__all__ = [
    "regression_cnn",
    "AutoEncoder", "BernoulliRBM", "DenoisingAutoEncoder",
    "LeNet5", "TFCNN", "cnn_mnist", "summary", "pad_mnist","MLP", "count_parameters"]
