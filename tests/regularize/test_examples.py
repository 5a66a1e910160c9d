"""Smoke runs of the regularization examples (slow).  spec: REG-FMS, REG-CASCADE-CORR, REG-SGD-TEMPERATURE,
REG-OBD, REG-OBS, AUG-IMAGE"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import ROOT, mnist_dir

EX = ROOT / "examples" / "regularization"


def _run(script: str, *args: str) -> None:
    env = {"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, str(EX / script), "--quick", *args], check=True, cwd=ROOT, env=env,
                   timeout=900, capture_output=True)


@pytest.mark.slow
def test_evidence_quick(tmp_path):
    data = mnist_dir()
    _run("evidence.py", "--out", str(tmp_path), "--data", str(data))
    res = json.loads((tmp_path / "results.json").read_text())
    assert len(res["methods"]) == 9 and set(res["pruning"]["methods"]) == {"magnitude", "OBD (GN diagonal)",
                                                                           "OBS (block GN)"}
    assert (tmp_path / "results.md").exists() and (tmp_path / "pruning.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("script", ["sgd_temperature.py", "cascade_spirals.py", "fms_demo.py"])
def test_demo_quick(tmp_path, script):
    _run(script, "--out", str(tmp_path))
    assert list(tmp_path.glob("*.json")) and list(tmp_path.glob("*.png"))
