"""The student's own notebook, rendered with nbconvert, each graded function's cell followed by
the grader's box (its checks, points and hints).

The notebook is untrusted: nbconvert's sanitiser cleans its HTML and Markdown, script outputs
are dropped before rendering (their plain-text form shows instead), and the page loads nothing
from outside. The grader's boxes are keyed by a metadata field we set on a fresh copy, after
removing any the notebook brought with it, so a notebook cannot smuggle in a box of its own.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from html import escape as escape_html
from pathlib import Path

from grader.core.files import safe_file_name, write_text_atomic
from grader.notebook.reader import ReadError, snapshot
from grader.reports.render import _assignment
from grader.reports.view import TEMPLATES, environment

__all__ = ["AnnotatedRenderer", "CellMemory", "CodeColours", "annotated_name", "render_annotated_notebook",
           "write_annotated_notebook"]

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

    Most cells are the same in every student's notebook (the assignment's text, the provided
    code and what it printed), so the renderer remembers the HTML of each cell it has seen on
    two pages (``CellMemory``).
    """

    def __init__(self) -> None:
        self._exporter = None
        self._cells = CellMemory()
        self._colours: CodeColours | None = None
        self._page: tuple[object, str | None] | None = None  # the page being rendered: its resources, their digest

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
        view = _assignment(result, 1, with_code=False)  # the page shows the cells themselves
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
        pass was two thirds of every page's cost. The same two additions are made here, on each
        cell and on the page's head as the templates write them (``_finished``: the rest of the
        page is the grader's own markup and holds neither); a test holds the result to
        nbconvert's own."""
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        exporter = self._html_exporter()
        language = node.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name"))  # as HTMLExporter chooses it
        if self._colours is None:
            self._colours = CodeColours(exporter)
        exporter.register_filter("highlight_code", self._colours.for_page(lexer))
        exporter.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=node.metadata, parent=exporter, resources=resources))
        try:
            html, _ = TemplateExporter.from_notebook_node(exporter, node, resources=resources)
        finally:
            self._page = None
        return html

    def _html_exporter(self):
        if self._exporter is None:
            import jinja2
            from nbconvert import HTMLExporter

            # optimistic_validation: the notebook is validated once, after the preprocessors, not
            # after each of the dozen (most of them disabled); each validation cost 5 % of a page.
            self._exporter = HTMLExporter(template_name="annotated", extra_template_basedirs=[str(TEMPLATES)],
                                          sanitize_html=True, optimistic_validation=True)
            self._exporter.register_filter("grader_clean", clean_html)
            self._exporter.register_filter("grader_cell", jinja2.pass_context(
                lambda context, cell, parent: self._cell(context, cell, parent)))
            self._exporter.register_filter("grader_head", jinja2.pass_context(
                lambda context, node, parent: self._head(context, parent)))
        return self._exporter

    def _cell(self, context, cell, parent: Callable[[], str]) -> str:
        """One cell's HTML: ``parent`` renders it as the templates do; remembered when it recurs."""
        return self._remembered(self._cell_key(context, cell), parent)

    def _head(self, context, parent: Callable[[], str]) -> str:
        """The page's head (nbconvert's inlined style sheets, the grader's, the title): the same
        on every page of a class, so remembered like a cell, keyed by the page's resources and
        metadata and the grader's style sheet."""
        resources = context.get("resources")
        page = self._page_digest(resources, context.get("nb"))
        return self._remembered(None if page is None else _digest([page, "head", resources["grader"]["css"]]),
                                parent)

    def _remembered(self, key: bytes | None, parent: Callable[[], str]) -> str:
        def render() -> str:
            return _finished(str(parent()))
        return self._cells.html(key, render) if key is not None else render()

    def _cell_key(self, context, cell) -> bytes | None:
        """A digest of all that decides a cell's HTML: the cell as the templates see it (after
        nbconvert's preprocessors), the grader's box it carries, the notebook's metadata (its
        language picks the highlighter) and every resource of the page but the grader's own
        header and boxes. None when the cell must be rendered every time."""
        resources, node = context.get("resources"), context.get("nb")
        if any(kind in (output.get("data") or {}) for output in cell.get("outputs") or [] for kind in SCRIPT_TYPES):
            return None  # never here (dropped before rendering), and the templates give these a fresh id
        page = self._page_digest(resources, node)
        mark = (cell.get("metadata") or {}).get(NOTE_KEY)
        if page is None or not (mark is None or isinstance(mark, str)):
            return None
        try:
            return _digest([page, resources["grader"]["notes"].get(mark, "") if mark else "", cell])
        except (TypeError, ValueError):  # a value JSON cannot write: render it every time
            return None

    def _page_digest(self, resources, node) -> str | None:
        """The page's part of every cell key, computed once per page."""
        if self._page is None or self._page[0] is not resources:
            shared = {name: value for name, value in resources.items() if name != "grader"}
            try:
                digest = _digest([shared, resources["grader"]["key"], node.get("metadata")], default=_callable_name)
            except (TypeError, ValueError):
                self._page = (resources, None)
            else:
                self._page = (resources, digest.hex())
        return self._page[1]


def _digest(parts: list, default: Callable | None = None) -> bytes:
    """SHA-256 of ``parts`` written as JSON with sorted keys; TypeError or ValueError when JSON
    cannot write them."""
    text = json.dumps(parts, sort_keys=True, default=default)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _finished(html: str) -> str:
    """What nbconvert's last pass adds to a piece of the page: alternative text on images
    without one, keyboard focus on each cell's input and output."""
    html = _IMAGE_WITHOUT_ALT.sub(f'<img alt="{NO_ALT}"', html)
    return _FOCUSABLE.sub(r'\1 tabindex="0"', html)


class CodeColours:
    """nbconvert's ``highlight_code`` filter for the annotated page (pygments, as nbconvert's
    ``Highlight2HTML`` calls it), keeping one lexer and one formatter per language for the run:
    nbconvert makes both anew for every cell, a fifth of the cost of colouring it. Pygments'
    lexers and HTML formatters keep no state between calls."""

    def __init__(self, exporter) -> None:
        from nbconvert.filters.highlight import Highlight2HTML

        # nbconvert's configurable formatter options, read where nbconvert keeps them
        self._options = dict(Highlight2HTML(parent=exporter).extra_formatter_options)
        self._lexers: dict[str, object] = {}
        self._formatters: dict[str, object] = {}

    def for_page(self, lexer: str | None) -> Callable[..., str]:
        """The filter for one page, whose notebook names ``lexer`` (None: nbconvert's default)."""
        default = lexer or "ipython3"

        def highlight_code(source: str, language: str | None = None, metadata=None) -> str:
            return self.html(source, language or default, metadata)
        return highlight_code

    def html(self, source: str, language: str, metadata=None) -> str:
        from pygments import highlight

        lexed = language
        if language.startswith("ipython") and metadata and "magics_language" in metadata:
            lexed = metadata["magics_language"]  # a cell in another language through a cell magic
        return highlight(source if source else " ", self._lexer(lexed), self._formatter(language))

    def _formatter(self, language: str):
        formatter = self._formatters.get(language)
        if formatter is None:
            from pygments.formatters import HtmlFormatter

            formatter = HtmlFormatter(cssclass=escape_html(f" highlight hl-{language}"), **self._options)
            self._formatters[language] = formatter
        return formatter

    def _lexer(self, language: str):
        lexer = self._lexers.get(language)
        if lexer is None:
            lexer = self._lexers[language] = _new_lexer(language)
        return lexer


def _new_lexer(language: str):
    """The lexer nbconvert picks for a language name: IPython's own for ipython2 and ipython3
    (plain Python when IPython is missing), else pygments' by name, else plain text."""
    from pygments.lexers import get_lexer_by_name
    from pygments.lexers.special import TextLexer
    from pygments.util import ClassNotFound

    if language in ("ipython2", "ipython3"):
        try:
            from IPython.lib import lexers
        except ModuleNotFoundError:
            language = "python3" if language == "ipython3" else "python"
        else:
            return lexers.IPython3Lexer() if language == "ipython3" else lexers.IPythonLexer()
    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        return TextLexer()


class CellMemory:
    """Rendered cells, by the digest of everything that decides them, within a bound.

    A cell's HTML is kept the second time its key comes: the cells only one student has (the
    code they wrote, what it printed) cost the renderer a digest each, not their HTML."""

    KEPT_CHARACTERS = 32_000_000  # HTML kept at most; beyond that, new cells are rendered every time
    SEEN = 200_000  # keys seen once, remembered at most

    def __init__(self) -> None:
        self._html: dict[bytes, str] = {}
        self._seen: set[bytes] = set()
        self._kept = 0

    def html(self, key: bytes, render: Callable[[], str]) -> str:
        known = self._html.get(key)
        if known is not None:
            return known
        html = str(render())
        if key in self._seen:
            if self._kept + len(html) <= self.KEPT_CHARACTERS:
                self._html[key] = html
                self._kept += len(html)
        elif len(self._seen) < self.SEEN:
            self._seen.add(key)
        return html


def _callable_name(value) -> str:
    """How a page's resources name their helper functions in a cell key (the exporter's own,
    the same for every page of one renderer)."""
    if callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__name__)}"
    raise TypeError(f"not JSON: {type(value).__name__}")


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
