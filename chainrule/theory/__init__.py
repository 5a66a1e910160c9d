"""Runnable theory: receptive fields, linear regions, constructive universal approximation, shallow
network counting, the curse of dimensionality, polar features and the maximum-likelihood recipe.
The demos that use them are in ``examples/theory/``; their figures and numbers in ``docs/theory/``."""

from .curse import (
    gaussian_radius_logpdf,
    gaussian_radius_mode,
    polynomial_coefficient_count,
    sample_gaussian_radii,
    shell_statistics,
)
from .linear_regions import (
    activation_patterns,
    count_linear_regions,
    linear_region_bound,
    linear_region_breakpoints,
    relu_mlp_layers,
    sawtooth_network,
)
from .mle import FAMILIES, family_loss, fit_constant, fit_glm, negative_log_likelihood, sample_glm
from .polar import make_rings, polar_features
from .receptive_field import measure_receptive_field, receptive_field, receptive_field_info
from .shallow import collapse_linear, count_params, relu_joints, shallow_param_count
from .uat import (
    derivative_trick_network,
    relu_interpolant_network,
    step_network,
    sup_error,
    train_shallow_relu,
)

__all__ = [
    "gaussian_radius_logpdf", "gaussian_radius_mode", "polynomial_coefficient_count", "sample_gaussian_radii",
    "shell_statistics", "activation_patterns", "count_linear_regions", "linear_region_bound",
    "linear_region_breakpoints", "relu_mlp_layers", "sawtooth_network", "FAMILIES", "family_loss", "fit_constant",
    "fit_glm", "negative_log_likelihood", "sample_glm", "make_rings", "polar_features", "measure_receptive_field",
    "receptive_field", "receptive_field_info", "collapse_linear", "count_params", "relu_joints",
    "shallow_param_count", "derivative_trick_network", "relu_interpolant_network", "step_network", "sup_error",
    "train_shallow_relu",
]
