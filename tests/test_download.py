"""The download helper and the data scripts, all offline: checksums, resume, fast failure, arguments."""
from __future__ import annotations

import http.server
import importlib.util
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dfdnet_lite.download import ChecksumError, DownloadError, download, file_digest, verify_sha256

SCRIPTS = Path(__file__).resolve().parents[1] / "data_scripts"
PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
#: reference digests of b"dfdnet-lite\n" (from coreutils sha256sum / md5sum)
SHA256 = "2ef554a18e0621b164af29c71491f27c882fef6a83ecc60f241fbcc554c1b000"
MD5 = "46838ed179187a467680631deb959eda"


def test_verify_good_and_bad_hash(tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(b"dfdnet-lite\n")
    assert verify_sha256(f, SHA256.upper()) == SHA256 and file_digest(f, "md5") == MD5
    with pytest.raises(ChecksumError, match=f"is {SHA256}, expected 00ff"):
        verify_sha256(f, "00ff")


def test_file_url_download_checks_the_hash(tmp_path, capsys):
    src = tmp_path / "src.bin"
    src.write_bytes(b"dfdnet-lite\n")
    out = download(src.as_uri(), tmp_path / "a" / "x.bin", sha256=SHA256, licence="CC0 test", progress=False)
    assert out.read_bytes() == b"dfdnet-lite\n"
    printed = capsys.readouterr().out
    assert printed.index("Licence of x.bin: CC0 test") < printed.index("checksum OK")
    with pytest.raises(ChecksumError):
        download(src.as_uri(), tmp_path / "b" / "x.bin", sha256="0" * 64, progress=False)
    assert not (tmp_path / "b" / "x.bin").exists() and not (tmp_path / "b" / "x.bin.part").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_existing_correct_file_is_reused_without_network(tmp_path):
    dest = tmp_path / "x.bin"
    dest.write_bytes(b"dfdnet-lite\n")
    assert download(f"http://127.0.0.1:{_closed_port()}/x", dest, md5=MD5, timeout=1) == dest


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD; honours Range unless told not to; can cut the first answer in half."""

    cut_next, honour_range, ranges = False, True, []

    def do_GET(self):  # noqa: N802
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng and self.honour_range else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(PAYLOAD) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.end_headers()
        body = PAYLOAD[start:]
        if type(self).cut_next:
            type(self).cut_next = False
            body = body[: len(body) // 2]  # the connection drops half way
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    RangeHandler.cut_next, RangeHandler.honour_range, RangeHandler.ranges = False, True, []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/file.bin"
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("honour_range", [True, False])
def test_interrupted_download_resumes_to_the_same_bytes(tmp_path, server, honour_range):
    import hashlib

    expected = hashlib.sha256(PAYLOAD).hexdigest()
    dest = tmp_path / "file.bin"
    RangeHandler.cut_next = True
    with pytest.raises(DownloadError, match="run again to resume"):
        download(server, dest, sha256=expected, progress=False, timeout=5)
    part = dest.with_name("file.bin.part")
    assert part.stat().st_size == len(PAYLOAD) // 2 and not dest.exists()
    RangeHandler.honour_range = honour_range  # a server that ignores Range makes it start again
    download(server, dest, sha256=expected, progress=False, timeout=5)
    assert dest.read_bytes() == PAYLOAD and not part.exists()
    assert RangeHandler.ranges == [None, f"bytes={len(PAYLOAD) // 2}-"]


def _fails_fast(url: str, tmp_path, timeout: float) -> str:
    start = time.perf_counter()
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "x.bin", timeout=timeout, progress=False)
    assert time.perf_counter() - start < timeout + 2
    return str(info.value)


def test_offline_failure_is_fast_and_says_what_to_do(tmp_path):
    refused = _fails_fast(f"http://127.0.0.1:{_closed_port()}/w.pth", tmp_path, 1.0)
    assert "cannot reach 127.0.0.1" in refused and "no internet access" in refused and "x.bin" in refused
    unknown = _fails_fast("https://dfdnet-lite-test.invalid/w.pth", tmp_path, 2.0)  # .invalid never resolves
    assert "cannot reach dfdnet-lite-test.invalid" in unknown
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        stalled = _fails_fast(f"http://127.0.0.1:{silent.getsockname()[1]}/w.pth", tmp_path, 1.0)
    assert "timed out" in stalled


def test_a_web_page_instead_of_the_file_is_refused(tmp_path):
    page = tmp_path / "quota.html"
    page.write_text("<html>Quota exceeded</html>")
    with pytest.raises(DownloadError, match="web page instead of the file"):
        download(page.as_uri(), tmp_path / "w.pth", progress=False)


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["download_ffhq.py", "download_celeba.py", "download_vggface2_test.py",
                                  "download_official.py"])
def test_scripts_help_and_bad_arguments(name):
    ok = _script(name, "--help")
    assert ok.returncode == 0 and "--out" in ok.stdout and len(ok.stdout.splitlines()) > 6
    bad = _script(name, "--out", "x", "--no-such-option")
    assert bad.returncode == 2 and "unrecognized arguments: --no-such-option" in bad.stderr


def test_official_dry_run_lists_the_release():
    proc = _script("download_official.py", "--out", "rel", "--dry-run")
    assert proc.returncode == 0 and "CC BY-NC-SA 4.0" in proc.stdout.splitlines()[0]
    listed = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")]
    assert len(listed) == 18 and "rel/DictionaryCenter512/nose_32_center.npy" in listed
    assert "rel/checkpoints/facefh_dictionary/latest_net_G.pth" in listed and "rel/weights/vgg19.pth" in listed
    assert _script("download_official.py", "--out", "rel", "--what", "eyes").returncode == 2


def test_official_from_folder_copies_and_records_hashes(tmp_path):
    src = tmp_path / "manual" / "DFDNet" / "weights"
    src.mkdir(parents=True)
    (src / "vgg19.pth").write_bytes(b"dfdnet-lite\n")
    proc = _script("download_official.py", "--what", "vgg", "--out", str(tmp_path / "rel"),
                   "--from-folder", str(tmp_path / "manual"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "rel" / "weights" / "vgg19.pth").read_bytes() == b"dfdnet-lite\n"
    assert SHA256 in (tmp_path / "rel" / "official_sha256.json").read_text()
    missing = _script("download_official.py", "--what", "generator", "--out", str(tmp_path / "rel"),
                      "--from-folder", str(tmp_path / "manual"))
    assert missing.returncode == 1 and "no checkpoints/facefh_dictionary/latest_net_G.pth" in missing.stderr


def test_ffhq_balanced_10k_is_a_stated_stand_in():
    proc = _script("download_ffhq.py", "--out", "ffhq", "--balanced-10k", "--dry-run")
    assert proc.returncode == 0 and "never published" in proc.stdout
    assert "10000 faces (stride): 00000, 00007, 00014, 00021, 00028, ..., 69993" in proc.stdout
    assert _script("download_ffhq.py", "--out", "ffhq", "--num", "0").returncode == 2


def test_vggface2_says_where_to_ask_or_selects_round_robin(tmp_path):
    proc = _script("download_vggface2_test.py", "--out", str(tmp_path / "v"))
    assert proc.returncode == 1 and "robots.ox.ac.uk" in proc.stderr
    for ident in ("n000002", "n000001", "n000003"):
        (tmp_path / "test" / ident).mkdir(parents=True)
        for img in ("0002_01.jpg", "0001_01.jpg"):
            (tmp_path / "test" / ident / img).write_bytes(b"jpeg")
    proc = _script("download_vggface2_test.py", "--out", str(tmp_path / "v"), "--from-folder",
                   str(tmp_path / "test"), "--num", "4")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "v" / "subset.txt").read_text().split() == [
        "n000001/0001_01.jpg", "n000002/0001_01.jpg", "n000003/0001_01.jpg", "n000001/0002_01.jpg"]


def test_celeba_script_fails_fast_offline(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("download_celeba", SCRIPTS / "download_celeba.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    port = _closed_port()
    monkeypatch.setattr(module, "gdrive_url", lambda file_id: f"http://127.0.0.1:{port}/{file_id}")
    start = time.perf_counter()
    assert module.run_script(module.main, ["--out", str(tmp_path), "--what", "annotations", "--timeout", "1"]) == 1
    assert time.perf_counter() - start < 3
    captured = capsys.readouterr()
    assert "non-commercial" in captured.out and "error: cannot reach 127.0.0.1" in captured.err
