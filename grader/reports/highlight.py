"""Python source as coloured, escaped HTML for the reports, from the standard tokenizer.

A class report highlights a few thousand short regions; the tokenizer does that in a
fraction of the time a general-purpose highlighter takes, and a region that does not
tokenize (a student's syntax error) is shown as plain escaped text.
"""
from __future__ import annotations

import html
import io
import keyword
import token
import tokenize

CSS = """
.code pre { margin: 0; line-height: 1.35; }
.code .ln { color: #8a8a8a; padding-right: .8em; user-select: none; }
.code .k { color: #0b5fa5; font-weight: 600; }
.code .b { color: #6f42c1; }
.code .s { color: #a3491b; }
.code .m { color: #116329; }
.code .c { color: #6a737d; font-style: italic; }
.code .o { color: #555; }
"""

BUILTINS = frozenset(dir(__import__("builtins")))


def _css_class(kind: int, text: str) -> str:
    if kind == token.NAME:
        if keyword.iskeyword(text) or keyword.issoftkeyword(text):
            return "k"
        return "b" if text in BUILTINS else ""
    if kind == token.STRING:
        return "s"
    if kind == token.NUMBER:
        return "m"
    if kind == token.COMMENT:
        return "c"
    if kind == token.OP:
        return "o"
    return ""


def _marked_lines(code: str) -> list[str]:
    """Each line of ``code`` as escaped HTML with spans; plain escaped text if it does not tokenize."""
    lines = code.split("\n")
    marked = [html.escape(line) for line in lines]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return marked
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for tok in tokens:
        css = _css_class(tok.type, tok.string)
        if css and tok.start[0] == tok.end[0]:  # one-line tokens; a multi-line string stays plain
            spans.setdefault(tok.start[0] - 1, []).append((tok.start[1], tok.end[1], css))
    for number, found in spans.items():
        if number >= len(lines):
            continue
        line, pieces, at = lines[number], [], 0
        for start, end, css in found:
            pieces.append(html.escape(line[at:start]))
            pieces.append(f'<span class="{css}">{html.escape(line[start:end])}</span>')
            at = end
        pieces.append(html.escape(line[at:]))
        marked[number] = "".join(pieces)
    return marked


def highlight(code: str, first_line: int | None = None) -> str:
    """``<div class="code"><pre>…</pre></div>``, numbered from ``first_line`` when given."""
    lines = _marked_lines(code.rstrip("\n"))
    if first_line:
        width = len(str(first_line + len(lines) - 1))
        lines = [f'<span class="ln">{n:>{width}}</span>{text}' for n, text in enumerate(lines, first_line)]
    return '<div class="code"><pre>' + "\n".join(lines) + "</pre></div>"
