"""examples/_shared.py, the helpers every example folder imports, and the way the scripts import them: one
implementation, no module-name clashes between folders, scripts runnable from the repository root and from
inside their folder.  (slow) ``--quick`` runs of the sequence and unsupervised examples from inside their folders.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
if str(EXAMPLES) not in sys.path:  # as the scripts do (they insert it at the front)
    sys.path.append(str(EXAMPLES))

import _shared  # noqa: E402

HELPERS = {"_shared": EXAMPLES / "_shared.py", "cnn_common": EXAMPLES / "cnn" / "cnn_common.py",
           "init_norm_common": EXAMPLES / "init_norm" / "init_norm_common.py",
           "reproduce_common": EXAMPLES / "reproduce" / "reproduce_common.py"}
SCRIPTS = sorted(p for p in EXAMPLES.rglob("*.py") if p.name != "_shared.py")
FAKE = EXAMPLES / "demo_folder" / "demo_script.py"  # never created: parse_args only uses its path


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _top_level_functions(path: Path) -> set[str]:
    return {n.name for n in _tree(path).body if isinstance(n, ast.FunctionDef)}


def _imports_from(path: Path) -> list[tuple[str, list[str]]]:
    return [(n.module, [a.name for a in n.names]) for n in ast.walk(_tree(path))
            if isinstance(n, ast.ImportFrom) and n.module is not None and n.level == 0]


# ------------------------------------------------------------------------------------------------ layout
def test_every_helper_import_names_an_existing_function():
    """Every ``from <helper module> import ...`` in examples/ names something that module defines, and no script
    imports a folder's helper module from another folder (the folder module is found only next to its scripts)."""
    defined = {}
    for name, path in HELPERS.items():
        tree = _tree(path)
        defined[name] = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        defined[name] |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                          if isinstance(t, ast.Name)}
        defined[name] |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    shared = _top_level_functions(HELPERS["_shared"]) | {"ROOT", "DOCS"}
    checked = 0
    for script in SCRIPTS:
        for module, names in _imports_from(script):
            assert module != "_common", f"{script.relative_to(ROOT)} still imports _common"
            if module in HELPERS:
                missing = set(names) - defined[module]
                assert not missing, f"{script.relative_to(ROOT)}: {module} has no {sorted(missing)}"
                if module != "_shared":
                    assert script.parent == HELPERS[module].parent, f"{script.relative_to(ROOT)} imports {module}"
                    via = set(names) & shared
                    assert not via, f"{script.relative_to(ROOT)}: import {sorted(via)} from _shared, not {module}"
                checked += 1
    assert checked >= 30, checked
    assert not list(EXAMPLES.rglob("_common.py")), "a per-folder _common.py is back"


def test_no_example_redefines_a_shared_helper():
    """One implementation: no script or folder module defines a function of the same name as one in _shared."""
    shared = _top_level_functions(HELPERS["_shared"])
    assert {"parse_args", "plain", "save", "save_json", "save_fig", "write_json", "read_json", "pct"} <= shared
    clashes = {str(p.relative_to(ROOT)): sorted(_top_level_functions(p) & shared) for p in SCRIPTS}
    # reproduce/run_all.py has its own command line (--only, --jobs, ...): a different parse_args
    clashes = {k: v for k, v in clashes.items() if v and not (k.endswith("run_all.py") and v == ["parse_args"])}
    assert not clashes, clashes


def _import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_helper_modules_of_all_folders_import_together(monkeypatch):
    """The helper modules of every folder load in one process next to each other and share one _shared."""
    monkeypatch.setattr(sys, "path", sys.path + [str(EXAMPLES / f) for f in ("cnn", "init_norm", "reproduce")])
    mods = {name: __import__(name) for name in HELPERS}
    assert mods["cnn_common"].md_cell is _shared.md_cell
    assert mods["reproduce_common"].plain is _shared.plain
    assert mods["reproduce_common"].ROOT == _shared.ROOT == ROOT
    assert callable(mods["init_norm_common"].mnist_arrays)
    # scripts of several folders, each with its own imports, in this one process
    uat = _import_file(EXAMPLES / "theory" / "uat.py", "example_theory_uat")
    vg = _import_file(EXAMPLES / "sequence" / "vanishing_gradient.py", "example_sequence_vanishing_gradient")
    assert uat.save is vg.save is _shared.save


@pytest.mark.parametrize("script, cwd", [("examples/theory/curse_dim.py", "."),
                                         ("curse_dim.py", "examples/theory"),
                                         ("../reproduce/run_all.py", "examples/cnn")])
def test_scripts_start_from_the_root_and_from_inside_a_folder(script, cwd):
    env = dict(os.environ, PYTHONPATH="")  # nothing but what the script itself puts on sys.path
    p = subprocess.run([sys.executable, script, "--help"], cwd=ROOT / cwd, capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "--quick" in p.stdout


# --------------------------------------------------------------------------------------------- command line
def test_parse_args_defaults_and_environment(tmp_path, monkeypatch):
    script = FAKE
    monkeypatch.delenv("CHAINRULE_DEMO_FOLDER_OUT", raising=False)
    assert _shared.default_out(script) == ROOT / "docs" / "demo_folder"
    monkeypatch.setenv("CHAINRULE_DEMO_FOLDER_OUT", str(tmp_path / "env"))
    assert _shared.default_out(script) == tmp_path / "env"
    a = _shared.parse_args("demo", [], script=script)
    assert a.out == tmp_path / "env" and a.out.is_dir() and not a.quick and a.suffix == ""
    assert a.command == "python examples/demo_folder/demo_script.py" and not hasattr(a, "seed")
    q = _shared.parse_args("demo", ["--quick", "--seed", "3"], script=script, seed=True,
                           quick_out=tmp_path / "quick")
    assert q.out == tmp_path / "quick" and q.seed == 3 and q.suffix == "_quick"
    assert q.command == "python examples/demo_folder/demo_script.py --quick"
    o = _shared.parse_args("demo", ["--quick", "--out", str(tmp_path / "o")], script=script, quick_out=tmp_path / "q",
                           extra=lambda p: p.add_argument("--epochs", type=int, default=2))
    assert o.out == tmp_path / "o" and o.epochs == 2
    with pytest.raises(SystemExit):
        _shared.parse_args("demo", ["--seed", "1"], script=script)  # --seed only where the script asks for it


def test_command_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(EXAMPLES / "theory")
    assert _shared.script_command("uat.py", quick=True) == "python examples/theory/uat.py --quick"
    monkeypatch.chdir(tmp_path)
    assert _shared.script_command(EXAMPLES / "theory" / "uat.py") == "python examples/theory/uat.py"


# --------------------------------------------------------------------------------------------------- outputs
def test_plain_converts_numpy_paths_and_nonfinite():
    v = {1: (np.float32(0.5), np.int64(3), np.bool_(True)), "a": np.arange(3), "p": Path("x/y"),
         "f": [float("nan"), np.float64("inf"), -math.inf], "b": True, "s": "é"}
    out = _shared.plain(v)
    assert out == {"1": [0.5, 3, True], "a": [0, 1, 2], "p": "x/y", "f": out["f"], "b": True, "s": "é"}
    assert type(out["1"][0]) is float and type(out["1"][1]) is int and type(out["1"][2]) is bool
    assert math.isnan(out["f"][0]) and out["f"][1:] == [math.inf, -math.inf]
    assert _shared.plain(v, nonfinite_as_str=True)["f"] == ["nan", "inf", "-inf"]
    assert _shared.plain(np.array([[1.5]], dtype=np.float32)) == [[1.5]]


def test_save_writes_figure_and_json_with_command_and_time(tmp_path, capsys):
    import matplotlib.pyplot as plt
    a = _shared.parse_args("demo", ["--quick", "--out", str(tmp_path)], script=FAKE)
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    out = _shared.save(a, "fig_name", fig, {"x": np.float32(2.0), "arr": np.zeros(2), "t": 1 / 3},
                       json_name="numbers", seconds_digits=2)
    assert (tmp_path / "fig_name.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "fig_name.json").exists()
    text = (tmp_path / "numbers.json").read_text(encoding="utf-8")
    d = json.loads(text)
    assert d == out and d["x"] == 2.0 and d["arr"] == [0.0, 0.0]
    assert d["_command"] == "python examples/demo_folder/demo_script.py --quick"
    assert d["_seconds"] >= 0 and d["_seconds"] == round(d["_seconds"], 2)
    assert text.startswith('{\n  "x"'), "indent 2"
    printed = json.loads(capsys.readouterr().out)
    assert printed == {k: v for k, v in d.items() if k != "arr"}, "scalars are printed, lists are not"
    # save_json alone: indent and non-finite handling as asked
    _shared.save_json(a, "j", {"r": float("nan"), "u": "≥"}, indent=1, nonfinite_as_str=True)
    text = (tmp_path / "j.json").read_text(encoding="utf-8")
    assert text.startswith('{\n "r": "nan"') and '"u": "≥"' in text
    assert _shared.read_json(tmp_path / "j.json")["u"] == "≥"


def test_tile_images_smooth_pct_md_cell():
    rng = np.random.default_rng(0)
    imgs = rng.random((7, 9))  # 3×3 images
    t = _shared.tile_images(imgs, 3, 2, 3)
    assert t.shape == (8, 12)
    for k in range(6):
        r, c = divmod(k, 3)
        assert np.array_equal(t[4 * r:4 * r + 3, 4 * c:4 * c + 3], imgs[k].reshape(3, 3))
    mask = np.ones_like(t, dtype=bool)
    mask[np.ix_([0, 1, 2, 4, 5, 6], [0, 1, 2, 4, 5, 6, 8, 9, 10])] = False
    assert np.all(t[mask] == 1.0), "gaps are ones"
    y = rng.random(50)
    assert np.allclose(_shared.smooth(y, 5), np.convolve(y, np.ones(5) / 5, mode="valid"), rtol=1e-12)
    assert np.array_equal(_shared.smooth(y[:3], 5), y[:3])
    assert _shared.pct(0.98765) == "98.77 %" and _shared.pct(0.5, 1, unit="%") == "50.0%"
    assert _shared.md_cell("a|b\nc") == "a\\|b c" and _shared.md_cell(None) == ""


# ------------------------------------------------------------------------------------------- quick runs (slow)
@pytest.mark.slow
@pytest.mark.parametrize("folder, script, outputs", [
    ("sequence", "vanishing_gradient.py", ["vanishing_gradient.png", "vanishing_gradient.json"]),
    ("sequence", "digit_sequences.py", ["digit_sequences.png", "digit_sequences.json"]),
    ("sequence", "time_series.py", ["time_series.png", "time_series.json"]),
    ("unsupervised", "rbm_mnist.py", ["rbm_filters.png", "rbm_samples.png", "rbm_curves.png", "rbm_mnist.json"]),
    ("unsupervised", "autoencoder_mnist.py", ["autoencoder_reconstructions.png", "autoencoder_codes2d.png",
                                              "autoencoder_denoising.png", "autoencoder_mnist.json"]),
])
def test_quick_run_from_inside_the_folder(folder, script, outputs, tmp_path):
    if folder == "unsupervised" and script == "autoencoder_mnist.py":
        from helpers import mnist_dir
        mnist_dir()  # skips without the MNIST files
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONPATH="")
    p = subprocess.run([sys.executable, script, "--quick", "--out", str(tmp_path)], cwd=EXAMPLES / folder, env=env,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(outputs)
    d = json.loads((tmp_path / outputs[-1]).read_text(encoding="utf-8"))
    assert d["_command"] == f"python examples/{folder}/{script} --quick" and d["_seconds"] >= 0
