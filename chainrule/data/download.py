"""Downloading data files with an md5 check and an atomic write.

A download streams into a temporary file next to the target, hashing as it goes; only a file whose md5
matches is moved into place (``os.replace``), so an interrupted or corrupted transfer never leaves a
file that looks complete. Failures raise :class:`DownloadError` saying what happened and how to fix it;
nothing is retried silently.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

__all__ = ["DownloadError", "download", "md5sum", "check_md5"]

_CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A download failed (network error, HTTP error or checksum mismatch)."""


def md5sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """The hex md5 digest of a file."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def check_md5(path: str | os.PathLike, md5: str | None) -> bool:
    """True if the file exists and (when ``md5`` is given) has that md5 digest."""
    p = Path(path)
    if not p.is_file():
        return False
    return md5 is None or md5sum(p) == md5.lower()


def download(url: str, root: str | os.PathLike, md5: str | None = None, filename: str | None = None,
             progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` into directory ``root`` (as ``filename``, default the URL's last path part).

    If the file is already there with the right md5 nothing is fetched. The data are written to a
    temporary file and moved into place only after the md5 (when given) matches; on a mismatch the bad
    data are deleted and :class:`DownloadError` is raised. A tqdm progress bar is shown unless
    ``progress=False``. Returns the path of the file.
    """
    root = Path(root).expanduser()
    if filename is None:
        filename = os.path.basename(urllib.parse.urlparse(url).path)
        if not filename:
            raise ValueError(f"download: cannot take a file name from URL {url!r}; pass filename=")
    target = root / filename
    if target.is_file():
        if check_md5(target, md5):
            return target
        # An existing file with the wrong checksum is replaced by a fresh download below.
    root.mkdir(parents=True, exist_ok=True)

    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as e:
        raise DownloadError(
            f"download of {url} failed: HTTP {e.code} {e.reason}; check the URL or try another mirror, or "
            f"fetch the file by hand and place it at {target}"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"download of {url} failed: {reason}; check the network connection (or proxy settings), or fetch "
            f"the file by hand and place it at {target}"
        ) from None

    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=root)
    tmp = Path(tmp_name)
    h = hashlib.md5()
    try:
        with response, os.fdopen(fd, "wb") as out:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            bar = _progress_bar(total, filename, progress)
            got = 0
            try:
                while True:
                    try:
                        block = response.read(_CHUNK)
                    except (OSError, ValueError) as e:
                        raise DownloadError(
                            f"download of {url} broke off after {got} bytes: {e}; check the network and "
                            f"try again"
                        ) from None
                    if not block:
                        break
                    out.write(block)
                    h.update(block)
                    got += len(block)
                    if bar is not None:
                        bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
            if total is not None and got != total:
                raise DownloadError(
                    f"download of {url} is incomplete: expected {total} bytes (Content-Length), got {got}; "
                    f"the partial file was deleted, try again"
                )
        digest = h.hexdigest()
        if md5 is not None and digest != md5.lower():
            raise DownloadError(
                f"md5 mismatch for {url}: expected {md5.lower()}, got {digest} ({got} bytes); the bad file "
                f"was deleted. The mirror may serve a different or corrupted file: try again or another "
                f"mirror, or place a correct copy at {target}"
            )
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def _progress_bar(total: int | None, desc: str, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but a missing bar must not break a download
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=False)
