"""Run every theory demo and write docs/theory/README.md from their figures and numbers.

Run: python examples/theory/run_all.py [--quick] [--readme-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOCS = ROOT / "docs" / "theory"
SCRIPTS = ["classical", "model_selection", "uat", "linear_regions", "mle_recipe", "receptive_field", "curse_dim",
           "polar_features", "shallow_params"]


def _f(v, digits=4):
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, list):
        return "[" + ", ".join(_f(x, digits) for x in v) + "]"
    return str(v)


def _table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_f(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def section(name: str, d: dict) -> str:
    cmd, secs = d.get("_command", ""), d.get("_seconds", "?")
    s = []
    if name == "classical":
        a = d["perceptron_AND"]
        dig = d["digits_softmax_regression"]
        s += ["## Classical single-layer models",
              "spec: CLS-PERCEPTRON, CLS-PERCEPTRON-BOUND, LOSS-PERCEPTRON, CLS-LOGREG-IRLS, CLS-LOGREG-GD, "
              "CLS-SOFTMAX-REG, CLS-XOR, CLS-LINREG-CLOSED", "",
              _table(["quantity", "value", "spec"], [
                  ["perceptron on AND: updates / epochs", f"{a['updates']} / {a['epochs']}", "18 / 9"],
                  ["perceptron on AND: w = (b, w₁, w₂)", a["w"], "(−4, 3, 2)"],
                  ["AND bound (R/γ*)² with u = (−3, 2, 2)/√17", a["bound_max_margin"], "51"],
                  ["max updates/(R/γ)² over margin data sets", d["perceptron_bound_ratio_max"], "≤ 1"],
                  ["logistic optimum (b, w) on the fixture", d["logreg_optimum_b_w"], "(−3.035069, 1.214028)"],
                  ["sum NLL at the optimum", d["logreg_sum_nll"], "2.477987"],
                  ["iterations IRLS / GD (η = 0.5, ‖∇‖ < 1e-10)",
                   f"{d['logreg_irls_iterations']} / {d['logreg_gd_iterations']}", "≤ 6 / many"],
                  ["XOR: least-squares predictions", d["xor_least_squares_predictions"], "0.5 everywhere"],
                  ["XOR: pocket perceptron accuracy", d["xor_pocket_accuracy"], "0.75"],
                  ["XOR: trained 2-4-1 tanh nets that solve it", d["xor_tanh_2_4_1_solved"], "≥ 18/20"],
                  ["softmax regression, embedded digits: train / test accuracy",
                   f"{dig['train_accuracy']:.4f} / {dig['test_accuracy']:.4f}", "—"],
              ])]
    elif name == "model_selection":
        cc = d["complexity_curve"]
        s += ["## Model selection", "spec: CV-COMPLEXITY-CURVE, CV-MODEL-SELECT, CV-KFOLD, LOSS-MAP-L2", "",
              f"Polynomial degrees 1–15 on a noisy sine (N = 30): training MSE non-increasing: "
              f"**{d['train_mse_non_increasing']}**, test minimum at degree **{d['best_degree']}** "
              f"(test MSE {min(cc['test_mse']):.4f}; degree 1: {cc['test_mse'][0]:.4f}, "
              f"degree 15: {cc['test_mse'][-1]:.4f}).", "",
              f"Ridge α by 10-fold CV on {len(d['ridge_alpha_cv_chosen'])} synthetic data sets (N = 80, D = 30, "
              f"σ = 1, σ_p = 0.3): MAP value α* = σ²/σ_p² = {d['ridge_alpha_map']:.2f}; median CV choice / α* = "
              f"**{d['ridge_alpha_cv_median_ratio']:.2f}**; choices {_f(d['ridge_alpha_cv_chosen'], 3)}.", "",
              "Nested CV (outer 5 folds around an inner 5-fold grid search) — the outer estimate is the honest one:",
              "",
              _table(["data set", "outer MSE (mean ± std)", "inner best MSE (optimistic)"],
                     [[i, f"{n['outer_mse']:.3f} ± {n['outer_std']:.3f}", n["inner_best_mse"]]
                      for i, n in enumerate(d["nested_cv"])]), "",
              "Results table of the last search (`GridSearchCV.results_table()`):", "", d["last_search_table"], "",
              f"MLP(64-32-10) on the embedded digits through `ModuleEstimator`, 5-fold CV accuracy "
              f"{d['digits_mlp_cv_accuracy']['mean']:.4f} ± {d['digits_mlp_cv_accuracy']['std']:.4f}; joblib (2 "
              f"processes) gives identical fold scores: {d['cv_joblib_equals_sequential']}; wall time sequential "
              f"{d['cv_seconds_sequential']:.1f} s vs joblib {d['cv_seconds_joblib_2_procs']:.1f} s (includes worker "
              "start-up; the machine is shared, so timings are indicative only)."]
    elif name == "uat":
        c = d["constructive"]
        t = d["trained"]
        s += ["## Universal approximation (constructive and trained)", "spec: THEORY-UAT-DEMO", "",
              _table(["n units", "Heaviside steps", "steep sigmoids", "ReLU interpolant", "bound K/(2n)",
                      "bound 4π²h²/8"],
                     [[n, h, g, r, 2 * 3.141592653589793 / (2 * n), 4 * 3.141592653589793**2 / n**2 / 8]
                      for n, h, g, r in zip(c["n"], c["heaviside"], c["sigmoid"], c["relu"])]), "",
              f"All constructions within their bounds: **{d['constructive_within_bounds']}** (spec calibration at "
              f"n = 10: 0.309, 0.191, 0.0489). Derivative trick max error on [−1, 1]: "
              f"{d['derivative_trick_max_error']:.2e} (< 1e-3).", "",
              _table(["D (trained MLP(1,D,1))", "best training MSE", "sup error"],
                     list(zip(t["width"], t["best_mse"], t["sup_error"]))), "",
              f"Spec check MSE(8) < MSE(2) and MSE(32) < MSE(2)/10: "
              f"**{d['trained_spec_check_mse8<mse2_and_mse32<mse2/10']}**."]
    elif name == "linear_regions":
        sh = d["shallow_1d"]
        s += ["## Linear regions of ReLU networks", "spec: THEORY-LINEAR-REGIONS", "",
              _table(["D", "max regions MLP(1,D,1)", "bound D+1", "max MLP(1,D,D,1)", "bound (D+1)²"],
                     [[D, m, b, dm if i < len(d["deep_1d"]["max"]) else "", db if i < len(d["deep_1d"]["max"]) else ""]
                      for i, (D, m, b, dm, db) in enumerate(zip(
                          sh["D"], sh["max"], sh["bound"], d["deep_1d"]["max"] + [""] * 10,
                          d["deep_1d"]["bound"] + [""] * 10))]), "",
              _table(["D (2 inputs)"] + [str(x) for x in d["shallow_2d"]["D"]],
                     [["max regions (grid)"] + d["shallow_2d"]["max"],
                      ["bound Σ C(D, j≤2)"] + d["shallow_2d"]["bound"]]),
              "",
              f"Three lines x₁ = 0, x₂ = 0, x₁ + x₂ = 1 on [−1, 2]²: **{d['three_lines_regions']}** regions "
              f"(bound {d['three_lines_bound']}). Deep sawtooth 1-3-3-1: **{d['sawtooth_regions']}** regions on "
              f"(0, 1) (> {d['sawtooth_shallow_bound_6_units']} for any shallow net with 6 units, ≤ "
              f"{d['sawtooth_deep_bound']}). All counts within the bounds: **{d['all_within_bounds']}**."]
    elif name == "mle_recipe":
        rows = [[f, r["loss"], r["W_true"], r["W_fit"], r["b_true"], r["b_fit"]] for f, r in d["families"].items()]
        c = d["constant_models_fit_vs_closed_form"]
        s += ["## Maximum-likelihood recipe", "spec: LOSS-MLE-RECIPE, LOSS-MLE-KL (losses from nn.functional)", "",
              _table(["family", "loss", "W true", "W fit", "b true", "b fit"], rows), "",
              f"N = {d['n_samples']}; largest parameter error {d['max_weight_error']:.3f} (categorical: rows relative "
              "to class 0). Constant models trained with each loss vs the closed-form MLE:", "",
              _table(["statistic", "trained", "closed form"], [[k, v[0], v[1]] for k, v in c.items()])]
    elif name == "receptive_field":
        s += ["## Receptive fields", "spec: RF-RECEPTIVE-FIELD", "",
              _table(["stack (nn.Conv2d / AvgPool2d, weights 1)", "r per layer", "final jump", "measured width"],
                     [[r["stack"], r["r_per_layer"], r["jump"], r["measured"]] for r in d["stacks"]]), "",
              f"Formula equals the gradient measurement for every stack: **{d['all_match']}**."]
    elif name == "curse_dim":
        s += ["## Curse of dimensionality", "spec: THEORY-CURSE-DIM", "",
              _table(["D"] + [str(x) for x in d["dims"]],
                     [["mean r/√D"] + d["mean_r_over_sqrtD"], ["std r"] + d["std_r"]]), "",
              f"log p(r*+ε) − log p(r*) at D = 1000: {_f(list(d['log_p_drop_at_mode_D1000'].values()))} for ε = 0.1, "
              "0.5, 1 (≈ −ε², erratum of exp(−3ε²/2σ²)). Coefficients C(D+M, M): "
              + "; ".join(f"{k}: " + ", ".join(str(c) for c in v.values()) for k, v in d["coefficient_counts"].items())
              + " (M = 2, 3, 5)"
              + f". Spec check: **{d['spec_check']}**."]
    elif name == "polar_features":
        a = d["accuracy_train_test"]
        s += ["## Polar features vs learned features", "spec: THEORY-POLAR-FEATURES", "",
              _table(["model", "train accuracy", "test accuracy"], [[k, v[0], v[1]] for k, v in a.items()]), "",
              f"Spec check (raw < 0.70, polar ≥ 0.99, MLP ≥ 0.99): **{d['spec_check']}**."]
    elif name == "shallow_params":
        s += ["## Shallow networks", "spec: SHALLOW-NET-PARAMS", "",
              _table(["model", "D(D_i+1) + D_o(D+1)", "count_params"],
                     [[k, v["formula D(D_i+1)+D_o(D+1)"], v["count_params"]]
                      for k, v in d["parameter_counts"].items()]),
              "",
              "Linear(5,2) then Linear(2,5) without activation collapses to a 5×5 map of rank "
              f"**{d['collapsed_rank']}**. "
              f"The 1-3-1 ReLU example has joints {_f(d['joints'], 3)} and {d['pieces']} linear pieces (≤ D + 1 = 4)."]
    s += ["", f"![{name}]({name}.png)", "", f"`{cmd}` ({secs} s)", ""]
    return "\n".join(s)


def write_readme(out: Path = DOCS) -> Path:
    parts = ["# Theory you can run", "",
             "Generated by `python examples/theory/run_all.py` from the JSON and PNG files each demo writes here "
             "(every number below comes from running the scripts; `--quick` gives a fast smoke version).", ""]
    for name in SCRIPTS:
        p = out / f"{name}.json"
        if p.exists():
            parts.append(section(name, json.loads(p.read_text())))
        else:
            parts.append(f"## {name}\n\n(not run yet: `python examples/theory/{name}.py`)\n")
    path = out / "README.md"
    path.write_text("\n".join(parts))
    return path


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--readme-only", action="store_true")
    ap.add_argument("--out", type=Path, default=DOCS)
    args = ap.parse_args(argv)
    if not args.readme_only:
        for name in SCRIPTS:
            cmd = [sys.executable, str(HERE / f"{name}.py"), "--out", str(args.out)]
            cmd += ["--quick"] if args.quick else []
            print(">>", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
    print("wrote", write_readme(args.out))


if __name__ == "__main__":
    main()
