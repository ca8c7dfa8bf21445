"""An assignment's Python files belong to the catalog that loaded them.

Spec modules and the support files their builders come from are imported by the
catalog's own loader: nothing in ``sys.modules`` or ``sys.path`` changes, two catalogs
never share a module, and a support file's ``import`` of its neighbour is answered from
its own folder. No kernel runs here.
"""
from __future__ import annotations

import gc
import shutil
import sys
import weakref
from pathlib import Path

import pytest

from grader.checks.spec import load_module
from grader.grading.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny"


def _tiny_copy(folder: Path, factor: float, *, via_neighbour: bool = False) -> Path:
    """The tiny assignment in ``folder``, its public builder returning ``factor``."""
    folder.mkdir(parents=True)
    for name in ("Tiny.ipynb", "Tiny.checks.py"):
        shutil.copyfile(TINY / name, folder / name)
    if via_neighbour:  # the builder takes its numbers from a module beside it
        (folder / "tiny_numbers.py").write_text(f"FACTOR = {factor!r}\n", encoding="utf-8")
        (folder / "tiny_cases.py").write_text(
            "import numpy as np\nfrom tiny_numbers import FACTOR\n\n\n"
            "def scale_case():\n    return {'x': np.ones((2, 2)), 'factor': FACTOR}\n\n\n"
            "def later_case():\n    import tiny_numbers  # imported when called, long after loading\n"
            "    return {'x': np.ones((1, 1)), 'factor': tiny_numbers.FACTOR}\n",
            encoding="utf-8")
    else:
        (folder / "tiny_cases.py").write_text(
            "import numpy as np\n\n\n"
            f"def scale_case():\n    return {{'x': np.ones((2, 2)), 'factor': {factor!r}}}\n",
            encoding="utf-8")
    return folder


def _public_factor(catalog: Catalog, ref: str = "tiny_cases:scale_case") -> float:
    return catalog.get("tiny").resolve(ref)()["factor"]


def test_loading_leaves_sys_path_and_sys_modules_as_they_were(tmp_path):
    path_before, modules_before = list(sys.path), set(sys.modules)
    with Catalog(_tiny_copy(tmp_path / "a", 3.0, via_neighbour=True)) as catalog:
        assert _public_factor(catalog) == 3.0
    assert sys.path == path_before
    assert not {m for m in set(sys.modules) - modules_before if "tiny" in m or "graderload" in m}
    assert "tiny_numbers" not in sys.modules and "tiny_cases" not in sys.modules


def test_two_catalogs_of_one_folder_have_modules_of_their_own(tmp_path):
    folder = _tiny_copy(tmp_path / "a", 3.0)
    first, second = Catalog(folder), Catalog(folder)
    one = first.modules.load(folder / "tiny_cases.py")
    other = second.modules.load(folder / "tiny_cases.py")
    assert one is not other
    assert one is first.modules.load(folder / "tiny_cases.py")  # each file once per catalog
    one.scale_case = lambda: {"factor": -1.0}  # what one catalog's module does is its own
    assert _public_factor(first) == -1.0 and _public_factor(second) == 3.0


def test_two_folders_with_same_named_files_do_not_clash(tmp_path):
    a = Catalog(_tiny_copy(tmp_path / "a", 3.0, via_neighbour=True))
    b = Catalog(_tiny_copy(tmp_path / "b", 5.0, via_neighbour=True))
    assert (_public_factor(a), _public_factor(b)) == (3.0, 5.0)
    assert (_public_factor(a, "tiny_cases:later_case"), _public_factor(b, "tiny_cases:later_case")) == (3.0, 5.0)


def test_a_neighbour_is_the_module_the_builders_resolve_to():
    catalog = Catalog(ROOT / "solutions")
    spec = catalog.modules.load(ROOT / "solutions" / "Optimization_methods.checks.py")
    cases = catalog.modules.load(ROOT / "solutions" / "nn_test_cases.py")
    assert spec._cases is cases  # the spec's `import nn_test_cases as _cases`
    builder = catalog.get("optimization").resolve("nn_test_cases:gd_case")
    assert builder is cases.gd_case


def test_a_closed_catalog_lets_its_modules_go_and_says_so_when_used(tmp_path):
    catalog = Catalog(_tiny_copy(tmp_path / "a", 3.0))
    module = weakref.ref(catalog.modules.load(tmp_path / "a" / "tiny_cases.py"))
    catalog.close()
    gc.collect()
    assert module() is None
    with pytest.raises(RuntimeError, match="its catalog was closed"):
        _public_factor(catalog)


def test_load_module_gives_a_fresh_private_module_each_time(tmp_path):
    folder = _tiny_copy(tmp_path / "a", 3.0, via_neighbour=True)
    path_before = list(sys.path)
    first, second = load_module(folder / "tiny_cases.py"), load_module(folder / "tiny_cases.py")
    assert first is not second and first.scale_case()["factor"] == 3.0
    assert sys.path == path_before and first.__name__ not in sys.modules


def test_a_spec_that_fails_to_import_is_not_kept_half_made(tmp_path):
    folder = _tiny_copy(tmp_path / "a", 3.0)
    (folder / "tiny_cases.py").write_text("raise ValueError('broken on purpose')\n", encoding="utf-8")
    catalog = Catalog(folder)
    for _ in range(2):  # the second try runs the file again rather than returning a broken module
        with pytest.raises(ValueError, match="broken on purpose"):
            _public_factor(catalog)
