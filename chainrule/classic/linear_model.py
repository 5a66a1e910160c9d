"""Least-squares linear regression: closed form, gradient descent and SGD; polynomial regression.

Model (spec: CLS-LINEAR-MODEL): ŷ = Wx + b, for a batch Ŷ = XWᵀ + 1bᵀ with W (K, D).  The bias trick
x̃ = (1, x), w̃ = (b, w) folds b into the weights; both forms give identical predictions.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .base import (
    BaseEstimator,
    ConvergenceWarning,
    RegressorMixin,
    add_bias_column,
    check_array,
    check_is_fitted,
    check_n_features,
    check_X_y,
)

_CLOSED = ("closed_form", "lstsq", "svd")


class LinearRegression(RegressorMixin, BaseEstimator):
    r"""Least squares with optional ridge penalty.  (spec: CLS-LINREG-CLOSED, LINREG-CLOSED-FORM,
    CLS-LINREG-GD, CLS-LINEAR-MODEL)

    Objective (sum form, the notes' S with an unpenalised intercept):

        S(w, b) = ½‖y − Xw − b‖² + (α/2)‖w‖²,   α = ``alpha`` ≥ 0.

    Solvers (all reach the same convex optimum):

    * ``'closed_form'`` (aliases ``'lstsq'``, ``'svd'``): centre X and y, then solve the least-squares
      problem by SVD with ``np.linalg.lstsq`` — never an explicit inverse.  α = 0: ŵ = X_c⁺y_c, the
      minimum-norm (Moore–Penrose) solution when X is rank deficient; α > 0: lstsq on the stacked
      system [X_c; √α I] w = [y_c; 0], i.e. w = (X_cᵀX_c + αI)⁻¹X_cᵀy_c.  b = ȳ − x̄ᵀw.
      Cost: O(ND·min(N, D)) for the SVD (O(ND² + D³) through the normal equations), O(ND) memory.
      Multi-output Y (N, K): the K columns are solved at once, Ŵᵀ = X⁺Y, ``coef_`` (K, D).
    * ``'gd'``: full-batch gradient descent on the mean objective J = S/N on the augmented X̃,
      ∇J = (1/N)[X̃ᵀ(X̃w̃ − y) + α(0, w)], w̃ ← w̃ − η∇J, until ‖∇J‖ < ``tol`` or ``max_iter``.
      Cost O(NDK) per iteration; the number of iterations grows with κ = λ_max/λ_min of X̃ᵀX̃.
      A constant η converges iff 0 < η < 2N/λ_max(X̃ᵀX̃ + αI) (stored as ``lr_max_``); a run whose
      loss blows up is reported: ``diverged_ = True`` and a :class:`ConvergenceWarning`.
    * ``'sgd'``: per epoch a seeded shuffle, then updates on mini-batches B of ``batch_size`` samples,
      w̃ ← w̃ − η[(1/|B|)X̃_Bᵀ(X̃_Bw̃ − y_B) + (α/N)(0, w)] (one sample: (w̃ᵀx̃ − y)x̃); ``max_iter``
      counts epochs; stops when the full gradient norm < ``tol``.  Cost O(DK) per sample, O(NDK) per
      epoch.  With noisy data and a constant η SGD hovers near the optimum instead of converging.

    Note E13: the gradient as a column is Xᵀ(Xw − y) = Σₙ αⁿxⁿ with αⁿ = prediction − label.

    Defaults: η = 0.1, max_iter = 100000, tol = 1e-8 (spec LINREG-CLOSED-FORM uses η 0.1 and a loss-change
    tolerance; CLS-LINREG-GD a gradient-norm tolerance — the gradient norm is used here as it certifies
    optimality).

    Fitted attributes: ``coef_`` (D,) or (K, D), ``intercept_`` (float or (K,)), ``rank_`` (of the
    centred X, or of X without intercept), ``singular_values_``, ``n_features_in_``; for the iterative
    solvers also ``n_iter_``, ``loss_history_``, ``converged_``, ``diverged_``, ``lr_max_``.
    """

    def __init__(self, fit_intercept: bool = True, alpha: float = 0.0, solver: str = "closed_form",
                 lr: float = 0.1, max_iter: int = 100_000, tol: float = 1e-8, batch_size: int = 1,
                 shuffle: bool = True, random_state: int | None = None):
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.solver = solver
        self.lr = lr
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, X, y) -> LinearRegression:
        X, y = check_X_y(X, y, y_numeric=True, multi_output=True)
        if not (isinstance(self.alpha, (int, float, np.floating, np.integer)) and self.alpha >= 0):
            raise ValueError(f"alpha must be a number >= 0 (ridge strength), got {self.alpha!r}")
        self._single = y.ndim == 1
        Y = y.reshape(len(y), -1)
        self.n_features_in_ = X.shape[1]
        if self.solver in _CLOSED:
            W, b = self._fit_closed(X, Y)
        elif self.solver in ("gd", "sgd"):
            W, b = self._fit_iterative(X, Y)
        else:
            raise ValueError(f"unknown solver {self.solver!r}; use 'closed_form' (or 'lstsq'), 'gd' or 'sgd'")
        self.coef_ = W[0] if self._single else W
        self.intercept_ = float(b[0]) if self._single else b
        return self

    def _fit_closed(self, X, Y):
        if self.fit_intercept:
            xm, ym = X.mean(axis=0), Y.mean(axis=0)
            Xc, Yc = X - xm, Y - ym
        else:
            xm, ym = np.zeros(X.shape[1]), np.zeros(Y.shape[1])
            Xc, Yc = X, Y
        if self.alpha == 0:
            sol, _, rank, sv = np.linalg.lstsq(Xc, Yc, rcond=None)
        else:
            D = X.shape[1]
            A = np.vstack([Xc, math.sqrt(self.alpha) * np.eye(D)])
            B = np.vstack([Yc, np.zeros((D, Y.shape[1]))])
            sol = np.linalg.lstsq(A, B, rcond=None)[0]
            sv = np.linalg.svd(Xc, compute_uv=False)
            rank = int(np.sum(sv > sv.max(initial=0) * max(Xc.shape) * np.finfo(float).eps)) if sv.size else 0
        self.rank_ = int(rank)
        self.singular_values_ = sv
        W = sol.T  # (K, D)
        b = ym - xm @ sol
        return W, b

    def _fit_iterative(self, X, Y):
        N, D = X.shape
        Xa = add_bias_column(X) if self.fit_intercept else X
        mask = np.ones((Xa.shape[1], 1))
        if self.fit_intercept:
            mask[0] = 0.0  # the intercept is not penalised
        alpha = float(self.alpha)
        lam_max = float(np.linalg.eigvalsh(Xa.T @ Xa + alpha * np.diag(mask[:, 0]))[-1])
        self.lr_max_ = 2.0 * N / lam_max if lam_max > 0 else np.inf
        sv = np.linalg.svd(X - X.mean(axis=0) if self.fit_intercept else X, compute_uv=False)
        self.singular_values_ = sv
        self.rank_ = int(np.sum(sv > sv.max(initial=0) * max(X.shape) * np.finfo(float).eps)) if sv.size else 0
        Wt = np.zeros((Xa.shape[1], Y.shape[1]))  # w̃ as columns, (D+1, K)

        def objective(Wt):
            R = Xa @ Wt - Y
            return (0.5 * np.vdot(R, R) + 0.5 * alpha * np.vdot(Wt * mask, Wt)) / N

        def full_grad(Wt):
            return (Xa.T @ (Xa @ Wt - Y) + alpha * mask * Wt) / N

        lr, tol = float(self.lr), float(self.tol)
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        J0 = objective(Wt)
        hist = [J0]
        self.converged_ = self.diverged_ = False
        rng = np.random.default_rng(self.random_state)
        bs = int(self.batch_size)
        if self.solver == "sgd" and not 1 <= bs:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        it = 0
        with np.errstate(over="ignore", invalid="ignore"):
            for it in range(1, int(self.max_iter) + 1):  # noqa: B007 (the count is used after the loop)
                if self.solver == "gd":
                    Wt = Wt - lr * full_grad(Wt)
                else:
                    order = rng.permutation(N) if self.shuffle else np.arange(N)
                    for s in range(0, N, bs):
                        idx = order[s:s + bs]
                        Xb = Xa[idx]
                        g = Xb.T @ (Xb @ Wt - Y[idx]) / len(idx) + (alpha / N) * mask * Wt
                        Wt = Wt - lr * g
                J = objective(Wt)
                hist.append(J)
                if not np.isfinite(J) or J > 1e8 * max(J0, 1e-300) + 1e8:
                    self.diverged_ = True
                    break
                if np.linalg.norm(full_grad(Wt)) < tol:
                    self.converged_ = True
                    break
        self.n_iter_ = it
        self.loss_history_ = np.asarray(hist)
        if self.diverged_:
            warnings.warn(
                f"LinearRegression(solver={self.solver!r}) diverged after {it} iterations: the loss grew from "
                f"{J0:.3g} to {hist[-1]:.3g}. The step lr={lr:g} exceeds the stability limit 2N/λ_max = "
                f"{self.lr_max_:.4g} (full-batch GD); lower lr or standardize X.", ConvergenceWarning)
        elif not self.converged_:
            warnings.warn(f"LinearRegression(solver={self.solver!r}) did not reach ‖∇J‖ < {tol:g} in "
                          f"{self.max_iter} {'iterations' if self.solver == 'gd' else 'epochs'}; increase "
                          "max_iter or lr (below lr_max_), or standardize X", ConvergenceWarning)
        if self.fit_intercept:
            return Wt[1:].T, Wt[0]
        return Wt.T, np.zeros(Y.shape[1])

    # ------------------------------------------------------------------ predict
    def predict(self, X) -> np.ndarray:
        """ŷ = Xwᵀ + b ((N,) for a single output, (N, K) otherwise)."""
        check_is_fitted(self, "coef_")
        X = check_array(X, "X")
        check_n_features(self, X)
        W = np.atleast_2d(self.coef_)
        out = X @ W.T + np.asarray(self.intercept_)
        return out[:, 0] if self._single else out

    def gradient(self, X, y) -> np.ndarray:
        """∇S at the fitted parameters, w.r.t. (b, w) of the sum objective (≈ 0 at the optimum)."""
        X, y = check_X_y(X, y, multi_output=True)
        Y = y.reshape(len(y), -1)
        W = np.atleast_2d(self.coef_)
        R = X @ W.T + np.asarray(self.intercept_) - Y
        gw = R.T @ X + self.alpha * W
        gb = R.sum(axis=0)
        return np.concatenate([gb[:, None], gw], axis=1)


def rss_ess_tss(y, y_pred) -> tuple[float, float, float]:
    """RSS = Σ(y − ŷ)², ESS = Σ(ŷ − ȳ)², TSS = Σ(y − ȳ)²; TSS = ESS + RSS for least squares with an
    intercept.  (spec: CLS-LINREG-CLOSED)"""
    y = np.asarray(y, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64).reshape(y.shape)
    ybar = y.mean(axis=0)
    return float(((y - yp) ** 2).sum()), float(((yp - ybar) ** 2).sum()), float(((y - ybar) ** 2).sum())


def ridge_alpha_from_prior(noise_var: float, prior_var: float, n_samples: int | None = None) -> float:
    """The ridge strength of the MAP estimate under y = wᵀx + ε, ε ~ N(0, σ²), w ~ N(0, σ_p² I).

    −log posterior = Σ(y − f)²/(2σ²) + ‖w‖²/(2σ_p²) + c, so for :class:`LinearRegression`'s sum objective
    ½‖r‖² + (α/2)‖w‖² the MAP weight is α = σ²/σ_p²; for the mean form (1/m)Σ½(y − f)² + (α/2)‖w‖²
    (pass ``n_samples`` = m) it is α = σ²/(mσ_p²).  A Laplace prior gives L1 instead.  (spec: LOSS-MAP-L2)
    """
    if noise_var <= 0 or prior_var <= 0:
        raise ValueError(f"variances must be > 0, got noise_var={noise_var}, prior_var={prior_var}")
    a = noise_var / prior_var
    return a / n_samples if n_samples else a


def leave_one_out_residuals(X, y, fit_intercept: bool = True) -> np.ndarray:
    """Held-out residuals of least squares without refitting: yᵢ − ŷ₍₋ᵢ₎ = eᵢ/(1 − hᵢᵢ), with
    eᵢ the training residual and h = diag(X̃(X̃ᵀX̃)⁻¹X̃ᵀ) the leverages, computed from a thin SVD of X̃
    (hᵢᵢ = ‖Uᵢ‖²), no inverse.  (spec: CV-KFOLD)"""
    X, y = check_X_y(X, y, multi_output=True)
    Xa = add_bias_column(X) if fit_intercept else X
    U, s, _ = np.linalg.svd(Xa, full_matrices=False)
    r = int(np.sum(s > s.max() * max(Xa.shape) * np.finfo(float).eps))
    U = U[:, :r]
    h = np.einsum("ij,ij->i", U, U)
    Y = y.reshape(len(y), -1)
    e = Y - U @ (U.T @ Y)
    if np.any(h > 1 - 1e-10):
        i = int(np.argmax(h))
        raise ValueError(f"sample {i} has leverage h = {h[i]:.12g} ≈ 1: removing it leaves the model "
                         "undetermined, so its leave-one-out residual is undefined (add samples or drop features)")
    out = e / (1 - h)[:, None]
    return out[:, 0] if y.ndim == 1 else out


def polynomial_features(x, degree: int, basis: str = "legendre", domain: tuple[float, float] | None = None,
                        include_bias: bool = False) -> np.ndarray:
    """Features (p₁(x), …, p_M(x)) of a 1-D input, M = ``degree``.

    ``basis='legendre'``: Legendre polynomials of t = 2(x − lo)/(hi − lo) − 1 (well conditioned, spans
    the same space as the monomials, so fits of degree M are nested); ``'monomial'``: xᵐ.
    ``include_bias`` adds the constant p₀ = 1 as the first column.
    """
    x = np.asarray(getattr(x, "data", x), dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"polynomial_features expects a 1-D input (N,) or (N, 1), got shape {x.shape}")
    if int(degree) != degree or degree < 0:
        raise ValueError(f"degree must be an integer >= 0, got {degree!r}")
    if basis == "legendre":
        lo, hi = domain if domain is not None else (x.min(), x.max())
        t = 2 * (x - lo) / (hi - lo if hi > lo else 1.0) - 1
        V = np.polynomial.legendre.legvander(t, int(degree))
    elif basis == "monomial":
        V = np.vander(x, int(degree) + 1, increasing=True)
    else:
        raise ValueError(f"unknown basis {basis!r}; use 'legendre' or 'monomial'")
    return V if include_bias else V[:, 1:]


class PolynomialRegression(RegressorMixin, BaseEstimator):
    """Least-squares fit of a degree-M polynomial to a 1-D input (features by
    :func:`polynomial_features`, solved by :class:`LinearRegression`'s closed form, optional ridge α).
    The degree is a hyperparameter for model selection (spec: CV-COMPLEXITY-CURVE)."""

    def __init__(self, degree: int = 1, alpha: float = 0.0, basis: str = "legendre"):
        self.degree = degree
        self.alpha = alpha
        self.basis = basis

    def fit(self, X, y) -> PolynomialRegression:
        x = np.asarray(getattr(X, "data", X), dtype=np.float64)
        x = x.reshape(-1, 1) if x.ndim == 1 else x
        x, y = check_X_y(x, y)
        if x.shape[1] != 1:
            raise ValueError(f"PolynomialRegression takes one input feature, got X of shape {x.shape}")
        self.domain_ = (float(x.min()), float(x.max()))
        F = polynomial_features(x[:, 0], self.degree, self.basis, self.domain_)
        if F.shape[1] == 0:
            F = np.zeros((len(x), 1))
        self.linear_ = LinearRegression(alpha=self.alpha).fit(F, y)
        self.n_features_in_ = 1
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "linear_")
        x = np.asarray(getattr(X, "data", X), dtype=np.float64).reshape(-1)
        F = polynomial_features(x, self.degree, self.basis, self.domain_)
        if F.shape[1] == 0:
            F = np.zeros((len(x), 1))
        return self.linear_.predict(F)
