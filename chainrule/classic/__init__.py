"""Classical single-layer models with scikit-learn conventions (fit/predict/score, get_params,
fitted attributes ending in ``_``): perceptron, linear, logistic and softmax regression, XOR and Hebb."""

from .base import (
    BaseEstimator,
    ClassifierMixin,
    ConvergenceWarning,
    NotFittedError,
    RegressorMixin,
    add_bias_column,
    clone,
    r2_score,
)
from .hebb import hebbian_associative_memory, hebbian_update
from .linear_model import (
    LinearRegression,
    PolynomialRegression,
    leave_one_out_residuals,
    polynomial_features,
    ridge_alpha_from_prior,
    rss_ess_tss,
)
from .logistic import LogisticRegression, SoftmaxRegression, softmax_regression_hessian
from .perceptron import Perceptron, perceptron_bound, perceptron_criterion, perceptron_loss
from .xor import XOR_X, XOR_Y, train_xor_network, xor_data, xor_handset_network

__all__ = [
    "BaseEstimator", "ClassifierMixin", "ConvergenceWarning", "NotFittedError", "RegressorMixin",
    "add_bias_column", "clone", "r2_score", "hebbian_associative_memory", "hebbian_update", "LinearRegression",
    "PolynomialRegression", "leave_one_out_residuals", "polynomial_features", "ridge_alpha_from_prior",
    "rss_ess_tss", "LogisticRegression", "SoftmaxRegression", "softmax_regression_hessian", "Perceptron",
    "perceptron_bound", "perceptron_criterion", "perceptron_loss", "XOR_X", "XOR_Y", "train_xor_network",
    "xor_data", "xor_handset_network",
]
