"""Curse of dimensionality: polynomial coefficient counts and the Gaussian shell (spec: THEORY-CURSE-DIM).

For x ~ N(0, I_D) the radius concentrates at √(D − 1) with spread ≈ 1/√2 for every D; near the mode
log p(r* + ε) − log p(r*) ≈ −ε²/σ² (erratum: not −3ε²/2σ²).
Run: python examples/theory/curse_dim.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save

from chainrule.theory import (
    gaussian_radius_logpdf,
    gaussian_radius_mode,
    polynomial_coefficient_count,
    sample_gaussian_radii,
    shell_statistics,
)


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__)
    import matplotlib.pyplot as plt

    n = 5000 if args.quick else 20000
    dims = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    st = shell_statistics(dims, n=n)
    coef = {f"D={D}": {f"M={M}": polynomial_coefficient_count(D, M) for M in (2, 3, 5)} for D in (1, 2, 10, 100, 1000)}
    rs = gaussian_radius_mode(1000)
    curv = {f"eps={e}": float(gaussian_radius_logpdf(rs + e, 1000) - gaussian_radius_logpdf(rs, 1000))
            for e in (0.1, 0.5, 1.0)}
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    for D in (2, 10, 100, 1000):
        r = sample_gaussian_radii(D, n, seed=1)
        ax[0].hist(r / np.sqrt(D), bins=80, density=True, alpha=0.45, label=f"D = {D}")
        t = np.linspace(1e-3, 2.5, 800)
        ax[0].plot(t, np.exp(gaussian_radius_logpdf(t * np.sqrt(D), D)) * np.sqrt(D), "k", lw=0.8)
    ax[0].set(xlabel="r / √D", title="radius of N(0, I_D) samples (exact density in black)")
    ax[0].legend(fontsize=8)
    ax[1].semilogx(dims, st["std_r"], "o-", label="std of r")
    ax[1].semilogx(dims, st["mean_r_over_sqrtD"], "s-", label="mean r / √D")
    ax[1].axhline(1 / np.sqrt(2), color="gray", ls=":", label="1/√2")
    ax[1].set(xlabel="dimension D", title="the shell: radius ≈ √D, width ≈ 0.71")
    ax[1].legend(fontsize=8)
    Ds = np.arange(1, 101)
    for M in (2, 3, 5):
        ax[2].semilogy(Ds, [polynomial_coefficient_count(int(D), M) for D in Ds], label=f"degree ≤ {M}")
    ax[2].set(xlabel="variables D", ylabel="coefficients C(D+M, M)", title="polynomial bases explode")
    ax[2].legend(fontsize=8)
    return save(args, "curse_dim", fig, {
        "samples": n, "dims": dims, "mean_r_over_sqrtD": st["mean_r_over_sqrtD"], "std_r": st["std_r"],
        "coefficient_counts": coef, "log_p_drop_at_mode_D1000": curv,
        "spec_check": bool(np.all(np.abs(st["mean_r_over_sqrtD"][np.array(dims) >= 100] - 1) < 0.01)
                           and np.all((st["std_r"][np.array(dims) >= 10] >= 0.65)
                                      & (st["std_r"][np.array(dims) >= 10] <= 0.75)))}, seconds_digits=2)


if __name__ == "__main__":
    main()
