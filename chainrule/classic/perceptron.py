"""Rosenblatt's perceptron, its criterion and the convergence bound.  (spec: CLS-PERCEPTRON,
LOSS-PERCEPTRON, CLS-PERCEPTRON-BOUND)"""

from __future__ import annotations

import warnings

import numpy as np

from ..ops._base import _plain, as_tensor
from ..tensor import Tensor, _make
from .base import (
    BaseEstimator,
    ClassifierMixin,
    ConvergenceWarning,
    add_bias_column,
    check_array,
    check_classification_targets,
    check_is_fitted,
    check_n_features,
    check_X_y,
)


class Perceptron(ClassifierMixin, BaseEstimator):
    r"""Binary linear threshold classifier trained by the perceptron rule.  (spec: CLS-PERCEPTRON)

    Labels are mapped to t ∈ {−1, +1} (``classes_[0]`` → −1); with ``fit_intercept`` the inputs are
    augmented, x̃ = (1, x), w̃ = (b, w) (without a bias the problem is not translation invariant).
    Score s = w̃ᵀx̃; predict ``classes_[1]`` if s > 0 else ``classes_[0]``.  A mistake is t·s ≤ 0.

    * online (``mode='online'``): for each sample in turn, if tₙw̃ᵀx̃ₙ ≤ 0: w̃ ← w̃ + η tₙx̃ₙ;
    * batch (``mode='batch'``): Δw̃ = η Σ_{n∈M} tₙx̃ₙ over the misclassified set M — one (sub)gradient
      step on the perceptron criterion (:func:`perceptron_criterion`).

    Erratum E1: the notes update only when the thresholded output is wrong (t·s < 0); from w̃ = 0 that
    never changes anything.  The rule here updates whenever t·s ≤ 0 (``update_on_zero=False``
    reproduces the notes' rule, for demonstration only).

    Training stops after the first epoch without an update (``converged_ = True``) or after
    ``max_epochs`` (a :class:`ConvergenceWarning`: the data are probably not linearly separable).
    ``pocket=True`` keeps the weights with the fewest training errors seen (Gallant's pocket
    algorithm), the useful answer on non-separable data; use it with ``shuffle=True`` (in a fixed
    cyclic order the perceptron can cycle through poor weights: on XOR from w̃ = 0 it only visits
    weights with 2 errors, while the shuffled pocket finds 3/4 correct, the maximum).
    With w̃₀ = 0 the classifier does not depend on η.

    Fitted: ``w_`` = (b, w₁, …, w_D) (augmented), ``coef_`` (1, D), ``intercept_`` (1,),
    ``n_updates_``, ``n_epochs_``, ``converged_``, ``errors_per_epoch_``, ``classes_``.
    """

    def __init__(self, lr: float = 1.0, max_epochs: int = 1000, fit_intercept: bool = True,
                 shuffle: bool = False, random_state: int | None = None, init: str = "zeros",
                 pocket: bool = False, mode: str = "online", update_on_zero: bool = True):
        self.lr = lr
        self.max_epochs = max_epochs
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
        self.random_state = random_state
        self.init = init
        self.pocket = pocket
        self.mode = mode
        self.update_on_zero = update_on_zero

    def fit(self, X, y) -> Perceptron:
        X, y = check_X_y(X, y, y_numeric=False)
        self.classes_, enc = check_classification_targets(y, 2, "Perceptron")
        t = np.where(enc == 1, 1.0, -1.0)
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.mode not in ("online", "batch"):
            raise ValueError(f"mode must be 'online' or 'batch', got {self.mode!r}")
        Xa = add_bias_column(X) if self.fit_intercept else X
        N, Da = Xa.shape
        rng = np.random.default_rng(self.random_state)
        if self.init == "zeros":
            w = np.zeros(Da)
        elif self.init == "random":
            w = rng.standard_normal(Da) * 0.01
        else:
            raise ValueError(f"init must be 'zeros' or 'random', got {self.init!r}")
        eta = float(self.lr)

        def mistakes(w):
            m = t * (Xa @ w)
            return (m <= 0) if self.update_on_zero else (m < 0)

        def n_errors(w):  # training errors of the prediction rule (s > 0 ↔ t = +1)
            return int(np.sum((Xa @ w > 0) != (t > 0)))

        best_w, best_err = w.copy(), n_errors(w)
        n_updates, errors, converged, epoch = 0, [], False, 0
        for epoch in range(1, int(self.max_epochs) + 1):  # noqa: B007 (used after the loop)
            made = 0
            if self.mode == "online":
                order = rng.permutation(N) if self.shuffle else range(N)
                for n in order:
                    s = t[n] * (Xa[n] @ w)
                    if s < 0 or (self.update_on_zero and s == 0):
                        w = w + eta * t[n] * Xa[n]
                        made += 1
                        if self.pocket:
                            e = n_errors(w)
                            if e < best_err:
                                best_w, best_err = w.copy(), e
            else:
                M = mistakes(w)
                made = int(M.sum())
                if made:
                    w = w + eta * (t[M] @ Xa[M])
                    if self.pocket:
                        e = n_errors(w)
                        if e < best_err:
                            best_w, best_err = w.copy(), e
            n_updates += made
            errors.append(made)
            if made == 0:
                converged = True
                break
        self.n_updates_ = n_updates
        self.n_epochs_ = epoch
        self.converged_ = converged
        self.errors_per_epoch_ = np.asarray(errors)
        if self.pocket and not converged:
            w = best_w
        self.w_ = w
        if self.fit_intercept:
            self.intercept_, self.coef_ = w[:1].copy(), w[None, 1:].copy()
        else:
            self.intercept_, self.coef_ = np.zeros(1), w[None, :].copy()
        self.n_features_in_ = X.shape[1]
        if not converged:
            extra = (f" The pocket weights make {best_err} training error(s)." if self.pocket else
                     " Use pocket=True to keep the best weights seen.")
            warnings.warn(f"Perceptron did not converge in max_epochs={self.max_epochs} epochs "
                          f"({n_updates} updates, {errors[-1]} mistakes in the last epoch): the data are "
                          f"probably not linearly separable.{extra}", ConvergenceWarning)
        return self

    def decision_function(self, X) -> np.ndarray:
        """The score s = wᵀx + b."""
        check_is_fitted(self, "coef_")
        X = check_array(X, "X")
        check_n_features(self, X)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict(self, X) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, self.classes_[1], self.classes_[0])


def perceptron_bound(X, y, u, fit_intercept: bool = True) -> float:
    r"""The convergence-theorem bound (R/γ_u)² on the number of perceptron updates.
    (spec: CLS-PERCEPTRON-BOUND)

    ``u`` is a separating direction for the (augmented, if ``fit_intercept``) inputs, (b, w) in that
    case; it is normalised here.  γ_u = minₙ tₙuᵀx̃ₙ/‖u‖ > 0 is its margin and R = maxₙ‖x̃ₙ‖.
    From w₀ = 0 and any η > 0 the perceptron makes at most (R/γ)² updates:  uᵀw_τ ≥ τηγ and
    ‖w_τ‖² ≤ τη²R² (the cross term 2ηt w_tᵀx is ≤ 0 on a mistake), so by Cauchy–Schwarz
    τηγ ≤ ‖w_τ‖ ≤ √τ ηR.  (Erratum E2: those steps are inequalities and the mistake condition is ≤ 0.)
    """
    X, y = check_X_y(X, y, y_numeric=False)
    _, enc = check_classification_targets(y, 2, "perceptron_bound")
    t = np.where(enc == 1, 1.0, -1.0)
    Xa = add_bias_column(X) if fit_intercept else X
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    if u.shape[0] != Xa.shape[1]:
        raise ValueError(f"u must have {Xa.shape[1]} entries ((b, w) when fit_intercept=True), got {u.shape[0]}")
    nu = np.linalg.norm(u)
    if nu == 0:
        raise ValueError("u must be a non-zero separating direction")
    gamma = float(np.min(t * (Xa @ u)) / nu)
    if gamma <= 0:
        raise ValueError(f"u does not separate the data (margin min tₙuᵀx̃ₙ/‖u‖ = {gamma:.4g} ≤ 0); pass a "
                         "direction with tₙuᵀx̃ₙ > 0 for every sample")
    R = float(np.max(np.linalg.norm(Xa, axis=1)))
    return (R / gamma) ** 2


def _perceptron_vjp_factory(mask_neg_t):
    def vjp(g, out, s):
        return (g * mask_neg_t,)
    return vjp


def perceptron_loss(scores, target, reduction: str = "sum") -> Tensor:
    r"""Perceptron criterion L(t, s) = max(0, −t·s) on the *score* s (not the thresholded output).
    (spec: LOSS-PERCEPTRON)

    ``target`` holds labels t ∈ {−1, +1}.  Subgradient ∂L/∂s = −t where t·s ≤ 0 (the value chosen at
    the kink s = 0, so a sample on the boundary still counts as a mistake), else 0; with s = w̃ᵀx̃ one
    (sub)gradient step of size η on R_emp = Σ_{n∈M}(−tₙw̃ᵀx̃ₙ) is exactly the batch perceptron update
    Δw̃ = ηΣ_{n∈M} tₙx̃ₙ.  Reduction ``'sum'`` (the notes' R_emp, default), ``'mean'`` or ``'none'``.
    Erratum E3: stated on the thresholded output the criterion is piecewise constant with zero gradient.
    """
    s = as_tensor(scores)
    t = np.asarray(_plain(target), dtype=s.dtype)
    if t.shape != s.shape:
        raise ValueError(f"perceptron_loss: scores shape {s.shape} and target shape {t.shape} differ")
    if not np.all(np.isin(t, (-1.0, 1.0))):
        raise ValueError("perceptron_loss: target labels must be -1 or +1 (map {0, 1} labels with 2y - 1)")
    sd = s.data
    mistake = (t * sd) <= 0
    per = np.where(mistake, -t * sd, 0.0).astype(s.dtype)
    grad = np.where(mistake, -t, 0.0).astype(s.dtype)
    if reduction == "none":
        return _make(per, (s,), _perceptron_vjp_factory(grad))
    if reduction == "sum":
        return _make(np.asarray(per.sum(), dtype=s.dtype), (s,), _perceptron_vjp_factory(grad))
    if reduction == "mean":
        n = max(per.size, 1)
        return _make(np.asarray(per.sum() / n, dtype=s.dtype), (s,), _perceptron_vjp_factory(grad / n))
    raise ValueError(f"reduction must be 'sum', 'mean' or 'none', got {reduction!r}")


def perceptron_criterion(w, X, t, fit_intercept: bool = True) -> tuple[float, np.ndarray]:
    """(R_emp, subgradient) of the perceptron criterion R_emp(w̃) = Σ_{n∈M}(−tₙw̃ᵀx̃ₙ) at w̃ (NumPy);
    the subgradient −Σ_{n∈M} tₙx̃ₙ, M = {n : tₙw̃ᵀx̃ₙ ≤ 0}.  (spec: LOSS-PERCEPTRON)"""
    X = check_array(X, "X")
    Xa = add_bias_column(X) if fit_intercept else X
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    s = Xa @ w
    M = t * s <= 0
    return float(np.sum(-t[M] * s[M])), -(t[M] @ Xa[M])
