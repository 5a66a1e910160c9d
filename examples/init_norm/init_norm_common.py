"""Helpers of the initialisation/normalisation examples (examples/init_norm/) only."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

# where --quick writes when no --out is given (the smoke runs do not overwrite docs/init_norm)
QUICK_OUT = Path(tempfile.gettempdir()) / "chainrule_init_norm_quick"


def mnist_arrays(quick: bool, n_train: int | None = None):
    """(X_train, y_train, X_test, y_test, name): MNIST from /work/shared/data (or $CHAINRULE_MNIST_DIR) as
    float32 (N, 784) in [0, 1]; falls back to the embedded 8×8 digits if the IDX files are absent."""
    import chainrule as cr
    try:
        Xtr, ytr = cr.data.load_mnist(split="train", flatten=True)
        Xte, yte = cr.data.load_mnist(split="test", flatten=True)
        name = "MNIST"
    except Exception as e:  # noqa: BLE001 - any missing/corrupt file: use the embedded set
        print(f"MNIST not available ({e}); using the embedded 8x8 digits instead")
        Xtr, ytr = cr.data.load_digits("train", as_images=False)
        Xte, yte = cr.data.load_digits("test", as_images=False)
        name = "digits8x8"
    if n_train is not None:
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]
    if quick:
        Xtr, ytr, Xte, yte = Xtr[:3000], ytr[:3000], Xte[:1000], yte[:1000]
    return Xtr, np.asarray(ytr, dtype=np.int64), Xte, np.asarray(yte, dtype=np.int64), name
