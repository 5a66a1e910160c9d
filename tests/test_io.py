"""chainrule.io: npz / safetensors state dicts and checkpoints, never pickle."""

import json
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import CheckpointError, load, load_checkpoint, load_metadata, save, save_checkpoint

FORMATS = ["npz", "safetensors"]


def _state():
    rng = np.random.default_rng(0)
    return {
        "model": {
            "fc1.weight": cr.Tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True),
            "fc1.bias": np.zeros(4, np.float64),
            "bn.num_batches": np.array(7, np.int64),  # 0-d
            "mask": np.array([True, False]),
            "h": np.arange(6, dtype=np.float16).reshape(2, 3),
            "be": np.arange(3, dtype=">i4"),  # big-endian input
            "empty": np.zeros((0, 5), np.float32),
        },
        "optimizer": {
            "state": {0: {"exp_avg": rng.normal(size=(4, 3)), "step": 3}, 2: {"momentum_buffer": None}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1, 2], "nesterov": False}],
        },
        "epoch": 3,
        "name": "run-α",
        "history": [0.5, 0.25, float("nan"), float("inf")],
        "scalar32": np.float32(1.5),
    }


def _assert_same(a, b):
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, cr.Tensor | np.ndarray):
        a_arr = a.data if isinstance(a, cr.Tensor) else a
        assert isinstance(b, np.ndarray) and b.dtype == a_arr.dtype.newbyteorder("=") and b.shape == a_arr.shape
        np.testing.assert_array_equal(a_arr, b)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b and type(a) is type(b)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_nested(tmp_path, fmt):
    st = _state()
    p = save(st, tmp_path / f"ckpt.{fmt}", metadata={"note": "hi", "seed": 0})
    out = load(p)
    _assert_same(st, out)
    assert isinstance(out["optimizer"]["state"][0]["step"], int)  # int dict keys round-trip
    assert out["scalar32"].dtype == np.float32
    meta = load_metadata(p)
    assert meta["metadata"] == {"note": "hi", "seed": 0} and meta["format_version"] == 1
    assert meta["library_version"] == cr.__version__ and meta["created"][:2] == "20"
    back = load(p, tensors=True)
    w = back["model"]["fc1.weight"]
    assert isinstance(w, cr.Tensor) and w.requires_grad and isinstance(back["model"]["fc1.bias"], np.ndarray)


def test_npz_loads_without_pickle(tmp_path):
    p = save(_state(), tmp_path / "s.npz")
    with np.load(p, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["model/fc1.bias"], np.zeros(4))
        assert "__chainrule__" in z.files
    with zipfile.ZipFile(p) as zf:  # nothing but .npy members
        assert all(n.endswith(".npy") for n in zf.namelist())


def test_safetensors_layout(tmp_path):
    p = save({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2, np.int64)},
             tmp_path / "m.safetensors")
    raw = p.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n])
    assert header["w"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    assert header["b"]["dtype"] == "I64" and header["b"]["data_offsets"] == [24, 40]
    assert all(isinstance(v, str) for v in header["__metadata__"].values())
    np.testing.assert_array_equal(np.frombuffer(raw[8 + n:8 + n + 24], "<f4"), np.arange(6))
    assert len(raw) == 8 + n + 40


def test_foreign_safetensors_and_plain_npz_load_flat(tmp_path):
    # a minimal safetensors file written by hand (as another tool would)
    data = np.arange(4, dtype="<f8").tobytes()
    header = json.dumps({"x": {"dtype": "F64", "shape": [2, 2], "data_offsets": [0, 32]}}).encode()
    (tmp_path / "f.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + data)
    out = load(tmp_path / "f.safetensors")
    np.testing.assert_array_equal(out["x"], np.arange(4.0).reshape(2, 2))
    np.savez(tmp_path / "plain.npz", a=np.arange(3))
    np.testing.assert_array_equal(load(tmp_path / "plain.npz")["a"], np.arange(3))


def test_atomic_write_leaves_no_temp_file(tmp_path):
    save({"a": np.zeros(3)}, tmp_path / "x.npz")
    save({"a": np.ones(3)}, tmp_path / "x.npz")  # overwrite
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]
    np.testing.assert_array_equal(load(tmp_path / "x.npz")["a"], np.ones(3))
    with pytest.raises(CheckpointError, match="cannot save object of type object at bad"):
        save({"a": np.ones(3), "bad": object()}, tmp_path / "x.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]  # failed save: old file intact, no temp
    np.testing.assert_array_equal(load(tmp_path / "x.npz")["a"], np.ones(3))


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_file_errors_name_the_file(tmp_path, fmt):
    p = save(_state(), tmp_path / f"c.{fmt}")
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match=rf"c\.{fmt}"):
        load(p)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x80\x04\x95 pickle-ish bytes")
    with pytest.raises(CheckpointError, match=r"junk\.bin.*not a checkpoint.*never unpickles"):
        load(junk)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.npz")


def test_pickled_npz_is_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(CheckpointError, match=r"obj\.npz.*pickled"):
        load(tmp_path / "obj.npz")
    with pytest.raises(CheckpointError, match="object"):
        save({"a": np.array([None], dtype=object)}, tmp_path / "o.npz")
    with pytest.raises(CheckpointError, match="JSON"):
        save({"a": np.zeros(1)}, tmp_path / "o.npz", metadata={"f": object()})


def test_newer_format_version_refused(tmp_path):
    p = save({"a": np.zeros(1)}, tmp_path / "v.safetensors")
    raw = p.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    info = json.loads(header["__metadata__"]["chainrule"])
    info["format_version"] = 99
    header["__metadata__"]["chainrule"] = json.dumps(info)
    h = json.dumps(header).encode()
    p.write_bytes(len(h).to_bytes(8, "little") + h + raw[8 + n:])
    with pytest.raises(CheckpointError, match="version 99.*upgrade"):
        load(p)


# ----------------------------------------------------------------------------- checkpoints
class FakeModel:
    def __init__(self, w):
        self.w = np.array(w, dtype=np.float32)

    def state_dict(self):
        return {"w": cr.Tensor(self.w.copy())}

    def load_state_dict(self, sd):
        self.w[...] = np.asarray(sd["w"])


class FakeOptimizer:
    def __init__(self):
        self.state = {0: {"momentum_buffer": np.full(2, 0.5), "step": 4}}
        self.param_groups = [{"lr": 0.1, "momentum": 0.9, "params": [0]}]

    def state_dict(self):
        return {"state": self.state, "param_groups": self.param_groups}

    def load_state_dict(self, sd):
        self.state, self.param_groups = sd["state"], sd["param_groups"]


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_checkpoint_duck_typed(tmp_path, suffix):
    m, opt = FakeModel([1.0, 2.0]), FakeOptimizer()
    p = save_checkpoint(tmp_path / f"ck{suffix}", model=m, optimizer=opt, epoch=3, best=0.25)
    m2, opt2 = FakeModel([0.0, 0.0]), FakeOptimizer()
    opt2.state, opt2.param_groups = {}, []
    out = load_checkpoint(p, model=m2, optimizer=opt2)
    np.testing.assert_array_equal(m2.w, [1.0, 2.0])
    assert out["epoch"] == 3 and out["best"] == 0.25
    assert opt2.param_groups == [{"lr": 0.1, "momentum": 0.9, "params": [0]}]
    np.testing.assert_array_equal(opt2.state[0]["momentum_buffer"], [0.5, 0.5])
    assert opt2.state[0]["step"] == 4
    with pytest.raises(CheckpointError, match="no 'model'"):
        load_checkpoint(save_checkpoint(tmp_path / "x.npz", epoch=1), model=m2)


def test_checkpoint_real_model_and_adam(tmp_path):
    nn = pytest.importorskip("chainrule.nn")
    optim = pytest.importorskip("chainrule.optim")
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x = cr.Tensor(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32))
    for _ in range(2):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    p = save_checkpoint(tmp_path / "real.safetensors", model=model, optimizer=opt, epoch=2)
    cr.manual_seed(1)
    model2 = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    opt2 = optim.Adam(model2.parameters(), lr=0.5)
    load_checkpoint(p, model=model2, optimizer=opt2)
    np.testing.assert_array_equal(model2(x).data, model(x).data)
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for (k1, s1), (k2, s2) in zip(opt.state_dict()["state"].items(), opt2.state_dict()["state"].items()):
        assert k1 == k2
        for name in s1:
            np.testing.assert_array_equal(np.asarray(s1[name]), np.asarray(s2[name]))
