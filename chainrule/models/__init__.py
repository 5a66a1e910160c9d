"""Ready-made models."""

from .autoencoder import AutoEncoder, DenoisingAutoEncoder
from .cnn import TFCNN, cnn_mnist, summary
from .lenet import LeNet5, pad_mnist
from .mlp import MLP, count_parameters
from .rbm import BernoulliRBM

__all__ = [
    "AutoEncoder", "BernoulliRBM", "DenoisingAutoEncoder",
    "LeNet5", "TFCNN", "cnn_mnist", "summary", "pad_mnist","MLP", "count_parameters"]
