"""Cascade-correlation (Fahlman & Lebiere 1990): a constructive network that grows one frozen hidden
unit at a time.  (spec: REG-CASCADE-CORR)

Every hidden unit sees the inputs, a bias and all earlier hidden units; every output sees all of them
(the "cascade").  With the feature matrix Φ = [X, 1, h₁, …, h_m] (N × F):

1. Train the output weights on Φ (least squares for linear outputs; L-BFGS on ½Σ(σ(ΦV) − Y)² for sigmoid
   outputs).
2. Stop when the error criterion is met or ``max_hidden`` units are installed.
3. Train a pool of ``candidates`` units a_ξ = f(Φw_ξ) from w_ξ ~ U(−1, 1) by gradient ascent on the
   correlation score (residual εₖⁿ = ŷₖⁿ − yₖⁿ)

       C_ξ = Σₖ |Σₙ(a_ξⁿ − ā_ξ)(εₖⁿ − ε̄ₖ)|,
       ∂C_ξ/∂w_ξⱼ = Σₖ σₖ Σₙ(εₖⁿ − ε̄ₖ) f′(s_ξⁿ) Φⱼⁿ,   σₖ = sign of output k's correlation

   (erratum N11: the sign is per output, inside the sum over k, and f′ is per sample; centring a_ξ adds
   nothing to the gradient because Σₙ(εₖⁿ − ε̄ₖ) = 0).
4. Install the best candidate: its input weights are frozen for ever and its activation becomes a new
   column of Φ.
5. Retrain all output weights; go to 2.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize as _opt
from scipy import special as _sp

from ..backend import Generator, _gen
from ..tensor import Tensor

__all__ = ["CascadeCorrelation", "candidate_score", "candidate_grad", "two_spirals"]

_ACTS = {
    "tanh": (np.tanh, lambda s, a: 1.0 - a * a),
    "sigmoid": (_sp.expit, lambda s, a: a * (1.0 - a)),
}


def _center(E: np.ndarray) -> np.ndarray:
    return E - E.mean(axis=0, keepdims=True)


def candidate_score(W: np.ndarray, Phi: np.ndarray, E: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """C_ξ = Σₖ|Σₙ(a_ξⁿ − ā_ξ)(εₖⁿ − ε̄ₖ)| for each column w_ξ of W (F × n_candidates); E = residuals (N, K).
    (spec: REG-CASCADE-CORR)"""
    f, _ = _ACTS[activation]
    A = f(Phi @ W)
    corr = _center(A).T @ _center(E)  # (C, K)
    return np.abs(corr).sum(axis=1)


def candidate_grad(W: np.ndarray, Phi: np.ndarray, E: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """∂C_ξ/∂w_ξ = Φᵀ[f′(s_ξ) ⊙ Σₖσₖ(εₖ − ε̄ₖ)] for each candidate column (F × n_candidates), σₖ = sign of
    the correlation with output k (erratum N11).  (spec: REG-CASCADE-CORR)"""
    f, fp = _ACTS[activation]
    S = Phi @ W
    A = f(S)
    Ec = _center(E)
    sig = np.sign(_center(A).T @ Ec)  # (C, K)
    return Phi.T @ (fp(S, A) * (Ec @ sig.T))


class CascadeCorrelation:
    """``CascadeCorrelation(n_in, n_out, output='linear'|'sigmoid', candidates=8, max_hidden=50)``.

    ``fit(X, Y)`` grows the network; ``predict(X)`` gives the outputs (N, n_out); ``hidden_weights`` holds
    the frozen input weights of the installed units (unit m has F = n_in + 1 + m weights: inputs, bias,
    earlier units).  Candidate training: ``candidate_steps`` full-batch ascent steps of size
    ``candidate_lr`` (default 0.5/N), stopped early when C improves by less than ``stall`` (relative) over
    ``patience`` steps.  Stopping: training MSE ≤ ``error_tol`` or accuracy ≥ ``target_accuracy``
    (targets 0/1: one output thresholded at ½, several outputs by argmax).  (spec: REG-CASCADE-CORR)
    """

    def __init__(self, n_in: int, n_out: int, output: str = "linear", candidates: int = 8, max_hidden: int = 50,
                 activation: str = "tanh", candidate_steps: int = 400, candidate_lr: float | None = None,
                 init_range: float = 1.0, stall: float = 0.0, patience: int = 50, output_ridge: float = 1e-10,
                 generator: Generator | None = None):
        if output not in ("linear", "sigmoid"):
            raise ValueError(f"output must be 'linear' or 'sigmoid', got {output!r}")
        if activation not in _ACTS:
            raise ValueError(f"activation must be one of {sorted(_ACTS)}, got {activation!r}")
        if candidates < 1 or max_hidden < 0:
            raise ValueError(f"need candidates >= 1 and max_hidden >= 0, got {candidates}, {max_hidden}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.output, self.activation = output, activation
        self.candidates, self.max_hidden = int(candidates), int(max_hidden)
        self.candidate_steps, self.candidate_lr = int(candidate_steps), candidate_lr
        self.init_range, self.stall, self.patience = float(init_range), float(stall), int(patience)
        self.output_ridge = float(output_ridge)
        self.generator = generator
        self.hidden_weights: list[np.ndarray] = []
        self.output_weights = np.zeros((self.n_in + 1, self.n_out))
        self.history: list[dict] = []

    # ----------------------------------------------------------------- forward
    @property
    def n_hidden(self) -> int:
        return len(self.hidden_weights)

    def features(self, X) -> np.ndarray:
        """Φ = [X, 1, h₁, …, h_m] (N × (n_in + 1 + m))."""
        X = np.asarray(X.data if isinstance(X, Tensor) else X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"CascadeCorrelation expects X of shape (N, {self.n_in}), got {X.shape}")
        f, _ = _ACTS[self.activation]
        Phi = np.empty((X.shape[0], self.n_in + 1 + self.n_hidden))
        Phi[:, :self.n_in] = X
        Phi[:, self.n_in] = 1.0
        for m, w in enumerate(self.hidden_weights):
            F = self.n_in + 1 + m
            Phi[:, F] = f(Phi[:, :F] @ w)
        return Phi

    def _out(self, Phi: np.ndarray) -> np.ndarray:
        z = Phi @ self.output_weights
        return _sp.expit(z) if self.output == "sigmoid" else z

    def predict(self, X) -> np.ndarray:
        return self._out(self.features(X))

    def __call__(self, X) -> Tensor:
        return Tensor._wrap(self.predict(X))

    # ----------------------------------------------------------------- training
    def _fit_outputs(self, Phi: np.ndarray, Y: np.ndarray) -> None:
        F = Phi.shape[1]
        if self.output == "linear":
            A = Phi.T @ Phi + self.output_ridge * np.eye(F)
            self.output_weights = np.linalg.solve(A, Phi.T @ Y)
            return
        V0 = np.zeros((F, self.n_out))
        V0[: self.output_weights.shape[0]] = self.output_weights

        def fg(v):
            V = v.reshape(F, self.n_out)
            P = _sp.expit(Phi @ V)
            R = P - Y
            return 0.5 * float((R * R).sum()), (Phi.T @ (R * P * (1 - P))).ravel()

        res = _opt.minimize(fg, V0.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": 500})
        self.output_weights = res.x.reshape(F, self.n_out)

    def _train_candidates(self, Phi: np.ndarray, E: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        F = Phi.shape[1]
        W = rng.uniform(-self.init_range, self.init_range, size=(F, self.candidates))
        lr = self.candidate_lr if self.candidate_lr is not None else 0.5 / Phi.shape[0]
        best = candidate_score(W, Phi, E, self.activation)
        last_check, last_val = 0, best.max()
        for t in range(1, self.candidate_steps + 1):
            W = W + lr * candidate_grad(W, Phi, E, self.activation)
            if self.stall > 0 and t - last_check >= self.patience:
                cur = candidate_score(W, Phi, E, self.activation).max()
                if cur - last_val <= self.stall * abs(last_val):
                    break
                last_check, last_val = t, cur
        C = candidate_score(W, Phi, E, self.activation)
        k = int(np.argmax(C))
        return W[:, k].copy(), float(C[k])

    def _accuracy(self, P: np.ndarray, Y: np.ndarray) -> float:
        if self.n_out == 1:
            return float(((P[:, 0] > 0.5) == (Y[:, 0] > 0.5)).mean())
        return float((P.argmax(1) == Y.argmax(1)).mean())

    def fit(self, X, Y, error_tol: float | None = None, target_accuracy: float | None = None,
            progress: bool = False) -> CascadeCorrelation:
        """Grow the network on (X (N, n_in), Y (N, n_out) or (N,)).  Returns self."""
        Y = np.asarray(Y.data if isinstance(Y, Tensor) else Y, dtype=np.float64)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.shape[1] != self.n_out:
            raise ValueError(f"Y has {Y.shape[1]} columns but the network has n_out={self.n_out}")
        rng = _gen(self.generator).rng
        Phi = self.features(X)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=self.max_hidden, desc="cascade-correlation units")
        while True:
            self._fit_outputs(Phi, Y)
            P = self._out(Phi)
            mse = float(((P - Y) ** 2).mean())
            acc = self._accuracy(P, Y)
            self.history.append({"hidden": self.n_hidden, "mse": mse, "accuracy": acc})
            if bar is not None:
                bar.set_postfix(mse=f"{mse:.4g}", acc=f"{acc:.3f}")
            done = (error_tol is not None and mse <= error_tol) or \
                   (target_accuracy is not None and acc >= target_accuracy)
            if done or self.n_hidden >= self.max_hidden:
                break
            E = P - Y
            w, C = self._train_candidates(Phi, E, rng)
            self.history[-1]["candidate_score"] = C
            f, _ = _ACTS[self.activation]
            self.hidden_weights.append(w)  # frozen from now on
            Phi = np.concatenate([Phi, f(Phi @ w)[:, None]], axis=1)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return self


def two_spirals(n_per_class: int = 97, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Lang & Witbrock's two-spirals benchmark: for i = 0…96, φ = iπ/16, r = 6.5(104 − i)/104, the point
    (r cos φ, r sin φ) is class 1 and its negation class 0 (194 points).  (spec: REG-CASCADE-CORR)"""
    i = np.arange(n_per_class, dtype=np.float64)
    phi = i * np.pi / 16
    r = 6.5 * (104 - i) / 104
    p = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
    X = np.concatenate([p, -p]).astype(dtype)
    y = np.concatenate([np.ones(n_per_class), np.zeros(n_per_class)]).astype(dtype)
    return X, y
