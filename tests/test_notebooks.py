"""The notebooks are tests (d2l, nbdev): each one runs green in the quick profile, its .py twin is
in sync, it has the parts every notebook of the book promises, and its `# NBVAL_CHECK_OUTPUT`
cells still print what the committed .ipynb stores.

The committed .ipynb carries outputs only for the `# NBVAL_CHECK_OUTPUT` cells (the reference that
nbval compares against); every other cell is stripped. After an intended change, re-pair and
refresh the references, then review the diff:

    .venv/bin/jupytext --sync notebooks/NAME.py
    .venv/bin/python tests/test_notebooks.py --refresh notebooks/NAME.ipynb
"""
from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
COLAB = "https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/"
QUICK = {"profile": "quick", "device": "cpu"}
#: Seconds one quick run of a notebook may take (most take 10-60 s on 2 CPU cores); default 300.
#: The first notebook that needs trained weights (01, or 09-11 run alone) builds runs/dict_quick and
#: trains runs/quick once (train.ensure_quick_run: 1-4 min on 2 CPU cores), hence their margin.
TIMEOUTS: dict[str, int] = {"01_overview": 900, "09_training": 900, "10_evaluation": 900,
                            "11_restore_your_photo": 900}
DEFAULT_TIMEOUT = 300


def _timeout(path: Path) -> int:
    return TIMEOUTS.get(path.stem, DEFAULT_TIMEOUT)


def _params(paths: list[Path]) -> list:
    """One pytest param per notebook, named after it, with its own timeout."""
    return [pytest.param(p, id=p.stem, marks=pytest.mark.timeout(_timeout(p))) for p in paths]


def _check_cells(nb) -> list[int]:
    """Indices of the code cells that nbval compares."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and CHECK_MARK in c.source]


CHECKED = [p for p in NOTEBOOKS if _check_cells(nbformat.read(p, as_version=4))]


def run_nbval(path: Path, timeout: int) -> subprocess.CompletedProcess:
    """`pytest --nbval-lax` on one stored notebook in a fresh interpreter: re-executes it with its
    parameters-cell defaults and compares the outputs of its check cells with the stored ones."""
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", str(path), "-q",
           "-p", "no:cacheprovider", f"--timeout={timeout}", "-o", "addopts="]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout + 60)


def run_papermill(path: Path, out: Path, timeout: int) -> subprocess.CompletedProcess:
    """Papermill in a fresh interpreter, as `make reproduce` runs it. Run inside the pytest process
    (after the other test modules), the notebooks' widget cells sometimes never got their execute
    reply (the kernel idle, the client waiting: nbclient#312's symptom); in a fresh process they do."""
    cmd = [sys.executable, "-m", "papermill", str(path), str(out), "--cwd", str(NB_DIR), "-k", "python3",
           "--no-progress-bar", "--execution-timeout", str(timeout)]
    for name, value in QUICK.items():
        cmd += ["-p", name, value]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout + 60)


@pytest.fixture(scope="session")
def book_stage(tmp_path_factory) -> Path:
    """A staging copy of the book: the quick runs below write their executed notebooks into it."""
    stage = tmp_path_factory.mktemp("book_stage")
    (stage / "notebooks").mkdir()
    return stage


@pytest.mark.slow
@pytest.mark.parametrize("path", _params(NOTEBOOKS))
def test_notebook_runs_in_the_quick_profile(path, book_stage):
    out = book_stage / "notebooks" / path.name
    result = run_papermill(path, out, _timeout(path))
    assert result.returncode == 0, f"{path.name}: papermill failed\n{result.stderr[-6000:]}"
    executed = nbformat.read(out, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'profile = "quick"' in injected[0].source, f"{path.name}: parameters not injected"
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"


def _cell_sources(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("stem", sorted({p.stem for p in NB_DIR.glob("*.ipynb")} | {p.stem for p in NB_DIR.glob("*.py")}))
def test_py_and_ipynb_twins_are_in_sync(stem):
    ipynb, py = NB_DIR / f"{stem}.ipynb", NB_DIR / f"{stem}.py"
    assert ipynb.exists() and py.exists(), f"{stem}: only one of .ipynb/.py exists; run jupytext --sync on it"
    a, b = _cell_sources(jupytext.read(ipynb)), _cell_sources(jupytext.read(py))
    fix = f"run `jupytext --sync notebooks/{stem}.py` (the newer file wins)"
    if len(a) != len(b):
        pytest.fail(f"{stem}: {len(a)} cells in the .ipynb, {len(b)} in the .py; {fix}")
    for i, ((type_a, src_a), (type_b, src_b)) in enumerate(zip(a, b)):
        if type_a != type_b:
            pytest.fail(f"{stem}: cell {i} is {type_a} in the .ipynb, {type_b} in the .py; {fix}")
        if src_a != src_b:
            lines_a, lines_b = src_a.splitlines() + ["<end>"], src_b.splitlines() + ["<end>"]
            j = next(k for k, (x, y) in enumerate(zip(lines_a, lines_b)) if x != y)
            pytest.fail(f"{stem}: cell {i}, line {j + 1} differs: .ipynb {lines_a[j]!r} vs .py {lines_b[j]!r}; {fix}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_the_parts_of_a_book_notebook(path):
    nb = nbformat.read(path, as_version=4)
    kernel = nb.metadata.get("kernelspec", {})
    assert kernel.get("name") and kernel.get("language"), \
        f"{path.name}: needs a kernelspec with name and language (papermill: 'No language found in notebook')"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{path.name}: needs exactly one cell tagged 'parameters', found {len(params)}"
    # nbval and a plain run use the defaults, so they must be the quick profile
    assert re.search(r"""^profile\s*=\s*["']quick["']""", params[0].source, re.M), \
        f"{path.name}: the parameters cell must set profile = \"quick\""
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert f"({COLAB}{path.name})" in markdown, f"{path.name}: no Colab badge linking to {COLAB}{path.name}"
    exercises = re.findall(r"^(`{3,}|:{3,})\{exercise\}.*\n:label:\s*(\S+)", markdown, re.M)
    assert exercises, f"{path.name}: no ```{{exercise}} block with a :label:"
    solutions = re.findall(r"^(?:`{3,}|:{3,})\{solution\}\s*(\S+)\n((?::\w+:.*\n)*)", markdown, re.M)
    for _, label in exercises:
        options = [opts for target, opts in solutions if target == label]
        assert options, f"{path.name}: exercise {label} has no solution"
        assert all(re.search(r"^:class:.*\bdropdown\b", o, re.M) for o in options), \
            f"{path.name}: the solution of {label} must be hidden (:class: dropdown)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_only_the_check_cells_store_outputs(path):
    nb = nbformat.read(path, as_version=4)
    checked = set(_check_cells(nb))
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if i in checked:  # without a stored, numbered output nbval compares nothing
            assert cell.outputs and cell.execution_count is not None, \
                f"{path.name}: check cell {i} stores no reference output; run `python tests/test_notebooks.py --refresh {path.relative_to(ROOT)}`"
        else:
            assert not cell.outputs and cell.execution_count is None, \
                f"{path.name}: cell {i} stores outputs; only {CHECK_MARK} cells may (strip it or run --refresh)"


@pytest.mark.slow
@pytest.mark.parametrize("path", _params(CHECKED))
def test_check_cells_print_the_stored_reference(path):
    result = run_nbval(path, _timeout(path))
    assert result.returncode == 0, f"{path.name}: nbval failed\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_nbval_run_fails_on_a_wrong_reference(tmp_path):
    """The harness itself: a check cell whose stored output is wrong must fail, a right one pass."""
    def notebook(stored: str) -> Path:
        nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                               "display_name": "Python 3"}})
        cell = nbformat.v4.new_code_cell(f"{CHECK_MARK}\nprint(6 * 7)", execution_count=1)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored)]
        nb.cells = [nbformat.v4.new_code_cell("x = 1"), cell]
        path = tmp_path / f"stored_{stored.strip()}.ipynb"
        nbformat.write(nb, path)
        return path

    assert run_nbval(notebook("42\n"), 60).returncode == 0
    wrong = run_nbval(notebook("43\n"), 60)
    assert wrong.returncode == 1 and "Cell outputs differ" in wrong.stdout, wrong.stdout[-3000:]


def refresh_reference_outputs(path: Path) -> None:
    """Execute `path` with its default parameters (quick) and store the outputs of its check cells only."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    executed = copy.deepcopy(nb)
    NotebookClient(executed, kernel_name="python3", timeout=_timeout(path),
                   resources={"metadata": {"path": str(NB_DIR)}}).execute()
    for cell, ran in zip(nb.cells, executed.cells):
        if cell.cell_type != "code":
            continue
        keep = CHECK_MARK in cell.source
        cell.outputs = ran.outputs if keep else []
        cell.execution_count = ran.execution_count if keep else None
    nbformat.write(nb, path)
    print(f"{path}: stored the outputs of {len(_check_cells(nb))} check cell(s), stripped the rest")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "--refresh":
        raise SystemExit(__doc__)
    for name in sys.argv[2:]:
        refresh_reference_outputs(Path(name).resolve())


#: Pages that must carry widget state: the clustering (06) and feature-matching (07) widgets, displayed at
#: build time. Their views are precomputed images switched by browser-side links (dfdnet_lite.widgets).
WIDGET_PAGES: tuple[str, ...] = ("06_building_dictionaries", "07_dft_block")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_book_builds_with_every_page_widget_state_and_no_external_script(book_stage):
    """Built from the notebooks executed above: every page present, widget state embedded, no CDN."""
    import importlib.util

    missing = [p.name for p in NOTEBOOKS if not (book_stage / "notebooks" / p.name).exists()]
    if missing:
        pytest.skip(f"these notebooks were not executed in this session (deselected or failed): {missing}")
    spec = importlib.util.spec_from_file_location("reproduce", ROOT / "data_scripts" / "reproduce.py")
    reproduce = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reproduce)
    reproduce.stage_sources(book_stage, notebooks=False)
    status = reproduce.build_book(book_stage, book_stage)  # its output is shown by pytest on failure
    assert status == 0, "jupyter-book build failed (warnings are errors); see the captured output"
    html = book_stage / "_build" / "html"
    for path in NOTEBOOKS:
        page = html / "notebooks" / f"{path.stem}.html"
        assert page.is_file(), f"no page for {path.name}"
        text = page.read_text()
        scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', text)
        external = [src for src in scripts if re.match(r"(https?:)?//", src)]
        assert not external, f"{page.name} loads scripts from another host: {external}"
        if path.stem in WIDGET_PAGES:
            assert 'application/vnd.jupyter.widget-state+json' in text, f"{page.name}: no widget state"
            assert 'application/vnd.jupyter.widget-view+json' in text, f"{page.name}: no widget view"
    for js in ("require.js", "embed-amd.js", "tex-svg.js"):
        assert (html / "_static" / js).is_file(), f"{js} is not served by the book"
