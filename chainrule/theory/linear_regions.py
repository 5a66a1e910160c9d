"""Linear regions of ReLU networks: exact 1-D counting, sampled 1-D/2-D counting, and the bounds.
(spec: THEORY-LINEAR-REGIONS)

A fixed activation pattern (which hidden units have pre-activation > 0) makes every pre-activation
an affine function of the input, so the set of inputs with that pattern is convex and the network
is affine on it: linear regions = distinct activation patterns (connected, since convex).

Bounds (hyperplane arrangements, general position):
* shallow, D_i inputs, D units: Σ_{j=0}^{D_i} C(D, j)  (= 2^D when D_i ≥ D; D + 1 for one input;
  1 + 3 + 3 = 7 for D_i = 2, D = 3).  Erratum: the notes state it "given D_i ≤ D"; it also holds
  for D_i > D (then 2^D), and is reached only in general position with all intersections inside
  the domain.
* deep, one input, K layers of widths D_k: Π_k (D_k + 1)  (each layer splits every piece into at
  most D_k + 1);  for D_i inputs: Π_k Σ_{j=0}^{D_i} C(D_k, j) (each layer's units cut every region by
  at most that many pieces).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np

from .. import nn
from ..tensor import no_grad


def relu_mlp_layers(model) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W_l, b_l)] of a ReLU MLP: Linear layers separated by ReLU, the last Linear is the output.

    Accepts an ``nn.Sequential`` (nested containers are flattened, e.g. ``models.MLP``) or a list of
    (W, b) pairs.  Raises if a layer other than Linear/ReLU/Identity appears or ReLUs are misplaced.
    """
    if isinstance(model, (list, tuple)):
        return [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64).reshape(-1)) for W, b in model]
    mods = []

    def walk(m):
        kids = [c for c in m._modules.values() if c is not None]
        if kids:
            for c in kids:
                walk(c)
        else:
            mods.append(m)

    walk(model)
    layers, expect_act = [], False
    for m in mods:
        if isinstance(m, nn.Linear):
            if expect_act:
                raise ValueError("two Linear layers without a ReLU between them: the regions are those of the merged "
                                 "affine map; merge them or insert a ReLU")
            b = m.bias.data if m.bias is not None else np.zeros(m.out_features)
            layers.append((np.asarray(m.weight.data, dtype=np.float64), np.asarray(b, dtype=np.float64)))
            expect_act = True
        elif isinstance(m, nn.ReLU):
            if not expect_act:
                raise ValueError("a ReLU that does not follow a Linear layer")
            expect_act = False
        elif isinstance(m, nn.Identity):
            continue
        else:
            raise ValueError(f"count_linear_regions handles Linear/ReLU MLPs only, found {type(m).__name__}")
    if not layers:
        raise ValueError("the model has no Linear layer")
    return layers


def activation_patterns(model, X) -> np.ndarray:
    """Boolean (N, total hidden units): pre-activation > 0 for every hidden unit (ReLU'(0) := 0)."""
    layers = relu_mlp_layers(model)
    A = np.asarray(getattr(X, "data", X), dtype=np.float64)
    pats = []
    for W, b in layers[:-1]:
        Z = A @ W.T + b
        pats.append(Z > 0)
        A = np.maximum(Z, 0)
    if not pats:
        return np.zeros((len(A), 0), dtype=bool)
    return np.concatenate(pats, axis=1)


def _regions_1d_exact(layers, lo: float, hi: float) -> tuple[int, np.ndarray]:
    """Exact 1-D count: propagate the piecewise-affine map; on each piece every unit's pre-activation
    is affine, α + βx, so its zero (if inside the piece) is a new breakpoint."""
    # pieces: list of (a, b) intervals with, per piece, the affine map of the current layer's input
    pieces = [(lo, hi, np.array([0.0]), np.array([1.0]))]  # input = c + g·x (vectors over features)
    for W, b in layers[:-1]:
        new = []
        for a, e, c, g in pieces:
            alpha = W @ c + b          # pre-activations z(x) = alpha + beta x on this piece
            beta = W @ g
            with np.errstate(divide="ignore", invalid="ignore"):
                roots = np.where(beta != 0, -alpha / beta, np.nan)
            cuts = np.unique(roots[(roots > a) & (roots < e)])
            edges = np.concatenate([[a], cuts, [e]])
            for u, v in zip(edges[:-1], edges[1:]):
                mid = 0.5 * (u + v)
                on = (alpha + beta * mid) > 0
                new.append((u, v, np.where(on, alpha, 0.0), np.where(on, beta, 0.0)))
        pieces = new
    # merge neighbours with the same activation pattern (a unit touching 0 without changing sign)
    mids = np.array([0.5 * (a + e) for a, e, _, _ in pieces])
    P = activation_patterns(layers, mids[:, None])
    changes = np.any(P[1:] != P[:-1], axis=1) if len(P) > 1 else np.zeros(0, dtype=bool)
    breakpoints = np.array([pieces[i + 1][0] for i in np.flatnonzero(changes)])
    return 1 + int(changes.sum()), breakpoints


def count_linear_regions(model, box, resolution: int | None = None, method: str = "auto",
                         seed: int = 0) -> int:
    """Number of linear regions of a ReLU MLP on an interval (1-D input) or a box (2-D input).
    (spec: THEORY-LINEAR-REGIONS)

    ``box``: (lo, hi) for one input, ((x_lo, x_hi), (y_lo, y_hi)) for two.

    * 1-D, ``method='exact'`` (default): breakpoints are found analytically layer by layer (no
      sampling) — regions = 1 + number of activation-pattern changes along the interval.
    * 1-D, ``method='sample'``: ``resolution`` (default 2·10⁵) sorted random points; 1 + pattern changes
      between neighbours (misses regions narrower than the spacing).
    * 2-D (sampled): a ``resolution``×``resolution`` grid (default 1000) offset by half a cell;
      regions = distinct patterns (lower bound: misses regions that contain no grid point).
    """
    layers = relu_mlp_layers(model)
    d_in = layers[0][0].shape[1]
    if d_in == 1:
        lo, hi = (float(v) for v in box)
        if not hi > lo:
            raise ValueError(f"interval must have lo < hi, got {box!r}")
        if method in ("auto", "exact"):
            return _regions_1d_exact(layers, lo, hi)[0]
        if method != "sample":
            raise ValueError(f"method must be 'exact' or 'sample', got {method!r}")
        n = int(resolution or 200_000)
        x = np.sort(np.random.default_rng(seed).uniform(lo, hi, n))
        P = activation_patterns(layers, x[:, None])
        return 1 + int(np.any(P[1:] != P[:-1], axis=1).sum())
    if d_in == 2:
        (x0, x1), (y0, y1) = box
        n = int(resolution or 1000)
        gx = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
        gy = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
        seen: set = set()
        for rows in np.array_split(np.arange(n), max(1, n * n // 250_000)):
            XX, YY = np.meshgrid(gx, gy[rows], indexing="xy")
            P = activation_patterns(layers, np.stack([XX.ravel(), YY.ravel()], axis=1))
            if P.shape[1] <= 62:  # one integer code per pattern
                codes = P.astype(np.int64) @ (np.int64(1) << np.arange(P.shape[1], dtype=np.int64))
                seen.update(np.unique(codes).tolist())
            else:
                seen.update(map(bytes, np.unique(np.packbits(P, axis=1), axis=0)))
        return len(seen)
    raise ValueError(f"count_linear_regions handles 1 or 2 inputs, the model has {d_in}")


def linear_region_breakpoints(model, interval) -> np.ndarray:
    """The input points where a 1-input ReLU MLP changes its activation pattern (exact)."""
    layers = relu_mlp_layers(model)
    if layers[0][0].shape[1] != 1:
        raise ValueError("linear_region_breakpoints needs a model with one input")
    return _regions_1d_exact(layers, float(interval[0]), float(interval[1]))[1]


def linear_region_bound(n_inputs: int, widths: Sequence[int] | int) -> int:
    """Upper bound on the number of linear regions (see the module docstring).

    ``widths``: hidden widths [D_1, ..., D_K] (an int for one hidden layer).
    One layer: Σ_{j=0}^{D_i} C(D, j); one input: Π (D_k + 1); otherwise Π_k Σ_{j=0}^{D_i} C(D_k, j).
    """
    ws = [int(widths)] if isinstance(widths, (int, np.integer)) else [int(w) for w in widths]
    if n_inputs < 1 or not ws or min(ws) < 0:
        raise ValueError(f"need n_inputs >= 1 and hidden widths >= 0, got {n_inputs}, {widths!r}")
    per = [sum(comb(D, j) for j in range(0, min(n_inputs, D) + 1)) for D in ws]
    return int(np.prod(per, dtype=object))


def sawtooth_network(dtype=np.float64) -> nn.Sequential:
    """The 1-3-3-1 ReLU net of the spec whose layers each fold [0, 1] three times: layer 1 computes
    h = ReLU(x − {0, ⅓, ⅔}) and g₁ = 3h₁ − 6h₂ + 6h₃ (maps each third of [0, 1] onto [0, 1]); layer 2
    h' = ReLU(g₁ − {0, ⅓, ⅔}); output h'₁ − 2h'₂ + 2h'₃.  It has exactly 9 linear regions on (0, 1):
    more than any shallow 1-input net with 6 units can have (≤ 7), within the deep bound (3+1)² = 16."""
    net = nn.Sequential(nn.Linear(1, 3, dtype=dtype), nn.ReLU(), nn.Linear(3, 3, dtype=dtype), nn.ReLU(),
                        nn.Linear(3, 1, dtype=dtype))
    shifts = np.array([0.0, 1 / 3, 2 / 3])
    g1 = np.array([3.0, -6.0, 6.0])
    with no_grad():
        net[0].weight.data[...] = 1.0
        net[0].bias.data[...] = -shifts
        net[2].weight.data[...] = np.tile(g1, (3, 1))  # each unit of layer 2 reads g₁
        net[2].bias.data[...] = -shifts
        net[4].weight.data[...] = [[1.0, -2.0, 2.0]]
        net[4].bias.data[...] = 0.0
    return net
