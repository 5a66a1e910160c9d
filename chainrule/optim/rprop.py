"""Resilient propagation: per-weight step sizes driven by gradient signs only."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizer import Optimizer, check_lr

_VARIANTS = ("irprop-", "rprop-", "rprop+", "irprop+")


class Rprop(Optimizer):
    r"""Rprop (Riedmiller & Braun 1993) and its variants.  (spec: OPT-RPROP)  Meant for full batches.

    Per weight: step Δ (init Δ₀ = ``lr``), previous gradient g_prev (init 0), p = g·g_prev:

        Δ ← min(η⁺Δ, Δmax) if p > 0,   max(η⁻Δ, Δmin) if p < 0,   unchanged if p = 0

    then (w += Δw, keep Δw_prev):

    - ``'irprop-'`` (PyTorch, default): Δ is clamped to [Δmin, Δmax] also when p = 0; if p < 0 set
      g := 0 (no move this step); Δw = −sign(g)Δ; g_prev := g.
    - ``'rprop-'`` (no backtracking): Δw = −sign(g)Δ always; g_prev := g.
    - ``'rprop+'`` (weight backtracking): p < 0: Δw = −Δw_prev, g_prev := 0; else Δw = −sign(g)Δ,
      g_prev := g.
    - ``'irprop+'`` (Igel & Hüsken): p < 0: Δw = −Δw_prev only if R⁽ᵗ⁾ > R⁽ᵗ⁻¹⁾ (needs
      ``step(closure)``), else 0, and g_prev := 0; otherwise as rprop-.

    Constants η⁺ = 1.2, η⁻ = 0.5 (``etas=(η⁻, η⁺)``), Δmin = 1e-6, Δmax = 50 (``step_sizes``);
    Riedmiller–Braun recommend Δ₀ = 0.1 (PyTorch's default 0.01 is kept).  Only signs are used, so
    scaling the loss leaves every trajectory unchanged.  Erratum N8: the notes' backtracking omits the
    reset g_prev := 0 (without it Δ shrinks twice); their "backtracking is unnecessary" describes rprop-.
    """

    def __init__(self, params, lr: float = 1e-2, etas: tuple = (0.5, 1.2), step_sizes: tuple = (1e-6, 50),
                 variant: str = "irprop-", maximize: bool = False):
        check_lr(lr)
        if len(etas) != 2 or not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"invalid etas {etas!r}: need 0 < η⁻ < 1 < η⁺, e.g. etas=(0.5, 1.2)")
        if len(step_sizes) != 2 or not 0.0 <= step_sizes[0] <= step_sizes[1]:
            raise ValueError(f"invalid step_sizes {step_sizes!r}: need 0 <= Δmin <= Δmax, e.g. (1e-6, 50)")
        if variant not in _VARIANTS:
            raise ValueError(f"unknown Rprop variant {variant!r}: use one of {', '.join(_VARIANTS)}")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), variant=variant,
                                      maximize=maximize))

    def step(self, closure: Callable | None = None):
        loss = self._eval_closure(closure)
        needs_loss = any(g["variant"] == "irprop+" for g in self.param_groups)
        worse = False
        if needs_loss:
            if loss is None:
                raise RuntimeError("Rprop(variant='irprop+') compares R⁽ᵗ⁾ with R⁽ᵗ⁻¹⁾: call step(closure) with a "
                                   "closure that computes the loss, calls backward() and returns the loss")
            gst = self.state.setdefault(self.param_groups[0]["params"][0], {})
            cur = self._sign() * float(loss)
            prev = gst.get("prev_loss")
            worse = prev is not None and cur > prev
            gst["prev_loss"] = cur
        for group in self.param_groups:
            (eminus, eplus), (smin, smax), variant = group["etas"], group["step_sizes"], group["variant"]
            for p in self._params_with_grad(group):
                g = self._grad(p, group)
                st = self.state.get(p)
                if not st or "step_size" not in st:
                    st = self.state.setdefault(p, {})
                    st.update(step=0, prev=np.zeros_like(p.data),
                              step_size=np.broadcast_to(np.asarray(group["lr"], dtype=p.dtype), p.shape).copy(),
                              prev_delta=np.zeros_like(p.data))
                st["step"] += 1
                s = np.sign(g * st["prev"])
                step = st["step_size"]
                if variant == "irprop-":
                    factor = np.where(s > 0, eplus, np.where(s < 0, eminus, 1.0)).astype(p.dtype)
                    step *= factor
                    np.clip(step, smin, smax, out=step)
                    g = np.where(s < 0, 0, g).astype(p.dtype)
                    delta = -(np.sign(g) * step)
                    st["prev"] = g
                else:
                    pos, neg = s > 0, s < 0
                    step[pos] = np.minimum(step[pos] * eplus, smax)
                    step[neg] = np.maximum(step[neg] * eminus, smin)
                    delta = -(np.sign(g) * step)
                    if variant == "rprop-":
                        st["prev"] = np.array(g, copy=True)
                    else:
                        if variant == "rprop+":
                            delta[neg] = -st["prev_delta"][neg]
                        else:  # irprop+
                            delta[neg] = -st["prev_delta"][neg] if worse else 0
                        st["prev"] = np.where(neg, 0, g).astype(p.dtype)
                st["prev_delta"] = delta
                p.data += delta
                p._version += 1
        return loss
