"""Regularization results (spec 02 chapter 8; spec 03 row 19): dropout rates and the weight-halving rule,
Monte-Carlo dropout, Weigend's threshold, OBD/OBS pruning (the spec's fixture and OBS's γ), the FMS
precision example and the temperature of SGD (examples/regularization/sgd_temperature.py, run here).

    python examples/reproduce/regularization.py [--quick]
"""

from __future__ import annotations

import inspect
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/: _shared.py

import numpy as np
from _shared import read_json
from reproduce_common import Task, missing_row, row, run_script, standalone

S02 = "spec 02, reference results (ch. 8)"
S03 = "spec 03, reference results"


def compute(settings: dict, ctx) -> dict:
    import chainrule as cr
    from chainrule import nn
    from chainrule.regularize import mc_predict, prune, sgd_temperature, weight_elimination_penalty
    out: dict = {}
    n = settings["samples"]
    # dropout: default p (drop) = 0.5 for hidden units; input keep 0.9 ⇒ p = 0.1
    out["dropout_default_p"] = nn.Dropout().p
    d = nn.Dropout(0.1, generator=cr.Generator(0))
    d.train()
    y = d(cr.Tensor(np.ones(n))).data
    out["dropout_p0.1"] = {"kept": float((y != 0).mean()), "value": float(y[y != 0][0])}
    # spec 03 row 19: rate ½, weights halved after training — weight_scaling eval = next layer's weights × ½
    g = cr.Generator(1)
    body = nn.Sequential(nn.Linear(20, 50, dtype=np.float64, generator=g), nn.ReLU())
    head = nn.Linear(50, 3, dtype=np.float64, generator=g)
    x = cr.Tensor(np.random.default_rng(2).standard_normal((8, 20)))
    net_ws = nn.Sequential(body, nn.Dropout(0.5, mode="weight_scaling"), head)
    net_ws.eval()
    with cr.no_grad():
        y_ws = net_ws(x).data
        halved = nn.Linear(50, 3, dtype=np.float64)
        halved.weight.data[...] = 0.5 * head.weight.data
        halved.bias.data[...] = head.bias.data
        y_half = halved(body(x)).data
        net_inv = nn.Sequential(body, nn.Dropout(0.5, generator=cr.Generator(3)), head)
        net_inv.train()
        reps = settings["dropout_passes"]
        y_mean = sum(net_inv(x).data for _ in range(reps)) / reps
        net_inv.eval()
        y_eval = net_inv(x).data
    out["weight_halving"] = {"max_abs_diff": float(np.abs(y_ws - y_half).max()),
                             "train_mean_vs_eval": float(np.abs(y_mean - y_eval).max() / np.abs(y_eval).max()),
                             "passes": reps}
    # Monte-Carlo dropout: error of the MC mean vs the number of passes
    lin = nn.Sequential(nn.Dropout(0.5, generator=cr.Generator(4)), nn.Linear(20, 1, dtype=np.float64,
                                                                              generator=cr.Generator(5)))
    x1 = cr.Tensor(np.random.default_rng(6).standard_normal((200, 20)))
    lin.eval()
    with cr.no_grad():
        exact = lin(x1).data
    errs = {}
    for k in (10, 100, 1000):
        mean, _ = mc_predict(lin, x1, n_samples=k)
        errs[str(k)] = float(np.sqrt(np.mean((mean.data - exact) ** 2)))
    out["mc_dropout"] = {"rmse": errs,
                         "default_n_samples": inspect.signature(mc_predict).parameters["n_samples"].default}
    # Weigend weight elimination threshold w0 = 0.2: Ω = ½ per weight at |w| = w0
    out["weigend_default_w0"] = inspect.signature(weight_elimination_penalty).parameters["w0"].default
    out["weigend_omega_at_w0"] = float(weight_elimination_penalty([cr.Tensor(np.array([0.2, -0.2]))]).data) / 2
    # OBD / OBS on the spec's fixture: H, w*
    H = np.array([[4.0, 1.8, 0.0], [1.8, 1.0, 0.2], [0.0, 0.2, 2.0]])
    w = np.array([1.0, 0.5, -0.3])
    s_obd = prune.obd_saliencies(w, np.diag(H))
    Hinv = np.linalg.inv(H)
    L_obs = prune.obs_saliencies(w, Hinv)
    q = int(np.argmin(L_obs))
    gamma = inspect.signature(prune.obs).parameters["gamma"].default
    w_new, Hinv_new, inc = prune.obs_remove(w, Hinv, q, gamma=gamma)
    dw = w_new - w
    keep = [i for i in range(3) if i != q]
    out["obd"] = {"saliencies": s_obd, "removes": int(np.argmin(s_obd)) + 1,
                  "true_increase": float(0.5 * w[np.argmin(s_obd)] ** 2 * H[np.argmin(s_obd), np.argmin(s_obd)])}
    out["obs"] = {"saliencies": L_obs, "removes": q + 1, "new_w": w_new, "predicted_increase": inc,
                  "exact_increase": float(0.5 * dw @ H @ dw), "gamma_default": gamma,
                  "inverse_update_error": float(np.abs(Hinv_new[np.ix_(keep, keep)]
                                                       - np.linalg.inv(H[np.ix_(keep, keep)])).max())}
    # FMS precision example: a value written with d decimals stands for an interval of width 10^-d
    out["fms_precision"] = [{"value": v, "interval": [round(v - 0.5 * 10 ** -dd, dd + 1),
                                                      round(v + 0.5 * 10 ** -dd, dd + 1)],
                             "width": 10 ** -dd, "bits": math.log2(10 ** dd)} for v, dd in ((1.5, 1), (1.233, 3))]
    out["temperature"] = {"eta_0.1_b_32": sgd_temperature(0.1, 32), "eta_0.1_b_32_n_64": sgd_temperature(0.1, 32, n=64),
                          "eta_0.05_b_4": sgd_temperature(0.05, 4), "eta_0.1_b_8_n_1000": sgd_temperature(0.1, 8, 1000)}
    return out


def temperature_experiment(settings: dict, ctx) -> dict:
    """examples/regularization/sgd_temperature.py: 2 × chains SGD chains per (η, b) in a double well."""
    wd = ctx.workdir()
    run = run_script("examples/regularization/sgd_temperature.py", (["--quick"] if settings["quick"] else [])
                     + ["--out", str(wd)], timeout=3600)
    name = "sgd_temperature_quick.json" if settings["quick"] else "sgd_temperature.json"
    return {"script": read_json(wd / name), "script_seconds": run["seconds"]}


def tasks(quick: bool) -> list[Task]:
    return [Task("regularization", compute, {"samples": 200_000 if quick else 1_000_000,
                                             "dropout_passes": 2000 if quick else 20000}, est_s=15),
            Task("sgd-temperature", temperature_experiment, {"quick": quick}, est_s=40 if quick else 480)]


def rows(res: dict, quick: bool) -> list[dict]:
    out = []
    if "regularization" not in res:
        return [missing_row("02-R", "regularization constants", source=S02, tasks=["regularization"])]
    c = res["regularization"]
    T = ["regularization"]
    dp = c["dropout_p0.1"]
    out.append(row("02-R1", "dropout keep probability 0.5 (hidden), 0.9 (input)", "0.5, 0.9",
                   f"Dropout() drops p = {c['dropout_default_p']} (keep 0.5); Dropout(0.1) keeps {dp['kept']:.4f} "
                   f"of 10⁶ units, scaled by {dp['value']:.6f} = 1/0.9", c["dropout_default_p"] == 0.5
                   and abs(dp["kept"] - 0.9) < 0.002 and abs(dp["value"] - 1 / 0.9) < 1e-6, source=S02,
                   spec=["REG-DROPOUT-MODES"], tasks=T, tolerance="±0.002",
                   note="erratum N10: the notes' p is the keep probability, the library's drops"))
    wh = c["weight_halving"]
    out.append(row("03-19", "dropout rate ½ on hidden units; weights halved after training",
                   "rate ½; weights halved",
                   f"weight_scaling eval = next weights × ½: max |Δ| = {wh['max_abs_diff']:.1e}; inverted-mode mean "
                   f"of {wh['passes']:,} training passes vs eval: {100 * wh['train_mean_vs_eval']:.2f}%",
                   wh["max_abs_diff"] < 1e-12 and wh["train_mean_vs_eval"] < 0.05, source=S03,
                   spec=["REG-DROPOUT", "REG-DROPOUT-MODES"], tasks=T,
                   tolerance="1e-12; MC mean within 5% (exact in expectation through the linear map)"))
    mc = c["mc_dropout"]["rmse"]
    out.append(row("02-R2", "MC dropout uses hundreds to thousands of passes", "10²–10³ passes",
                   f"RMSE of the MC mean vs the exact mean: {mc['10']:.4f} (10), {mc['100']:.4f} (100), "
                   f"{mc['1000']:.4f} (1,000) — ∝ n^(−½); mc_predict default n = "
                   f"{c['mc_dropout']['default_n_samples']}",
                   mc["10"] / mc["1000"] > 5, source=S02, spec=["REG-MC-DROPOUT"], tasks=T,
                   tolerance="error ratio between 10 and 1,000 passes ≈ √100 = 10 (> 5)",
                   note="linear model (exact mean known); the pass count trades cost for accuracy"))
    out.append(row("02-R3", "Weigend weight elimination threshold", "w₀ = 0.2",
                   f"default w0 = {c['weigend_default_w0']}; Ω per weight at |w| = w₀: {c['weigend_omega_at_w0']:.6g}",
                   c["weigend_default_w0"] == 0.2 and abs(c["weigend_omega_at_w0"] - 0.5) < 1e-12, source=S02,
                   spec=["REG-WEIGHT-ELIM"], tasks=T, tolerance="exact"))
    ob, os_ = c["obd"], c["obs"]
    out.append(row("02-R4", "OBS correction limit γ", "γ = 0.5", f"prune.obs default gamma = {os_['gamma_default']}",
                   os_["gamma_default"] == 0.5, source=S02, spec=["REG-OBS"], tasks=T, tolerance="exact"))
    s = ob["saliencies"]
    out.append(row("02-R5", "pruning fixture (H, w* = (1, 0.5, −0.3)): OBD saliencies, removed weight",
                   "s = (2, 0.125, 0.09) → w₃, increase 0.09",
                   f"s = ({s[0]:g}, {s[1]:g}, {s[2]:g}) → w{ob['removes']}, increase {ob['true_increase']:g}",
                   np.allclose(s, [2, 0.125, 0.09], atol=1e-12) and ob["removes"] == 3, source="spec 02, REG-OBD check",
                   spec=["REG-OBD"], tasks=T, tolerance="1e-12"))
    L = os_["saliencies"]
    nw = os_["new_w"]
    out.append(row("02-R6", "same fixture: OBS saliencies, removed weight, corrected w, increase",
                   "L = (0.3469387755, 0.02125, 0.0805263158) → w₂, w = (1.225, 0, −0.25), 0.02125",
                   f"L = ({L[0]:.10f}, {L[1]:.5f}, {L[2]:.10f}) → w{os_['removes']}, w = ({nw[0]:.6g}, {nw[1]:g}, "
                   f"{nw[2]:.6g}), predicted {os_['predicted_increase']:.6g} = exact {os_['exact_increase']:.6g}; "
                   f"inverse update error {os_['inverse_update_error']:.1e}",
                   np.allclose(L, [0.3469387755, 0.02125, 0.0805263158], atol=1e-10) and os_["removes"] == 2
                   and np.allclose(nw, [1.225, 0, -0.25], atol=1e-12)
                   and abs(os_["predicted_increase"] - os_["exact_increase"]) < 1e-12,
                   source="spec 02, REG-OBS check", spec=["REG-OBS"], tasks=T, tolerance="1e-10",
                   note="OBS removes w₂ where OBD removes w₃: OBS's compensating update makes w₂ cheap"))
    fp = c["fms_precision"]
    out.append(row("02-R7", "FMS precision example: interval width ↔ digits",
                   "1.5 ↔ [1.45, 1.55] (0.1); 1.233 ↔ [1.2325, 1.2335] (0.001)",
                   "; ".join(f"{e['value']} ↔ [{e['interval'][0]}, {e['interval'][1]}] ({e['width']:g}, "
                             f"{e['bits']:.2f} bits)" for e in fp),
                   fp[0]["interval"] == [1.45, 1.55] and fp[1]["interval"] == [1.2325, 1.2335], source=S02,
                   spec=["REG-FMS"], tasks=T, tolerance="exact",
                   note="a flat minimum tolerates wide weight intervals, i.e. weights needing few bits"))
    tt = c["temperature"]
    out.append(row("02-R8", "SGD steady-state temperature β⁻¹ = η/(2b); without replacement × (1 − b/N)",
                   "η/(2b), (η/(2b))(1 − b/N)",
                   f"sgd_temperature(0.1, 32) = {tt['eta_0.1_b_32']:g}, with n = 64: {tt['eta_0.1_b_32_n_64']:g}",
                   abs(tt["eta_0.1_b_32"] - 0.0015625) < 1e-15 and abs(tt["eta_0.1_b_32_n_64"] - 0.00078125) < 1e-15,
                   source=S02, spec=["REG-SGD-TEMPERATURE"], tasks=T, tolerance="exact (spec check values)"))
    if "sgd-temperature" in res:
        sc = res["sgd-temperature"]["script"]
        rs = sc["rows"]
        mixed = [r for r in rs if r.get("mixed")]
        dev = max((abs(r["wide_fraction_sgd"] - r["wide_fraction_gibbs"]) for r in mixed), default=float("nan"))
        desc = "; ".join(f"η={r['lr']} b={r['batch']} (β⁻¹ = {r['temperature']:g}): {r['wide_fraction_sgd']:.3f} vs "
                         f"{r['wide_fraction_gibbs']:.3f}" for r in mixed)
        pairs = {}
        for r in mixed:
            pairs.setdefault(round(r["temperature"], 12), []).append(r["wide_fraction_sgd"])
        same = [abs(v[0] - v[1]) for v in pairs.values() if len(v) == 2]
        if same:
            desc += f"; same η/b, different b: max difference {max(same):.3f}"
        out.append(row("02-R9", "SGD samples ρ ∝ exp(−Φ/β⁻¹), β⁻¹ = η/(2b): wide-basin fraction vs Gibbs "
                       "(mixed settings)", "η/(2b) sets the steady state", desc,
                       bool(mixed) and dev < 0.05, source=S02, spec=["REG-SGD-TEMPERATURE"], tasks=["sgd-temperature"],
                       tolerance="|SGD − Gibbs| < 0.05 where the chains mixed",
                       note=f"examples/regularization/sgd_temperature.py ({sc['chains']} chains × "
                            f"{sc['steps']:,} steps per start); settings whose two starts disagree did not mix "
                            "and are left out"))
    else:
        out.append(missing_row("02-R9", "SGD temperature experiment", source=S02, tasks=["sgd-temperature"]))
    return out


if __name__ == "__main__":
    standalone("regularization")
