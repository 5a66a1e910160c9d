import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import chainrule as cr  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_state():
    """Every test starts with float32 default and the global seed 0."""
    cr.set_default_dtype(np.float32)
    cr.manual_seed(0)
    yield
    cr.set_default_dtype(np.float32)
