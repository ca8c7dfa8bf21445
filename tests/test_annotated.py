"""The student's own notebook, annotated: each graded function's cell followed by the grader's box.

The result is a stored fixture (tests/fixtures/results/partly_wrong.json, an Optimization result
with failing, erroring and passing checks) paired with the released-style scenario notebook
tests/submissions/opt_reference_code.ipynb; the hostile notebook is built here, cell by cell.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat

from grader.core.files import sha256_of
from grader.reports.annotated import (
    NOTE_KEY,
    AnnotatedRenderer,
    CellMemory,
    render_annotated_notebook,
    write_annotated_notebook,
)
from grader.reports.feedback import redact

HERE = Path(__file__).parent
NOTEBOOK = HERE / "submissions" / "opt_reference_code.ipynb"
SECRET = 987.654321  # an expected value of a hidden check: never in a page handed back


def result(notebook: Path = NOTEBOOK) -> dict:
    """The stored result, as if it had been graded from ``notebook`` (its path and SHA-256)."""
    loaded = json.loads((HERE / "fixtures" / "results" / "partly_wrong.json").read_text(encoding="utf-8"))
    loaded["source"] = {"path": str(notebook), "sha256": sha256_of(notebook)}
    shuffled = next(c for f in loaded["functions"] for c in f["checks"] if c["name"] == "mini_batches_shuffled_together")
    shuffled["hidden"] = True
    shuffled["details"][0]["expected"] = SECRET
    return loaded


def hostile_notebook(folder: Path) -> Path:
    """Scenario 'hostile_outputs': scripts in Markdown, HTML and JavaScript outputs, a forged grader
    box in metadata, and an honest stream output that must survive. Grade: as its regions say."""
    node = nbformat.read(str(NOTEBOOK), as_version=4)
    code = next(c for c in node.cells if c.cell_type == "code" and "def update_parameters_with_adam(" in c.source)
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="saved output kept\n"),
        nbformat.v4.new_output("display_data", data={
            "text/html": '<b>bold</b><script>console.error("html output script ran")</script>'
                         '<img src=x onerror="console.error(\'onerror ran\')">',
            "text/plain": "plain fallback"}),
        nbformat.v4.new_output("display_data", data={
            "application/javascript": 'console.error("javascript output ran")', "text/plain": "js fallback"}),
    ]
    code.metadata[NOTE_KEY] = "f0"  # points at a box of ours: must be dropped, not trusted
    node.cells.insert(0, nbformat.v4.new_markdown_cell(
        '# Title\n\n<script>console.error("markdown script ran")</script><a href="javascript:alert(1)">x</a>'))
    path = folder / "hostile_outputs.ipynb"
    nbformat.write(node, str(path))
    return path


def box_of(html: str, function: str) -> int:
    return html.index(f'aria-label="Grader\'s feedback on {function}"')


def test_each_graded_function_is_followed_by_its_box():
    graded = result()
    html = render_annotated_notebook(NOTEBOOK, graded)
    assert html is not None
    for function in graded["functions"]:
        name = function["name"]
        definition = html.index(f'<span class="nf">{name}</span>')
        box = box_of(html, name)
        assert definition < box, name
        assert f"{function['score']:g} / {function['max_score']:g}" in html[box:box + 600]
    hints = [c["hint"] for f in graded["functions"] for c in f["checks"] if c.get("hint")]
    assert hints and all(h.replace("'", "&#39;") in html or h in html for h in hints)


def test_the_box_is_marked_as_the_graders():
    html = render_annotated_notebook(NOTEBOOK, result())
    assert html.count('class="grader-note') == 1 + len(result()["functions"])  # the header, then one per function
    assert html.count("nbautograde · grader&#39;s feedback") + html.count("nbautograde · grader's feedback") >= 2


def test_no_script_from_the_notebook_reaches_the_page(tmp_path):
    hostile = hostile_notebook(tmp_path)
    html = render_annotated_notebook(hostile, result(hostile))
    assert html is not None
    lowered = html.lower()
    assert "<script" not in lowered
    assert "onerror=" not in lowered and "javascript:" not in lowered
    assert "saved output kept" in html and "js fallback" in html and "<b>bold</b>" in html
    # The forged metadata did not add a box: one per graded function, as without it.
    assert html.count("Grader's feedback on update_parameters_with_adam") == 1


def test_feedback_reveal_none_keeps_hidden_expected_values_out(tmp_path):
    full = render_annotated_notebook(NOTEBOOK, result())
    handed_back = render_annotated_notebook(NOTEBOOK, redact(result(), "none"))
    assert f"{SECRET:.6g}" in full  # the instructor's page shows it, so the search below can fail
    assert f"{SECRET:.6g}" not in handed_back and "mini_batches_shuffled_together" not in handed_back


def test_written_beside_the_report_and_unreadable_notebooks_give_none(tmp_path):
    path = write_annotated_notebook(NOTEBOOK, result(), tmp_path, student="bob", stem="Optimization_methods")
    assert path == tmp_path / "bob" / "Optimization_methods.annotated.html"
    assert 'href="report.html"' in path.read_text(encoding="utf-8")
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [', encoding="utf-8")
    assert write_annotated_notebook(broken, result(broken), tmp_path, student="bob", stem="broken") is None
    assert not (tmp_path / "bob" / "broken.annotated.html").exists()


def test_a_notebook_changed_since_it_was_graded_gets_no_page(tmp_path):
    """The boxes judge the code that was graded: beside other code they would mislead."""
    copy = tmp_path / "Optimization_methods.ipynb"
    copy.write_bytes(NOTEBOOK.read_bytes())
    graded = result(copy)
    assert render_annotated_notebook(copy, graded) is not None
    node = nbformat.read(str(copy), as_version=4)
    node.cells.append(nbformat.v4.new_code_cell("print('added after grading')"))
    nbformat.write(node, str(copy))
    assert render_annotated_notebook(copy, graded) is None


def test_the_page_is_what_nbconvert_s_whole_html_export_makes(tmp_path, monkeypatch):
    """The renderer skips the export's final BeautifulSoup pass and adds its alternative texts
    and focusable cells itself: read back as HTML, the page is the one nbconvert would make."""
    from bs4 import BeautifulSoup

    hostile = hostile_notebook(tmp_path)
    ours = [render_annotated_notebook(NOTEBOOK, result()), render_annotated_notebook(hostile, result(hostile))]
    monkeypatch.setattr(AnnotatedRenderer, "_export",
                        lambda self, node, resources: self._html_exporter().from_notebook_node(node, resources)[0])
    theirs = [render_annotated_notebook(NOTEBOOK, result()), render_annotated_notebook(hostile, result(hostile))]
    assert 'alt="No description has been provided for this image"' in ours[1]
    assert 'class="jp-Cell-inputWrapper" tabindex="0"' in ours[0]
    for mine, nbconvert_s in zip(ours, theirs):
        assert str(BeautifulSoup(mine, "html.parser")) == str(BeautifulSoup(nbconvert_s, "html.parser"))


def test_pages_from_one_renderer_are_those_of_a_fresh_one(tmp_path, monkeypatch):
    """A renderer remembers the cells it has seen on two pages; what it gives back must be the
    page a fresh renderer makes, whatever came before: another result for the same notebook
    (other boxes after the same cells), another notebook, the same page again, and a memory too
    small to keep every cell."""
    hostile = hostile_notebook(tmp_path)
    inputs = [(NOTEBOOK, result()), (NOTEBOOK, redact(result(), "none")), (hostile, result(hostile)),
              (NOTEBOOK, result()), (NOTEBOOK, redact(result(), "none")), (hostile, result(hostile))]
    fresh = [AnnotatedRenderer().render(path, graded) for path, graded in inputs]
    assert fresh[0] != fresh[1] and fresh[0] != fresh[2]  # the boxes differ, so a key without them would show
    assert [AnnotatedRenderer().render(path, graded) for path, graded in inputs] == fresh  # nothing random
    one = AnnotatedRenderer()
    assert [one.render(path, graded) for path, graded in inputs * 2] == fresh * 2
    monkeypatch.setattr(CellMemory, "KEPT_CHARACTERS", 2000)
    small = AnnotatedRenderer()
    assert [small.render(path, graded) for path, graded in inputs] == fresh
