"""Data: datasets, mini-batch loading, file formats, the embedded digits set and preprocessing.

spec: DATA-MNIST, DATA-CIFAR10, DATA-CIFAR100, DATA-ONEHOT, DATA-STANDARDIZE, TRAIN-EPOCHS, SGD-MINIBATCH
"""

from . import augment, transforms
from .augment import (
    AddGaussianNoise,
    AugmentedDataset,
    ChannelBrightness,
    ColorJitter,
    ElasticDeformation,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomShear,
    RandomShift,
    RandomTranslate,
    RandomVerticalFlip,
)
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .datasets import (
    CIFAR10,
    CIFAR10_CLASSES,
    CIFAR100,
    CIFAR100_COARSE_NAMES,
    CIFAR100_FINE_NAMES,
    CIFAR100_FINE_TO_COARSE,
    MNIST,
    MNIST_CLASS_COUNTS,
    FashionMNIST,
    load_fashion_mnist,
    load_mnist,
)
from .digits import load_digits
from .download import DownloadError, check_md5, download, md5sum
from .idx import IDXError, read_idx, write_idx
from .loader import DataLoader, RandomSampler, SequentialSampler, default_collate
from .transforms import Compose, Flatten, Normalize, OneHot, StandardScaler, ToFloat, one_hot

__all__ = [
    "Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
    "DataLoader", "RandomSampler", "SequentialSampler", "default_collate",
    "MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "load_mnist", "load_fashion_mnist", "load_digits",
    "CIFAR10_CLASSES", "CIFAR100_FINE_NAMES", "CIFAR100_COARSE_NAMES", "CIFAR100_FINE_TO_COARSE",
    "MNIST_CLASS_COUNTS",
    "read_idx", "write_idx", "IDXError", "download", "DownloadError", "md5sum", "check_md5",
    "augment", "AddGaussianNoise", "AugmentedDataset", "ChannelBrightness", "ColorJitter", "ElasticDeformation",
    "RandomAffine", "RandomCrop", "RandomHorizontalFlip", "RandomRotation", "RandomShear", "RandomShift",
    "RandomTranslate", "RandomVerticalFlip",
    "transforms", "Compose", "Normalize", "ToFloat", "Flatten", "OneHot", "one_hot", "StandardScaler",
]
