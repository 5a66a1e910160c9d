"""Derived counts: parameter counts, feature-map sizes, receptive fields and the arithmetic the sources
quote (spec 01 reference results, spec 03 rows 5, 8, 12, 13, 17, 18, 22 and "Derived", spec 02
appendix E).  Every count is read off a chainrule module (``count_parameters``, ``summary``, a forward
pass for shapes, ``receptive_field``), not typed in.

    python examples/reproduce/counts.py [--quick]
"""

from __future__ import annotations

import numpy as np
from reproduce_common import Task, fmt, missing_row, row, standalone

S01 = "spec 01, reference results (seed 001)"
S01b = "spec 01, reference results (seed 000)"
S03 = "spec 03, reference results"


def _shape(layer, x_shape) -> tuple:
    import chainrule as cr
    with cr.no_grad():
        return tuple(layer(cr.Tensor(np.zeros(x_shape, dtype=np.float32))).shape)


def compute(settings: dict, ctx) -> dict:
    import chainrule as cr
    from chainrule import nn
    from chainrule.models import MLP, TFCNN, LeNet5, count_parameters, summary
    from chainrule.ops.conv import conv_output_size
    from chainrule.theory.receptive_field import receptive_field
    g = cr.Generator(0)
    out: dict = {}
    out["mlp_params"] = {"-".join(map(str, s)): count_parameters(MLP(s, generator=g))
                         for s in ([784, 30, 10], [784, 30, 30, 10], [784, 30, 30, 30, 10], [784, 20, 20, 10],
                                   [2, 3, 1])}
    small = MLP([2, 3, 1], generator=g)
    lins = [m for m in small.modules() if isinstance(m, nn.Linear)]
    out["mlp_2_3_1_split"] = [count_parameters(lin) for lin in lins]
    tf = TFCNN(generator=g)
    st = summary(tf, (1, 1, 28, 28))
    out["tfcnn_params"] = count_parameters(tf)
    out["tfcnn_layer_params"] = [r[3] for r in st if r[3]]
    out["tfcnn_rf"] = [list(x) for x in receptive_field(tf.features)]
    ln = LeNet5(generator=g)
    sl = summary(ln, (1, 1, 32, 32))
    out["lenet_params"] = count_parameters(ln)
    out["lenet_layers"] = [[r[0], r[1], list(r[2][1:]), r[3]] for r in sl]
    # 28×28 input, 5×5 field → 24×24; 20 shared 5×5 kernels vs a 784→30 dense layer
    out["conv_28_5"] = list(_shape(nn.Conv2d(1, 20, 5, generator=g), (1, 1, 28, 28))[2:])
    out["conv20_params"] = count_parameters(nn.Conv2d(1, 20, 5, generator=g))
    out["dense_784_30_params"] = count_parameters(nn.Linear(784, 30, generator=g))
    # 250×250×3 inputs, 1,000 hidden units (arithmetic: the layer itself would need 750 MB)
    out["rgb250_inputs"] = 250 * 250 * 3
    out["rgb250_weights_1000"] = 250 * 250 * 3 * 1000
    # 1-D: input 6, kernel 3, stride 2; 3×3 kernel on 5×5
    out["conv1d_6_3_2"] = _shape(nn.Conv1d(1, 1, 3, stride=2, generator=g), (1, 1, 6))[-1]
    out["conv_5_3"] = list(_shape(nn.Conv2d(1, 1, 3, generator=g), (1, 1, 5, 5))[2:])
    # seed 000: 200×200 image: dense unit vs 5×5 kernel connections
    out["dense_200_connections"] = int(nn.Linear(200 * 200, 1, generator=g).weight.size)
    out["kernel_5x5_connections"] = int(nn.Conv2d(1, 1, 5, bias=False, generator=g).weight.size)
    # seed 000: 3×3 input, 2×2 kernel
    c = nn.Conv2d(1, 1, 2, generator=g)
    out["conv_3_2_map"] = list(_shape(c, (1, 1, 3, 3))[2:])
    out["conv_3_2_params"] = count_parameters(c)
    # 03 #13 receptive fields of a kernel-3 stack
    out["rf_k3"] = [r for r, _ in receptive_field([(3, 1), (3, 1)])]
    # 03 #17: conv (K = 3, one channel) vs dense D → D
    D = 100
    out["conv1d_k3_params"] = count_parameters(nn.Conv1d(1, 1, 3, padding=1, generator=g))
    out["dense_DxD_weights"] = int(nn.Linear(D, D, bias=False, generator=g).weight.size)
    out["dense_D"] = D
    # 03 #18: C_i → C_o, kernel K
    ci, co, k = 3, 8, 5
    out["conv1d_multi"] = {"ci": ci, "co": co, "k": k, "params": count_parameters(nn.Conv1d(ci, co, k, generator=g)),
                           "formula": ci * co * k + co}
    # 03 #22: N filters w×h×c shared vs unshared over M windows
    conv = nn.Conv2d(3, 16, 5, generator=g)
    M = int(np.prod(_shape(conv, (1, 3, 28, 28))[2:]))
    out["shared"] = {"N": 16, "c": 3, "w": 5, "h": 5, "M": M, "shared": count_parameters(conv),
                     "unshared": M * count_parameters(conv)}
    # 03 #5: AlexNet-size GD step (source: 1.2M images × 160M DOFs × 1 flop-ish per weight)
    out["alexnet_flops"] = 1.2e6 * 160e6
    out["alexnet_flops_60M"] = 1.2e6 * 60e6
    # spec 02 appendix E: the figure examples (direct, pooling, transposed, dilated)
    direct = [(4, 3, 1, 0, 1, 2), (5, 4, 1, 2, 1, 6), (5, 3, 2, 0, 1, 2), (5, 3, 2, 1, 1, 3), (6, 3, 2, 1, 1, 3),
              (7, 3, 1, 0, 2, 3), (5, 3, 1, 1, 1, 5), (5, 3, 1, 2, 1, 7)]
    out["conv_outsize"] = []
    for i, kk, s, p, d, want in direct:
        got_shape = _shape(nn.Conv2d(1, 1, kk, stride=s, padding=p, dilation=d, generator=g), (1, 1, i, i))[-1]
        out["conv_outsize"].append({"i": i, "k": kk, "s": s, "p": p, "d": d, "expected": want,
                                    "formula": conv_output_size(i, kk, s, p, d), "conv2d": got_shape})
    trans = [(2, 3, 1, 0, 0, 4), (6, 4, 1, 2, 0, 5), (5, 3, 1, 1, 0, 5), (7, 3, 1, 2, 0, 5), (2, 3, 2, 0, 0, 5),
             (3, 3, 2, 1, 0, 5), (3, 3, 2, 1, 1, 6)]
    out["convT_outsize"] = []
    for i, kk, s, p, a, want in trans:
        got_shape = _shape(nn.ConvTranspose2d(1, 1, kk, stride=s, padding=p, output_padding=a, generator=g),
                           (1, 1, i, i))[-1]
        out["convT_outsize"].append({"i": i, "k": kk, "s": s, "p": p, "a": a, "expected": want, "convT2d": got_shape})
    pools = [(5, 3, 1, False, 3), (5, 2, 2, False, 2), (5, 2, 2, True, 3)]
    out["pool_outsize"] = []
    for i, kk, s, ceil, want in pools:
        got_shape = _shape(nn.MaxPool2d(kk, stride=s, ceil_mode=ceil), (1, 1, i, i))[-1]
        out["pool_outsize"].append({"i": i, "k": kk, "s": s, "ceil": ceil, "expected": want, "maxpool2d": got_shape})
    w = cr.Tensor(np.random.default_rng(0).standard_normal((3, 2, 3, 3)).astype(np.float32))
    out["appE_2to3_maps"] = list(cr.nn.functional.conv2d(cr.Tensor(np.ones((1, 2, 5, 5), np.float32)), w).shape)
    return out


def tasks(quick: bool) -> list[Task]:
    return [Task("counts", compute, {}, est_s=3, version=2)]


def rows(res: dict, quick: bool) -> list[dict]:
    if "counts" not in res:
        return [missing_row("01-counts", "derived counts", source=S01, tasks=["counts"])]
    c = res["counts"]
    T = ["counts"]
    mp = c["mlp_params"]
    out = []
    for i, (arch, rep) in enumerate((("784-30-10", 23860), ("784-30-30-10", 24790), ("784-30-30-30-10", 25720))):
        out.append(row(f"03-D{i + 1}", f"parameters of MLP [{arch.replace('-', ',')}]", f"{rep:,}", fmt(mp[arch]),
                       mp[arch] == rep, source=S03 + " (derived)", spec=["RECIPE-NIELSEN-MNIST", "CNN-PARAM-COUNT"],
                       tasks=T, tolerance="exact"))
    out.append(row("03-D4", "parameters of the TF CNN (conv5×5×32–pool–conv5×5×64–pool–FC1024–FC10)",
                   "3,274,634 (832 + 51,264 + 3,212,288 + 10,250)",
                   f"{c['tfcnn_params']:,} ({' + '.join(f'{v:,}' for v in c['tfcnn_layer_params'])})",
                   c["tfcnn_params"] == 3274634 and c["tfcnn_layer_params"] == [832, 51264, 3212288, 10250],
                   source=S03 + " (derived)", spec=["RECIPE-TF-CNN-MNIST", "CNN-PARAM-COUNT"], tasks=T,
                   tolerance="exact"))
    rf = c["tfcnn_rf"]
    out.append(row("03-D5", "receptive field of the TF CNN (conv5, pool2, conv5, pool2)",
                   "16 px (5, 6, 14, 16; jump 4)",
                   f"{rf[-1][0]} px ({', '.join(str(r[0]) for r in rf)}; jump {rf[-1][1]})",
                   [r[0] for r in rf] == [5, 6, 14, 16] and rf[-1][1] == 4, source=S03 + " (derived)",
                   spec=["RF-RECEPTIVE-FIELD", "RECIPE-TF-CNN-MNIST"], tasks=T, tolerance="exact",
                   note="receptive_field(TFCNN().features); measured by backprop in theory/receptive_field (below)"))
    mp_ = {L[0].split(".")[-1]: L for L in c["lenet_layers"]}
    maps = [mp_[k][2] for k in ("c1", "s2", "c3", "s4", "c5", "f6", "output")]
    params = [mp_[k][3] for k in ("c1", "s2", "c3", "s4", "c5", "f6", "output")]
    maps_s = ", ".join("×".join(map(str, (m[1], m[2], m[0]) if len(m) == 3 else m)) for m in maps)
    out.append(row("01-L1", "LeNet-5 (modified) feature maps", "28×28×6, 14×14×6, 10×10×16, 5×5×16, 120, 84, 10",
                   maps_s.replace("1×1×120", "120"),
                   maps == [[6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 5, 5], [120, 1, 1], [84], [10]], source=S01,
                   spec=["CNN-LENET5"], tasks=T, tolerance="exact", note="summary(LeNet5(), (1, 1, 32, 32))"))
    out.append(row("01-L2", "LeNet-5 parameters per layer and total",
                   "156, 0, 2,416, 0, 48,120, 10,164, (+850) = 61,706",
                   f"{', '.join(f'{p:,}' for p in params)} = {c['lenet_params']:,}",
                   params == [156, 0, 2416, 0, 48120, 10164, 850] and c["lenet_params"] == 61706, source=S01,
                   spec=["CNN-LENET5", "CNN-PARAM-COUNT"], tasks=T, tolerance="exact"))
    out.append(row("01-C1", "28×28 input, 5×5 receptive field → feature map", "24×24",
                   "×".join(map(str, c["conv_28_5"])), c["conv_28_5"] == [24, 24], source=S01,
                   spec=["CNN-CONV-OUTSIZE"], tasks=T, tolerance="exact"))
    out.append(row("01-C2", "20 shared 5×5 kernels vs a dense 784→30 layer", "520 vs 23,550 parameters",
                   f"{c['conv20_params']:,} vs {c['dense_784_30_params']:,}",
                   c["conv20_params"] == 520 and c["dense_784_30_params"] == 23550, source=S01,
                   spec=["CNN-PARAM-COUNT"], tasks=T, tolerance="exact",
                   note="both with biases: 20·(25 + 1) and 30·(784 + 1)"))
    out.append(row("01-C3", "250×250×3 image: inputs; weights into 1,000 hidden units", "≈ 200,000; ≈ 200M",
                   f"{c['rgb250_inputs']:,}; {c['rgb250_weights_1000'] / 1e6:.1f}M",
                   abs(c["rgb250_inputs"] - 2e5) / 2e5 < 0.1 and abs(c["rgb250_weights_1000"] - 2e8) / 2e8 < 0.1,
                   source=S01, spec=["CNN-PARAM-COUNT"], tasks=T, tolerance="the source rounds (187,500 → 200,000)"))
    out.append(row("01-C4", "1-D conv: input 6, kernel 3, stride 2 → outputs", "2", str(c["conv1d_6_3_2"]),
                   c["conv1d_6_3_2"] == 2, source=S01, spec=["CNN-CONV1D", "CNN-CONV-OUTSIZE"], tasks=T,
                   tolerance="exact"))
    out.append(row("01-C5", "figure 6.2: 3×3 kernel on a 5×5 input → units", "9 (3×3)",
                   f"{int(np.prod(c['conv_5_3']))} ({'×'.join(map(str, c['conv_5_3']))})", c["conv_5_3"] == [3, 3],
                   source=S01, spec=["CNN-CONV2D", "CNN-CONV-OUTSIZE"], tasks=T, tolerance="exact"))
    out.append(row("01-C6", "200×200 image: connections of a dense unit vs a 5×5 kernel",
                   "\"400\" vs \"10\" (source; correct 40,000 vs 25)",
                   f"{c['dense_200_connections']:,} vs {c['kernel_5x5_connections']}",
                   c["dense_200_connections"] == 40000 and c["kernel_5x5_connections"] == 25, source=S01b,
                   spec=["CNN-PARAM-COUNT"], tasks=T, tolerance="exact, against the corrected values",
                   note="erratum: the tutorial's 400 and 10 are the side lengths' products misprinted; 200² = 40,000 "
                        "and 5² = 25"))
    out.append(row("01-C7", "3×3 input, 2×2 kernel → map; parameters", "2×2 map (4 units, 4-pixel fields, one shared "
                   "bias)", f"{'×'.join(map(str, c['conv_3_2_map']))} map; {c['conv_3_2_params']} parameters (4 + 1)",
                   c["conv_3_2_map"] == [2, 2] and c["conv_3_2_params"] == 5, source=S01b,
                   spec=["CNN-CONV2D"], tasks=T, tolerance="exact"))
    out.append(row("03-5", "ImageNet (≈1.2M images) × AlexNet (≈160M DOFs): flops of one full GD step",
                   "≈ 2·10¹⁴", f"{c['alexnet_flops']:.2e} (1.2M × 160M; with AlexNet's real ≈60M parameters: "
                   f"{c['alexnet_flops_60M']:.1e})", abs(c["alexnet_flops"] - 2e14) / 2e14 < 0.1,
                   source=S03, tasks=T, tolerance="computed sanity check of the product (±10%)",
                   note="literature value, not reproducible here (no ImageNet, no AlexNet run); the row checks the "
                        "source's arithmetic. Spec note: AlexNet has ≈60M parameters, the source's 160M is kept."))
    out.append(row("03-8", "MNIST hypothesis class [784,20,20,10] (L = 3)", "none (illustration)",
                   f"{mp['784-20-20-10']:,} parameters, 3 weight layers", None, source=S03, spec=["MLP-FORWARD"],
                   tasks=T))
    out.append(row("03-12", "parameters of a 2-3-1 network", "13 (9 + 4)",
                   f"{mp['2-3-1']} ({c['mlp_2_3_1_split'][0]} + {c['mlp_2_3_1_split'][1]})",
                   mp["2-3-1"] == 13 and c["mlp_2_3_1_split"] == [9, 4], source=S03, spec=["SHALLOW-NET-PARAMS"],
                   tasks=T, tolerance="exact"))
    out.append(row("03-13", "receptive field of a kernel-3 conv stack", "layer 1: 3, layer 2: 5",
                   f"layer 1: {c['rf_k3'][0]}, layer 2: {c['rf_k3'][1]}", c["rf_k3"] == [3, 5], source=S03,
                   spec=["RF-RECEPTIVE-FIELD"], tasks=T, tolerance="exact"))
    D = c["dense_D"]
    out.append(row("03-17", f"conv (K = 3, 1 channel) vs dense, D = {D} inputs/outputs",
                   "3 weights + 1 bias vs D² weights",
                   f"{c['conv1d_k3_params']} vs {c['dense_DxD_weights']:,} = {D}²",
                   c["conv1d_k3_params"] == 4 and c["dense_DxD_weights"] == D * D, source=S03,
                   spec=["CONV1D-DILATED"], tasks=T, tolerance="exact"))
    m = c["conv1d_multi"]
    out.append(row("03-18", f"multi-channel conv C_i = {m['ci']} → C_o = {m['co']}, K = {m['k']}",
                   "C_i·C_o·K weights + C_o biases", f"{m['params']} = {m['ci']}·{m['co']}·{m['k']} + {m['co']}",
                   m["params"] == m["formula"], source=S03, spec=["CONV1D-DILATED"], tasks=T, tolerance="exact"))
    s = c["shared"]
    out.append(row("03-22", f"conv parameters, N = {s['N']} filters 5×5×3, M = {s['M']} windows (28×28 valid)",
                   "N(cwh+1) shared vs MN(cwh+1) unshared (1,216 vs 700,416)",
                   f"{s['shared']:,} vs {s['unshared']:,}", s["shared"] == 1216 and s["unshared"] == 700416,
                   source=S03, spec=["CONV2D-LAYER"], tasks=T, tolerance="exact"))
    ok_d = all(e["formula"] == e["expected"] == e["conv2d"] for e in c["conv_outsize"])
    ok_t = all(e["expected"] == e["convT2d"] for e in c["convT_outsize"])
    ok_p = all(e["expected"] == e["maxpool2d"] for e in c["pool_outsize"])
    out.append(row("02-E1", "appendix E figure examples: direct-conv output sizes (incl. dilated)",
                   ", ".join(str(e["expected"]) for e in c["conv_outsize"]),
                   ", ".join(str(e["conv2d"]) for e in c["conv_outsize"]), ok_d, source="spec 02, appendix E",
                   spec=["CONV-OUTSIZE", "CONV-PAD-SAME", "CONV-PAD-FULL", "CONV-DILATED"], tasks=T, tolerance="exact",
                   note="(i,k,s,p,d) = " + ", ".join(f"({e['i']},{e['k']},{e['s']},{e['p']},{e['d']})"
                                                      for e in c["conv_outsize"]) +
                   "; Conv2d forward shapes = conv_output_size; erratum N28: relationship 5 is a floor"))
    out.append(row("02-E2", "appendix E: transposed-conv output sizes",
                   ", ".join(str(e["expected"]) for e in c["convT_outsize"]),
                   ", ".join(str(e["convT2d"]) for e in c["convT_outsize"]), ok_t, source="spec 02, appendix E",
                   spec=["CONV-TRANSPOSED"], tasks=T, tolerance="exact",
                   note="(i′,k,s,p,a) = " + ", ".join(f"({e['i']},{e['k']},{e['s']},{e['p']},{e['a']})"
                                                       for e in c["convT_outsize"]) + "; erratum N30 (input size i′)"))
    out.append(row("02-E3", "appendix E: pooling output sizes (3×3/1 on 5×5; 2×2/2 on 5, floor and ceil)",
                   ", ".join(str(e["expected"]) for e in c["pool_outsize"]),
                   ", ".join(str(e["maxpool2d"]) for e in c["pool_outsize"]), ok_p, source="spec 02, appendix E",
                   spec=["POOL-OUTSIZE"], tasks=T, tolerance="exact"))
    out.append(row("02-E4", "appendix E: kernels 3×2×3×3 map 2 → 3 feature maps (5×5 input)", "3 maps of 3×3",
                   f"{c['appE_2to3_maps'][1]} maps of {c['appE_2to3_maps'][2]}×{c['appE_2to3_maps'][3]}",
                   c["appE_2to3_maps"] == [1, 3, 3, 3], source="spec 02, appendix E", spec=["CNN-CONV-VOLUME"], tasks=T,
                   tolerance="exact"))
    return out


if __name__ == "__main__":
    standalone("counts")
