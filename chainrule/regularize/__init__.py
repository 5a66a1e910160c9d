"""Regularization: penalties, noise, weight sharing, multitask learning, cascade-correlation, pruning
(magnitude, OBD, OBS), flat-minimum search, early stopping, the temperature of SGD.

spec: REG-PENALTY, REG-L2, REG-L1, REG-LP-PENALTY, REG-L2-WEIGHT-DECAY, REG-CAUCHY, REG-WEIGHT-ELIM,
REG-NOISE, REG-SOFT-WEIGHT-SHARING, REG-MULTITASK, REG-CASCADE-CORR, REG-PRUNE-MASK, REG-OBD, REG-OBS,
REG-EARLY-STOP, REG-FMS, REG-SGD-TEMPERATURE, REG-DROPOUT-MODES, REG-MC-DROPOUT (dropout: chainrule.nn)
"""

from ..nn.dropout import Dropout, mc_predict
from . import prune
from .cascade import CascadeCorrelation, candidate_grad, candidate_score, two_spirals
from .early_stopping import EarlyStoppingRule, early_stopping_fit, validation_split
from .fms import FlatMinimumSearch, fms_grad_J, fms_omega
from .multitask import MultiTaskLoss, MultiTaskNet
from .noise import GaussianNoise, WeightNoise, gaussian_noise, input_gradient_penalty, tikhonov_penalty, weight_noise
from .penalties import (
    MaxNorm,
    Penalty,
    add_penalty_grads,
    cauchy_penalty,
    decoupled_weight_decay_,
    l1_penalty,
    l1_proximal_,
    l2_penalty,
    lp_penalty,
    max_norm_,
    param_groups,
    penalty_loss,
    select_parameters,
    weight_elimination_penalty,
)
from .sharing import GaussianMixturePrior, TiedLinear, tie_parameters
from .temperature import expected_coverage, sgd_temperature

__all__ = [
    "Dropout", "mc_predict", "prune", "CascadeCorrelation", "candidate_grad", "candidate_score", "two_spirals",
    "EarlyStoppingRule", "early_stopping_fit", "validation_split", "FlatMinimumSearch", "fms_grad_J",
    "fms_omega", "MultiTaskLoss", "MultiTaskNet", "GaussianNoise", "WeightNoise", "gaussian_noise",
    "input_gradient_penalty", "tikhonov_penalty", "weight_noise", "MaxNorm", "Penalty", "add_penalty_grads",
    "cauchy_penalty", "decoupled_weight_decay_", "l1_penalty", "l1_proximal_", "l2_penalty", "lp_penalty",
    "max_norm_", "param_groups", "penalty_loss", "select_parameters", "weight_elimination_penalty",
    "GaussianMixturePrior", "TiedLinear", "tie_parameters", "expected_coverage", "sgd_temperature",
]
