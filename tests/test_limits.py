"""`--limit NAME=VALUE`: how limits are written on the command line (no kernel)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("text, expected", [
    ("cell_seconds=2.5", ("cell_seconds", 2.5)),
    ("memory_bytes=2G", ("memory_bytes", 2 * 2**30)),
    ("file-bytes=10M", ("file_bytes", 10 * 2**20)),
    ("network=yes", ("network", True)),
])
def test_limit_syntax(text, expected):
    from grader.kernel.containment import parse_limit

    assert parse_limit(text) == expected


@pytest.mark.parametrize("text", ["cell_seconds", "speed=3", "memory_bytes=lots", "processes=0", "network=maybe"])
def test_bad_limits_are_usage_errors(text, capsys):
    from grader.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["grade", "nowhere", "--limit", text])
    assert stop.value.code == 2
    assert "--limit" in capsys.readouterr().err
