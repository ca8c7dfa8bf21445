"""Student code in reports: coloured, numbered, and always escaped."""
from grader.reports.highlight import highlight


def test_keywords_strings_and_comments_get_their_classes():
    html = highlight("def f(x):\n    return x + 'a'  # done", 1)
    assert '<span class="k">def</span>' in html
    assert '<span class="s">&#x27;a&#x27;</span>' in html
    assert '<span class="c"># done</span>' in html


def test_lines_are_numbered_from_the_region_start():
    html = highlight("a = 1\nb = 2", 41)
    assert '<span class="ln">41</span>' in html and '<span class="ln">42</span>' in html


def test_markup_in_code_is_escaped_even_when_it_does_not_tokenize():
    for code in ("x = '<script>alert(1)</script>'", "x = '<b>unclosed", "</pre><img src=x onerror=alert(1)>"):
        html = highlight(code)
        assert "<script>" not in html and "<img" not in html and "<b>" not in html
        assert html.count("<pre>") == 1 and html.count("</pre>") == 1
