"""Utilities that are not part of the modelling API (benchmark helpers)."""

from . import benchmark

__all__ = ["benchmark"]
