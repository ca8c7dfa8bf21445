"""Names and writes on disk that every part of the grader shares."""
from __future__ import annotations

import re


def safe_file_name(name: str) -> str:
    """A single path component: no separators, no leading dots, never empty."""
    cleaned = re.sub(r"[^\w.-]+", "_", str(name)).strip("._-")
    return cleaned[:100] or "student"
