"""examples/reproduce: the resumable task cache, the row helpers, the learning-rate equivalence of the MNIST
recipe, and (slow) a smoke run of ``run_all.py --quick``.
spec: RECIPE-NIELSEN-MNIST, RECIPE-TF-CNN-MNIST, LOSS-MSE, SGD-MINIBATCH"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
REPRO = ROOT / "examples" / "reproduce"
if str(REPRO) not in sys.path:  # reproduce_common imports by name, as from the scripts in that folder
    sys.path.append(str(REPRO))

import reproduce_common as rc  # noqa: E402


def _load(name: str):
    """Import examples/reproduce/<name>.py as the module ``reproduce_<name>`` (its own name would be too generic:
    ``cnn``, ``theory``, ...)."""
    spec = importlib.util.spec_from_file_location(f"reproduce_{name}", REPRO / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------------------------- cache
def _counting_task(settings, calls, version=1):
    def fn(s, ctx):
        calls.append(dict(s))
        return {"value": s["x"] * 2, "arr": np.arange(3)}
    return rc.Task("demo-task", fn, settings, version=version)


def test_cache_reuses_results_with_the_same_settings(tmp_path):
    calls = []
    t = _counting_task({"x": 3}, calls)
    r1 = rc.run_task(t, tmp_path, quick=False)
    r2 = rc.run_task(t, tmp_path, quick=False)
    assert len(calls) == 1, "the second run must come from the cache"
    assert r1["value"] == r2["value"] == 6 and r2["arr"] == [0, 1, 2]
    assert r1["_cached"] is False and r2["_cached"] is True
    assert r2["_seconds"] == pytest.approx(r1["_seconds"], abs=1e-3)
    assert not list(tmp_path.glob("*.tmp")), "the atomic write left a temporary file"


def test_cache_recomputes_on_new_settings_version_or_force(tmp_path):
    calls = []
    rc.run_task(_counting_task({"x": 3}, calls), tmp_path, quick=False)
    r = rc.run_task(_counting_task({"x": 4}, calls), tmp_path, quick=False)
    assert len(calls) == 2 and r["value"] == 8, "changed settings must invalidate the cache"
    rc.run_task(_counting_task({"x": 4}, calls, version=2), tmp_path, quick=False)
    assert len(calls) == 3, "a new task version must invalidate the cache"
    rc.run_task(_counting_task({"x": 4}, calls, version=2), tmp_path, quick=False, force=True)
    assert len(calls) == 4, "force must recompute"
    rc.run_task(_counting_task({"x": 4}, calls, version=2), tmp_path, quick=False)
    assert len(calls) == 4


def test_cache_ignores_a_corrupt_entry_and_keys_differ(tmp_path):
    calls = []
    t = _counting_task({"x": 1}, calls)
    rc.run_task(t, tmp_path, quick=False)
    (tmp_path / "demo-task.json").write_text("{ not json")
    assert rc.load_cached(t, tmp_path) is None
    rc.run_task(t, tmp_path, quick=False)
    assert len(calls) == 2
    rec = json.loads((tmp_path / "demo-task.json").read_text())
    assert rec["key"] == t.key() and rec["settings"] == {"x": 1}
    assert t.key() != _counting_task({"x": 2}, calls).key()
    assert t.key() == _counting_task({"x": 1}, []).key(), "the key depends only on id, settings, version"


def test_failing_task_is_not_cached(tmp_path):
    def boom(s, ctx):
        raise RuntimeError("no")
    t = rc.Task("bad", boom, {})
    with pytest.raises(RuntimeError):
        rc.run_task(t, tmp_path, quick=False)
    assert rc.load_cached(t, tmp_path) is None
    with pytest.raises(TypeError, match="must return a dict"):
        rc.run_task(rc.Task("notdict", lambda s, c: 3, {}), tmp_path, quick=False)


def test_row_status_and_rounding_helpers():
    assert rc.row("a", "w", "1", "1", True, source="s")["status"] == "ok"
    assert rc.row("a", "w", "1", "2", False, source="s")["status"] == "fail"
    assert rc.row("a", "w", "1", "—", None, source="s")["status"] == "na"
    assert rc.missing_row("a", "w", source="s")["status"] == "missing"
    assert rc.matches_rounded(0.7737413, "0.7737")
    assert not rc.matches_rounded(0.7744, "0.7737")
    assert rc.matches_rounded(0.0888347551, "0.088835") and not rc.matches_rounded(0.0888347551, "0.088834")
    assert rc.matches_rounded(94.84, "94.84%")


def test_only_patterns_select_scripts_and_tasks():
    run_all = _load("run_all")
    assert run_all._selected("nielsen-784-30-10-s0", "nielsen", ["nielsen"])
    assert run_all._selected("nielsen-784-30-10-s0", "nielsen", ["nielsen-784-30-10-*"])
    assert not run_all._selected("counts", "counts", ["nielsen"])
    assert run_all._selected("counts", "counts", None)


def test_every_script_lists_unique_tasks_and_rows_without_results():
    """Every reproduction script builds its task list, and its rows() works on an empty cache (rows marked
    'missing' or computed without tasks) — the report can always be written."""
    ids = []
    for name in rc.MODULES:
        mod = _load(name)
        tasks = mod.tasks(False)
        ids += [t.id for t in tasks]
        rows = mod.rows({}, False)
        assert rows, name
        for r in rows:
            assert r["status"] in ("ok", "fail", "na", "missing") and r["id"] and r["what"]
    assert len(ids) == len(set(ids)), "task ids must be unique"


# ------------------------------------------------------------ RECIPE-NIELSEN-MNIST learning-rate equivalence
def test_mse_mean_lr15_equals_half_sum_lr3():
    # spec: RECIPE-NIELSEN-MNIST  mse_loss(reduction='mean') averages over the 10 outputs too (= c·2/10), so
    # η = 15 with it is the recipe's η = 3 with c = ½‖a − y‖² summed over outputs, averaged over the batch.
    nielsen = _load("nielsen")
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (200, 20))
    Y = np.eye(10)[rng.integers(0, 10, 200)]
    gap = nielsen.equivalence_gap(X, Y, sizes=(20, 8, 10), steps=60, batch=10, seed=1)
    assert gap < 1e-12


def test_equivalence_check_detects_a_wrong_rate():
    """The equivalence check can fail: with η = 3 for both losses the trajectories differ."""
    nielsen = _load("nielsen")
    import chainrule as cr
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (200, 20))
    Y = np.eye(10)[rng.integers(0, 10, 200)]
    order = [rng.choice(200, 10, replace=False) for _ in range(60)]
    a = nielsen.nielsen_model((20, 8, 10), 1, dtype=np.float64)
    b = nielsen.nielsen_model((20, 8, 10), 1, dtype=np.float64)
    nielsen.sgd_updates(a, X, Y, order, 3.0, "mse_mean")
    nielsen.sgd_updates(b, X, Y, order, 3.0, "half_sum")
    gap = max(float(np.abs(p.data - q.data).max()) for p, q in zip(a.parameters(), b.parameters()))
    assert gap > 1e-3
    with pytest.raises(ValueError, match="mse_mean"):
        nielsen.sgd_updates(a, X, Y, order[:1], 3.0, "l1")
    assert isinstance(a, cr.nn.Module)


def test_nielsen_model_is_the_recipe():
    # spec: RECIPE-NIELSEN-MNIST  sigmoid hidden and output units, N(0,1) weights and biases, 23,860 parameters
    nielsen = _load("nielsen")
    from chainrule import nn
    from chainrule.models import count_parameters
    m = nielsen.nielsen_model([784, 30, 10], 0)
    assert count_parameters(m) == 23860
    kinds = [type(x).__name__ for x in m.net]
    assert kinds == ["Linear", "Sigmoid", "Linear", "Sigmoid"]
    w = np.concatenate([x.weight.data.ravel() for x in m.net if isinstance(x, nn.Linear)])
    assert abs(w.std() - 1.0) < 0.05


def test_table_o_reproduces_within_1e10():
    # spec: OPT-SGD, OPT-ADAM, OPT-RPROP  the report's Table O task on its own (fast: 30 × 50 steps)
    opt = _load("optimization")
    res = opt.table_o({}, None)
    worst = max(max(e["rel_err_1"], e["rel_err_50"]) for e in res["entries"])
    assert len(res["entries"]) == 30 and worst < 1e-10


# ------------------------------------------------------------------------------------------ smoke run
@pytest.mark.slow
def test_run_all_quick_smoke(tmp_path):
    """``run_all.py --quick`` end to end in a temporary cache: every task runs, the report is written, and a
    second invocation is served from the cache."""
    cache, out, md = tmp_path / "cache", tmp_path / "results", tmp_path / "results.md"
    cmd = [sys.executable, str(REPRO / "run_all.py"), "--quick", "--no-progress", "--cache-dir", str(cache),
           "--out-dir", str(out), "--report", str(md)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3000)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    assert not doc["errors"], doc["errors"]
    assert len(doc["rows"]) > 60
    have_mnist = (ROOT.parent / "shared" / "data" / "mnist" / "train-images-idx3-ubyte.gz").exists()
    if have_mnist:
        assert not [r["id"] for r in doc["rows"] if r["status"] == "missing"]
    text = md.read_text()
    assert "| ID | quantity | reported | reproduced | status |" in text and "## Summary" in text
    assert any(out.glob("*.png"))
    p2 = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p2.returncode == 0 and "0 to run" in p2.stdout
