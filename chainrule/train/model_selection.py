"""Model selection: hold-out splits, cross-validation, hyperparameter search, nested CV.
(spec: CV-HOLDOUT, CV-KFOLD, CV-MODEL-SELECT, CV-COMPLEXITY-CURVE, CV-RISK)

Works with any object that has ``fit(X, y)`` and ``score(X, y)`` (or ``predict``) — the estimators of
:mod:`chainrule.classic`, :class:`ModuleEstimator` (an adapter that trains a chainrule ``nn.Module``), or
a zero-argument factory returning one.  Every fold fits a *fresh clone* (:func:`clone`), so no state
leaks between folds.

Folds run one after another (``backend='sequential'``) or in worker processes through joblib
(``backend='joblib'`` or ``n_jobs`` > 1; joblib is an optional dependency).  Other executors plug in
with :func:`register_backend` — the single dispatch point is :func:`run_tasks`.

Scores follow scikit-learn: "greater is better" unless the scoring is a loss (``'mse'``,
``'error_rate'``, ``'log_loss'``, ``'mae'``), in which case searches pick the *minimum*.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..classic.base import BaseEstimator, r2_score
from ..classic.base import clone as _clone_estimator
from ..tensor import Tensor

__all__ = [
    "train_test_split", "KFold", "StratifiedKFold", "LeaveOneOut", "check_cv", "Scorer", "get_scorer",
    "make_scorer", "CVResult", "cross_val_score", "cross_val_predict", "ParameterGrid", "ParameterSampler",
    "GridSearchCV", "RandomizedSearchCV", "NestedCVResult", "nested_cross_val_score", "validation_curve",
    "complexity_curve", "select_ridge_alpha", "ModuleEstimator", "clone", "register_backend", "run_tasks",
]


# =========================================================================== indexing helpers
def _num_samples(x) -> int:
    if hasattr(x, "shape") and len(getattr(x, "shape", ())) > 0:
        return int(x.shape[0])
    try:
        return len(x)
    except TypeError:
        raise ValueError(f"expected an array-like with a first (sample) axis, got {type(x).__name__}") from None


def _take(x, idx: np.ndarray):
    """Rows ``idx`` of an array, Tensor or list (same type back)."""
    if x is None:
        return None
    if isinstance(x, Tensor):
        return Tensor(x.data[idx])
    if isinstance(x, np.ndarray):
        return x[idx]
    if hasattr(x, "shape") and hasattr(x, "__getitem__") and not isinstance(x, (list, tuple)):
        return x[idx]
    return [x[int(i)] for i in idx]


def _as_labels(y) -> np.ndarray:
    return np.asarray(y.data if isinstance(y, Tensor) else y)


def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def clone(estimator):
    """A fresh, unfitted copy (see :func:`chainrule.classic.clone`).  An ``nn.Module`` is refused: wrap
    its constructor in :class:`ModuleEstimator` so every fold starts from a new initialisation."""
    from ..nn import Module
    if isinstance(estimator, Module):
        raise TypeError("cross-validation needs an estimator with fit/score, not a bare nn.Module (a trained "
                        "module would leak its weights into every fold). Wrap the constructor: "
                        "ModuleEstimator(make_model=lambda: MyNet(...), task='classification')")
    if not (hasattr(estimator, "fit") or callable(estimator)):
        raise TypeError(f"expected an estimator with fit(X, y) or a factory returning one, got "
                        f"{type(estimator).__name__}")
    return _clone_estimator(estimator)


# =========================================================================== hold-out split
def _largest_remainder(total: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integers n_c ≥ 0 with Σ n_c = total and |n_c − total·w_c| < 1 (ties broken at random)."""
    quota = total * weights / weights.sum()
    base = np.floor(quota).astype(int)
    rest = total - base.sum()
    frac = quota - base
    order = np.lexsort((rng.random(len(frac)), -frac))
    base[order[:rest]] += 1
    return base


def train_test_split(*arrays, test_size: float | int | None = None, train_size: float | int | None = None,
                     random_state: int | None = None, shuffle: bool = True, stratify=None) -> list:
    """Split arrays (same first axis) into a training and a test part: returns
    ``[a_train, a_test, b_train, b_test, ...]``.  (spec: CV-HOLDOUT)

    ``test_size``: fraction in (0, 1) (n_test = ⌈fraction·N⌉) or a count; default 0.25 (the complement
    of ``train_size`` if only that is given).  ``stratify`` (labels): each class is split in the same
    proportion — every class's test count is within one sample of n_test·(class share).  The test
    part is meant to be used once, for the final estimate (F10: a large train–test gap means
    over-fitting, and training error is in practice *below* test error).
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    n = _num_samples(arrays[0])
    for a in arrays[1:]:
        if _num_samples(a) != n:
            raise ValueError("all arrays must have the same number of samples; got "
                             f"{[_num_samples(x) for x in arrays]}")

    def _count(size, name):
        if size is None:
            return None
        if isinstance(size, (float, np.floating)):
            if not 0 < size < 1:
                raise ValueError(f"{name} as a fraction must be in (0, 1), got {size}")
            return int(math.ceil(size * n)) if name == "test_size" else int(math.floor(size * n))
        size = int(size)
        if not 0 < size < n:
            raise ValueError(f"{name}={size} must be between 1 and N−1 = {n - 1}")
        return size

    n_test = _count(test_size, "test_size")
    n_train = _count(train_size, "train_size")
    if n_test is None and n_train is None:
        n_test = int(math.ceil(0.25 * n))
    if n_test is None:
        n_test = n - n_train
    if n_train is None:
        n_train = n - n_test
    if n_train + n_test > n:
        raise ValueError(f"train_size + test_size = {n_train} + {n_test} exceeds the {n} samples")
    if n_train < 1 or n_test < 1:
        raise ValueError(f"the split leaves {n_train} training and {n_test} test samples; both need at least one")
    rng = _rng(random_state)
    if stratify is not None:
        if not shuffle:
            raise ValueError("stratify needs shuffle=True")
        labels = _as_labels(stratify).reshape(n, -1)
        _, enc = np.unique(labels, axis=0, return_inverse=True)
        enc = enc.reshape(-1)
        counts = np.bincount(enc)
        if counts.min() < 2:
            raise ValueError(f"stratify: the least populated class has {counts.min()} member(s); each class needs "
                             "at least 2 to appear in both parts (merge rare classes or do not stratify)")
        test_c = _largest_remainder(n_test, counts.astype(float), rng)
        train_c = _largest_remainder(n_train, (counts - test_c).astype(float), rng)
        train_c = np.minimum(train_c, counts - test_c)
        tr, te = [], []
        for c in range(len(counts)):
            idx = rng.permutation(np.flatnonzero(enc == c))
            te.append(idx[:test_c[c]])
            tr.append(idx[test_c[c]:test_c[c] + train_c[c]])
        train_idx = rng.permutation(np.concatenate(tr))
        test_idx = rng.permutation(np.concatenate(te))
    else:
        perm = rng.permutation(n) if shuffle else np.arange(n)
        train_idx, test_idx = perm[:n_train], perm[n_train:n_train + n_test]
        if not shuffle:
            train_idx, test_idx = np.arange(n_train), np.arange(n_train, n_train + n_test)
    out = []
    for a in arrays:
        out += [_take(a, train_idx), _take(a, test_idx)]
    return out


# =========================================================================== splitters
class KFold:
    """L disjoint folds covering all N samples; sizes ⌊N/L⌋ or ⌈N/L⌉, the first N mod L folds one
    larger.  ``shuffle`` permutes the samples first (seeded by ``random_state``).  (spec: CV-KFOLD)

    ``split(X)`` yields (train_indices, test_indices); fold l trains on Z ∖ Z^l.
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False, random_state: int | None = None):
        if int(n_splits) != n_splits or n_splits < 2:
            raise ValueError(f"n_splits must be an integer >= 2, got {n_splits!r}")
        self.n_splits, self.shuffle, self.random_state = int(n_splits), shuffle, random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def _check(self, n):
        if self.n_splits > n:
            raise ValueError(f"cannot make n_splits={self.n_splits} folds from {n} samples; use at most {n} "
                             "(n_splits = N is leave-one-out)")

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = _num_samples(X)
        self._check(n)
        idx = _rng(self.random_state).permutation(n) if self.shuffle else np.arange(n)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        start = 0
        for s in sizes:
            test = idx[start:start + s]
            train = np.concatenate([idx[:start], idx[start + s:]])
            start += s
            yield train, test

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_splits={self.n_splits}, shuffle={self.shuffle}, "
                f"random_state={self.random_state})")


class StratifiedKFold(KFold):
    """K-fold whose folds keep the class proportions: samples are grouped by class (shuffled within
    each class if ``shuffle``) and dealt to the folds in turn, so every class's count per fold differs
    by at most one between folds, and so do the fold sizes.  Warns when a class has fewer members than
    folds."""

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if y is None:
            raise ValueError("StratifiedKFold.split needs the labels y")
        n = _num_samples(X)
        self._check(n)
        labels = _as_labels(y).reshape(n, -1)
        _, enc = np.unique(labels, axis=0, return_inverse=True)
        enc = enc.reshape(-1)
        counts = np.bincount(enc)
        if counts.min() < self.n_splits:
            warnings.warn(f"the least populated class has {counts.min()} member(s), fewer than "
                          f"n_splits={self.n_splits}: some folds will lack it")
        rng = _rng(self.random_state)
        order = []
        for c in range(len(counts)):
            idx = np.flatnonzero(enc == c)
            order.append(rng.permutation(idx) if self.shuffle else idx)
        order = np.concatenate(order)
        fold_of = np.empty(n, dtype=int)
        fold_of[order] = np.arange(n) % self.n_splits
        for f in range(self.n_splits):
            yield np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)


class LeaveOneOut:
    """L = N folds of one sample each (almost unbiased, high variance).  (spec: CV-KFOLD)"""

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        if X is None:
            raise ValueError("LeaveOneOut.get_n_splits needs X (the number of folds is N)")
        return _num_samples(X)

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = _num_samples(X)
        if n < 2:
            raise ValueError(f"leave-one-out needs at least 2 samples, got {n}")
        all_idx = np.arange(n)
        for i in range(n):
            yield np.delete(all_idx, i), all_idx[i:i + 1]

    def __repr__(self) -> str:
        return "LeaveOneOut()"


def _is_classifier(est) -> bool:
    return getattr(est, "_estimator_type", None) == "classifier" or getattr(est, "task", None) == "classification"


def check_cv(cv=5, y=None, classifier: bool = False):
    """An int L → ``StratifiedKFold(L)`` for classifiers, ``KFold(L)`` otherwise (no shuffling);
    a splitter object or an iterable of (train, test) index pairs is passed through."""
    if cv is None:
        cv = 5
    if isinstance(cv, (int, np.integer)):
        return StratifiedKFold(int(cv)) if classifier and y is not None else KFold(int(cv))
    if hasattr(cv, "split"):
        return cv
    if isinstance(cv, Iterable):
        return _FixedSplits(list(cv))
    raise ValueError(f"cv must be an int, a splitter with split(X, y) or a list of (train, test) pairs; got {cv!r}")


class _FixedSplits:
    def __init__(self, splits):
        self.splits = [(np.asarray(a), np.asarray(b)) for a, b in splits]

    def get_n_splits(self, *a, **k):
        return len(self.splits)

    def split(self, X=None, y=None, groups=None):
        yield from self.splits


# =========================================================================== scoring
@dataclass(frozen=True)
class Scorer:
    """A score function of (estimator, X, y).  ``greater_is_better`` False marks a loss (searches take the
    minimum).  ``decomposable``: the metric is a mean over samples, so fold scores pooled with weights
    n_l/N equal the mean over all held-out samples."""

    name: str
    func: Callable
    greater_is_better: bool = True
    decomposable: bool = True

    def __call__(self, estimator, X, y) -> float:
        return float(self.func(estimator, X, y))


def _pred(est, X):
    return np.asarray(est.predict(X))


def _flat(y):
    return np.asarray(y.data if isinstance(y, Tensor) else y)


def _mse(est, X, y):
    y = _flat(y).astype(np.float64)
    p = _pred(est, X).astype(np.float64).reshape(y.shape)
    return np.mean((y - p) ** 2)


def _mae(est, X, y):
    y = _flat(y).astype(np.float64)
    return np.mean(np.abs(y - _pred(est, X).astype(np.float64).reshape(y.shape)))


def _acc(est, X, y):
    y = _flat(y)
    return np.mean(_pred(est, X).reshape(y.shape) == y)


def _log_loss(est, X, y):
    y = _flat(y)
    P = np.asarray(est.predict_proba(X), dtype=np.float64)
    classes = getattr(est, "classes_", np.arange(P.shape[1]))
    idx = np.searchsorted(classes, y)
    p = np.clip(P[np.arange(len(y)), idx], 1e-15, 1.0)
    return -np.mean(np.log(p))


_SCORERS = {
    "accuracy": Scorer("accuracy", _acc, True),
    "error_rate": Scorer("error_rate", lambda e, X, y: 1 - _acc(e, X, y), False),
    "zero_one": Scorer("zero_one", lambda e, X, y: 1 - _acc(e, X, y), False),
    "mse": Scorer("mse", _mse, False),
    "mean_squared_error": Scorer("mean_squared_error", _mse, False),
    "neg_mean_squared_error": Scorer("neg_mean_squared_error", lambda e, X, y: -_mse(e, X, y), True),
    "mae": Scorer("mae", _mae, False),
    "neg_mean_absolute_error": Scorer("neg_mean_absolute_error", lambda e, X, y: -_mae(e, X, y), True),
    "r2": Scorer("r2", lambda e, X, y: r2_score(_flat(y), _pred(e, X)), True, decomposable=False),
    "log_loss": Scorer("log_loss", _log_loss, False),
    "neg_log_loss": Scorer("neg_log_loss", lambda e, X, y: -_log_loss(e, X, y), True),
}


def _default_score(est, X, y):
    if not hasattr(est, "score"):
        raise TypeError(f"{type(est).__name__} has no score(X, y); pass scoring='mse', 'accuracy', ... or a callable")
    return est.score(X, y)


def make_scorer(func: Callable, greater_is_better: bool = True, name: str | None = None,
                decomposable: bool = True, needs_proba: bool = False) -> Scorer:
    """A Scorer from a metric ``func(y_true, y_pred)`` (or of predict_proba with ``needs_proba``)."""
    def f(est, X, y):
        return func(_flat(y), est.predict_proba(X) if needs_proba else _pred(est, X))
    return Scorer(name or getattr(func, "__name__", "custom"), f, greater_is_better, decomposable)


def get_scorer(scoring, estimator=None) -> Scorer:
    """``None`` → the estimator's own ``score`` (accuracy for classifiers, R² for regressors); a name
    from {accuracy, error_rate, zero_one, mse, mean_squared_error, neg_mean_squared_error, mae,
    neg_mean_absolute_error, r2, log_loss, neg_log_loss}; a Scorer; or a callable (est, X, y) → float
    (greater is better)."""
    if scoring is None:
        return Scorer("score", _default_score, True, decomposable=estimator is not None and _is_classifier(estimator))
    if isinstance(scoring, Scorer):
        return scoring
    if isinstance(scoring, str):
        if scoring not in _SCORERS:
            raise ValueError(f"unknown scoring {scoring!r}; choose one of {sorted(_SCORERS)} or pass a callable")
        return _SCORERS[scoring]
    if callable(scoring):
        return Scorer(getattr(scoring, "__name__", "custom"), scoring, True, decomposable=False)
    raise ValueError(f"scoring must be None, a name, a Scorer or a callable, got {scoring!r}")


# =========================================================================== execution backends
def _run_sequential(fn: Callable, tasks: list[tuple], n_jobs: int | None, verbose: bool = False) -> list:
    it = tasks
    if verbose:
        from tqdm.auto import tqdm
        it = tqdm(tasks, desc="folds", leave=False)
    return [fn(*t) for t in it]


def _run_joblib(fn: Callable, tasks: list[tuple], n_jobs: int | None, verbose: bool = False) -> list:
    try:
        from joblib import Parallel, delayed
    except ImportError:  # pragma: no cover - joblib ships with scikit-learn; optional for chainrule
        raise ImportError("backend='joblib' needs the optional package joblib (pip install joblib); "
                          "or use backend='sequential'") from None
    return Parallel(n_jobs=n_jobs if n_jobs not in (None, 0) else -1, backend="loky",
                    verbose=10 if verbose else 0)(delayed(fn)(*t) for t in tasks)


_BACKENDS: dict[str, Callable] = {"sequential": _run_sequential, "joblib": _run_joblib}


def register_backend(name: str, runner: Callable) -> None:
    """Add an executor: ``runner(fn, tasks, n_jobs, verbose) -> [fn(*t) for t in tasks]`` in order
    (e.g. a Dask backend).  Tasks and ``fn`` are picklable (top-level function, plain data)."""
    if not callable(runner):
        raise TypeError("runner must be callable as runner(fn, tasks, n_jobs, verbose)")
    _BACKENDS[name] = runner


def run_tasks(fn: Callable, tasks: list[tuple], n_jobs: int | None = None, backend: str = "auto",
              verbose: bool = False) -> list:
    """The single dispatch point: run ``fn(*task)`` for every task with the chosen backend and return
    the results in task order.  ``backend='auto'``: 'joblib' when ``n_jobs`` is not None/1, else
    'sequential'."""
    if backend == "auto":
        backend = "sequential" if n_jobs in (None, 1) else "joblib"
    if backend not in _BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; available: {sorted(_BACKENDS)} (add one with register_backend)")
    return _BACKENDS[backend](fn, tasks, n_jobs, verbose)


# =========================================================================== cross-validation
def _fit_and_score(estimator, X, y, train, test, scorer: Scorer, return_train: bool, return_estimator: bool,
                   fit_params: dict | None, params: dict | None = None) -> dict:
    est = clone(estimator)
    if params:
        est.set_params(**params)
    t0 = time.perf_counter()
    if y is None:
        est.fit(_take(X, train), **(fit_params or {}))
    else:
        est.fit(_take(X, train), _take(y, train), **(fit_params or {}))
    fit_time = time.perf_counter() - t0
    yt = None if y is None else _take(y, test)
    out = {"test_score": scorer(est, _take(X, test), yt), "n_test": len(test), "fit_time": fit_time}
    if return_train:
        out["train_score"] = scorer(est, _take(X, train), None if y is None else _take(y, train))
    if return_estimator:
        out["estimator"] = est
    return out


@dataclass
class CVResult:
    """Per-fold scores and their summaries.  (spec: CV-KFOLD)

    ``mean()`` ± ``std()``: mean and (population) standard deviation of the per-fold scores;
    ``pooled_mean()`` = Σ_l n_l·score_l / N — for metrics that are means over samples (accuracy, error
    rate, MSE, MAE, log-loss) the mean over all N held-out predictions, R_cv; it equals ``mean`` when L
    divides N.  Behaves like the array of fold scores (``np.mean(result)``, ``len``, indexing).
    """

    scores: np.ndarray
    fold_sizes: np.ndarray
    scoring: str = "score"
    greater_is_better: bool = True
    decomposable: bool = True
    train_scores: np.ndarray | None = None
    fit_times: np.ndarray | None = None
    estimators: list | None = field(default=None, repr=False)

    def mean(self, *args, **kwargs) -> float:
        return float(np.mean(self.scores))

    def std(self, *args, **kwargs) -> float:
        return float(np.std(self.scores))

    def pooled_mean(self) -> float:
        return float(np.sum(self.scores * self.fold_sizes) / np.sum(self.fold_sizes))

    def sem(self) -> float:
        """Standard error of the fold mean, std/√(L − 1) (folds are not independent: a rough guide)."""
        L = len(self.scores)
        return float(np.std(self.scores, ddof=1) / math.sqrt(L)) if L > 1 else float("nan")

    def __array__(self, dtype=None, copy=None):
        return self.scores if dtype is None else self.scores.astype(dtype)

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, i):
        return self.scores[i]

    def __iter__(self):
        return iter(self.scores)

    def __str__(self) -> str:
        return (f"{self.scoring}: {self.mean():.4g} ± {self.std():.2g} over {len(self.scores)} folds "
                f"(pooled {self.pooled_mean():.4g})")


def cross_val_score(estimator, X, y=None, cv=5, scoring=None, n_jobs: int | None = None, backend: str = "auto",
                    return_train_score: bool = False, return_estimators: bool = False,
                    fit_params: dict | None = None, verbose: bool = False) -> CVResult:
    """L-fold cross-validation: for each fold l, fit a fresh clone on Z ∖ Z^l and score it on Z^l.
    (spec: CV-KFOLD, CV-RISK)

    R_cv = (1/L)Σ_l (L/N)Σ_{z∈Z^l} L(y, g(x; w_l)) is ``pooled_mean()`` for a loss scoring such as
    ``'mse'`` or ``'error_rate'``; E[R_cv] is the risk of a model trained on N(1 − 1/L) points ("almost
    unbiased"), with high variance (overlapping training sets).  ``cv``: an int (KFold, or StratifiedKFold
    for classifiers), a splitter or a list of (train, test) index pairs.  Folds run through
    :func:`run_tasks` (``n_jobs``, ``backend``).  ``estimator`` may also be a zero-argument factory.
    """
    scorer = get_scorer(scoring, estimator)
    splitter = check_cv(cv, y, _is_classifier(estimator))
    splits = list(splitter.split(X, y))
    tasks = [(estimator, X, y, tr, te, scorer, return_train_score, return_estimators, fit_params)
             for tr, te in splits]
    res = run_tasks(_fit_and_score, tasks, n_jobs=n_jobs, backend=backend, verbose=verbose)
    return CVResult(
        scores=np.array([r["test_score"] for r in res]), fold_sizes=np.array([r["n_test"] for r in res]),
        scoring=scorer.name, greater_is_better=scorer.greater_is_better, decomposable=scorer.decomposable,
        train_scores=np.array([r["train_score"] for r in res]) if return_train_score else None,
        fit_times=np.array([r["fit_time"] for r in res]),
        estimators=[r["estimator"] for r in res] if return_estimators else None)


def _fit_predict(estimator, X, y, train, test, method):
    est = clone(estimator)
    est.fit(_take(X, train), _take(y, train))
    return np.asarray(getattr(est, method)(_take(X, test)))


def cross_val_predict(estimator, X, y, cv=5, method: str = "predict", n_jobs: int | None = None,
                      backend: str = "auto") -> np.ndarray:
    """Held-out predictions: entry i comes from the model that did not see sample i (cv must be a
    partition).  With ``LeaveOneOut`` and least squares, y − ŷ = eᵢ/(1 − hᵢᵢ).  (spec: CV-KFOLD)"""
    splitter = check_cv(cv, y, _is_classifier(estimator))
    splits = list(splitter.split(X, y))
    res = run_tasks(_fit_predict, [(estimator, X, y, tr, te, method) for tr, te in splits], n_jobs, backend)
    n = _num_samples(X)
    first = res[0]
    out = np.empty((n,) + first.shape[1:], dtype=first.dtype)
    seen = np.zeros(n, dtype=int)
    for (_, te), r in zip(splits, res):
        out[te] = r
        seen[te] += 1
    if not np.all(seen == 1):
        raise ValueError("cross_val_predict needs folds that partition the samples (each exactly once)")
    return out


# =========================================================================== search
class ParameterGrid:
    """All combinations of a dict of lists (or of each dict in a list of dicts), keys in sorted order."""

    def __init__(self, param_grid: Mapping | Sequence[Mapping]):
        grids = [param_grid] if isinstance(param_grid, Mapping) else list(param_grid)
        for g in grids:
            if not isinstance(g, Mapping):
                raise TypeError(f"param_grid must be a dict or a list of dicts, got {type(g).__name__}")
            for k, v in g.items():
                if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
                    raise TypeError(f"param_grid[{k!r}] must be a list of values, got {v!r}; wrap a single value "
                                    f"in a list: [{v!r}]")
                if len(list(v)) == 0:
                    raise ValueError(f"param_grid[{k!r}] is empty")
        self.grids = grids

    def __iter__(self) -> Iterator[dict]:
        for g in self.grids:
            keys = sorted(g)
            for vals in itertools.product(*(list(g[k]) for k in keys)):
                yield dict(zip(keys, vals))

    def __len__(self) -> int:
        return sum(math.prod(len(list(v)) for v in g.values()) for g in self.grids)


class ParameterSampler:
    """``n_iter`` random settings: lists are sampled uniformly, objects with ``rvs`` (scipy.stats
    distributions) via ``rvs(random_state=rng)``, callables as ``f(rng)``.  If every entry is a list the
    settings are drawn from the grid without replacement."""

    def __init__(self, param_distributions: Mapping, n_iter: int, random_state=None):
        self.param_distributions, self.n_iter, self.random_state = dict(param_distributions), int(n_iter), random_state

    def __iter__(self) -> Iterator[dict]:
        rng = _rng(self.random_state)
        d = self.param_distributions
        keys = sorted(d)
        if all(isinstance(d[k], (list, tuple, np.ndarray)) for k in keys):
            grid = list(ParameterGrid({k: list(d[k]) for k in keys}))
            for i in rng.permutation(len(grid))[: self.n_iter]:
                yield grid[int(i)]
            return
        for _ in range(self.n_iter):
            p = {}
            for k in keys:
                v = d[k]
                if hasattr(v, "rvs"):
                    p[k] = v.rvs(random_state=rng)
                elif callable(v):
                    p[k] = v(rng)
                else:
                    vals = list(v)
                    p[k] = vals[int(rng.integers(len(vals)))]
            yield p

    def __len__(self) -> int:
        return self.n_iter


def _argbest(means: np.ndarray, greater_is_better: bool) -> int:
    """Index of the best mean; ties → the first (in candidate order)."""
    return int(np.argmax(means) if greater_is_better else np.argmin(means))


class _BaseSearchCV(BaseEstimator):
    def _candidates(self) -> list[dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, X, y=None):
        """Cross-validate every candidate setting (all candidate×fold fits go through one
        :func:`run_tasks` call), pick the best mean (ties → first) and refit it on all the data."""
        scorer = get_scorer(self.scoring, self.estimator)
        splitter = check_cv(self.cv, y, _is_classifier(self.estimator))
        splits = list(splitter.split(X, y))
        cands = self._candidates()
        if not cands:
            raise ValueError("no candidate settings to search")
        tasks = [(self.estimator, X, y, tr, te, scorer, self.return_train_score, False, None, p)
                 for p in cands for tr, te in splits]
        res = run_tasks(_fit_and_score, tasks, self.n_jobs, self.backend, self.verbose)
        L = len(splits)
        test = np.array([r["test_score"] for r in res]).reshape(len(cands), L)
        sizes = np.array([r["n_test"] for r in res]).reshape(len(cands), L)
        means = test.mean(axis=1)
        order = np.argsort(-means if scorer.greater_is_better else means, kind="stable")
        rank = np.empty(len(cands), dtype=int)
        rank[order] = np.arange(1, len(cands) + 1)
        self.cv_results_ = {
            "params": cands, "mean_test_score": means, "std_test_score": test.std(axis=1),
            "pooled_test_score": (test * sizes).sum(axis=1) / sizes.sum(axis=1), "rank_test_score": rank,
            "mean_fit_time": np.array([r["fit_time"] for r in res]).reshape(len(cands), L).mean(axis=1),
        }
        for l in range(L):
            self.cv_results_[f"split{l}_test_score"] = test[:, l]
        if self.return_train_score:
            tr = np.array([r["train_score"] for r in res]).reshape(len(cands), L)
            self.cv_results_["mean_train_score"] = tr.mean(axis=1)
            self.cv_results_["std_train_score"] = tr.std(axis=1)
        for key in {k for p in cands for k in p}:
            self.cv_results_[f"param_{key}"] = [p.get(key) for p in cands]
        self.scorer_ = scorer
        self.n_splits_ = L
        self.best_index_ = _argbest(means, scorer.greater_is_better)
        self.best_params_ = cands[self.best_index_]
        self.best_score_ = float(means[self.best_index_])
        if self.refit:
            est = clone(self.estimator)
            est.set_params(**self.best_params_)
            self.best_estimator_ = est.fit(X) if y is None else est.fit(X, y)
        return self

    def results_table(self, fmt: str = "markdown", digits: int = 4) -> str:
        """One row per setting: parameters, mean ± std of the fold scores, pooled mean, rank."""
        if not hasattr(self, "cv_results_"):
            raise ValueError("call fit(X, y) before results_table()")
        r = self.cv_results_
        keys = sorted({k for p in r["params"] for k in p})
        head = keys + [f"mean {self.scorer_.name}", "± std", "pooled", "rank"]
        rows = []
        for i, p in enumerate(r["params"]):
            rows.append([_fmt(p.get(k), digits) for k in keys] + [
                f"{r['mean_test_score'][i]:.{digits}g}", f"{r['std_test_score'][i]:.{digits}g}",
                f"{r['pooled_test_score'][i]:.{digits}g}", str(r["rank_test_score"][i])])
        if fmt == "markdown":
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(row) + " |" for row in rows]
            return "\n".join(lines)
        if fmt == "text":
            w = [max(len(h), *(len(row[j]) for row in rows)) for j, h in enumerate(head)]
            lines = ["  ".join(h.ljust(w[j]) for j, h in enumerate(head))]
            lines += ["  ".join(c.ljust(w[j]) for j, c in enumerate(row)) for row in rows]
            return "\n".join(lines)
        raise ValueError(f"fmt must be 'markdown' or 'text', got {fmt!r}")

    # delegate to the refitted best estimator
    def _best(self):
        if not hasattr(self, "best_estimator_"):
            raise ValueError("no refitted estimator: call fit(X, y) with refit=True first")
        return self.best_estimator_

    def predict(self, X):
        return self._best().predict(X)

    def predict_proba(self, X):
        return self._best().predict_proba(X)

    def score(self, X, y=None) -> float:
        if not hasattr(self, "scorer_"):
            raise ValueError("call fit(X, y) first")
        return self.scorer_(self._best(), X, y)

    @property
    def _estimator_type(self):
        return getattr(self.estimator, "_estimator_type", None)


def _fmt(v, digits):
    if isinstance(v, (float, np.floating)):
        return f"{v:.{digits}g}"
    return str(v)


class GridSearchCV(_BaseSearchCV):
    """Exhaustive search over ``param_grid`` with cross-validation.  (spec: CV-MODEL-SELECT)

    For each setting: the CV mean ± std of the fold scores; the best mean wins (the *minimum* for a
    loss scoring, ties → first setting); with ``refit`` the winner is refitted on all the data
    (``best_estimator_``).  Fitted: ``cv_results_``, ``best_index_``, ``best_params_``, ``best_score_``;
    :meth:`results_table` formats the table.  ``best_score_`` is optimistically biased (it is the best of
    several noisy estimates): use :func:`nested_cross_val_score` for an unbiased estimate.
    """

    def __init__(self, estimator, param_grid, cv=5, scoring=None, refit: bool = True, n_jobs: int | None = None,
                 backend: str = "auto", return_train_score: bool = False, verbose: bool = False):
        self.estimator = estimator
        self.param_grid = param_grid
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.backend = backend
        self.return_train_score = return_train_score
        self.verbose = verbose

    def _candidates(self):
        return list(ParameterGrid(self.param_grid))


class RandomizedSearchCV(_BaseSearchCV):
    """Random search: ``n_iter`` settings drawn by :class:`ParameterSampler` from
    ``param_distributions`` (seeded by ``random_state``), otherwise as :class:`GridSearchCV`.
    (spec: CV-MODEL-SELECT)"""

    def __init__(self, estimator, param_distributions, n_iter: int = 10, cv=5, scoring=None, refit: bool = True,
                 random_state: int | None = None, n_jobs: int | None = None, backend: str = "auto",
                 return_train_score: bool = False, verbose: bool = False):
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.backend = backend
        self.return_train_score = return_train_score
        self.verbose = verbose

    def _candidates(self):
        return list(ParameterSampler(self.param_distributions, self.n_iter, self.random_state))


# =========================================================================== nested CV
@dataclass
class NestedCVResult:
    """Outer-fold scores of a search refitted inside each outer training set (``outer``, a CVResult:
    the nearly unbiased estimate of the whole selection procedure), next to the inner best CV scores
    (``inner_best_scores``, optimistically biased) and the setting chosen in each outer fold."""

    outer: CVResult
    inner_best_scores: np.ndarray
    best_params: list[dict]

    def mean(self) -> float:
        return self.outer.mean()

    def std(self) -> float:
        return self.outer.std()

    def __str__(self) -> str:
        return (f"nested {self.outer.scoring}: {self.outer.mean():.4g} ± {self.outer.std():.2g}; inner best "
                f"{np.mean(self.inner_best_scores):.4g} ± {np.std(self.inner_best_scores):.2g}")


def _nested_fold(search, X, y, train, test):
    s = clone(search)
    s.set_params(n_jobs=None, backend="sequential")
    s.fit(_take(X, train), None if y is None else _take(y, train))
    return {"test_score": s.scorer_(s.best_estimator_, _take(X, test), None if y is None else _take(y, test)),
            "n_test": len(test), "inner": s.best_score_, "params": s.best_params_}


def nested_cross_val_score(search: _BaseSearchCV, X, y=None, cv=5, n_jobs: int | None = None,
                           backend: str = "auto") -> NestedCVResult:
    """Nested cross-validation: the outer ``cv`` splits the data; in each outer training set the
    ``search`` (a GridSearchCV/RandomizedSearchCV with its own inner cv) selects and refits a setting,
    which is scored on the outer test fold.  Outer folds run through :func:`run_tasks`.
    (spec: CV-MODEL-SELECT)"""
    if not isinstance(search, _BaseSearchCV):
        raise TypeError("nested_cross_val_score needs a GridSearchCV or RandomizedSearchCV (the inner selection)")
    if not search.refit:
        raise ValueError("the inner search must refit (refit=True) so the chosen model can be scored")
    splitter = check_cv(cv, y, _is_classifier(search.estimator))
    splits = list(splitter.split(X, y))
    res = run_tasks(_nested_fold, [(search, X, y, tr, te) for tr, te in splits], n_jobs, backend)
    scorer = get_scorer(search.scoring, search.estimator)
    outer = CVResult(np.array([r["test_score"] for r in res]), np.array([r["n_test"] for r in res]), scorer.name,
                     scorer.greater_is_better, scorer.decomposable)
    return NestedCVResult(outer, np.array([r["inner"] for r in res]), [r["params"] for r in res])


# =========================================================================== curves
def validation_curve(estimator, X, y, param_name: str, param_range: Sequence, cv=5, scoring=None,
                     n_jobs: int | None = None, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Training and CV scores over one hyperparameter: arrays (len(param_range), n_folds) each."""
    scorer = get_scorer(scoring, estimator)
    splits = list(check_cv(cv, y, _is_classifier(estimator)).split(X, y))
    tasks = [(estimator, X, y, tr, te, scorer, True, False, None, {param_name: v})
             for v in param_range for tr, te in splits]
    res = run_tasks(_fit_and_score, tasks, n_jobs, backend)
    shape = (len(param_range), len(splits))
    return (np.array([r["train_score"] for r in res]).reshape(shape),
            np.array([r["test_score"] for r in res]).reshape(shape))


def complexity_curve(estimator, param_name: str, param_range: Sequence, X_train, y_train, X_test, y_test,
                     scoring="mse") -> dict[str, np.ndarray]:
    """Train and test scores of a model class indexed by a complexity parameter (e.g. polynomial
    degree), one fit per value on a fixed split.  Training error falls with complexity while test error
    falls, then rises (over-fitting); complexity belongs to the class (e.g. its VC dimension), not to
    one fitted model.  (spec: CV-COMPLEXITY-CURVE)"""
    scorer = get_scorer(scoring, estimator)
    train, test = [], []
    for v in param_range:
        est = clone(estimator)
        est.set_params(**{param_name: v})
        est.fit(X_train, y_train)
        train.append(scorer(est, X_train, y_train))
        test.append(scorer(est, X_test, y_test))
    return {"param": np.asarray(list(param_range)), "train": np.asarray(train), "test": np.asarray(test)}


def select_ridge_alpha(X, y, alphas: Sequence[float] | None = None, cv=5, scoring="mse",
                       n_jobs: int | None = None, backend: str = "auto") -> GridSearchCV:
    """Choose the ridge strength (weight decay) α of :class:`~chainrule.classic.LinearRegression` by
    K-fold CV over ``alphas`` (default 10^-4 … 10^4, 33 values); returns the fitted search
    (``best_params_['alpha']``, :meth:`~GridSearchCV.results_table`).  Under the Gaussian prior
    w ~ N(0, σ_p²I) and noise σ² the MAP value is σ²/σ_p² (:func:`chainrule.classic.ridge_alpha_from_prior`);
    CV lands near it.  (spec: CV-MODEL-SELECT, LOSS-MAP-L2)"""
    from ..classic import LinearRegression
    alphas = np.logspace(-4, 4, 33) if alphas is None else alphas
    cvs = cv if not isinstance(cv, (int, np.integer)) else KFold(int(cv), shuffle=True, random_state=0)
    return GridSearchCV(LinearRegression(), {"alpha": [float(a) for a in alphas]}, cv=cvs, scoring=scoring,
                        n_jobs=n_jobs, backend=backend).fit(X, y)


# =========================================================================== nn adapter
class ModuleEstimator(BaseEstimator):
    """Estimator interface for a chainrule ``nn.Module``: ``fit`` builds a fresh model with
    ``make_model(**model_kwargs)`` and trains it; ``predict``/``predict_proba``/``score`` evaluate it.

    * ``task='regression'``: MSE loss (``nn.functional.mse_loss``), score R²; y (N,) or (N, K).
    * ``task='classification'``: labels are encoded over ``classes_``, loss ``cross_entropy`` on the
      model's logits (N, K), score accuracy.
    * ``optimizer``: 'adam' | 'sgd' (with ``momentum``) or a callable ``params, lr, weight_decay → Optimizer``;
      ``weight_decay`` is the optimizer's L2 coefficient (searchable like ridge α); ``batch_size`` None is
      full batch, else shuffled mini-batches; ``epochs`` passes over the data.
    * ``random_state`` seeds ``chainrule.manual_seed`` before building the model (initialisation) and the
      mini-batch order, so every clone trains identically.

    Hyperparameters of the model are reached as ``model_kwargs__name`` (e.g. in a param grid).
    ``make_model`` must be picklable for process backends (a top-level function; joblib's loky also
    accepts lambdas).
    """

    def __init__(self, make_model: Callable, model_kwargs: dict | None = None, task: str = "regression",
                 optimizer="adam", lr: float = 1e-2, weight_decay: float = 0.0, momentum: float = 0.0,
                 epochs: int = 200, batch_size: int | None = None, random_state: int | None = 0,
                 dtype=np.float64):
        self.make_model = make_model
        self.model_kwargs = model_kwargs
        self.task = task
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.dtype = dtype

    @property
    def _estimator_type(self):
        return "classifier" if self.task == "classification" else "regressor"

    def _X(self, X) -> Tensor:
        arr = np.asarray(X.data if isinstance(X, Tensor) else X, dtype=self.dtype)
        if not np.all(np.isfinite(arr)):
            raise ValueError("X contains NaN or infinite values; remove or impute them before fitting")
        return Tensor(arr)

    def _make_optimizer(self, params):
        from .. import optim
        if callable(self.optimizer):
            return self.optimizer(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer == "adam":
            return optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer == "sgd":
            return optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        raise ValueError(f"optimizer must be 'adam', 'sgd' or a callable, got {self.optimizer!r}")

    def fit(self, X, y) -> ModuleEstimator:
        from .. import manual_seed
        from ..nn import functional as F
        if self.task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression' or 'classification', got {self.task!r}")
        Xt = self._X(X)
        y = np.asarray(y.data if isinstance(y, Tensor) else y)
        if len(y) != Xt.shape[0]:
            raise ValueError(f"X has {Xt.shape[0]} samples but y has {len(y)}; they must match")
        if self.task == "classification":
            self.classes_, enc = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                raise ValueError(f"classification needs at least 2 classes, y has only {self.classes_.tolist()}")
            target = enc.reshape(-1).astype(np.int64)
            loss_fn = F.cross_entropy
        else:
            target = y.astype(self.dtype)
            if not np.all(np.isfinite(target)):
                raise ValueError("y contains NaN or infinite values")
            self._single = target.ndim == 1
            target = target.reshape(len(target), -1)
            loss_fn = F.mse_loss
        if self.random_state is not None:
            manual_seed(int(self.random_state))
        model = self.make_model(**(self.model_kwargs or {}))
        model.to(np.dtype(self.dtype))
        opt = self._make_optimizer(list(model.parameters()))
        rng = np.random.default_rng(self.random_state)
        N = Xt.shape[0]
        bs = N if self.batch_size is None else int(self.batch_size)
        hist = []
        model.train()
        for _ in range(int(self.epochs)):
            order = np.arange(N) if bs >= N else rng.permutation(N)
            total = 0.0
            for s in range(0, N, bs):
                idx = order[s:s + bs]
                xb = Xt if bs >= N else Tensor(Xt.data[idx])
                tb = target if bs >= N else target[idx]
                opt.zero_grad()
                out = model(xb)
                loss = loss_fn(out, tb if self.task == "classification" else Tensor(tb))
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            hist.append(total / N)
        model.eval()
        self.model_ = model
        self.loss_history_ = np.asarray(hist)
        return self

    def _forward(self, X) -> np.ndarray:
        from .. import no_grad
        if not hasattr(self, "model_"):
            raise ValueError("this ModuleEstimator is not fitted yet; call fit(X, y) first")
        with no_grad():
            return self.model_(self._X(X)).data

    def predict(self, X) -> np.ndarray:
        out = self._forward(X)
        if self.task == "classification":
            return self.classes_[np.argmax(out, axis=1)]
        return out[:, 0] if self._single and out.ndim == 2 and out.shape[1] == 1 else out

    def predict_proba(self, X) -> np.ndarray:
        if self.task != "classification":
            raise AttributeError("predict_proba is only available for task='classification'")
        from scipy.special import softmax
        return softmax(self._forward(X), axis=1)

    def score(self, X, y) -> float:
        y = np.asarray(y.data if isinstance(y, Tensor) else y)
        if self.task == "classification":
            return float(np.mean(self.predict(X) == y))
        return r2_score(y, self.predict(X))

