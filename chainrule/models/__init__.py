"""Ready-made models."""

from .autoencoder import AutoEncoder, DenoisingAutoEncoder
from .cnn import TFCNN, cnn_mnist, summary
from .lenet import LeNet5, pad_mnist
from .mlp import MLP, count_parameters
from .rbm import BernoulliRBM

__all__ = ["MLP", "count_parameters"]
