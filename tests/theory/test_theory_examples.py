"""The theory demos run end to end in --quick mode and reproduce their spec checks.
spec: THEORY-UAT-DEMO, THEORY-LINEAR-REGIONS, THEORY-CURSE-DIM, THEORY-POLAR-FEATURES, SHALLOW-NET-PARAMS,
RF-RECEPTIVE-FIELD, CV-COMPLEXITY-CURVE, CV-MODEL-SELECT, CLS-XOR"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "theory"

CHECKS = {
    "uat": lambda d: d["constructive_within_bounds"] and d["derivative_trick_max_error"] < 1e-3,
    "linear_regions": lambda d: d["all_within_bounds"] and d["three_lines_regions"] == 7 and d["sawtooth_regions"] == 9,
    "mle_recipe": lambda d: d["max_weight_error"] < 0.3,
    "receptive_field": lambda d: d["all_match"],
    "curse_dim": lambda d: d["spec_check"],
    "polar_features": lambda d: d["spec_check"],
    "shallow_params": lambda d: d["collapsed_rank"] == 2 and d["pieces"] <= 4,
    "classical": lambda d: d["perceptron_AND"]["updates"] == 18 and d["xor_pocket_accuracy"] == 0.75
    and d["perceptron_bound_ratio_max"] <= 1,
    "model_selection": lambda d: d["train_mse_non_increasing"] and 1 < d["best_degree"] < 15
    and d["cv_joblib_equals_sequential"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_example_quick(name, tmp_path):
    if name == "receptive_field":
        from chainrule import nn
        if not hasattr(nn, "Conv2d"):
            pytest.skip("chainrule.nn.Conv2d not available")
    subprocess.run([sys.executable, str(EX / f"{name}.py"), "--quick", "--out", str(tmp_path)], check=True,
                   cwd=ROOT, timeout=900)
    assert (tmp_path / f"{name}.png").stat().st_size > 1000
    d = json.loads((tmp_path / f"{name}.json").read_text())
    assert CHECKS[name](d), d


@pytest.mark.slow
def test_readme_generation(tmp_path):
    subprocess.run([sys.executable, str(EX / "shallow_params.py"), "--quick", "--out", str(tmp_path)], check=True,
                   cwd=ROOT, timeout=300)
    subprocess.run([sys.executable, str(EX / "run_all.py"), "--readme-only", "--out", str(tmp_path)], check=True,
                   cwd=ROOT, timeout=300)
    text = (tmp_path / "README.md").read_text()
    assert "## Shallow networks" in text and "(shallow_params.png)" in text and "not run yet" in text
