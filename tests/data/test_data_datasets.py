"""MNIST / Fashion-MNIST / CIFAR / embedded digits. spec: DATA-MNIST, DATA-CIFAR10, DATA-CIFAR100"""

import hashlib
import http.server
import pickle
import threading

import numpy as np
import pytest
from helpers import fashion_dir, mnist_dir

import chainrule as cr
from chainrule.data import (
    CIFAR10,
    CIFAR100,
    CIFAR100_COARSE_NAMES,
    CIFAR100_FINE_NAMES,
    CIFAR100_FINE_TO_COARSE,
    MNIST,
    MNIST_CLASS_COUNTS,
    DataLoader,
    DownloadError,
    FashionMNIST,
    IDXError,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    write_idx,
)


# ----------------------------------------------------------------------------- genuine MNIST files
def test_mnist_shared_files_shapes_dtype_range_counts():
    # spec: DATA-MNIST -- shapes, dtype, range 0-255, published class counts (erratum N26: unbalanced)
    root = mnist_dir()
    for train, n, split in ((True, 60000, "train"), (False, 10000, "test")):
        ds = MNIST(root, train=train)
        assert ds.data.shape == (n, 28, 28) and ds.data.dtype == np.uint8
        assert ds.targets.shape == (n,) and ds.targets.dtype == np.int64
        assert ds.data.min() == 0 and ds.data.max() == 255
        assert tuple(np.bincount(ds.targets, minlength=10)) == MNIST_CLASS_COUNTS[split]
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert isinstance(y, int)


def test_mnist_env_var_and_load_mnist(monkeypatch):
    root = mnist_dir()
    monkeypatch.setenv("CHAINRULE_MNIST_DIR", str(root))
    X, y = load_mnist(split="test", flatten=True)
    assert X.shape == (10000, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() == 1.0
    X2, _ = load_mnist(split="test", normalize=False)
    assert X2.shape == (10000, 1, 28, 28) and X2.max() == 255.0
    ds = MNIST(train=False)
    np.testing.assert_array_equal(X.reshape(-1, 28, 28), ds.data / np.float32(255))
    # the loader's vectorised path equals __getitem__
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    np.testing.assert_array_equal(xb.data[3], ds[3][0])
    np.testing.assert_array_equal(yb.data, ds.targets[:5])


def test_fashion_mnist_shapes():
    root = fashion_dir()
    ds = FashionMNIST(root, train=False)
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8
    assert np.bincount(ds.targets).tolist() == [1000] * 10
    X, y = load_fashion_mnist(root, split="train", flatten=True)
    assert X.shape == (60000, 784) and y.shape == (60000,)


# ----------------------------------------------------------------------------- synthetic MNIST-format files
def _fake_mnist(root, n_train=20, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    md5 = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, arr in (("images-idx3", imgs), ("labels-idx1", labels)):
            p = write_idx(root / f"{prefix}-{kind}-ubyte.gz", arr)
            md5[p.name] = hashlib.md5(p.read_bytes()).hexdigest()
    return md5


def test_mnist_md5_mismatch(tmp_path, monkeypatch):
    md5 = _fake_mnist(tmp_path)
    monkeypatch.setattr(MNIST, "resources", md5)
    assert len(MNIST(tmp_path)) == 20
    bad = dict(md5)
    bad["train-images-idx3-ubyte.gz"] = "0" * 32
    monkeypatch.setattr(MNIST, "resources", bad)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: md5 mismatch: expected 0{32}"):
        MNIST(tmp_path)


def test_mnist_raw_files_and_errors(tmp_path):
    _fake_mnist(tmp_path)
    for p in tmp_path.iterdir():  # uncompressed copies are accepted too (no md5 for those)
        import gzip

        p.with_name(p.name[:-3]).write_bytes(gzip.decompress(p.read_bytes()))
        p.unlink()
    ds = MNIST(tmp_path, train=False)
    assert ds.data.shape == (10, 28, 28)
    lab = tmp_path / "t10k-labels-idx1-ubyte"
    lab.write_bytes(lab.read_bytes()[:-3])
    with pytest.raises(IDXError, match=r"t10k-labels-idx1-ubyte.*truncated.*download"):
        MNIST(tmp_path, train=False)
    with pytest.raises(FileNotFoundError, match="CHAINRULE_MNIST_DIR"):
        MNIST(tmp_path / "empty")


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}

    def do_GET(self):  # noqa: N802
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.files = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_mnist_download_from_local_server(tmp_path, server, monkeypatch):
    src = tmp_path / "src"
    md5 = _fake_mnist(src, seed=1)
    for name in md5:
        _Handler.files["/mnist/" + name] = (src / name).read_bytes()
    monkeypatch.setattr(MNIST, "resources", md5)
    monkeypatch.setattr(MNIST, "mirrors", (server + "/nowhere/", server + "/mnist/"))  # 1st mirror fails
    ds = MNIST(tmp_path / "dl", train=True, download=True)
    assert ds.data.shape == (20, 28, 28)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == sorted(md5)
    # corrupted mirror: md5 failure, the bad file is deleted
    _Handler.files["/mnist/t10k-labels-idx1-ubyte.gz"] = b"garbage"
    monkeypatch.setattr(MNIST, "mirrors", (server + "/mnist/",))
    with pytest.raises(DownloadError, match="md5 mismatch.*deleted"):
        MNIST(tmp_path / "dl2", download=True)
    assert "t10k-labels-idx1-ubyte.gz" not in [p.name for p in (tmp_path / "dl2").iterdir()]


# ----------------------------------------------------------------------------- CIFAR (synthetic files)
def _write_batch(path, data, **labels):
    d = {b"data": data, **{k.encode(): list(map(int, v)) for k, v in labels.items()}}
    with open(path, "wb") as f:
        pickle.dump(d, f, protocol=2)  # the published format is a pickled dict (test fixture only)


def test_cifar10_synthetic_round_trip(tmp_path):
    # spec: DATA-CIFAR10 -- rows are R, G, B planes of 1,024 row-major pixels: plane 0 -> channel 0
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = {}
    for name in CIFAR10.train_list + CIFAR10.test_list:
        img = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
        rows = np.concatenate([img[:, c].reshape(4, 1024) for c in range(3)], axis=1)
        _write_batch(folder / name, rows, labels=rng.integers(0, 10, 4))
        images[name] = img
    tr, te = CIFAR10(tmp_path, train=True), CIFAR10(tmp_path, train=False)
    assert tr.data.shape == (20, 3, 32, 32) and tr.data.dtype == np.uint8 and te.targets.dtype == np.int64
    np.testing.assert_array_equal(tr.data[:4], images["data_batch_1"])
    np.testing.assert_array_equal(te.data, images["test_batch"])
    plane0 = np.zeros((1, 3072), np.uint8)
    plane0[0, :1024] = 255
    _write_batch(folder / "test_batch", plane0, labels=[7])
    te = CIFAR10(folder, train=False)
    assert te.data[0, 0].min() == 255 and te.data[0, 1:].max() == 0
    # files pickled by NumPy 1 (as the published ones) name numpy.core.multiarray
    raw = pickle.dumps({b"data": plane0, b"labels": [7]}, protocol=2)
    (folder / "test_batch").write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    np.testing.assert_array_equal(CIFAR10(folder, train=False).data.reshape(1, -1), plane0)
    x, y = te[0]
    assert x.shape == (3, 32, 32) and x.dtype == np.float32 and y == 7 and te.classes[7] == "horse"


def test_cifar_corrupt_and_malicious_files(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in CIFAR10.train_list + CIFAR10.test_list:
        _write_batch(folder / name, np.zeros((2, 3072), np.uint8), labels=[0, 1])
    (folder / "test_batch").write_bytes(b"\x80\x02}q\x00")  # truncated pickle
    with pytest.raises(ValueError, match="test_batch.*not a readable CIFAR"):
        CIFAR10(tmp_path, train=False)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil()}, f)
    with pytest.raises(ValueError, match="refusing"):
        CIFAR10(tmp_path, train=False)
    _write_batch(folder / "test_batch", np.zeros((2, 3000), np.uint8), labels=[0, 1])
    with pytest.raises(ValueError, match=r"\(N, 3072\)"):
        CIFAR10(tmp_path, train=False)


def test_cifar100_fine_to_coarse_and_labels(tmp_path):
    # spec: DATA-CIFAR100 -- 100 -> 20 with 5 each, fine names alphabetical (apple = 0 ... worm = 99)
    assert CIFAR100_FINE_TO_COARSE.shape == (100,)
    assert np.bincount(CIFAR100_FINE_TO_COARSE).tolist() == [5] * 20
    assert len(CIFAR100_FINE_NAMES) == 100 and len(set(CIFAR100_FINE_NAMES)) == 100
    assert CIFAR100_FINE_NAMES[0] == "apple" and CIFAR100_FINE_NAMES[99] == "worm"
    assert len(CIFAR100_COARSE_NAMES) == 20 and CIFAR100_COARSE_NAMES[0] == "aquatic_mammals"
    # the published mapping (independent reference list)
    published = [4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13,
                 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4,
                 17, 4, 2, 0, 17, 4, 18, 17, 10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13,
                 15, 13, 16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13]
    np.testing.assert_array_equal(CIFAR100_FINE_TO_COARSE, published)

    rng = np.random.default_rng(0)
    for name, n in (("train", 6), ("test", 3)):
        fine = rng.integers(0, 100, n)
        _write_batch(tmp_path / name, rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                     fine_labels=fine, coarse_labels=CIFAR100_FINE_TO_COARSE[fine])
    fine_ds = CIFAR100(tmp_path, train=True)
    coarse_ds = CIFAR100(tmp_path, train=True, label="coarse")
    assert fine_ds.data.shape == (6, 3, 32, 32)
    np.testing.assert_array_equal(coarse_ds.targets, fine_ds.fine_to_coarse[fine_ds.targets])
    assert len(coarse_ds.classes) == 20 and len(fine_ds.classes) == 100
    assert len(CIFAR100(tmp_path, train=False)) == 3
    with pytest.raises(ValueError, match="label"):
        CIFAR100(tmp_path, label="medium")


# ----------------------------------------------------------------------------- embedded digits
def test_load_digits_embedded():
    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0 and set(np.unique(y)) == set(range(10))
    Xtr, ytr = load_digits("train")
    Xte, yte = load_digits("test")
    assert len(ytr) + len(yte) == 1797 and len(yte) == 359
    assert np.abs(np.bincount(yte) / np.bincount(y) - 0.2).max() < 0.01  # stratified
    Xte2, _ = load_digits("test")
    np.testing.assert_array_equal(Xte, Xte2)  # fixed split
    Xf, _ = load_digits("test", as_images=False, normalize=False)
    assert Xf.shape == (359, 64) and Xf.max() == 16.0
    _, y3 = load_digits("test", test_size=0.3, random_state=1)
    assert len(y3) == np.round(0.3 * np.bincount(y)).sum()
    from chainrule.data.digits import _stratified_test_index

    # the stored default split is what the generator gives
    np.testing.assert_array_equal(_stratified_test_index(y, 0.2, 0).size, 359)
    with pytest.raises(ValueError):
        load_digits("val")


def test_digits_compare_sklearn():
    sk = pytest.importorskip("sklearn.datasets")
    d = sk.load_digits()
    X, y = load_digits(normalize=False, as_images=False)
    np.testing.assert_array_equal(X, d.data)
    np.testing.assert_array_equal(y, d.target)
    assert cr.Tensor(X).shape == (1797, 64)


def test_cifar10_download_and_extract_from_local_server(tmp_path, server, monkeypatch):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in CIFAR10.train_list + CIFAR10.test_list:
            member = io.BytesIO()
            pickle.dump({b"data": np.full((2, 3072), 9, np.uint8), b"labels": [1, 2]}, member, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = member.tell()
            member.seek(0)
            tar.addfile(info, member)
    body = buf.getvalue()
    _Handler.files["/c10.tar.gz"] = body
    monkeypatch.setattr(CIFAR10, "url", server + "/c10.tar.gz")
    monkeypatch.setattr(CIFAR10, "tgz_md5", hashlib.md5(body).hexdigest())
    ds = CIFAR10(tmp_path, train=True, download=True)
    assert ds.data.shape == (10, 3, 32, 32) and ds.targets.tolist() == [1, 2] * 5
    monkeypatch.setattr(CIFAR10, "tgz_md5", "f" * 32)
    with pytest.raises(DownloadError, match="md5 mismatch"):
        CIFAR10(tmp_path / "other", download=True)
