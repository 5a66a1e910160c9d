"""The optimizer comparison example runs end to end in --quick mode (slow)."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from helpers import ROOT, data_dir


@pytest.mark.slow
def test_compare_quick(tmp_path):
    # spec: OPT-GABOR-LANDSCAPE, OPT-LM, OPT-NEWTON, OPT-LBFGS  (every optimizer on the same tasks)
    spec = importlib.util.spec_from_file_location("optim_compare_example",
                                                  ROOT / "examples" / "optimizers" / "compare.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.modules.pop(spec.name, None)
    parts = "regression,trajectories,gabor" + (",mnist,mnist7" if data_dir("mnist") else "")
    mod.main(["--quick", "--out", str(tmp_path), "--parts", parts])
    for f in ["results.md", "results.json", "regression_curves.png", "trajectories.png", "gabor_landscape.png"]:
        assert (tmp_path / f).stat().st_size > 0, f
    res = json.loads((tmp_path / "results.json").read_text())
    rows = res["parts"]["regression"]["rows"]
    assert len(rows) == 19 and all(r["error"] is None for r in rows)
    first = {r["optimizer"]: r for r in rows}
    for name in ("Levenberg-Marquardt", "Newton", "Gauss-Newton", "L-BFGS"):
        assert first[name]["at_epochs"]["loss"] < 0.5  # from ≈ 1.0 in a few full-batch iterations
    assert res["parts"]["gabor"]["n_distinct_1e-3"] >= 2
