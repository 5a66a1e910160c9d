"""Receptive fields of conv/pool stacks: the formula r_l = r_{l−1} + (k_l − 1)d_l j_{l−1} against a
measurement by backpropagation (spec: RF-RECEPTIVE-FIELD).

Each stack is built with chainrule.nn.Conv2d / AvgPool2d, weights 1, biases 0, identity activations;
the support of ∂(central output)/∂x is measured and compared with the computed r.
Run: python examples/theory/receptive_field.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import parse_args, save

from chainrule import nn
from chainrule.theory import measure_receptive_field, receptive_field

STACKS = {
    "3×3 conv ×4": [("conv", 3, 1, 1)] * 4,
    "TF-CNN: conv5-pool2-conv5-pool2": [("conv", 5, 1, 1), ("pool", 2), ("conv", 5, 1, 1), ("pool", 2)],
    "LeNet-5 convs: conv5-pool2-conv5-pool2-conv5": [("conv", 5, 1, 1), ("pool", 2), ("conv", 5, 1, 1),
                                                     ("pool", 2), ("conv", 5, 1, 1)],
    "dilated 3×3, d = 1, 2, 4, 8": [("conv", 3, 1, 1), ("conv", 3, 1, 2), ("conv", 3, 1, 4), ("conv", 3, 1, 8)],
    "strided: conv3/s2 ×3": [("conv", 3, 2, 1)] * 3,
}


def build(spec):
    layers = []
    for item in spec:
        if item[0] == "conv":
            _, k, s, d = item
            layers.append(nn.Conv2d(1, 1, k, stride=s, dilation=d))
        else:
            layers.append(nn.AvgPool2d(item[1]))
    model = nn.Sequential(*layers).to(np.float64)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.data[...] = 1.0
            m.bias.data[...] = 0.0
    return model


def main(argv=None) -> dict:
    args = parse_args(__doc__, argv, script=__file__)
    import matplotlib.pyplot as plt

    stacks = dict(list(STACKS.items())[:3]) if args.quick else STACKS
    rows, grads = [], {}
    for name, spec in stacks.items():
        model = build(spec)
        rf = receptive_field(model)
        r = rf[-1][0]
        size = max(64, 2 * r + 8)
        widths, g = measure_receptive_field(model, (1, 1, size, size))
        rows.append({"stack": name, "r_per_layer": [x[0] for x in rf], "jump": rf[-1][1], "measured": widths[0],
                     "match": widths == (r, r)})
        grads[name] = g
    fig, ax = plt.subplots(1, len(grads), figsize=(4 * len(grads), 4))
    for a, (name, g) in zip(np.atleast_1d(ax), grads.items()):
        a.imshow(g > 0, cmap="Greys", interpolation="nearest")
        r = next(x for x in rows if x["stack"] == name)
        a.set_title(f"{name}\nr = {r['r_per_layer'][-1]}, measured {r['measured']}", fontsize=8)
        a.set_xticks([])
        a.set_yticks([])
    return save(args, "receptive_field", fig, {"stacks": rows, "all_match": all(x["match"] for x in rows)},
                seconds_digits=2)


if __name__ == "__main__":
    main()
