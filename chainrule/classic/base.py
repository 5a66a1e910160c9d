"""Estimator conventions shared by the classical models (scikit-learn style).

* ``fit(X, y)`` returns ``self``; ``predict``, ``score`` (accuracy for classifiers, R² for regressors);
* constructor arguments are hyperparameters only, read back by ``get_params`` and changed by
  ``set_params`` (so :func:`clone` can make a fresh, unfitted copy for every cross-validation fold);
* everything learned from data ends with an underscore (``coef_``, ``n_iter_``, ...);
* inputs are validated up front: wrong rank, NaN/inf, mismatched lengths and a single class raise a
  ``ValueError`` that names what was expected, what was given and how to fix it.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration limit (or diverged) without meeting ``tol``."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``."""


class BaseEstimator:
    """get_params/set_params from the ``__init__`` signature; a readable ``repr``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        names = []
        for p in sig.parameters.values():
            if p.name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must not take *args/**kwargs (hyperparameters are "
                                "named arguments so get_params can find them)")
            names.append(p.name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (hyperparameters) of this estimator.  With ``deep``, dict-valued
        parameters and nested estimators are also listed as ``name__key``."""
        out = {}
        for name in self._param_names():
            val = getattr(self, name)
            out[name] = val
            if deep and hasattr(val, "get_params") and not isinstance(val, type):
                for k, v in val.get_params(deep=True).items():
                    out[f"{name}__{k}"] = v
            elif deep and isinstance(val, dict):
                for k, v in val.items():
                    out[f"{name}__{k}"] = v
        return out

    def set_params(self, **params) -> BaseEstimator:
        """Set hyperparameters (``name=value``; ``name__key=value`` reaches into a nested estimator
        or a dict-valued parameter).  Returns ``self``."""
        valid = set(self._param_names())
        nested: dict[str, dict] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid parameters are "
                                 f"{sorted(valid)} (see get_params())")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub in nested.items():
            target = getattr(self, name)
            if hasattr(target, "set_params"):
                target.set_params(**sub)
            elif isinstance(target, dict) or target is None:
                d = dict(target or {})
                d.update(sub)
                setattr(self, name, d)
            else:
                raise ValueError(f"cannot set {name}__{next(iter(sub))}: {name} is neither an estimator nor a dict")
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        parts = []
        for name in self._param_names():
            default = sig.parameters[name].default
            val = getattr(self, name)
            try:
                same = val is default or (not isinstance(val, np.ndarray) and val == default)
            except Exception:
                same = False
            if not same:
                parts.append(f"{name}={val!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def clone(estimator):
    """A fresh, unfitted copy with the same hyperparameters (deep-copied).

    Estimators with ``get_params`` are rebuilt from their constructor arguments; a zero-argument
    callable (a factory) is called; anything else is deep-copied.
    """
    if hasattr(estimator, "get_params") and not isinstance(estimator, type):
        params = estimator.get_params(deep=False)
        return type(estimator)(**{k: copy.deepcopy(v) for k, v in params.items()})
    if callable(estimator) and not hasattr(estimator, "fit"):
        return estimator()
    return copy.deepcopy(estimator)


# --------------------------------------------------------------------------- validation
def check_array(X, name: str = "X", ndim: tuple[int, ...] = (2,), dtype=np.float64,
                allow_empty: bool = False) -> np.ndarray:
    """X as a finite float array of an allowed rank.  Tensors are accepted (their data is used)."""
    X = getattr(X, "data", X) if not isinstance(X, np.ndarray) else X
    try:
        arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be numeric (convertible to {np.dtype(dtype)}); got {type(X).__name__}: {e}"
                         ) from None
    if arr.ndim not in ndim:
        hint = ""
        if 2 in ndim and arr.ndim == 1:
            hint = " For a single feature use X.reshape(-1, 1); for a single sample X.reshape(1, -1)."
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimension(s), got shape {arr.shape}.{hint}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); need at least one sample and one feature")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {n_bad} NaN or infinite value(s); remove or impute them before fitting")
    return arr


def check_X_y(X, y, y_numeric: bool = True, multi_output: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate a design matrix X (N, D) and targets y (N,) (or (N, K) with ``multi_output``)."""
    X = check_array(X, "X")
    if y is None:
        raise ValueError("y is None; this estimator is supervised: call fit(X, y) with targets y of length N")
    y_raw = getattr(y, "data", y) if not isinstance(y, np.ndarray) else y
    y = np.asarray(y_raw)
    allowed = (1, 2) if multi_output else (1,)
    if y.ndim == 2 and not multi_output and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in allowed:
        raise ValueError(f"y must have shape (N,){' or (N, K)' if multi_output else ''}, got {y.shape}"
                         + ("" if multi_output else "; pass a 1-D array of labels/targets (y.ravel())"))
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y have different numbers of samples: X has {X.shape[0]} rows, y has "
                         f"{y.shape[0]}; they must match one-to-one")
    if y_numeric or y.dtype.kind == "f":
        if y.dtype.kind not in "biuf":
            raise ValueError(f"y must be numeric for this estimator, got dtype {y.dtype}")
        y = y.astype(np.float64) if y_numeric else y
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinite values; remove those samples before fitting")
    return X, y


def check_classification_targets(y: np.ndarray, n_classes: int | None = None,
                                 estimator: str = "classifier") -> tuple[np.ndarray, np.ndarray]:
    """``classes_`` (sorted unique labels) and ``y`` encoded as 0..K−1.

    Raises when there is a single class, when float labels are not integral, or when the number of
    classes differs from ``n_classes`` (binary models).
    """
    if y.dtype.kind == "f" and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError(f"{estimator}: y holds continuous values (e.g. {y[np.mod(y, 1) != 0][0]}); classifiers "
                         "need discrete labels. For regression use LinearRegression.")
    classes, enc = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{estimator} needs samples of at least 2 classes, but y contains only the class "
                         f"{classes.tolist()}; check the labels (or the split that produced them)")
    if n_classes is not None and len(classes) != n_classes:
        raise ValueError(f"{estimator} is a binary classifier and needs exactly {n_classes} classes, got "
                         f"{len(classes)}: {classes.tolist()[:10]}. Use SoftmaxRegression for more classes.")
    return classes, enc.reshape(-1)


def check_is_fitted(est, attr: str) -> None:
    if not hasattr(est, attr):
        raise NotFittedError(f"this {type(est).__name__} is not fitted yet; call fit(X, y) before using it")


def check_n_features(est, X: np.ndarray) -> None:
    n = getattr(est, "n_features_in_", None)
    if n is not None and X.shape[1] != n:
        raise ValueError(f"X has {X.shape[1]} features, but {type(est).__name__} was fitted with {n}; "
                         "pass data with the same columns as in fit")


def add_bias_column(X: np.ndarray) -> np.ndarray:
    """The bias trick x̃ = (1, x): a leading column of ones, so w̃ = (b, w) and ŷ = X̃ w̃.
    (spec: CLS-LINEAR-MODEL)"""
    X = np.asarray(X)
    return np.concatenate([np.ones((X.shape[0], 1), dtype=X.dtype), X], axis=1)


class ClassifierMixin:
    _estimator_type = "classifier"

    def score(self, X, y) -> float:
        """Mean accuracy, (1/N)Σ 1[ŷ = y]."""
        y = np.asarray(getattr(y, "data", y))
        return float(np.mean(self.predict(X) == y.reshape(-1)))


class RegressorMixin:
    _estimator_type = "regressor"

    def score(self, X, y) -> float:
        """Coefficient of determination R² = 1 − RSS/TSS (averaged over outputs)."""
        y = np.asarray(getattr(y, "data", y), dtype=np.float64)
        return r2_score(y, self.predict(X))


def r2_score(y_true, y_pred) -> float:
    """R² = 1 − RSS/TSS, RSS = Σ(y − ŷ)², TSS = Σ(y − ȳ)²; uniform average over outputs.
    (spec: CLS-LINREG-CLOSED)"""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(y_true.shape)
    yt = y_true.reshape(len(y_true), -1)
    yp = y_pred.reshape(len(y_true), -1)
    rss = ((yt - yp) ** 2).sum(axis=0)
    tss = ((yt - yt.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(tss > 0, 1 - rss / np.where(tss > 0, tss, 1), np.where(rss == 0, 1.0, 0.0))
    return float(r2.mean())
