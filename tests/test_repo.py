"""The repository keeps its promises: two set-up commands, CI calls the test command, the book's
table of contents points at files that exist, and every notebook is paired."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_readme_names_exactly_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    assert "make test" in text and "make reproduce" in text
    make_targets = set(re.findall(r"^make (\w+)", text, flags=re.M))
    assert make_targets == {"test", "reproduce"}


def test_ci_runs_the_readme_test_command_only():
    lines = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines()]
    commands = [ln for ln in lines if ln and not ln.startswith("#") and not ln.startswith(("set ", "cd "))]
    assert commands == ["make test"]


def test_torch_is_a_range_in_the_package_and_pinned_in_constraints():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_req = next(d for d in deps if d.startswith("torch") and not d.startswith("torchvision"))
    assert "==" not in torch_req and ">=" in torch_req
    pins = (ROOT / "requirements/constraints.txt").read_text()
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins


def test_toc_points_at_existing_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    for f in files:
        assert any((ROOT / f"{f}{ext}").exists() for ext in (".md", ".ipynb")), f"_toc.yml names a missing page: {f}"


def test_every_notebook_is_paired():
    nb = ROOT / "notebooks"
    ipynb = {p.stem for p in nb.glob("*.ipynb")}
    py = {p.stem for p in nb.glob("*.py")}
    assert ipynb == py, f"unpaired notebooks: {sorted(ipynb ^ py)}"


def test_environment_yml_uses_the_same_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-c requirements/constraints.txt" in pip_lines and "-e .[dev]" in pip_lines
