"""The `dfdnet-lite` command: every subcommand has useful help, and `python -m dfdnet_lite` is the same."""
from __future__ import annotations

import subprocess
import sys

import pytest

from dfdnet_lite.cli import COMMANDS, main


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dfdnet_lite", *args], capture_output=True, text=True, timeout=120)


def test_top_level_help_lists_every_subcommand_without_loading_torch():
    code = "import sys; from dfdnet_lite.cli import main\ntry:\n main(['--help'])\nexcept SystemExit: pass\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    for name in COMMANDS:
        assert name in out
    assert out.strip().endswith("False"), "dfdnet-lite --help should not import torch"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommand_has_help(name):
    proc = _run(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert f"dfdnet-lite {name}" in proc.stdout and len(proc.stdout.splitlines()) > 4


def test_no_subcommand_prints_help_and_fails():
    assert main([]) == 2


def test_every_lazy_public_name_resolves():
    import dfdnet_lite

    for name in dfdnet_lite.__all__:
        assert getattr(dfdnet_lite, name) is not None, name
