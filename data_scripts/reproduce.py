#!/usr/bin/env python
"""Reproduce the book: execute every notebook with papermill, then build the Jupyter Book.

    python data_scripts/reproduce.py --profile quick          # what `make reproduce` runs (CPU, offline)
    python data_scripts/reproduce.py --profile quick --book-only
    python data_scripts/reproduce.py --profile paper --device cuda

The notebooks are executed into a staging copy of the book (`_build/book_src/`), so the
source tree is never modified, and the book is built from there into `_build/html` with
warnings as errors. Notebooks the book plans but that do not exist yet are listed, never faked.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
STAGE = BUILD / "book_src"

#: The book's notebooks, in reading order (issue 6); each is notebooks/<name>.ipynb + .py.
PLANNED_NOTEBOOKS: tuple[str, ...] = (
    "01_overview",
    "02_faces_and_landmarks",
    "03_degradation",
    "04_vgg_encoder",
    "05_roialign",
    "06_building_dictionaries",
    "07_dft_block",
    "08_losses",
    "09_training",
    "10_evaluation",
    "11_restore_your_photo",
)


def existing_notebooks() -> tuple[list[Path], list[str]]:
    """The planned notebooks that exist, and the names of those still missing."""
    present, missing = [], []
    for name in PLANNED_NOTEBOOKS:
        path = ROOT / "notebooks" / f"{name}.ipynb"
        (present if path.exists() else missing).append(path if path.exists() else name)
    return present, missing


def stage_sources(stage: Path = STAGE, notebooks: bool = True) -> None:
    """Copy the book's sources (config, toc, pages and, with `notebooks`, the notebooks) into `stage`."""
    for name in ("_config.yml", "_toc.yml", "book"):
        target = stage / name
        if target.is_dir():
            shutil.rmtree(target)
    stage.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, stage / name)
    shutil.copytree(ROOT / "book", stage / "book")
    if notebooks:
        if (stage / "notebooks").exists():
            shutil.rmtree(stage / "notebooks")
        shutil.copytree(ROOT / "notebooks", stage / "notebooks", ignore=shutil.ignore_patterns("*.py", ".ipynb_checkpoints"))


def execute_notebooks(notebooks: list[Path], profile: str, device: str) -> list[str]:
    """Run each notebook with papermill in the staging folder; return the names that failed."""
    import papermill as pm

    failed = []
    for path in notebooks:
        out = STAGE / "notebooks" / path.name
        start = time.perf_counter()
        print(f"[reproduce] executing {path.name} (profile={profile}) ...", flush=True)
        try:
            pm.execute_notebook(str(path), str(out), parameters={"profile": profile, "device": device},
                                cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
            print(f"[reproduce]   ok in {time.perf_counter() - start:.1f} s", flush=True)
        except Exception as err:  # papermill raises PapermillExecutionError with the cell's traceback
            print(f"[reproduce]   FAILED: {err}", file=sys.stderr, flush=True)
            failed.append(path.name)
    return failed


def build_book(stage: Path = STAGE, output: Path = ROOT, **run_kwargs) -> int:
    """Build the staged book into `output`/_build/html, failing on any warning; returns the exit status."""
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(stage), "--path-output", str(output),
           "--all", "-W", "-n", "--keep-going"]
    print("[reproduce] jupyter-book " + " ".join(cmd[1:]), flush=True)
    return subprocess.run(cmd, cwd=ROOT, **run_kwargs).returncode


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=["quick", "medium", "paper"], default="quick",
                        help="run profile passed to every notebook's parameters cell (default: quick)")
    parser.add_argument("--device", default="auto", help="device for the notebooks: auto, cpu, cuda (default: auto)")
    parser.add_argument("--book-only", action="store_true", help="build the book from already executed notebooks")
    args = parser.parse_args(argv)
    if args.profile == "paper":
        print("[reproduce] the paper profile (download FFHQ, build the dictionaries, train, evaluate) needs "
              "the dictionary-building and training stages, which are not in the package yet (issues 4 and 5).",
              file=sys.stderr)
        return 2
    notebooks, missing = existing_notebooks()
    if missing:
        print(f"[reproduce] {len(missing)} of {len(PLANNED_NOTEBOOKS)} planned notebooks do not exist yet: "
              + ", ".join(missing), flush=True)
    failed: list[str] = []
    if not args.book_only:
        stage_sources()
        failed = execute_notebooks(notebooks, args.profile, args.device)
    elif not STAGE.exists():
        stage_sources()
    status = build_book()
    print(f"[reproduce] executed {len(notebooks) - len(failed)} of {len(notebooks)} existing notebooks; "
          f"{len(missing)} missing; book build {'ok' if status == 0 else 'FAILED'} -> _build/html/index.html")
    return 1 if failed or status else 0


if __name__ == "__main__":
    raise SystemExit(main())
