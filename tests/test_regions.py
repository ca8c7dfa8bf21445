"""Finding graded functions and the student's regions in text (grader/regions.py)."""
from __future__ import annotations

import pytest

from grader.notebook.regions import extract, is_untouched, normalise_source, placeholder_for


def regions_of(text: str, name: str = "f", expected: int | None = None):
    return extract(normalise_source(text), name, expected)


def bodies(text: str, name: str = "f", expected: int | None = None) -> list[str]:
    found = regions_of(text, name, expected)
    assert found.found, f"{name} was not found"
    assert found.error == "", found.error
    return [r.body for r in found.regions]


def function(markers: tuple[str, str], body: str = "y = x + 1", indent: str = "    ", marker_indent: str | None = None) -> str:
    start, end = markers
    mi = indent if marker_indent is None else marker_indent
    return (
        "def f(x):\n"
        f"{indent}\"\"\"Doc.\"\"\"\n"
        f"{mi}{start}\n"
        f"{indent}{body}\n"
        f"{mi}{end}\n"
        f"{indent}return y\n"
    )


COURSE = ("### START CODE HERE ### (≈ 2 lines of code)", "### END CODE HERE ###")
COURSE_NO_HINT = ("### START CODE HERE ###", "### END CODE HERE ###")
NEWER = ("# YOUR CODE STARTS HERE", "# YOUR CODE ENDS HERE")
DRIFTED = ("###start code here###", "###end code here###")
SHOUTED_SPACED = ("#   Start   Code   Here  (≈ 1 line)", "#END CODE HERE")
NEWER_LOWER = ("#your code starts here", "#   your code ends here")


@pytest.mark.parametrize(
    "markers", [COURSE, COURSE_NO_HINT, NEWER, DRIFTED, SHOUTED_SPACED, NEWER_LOWER],
    ids=["course-with-hint", "course-no-hint", "newer-style", "no-spaces-lowercase", "odd-spacing", "newer-lowercase"],
)
def test_both_marker_styles_and_drift_are_recognised(markers):
    assert bodies(function(markers, body="y = x * 2")) == ["y = x * 2"]


def test_markers_at_column_zero_inside_an_indented_body():
    text = function(COURSE, body="y = x * 2", marker_indent="")
    assert bodies(text) == ["y = x * 2"]


def test_tab_indented_function():
    text = "def f(x):\n\t### START CODE HERE ###\n\ty = x * 2\n\tz = y\n\t### END CODE HERE ###\n\treturn z\n"
    assert bodies(text) == ["y = x * 2\nz = y"]


def test_crlf_line_endings():
    text = function(COURSE, body="y = x * 2").replace("\n", "\r\n")
    assert bodies(text) == ["y = x * 2"]


def test_multi_line_body_keeps_its_relative_indentation():
    text = function(COURSE, body="for i in range(3):\n        x = x + i\n    y = x")
    assert bodies(text) == ["for i in range(3):\n    x = x + i\ny = x"]


def test_several_regions_are_numbered_in_order():
    text = (
        "def f(x):\n"
        "    ### START CODE HERE ###\n    a = 1\n    ### END CODE HERE ###\n"
        "    b = 2\n"
        "    # YOUR CODE STARTS HERE\n    c = 3\n    # YOUR CODE ENDS HERE\n"
        "    return a + b + c\n"
    )
    found = regions_of(text, expected=2)
    assert found.error == ""
    assert [(r.index, r.body) for r in found.regions] == [(1, "a = 1"), (2, "c = 3")]


def test_regions_belong_to_their_own_function_when_two_share_a_cell():
    text = function(COURSE, body="y = 'from f'") + "\n" + function(COURSE, body="y = 'from g'").replace("def f", "def g")
    assert bodies(text, "f") == ["y = 'from f'"]
    assert bodies(text, "g") == ["y = 'from g'"]


def test_function_split_over_two_cells_is_found_in_the_joined_text():
    first = "def f(x):\n    ### START CODE HERE ###\n    y = x * 2"
    second = "    ### END CODE HERE ###\n    return y"
    assert bodies(first + "\n" + second) == ["y = x * 2"]


def test_a_function_that_is_not_defined_is_not_found():
    found = regions_of("def g(x):\n    return x\n# f is mentioned in a comment: def f(x)\n", "f")
    assert not found.found
    assert found.regions == ()


def test_a_similar_name_is_not_the_graded_function():
    found = regions_of(function(COURSE).replace("def f(", "def f_helper("), "f")
    assert not found.found


def test_function_defined_twice_uses_the_last_definition():
    text = function(COURSE, body="y = 'first'") + "\n" + function(COURSE, body="y = 'second'")
    found = regions_of(text)
    assert [r.body for r in found.regions] == ["y = 'second'"]
    assert found.span.start > 0


def test_the_definition_that_keeps_its_markers_wins_over_a_later_one_without():
    text = function(COURSE, body="y = 'marked'") + "\ndef f(x):\n    return 'pasted'\n"
    found = regions_of(text, expected=1)
    assert [r.body for r in found.regions] == ["y = 'marked'"]
    assert found.graded == 0 and found.error == ""
    assert [d.state for d in found.definitions] == ["it keeps its START/END markers", "it has no START/END markers"]
    assert [d.where for d in found.ignored()] == ["line 8"]
    assert found.definitions[1].source == "def f(x):\n    return 'pasted'"


def test_a_later_definition_with_broken_markers_does_not_displace_a_marked_one():
    broken = function(COURSE, body="y = 'broken'").replace("    ### END CODE HERE ###\n", "")
    found = regions_of(function(COURSE, body="y = 'marked'") + "\n" + broken, expected=1)
    assert [r.body for r in found.regions] == ["y = 'marked'"]
    assert found.ignored()[0].state.startswith("its markers are broken: the region opened at line 10")


def test_with_no_marked_definition_the_last_one_is_chosen_with_its_problem():
    broken = function(COURSE, body="y = 'broken'").replace("    ### START CODE HERE ### (≈ 2 lines of code)\n", "")
    found = regions_of(broken + "\n" + broken, expected=1)
    assert found.graded == 1
    assert found.chosen is not None and not found.chosen.marked
    assert "has no START marker" in found.error


# --- region problems: the message names the place ---------------------------------------

def test_unclosed_region_says_where_it_opened():
    text = "def f(x):\n    ### START CODE HERE ###\n    y = 1\n    return y\n"
    found = regions_of(text)
    assert "never closed" in found.error
    assert "line 2" in found.error


def test_nested_regions_are_an_error_naming_both_places():
    text = (
        "def f(x):\n    ### START CODE HERE ###\n    y = 1\n"
        "    ### START CODE HERE ###\n    z = 2\n    ### END CODE HERE ###\n"
        "    ### END CODE HERE ###\n    return y\n"
    )
    found = regions_of(text)
    assert "line 2" in found.error and "line 4" in found.error
    assert "not closed" in found.error


def test_end_before_start_is_an_error():
    text = "def f(x):\n    ### END CODE HERE ###\n    y = 1\n    ### START CODE HERE ###\n    return y\n"
    found = regions_of(text)
    assert "END marker at line 2" in found.error
    assert "no START" in found.error


def test_duplicated_region_is_an_error_listing_every_copy():
    text = (
        "def f(x):\n"
        "    ### START CODE HERE ###\n    y = 1\n    ### END CODE HERE ###\n"
        "    ### START CODE HERE ###\n    y = 2\n    ### END CODE HERE ###\n"
        "    return y\n"
    )
    found = regions_of(text, expected=1)
    assert "found 2 marked regions" in found.error
    assert "line 2" in found.error and "line 5" in found.error
    assert "expected 1" in found.error


def test_the_error_uses_the_callers_description_of_places():
    text = "def f(x):\n    ### START CODE HERE ###\n    y = 1\n    return y\n"
    found = extract(normalise_source(text), "f", 1, describe=lambda i: f"cell 7, row {i + 10}")
    assert "cell 7, row 11" in found.error


def test_no_markers_at_all_is_not_an_error_here():
    found = regions_of("def f(x):\n    y = x * 2\n    return y\n", expected=1)
    assert found.found and found.regions == () and found.error == ""


def test_docstring_continued_at_column_zero_keeps_the_function_whole():
    text = (
        'def f(x):\n    """Scale x.\nA continuation line a student left at column 0.\n    """\n'
        "    ### START CODE HERE ###\n    y = x * 2\n    ### END CODE HERE ###\n    return y\n"
    )
    assert bodies(text, expected=1) == ["y = x * 2"]


# --- placeholders and untouched regions --------------------------------------------------

def test_placeholder_turns_assignments_into_none_and_keeps_comments():
    body = "# multiply, then shift\ny = x * factor\nprint(y)\nz += 1\nw: float = 2.0\nd['k'] = y\nfor i in range(2):\n    q = i\n"
    placeholder = placeholder_for(body)
    assert placeholder.split("\n") == [
        "# multiply, then shift", "y = None", "z = None", "w = None", "d['k'] = None",
    ]


def test_placeholder_of_tuple_and_chained_assignments():
    assert placeholder_for("a, b = 1, 2") == "a, b = None"
    assert placeholder_for("a = b = 3") == "a = b = None"


def test_placeholder_of_a_multi_line_statement_is_one_line():
    assert placeholder_for("y = compute(x,\n          factor)\n") == "y = None"


def test_placeholder_leaves_no_reference_expression():
    placeholder = placeholder_for("W1 = np.random.randn(3, 2) * np.sqrt(2 / 2)  # He scaling")
    assert "randn" not in placeholder and "sqrt" not in placeholder
    assert placeholder == "W1 = None"


@pytest.mark.parametrize("body", ["y = None", "", "pass", "   y   =   None   # still to do", "# a comment only\ny = None"])
def test_untouched_regions(body):
    assert is_untouched(body, "y = None")


@pytest.mark.parametrize("body", ["y = x * 2", "y = None\ny = x", "y = 0", "return x"])
def test_real_code_is_not_untouched(body):
    assert not is_untouched(body, "y = None")


def test_placeholder_with_an_apostrophe_in_its_comment_is_untouched():
    assert is_untouched("y = None  # don't know yet", "y = None")


# --- dedenting: statements set the cut, comments and continuations never do ---------------

def test_comments_indented_less_than_the_code_do_not_set_the_cut():
    text = (
        "def f(x):\n"
        "    for i in range(3):\n"
        "        ### START CODE HERE ###\n"
        "    # Step 1: at the function's depth\n"
        "        y = x + i\n"
        "# Step 2: at column 0\n"
        "        y = y * 2  # and a trailing comment\n"
        "        ### END CODE HERE ###\n"
        "    return y\n"
    )
    body = bodies(text, expected=1)[0]
    assert body.split("\n") == ["# Step 1: at the function's depth", "y = x + i", "# Step 2: at column 0",
                                "y = y * 2  # and a trailing comment"]
    compile(body, "<region>", "exec")


def test_a_continuation_line_further_left_does_not_set_the_cut():
    text = (
        "def f(x):\n"
        "    ### START CODE HERE ###\n"
        "    y = max(x,\n"
        "  0)\n"
        "    z = '''text\n"
        "kept as written'''\n"
        "    w = x + \\\n"
        " 1\n"
        "    ### END CODE HERE ###\n"
        "    return y\n"
    )
    body = bodies(text, expected=1)[0]
    assert body.split("\n") == ["y = max(x,", "0)", "z = '''text", "kept as written'''", "w = x + \\", "1"]
    compile(body, "<region>", "exec")


def test_a_function_continues_past_a_bracket_continued_at_column_0():
    text = ("def f(x):\n    y = max(x,\n0)\n"
            "    ### START CODE HERE ###\n    z = y\n    ### END CODE HERE ###\n    return z\n")
    assert bodies(text, expected=1) == ["z = y"]
