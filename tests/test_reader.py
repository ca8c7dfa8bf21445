"""Reading a notebook from disk, or a one-line reason why not (grader/reader.py)."""
from __future__ import annotations

import json

import nbformat
import pytest

from grader.notebook.reader import ReadError, code_cells, read_notebook

FUNCTION = "def scale(x, factor):\n    return x * factor"


def write(tmp_path, data: bytes, name: str = "Tiny.ipynb"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def reason(path) -> str:
    with pytest.raises(ReadError) as info:
        read_notebook(path)
    text = str(info.value)
    assert "\n" not in text, "a ReadError reason is one line"
    assert text.strip() == text and text
    return text


def v4_notebook(**top) -> dict:
    nb = {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "id": "a1", "metadata": {}, "execution_count": None,
                   "outputs": [], "source": FUNCTION}],
    }
    nb.update(top)
    return nb


def test_a_valid_notebook_is_read(tmp_path):
    nb = read_notebook(write(tmp_path, json.dumps(v4_notebook()).encode()))
    assert code_cells(nb) == [FUNCTION]


def test_empty_file(tmp_path):
    assert reason(write(tmp_path, b"")) == "the file is empty"


def test_whitespace_only(tmp_path):
    assert "white space" in reason(write(tmp_path, b" \n\t\r\n  "))


def test_missing_file(tmp_path):
    assert reason(tmp_path / "nowhere.ipynb").startswith("cannot open the file")


def test_bad_json_gives_line_and_column(tmp_path):
    text = '{\n "cells": [\n   {,}\n ]\n}\n'
    message = reason(write(tmp_path, text.encode()))
    assert message.startswith("not valid JSON")
    assert "line 3, column 5" in message


def test_a_cut_string_reads_as_one_sentence(tmp_path):
    message = reason(write(tmp_path, b'{"cells": [{"source": "unfinished'))
    assert "Unterminated string starting at (line 1, column 23)" in message
    assert " at at " not in message


def test_truncated_download(tmp_path):
    text = json.dumps(v4_notebook(), indent=1)
    message = reason(write(tmp_path, text[: len(text) // 2].encode()))
    assert message.startswith("not valid JSON")
    assert "line" in message and "column" in message


def test_python_script_renamed_to_ipynb(tmp_path):
    script = "import numpy as np\n\n" + FUNCTION + "\n"
    assert "Python script" in reason(write(tmp_path, script.encode()))


def test_binary_junk(tmp_path):
    assert "binary" in reason(write(tmp_path, bytes(range(256)) * 8))


def test_non_utf8_text(tmp_path):
    message = reason(write(tmp_path, b"caf\xe9 au lait, not a notebook"))
    assert "UTF-8" in message
    assert "offset 3" in message


@pytest.mark.parametrize("payload", [b"[1, 2, 3]", b'{"name": "a dict"}', b'"just a string"', b"42"])
def test_json_that_is_not_a_notebook(tmp_path, payload):
    assert "not a notebook" in reason(write(tmp_path, payload))


def test_unsupported_format_version(tmp_path):
    message = reason(write(tmp_path, json.dumps(v4_notebook(nbformat=5)).encode()))
    assert "version 5" in message


def test_damaged_structure(tmp_path):
    nb = v4_notebook()
    nb["cells"][0]["source"] = 42
    assert "damaged" in reason(write(tmp_path, json.dumps(nb).encode()))


def test_cells_that_are_not_objects(tmp_path):
    nb = v4_notebook()
    nb["cells"].append("a stray string")
    assert "damaged" in reason(write(tmp_path, json.dumps(nb).encode()))


def test_nbformat3_notebook_is_upgraded(tmp_path):
    v3 = {
        "nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "Tiny"},
        "worksheets": [{
            "metadata": {},
            "cells": [
                {"cell_type": "heading", "level": 1, "metadata": {}, "source": "Tiny scaling"},
                {"cell_type": "code", "collapsed": False, "input": FUNCTION, "language": "python",
                 "metadata": {}, "outputs": [], "prompt_number": 1},
                {"cell_type": "markdown", "metadata": {}, "source": "Some text."},
            ],
        }],
    }
    nb = read_notebook(write(tmp_path, json.dumps(v3).encode()))
    assert nb.nbformat == 4
    assert code_cells(nb) == [FUNCTION]
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "markdown"]


def test_nbformat_4_0_without_cell_ids(tmp_path):
    nb = {"nbformat": 4, "nbformat_minor": 0, "metadata": {},
          "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": FUNCTION.splitlines(keepends=True)}]}
    read = read_notebook(write(tmp_path, json.dumps(nb).encode()))
    assert code_cells(read) == [FUNCTION]


def test_nbformat_4_0_without_any_metadata(tmp_path):
    nb = {"nbformat": 4, "nbformat_minor": 0,
          "cells": [{"cell_type": "code", "execution_count": None, "outputs": [], "source": FUNCTION}]}
    read = read_notebook(write(tmp_path, json.dumps(nb).encode()))
    assert code_cells(read) == [FUNCTION]


def test_crlf_file(tmp_path):
    text = json.dumps(v4_notebook(), indent=1).replace("\n", "\r\n")
    nb = read_notebook(write(tmp_path, text.encode()))
    assert code_cells(nb) == [FUNCTION]


def test_utf8_bom(tmp_path):
    nb = read_notebook(write(tmp_path, b"\xef\xbb\xbf" + json.dumps(v4_notebook()).encode()))
    assert code_cells(nb) == [FUNCTION]


def test_what_nbformat_writes_reads_back(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hi"), nbformat.v4.new_code_cell(FUNCTION)])
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, str(path))
    assert code_cells(read_notebook(path)) == [FUNCTION]


def test_size_limit(tmp_path):
    path = write(tmp_path, json.dumps(v4_notebook()).encode())
    with pytest.raises(ReadError) as info:
        read_notebook(path, max_bytes=10)
    assert "limit" in str(info.value)
