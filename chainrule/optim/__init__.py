"""Optimizers (one per file, all on the shared ``Optimizer`` base), line searches and learning-rate
schedules.  (spec: OPT-SGD, OPT-GD, OPT-ADAM, OPT-LBFGS, OPT-LR-SCHEDULE, ...; see each class)

First order: SGD (momentum, dampening, Nesterov, weight decay; ``SGD.ema``), GD (optional line search),
Momentum (the notes' velocity / EMA forms), DeltaDelta, DeltaBarDelta, Adagrad, Adadelta, RMSprop,
Adam, AdamW, Quickprop, Rprop.  Second order / full batch: Newton, GaussNewton, LevenbergMarquardt,
ConjugateGradient, LBFGS.  ``line_search``: armijo, strong_wolfe.  ``lr_scheduler``: StepLR,
MultiStepLR, ExponentialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, LinearLR, LambdaLR,
ReduceLROnPlateau, SequentialLR, ChainedScheduler, ..., scale_lr.
Frozen parameters (requires_grad=False) are accepted and skipped, as in PyTorch (see ``Optimizer``).
"""

from . import functions, line_search, lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .cg import ConjugateGradient
from .delta_bar_delta import DeltaBarDelta
from .delta_delta import DeltaDelta
from .gauss_newton import GaussNewton
from .gd import GD
from .lbfgs import LBFGS
from .levenberg_marquardt import LevenbergMarquardt
from .momentum import Momentum
from .newton import Newton
from .optimizer import Optimizer
from .quickprop import Quickprop
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

CG = ConjugateGradient
LM = LevenbergMarquardt

__all__ = [
    "Optimizer", "SGD", "GD", "Momentum", "DeltaDelta", "DeltaBarDelta", "Adagrad", "Adadelta", "RMSprop",
    "Adam", "AdamW", "Quickprop", "Rprop", "Newton", "GaussNewton", "LevenbergMarquardt", "LM",
    "ConjugateGradient", "CG", "LBFGS", "functions", "line_search", "lr_scheduler",
]
