"""Logistic regression (gradient descent, IRLS/Newton) and softmax (multinomial) regression.
(spec: CLS-LOGREG-GD, CLS-LOGREG-IRLS, CLS-SOFTMAX-REG)"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import special as _sp

from .. import ops
from ..nn import functional as F
from ..tensor import Tensor
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


def _solve_psd(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve HΔ = g for a symmetric positive semi-definite H: Cholesky, else least squares
    (minimum-norm step, never an explicit inverse)."""
    try:
        L = np.linalg.cholesky(H)
        z = np.linalg.solve(L, g)
        return np.linalg.solve(L.T, z)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(H, g, rcond=None)[0]


class LogisticRegression(ClassifierMixin, BaseEstimator):
    r"""Binary logistic regression, a = σ(w̃ᵀx̃), y ∈ {0, 1}.  (spec: CLS-LOGREG-GD, CLS-LOGREG-IRLS)

    Objective: the summed Bernoulli negative log-likelihood (binary cross-entropy on the logit,
    computed stably as softplus(s) − ys) plus an optional ridge term on w (never on the intercept):

        R(w̃) = Σₙ [softplus(sₙ) − yₙsₙ] + (α/2)‖w‖²,   sₙ = w̃ᵀx̃ₙ,   ∇R = X̃ᵀ(a − y) + α(0, w).

    Solvers:

    * ``'irls'`` (alias ``'newton'``): Newton–Raphson w̃ ← w̃ − H⁻¹∇R with H = X̃ᵀRX̃ + α diag(0, I),
      R = diag(aₙ(1 − aₙ)); equivalently the weighted least-squares step w̃_new = (X̃ᵀRX̃)⁻¹X̃ᵀRz,
      z = X̃w̃ − R⁻¹(a − y).  HΔ = ∇ is solved by Cholesky (least-squares fallback), stop when
      ‖Δ‖∞ < tol (default 1e-8) or max_iter (default 100).  Records ``coef_path_`` (b, w) per step and
      ``nll_history_``.  Erratum E5: the notes call (X̃ᵀRX̃)⁻¹ "H" (it is H⁻¹); H is only positive
      semi-definite in general (definite for full-column-rank X̃ and 0 < a < 1).
    * ``'gd'``: gradient descent on the *mean* objective R/N,  w̃ ← w̃ − (η/N)∇R (erratum E4: the step
      is X̃ᵀ(a − y), a column), until ‖∇R‖/N < tol (default 1e-10) or max_iter (default 100000).

    On linearly separable data no maximiser exists (‖w‖ → ∞, erratum E5a): the solver warns (NLL → 0,
    ‖w‖ blowing up) — use ``alpha > 0``.

    Fitted: ``coef_`` (1, D), ``intercept_`` (1,), ``classes_``, ``n_iter_``, ``nll_history_``,
    ``coef_path_`` (rows (b, w)), ``converged_``.
    """

    def __init__(self, solver: str = "irls", alpha: float = 0.0, fit_intercept: bool = True,
                 lr: float = 0.1, max_iter: int | None = None, tol: float | None = None):
        self.solver = solver
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.lr = lr
        self.max_iter = max_iter
        self.tol = tol

    def _nll(self, Xa, y, w, mask):
        s = Xa @ w
        return float(np.sum(np.logaddexp(0.0, s) - y * s) + 0.5 * self.alpha * np.sum(mask * w * w))

    def fit(self, X, y) -> LogisticRegression:
        X, y = check_X_y(X, y, y_numeric=False)
        self.classes_, enc = check_classification_targets(y, 2, "LogisticRegression")
        yy = enc.astype(np.float64)
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        Xa = add_bias_column(X) if self.fit_intercept else X
        N, Da = Xa.shape
        mask = np.ones(Da)
        if self.fit_intercept:
            mask[0] = 0.0
        alpha = float(self.alpha)
        w = np.zeros(Da)
        path, nll = [], [self._nll(Xa, yy, w, mask)]
        converged = False
        separated = False
        if self.solver in ("irls", "newton"):
            tol = 1e-8 if self.tol is None else self.tol
            max_iter = 100 if self.max_iter is None else self.max_iter
            it = 0
            for it in range(1, max_iter + 1):  # noqa: B007 (the count is used after the loop)
                a = _sp.expit(Xa @ w)
                r = a * (1 - a)
                g = Xa.T @ (a - yy) + alpha * mask * w
                H = (Xa * r[:, None]).T @ Xa + alpha * np.diag(mask)
                delta = _solve_psd(H, g)
                w = w - delta
                path.append(w.copy())
                nll.append(self._nll(Xa, yy, w, mask))
                if np.max(np.abs(delta)) < tol:
                    converged = True
                    break
                if alpha == 0 and (nll[-1] < 1e-8 * N or np.max(np.abs(w)) > 1e8):
                    separated = True
                    break
        elif self.solver == "gd":
            tol = 1e-10 if self.tol is None else self.tol
            max_iter = 100_000 if self.max_iter is None else self.max_iter
            eta = float(self.lr)
            it = 0
            for it in range(1, max_iter + 1):
                a = _sp.expit(Xa @ w)
                g = (Xa.T @ (a - yy) + alpha * mask * w) / N
                if np.linalg.norm(g) < tol:
                    converged = True
                    it -= 1
                    break
                w = w - eta * g
            path.append(w.copy())
            nll.append(self._nll(Xa, yy, w, mask))
            if alpha == 0 and not converged and nll[-1] < 1e-3 * N:
                separated = True
        else:
            raise ValueError(f"unknown solver {self.solver!r}; use 'irls' (or 'newton') or 'gd'")
        self.n_iter_ = it
        self.converged_ = converged
        self.nll_history_ = np.asarray(nll)
        self.coef_path_ = np.asarray(path).reshape(-1, Da)
        if self.fit_intercept:
            self.intercept_, self.coef_ = w[:1].copy(), w[None, 1:].copy()
        else:
            self.intercept_, self.coef_ = np.zeros(1), w[None, :].copy()
        self.n_features_in_ = X.shape[1]
        if separated:
            warnings.warn("LogisticRegression: the classes look linearly separable (NLL → 0 while ‖w‖ grows); "
                          "no maximum-likelihood solution exists. Use alpha > 0 (L2 penalty).", ConvergenceWarning)
        elif not converged:
            warnings.warn(f"LogisticRegression(solver={self.solver!r}) did not converge in {self.n_iter_} "
                          "iterations; increase max_iter (or lr for 'gd'), or standardize X", ConvergenceWarning)
        return self

    def decision_function(self, X) -> np.ndarray:
        """The logit s = wᵀx + b."""
        check_is_fitted(self, "coef_")
        X = check_array(X, "X")
        check_n_features(self, X)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X) -> np.ndarray:
        """Columns (1 − a, a), a = σ(s): probabilities of ``classes_[0]`` and ``classes_[1]``."""
        a = _sp.expit(self.decision_function(X))
        return np.stack([1 - a, a], axis=1)

    def predict(self, X) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, self.classes_[1], self.classes_[0])

    def hessian(self, X) -> np.ndarray:
        """H = X̃ᵀRX̃ (+ α on w) at the fitted parameters, R = diag(a(1 − a)) — the Hessian of R(w̃)."""
        X = check_array(X, "X")
        Xa = add_bias_column(X) if self.fit_intercept else X
        w = np.concatenate([self.intercept_, self.coef_[0]]) if self.fit_intercept else self.coef_[0]
        a = _sp.expit(Xa @ w)
        mask = np.ones(Xa.shape[1])
        if self.fit_intercept:
            mask[0] = 0
        return (Xa * (a * (1 - a))[:, None]).T @ Xa + self.alpha * np.diag(mask)


def softmax_regression_hessian(X, A, fit_intercept: bool = True) -> np.ndarray:
    r"""Hessian of the summed cross-entropy of softmax regression w.r.t. W̃ (K, D̃) flattened row-major:

        H = Σₙ (diag(aₙ) − aₙaₙᵀ) ⊗ x̃ₙx̃ₙᵀ       (K·D̃ × K·D̃; entry (k·D̃ + d, j·D̃ + e)).

    ``A`` holds the softmax outputs (N, K).  Positive semi-definite with the null direction
    "add one vector to every row of W̃" (erratum E6).  (spec: CLS-SOFTMAX-REG)
    """
    X = check_array(X, "X")
    Xa = add_bias_column(X) if fit_intercept else X
    A = np.asarray(A, dtype=np.float64)
    K, Dt = A.shape[1], Xa.shape[1]
    H = np.zeros((K * Dt, K * Dt))
    for a, x in zip(A, Xa):
        H += np.kron(np.diag(a) - np.outer(a, a), np.outer(x, x))
    return H


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    r"""Multinomial (softmax) regression, K classes.  (spec: CLS-SOFTMAX-REG)

    Scores S = XWᵀ + b, W (K, D); A = row-softmax(S); objective the *mean* cross-entropy plus a
    ridge term on W (not b):

        J(W, b) = (1/N) Σₙ −log aₙ,yₙ + (α/2)‖W‖²,
        ∇_W J = (1/N)(A − Y)ᵀX + αW  (K, D),   ∇_b J = (1/N)Σₙ(aₙ − yₙ)

    (one sample: ∂L/∂w_{ξd} = (a_ξ − y_ξ)x_d, the outer product (a − y)xᵀ; erratum E6: the chain rule
    sums over k inside, Σ_k (∂L/∂s_k)(∂s_k/∂w_{ξd})).  The loss is evaluated through the engine
    (:meth:`objective`, ``nn.functional.cross_entropy``) so gradients and Hessians can be taken by
    autodiff; the fit loop uses the closed-form gradient above.

    Solvers: ``'gd'`` (default; η = ``lr``) until ‖∇J‖ < tol, or ``'newton'``: Newton steps with the
    Hessian of :func:`softmax_regression_hessian` (/N, + α), solved by least squares — the minimum-norm
    step, which never moves along the null direction.  From W = 0 both keep every column sum Σ_k W_kd
    at 0 (α = 0): minima form an affine set (adding one vector to all rows changes nothing), and
    uniqueness needs α > 0 or a reference class (erratum E6).

    Fitted: ``coef_`` (K, D), ``intercept_`` (K,), ``classes_``, ``n_iter_``, ``loss_history_``.
    """

    def __init__(self, solver: str = "gd", alpha: float = 0.0, fit_intercept: bool = True, lr: float = 0.5,
                 max_iter: int = 100_000, tol: float = 1e-8):
        self.solver = solver
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.lr = lr
        self.max_iter = max_iter
        self.tol = tol

    # ---------------------------------------------------------------- objective pieces
    def _design(self, X):
        return add_bias_column(X) if self.fit_intercept else X

    def objective(self, W: Tensor, X, y) -> Tensor:
        """J as a chainrule Tensor of the augmented weights W̃ (K, D̃) (first column = b when
        fit_intercept): mean ``cross_entropy`` + (α/2)‖W‖² (bias excluded).  Differentiable, so
        ``chainrule.grad``/``hessian`` apply.  ``y`` holds class indices 0..K−1."""
        Xa = Tensor(self._design(check_array(X, "X")).astype(W.dtype))
        S = ops.matmul(Xa, ops.transpose(W, 0, 1))
        J = F.cross_entropy(S, np.asarray(y, dtype=np.int64))
        if self.alpha:
            Wp = W[:, 1:] if self.fit_intercept else W
            J = J + 0.5 * self.alpha * ops.sum(Wp * Wp)
        return J

    def loss_and_grad(self, Wt: np.ndarray, X, y) -> tuple[float, np.ndarray]:
        """(J, ∇J) in closed form for the augmented weights W̃ (K, D̃); ``y`` class indices."""
        Xa = self._design(check_array(X, "X"))
        y = np.asarray(y)
        N, K = len(y), Wt.shape[0]
        S = Xa @ Wt.T
        logZ = _sp.logsumexp(S, axis=1)
        A = np.exp(S - logZ[:, None])
        Y = np.zeros((N, K))
        Y[np.arange(N), y] = 1
        mask = np.ones(Wt.shape[1])
        if self.fit_intercept:
            mask[0] = 0
        J = float(np.mean(logZ - S[np.arange(N), y]) + 0.5 * self.alpha * np.sum(mask * Wt * Wt))
        G = (A - Y).T @ Xa / N + self.alpha * mask * Wt
        return J, G

    def fit(self, X, y) -> SoftmaxRegression:
        X, y = check_X_y(X, y, y_numeric=False)
        self.classes_, enc = check_classification_targets(y, None, "SoftmaxRegression")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        Xa = self._design(X)
        N, Dt = Xa.shape
        K = len(self.classes_)
        Wt = np.zeros((K, Dt))
        hist = []
        converged = False
        it = 0
        if self.solver == "gd":
            for it in range(1, int(self.max_iter) + 1):
                J, G = self.loss_and_grad(Wt, X, enc)
                hist.append(J)
                if np.linalg.norm(G) < self.tol:
                    converged = True
                    it -= 1
                    break
                Wt = Wt - self.lr * G
        elif self.solver == "newton":
            mask = np.ones(Dt)
            if self.fit_intercept:
                mask[0] = 0
            for it in range(1, int(self.max_iter) + 1):
                J, G = self.loss_and_grad(Wt, X, enc)
                hist.append(J)
                if np.linalg.norm(G) < self.tol:
                    converged = True
                    it -= 1
                    break
                S = Xa @ Wt.T
                A = _sp.softmax(S, axis=1)
                H = softmax_regression_hessian(Xa, A, fit_intercept=False) / N
                H += self.alpha * np.diag(np.tile(mask, K))
                step = np.linalg.lstsq(H, G.ravel(), rcond=None)[0]
                Wt = Wt - step.reshape(K, Dt)
        else:
            raise ValueError(f"unknown solver {self.solver!r}; use 'gd' or 'newton'")
        self.n_iter_ = it
        self.converged_ = converged
        self.loss_history_ = np.asarray(hist)
        if self.fit_intercept:
            self.intercept_, self.coef_ = Wt[:, 0].copy(), Wt[:, 1:].copy()
        else:
            self.intercept_, self.coef_ = np.zeros(K), Wt.copy()
        self.n_features_in_ = X.shape[1]
        if not converged:
            warnings.warn(f"SoftmaxRegression(solver={self.solver!r}) did not reach ‖∇J‖ < {self.tol:g} in "
                          f"{self.max_iter} iterations (separable classes have no minimiser: use alpha > 0)",
                          ConvergenceWarning)
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X = check_array(X, "X")
        check_n_features(self, X)
        return X @ self.coef_.T + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        return _sp.softmax(self.decision_function(X), axis=1)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
