"""Parameter initialisation: in-place initialisers, gains, and the mean-field theory behind them.

All initialisers write in place without recording a graph, bump the tensor's version counter, return
the tensor, and draw from ``generator`` (a :class:`chainrule.Generator`; the global one if None), so the
same seed gives the same weights.  Names and defaults follow ``torch.nn.init``.

Conventions: a dense weight W is (out, in) = (I, J), Y = X Wᵀ + b; a convolution weight is
(C_out, C_in/groups, k…).

Why the scales (spec: INIT-VARIANCE-PROP, erratum N16)
------------------------------------------------------
For one unit s = Σⱼ Wⱼxⱼ with iid weights (mean μ_w, variance σ_w²) independent of iid inputs,
E[s] = Jμ_wE[x]; with μ_w = 0, E[s²] = Jσ_w²E[x²] (E[x²] = σ_x² + μ_x² is the *second raw moment*).
Backwards, δⱼ = f'(sⱼ)Σᵢ Wᵢⱼδᵢ gives E[(ΣᵢWᵢⱼδᵢ)²] = Iσ_w²E[δ²].  By the CLT the pre-activations are
≈ N(0, q), and the mean-field recursion is

    q₁ = Jσ_w²E[x²],   q_l = F_f(q_{l−1}) = Jσ_w²·E_{Z~N(0,1)}[f(√q_{l−1}Z)²]   (``propagation``).

The variance is preserved (q_l = q_{l−1}) when σ_w² = g_f/J with the *variance gain*
g_f = q/E[f(√qZ)²] (``variance_gain``): g = 1 for linear/tanh near 0 (LeCun, σ_w² = 1/J; Glorot's
compromise between forward 1/J and backward 1/I is 2/(J + I)), g = 2 for ReLU because
E[ReLU(S)²] = q/2 (He/Kaiming, σ_w² = 2/J), g = 1 for SELU (LeCun normal, self-normalizing).
PyTorch's ``calculate_gain`` is the *std* gain √g_f (erratum N17: do not square twice).
(spec: INIT-LECUN, INIT-GLOROT, INIT-HE, INIT-GAIN, INIT-KAIMING-NORMAL, TRICK-INIT-FANIN,
INIT-GAUSSIAN-FANIN)

Symmetry (spec: INIT-SYMMETRY): if all weights of a layer are equal, its units have equal
pre-activations, deltas and gradients forever under any elementwise optimizer — random weights are
needed; constant (zero) biases are fine (``initialize_`` leaves biases 0; spec: INIT-BIAS).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy import special as _sp

from ..backend import Generator, _gen
from ..tensor import Tensor, no_grad

# N(0, σ²) cut at ±2σ: std factor √(1 − 4φ(2)/(2Φ(2) − 1)); its square 0.7737413035499232 is the variance
# factor (erratum N15: the notes quote 0.8796 as the variance).  (spec: INIT-TRUNC-NORMAL)
TRUNC_NORMAL_STD_FACTOR = 0.87962566103423978
TRUNC_NORMAL_VAR_FACTOR = TRUNC_NORMAL_STD_FACTOR ** 2


# ------------------------------------------------------------------ fans and gains
def calculate_fan_in_and_fan_out(t) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: Linear (out, in) → (in, out); conv (C_out, C_in/groups, k…) →
    (size(1)·∏k, size(0)·∏k).  Tensors with fewer than 2 dimensions raise ValueError.
    (spec: INIT-FAN, TRICK-INIT-FANIN)"""
    shape = tuple(t.shape)
    if len(shape) < 2:
        raise ValueError(
            f"fan in/out need a weight with at least 2 dimensions (out, in, *kernel), got shape {shape}; "
            "biases and 1-D parameters have no fan — initialise them with zeros_/constant_/normal_")
    rf = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * rf, shape[0] * rf


_fans = calculate_fan_in_and_fan_out  # backwards-compatible private name


def _fan(t, mode: str) -> int:
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    if mode == "fan_avg":
        return (fan_in + fan_out) / 2  # type: ignore[return-value]
    raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")


_LINEAR_LIKE = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's *std* gain: linear/conv/sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2/(1 + slope²))
    (slope ``param``, default 0.01), selu 3/4.  Equal to √(variance_gain) for relu; PyTorch's tanh and
    selu values are empirical choices.  (spec: INIT-GAIN)"""
    nl = str(nonlinearity).lower()
    if nl in _LINEAR_LIKE:
        return 1.0
    if nl == "tanh":
        return 5.0 / 3
    if nl == "relu":
        return math.sqrt(2.0)
    if nl == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nl == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; choose one of {list(_LINEAR_LIKE)} + "
                     "['tanh', 'relu', 'leaky_relu', 'selu']")


# ------------------------------------------------------------------ basic in-place fills (spec: INIT-BASIC)
def _fill(t: Tensor, values) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"initialisers work in place on a chainrule Tensor/Parameter, got {type(t).__name__}")
    t.data[...] = np.asarray(values).astype(t.dtype, copy=False)
    t._version += 1
    return t


def constant_(t: Tensor, value: float) -> Tensor:
    """Fill with ``value`` (in place).  (spec: INIT-BASIC)"""
    return _fill(t, np.full(t.shape, value))


def zeros_(t: Tensor) -> Tensor:
    """Fill with 0 (in place).  (spec: INIT-BASIC)"""
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    """Fill with 1 (in place).  (spec: INIT-BASIC)"""
    return constant_(t, 1.0)


def eye_(t: Tensor) -> Tensor:
    """The identity matrix (2-D tensors; rectangular: ones on the main diagonal)."""
    if t.ndim != 2:
        raise ValueError(f"eye_ needs a 2-D tensor, got shape {t.shape}")
    return _fill(t, np.eye(*t.shape))


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
    """U(a, b) in place; variance (b − a)²/12, so U(−ε, ε) has variance ε²/3.  (spec: INIT-BASIC)"""
    return _fill(t, _gen(generator).rng.uniform(a, b, size=t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    """N(mean, std²) in place.  ``normal_(w)`` with std 1 is the classic scheme that saturates
    sigmoids for large fan-in (Σ of J unit normals has variance J).  (spec: INIT-BASIC, INIT-GAUSSIAN-FANIN)"""
    return _fill(t, _gen(generator).rng.standard_normal(t.shape) * std + mean)


def trunc_normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Generator | None = None) -> Tensor:
    """N(mean, std²) truncated to [a, b] (ABSOLUTE bounds, as PyTorch), sampled exactly by inverting the
    CDF: u ~ U(Φ(α), Φ(β)), x = mean + std·Φ⁻¹(u), α = (a − mean)/std, β = (b − mean)/std.

    N(0, σ²) cut at ±2σ has variance σ²(1 − 4φ(2)/(2Φ(2) − 1)) = 0.7737413035499232σ², i.e. std
    0.8796256610342398σ (erratum N15: the notes call 0.8796 the variance).  (spec: INIT-TRUNC-NORMAL)"""
    if std <= 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std}")
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b (absolute bounds), got a={a}, b={b}")
    lo = _sp.ndtr((a - mean) / std)
    hi = _sp.ndtr((b - mean) / std)
    u = _gen(generator).rng.uniform(lo, hi, size=t.shape)
    x = mean + std * _sp.ndtri(u)
    return _fill(t, np.clip(x, a, b))


def variance_scaling_(t: Tensor, scale: float = 1.0, mode: str = "fan_in",
                      distribution: str = "truncated_normal", generator: Generator | None = None) -> Tensor:
    """Weights with variance v = scale/n, n = fan_in, fan_out or (fan_in + fan_out)/2 ('fan_avg').

    'truncated_normal': N(0, σ²) cut at ±2σ with σ = √v/0.87962566103423978 (so Var = v exactly);
    'normal': N(0, v); 'uniform': U(±√(3v)).  scale 1/fan_in = LeCun, 2/fan_in = He, 1/fan_avg = Glorot.
    (spec: INIT-TRUNC-NORMAL)"""
    v = scale / _fan(t, mode)
    if distribution in ("truncated_normal", "trunc_normal"):
        sigma = math.sqrt(v) / TRUNC_NORMAL_STD_FACTOR
        return trunc_normal_(t, 0.0, sigma, -2 * sigma, 2 * sigma, generator)
    if distribution == "normal":
        return normal_(t, 0.0, math.sqrt(v), generator)
    if distribution == "uniform":
        bound = math.sqrt(3.0 * v)
        return uniform_(t, -bound, bound, generator)
    raise ValueError(f"distribution must be 'truncated_normal', 'normal' or 'uniform', got {distribution!r}")


# ------------------------------------------------------------------ fan-scaled schemes
def lecun_normal_(t: Tensor, generator: Generator | None = None) -> Tensor:
    """N(0, 1/J), J = fan_in: keeps the pre-activation variance of linear/tanh-near-0 and SELU units
    (SNN init: ω = Σⱼwⱼ ≈ 0, τ = Σⱼwⱼ² ≈ 1).  (spec: INIT-LECUN, TRICK-INIT-FANIN, INIT-GAUSSIAN-FANIN)"""
    return normal_(t, 0.0, 1.0 / math.sqrt(calculate_fan_in_and_fan_out(t)[0]), generator)


normal_fanin_ = lecun_normal_  # the tutorial's "N(0, 1/fan_in)" scheme  (spec: INIT-GAUSSIAN-FANIN)


def lecun_uniform_(t: Tensor, generator: Generator | None = None) -> Tensor:
    """U(±√(3/J)): variance 1/J.  (spec: INIT-LECUN)"""
    bound = math.sqrt(3.0 / calculate_fan_in_and_fan_out(t)[0])
    return uniform_(t, -bound, bound, generator)


def xavier_uniform_(t: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot: U(±gain·√(6/(J + I))), variance gain²·2/(J + I).  (spec: INIT-GLOROT)"""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


def xavier_normal_(t: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot: N(0, gain²·2/(J + I)).  (spec: INIT-GLOROT)"""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


glorot_uniform_, glorot_normal_ = xavier_uniform_, xavier_normal_


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Generator | None = None) -> Tensor:
    """He: U(±bound), bound = √3·std, std = gain/√fan, gain = ``calculate_gain(nonlinearity, a)``
    (ReLU: √(6/J)).  'fan_out' preserves the backward variance instead.  PyTorch's default
    Linear/Conv init is a = √5, i.e. U(±1/√fan_in).  (spec: INIT-HE)"""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Generator | None = None) -> Tensor:
    """He: N(0, gain²/fan); ReLU (or leaky_relu with a = 0): N(0, 2/fan_in), since
    E[ReLU(S)²] = Var(S)/2 a ReLU layer of width n multiplies the second moment by nσ_w²/2.
    Biases stay 0.  (spec: INIT-HE, INIT-KAIMING-NORMAL, TRICK-INIT-FANIN)"""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode))
    return normal_(t, 0.0, std, generator)


he_uniform_, he_normal_ = kaiming_uniform_, kaiming_normal_


def orthogonal_(t: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al.): the tensor viewed as (rows, ∏rest) has
    orthonormal rows or columns, from the QR decomposition of a Gaussian matrix with the signs of R's
    diagonal folded in (Haar-distributed).  ‖W‖₂ = gain, so backprop through a linear layer keeps the
    delta norm (MLP-VANISHING-GRAD)."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_ needs a tensor with at least 2 dimensions, got shape {t.shape}")
    rows = t.shape[0]
    cols = int(t.size // rows)
    flat = _gen(generator).rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(t, gain * q.reshape(t.shape))


def default_init_(weight: Tensor, bias: Tensor | None, generator: Generator | None = None) -> None:
    """PyTorch's default for Linear/Conv: W, b ~ U(±1/√fan_in) (= kaiming_uniform_ with a = √5).
    (spec: INIT-KAIMING-NORMAL constants: the library default stays PyTorch's)"""
    fan_in, _ = calculate_fan_in_and_fan_out(weight)
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    uniform_(weight, -bound, bound, generator)
    if bias is not None:
        uniform_(bias, -bound, bound, generator)


# ------------------------------------------------------------------ whole-module helpers
_SCHEMES = {
    "kaiming_normal": kaiming_normal_, "kaiming_uniform": kaiming_uniform_, "he_normal": kaiming_normal_,
    "he_uniform": kaiming_uniform_, "xavier_normal": xavier_normal_, "xavier_uniform": xavier_uniform_,
    "glorot_normal": xavier_normal_, "glorot_uniform": xavier_uniform_, "lecun_normal": lecun_normal_,
    "lecun_uniform": lecun_uniform_, "normal_fanin": lecun_normal_, "orthogonal": orthogonal_,
    "trunc_normal": trunc_normal_, "variance_scaling": variance_scaling_,
}


def initialize_(module, scheme: str | Callable = "kaiming_normal", bias: float | str = 0.0,
                generator: Generator | None = None, **kwargs):
    """Initialise every weight with ≥ 2 dimensions in ``module`` (Linear, Conv, …) with ``scheme``
    and set its biases to the constant ``bias`` (default 0, spec: INIT-BIAS); 1-D weights
    (normalisation gains) are left alone.

    ``scheme`` is a callable ``f(t, generator=..., **kwargs)`` or one of: kaiming_normal/uniform
    (he_*), xavier_normal/uniform (glorot_*), lecun_normal/uniform, normal_fanin, orthogonal,
    trunc_normal, variance_scaling, 'normal' (N(0, 1), the classic scheme).  ``bias='normal'`` draws
    N(0, 1) biases (spec: INIT-GAUSSIAN-FANIN schemes `normal` and `normal_fanin`).
    Extra keyword arguments go to the scheme (e.g. ``nonlinearity='relu'``, ``gain=…``)."""
    g = _gen(generator)
    if callable(scheme):
        fn = scheme
    elif scheme == "normal":
        fn = normal_
    elif scheme in _SCHEMES:
        fn = _SCHEMES[scheme]
    else:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {sorted(_SCHEMES) + ['normal']} "
                         "or pass a function f(tensor, generator=..., **kwargs)")
    for m in module.modules():
        w = m._parameters.get("weight") if hasattr(m, "_parameters") else None
        if w is None or w.ndim < 2:
            continue
        fn(w, generator=g, **kwargs)
        b = m._parameters.get("bias")
        if b is not None:
            if bias == "normal":
                normal_(b, 0.0, 1.0, g)
            else:
                constant_(b, float(bias))
    return module


def bias_to_target_mean_(layer, y) -> Tensor:
    """Set an output layer's bias to the mean target, mean(y, axis=0): with zero (or small) last-layer
    weights the network then starts by predicting mean(y), the best constant under squared error.
    (spec: INIT-BIAS)"""
    b = getattr(layer, "bias", None)
    if b is None:
        raise ValueError(f"{type(layer).__name__} has no bias to initialise; build it with bias=True")
    yd = np.asarray(y.data if isinstance(y, Tensor) else y, dtype=np.float64)
    m = yd.mean(axis=0) if yd.ndim > 1 else np.full(b.shape, yd.mean())
    if np.shape(m) != b.shape and np.size(m) != b.size:
        raise ValueError(f"bias has shape {b.shape} but mean(y, axis=0) has shape {np.shape(m)}")
    return _fill(b, np.reshape(m, b.shape))


# ------------------------------------------------------------------ mean-field propagation (spec: INIT-VARIANCE-PROP)
_QUAD_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def gauss_normal_nodes(nodes: int = 64, half_width: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights w with Σ w·h(z) ≈ E[h(Z)], Z ~ N(0, 1), split at 0.

    Each half-line [0, ±half_width] gets an ``nodes``-point Gauss–Legendre rule for the density φ (the
    mass beyond 20 is < 1e-88), normalised so each half weighs exactly ½.  Splitting at 0 keeps the rule
    accurate to ~1e-15 for units with a kink at 0 (ReLU, SELU, ELU); a plain 128-node Gauss–Hermite rule
    is exact only for smooth f and errs by ~5e-5 on E[selu(Z)²]."""
    key = (nodes, half_width)
    if key not in _QUAD_CACHE:
        x, w = leggauss(nodes)
        z = (x + 1) * (half_width / 2)
        ww = w * (half_width / 2) * np.exp(-0.5 * z * z)
        ww = ww * (0.5 / math.fsum(ww))
        _QUAD_CACHE[key] = (np.concatenate([-z[::-1], z]), np.concatenate([ww[::-1], ww]))
    return _QUAD_CACHE[key]


def gauss_hermite_nodes(nodes: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss–Hermite rule for E[h(Z)], Z ~ N(0, 1) (exact for polynomials of degree
    < 2·nodes; use for smooth h)."""
    from numpy.polynomial.hermite_e import hermegauss
    z, w = hermegauss(nodes)
    return z, w / math.sqrt(2 * math.pi)


def _as_numpy_fn(f) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(f, str):
        from .. import ops
        name = f.lower()
        table = {"linear": lambda x: x, "identity": lambda x: x, "relu": ops.relu, "tanh": ops.tanh,
                 "sigmoid": ops.sigmoid, "selu": ops.selu, "elu": ops.elu, "softplus": ops.softplus,
                 "gelu": ops.gelu, "silu": ops.silu, "leaky_relu": ops.leaky_relu, "softsign": ops.softsign,
                 "mish": ops.mish}
        if name not in table:
            raise ValueError(f"unknown activation {f!r}; pass a function of a NumPy array or one of {sorted(table)}")
        f = table[name]

    def fn(x):
        with no_grad():
            y = f(x)
        return np.asarray(y.data if isinstance(y, Tensor) else y, dtype=np.float64)

    return fn


def moment(f, q: float = 1.0, n: int = 2, nodes: int = 64, method: str = "split") -> float:
    """E_{Z~N(0,1)}[f(√q·Z)ⁿ] by quadrature: the mean-field second moment of a unit whose
    pre-activation is N(0, q).  ``f`` maps a float64 array (or is a chainrule op / activation name).

    ``method='split'`` (default): Gauss–Legendre on each half-line, 2·``nodes`` ≥ 128 nodes, ~1e-15 also
    for kinked f; ``'hermite'``: a ``nodes``-point Gauss–Hermite rule (spec: "Gauss–Hermite, ≥ 64 nodes";
    exact for smooth f, slow for kinks).  Computed: E[ReLU²] = 0.5, E[tanh²] = 0.39429449039784087,
    E[σ²] = 0.2933790358580928, E[SELU²] = 1 (q = 1).  (spec: INIT-VARIANCE-PROP)"""
    if q < 0:
        raise ValueError(f"q is a variance and must be >= 0, got {q}")
    if method not in ("split", "hermite"):
        raise ValueError(f"method must be 'split' or 'hermite', got {method!r}")
    fn = _as_numpy_fn(f)
    z, w = gauss_normal_nodes(nodes) if method == "split" else gauss_hermite_nodes(nodes)
    return float(math.fsum(w * fn(math.sqrt(q) * z) ** n))


def propagation(f, q: float, fan_in: int, var_w: float, var_b: float = 0.0) -> float:
    """The mean-field variance map F_f(q) = J·σ_w²·E[f(√q·Z)²] (+ σ_b²): the variance of the next
    layer's pre-activations when this layer's are N(0, q).  Fixed point F_f(q) = q ⇔ σ_w² = g_f(q)/J.
    (spec: INIT-VARIANCE-PROP)"""
    return fan_in * var_w * moment(f, q, 2) + var_b


def propagate_variance(f, q1: float, fan_in: int, var_w: float, depth: int, var_b: float = 0.0) -> np.ndarray:
    """q₁, q₂ = F_f(q₁), …, q_depth: the predicted pre-activation variance per layer."""
    qs = [float(q1)]
    for _ in range(depth - 1):
        qs.append(propagation(f, qs[-1], fan_in, var_w, var_b))
    return np.asarray(qs)


def variance_gain(f, q: float = 1.0) -> float:
    """The notes' gain g_f = q/E[f(√qZ)²]: with σ_w² = g_f/J (or g_f·2/(I + J)) a layer keeps the variance
    q.  g_ReLU = 2 (He), g_tanh → 1 as q → 0 (LeCun/Glorot), 2.5361754332174558 at q = 1, g_SELU = 1.
    PyTorch's ``calculate_gain`` is √g_f (erratum N17).  (spec: INIT-GAIN)"""
    return q / moment(f, q, 2)


# ------------------------------------------------------------------ layer-by-layer diagnostics
def trace_propagation(model, x, target=None, loss_fn=None, layer_types: tuple | None = None) -> dict:
    """Run ``model`` (a Sequential, or any iterable of modules) on ``x`` and record, per weight layer l:
    the pre-activation s^{[l]} mean/variance, the activation a^{[l]} = f(s^{[l]}) mean/variance (output of
    the next non-weight module), and — if ``target`` is given — the delta norms ‖δ^{[l]}‖ = ‖∂L/∂s^{[l]}‖
    (via ``retain_grad``) and weight/bias gradient norms, with L = ``loss_fn(out, target)`` (default
    ½·mean squared error summed over outputs).  Returns a dict of NumPy arrays plus the output.

    Use it to see vanishing (‖δ‖ shrinking towards the input), exploding, or stable propagation.
    (spec: MLP-VANISHING-GRAD, THEORY-VANISHING-GRADIENT, INIT-VARIANCE-PROP)"""
    from .module import Module
    mods = list(model) if not isinstance(model, Module) or hasattr(model, "__iter__") else [model]
    if layer_types is None:
        def is_layer(m):
            w = getattr(m, "_parameters", {}).get("weight") if isinstance(m, Module) else None
            return w is not None and w.ndim >= 2 or hasattr(m, "weight_v")
    else:
        def is_layer(m):
            return isinstance(m, layer_types)
    h = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    pre, post, layers = [], [], []
    for m in mods:
        h = m(h)
        if is_layer(m):
            if h.requires_grad:
                h.retain_grad()
            pre.append(h)
            post.append(h)
            layers.append(m)
        elif pre:
            post[-1] = h
    out = h
    stats = {
        "pre_mean": np.array([float(s.data.mean()) for s in pre]),
        "pre_var": np.array([float(s.data.var()) for s in pre]),
        "act_mean": np.array([float(a.data.mean()) for a in post]),
        "act_var": np.array([float(a.data.var()) for a in post]),
        "act_sq": np.array([float((a.data.astype(np.float64) ** 2).mean()) for a in post]),
        "output": out,
    }
    if target is not None:
        if loss_fn is None:
            t = target.data if isinstance(target, Tensor) else np.asarray(target, dtype=out.dtype)
            d = out - Tensor._wrap(np.asarray(t, dtype=out.dtype))
            loss = (d * d).sum() * (0.5 / out.shape[0])
        else:
            loss = loss_fn(out, target)
        for m in layers:
            for p in m.parameters():
                p.grad = None
        loss.backward()
        stats["loss"] = float(loss.data)
        stats["delta_norm"] = np.array([float(np.linalg.norm(s.grad.data)) if s.grad is not None else np.nan
                                        for s in pre])
        wg, bg = [], []
        for m in layers:
            w = m._parameters.get("weight")
            w = m._parameters.get("weight_v") if w is None else w
            b = m._parameters.get("bias")
            wg.append(float(np.linalg.norm(w.grad.data)) if w is not None and w.grad is not None else np.nan)
            bg.append(float(np.linalg.norm(b.grad.data)) if b is not None and b.grad is not None else np.nan)
        stats["weight_grad_norm"] = np.array(wg)
        stats["bias_grad_norm"] = np.array(bg)
    return stats


__all__ = [
    "TRUNC_NORMAL_STD_FACTOR", "TRUNC_NORMAL_VAR_FACTOR", "bias_to_target_mean_", "calculate_fan_in_and_fan_out",
    "calculate_gain", "constant_", "default_init_", "eye_", "gauss_hermite_nodes", "gauss_normal_nodes",
    "glorot_normal_", "glorot_uniform_", "he_normal_", "he_uniform_", "initialize_", "kaiming_normal_",
    "kaiming_uniform_", "lecun_normal_", "lecun_uniform_", "moment", "normal_", "normal_fanin_", "ones_",
    "orthogonal_", "propagate_variance", "propagation", "trace_propagation", "trunc_normal_", "uniform_",
    "variance_gain", "variance_scaling_", "xavier_normal_", "xavier_uniform_", "zeros_",
]
