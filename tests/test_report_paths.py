"""Every student keeps their own files: names cut for the disk stay unique and stable (no kernel)."""
from __future__ import annotations

import json
import re
from urllib.parse import unquote

from grader.cli import main
from grader.core.files import safe_file_name

# Two students whose names agree on their first 120 characters (a long Moodle full name).
SHARED_PREFIX = "Maria Fernanda de los Santos Gutierrez-" * 3
TWINS = (SHARED_PREFIX + "Alvarez", SHARED_PREFIX + "Zamora")


def test_distinct_names_get_distinct_file_names():
    names = [*TWINS, "Jane Doe", "Jane_Doe", "jane doe", "ada", "Ada", "ADA", "x" * 200, "x" * 200 + "y",
             "index.html", "summary.json", "_submissions", "..", "", "notebook-0123456789"]
    cut = [safe_file_name(n) for n in names]
    assert len(set(c.casefold() for c in cut)) == len(names)  # unique even where case is ignored
    assert all(0 < len(c) <= 80 and "/" not in c and not c.startswith(".") for c in cut)
    assert cut == [safe_file_name(n) for n in names]  # the same on every call
    assert safe_file_name("101") == "101" and safe_file_name("ada") == "ada"  # plain names stay readable
    assert safe_file_name(TWINS[0]).startswith("Maria_Fernanda_de_los_Santos")


def test_students_with_a_long_shared_prefix_keep_their_own_reports(capsys, tiny_folder, tmp_path):
    for number, name in enumerate(TWINS, start=401):  # unreadable notebooks: graded without a kernel
        path = tmp_path / "download" / f"{name}_{number}_assignsubmission_file_" / "Tiny.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text("", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["grade", str(tmp_path / "download"), "--solutions", str(tiny_folder), "--out", str(out), "-q"]
    assert main(argv) == 0  # both unreadable: results with their reason
    capsys.readouterr()

    folders = {name: out / safe_file_name(name) for name in TWINS}
    assert folders[TWINS[0]] != folders[TWINS[1]]
    for name, folder in folders.items():
        results = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")]
        assert [r["student"] for r in results] == [name]
        assert name in (folder / "report.html").read_text(encoding="utf-8")

    page = (out / "index.html").read_text(encoding="utf-8")
    links = {unquote(href) for href in re.findall(r'href="([^"#]+/report\.html)"', page)}
    assert links == {f"{folder.name}/report.html" for folder in folders.values()}

    first = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and "_submissions" not in p.parts)
    assert main([*argv, "--force"]) == 0  # a second run writes to the same places
    capsys.readouterr()
    again = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and "_submissions" not in p.parts)
    assert again == first
