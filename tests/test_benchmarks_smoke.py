"""Smoke test of the benchmark harness: every workload runs a few steps in both libraries."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_run_py_all_workloads(tmp_path, capsys):
    pytest.importorskip("torch")
    run = _load(ROOT / "benchmarks" / "run.py")
    out = tmp_path / "bench.json"
    rc = run.main(["--only", "W1,W2", "--seconds", "0.1", "--repeat", "1", "--warmup", "0", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "W1" in text and "W2" in text and "ratio" in text
    d = json.loads(out.read_text())
    assert d["machine"]["torch_threads"] >= 1
    for r in d["results"]:
        for lib in ("chainrule", "torch"):
            assert r[lib]["samples_per_s"] > 0 and r[lib]["steps"] >= 1
        assert r["chainrule"]["peak_mem_bytes"] > 0
        assert r["ratio"] > 0 and isinstance(r["meets_target"], bool)
    assert run.main(["--only", "W999"]) == 2


def test_workloads_start_identical():
    """Same initial weights and the same first batch: the first losses agree (float32 rounding)."""
    pytest.importorskip("torch")
    for path in sorted((ROOT / "benchmarks" / "workloads").glob("w[12]_*.py")):
        mod = _load(path)
        c, nc = mod.make("chainrule", 0)
        t, nt = mod.make("torch", 0)
        assert nc == nt
        lc, lt = [float(np.asarray(c().data)) for _ in range(3)], [float(t().item()) for _ in range(3)]
        np.testing.assert_allclose(lc, lt, rtol=1e-4, err_msg=path.name)  # also after two updates


def test_index_stream_epochs():
    from chainrule.utils.benchmark import IndexStream
    s = IndexStream(10, 3, seed=0)
    first = np.concatenate([next(s) for _ in range(3)])
    assert len(set(first.tolist())) == 9  # one epoch: 3 disjoint batches, partial batch dropped
    with pytest.raises(ValueError, match="exceeds"):
        IndexStream(2, 3)


def test_time_interleaved_clocks_and_threads():
    import time

    from chainrule.utils.benchmark import time_interleaved

    def busy():  # 1 ms of CPU per step
        t = time.process_time()
        while time.process_time() - t < 1e-3:
            pass

    res = time_interleaved({"busy": (busy, 1), "sleep": (lambda: time.sleep(2e-4), 1)}, seconds=0.01, repeat=2,
                           warmup=0.0, clock="process")
    assert res["busy"]["steps"] >= 2 and res["busy"]["best_samples_per_s"] >= res["busy"]["samples_per_s"]
    assert res["busy"]["best_samples_per_s"] < 1100
    assert res["sleep"]["best_samples_per_s"] > 10 * res["busy"]["best_samples_per_s"]  # sleeping costs no CPU
    with pytest.raises(ValueError, match="clock"):
        time_interleaved({"a": (busy, 1)}, clock="gpu")
