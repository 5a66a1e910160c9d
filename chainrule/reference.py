"""Hand-written backpropagation in plain NumPy: oracles that the autodiff engine is tested against.

Nothing here uses :class:`chainrule.Tensor`; every derivative is written out by hand, in float64.

- :func:`mlp_forward`, :func:`backprop_mlp` — the batched backward pass of a layered MLP
  (spec: MLP-BACKPROP, BACKPROP-REFERENCE):
  Δ_L = ∂R/∂S_L (incl. 1/N),  Δ_{l−1} = (Δ_l W_l) ⊙ f'(S_{l−1}),  ∇W_l = Δ_lᵀ A_{l−1},  ∇b_l = Σ_rows Δ_l.
- :func:`backprop_mlp_per_sample` — the same, one example at a time with column vectors, in the
  tutorial's four equations (spec: MLP-BACKPROP-4EQ):
  BP1 δ^L = ∇_a J ⊙ g'(z^L),  BP2 δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ g'(z^l),  BP3 ∂J/∂b^l = δ^l,
  BP4 ∂J/∂W^l = δ^l (a^{l−1})ᵀ.
- :func:`output_delta` — δ_L for a loss/output pair; for the matched pairs (½‖a − y‖² + identity,
  BCE + sigmoid, CE + softmax) δ = a − y (spec: MLP-OUTPUT-DELTA, LOSS-OUTPUT-DELTA).  Softmax with
  another loss uses the Jacobian: δ = a ⊙ (g − (aᵀg)1), g = ∂L/∂a (erratum E9: f'·∂L/∂a is wrong there).
- :class:`UnitGraphNet` — a net over enumerated units with any feed-forward connectivity mask,
  shortcuts allowed (spec: MLP-UNIT-GRAPH, Alg. 4.1/4.2).
- :func:`layer_jacobian`, :func:`input_output_jacobian`, :func:`softmax_jacobian` — the three
  Jacobians of the notes (spec: AD-JACOBIAN-LAYER, AD-JACOBIAN-IO, AD-SOFTMAX-JACOBIAN).

Derivatives of sigmoid and tanh are taken from the saved outputs: σ' = a(1 − a), tanh' = 1 − a²
(spec: MLP-SIGMOID-DERIV); ReLU' is the mask 1[s > 0] (0 at 0).
Conventions: W_l has shape (n_l, n_{l−1}) = (out, in), a batch is X (N, D), S_l = A_{l−1} W_lᵀ + b_l.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "ACTIVATIONS", "LOSSES", "sigmoid", "softmax", "activate", "activation_grad", "mlp_forward",
    "loss_value", "loss_grad", "output_delta", "backprop_mlp", "backprop_mlp_per_sample",
    "UnitGraphNet", "layer_jacobian", "input_output_jacobian", "softmax_jacobian",
]

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "softmax")
LOSSES = ("half_sse", "sse", "bce", "ce")


def sigmoid(s: np.ndarray) -> np.ndarray:
    """σ(s) = 1/(1 + e^{−s}), evaluated without overflow for large |s|."""
    s = np.asarray(s, dtype=np.float64)
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(s: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed on s − max s (spec: MLP-SOFTMAX)."""
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def activate(name: str, s: np.ndarray) -> np.ndarray:
    if name == "identity":
        return s.copy()
    if name == "sigmoid":
        return sigmoid(s)
    if name == "tanh":
        return np.tanh(s)
    if name == "relu":
        return np.maximum(s, 0.0)
    if name == "softmax":
        return softmax(s)
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")


def activation_grad(name: str, s: np.ndarray, a: np.ndarray) -> np.ndarray:
    """f'(s) for an element-wise activation, from the saved output a where possible."""
    if name == "identity":
        return np.ones_like(s)
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return (s > 0).astype(s.dtype)
    raise ValueError(f"activation_grad: {name!r} is not element-wise (softmax needs its Jacobian)")


def mlp_forward(X, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                activations: Sequence[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Forward pass storing pre-activations S_l and activations A_l (A_0 = X).  (spec: MLP-FORWARD)

    ``activations[l]`` is applied after layer l (the last one is the output activation).
    """
    if not (len(weights) == len(biases) == len(activations)):
        raise ValueError(f"need one weight, bias and activation per layer; got {len(weights)} weights, "
                         f"{len(biases)} biases and {len(activations)} activations")
    A = [np.asarray(X, dtype=np.float64)]
    S: list[np.ndarray] = []
    for W, b, f in zip(weights, biases, activations):
        if W.shape[1] != A[-1].shape[-1]:
            raise ValueError(f"layer {len(S) + 1}: W has shape {W.shape} = (out, in) but its input has "
                             f"{A[-1].shape[-1]} features")
        s = A[-1] @ W.T + b
        S.append(s)
        A.append(activate(f, s))
    return S, A


def loss_value(loss: str, A, Y) -> np.ndarray:
    """Per-sample loss ℓ_n (summed over the outputs) for an output batch A and targets Y."""
    if loss == "half_sse":
        return 0.5 * ((A - Y) ** 2).sum(axis=-1)
    if loss == "sse":
        return ((A - Y) ** 2).sum(axis=-1)
    if loss == "bce":
        return -(Y * np.log(A) + (1 - Y) * np.log(1 - A)).sum(axis=-1)
    if loss == "ce":
        return -(Y * np.log(A)).sum(axis=-1)
    raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")


def loss_grad(loss: str, A, Y) -> np.ndarray:
    """∂ℓ/∂a for each output unit."""
    if loss == "half_sse":
        return A - Y
    if loss == "sse":
        return 2.0 * (A - Y)
    if loss == "bce":
        return (A - Y) / (A * (1 - A))
    if loss == "ce":
        return -Y / A
    raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")


_MATCHED = {("half_sse", "identity"), ("bce", "sigmoid"), ("ce", "softmax")}


def output_delta(loss: str, activation: str, S, A, Y, fused: bool = True) -> np.ndarray:
    """δ_L = ∂ℓ/∂s at the output.  (spec: MLP-OUTPUT-DELTA, LOSS-OUTPUT-DELTA)

    Matched pairs give δ = a − y (``fused=True`` uses that directly; CE + softmax needs Σ_k y_k = 1).
    Otherwise: element-wise output δ = (∂ℓ/∂a) ⊙ f'(s); softmax output δ = a ⊙ (g − (aᵀg)1).
    """
    if fused and (loss, activation) in _MATCHED:
        return A - Y
    g = loss_grad(loss, A, Y)
    if activation == "softmax":
        return A * (g - (A * g).sum(axis=-1, keepdims=True))
    return g * activation_grad(activation, S, A)


def _scale(reduction: str, n: int) -> float:
    if reduction == "mean":
        return 1.0 / n
    if reduction == "sum":
        return 1.0
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def backprop_mlp(X, Y, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], activations: Sequence[str],
                 loss: str = "half_sse", reduction: str = "mean", fused: bool = True) -> dict:
    """Batched backpropagation (rows are samples).  (spec: MLP-BACKPROP, BACKPROP-REFERENCE)

    R = (1/N)Σ_n ℓ_n (``'mean'``) or Σ_n ℓ_n (``'sum'``).  Returns a dict with ``loss`` (R), ``grad_W``
    and ``grad_b`` (lists, shapes of W_l and b_l), ``deltas`` (Δ_l = ∂R/∂S_l, incl. the 1/N) and the
    forward values ``S``, ``A``.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    S, A = mlp_forward(X, weights, biases, activations)
    N = X.shape[0] if X.ndim == 2 else 1
    c = _scale(reduction, N)
    L = len(weights)
    deltas: list[np.ndarray] = [None] * L  # type: ignore[list-item]
    deltas[L - 1] = c * output_delta(loss, activations[-1], S[-1], A[-1], Y, fused)
    for l in range(L - 1, 0, -1):  # Δ_{l−1} = (Δ_l W_l) ⊙ f'(S_{l−1})
        deltas[l - 1] = (deltas[l] @ weights[l]) * activation_grad(activations[l - 1], S[l - 1], A[l])
    grad_W = [np.atleast_2d(deltas[l]).T @ np.atleast_2d(A[l]) for l in range(L)]
    grad_b = [np.atleast_2d(deltas[l]).sum(axis=0) for l in range(L)]
    return {"loss": float(c * loss_value(loss, A[-1], Y).sum()), "grad_W": grad_W, "grad_b": grad_b,
            "deltas": deltas, "S": S, "A": A}


def backprop_mlp_per_sample(X, Y, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                            activations: Sequence[str], loss: str = "half_sse",
                            reduction: str = "mean") -> dict:
    """The four backprop equations, one example at a time with column vectors.  (spec: MLP-BACKPROP-4EQ)

    z^l = W^l a^{l−1} + b^l, a^l = g(z^l); BP1 δ^L = ∇_a J ⊙ g'(z^L) (element-wise output; a softmax
    output uses its Jacobian, erratum F14); BP2 δ^l = ((W^{l+1})ᵀδ^{l+1}) ⊙ g'(z^l); BP3 ∂J/∂b^l_j = δ^l_j;
    BP4 ∂J/∂w^l_{jk} = a^{l−1}_k δ^l_j.  Gradients are accumulated (+=) over the examples and scaled
    by 1/N for ``'mean'`` (erratum of Alg. 4.2).
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    L = len(weights)
    gW = [np.zeros_like(W, dtype=np.float64) for W in weights]
    gb = [np.zeros(np.shape(b), dtype=np.float64) for b in biases]
    total = 0.0
    for x, y in zip(X, Y):
        a = [x.reshape(-1, 1)]
        z = []
        for W, b, f in zip(weights, biases, activations):
            z.append(W @ a[-1] + np.reshape(b, (-1, 1)))
            a.append(activate(f, z[-1].T).T)
        yc = y.reshape(-1, 1)
        total += float(loss_value(loss, a[-1].T, yc.T).sum())
        delta = output_delta(loss, activations[-1], z[-1].T, a[-1].T, yc.T, fused=False).T  # BP1
        for l in range(L - 1, -1, -1):
            gb[l] += delta[:, 0]  # BP3
            gW[l] += delta @ a[l].T  # BP4
            if l > 0:  # BP2
                delta = (weights[l].T @ delta) * activation_grad(activations[l - 1], z[l - 1], a[l])
    c = _scale(reduction, X.shape[0])
    return {"loss": c * total, "grad_W": [c * g for g in gW], "grad_b": [c * g for g in gb]}


class UnitGraphNet:
    """A feed-forward net over enumerated units with an arbitrary connectivity mask (Alg. 4.1/4.2).

    (spec: MLP-UNIT-GRAPH)  Units 0..Q: unit 0 is the bias (a₀ = 1), units 1..D are the inputs, the
    last K units are the outputs.  ``mask[i, j]`` (shape (Q+1, Q+1)) says that the weight w_ij from unit
    j to unit i exists; this requires layer(j) < layer(i) (feed-forward condition).  Layers are
    computed as longest-path depths (bias and inputs are layer 1) unless given; a mask that violates
    the condition (a cycle, a connection into the bias or an input unit, or given layers out of
    order) raises ValueError.

    Forward: s_i = Σ_{j: C_ij} w_ij a_j, a_i = f_i(s_i), units in layer order.  Backward: output
    δ_i = (∂L/∂a_i) f_i'(s_i); hidden δ_j = f_j'(s_j) Σ_{i: C_ij} δ_i w_ij, in reverse layer order;
    ∂L/∂w_ij = δ_i a_j.  Over a batch the products are accumulated and scaled by 1/N (mean).
    """

    def __init__(self, mask, n_inputs: int, n_outputs: int, activation: str = "sigmoid",
                 output_activation: str = "identity", weights=None, layers=None, seed: int = 0):
        C = np.asarray(mask, dtype=bool)
        if C.ndim != 2 or C.shape[0] != C.shape[1]:
            raise ValueError(f"mask must be square (Q+1, Q+1), got shape {C.shape}")
        Q = C.shape[0] - 1
        D, K = int(n_inputs), int(n_outputs)
        if D < 1 or K < 1 or D + K > Q:
            raise ValueError(f"need 1 bias + {D} inputs + {K} outputs <= {Q + 1} units")
        if C[: D + 1].any():
            raise ValueError("the bias unit 0 and the input units 1..D cannot receive connections "
                             f"(mask rows 0..{D} must be all False)")
        if output_activation == "softmax" or activation == "softmax":
            raise ValueError("UnitGraphNet units are element-wise; use sigmoid/tanh/relu/identity")
        self.mask, self.Q, self.D, self.K = C, Q, D, K
        self.layers = self._layers(C, D) if layers is None else np.asarray(layers, dtype=int)
        if self.layers.shape != (Q + 1,):
            raise ValueError(f"layers must give one layer per unit ({Q + 1}), got shape {self.layers.shape}")
        bad = [(i, j) for i, j in zip(*np.nonzero(C)) if not self.layers[j] < self.layers[i]]
        if bad:
            i, j = bad[0]
            raise ValueError(f"mask violates the feed-forward condition: w_{i}{j} connects unit {j} (layer "
                             f"{self.layers[j]}) to unit {i} (layer {self.layers[i]}); need layer(j) < layer(i)")
        self.act = [activation] * (Q + 1)
        for i in range(Q - K + 1, Q + 1):
            self.act[i] = output_activation
        self.order = [int(i) for i in np.argsort(self.layers, kind="stable") if i > D]
        if weights is None:
            rng = np.random.default_rng(seed)
            weights = rng.normal(0.0, 0.5, C.shape)
        self.W = np.where(C, np.asarray(weights, dtype=np.float64), 0.0)

    @staticmethod
    def _layers(C: np.ndarray, D: int) -> np.ndarray:
        n = C.shape[0]
        layer = np.zeros(n, dtype=int)
        layer[: D + 1] = 1
        state = np.zeros(n, dtype=int)  # 0 new, 1 on the stack, 2 done
        state[: D + 1] = 2
        for start in range(D + 1, n):
            if state[start] == 2:
                continue
            stack = [(start, iter(np.nonzero(C[start])[0]))]
            state[start] = 1
            while stack:
                i, it = stack[-1]
                j = next(it, None)
                if j is None:
                    srcs = np.nonzero(C[i])[0]
                    layer[i] = 1 + (layer[srcs].max() if srcs.size else 1)
                    state[i] = 2
                    stack.pop()
                elif state[j] == 1:
                    raise ValueError(f"mask violates the feed-forward condition: it has a cycle through "
                                     f"units {j} and {i}")
                elif state[j] == 0:
                    state[j] = 1
                    stack.append((int(j), iter(np.nonzero(C[j])[0])))
        return layer

    @classmethod
    def from_mlp(cls, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], activation: str = "sigmoid",
                 output_activation: str = "identity") -> UnitGraphNet:
        """The consecutive-layer mask of an MLP with these (out, in) weights and biases."""
        sizes = [weights[0].shape[1]] + [W.shape[0] for W in weights]
        Q = sum(sizes)
        C = np.zeros((Q + 1, Q + 1), dtype=bool)
        Wfull = np.zeros((Q + 1, Q + 1))
        start = 1
        for W, b in zip(weights, biases):
            n_in, n_out = W.shape[1], W.shape[0]
            src = np.arange(start, start + n_in)
            dst = np.arange(start + n_in, start + n_in + n_out)
            C[np.ix_(dst, src)] = True
            C[dst, 0] = True
            Wfull[np.ix_(dst, src)] = W
            Wfull[dst, 0] = b
            start += n_in
        return cls(C, sizes[0], sizes[-1], activation, output_activation, weights=Wfull)

    def forward(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(s, a) for all units, for one example x of size D."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size != self.D:
            raise ValueError(f"expected {self.D} inputs, got {x.size}")
        a = np.zeros(self.Q + 1)
        s = np.zeros(self.Q + 1)
        a[0] = 1.0
        a[1: self.D + 1] = x
        for i in self.order:
            row = self.mask[i]
            s[i] = self.W[i, row] @ a[row]
            a[i] = activate(self.act[i], s[i:i + 1])[0]
        return s, a

    def predict(self, X) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        return np.stack([self.forward(x)[1][self.Q - self.K + 1:] for x in X])

    def backward(self, x, y, loss: str = "half_sse") -> tuple[float, np.ndarray, np.ndarray]:
        """Loss, deltas δ (Q+1,) and gradient G (Q+1, Q+1) with G_ij = δ_i a_j on the mask, for one example."""
        s, a = self.forward(x)
        out = slice(self.Q - self.K + 1, self.Q + 1)
        y = np.asarray(y, dtype=np.float64).ravel()
        dL_da = np.zeros(self.Q + 1)
        dL_da[out] = loss_grad(loss, a[out], y)
        delta = np.zeros(self.Q + 1)
        for j in reversed(self.order):  # δ_j = f_j'(s_j)(∂L/∂a_j + Σ_{i: C_ij} δ_i w_ij)
            col = self.mask[:, j]
            fprime = activation_grad(self.act[j], s[j:j + 1], a[j:j + 1])[0]
            delta[j] = fprime * (dL_da[j] + delta[col] @ self.W[col, j])
        G = np.where(self.mask, np.outer(delta, a), 0.0)
        return float(loss_value(loss, a[out], y)), delta, G

    def gradients(self, X, Y, loss: str = "half_sse", reduction: str = "mean") -> tuple[float, np.ndarray]:
        """Loss and ∂R/∂W over a batch: Σ_n δ_i a_j accumulated, times 1/N for 'mean'."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        Y = np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1)
        total, G = 0.0, np.zeros_like(self.W)
        for x, y in zip(X, Y):
            l, _, g = self.backward(x, y, loss)
            total += l
            G += g
        c = _scale(reduction, X.shape[0])
        return c * total, c * G

    def step(self, X, Y, lr: float, loss: str = "half_sse") -> float:
        """One gradient-descent step Δw_ij = −η ∂R/∂w_ij; returns the loss before the step."""
        l, G = self.gradients(X, Y, loss)
        self.W -= lr * G
        return l


def layer_jacobian(W, b, x, activation: str) -> np.ndarray:
    """∂a/∂x of a = f(Wx + b): diag(f'(Wx + b)) W, shape (out, in).  (spec: AD-JACOBIAN-LAYER)"""
    s = W @ x + b
    if activation == "softmax":
        return softmax_jacobian(softmax(s)) @ W
    return activation_grad(activation, s, activate(activation, s))[:, None] * W


def input_output_jacobian(x, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                          activations: Sequence[str]) -> np.ndarray:
    """𝒥 = ∂ŷ/∂x = D_L W_L ⋯ D_1 W_1 (softmax output: J_softmax instead of D_L), shape (K, D).
    (spec: AD-JACOBIAN-IO)"""
    J = np.eye(np.shape(x)[-1])
    a = np.asarray(x, dtype=np.float64)
    for W, b, f in zip(weights, biases, activations):
        J = layer_jacobian(W, b, a, f) @ J
        a = activate(f, W @ a + b)
    return J


def softmax_jacobian(a) -> np.ndarray:
    """∂a_i/∂s_j = a_i(δ_ij − a_j): J = diag(a) − aaᵀ (symmetric, rows sum to 0).  (spec: AD-SOFTMAX-JACOBIAN)"""
    a = np.asarray(a, dtype=np.float64)
    return np.diag(a) - np.outer(a, a)
