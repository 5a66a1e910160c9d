"""Adam (with the AMSGrad option)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizer import Optimizer, check_lr, check_range

_CHUNK = 1 << 16      # elements per chunk of the update of a tensor larger than 4 chunks (256 KiB of float32)


def _adam_update(w, g, m, v, vm, coef) -> None:
    """One Adam update in place on arrays (any shape, all the same): same operations and rounding order
    as PyTorch: m.lerp_(g, 1 − β₁), v·β₂ + ((1 − β₂)g)g, denom = √v/√(1 − β₂ᵗ) + ε, w + (−step·m)/denom."""
    b1, b2, eps, bc2_sqrt, step_size = coef
    tmp = np.subtract(g, m)
    if 1 - b1 < 0.5:
        tmp *= 1 - b1
        m += tmp
    else:
        tmp *= 1 - (1 - b1)
        np.subtract(g, tmp, out=m)
    np.multiply(g, 1 - b2, out=tmp)
    tmp *= g
    v *= b2
    v += tmp
    if vm is not None:
        np.maximum(vm, v, out=vm)
        np.sqrt(vm, out=tmp)
    else:
        np.sqrt(v, out=tmp)
    tmp /= bc2_sqrt
    tmp += eps
    num = m * step_size
    np.divide(num, tmp, out=tmp)
    w -= tmp


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), PyTorch's algorithm.  (spec: OPT-ADAM)

    With g (+ λw if ``weight_decay``: coupled L2), step t, m and v starting at 0:

        m ← β₁ m + (1 − β₁) g,      v ← β₂ v + (1 − β₂) g²
        m̂ = m / (1 − β₁ᵗ),          v̂ = v / (1 − β₂ᵗ)          (bias correction)
        w ← w − η m̂ / (√v̂ + ε)

    computed as PyTorch does: step η/(1 − β₁ᵗ), denominator √v/√(1 − β₂ᵗ) + ε.  ``amsgrad=True``
    replaces v by v_max ← max(v_max, v).  The first step is −ηg/(|g| + ε).
    Erratum N6: the notes' (7.51) has no bias correction (first step too large by (1 − β₁)/√(1 − β₂) ≈
    3.16 at the default betas) and the second moment averages (g⁽ᵗ⁾)², not (g⁽ᵗ⁻¹⁾)².
    """

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False):
        check_lr(lr)
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (β₁, β₂), e.g. (0.9, 0.999), got {betas!r}")
        check_range("betas[0]", betas[0], 0.0, 1.0, high_open=True, hint="β₁ is usually 0.9")
        check_range("betas[1]", betas[1], 0.0, 1.0, high_open=True, hint="β₂ is usually 0.999")
        check_range("eps", eps, 0.0, hint="ε is usually 1e-8")
        check_range("weight_decay", weight_decay, 0.0)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def step(self, closure: Callable | None = None):
        loss = self._eval_closure(closure)
        decoupled = self._decoupled
        state = self.state
        for group in self.param_groups:
            lr, (b1, b2), eps, ams = group["lr"], group["betas"], group["eps"], group["amsgrad"]
            wd, maximize = group["weight_decay"], group["maximize"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g = grad.data
                if maximize:
                    g = -g
                if wd:
                    if decoupled:
                        p.data *= 1 - lr * wd
                    else:
                        g = g + wd * p.data
                st = state.get(p)
                if not st:
                    st = state[p] = {"step": 0, "exp_avg": np.zeros_like(p.data),
                                     "exp_avg_sq": np.zeros_like(p.data)}
                    if ams:
                        st["max_exp_avg_sq"] = np.zeros_like(p.data)
                st["step"] += 1
                t = st["step"]
                m, v = st["exp_avg"], st["exp_avg_sq"]
                vm = st["max_exp_avg_sq"] if ams else None
                w = p.data
                coef = (b1, b2, eps, (1 - b2 ** t) ** 0.5, lr / (1 - b1 ** t))
                n = w.size
                if n <= 4 * _CHUNK or not all(a.flags.c_contiguous for a in (w, g, m, v)):
                    _adam_update(w, g, m, v, vm, coef)
                else:
                    # large tensors in cache-sized chunks: the ~12 passes of the update then run on data
                    # in L2 instead of streaming the whole tensor through memory each time (same
                    # element-wise operations, so the same numbers)
                    wf, gf, mf, vf = w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1)
                    vmf = vm.reshape(-1) if ams else None
                    for i in range(0, n, _CHUNK):
                        sl = slice(i, i + _CHUNK)
                        _adam_update(wf[sl], gf[sl], mf[sl], vf[sl], vmf[sl] if ams else None, coef)
                p._version += 1
        return loss
