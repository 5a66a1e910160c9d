"""Hand-made nonlinearity vs learned features on two rings (spec: THEORY-POLAR-FEATURES).

Logistic regression on (x₁, x₂) stays near chance; on (r, θ) = (‖x‖, atan2(x₂, x₁)) it is almost
perfect; an MLP(2, 16, 1) learns a suitable feature from the raw inputs.
Run: python examples/theory/polar_features.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save
from tqdm import trange

import chainrule as cr
from chainrule import nn
from chainrule.classic import LogisticRegression
from chainrule.theory import make_rings, polar_features
from chainrule.train.model_selection import train_test_split


def train_mlp(X, y, steps, seed=0):
    g = cr.Generator(seed)
    net = nn.Sequential(nn.Linear(2, 16, dtype=np.float64, generator=g), nn.Tanh(),
                        nn.Linear(16, 1, dtype=np.float64, generator=g))
    opt = cr.optim.Adam(net.parameters(), lr=0.05)
    Xt, yt = cr.Tensor(X), cr.Tensor(y[:, None].astype(float))
    for _ in trange(steps, desc="MLP(2,16,1)", leave=False):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(net(Xt), yt)
        loss.backward()
        opt.step()
    return net


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__)
    import matplotlib.pyplot as plt

    X, y = make_rings(500, radii=(1.0, 2.0), noise=0.1, seed=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    raw = LogisticRegression().fit(Xtr, ytr)
    polar = LogisticRegression(alpha=1e-3).fit(polar_features(Xtr), ytr)
    net = train_mlp(Xtr, ytr, 150 if args.quick else 500)
    mlp_pred = lambda Z: (net(cr.Tensor(Z)).data[:, 0] > 0).astype(int)
    acc = {
        "logistic_raw": (raw.score(Xtr, ytr), raw.score(Xte, yte)),
        "logistic_polar": (polar.score(polar_features(Xtr), ytr), polar.score(polar_features(Xte), yte)),
        "mlp_2_16_1_raw": (float(np.mean(mlp_pred(Xtr) == ytr)), float(np.mean(mlp_pred(Xte) == yte))),
    }
    g = np.linspace(-2.8, 2.8, 300)
    XX, YY = np.meshgrid(g, g)
    Z = np.stack([XX.ravel(), YY.ravel()], 1)
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.4))
    preds = [raw.predict(Z), polar.predict(polar_features(Z)), mlp_pred(Z)]
    names = ["logistic on (x₁, x₂)", "logistic on (r, θ)", "MLP(2,16,1) on (x₁, x₂)"]
    for a, p, name, key in zip(ax, preds, names, acc):
        a.contourf(XX, YY, p.reshape(XX.shape), levels=[-0.5, 0.5, 1.5], colors=["#cde", "#fdc"])
        a.scatter(Xte[:, 0], Xte[:, 1], c=yte, s=5, cmap="coolwarm")
        a.set_title(f"{name}\ntest accuracy {acc[key][1]:.3f}", fontsize=9)
        a.set_aspect("equal")
    return save(args, "polar_features", fig, {
        "accuracy_train_test": acc,
        "spec_check": bool(acc["logistic_raw"][0] < 0.70 and acc["logistic_polar"][0] >= 0.99
                           and acc["mlp_2_16_1_raw"][0] >= 0.99)}, seconds_digits=2)


if __name__ == "__main__":
    main()
