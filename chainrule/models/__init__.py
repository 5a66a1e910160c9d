"""Ready-made models."""

from .mlp import MLP, count_parameters

__all__ = ["MLP", "count_parameters"]
