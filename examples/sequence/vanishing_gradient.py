"""Vanishing gradients through time: plain (tanh) RNN vs LSTM vs GRU.  (spec: RNN-BPTT, RNN-LSTM)

For sequence lengths T = 5 … 200, random inputs x_1..x_T (N(0, 1), 16 features, batch 32) and a loss
L = ⟨v, h_T⟩ on the last hidden state only (v random, fixed), we measure the gradient reaching the
*first* input, ‖∂L/∂x_1‖ (mean over the batch and 5 seeds), at PyTorch's initialisation
U(±1/√H), hidden 64.  Backpropagation through time multiplies T Jacobians ∂h_t/∂h_{t−1} = diag(φ')W_hh:
for the tanh RNN they are contractive and the gradient decays geometrically in T; the LSTM's cell path
∂c_t/∂c_{t−1} = diag(f) is not squashed, so the decay is much slower — and slower still with
``forget_bias = 1`` (f ≈ σ(1) ≈ 0.73 → near 1 after training; the "constant error carousel").

Also checked: the spec's two demos — tanh RNN with W_hh = 0.5·I and zero input weights:
‖∂h_T/∂h_0‖ ≤ 0.5^T; LSTM with all weights 0 and b_f = +20: ∂c_T/∂c_0 ≥ 0.999 at T = 100.

Writes docs/sequence/vanishing_gradient.{png,json}.
Run: python examples/sequence/vanishing_gradient.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save
from tqdm import tqdm

import chainrule as cr
from chainrule import nn
from chainrule.autodiff import jacobian


def grad_first_input(model, T: int, seed: int, F: int = 16, N: int = 32) -> float:
    rng = np.random.default_rng(seed)
    x = cr.Tensor(rng.standard_normal((T, N, F)), requires_grad=True)
    v = cr.Tensor(rng.standard_normal(model.hidden_size))
    _, h = model(x)
    h = h[0] if isinstance(h, tuple) else h
    (h[-1] * v).sum().backward()
    return float(np.linalg.norm(x.grad.data[0], axis=1).mean())


def spec_demos() -> dict:
    T, H = 30, 4
    rnn = nn.RNN(2, H, bias=False, dtype=np.float64)
    with cr.no_grad():
        rnn.weight_ih_l0.data[...] = 0.0
        rnn.weight_hh_l0.data[...] = 0.5 * np.eye(H)
    x = cr.Tensor(np.random.default_rng(0).standard_normal((T, 1, 2)))
    J = jacobian(lambda h: rnn(x, h)[1], cr.Tensor(np.random.default_rng(1).standard_normal((1, 1, H)))).data
    rnn_norm = float(np.linalg.norm(J.reshape(H, H), 2))
    lstm = nn.LSTM(2, 3, dtype=np.float64)
    with cr.no_grad():
        for p in lstm.parameters():
            p.data[...] = 0.0
        lstm.bias_ih_l0.data[3:6] = 20.0
    x = cr.Tensor(np.random.default_rng(0).standard_normal((100, 1, 2)))
    h0 = cr.Tensor(np.zeros((1, 1, 3)))
    Jc = jacobian(lambda c: lstm(x, (h0, c))[1][1], cr.Tensor(np.ones((1, 1, 3)))).data.reshape(3, 3)
    return {"rnn_T": T, "rnn_norm_dhT_dh0": rnn_norm, "rnn_bound_0.5^T": 0.5 ** T,
            "lstm_T": 100, "lstm_min_diag_dcT_dc0": float(np.diag(Jc).min())}


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__, seed=True)
    import matplotlib.pyplot as plt
    lengths = [5, 10, 20, 50] if args.quick else [5, 10, 20, 35, 50, 75, 100, 150, 200]
    seeds = range(2) if args.quick else range(5)
    H = 64
    models = {
        "RNN (tanh)": lambda s: nn.RNN(16, H, dtype=np.float64, generator=cr.Generator(s)),
        "LSTM": lambda s: nn.LSTM(16, H, dtype=np.float64, generator=cr.Generator(s)),
        "LSTM, forget_bias=1": lambda s: nn.LSTM(16, H, forget_bias=1.0, dtype=np.float64, generator=cr.Generator(s)),
        "GRU": lambda s: nn.GRU(16, H, dtype=np.float64, generator=cr.Generator(s)),
    }
    norms = {k: [] for k in models}
    for T in tqdm(lengths, desc="sequence length", unit="T"):
        for name, mk in models.items():
            norms[name].append(float(np.mean([grad_first_input(mk(s), T, 100 * s + T) for s in seeds])))
    rates = {}
    for name, v in norms.items():
        v = np.asarray(v)
        good = v > 0
        slope = np.polyfit(np.asarray(lengths)[good], np.log(v[good]), 1)[0] if good.sum() > 1 else float("nan")
        rates[name] = {"decay_per_step": float(np.exp(slope)), "norm_at_T_min": float(v[0]),
                       "norm_at_T_max": float(v[-1])}
    demos = spec_demos()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, v in norms.items():
        ax.semilogy(lengths, v, "o-", label=f"{name} (×{rates[name]['decay_per_step']:.3f}/step)")
    ax.set(xlabel="sequence length T", ylabel="‖∂L/∂x₁‖  (loss on h_T)",
           title="gradient reaching the first input, at initialisation (hidden 64)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return save(args, "vanishing_gradient", fig,
                {"lengths": lengths, "hidden": H, "seeds": len(list(seeds)), "grad_norm_first_input": norms,
                 "geometric_rates": rates, "spec_demos": demos,
                 **{f"{k}: decay/step": r["decay_per_step"] for k, r in rates.items()}})


if __name__ == "__main__":
    main()
