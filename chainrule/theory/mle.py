"""The maximum-likelihood recipe: pick a distribution for y, let a model predict its parameter
through a link, minimise the negative log-likelihood.  (spec: LOSS-MLE-RECIPE, LOSS-MLE-KL)

| y domain | distribution | link θ = link⁻¹(η) | loss (``nn.functional``) |
|---|---|---|---|
| ℝ | Gaussian, σ fixed | μ = η | ``mse_loss`` (= 2σ²·NLL/N − const) |
| {0, 1} | Bernoulli | λ = σ(η) | ``binary_cross_entropy_with_logits`` |
| {0..K−1} | categorical | a = softmax(η) | ``cross_entropy`` |
| {0, 1, 2, …} | Poisson | λ = exp(η) | ``poisson_nll_loss(log_input=True)`` |

Training a linear predictor η = XWᵀ + b with each loss on data sampled from the model recovers the
generating (W, b) (up to the softmax gauge: only differences between class rows are identified),
and a constant model recovers the closed-form MLE: the mean, the fraction of ones, the class
frequencies, log of the mean count.  MLE ≡ least squares only for Gaussian noise of constant variance.
"""

from __future__ import annotations

import numpy as np
from scipy import special as _sp

from .. import nn, optim
from ..tensor import Tensor, no_grad

FAMILIES = ("gaussian", "bernoulli", "categorical", "poisson")


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")


def family_loss(family: str, eta: Tensor, y) -> Tensor:
    """Mean negative log-likelihood (up to θ-free constants and, for the Gaussian, the factor 1/(2σ²))
    of targets ``y`` given the linear predictor ``eta`` (N, K), via the library loss of the family."""
    _check_family(family)
    F = nn.functional
    if family == "gaussian":
        return F.mse_loss(eta, Tensor(np.asarray(y, dtype=eta.dtype).reshape(eta.shape)))
    if family == "bernoulli":
        return F.binary_cross_entropy_with_logits(eta, Tensor(np.asarray(y, dtype=eta.dtype).reshape(eta.shape)))
    if family == "categorical":
        return F.cross_entropy(eta, np.asarray(y, dtype=np.int64))
    return F.poisson_nll_loss(eta, Tensor(np.asarray(y, dtype=eta.dtype).reshape(eta.shape)), log_input=True)


def negative_log_likelihood(family: str, eta, y, sigma: float = 1.0) -> float:
    """Exact mean −log p(y | θ = link⁻¹(η)) coded independently of the losses (NumPy/SciPy),
    including all constants (2πσ², log y!)."""
    _check_family(family)
    eta = np.asarray(eta, dtype=np.float64)
    y = np.asarray(y)
    if family == "gaussian":
        mu = eta.reshape(y.shape)
        return float(np.mean((y - mu) ** 2 / (2 * sigma**2) + 0.5 * np.log(2 * np.pi * sigma**2)))
    if family == "bernoulli":
        lam = _sp.expit(eta.reshape(y.shape))
        return float(-np.mean(y * np.log(lam) + (1 - y) * np.log1p(-lam)))
    if family == "categorical":
        logp = eta - _sp.logsumexp(eta, axis=1, keepdims=True)
        return float(-np.mean(logp[np.arange(len(y)), y.astype(int)]))
    lam = np.exp(eta.reshape(y.shape))
    return float(np.mean(lam - y * np.log(lam) + _sp.gammaln(y + 1.0)))


def sample_glm(family: str, W, b, n: int, seed: int | None = 0, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """X ~ N(0, I) (n, D); η = XWᵀ + b; y drawn from the family with θ = link⁻¹(η).
    ``W`` is (K, D) (K = 1 except for 'categorical')."""
    _check_family(family)
    rng = np.random.default_rng(seed)
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    X = rng.standard_normal((n, W.shape[1]))
    eta = X @ W.T + b
    if family == "gaussian":
        y = eta[:, 0] + sigma * rng.standard_normal(n)
    elif family == "bernoulli":
        y = (rng.random(n) < _sp.expit(eta[:, 0])).astype(np.float64)
    elif family == "categorical":
        P = _sp.softmax(eta, axis=1)
        y = (rng.random((n, 1)) > np.cumsum(P, axis=1)).sum(axis=1)
    else:
        y = rng.poisson(np.exp(eta[:, 0])).astype(np.float64)
    return X, y


def fit_glm(family: str, X, y, n_outputs: int | None = None, steps: int = 1500, lr: float = 0.05,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit the linear predictor η = XWᵀ + b by full-batch Adam on :func:`family_loss`; returns
    (W, b, loss history).  For 'categorical' the gauge is fixed afterwards by subtracting row 0 (class 0
    is the reference)."""
    _check_family(family)
    X = np.asarray(X, dtype=np.float64)
    K = n_outputs or (int(np.max(y)) + 1 if family == "categorical" else 1)
    from ..backend import Generator
    lin = nn.Linear(X.shape[1], K, dtype=np.float64, generator=Generator(seed))
    with no_grad():
        lin.weight.data[...] = 0.0
        lin.bias.data[...] = 0.0
    opt = optim.Adam(lin.parameters(), lr=lr)
    Xt = Tensor(X)
    hist = []
    for _ in range(steps):
        opt.zero_grad()
        loss = family_loss(family, lin(Xt), y)
        loss.backward()
        opt.step()
        hist.append(loss.item())
    W, b = lin.weight.data.copy(), lin.bias.data.copy()
    if family == "categorical":
        W, b = W - W[0], b - b[0]
    return W, b, np.asarray(hist)


def fit_constant(family: str, y, steps: int = 2000, lr: float = 0.05) -> np.ndarray:
    """Train a constant model (η = b, no input) with the family's loss; returns θ = link⁻¹(b): the
    mean, the fraction of ones, the class frequencies or the mean count (the closed-form MLEs)."""
    y = np.asarray(y)
    K = int(np.max(y)) + 1 if family == "categorical" else 1
    _, b, _ = fit_glm(family, np.zeros((len(y), 1)), y, n_outputs=K, steps=steps, lr=lr)
    if family == "gaussian":
        return b
    if family == "bernoulli":
        return _sp.expit(b)
    if family == "categorical":
        return _sp.softmax(b)
    return np.exp(b)
