"""Optimizers (one per file, all on the shared ``Optimizer`` base) and learning-rate schedules."""

from . import lr_scheduler
from .adam import Adam
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "lr_scheduler"]
