"""The student's own notebook, rendered with nbconvert, each graded function's cell followed by
the grader's box (its checks, points and hints).

The notebook is untrusted: nbconvert's sanitiser cleans its HTML and Markdown, script outputs
are dropped before rendering (their plain-text form shows instead), and the page loads nothing
from outside. The grader's boxes are keyed by a metadata field we set on a fresh copy, after
removing any the notebook brought with it, so a notebook cannot smuggle in a box of its own.
"""
from __future__ import annotations

import re
from pathlib import Path

from grader.core.files import safe_file_name, write_text_atomic
from grader.notebook.reader import ReadError, snapshot
from grader.reports.render import _assignment
from grader.reports.view import TEMPLATES, environment

__all__ = ["AnnotatedRenderer", "annotated_name", "render_annotated_notebook", "write_annotated_notebook"]

NOTE_KEY = "nbautograde_note"
# What the student's Markdown and HTML outputs may keep: text structure, tables, images, links.
KEPT_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
             "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
             "tbody", "td", "th", "thead", "tr", "ul", "caption", "dl", "dt", "dd"}
KEPT_ATTRIBUTES = {"*": ["class", "id", "title"], "a": ["href"], "img": ["src", "alt", "width", "height"],
                   "td": ["colspan", "rowspan"], "th": ["colspan", "rowspan", "scope"]}
# What nbconvert's HTML export adds once a page is written: alternative text where an image has
# none, and keyboard focus on every cell's input and output.
NO_ALT = "No description has been provided for this image"
_IMAGE_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")
_FOCUSABLE = re.compile(r'(<div class="(?:[^"]*\s)?(?:jp-Cell-inputWrapper|jp-OutputArea-output)(?:\s[^"]*)?")')
SCRIPT_TYPES = ("application/javascript", "application/vnd.jupyter.widget-view+json",
                "application/vnd.jupyter.widget-state+json", "text/vnd.mermaid")


def annotated_name(stem: str) -> str:
    """The file name of a notebook's annotated page beside the student's report."""
    return f"{stem}.annotated.html"


class AnnotatedRenderer:
    """Renders annotated pages with one nbconvert exporter, kept for as many notebooks as its
    owner renders (a class run keeps one for the run).

    nbconvert compiles its templates when an exporter first renders, and that compiling was a
    fifth of the cost of every page; one exporter compiles them once. The exporter keeps no
    notebook's state between calls: the lexer and the resources are set anew for each.

    Most Markdown cells are the same in every student's notebook (the assignment's text), so
    the renderer remembers what the sanitiser made of each text it cleaned, up to a bound.
    """

    REMEMBERED = 5000  # cleaned texts kept; beyond that, each is cleaned anew

    def __init__(self) -> None:
        self._exporter = None
        self._cleaned: dict[str, str] = {}

    def render(self, notebook: Path, result: dict, *, report_href: str = "") -> str | None:
        """The annotated page, or None when the notebook cannot be read as a notebook, or is no
        longer the file that was graded (its SHA-256 differs from the result's): boxes beside
        other code than the one they judge would mislead."""
        read = snapshot(notebook)
        graded = (result.get("source") or {}).get("sha256")
        if graded and read.sha256 != graded:
            return None
        node = read.notebook()  # parsed as the grader parsed it (old formats, repaired ids, no warnings)
        if isinstance(node, ReadError):  # the report says why
            return None
        view = _assignment(result, 1)
        code_cells = [cell for cell in node.cells if cell.get("cell_type") == "code"]
        for cell in node.cells:
            cell.setdefault("metadata", {}).pop(NOTE_KEY, None)
            for output in cell.get("outputs", []):
                for kind in SCRIPT_TYPES:
                    output.get("data", {}).pop(kind, None)
        node.metadata.pop("widgets", None)
        env = environment()
        notes: dict[str, str] = {}
        missing: list = []
        for number, function in enumerate(view["functions"]):
            cell = _cell_of(function, result, code_cells)
            if cell is None:
                missing.append(function)
                continue
            key = f"f{number}"
            notes[key] = notes.get(cell.metadata.get(NOTE_KEY), "")  # two functions in one cell: both boxes
            notes[key] += env.get_template("_annotation.html.j2").render(f=function)
            cell.metadata.pop(NOTE_KEY, None)
            cell.metadata[NOTE_KEY] = key
        resources = {"grader": {
            "key": NOTE_KEY, "notes": notes,
            "css": env.get_template("_annotation.css.j2").render(),
            "header": env.get_template("_annotated_header.html.j2").render(
                a={**view, "missing": missing}, report_href=report_href),
        }}
        return self._export(node, resources)

    def _export(self, node, resources: dict) -> str:
        """nbconvert's HTML export without its last step, which parses the whole page again with
        BeautifulSoup only to add alternative text to images and make cells focusable: that
        pass was two thirds of every page's cost. The same two additions are made here on the
        page as the templates wrote it; a test holds the result to nbconvert's own."""
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        exporter = self._html_exporter()
        language = node.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name"))  # as HTMLExporter chooses it
        exporter.register_filter("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=exporter))
        exporter.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=node.metadata, parent=exporter, resources=resources))
        html, _ = TemplateExporter.from_notebook_node(exporter, node, resources=resources)
        html = _IMAGE_WITHOUT_ALT.sub(f'<img alt="{NO_ALT}"', html)
        return _FOCUSABLE.sub(r'\1 tabindex="0"', html)

    def _html_exporter(self):
        if self._exporter is None:
            from nbconvert import HTMLExporter

            self._exporter = HTMLExporter(template_name="annotated", extra_template_basedirs=[str(TEMPLATES)],
                                          sanitize_html=True)
            self._exporter.register_filter("grader_clean", self._clean)
        return self._exporter

    def _clean(self, html: str) -> str:
        text = str(html)
        cleaned = self._cleaned.get(text)
        if cleaned is None:
            cleaned = clean_html(text)
            if len(self._cleaned) < self.REMEMBERED:
                self._cleaned[text] = cleaned
        return cleaned


def render_annotated_notebook(notebook: Path, result: dict, *, report_href: str = "") -> str | None:
    """The annotated page of one notebook, or None when it cannot be read as a notebook
    (a caller rendering many keeps one ``AnnotatedRenderer`` instead)."""
    return AnnotatedRenderer().render(notebook, result, report_href=report_href)


def clean_html(html: str) -> str:
    """The student's HTML without scripts, styles, frames, forms or event handlers."""
    import bleach

    return bleach.clean(str(html), tags=KEPT_TAGS, attributes=KEPT_ATTRIBUTES,
                        protocols={"http", "https", "mailto", "data"}, strip=True, strip_comments=True)


def write_annotated_notebook(notebook: Path, result: dict, out_dir: Path, *, student: str, stem: str,
                             report_href: str = "report.html") -> Path | None:
    """Write ``<out_dir>/<student>/<stem>.annotated.html``; None when the notebook is unreadable."""
    html = render_annotated_notebook(notebook, result, report_href=report_href)
    if html is None:
        return None
    return write_text_atomic(Path(out_dir) / safe_file_name(student) / annotated_name(stem), html)


def _cell_of(function: dict, result: dict, code_cells: list):
    """The code cell holding a graded function: where its region was read, else its last definition."""
    definition = re.compile(rf"^\s*def\s+{re.escape(function['name'])}\s*\(", re.MULTILINE)
    raw = next((f for f in result.get("functions") or [] if isinstance(f, dict) and f.get("name") == function["name"]), {})
    for region in raw.get("regions") or []:
        found = re.match(r"code cell (\d+)", str((region or {}).get("where", "")))
        if found and 0 < int(found.group(1)) <= len(code_cells):
            cell = code_cells[int(found.group(1)) - 1]
            if definition.search(cell.get("source", "")):  # the result was read from this notebook
                return cell
    holding = [cell for cell in code_cells if definition.search(cell.get("source", ""))]
    return holding[-1] if holding else None
