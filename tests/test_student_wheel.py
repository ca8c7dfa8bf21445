"""The student package as a student gets it: a fresh Python environment, the released
folder without its ``checks/``, the notebook's first cell ``%pip install``-ing the wheel
beside it, then a check cell, run through nbclient; then ``grader check`` from the
terminal, with the public checks the installed package brought.

No registry is asked: the fresh environment is given the packages of the one running the
tests (NumPy, nbclient, ipykernel…) as hard links, leaving the grader itself out, and pip
runs with ``PIP_NO_INDEX`` and no configuration file. The wheel's
size and the time of the install and of the first check are printed, not asserted.
"""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from grader.grading.catalog import Catalog
from grader.grading.release import release
from grader.grading.studentkit import DISTRIBUTION
from grader.notebook.regions import extract, normalise_source

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOK = "Initialization.ipynb"
DONE, WRONG = "initialize_parameters_zeros", "initialize_parameters_he"  # solved; an index past the end
OFF_BY_ONE = ("np.sqrt(2 / layers_dims[l - 1])", "np.sqrt(2 / layers_dims[l + 1])")
# The grader itself and what the new venv has of its own stay out.
LEFT_OUT = ("grader", "nbautograde", "__editable__", "pip", "_distutils_hack", "distutils-precedence",
            "setuptools", "pkg_resources", "__pycache__")
NO_REGISTRY = {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _fresh_environment(folder: Path) -> Path:
    """A new venv holding this one's packages, minus the grader; its python.

    The packages are hard links (copies across file systems), inside the new venv's own
    site-packages: a contained kernel sees only its Python's installation, so links
    pointing elsewhere would not do.
    """
    subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
    python = folder / "venv" / "bin" / "python"
    inside = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip())
    for outer in site.getsitepackages():
        for entry in Path(outer).iterdir():
            if entry.name.lower().startswith(LEFT_OUT) or entry.suffix == ".pth" or (inside / entry.name).exists():
                continue
            if entry.is_dir():
                shutil.copytree(entry, inside / entry.name, copy_function=_link_or_copy, symlinks=True)
            else:
                _link_or_copy(entry, inside / entry.name)
    return python


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _kernel_manager(python: Path, folder: Path):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = folder / "kernels" / "fresh"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh student environment", "language": "python", "env": NO_REGISTRY,
    }), encoding="utf-8")
    specs = KernelSpecManager()
    specs.kernel_dirs = [str(folder / "kernels")]
    return KernelManager(kernel_name="fresh", kernel_spec_manager=specs)


def _student_notebook(released: Path) -> nbformat.NotebookNode:
    """The released notebook as a student runs it: the given cells, the checker cells,
    ``DONE`` written as the solution has it and ``WRONG`` with an index one too far; demos
    (plots, training) left out for speed."""
    solution = [c.source for c in nbformat.read(str(SOLUTIONS / NOTEBOOK), as_version=4).cells if c.cell_type == "code"]
    solved = next(s for s in solution if extract(normalise_source(s), DONE).found)
    wrong = next(s for s in solution if extract(normalise_source(s), WRONG).found)
    assert OFF_BY_ONE[0] in wrong
    nb = nbformat.read(str(released / NOTEBOOK), as_version=4)
    kept = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        checker = cell.get("id", "").startswith(("install-checker", "check-"))
        if "demo" in cell.metadata.get("tags", []) and not checker:
            continue
        if extract(normalise_source(cell.source), DONE).found:
            cell.source = solved
        elif extract(normalise_source(cell.source), WRONG).found:
            cell.source = wrong.replace(*OFF_BY_ONE)
        kept.append(cell)
    kept.append(nbformat.v4.new_code_cell(  # the test's own look at what was imported
        "import grader, json\n"
        "from grader.grading.selfcheck import released_folder\n"
        "print(json.dumps({'grader': grader.__file__, 'checks': str(released_folder('.'))}))"))
    nb.cells = kept
    return nb


def _seconds(cell) -> float:
    times = cell.metadata.get("execution", {})
    start, end = times.get("iopub.execute_input"), times.get("shell.execute_reply")
    return (datetime.fromisoformat(end.rstrip("Z")) - datetime.fromisoformat(start.rstrip("Z"))).total_seconds()


def _html(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs if o.output_type == "execute_result")


@pytest.fixture
def student_env():
    """A folder for the fresh environment, readable by a contained kernel: not under /tmp,
    which the sandbox replaces with a private one, and not private to root, as pytest's
    temporary folders are (a kernel of its own user could not read the environment)."""
    scratch = ROOT / "build"  # git-ignored
    scratch.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="student-env-", dir=scratch))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.kernel
def test_fresh_environment_installs_the_wheel_and_checks_a_notebook_anywhere(student_env, capsys):
    from nbclient import NotebookClient

    tmp_path = student_env
    released = tmp_path / "released"
    release(SOLUTIONS, released)
    wheel = next(released.glob(f"{DISTRIBUTION}-*.whl"))
    work = tmp_path / "student"  # the notebook, the wheel and the support modules: no checks/
    shutil.copytree(released, work, ignore=shutil.ignore_patterns("checks", "*.ipynb"))
    assert not (work / "checks").exists() and (work / wheel.name).exists()
    python = _fresh_environment(tmp_path)
    assert subprocess.run([str(python), "-c", "import grader"], cwd=tmp_path, capture_output=True).returncode, \
        "the fresh environment must not see the grader before the install"

    nb = _student_notebook(released)
    client = NotebookClient(nb, km=_kernel_manager(python, tmp_path), timeout=600,
                            resources={"metadata": {"path": str(work)}})
    client.execute()
    nbformat.write(nb, str(work / NOTEBOOK))

    install, checks = nb.cells[0], {c.get("id"): c for c in nb.cells}
    assert not [o for o in install.outputs if o.output_type == "error"], install.outputs
    where = json.loads(next(o.text for o in nb.cells[-1].outputs if o.output_type == "stream"))
    venv = str(tmp_path / "venv")
    assert where["grader"].startswith(venv) and where["checks"].startswith(venv), where

    catalog = Catalog(released)
    done_count = sum(1 for c in catalog.get(NOTEBOOK).checks_for(DONE))
    done_html = _html(checks[f"check-{DONE}"])
    assert f"{done_count} of {done_count} public checks pass" in done_html and "style=" in done_html
    wrong_html = _html(checks[f"check-{WRONG}"])
    assert "IndexError" in wrong_html and f"in {WRONG}, line" in wrong_html, "the student's own line that raised"

    terminal = subprocess.run([str(python.parent / "grader"), "check", NOTEBOOK, "--json", "--out", "reports"],
                              cwd=work, capture_output=True, text=True, env={**os.environ, **NO_REGISTRY})
    assert terminal.returncode == 1, terminal.stderr  # the he exercise still raises
    result = json.loads(terminal.stdout)
    statuses = {f["name"]: {c["status"] for c in f["checks"]} for f in result["functions"]}
    assert result["mode"] == "student" and statuses[DONE] == {"passed"} and statuses[WRONG] == {"error"}
    assert (work / "reports").is_dir()

    install_seconds, check_seconds = _seconds(install), _seconds(checks[f"check-{DONE}"])
    with capsys.disabled():
        print(f"\nstudent wheel {wheel.name}: {wheel.stat().st_size} bytes; in a fresh environment "
              f"%pip install took {install_seconds:.1f} s and the first check {check_seconds:.2f} s")
