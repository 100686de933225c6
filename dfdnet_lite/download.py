"""The kit's one download helper: licence first, resume, progress, checksum, a clear failure offline.

Weights and data are fetched, never vendored (house rule 8). Standard library only (urllib), plus
tqdm for the progress bar. Notebook 02 (faces) and Notebook 05 (official weights) use it through the
scripts in `data_scripts/`.
"""
from __future__ import annotations

import hashlib
import http.client
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

#: Seconds to wait for a connection (and for each read) before calling the host unreachable.
TIMEOUT = 15.0
CHUNK = 1 << 20
USER_AGENT = "dfdnet-lite-downloader/0.1 (+https://github.com/csxmli2016/DFDNet)"


class DownloadError(RuntimeError):
    """A download that failed, with the reason and what to do in one message."""


class ChecksumError(DownloadError):
    """A file whose checksum differs from the expected one."""


def file_digest(path: "str | Path", algorithm: str = "sha256") -> str:
    """Hex digest of a file (sha256 or md5), read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: "str | Path", expected: str, algorithm: str = "sha256") -> str:
    """Return the file's digest; raise ChecksumError naming both values if it is not `expected`."""
    actual = file_digest(path, algorithm)
    if actual.lower() != expected.strip().lower():
        raise ChecksumError(f"{path}: {algorithm} is {actual}, expected {expected}: the file is corrupt or "
                            "a different version; delete it and download again")
    return actual


def gdrive_url(file_id: str) -> str:
    """Direct-download URL of a public Google Drive file (skips the virus-scan page of large files)."""
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


def offline_message(url: str, reason: object, dest: "Path | None" = None) -> str:
    """The message for a host that cannot be reached: what happened and what to do."""
    host = urllib.parse.urlsplit(url).hostname or url
    text = (f"cannot reach {host} ({reason}). This machine seems to have no internet access to that host "
            "(no network, a firewall or a proxy).")
    if dest is None:
        return text + " Run this on a machine (or Colab) that has internet access."
    return text + (f" Download {url} on a machine that has access, copy it to {dest} and run again: "
                   "the file there is checked and reused.")


def _open(url: str, offset: int, timeout: float):
    """urlopen with a Range header from `offset`; returns the response or raises HTTPError / URLError."""
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _check_existing(dest: Path, sha256: "str | None", md5: "str | None") -> bool:
    """True if `dest` is already there and (when a hash is given) correct; a wrong file is removed."""
    if not dest.exists():
        return False
    if sha256 is None and md5 is None:
        print(f"{dest}: already there (no checksum to verify; sha256 {file_digest(dest)})")
        return True
    try:
        _verify(dest, sha256, md5)
    except ChecksumError as err:
        print(f"{err}\n-> downloading it again", file=sys.stderr)
        dest.unlink()
        return False
    print(f"{dest}: already there, checksum OK")
    return True


def _verify(path: Path, sha256: "str | None", md5: "str | None") -> str:
    """Verify whichever hashes are given; return the sha256 (computed if not given)."""
    if md5 is not None:
        verify_sha256(path, md5, "md5")
    return verify_sha256(path, sha256) if sha256 is not None else file_digest(path)


def _total(resp, offset: int) -> "int | None":
    """Full size of the file from Content-Range or Content-Length, if the server says it."""
    crange = resp.headers.get("Content-Range", "")
    if "/" in crange and crange.rsplit("/", 1)[1].strip().isdigit():
        return int(crange.rsplit("/", 1)[1])
    length = resp.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _stream(resp, part: Path, offset: int, total: "int | None", label: str, progress: bool) -> int:
    """Append the response body to `part` with a tqdm bar; return the bytes now in `part`."""
    from tqdm import tqdm

    mode = "ab" if offset else "wb"
    with open(part, mode) as f, tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                                     desc=label, disable=not progress, leave=False) as bar:
        while block := resp.read(CHUNK):
            f.write(block)
            bar.update(len(block))
    return part.stat().st_size


def _fetch(url: str, dest: Path, part: Path, timeout: float, progress: bool) -> None:
    """Download `url` into `part`, resuming from its size; raise DownloadError on any failure."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        resp = _open(url, offset, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # range past the end: the partial file is already complete
            return
        raise DownloadError(f"{url}: the server answered HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as err:
        raise DownloadError(offline_message(url, getattr(err, "reason", err), dest)) from None
    with resp:
        if offset and resp.status != 206:  # the server ignored the Range header: start again
            print(f"{url}: the server cannot resume; downloading from the start", file=sys.stderr)
            offset = 0
        if "text/html" in resp.headers.get("Content-Type", "") and dest.suffix.lower() not in (".html", ".htm"):
            raise DownloadError(f"{url}: the server sent a web page instead of the file (a quota, a login or a "
                                "moved file); open the URL in a browser to see why")
        total = _total(resp, offset)
        try:
            got = _stream(resp, part, offset, total, dest.name, progress)
        except (http.client.IncompleteRead, socket.timeout, ConnectionError, OSError) as err:
            raise DownloadError(f"{url}: the connection broke ({type(err).__name__}); {part} keeps "
                                f"{part.stat().st_size} bytes, run again to resume") from None
    if total is not None and got < total:
        raise DownloadError(f"{url}: got {got} of {total} bytes; {part} is kept, run again to resume")


def download(url: str, dest: "str | Path", sha256: "str | None" = None, licence: "str | None" = None,
             md5: "str | None" = None, timeout: float = TIMEOUT, progress: bool = True) -> Path:
    """Download `url` to `dest` (resuming `dest`.part), verify sha256/md5, print the licence first.

    An existing correct `dest` is reused without network. Without an expected sha256 the computed one
    is printed so it can be pinned. Offline, it fails within `timeout` seconds with a DownloadError
    that says what to do.
    """
    dest = Path(dest)
    if licence:
        print(f"Licence of {dest.name}: {licence}")
    if _check_existing(dest, sha256, md5):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    _fetch(url, dest, part, timeout, progress)
    try:
        digest = _verify(part, sha256, md5)
    except ChecksumError:
        part.unlink()
        raise
    part.replace(dest)
    note = "checksum OK" if sha256 or md5 else "no checksum pinned yet"
    print(f"{dest}: {dest.stat().st_size} bytes, sha256 {digest} ({note})")
    return dest


def fetch_text(url: str, timeout: float = TIMEOUT) -> str:
    """GET a small text resource (e.g. a folder listing); DownloadError with the offline message on failure."""
    try:
        with _open(url, 0, timeout) as resp:
            return resp.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as err:
        raise DownloadError(f"{url}: the server answered HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as err:
        raise DownloadError(offline_message(url, getattr(err, "reason", err))) from None


def run_script(main, argv: "list[str] | None" = None) -> int:
    """Run a data script's `main(argv)`: a DownloadError or missing file becomes one 'error:' line and status 1."""
    try:
        return int(main(argv) or 0)
    except (DownloadError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
