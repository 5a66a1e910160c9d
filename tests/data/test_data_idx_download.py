"""IDX format and downloads (local 127.0.0.1 server only). spec: DATA-MNIST"""

import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import DownloadError, IDXError, check_md5, download, md5sum, read_idx, write_idx
from chainrule.data.idx import MAGIC_IMAGES, MAGIC_LABELS


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    p = write_idx(tmp_path / ("a.idx" + (".gz" if gz else "")), a)
    with open(p, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == gz
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative and b.flags.writeable
    np.testing.assert_array_equal(a, b)


def test_gz_detected_by_magic_not_name(tmp_path):
    labels = np.array([3, 1, 4], np.uint8)
    p = write_idx(tmp_path / "labels.raw", labels, compress=True)  # gzipped despite the name
    np.testing.assert_array_equal(read_idx(p, expected_magic=MAGIC_LABELS), labels)
    q = write_idx(tmp_path / "labels.gz", labels, compress=False)  # raw despite the name
    np.testing.assert_array_equal(read_idx(q), labels)


def test_mnist_header_layout(tmp_path):
    imgs = np.zeros((2, 28, 28), np.uint8)
    p = write_idx(tmp_path / "i", imgs)
    raw = p.read_bytes()
    assert raw[:16] == bytes.fromhex("00000803 00000002 0000001c 0000001c".replace(" ", ""))
    assert len(raw) == 16 + 2 * 784
    assert read_idx(p, expected_magic=MAGIC_IMAGES, expected_shape=(None, 28, 28)).shape == (2, 28, 28)


def test_truncated_file_error(tmp_path):
    p = write_idx(tmp_path / "t.idx", np.zeros((4, 28, 28), np.uint8))
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(IDXError, match=r"t\.idx.*truncated.*3152.*3052.*download it again"):
        read_idx(p)
    g = tmp_path / "t.idx.gz"
    g.write_bytes(gzip.compress(bytes(3000))[:-20])
    with pytest.raises(IDXError, match=r"t\.idx\.gz.*gzip"):
        read_idx(g)
    extra = write_idx(tmp_path / "e.idx", np.zeros(3, np.uint8))
    extra.write_bytes(extra.read_bytes() + b"\0")
    with pytest.raises(IDXError, match="trailing"):
        read_idx(extra)


def test_wrong_magic_error(tmp_path):
    p = write_idx(tmp_path / "labels.idx", np.zeros(5, np.uint8))
    with pytest.raises(IDXError, match=r"labels\.idx.*expected IDX magic 0x00000803.*found 0x00000801"):
        read_idx(p, expected_magic=MAGIC_IMAGES)
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x12\x34\x08\x01" + bytes(8))
    with pytest.raises(IDXError, match=r"bad\.idx.*bad IDX magic number 0x12340801"):
        read_idx(bad)
    bad.write_bytes(b"\x00\x00\x07\x01" + bytes(8))  # unknown type code
    with pytest.raises(IDXError, match="type"):
        read_idx(bad)
    with pytest.raises(IDXError, match="expected shape"):
        read_idx(write_idx(tmp_path / "s.idx", np.zeros((2, 27, 28), np.uint8)),
                 expected_shape=(None, 28, 28))
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing.idx")


# ----------------------------------------------------------------------------- downloads
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
    """A local HTTP server on 127.0.0.1 (ephemeral port) serving _Handler.files."""
    _Handler.files = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_with_md5(tmp_path, server):
    _, base = server
    body = b"hello chainrule" * 1000
    _Handler.files["/x/file.bin"] = body
    md5 = hashlib.md5(body).hexdigest()
    p = download(base + "/x/file.bin", tmp_path / "root", md5=md5, progress=False)
    assert p == tmp_path / "root" / "file.bin" and p.read_bytes() == body
    assert md5sum(p) == md5 and check_md5(p, md5)
    _Handler.files.clear()  # already present and correct: no request made
    assert download(base + "/x/file.bin", tmp_path / "root", md5=md5, progress=False) == p
    assert [f.name for f in (tmp_path / "root").iterdir()] == ["file.bin"]  # no temp files left


def test_download_md5_mismatch_deletes_file(tmp_path, server):
    _, base = server
    _Handler.files["/f.gz"] = b"corrupted payload"
    with pytest.raises(DownloadError, match=r"md5 mismatch.*expected 0{32}.*deleted"):
        download(base + "/f.gz", tmp_path, md5="0" * 32, progress=True)
    assert list(tmp_path.iterdir()) == []


def test_download_network_errors(tmp_path, server):
    httpd, base = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(base + "/missing.gz", tmp_path, progress=False)
    port = httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()
    with pytest.raises(DownloadError, match="failed.*network"):
        download(f"http://127.0.0.1:{port}/f.gz", tmp_path, progress=False, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_download_replaces_bad_existing_file(tmp_path, server):
    _, base = server
    body = b"good"
    _Handler.files["/g"] = body
    (tmp_path / "g").write_bytes(b"bad")
    download(base + "/g", tmp_path, md5=hashlib.md5(body).hexdigest(), progress=False)
    assert Path(tmp_path / "g").read_bytes() == body
