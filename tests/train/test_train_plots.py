"""PNG figures (spec: TRAIN-CURVES)."""

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.data import load_digits
from chainrule.train import (
    confusion_matrix,
    fit,
    plot_confusion_matrix,
    plot_image_grid,
    plot_learning_curves,
    plot_misclassified,
    predict,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    return path.exists() and path.read_bytes()[:8] == PNG and path.stat().st_size > 2000


def test_learning_curves_png(tmp_path):  # spec: TRAIN-CURVES
    X, y = load_digits("test", as_images=False)
    model = nn.Linear(64, 10)
    h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=3, batch_size=32,
            val_loader=(X[:100], y[:100]), progress=False)
    p = plot_learning_curves(h, tmp_path / "sub" / "curves.png", title="t")
    assert _is_png(p)
    assert _is_png(plot_learning_curves(h.to_dict(), tmp_path / "c2.png", log_loss=True))


def test_confusion_and_image_grids(tmp_path):
    X, y = load_digits("test")
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=1, progress=False)
    out = predict(model, X)
    cm = confusion_matrix(out, y, num_classes=10)
    assert _is_png(plot_confusion_matrix(cm, tmp_path / "cm.png"))
    assert _is_png(plot_confusion_matrix(cm, tmp_path / "cmn.png", normalize=True, class_names=list("0123456789")))
    assert _is_png(plot_misclassified(X, y, out, tmp_path / "wrong.png"))
    assert _is_png(plot_image_grid(X[:10], tmp_path / "grid.png", titles=[str(v) for v in y[:10]]))
    filters = np.random.default_rng(0).standard_normal((4, 3, 5, 5))  # conv weights (out, in, kh, kw)
    assert _is_png(plot_image_grid(filters, tmp_path / "filters.png", normalize_each=True))
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.zeros((2, 3)), tmp_path / "bad.png")
    with pytest.raises(ValueError, match="not square"):
        plot_image_grid(np.zeros((2, 10)), tmp_path / "bad.png")
