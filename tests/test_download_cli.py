"""`dfdnet-lite download`: the data_scripts downloaders behind one subcommand, all offline (closed port, .invalid)."""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from dfdnet_lite import restore
from dfdnet_lite.cli import download as cli_download
from dfdnet_lite.cli import main
from dfdnet_lite.download import fetch_text

#: sha256 of b"dfdnet-lite\n" (coreutils sha256sum), as in test_download.py
SHA256 = "2ef554a18e0621b164af29c71491f27c882fef6a83ecc60f241fbcc554c1b000"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_lists_the_four_downloads_without_loading_torch():
    code = ("import sys; from dfdnet_lite.cli import main\ntry:\n main(['download', '--help'])\n"
            "except SystemExit: pass\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    for name in ("official", "ffhq", "celeba", "vggface2-test", "CC BY-NC-SA 4.0", "--from-folder"):
        assert name in out
    assert out.strip().endswith("False")


def test_official_offline_fails_fast_after_the_licence_and_says_what_to_fetch(tmp_path, monkeypatch, capsys):
    module = cli_download.load_script("official")
    port = _closed_port()  # the Drive folder listing goes to a port nobody listens on
    monkeypatch.setattr(module, "fetch_text", lambda url, timeout: fetch_text(f"http://127.0.0.1:{port}/x", timeout))
    start = time.perf_counter()
    assert main(["download", "official", "--out", str(tmp_path / "rel"), "--timeout", "1"]) == 1
    assert time.perf_counter() - start < 3
    captured = capsys.readouterr()
    assert captured.out.startswith("Licence of the official DFDNet release: CC BY-NC-SA 4.0")
    err = captured.err
    assert err.startswith("dfdnet-lite download: error: cannot reach 127.0.0.1") and "Traceback" not in err
    assert f"https://drive.google.com/drive/folders/{module.DRIVE_FOLDER}" in err and "pan.baidu.com" in err
    assert f"--from-folder THAT_FOLDER --out {tmp_path / 'rel'}" in err
    assert str(tmp_path / "rel" / restore.OFFICIAL_GENERATOR) in err and not (tmp_path / "rel").exists()


def test_celeba_offline_names_the_files_and_the_folder(tmp_path, monkeypatch, capsys):
    module = cli_download.load_script("celeba")
    monkeypatch.setattr(module, "gdrive_url", lambda file_id: f"https://dfdnet-lite-test.invalid/{file_id}")
    assert main(["download", "celeba", "--what", "annotations", "--out", str(tmp_path), "--timeout", "2"]) == 1
    captured = capsys.readouterr()
    assert "non-commercial" in captured.out.splitlines()[0]
    assert "cannot reach dfdnet-lite-test.invalid" in captured.err
    assert "list_eval_partition.txt" in captured.err and f"put them in {tmp_path} and run this again" in captured.err


def test_official_from_folder_lands_where_restore_looks(tmp_path, monkeypatch, capsys):
    manual = tmp_path / "manual" / "DFDNet"
    (manual / "checkpoints" / "facefh_dictionary").mkdir(parents=True)
    (manual / "checkpoints" / "facefh_dictionary" / "latest_net_G.pth").write_bytes(b"dfdnet-lite\n")
    monkeypatch.chdir(tmp_path)
    assert main(["download", "official", "--what", "generator", "--from-folder", str(tmp_path / "manual")]) == 0
    release = tmp_path / restore.OFFICIAL_ROOT
    assert (release / restore.OFFICIAL_GENERATOR).read_bytes() == b"dfdnet-lite\n"
    assert json.loads((release / "official_sha256.json").read_text()) == {restore.OFFICIAL_GENERATOR.as_posix(): SHA256}
    (release / restore.OFFICIAL_DICTIONARY).mkdir()  # as --what dictionaries would
    monkeypatch.setattr(restore, "REPO_ROOT", tmp_path / "elsewhere")
    assert restore.resolve_weights()[:2] == (restore.OFFICIAL_ROOT / restore.OFFICIAL_GENERATOR,
                                             restore.OFFICIAL_ROOT / restore.OFFICIAL_DICTIONARY)


def test_options_pass_through_or_are_refused(tmp_path, capsys):
    assert main(["download", "ffhq", "--num", "3", "--dry-run", "--out", str(tmp_path / "f")]) == 0
    assert f"3 faces (first): 00000, 00001, 00002; 1024 px into {tmp_path / 'f'}" in capsys.readouterr().out
    assert main(["download", "celeba", "--num", "3"]) == 1
    err = capsys.readouterr().err
    assert "download celeba does not take --num (it takes --out, --what, --extract, --dry-run, --timeout)" in err
    assert main(["download", "vggface2-test", "--out", str(tmp_path / "v")]) == 1
    assert "robots.ox.ac.uk" in capsys.readouterr().err and not (tmp_path / "v").exists()


def test_script_argv_uses_the_default_folders():
    parser = argparse.ArgumentParser()
    cli_download.add_arguments(parser)
    assert cli_download.script_argv(parser.parse_args(["official"])) == ["--out", "weights/official"]
    args = parser.parse_args(["ffhq", "--num", "7", "--size", "512", "--timeout", "3"])
    assert cli_download.script_argv(args) == ["--out", "data/ffhq", "--num", "7", "--size", "512", "--timeout", "3.0"]



def test_the_official_release_goes_where_restore_and_evaluate_look_for_it():
    assert Path(cli_download.DATASETS["official"][1]) == restore.OFFICIAL_ROOT
