"""Restricted Boltzmann machine with binary visible units, trained by contrastive divergence.

(spec: RBM)  v ∈ {0,1}^V, h ∈ {0,1}^H; W (H, V) (the library's (out, in): hidden × visible), visible bias
a (V,), hidden bias b (H,)::

    E(v, h) = −aᵀv − bᵀh − hᵀWv,      p(v, h) = e^{−E(v,h)}/Z
    p(h_j = 1 | v) = σ(b_j + W_j·v),  p(v_i = 1 | h) = σ(a_i + (Wᵀh)_i)      batch: P_h = σ(VWᵀ + b), P_v = σ(HW + a)
    F(v) = −aᵀv − Σ_j softplus(b_j + W_j·v),    p(v) = e^{−F(v)}/Z  (free energy)
    ∂ log p(v)/∂W = E_data[h vᵀ] − E_model[h vᵀ]

CD-k on a minibatch V0 (N, V) (hand-written update, no autodiff):

1. P_h0 = σ(V0 Wᵀ + b), H0 ~ Bernoulli(P_h0)
2. P_v1 = σ(H0 W + a); V1 = P_v1 (``sample_visible=True``: V1 ~ Bernoulli(P_v1))
3. P_h1 = σ(V1 Wᵀ + b); for k > 1 sample H1 ~ Bernoulli(P_h1) and repeat 2–3 (k Gibbs steps)
4. ΔW = (P_h0ᵀ V0 − P_hkᵀ Vk)/N, Δa = mean(V0 − Vk), Δb = mean(P_h0 − P_hk); W += η ΔW (ascent)

Random numbers come from a :class:`chainrule.Generator`, drawn in this order per Gibbs step: U_h
(N, H) for the hidden sample, then U_v (N, V) if visible units are sampled; samples are 𝟙[U < P].
**Persistent CD** (``persistent=True``, Tieleman 2008): the negative phase starts from a persistent chain
of "fantasy particles" (visible units sampled) that is advanced k steps per update instead of
restarting at the data.  ``hidden='gaussian'`` gives linear hidden units with unit-variance Gaussian
noise (h = b + Wv + ε; F(v) = −aᵀv − ½‖b + Wv‖²), the code layer of the deep-autoencoder recipe.
Defaults (library, not source): η = 0.1, W ~ N(0, 0.01²), a = b = 0, k = 1.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import special as _sp

from .. import nn, ops
from ..backend import Generator, _gen, get_default_dtype
from ..ops._base import _plain, as_tensor
from ..tensor import Tensor

__all__ = ["BernoulliRBM"]


def _arr(x, dtype) -> np.ndarray:
    a = np.asarray(_plain(x))
    return a.astype(dtype, copy=False)


class BernoulliRBM(nn.Module):
    """Binary RBM trained by CD-k or persistent CD (sklearn-style API).  (spec: RBM, NEURON-STOCHASTIC-BINARY)

    ``BernoulliRBM(n_components=256, learning_rate=0.1, batch_size=10, n_iter=10, k=1,
    persistent=False, sample_visible=False, momentum=0.0, weight_decay=0.0, hidden='bernoulli',
    n_features=None, init_std=0.01, n_chains=None, dtype=None, generator=None, verbose=False)``.

    Parameters (also as sklearn attributes): ``weight`` W (H, V) = ``components_``, ``hidden_bias`` b
    = ``intercept_hidden_``, ``visible_bias`` a = ``intercept_visible_``.  ``momentum`` μ and
    ``weight_decay`` λ give the update velocity ← μ·velocity + η(ΔW − λW) (the bias updates are not
    decayed).  Methods: ``fit``, ``partial_fit``, ``transform`` (= P_h), ``gibbs``, ``free_energy``,
    ``reconstruct``, ``reconstruction_error``, ``contrastive_divergence``, ``sample``,
    ``log_partition`` / ``log_likelihood`` (exact, by enumerating 2^min(V, H) states; small models).
    """

    def __init__(self, n_components: int = 256, learning_rate: float = 0.1, batch_size: int = 10,
                 n_iter: int = 10, k: int = 1, persistent: bool = False, sample_visible: bool = False,
                 momentum: float = 0.0, weight_decay: float = 0.0, hidden: str = "bernoulli",
                 n_features: int | None = None, init_std: float = 0.01, n_chains: int | None = None,
                 dtype=None, generator: Generator | None = None, verbose: bool = False):
        super().__init__()
        if int(n_components) != n_components or n_components < 1:
            raise ValueError(f"n_components (number of hidden units) must be a positive integer, got {n_components}")
        if int(k) != k or k < 1:
            raise ValueError(f"k (Gibbs steps per update) must be a positive integer, got {k}")
        if hidden not in ("bernoulli", "gaussian"):
            raise ValueError(f"hidden must be 'bernoulli' or 'gaussian', got {hidden!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.n_components = int(n_components)
        self.learning_rate, self.batch_size, self.n_iter = float(learning_rate), int(batch_size), int(n_iter)
        self.k, self.persistent, self.sample_visible = int(k), bool(persistent), bool(sample_visible)
        self.momentum, self.weight_decay, self.hidden = float(momentum), float(weight_decay), hidden
        self.init_std, self.n_chains, self.verbose = float(init_std), n_chains, verbose
        self._dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.generator = _gen(generator) if generator is not None else Generator(0)
        self.history_: list[dict] = []
        self._chain: np.ndarray | None = None
        self._velocity: dict | None = None
        self.n_features = None
        if n_features is not None:
            self._build(int(n_features))

    # ------------------------------------------------------------------ parameters
    def _build(self, V: int) -> None:
        H, dt = self.n_components, self._dtype
        self.n_features = V
        self.weight = nn.Parameter(self.generator.rng.standard_normal((H, V)).astype(dt) * dt.type(self.init_std))
        self.visible_bias = nn.Parameter(np.zeros(V, dtype=dt))
        self.hidden_bias = nn.Parameter(np.zeros(H, dtype=dt))
        self._chain = None
        self._velocity = None

    def _need(self, X) -> np.ndarray:
        X = _arr(X, self._dtype)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2:
            raise ValueError(f"BernoulliRBM: expected data of shape (N, V), got {X.shape}; flatten images first "
                             "(e.g. X.reshape(len(X), -1))")
        if self.n_features is None:
            self._build(X.shape[1])
        if X.shape[1] != self.n_features:
            raise ValueError(f"BernoulliRBM: data has {X.shape[1]} features but the model has n_features = "
                             f"{self.n_features} visible units")
        return X

    @property
    def components_(self) -> np.ndarray:
        return self.weight.data

    @property
    def intercept_hidden_(self) -> np.ndarray:
        return self.hidden_bias.data

    @property
    def intercept_visible_(self) -> np.ndarray:
        return self.visible_bias.data

    # ------------------------------------------------------------------ conditionals
    def hidden_activation(self, V) -> np.ndarray:
        """b + V Wᵀ (N, H)."""
        V = self._need(V)
        return V @ self.weight.data.T + self.hidden_bias.data

    def hidden_probs(self, V) -> np.ndarray:
        """P_h = σ(V Wᵀ + b) (Gaussian hidden units: their mean b + V Wᵀ)."""
        a = self.hidden_activation(V)
        return a if self.hidden == "gaussian" else _sp.expit(a)

    def visible_probs(self, Hs) -> np.ndarray:
        """P_v = σ(H W + a)."""
        Hs = _arr(Hs, self._dtype)
        return _sp.expit(Hs @ self.weight.data + self.visible_bias.data)

    def _sample_h(self, Ph: np.ndarray, gen: Generator) -> np.ndarray:
        if self.hidden == "gaussian":
            return Ph + gen.rng.standard_normal(Ph.shape).astype(Ph.dtype)
        return (gen.rng.random(Ph.shape) < Ph).astype(Ph.dtype)

    @staticmethod
    def _sample_v(Pv: np.ndarray, gen: Generator) -> np.ndarray:
        return (gen.rng.random(Pv.shape) < Pv).astype(Pv.dtype)

    def transform(self, X) -> np.ndarray:
        """Hidden-unit probabilities P(h = 1 | v) (the learned features)."""
        return self.hidden_probs(X)

    def gibbs(self, V, steps: int = 1, generator: Generator | None = None) -> np.ndarray:
        """``steps`` full Gibbs steps v → h ~ p(h|v) → v ~ p(v|h); returns the sampled visible units."""
        V = self._need(V)
        g = self.generator if generator is None else generator
        for _ in range(int(steps)):
            Hs = self._sample_h(self.hidden_probs(V), g)
            V = self._sample_v(self.visible_probs(Hs), g)
        return V

    def sample(self, n_samples: int = 16, n_steps: int = 1000, V_init=None,
               generator: Generator | None = None) -> np.ndarray:
        """Run Gibbs chains for ``n_steps`` from ``V_init`` (default: uniform random bits); return the
        visible probabilities P(v | h) of the last step (smoother to display than the bits)."""
        g = self.generator if generator is None else generator
        if self.n_features is None:
            raise RuntimeError("BernoulliRBM.sample: the model has no visible units yet; fit it first")
        if V_init is None:
            V = (g.rng.random((n_samples, self.n_features)) < 0.5).astype(self._dtype)
        else:
            V = self._need(V_init).copy()
        Hs = None
        for _ in range(int(n_steps)):
            Hs = self._sample_h(self.hidden_probs(V), g)
            V = self._sample_v(self.visible_probs(Hs), g)
        return self.visible_probs(Hs) if Hs is not None else V

    # ------------------------------------------------------------------ energies
    def free_energy(self, V) -> Tensor:
        """F(v) = −aᵀv − Σ_j softplus(b_j + W_j·v) per row (N,), differentiable in the parameters
        (Gaussian hidden units: −aᵀv − ½‖b + Wv‖²)."""
        X = as_tensor(self._need(V))
        pre = ops.linear(X, self.weight, self.hidden_bias)
        vis = ops.sum(X * self.visible_bias, -1)
        if self.hidden == "gaussian":
            return -vis - 0.5 * ops.sum(pre * pre, -1)
        return -vis - ops.sum(ops.softplus(pre), -1)

    def _free_energy_np(self, V: np.ndarray) -> np.ndarray:
        pre = V @ self.weight.data.T + self.hidden_bias.data
        if self.hidden == "gaussian":
            return -(V @ self.visible_bias.data) - 0.5 * np.sum(pre * pre, -1)
        return -(V @ self.visible_bias.data) - np.sum(np.logaddexp(0, pre), -1)

    def energy(self, V, Hs) -> np.ndarray:
        """E(v, h) = −aᵀv − bᵀh − hᵀWv per row."""
        V, Hs = _arr(V, np.float64), _arr(Hs, np.float64)
        W, a, b = (self.weight.data.astype(np.float64), self.visible_bias.data.astype(np.float64),
                   self.hidden_bias.data.astype(np.float64))
        return -(V @ a) - (Hs @ b) - np.sum((Hs @ W) * V, -1)

    def log_partition(self, max_bits: int = 22) -> float:
        """log Z, exactly, by summing over all states of the smaller layer (≤ ``max_bits`` units)."""
        if self.hidden != "bernoulli":
            raise NotImplementedError("log_partition is implemented for binary hidden units")
        if self.n_features is None:
            raise RuntimeError("BernoulliRBM.log_partition: fit the model first")
        V, H = self.n_features, self.n_components
        W = self.weight.data.astype(np.float64)
        a, b = self.visible_bias.data.astype(np.float64), self.hidden_bias.data.astype(np.float64)
        n = min(V, H)
        if n > max_bits:
            raise ValueError(f"log_partition enumerates 2^{n} states; that is too many (max_bits={max_bits}). "
                             "Use it on small RBMs only.")
        states = np.array(list(itertools.product([0.0, 1.0], repeat=n)))
        if H <= V:   # Σ_h e^{bᵀh} Π_i (1 + e^{a_i + (Wᵀh)_i})
            terms = states @ b + np.sum(np.logaddexp(0, states @ W + a), -1)
        else:        # Σ_v e^{−F(v)}
            terms = states @ a + np.sum(np.logaddexp(0, states @ W.T + b), -1)
        return float(_sp.logsumexp(terms))

    def log_likelihood(self, V, log_z: float | None = None) -> float:
        """Mean exact log p(v) = −F(v) − log Z over the rows of V (small models)."""
        V = self._need(V).astype(np.float64)
        lz = self.log_partition() if log_z is None else log_z
        W = self.weight.data.astype(np.float64)
        pre = V @ W.T + self.hidden_bias.data.astype(np.float64)
        F = -(V @ self.visible_bias.data.astype(np.float64)) - np.sum(np.logaddexp(0, pre), -1)
        return float(np.mean(-F - lz))

    def reconstruct(self, V) -> np.ndarray:
        """Mean-field reconstruction P(v | h = P_h(v)) = σ(σ(V Wᵀ + b) W + a)."""
        return self.visible_probs(self.hidden_probs(V))

    def reconstruction_error(self, V) -> float:
        """Mean squared error between V and its mean-field reconstruction (per entry)."""
        V = self._need(V)
        R = self.reconstruct(V)
        return float(np.mean((V - R) ** 2))

    # ------------------------------------------------------------------ learning
    def contrastive_divergence(self, V0, k: int | None = None, generator: Generator | None = None) -> dict:
        """CD-k (or PCD-k) gradient estimates of the mean log-likelihood for the batch V0 (N, V):
        ``{'W': ΔW, 'a': Δa, 'b': Δb, 'V_neg': V_k, 'Ph_neg': P_hk}`` (ascent directions; see module doc)."""
        V0 = self._need(V0)
        k = self.k if k is None else int(k)
        g = self.generator if generator is None else generator
        N = V0.shape[0]
        Ph0 = self.hidden_probs(V0)
        if self.persistent:
            if self._chain is None:
                nc = self.n_chains or N
                idx = g.rng.integers(0, N, size=nc)
                self._chain = self._sample_v(np.clip(V0[idx], 0, 1), g)
            V = self._chain
            Ph = self.hidden_probs(V)
            for _ in range(k):
                Hs = self._sample_h(Ph, g)
                V = self._sample_v(self.visible_probs(Hs), g)
                Ph = self.hidden_probs(V)
            self._chain = V
        else:
            Hs = self._sample_h(Ph0, g)
            for step in range(k):
                Pv = self.visible_probs(Hs)
                V = self._sample_v(Pv, g) if self.sample_visible else Pv
                Ph = self.hidden_probs(V)
                if step < k - 1:
                    Hs = self._sample_h(Ph, g)
        Nn = V.shape[0]
        dW = Ph0.T @ V0 / N - Ph.T @ V / Nn
        da = V0.mean(axis=0) - V.mean(axis=0)
        db = Ph0.mean(axis=0) - Ph.mean(axis=0)
        return {"W": dW, "a": da, "b": db, "V_neg": V, "Ph_neg": Ph}

    def partial_fit(self, X, generator: Generator | None = None) -> BernoulliRBM:
        """One CD/PCD update on the batch X: θ ← θ + velocity, velocity ← μ·velocity + η(Δθ − λθ)
        (λ on W only)."""
        grads = self.contrastive_divergence(X, generator=generator)
        lr, mu, wd = self.learning_rate, self.momentum, self.weight_decay
        if self._velocity is None:
            self._velocity = {k: np.zeros_like(p.data) for k, p in
                              (("W", self.weight), ("a", self.visible_bias), ("b", self.hidden_bias))}
        for key, p in (("W", self.weight), ("a", self.visible_bias), ("b", self.hidden_bias)):
            step = grads[key] - wd * p.data if (key == "W" and wd) else grads[key]
            vel = self._velocity[key]
            vel *= mu
            vel += (lr * step).astype(vel.dtype, copy=False)
            p.data += vel
            p._version += 1
        return self

    def fit(self, X, y=None, epochs: int | None = None, callback=None) -> BernoulliRBM:
        """``n_iter`` (or ``epochs``) passes over X in shuffled minibatches of ``batch_size``; records
        ``history_`` (per epoch: reconstruction error on X, or on a 5000-row subset for large X)."""
        X = self._need(X)
        n = X.shape[0]
        epochs = self.n_iter if epochs is None else int(epochs)
        bs = max(1, min(self.batch_size, n))
        g = self.generator
        it = range(epochs)
        if self.verbose:
            from tqdm import tqdm
            it = tqdm(it, desc="RBM", unit="epoch")
        probe = X if n <= 5000 else X[g.rng.choice(n, 5000, replace=False)]
        for ep in it:
            perm = g.rng.permutation(n)
            for s in range(0, n, bs):
                self.partial_fit(X[perm[s:s + bs]])
            rec = self.reconstruction_error(probe)
            self.history_.append({"epoch": ep + 1, "reconstruction_error": rec})
            if self.verbose:
                it.set_postfix(recon=f"{rec:.4f}")
            if callback is not None:
                callback(self, ep)
        return self

    def forward(self, V) -> Tensor:
        """P(h = 1 | v) as a differentiable tensor: σ(V Wᵀ + b) (mean for Gaussian hidden units)."""
        X = as_tensor(V)
        pre = ops.linear(X, self.weight, self.hidden_bias)
        return pre if self.hidden == "gaussian" else ops.sigmoid(pre)

    def extra_repr(self) -> str:
        v = "?" if self.n_features is None else self.n_features
        s = f"n_features={v}, n_components={self.n_components}, k={self.k}"
        if self.persistent:
            s += ", persistent=True"
        if self.hidden != "bernoulli":
            s += f", hidden={self.hidden!r}"
        return s

