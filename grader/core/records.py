"""Who a result belongs to: the student records shared by intake, gradebook, exports and overview.

A ``Student`` is what the LMS (or a roster) knows about a person; ``key`` is the stable
identity every other stage uses (the LMS user id when there is one, else the name as
the files spell it). A ``ClassRecord`` pairs a student with their latest result per
assignment slug (result dicts as ``results.py`` writes them).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Student:
    key: str
    name: str = ""
    lms_id: str = ""
    sis_id: str = ""
    sis_login: str = ""
    section: str = ""
    email: str = ""
    username: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.key

    @property
    def sort_key(self) -> tuple[str, str]:
        """Students in every list: by name, ignoring case, then by key."""
        return self.display_name.casefold(), self.key


@dataclass
class ClassRecord:
    student: Student
    results: dict[str, dict] = field(default_factory=dict)  # assignment slug -> result dict

    @property
    def score(self) -> float:
        return sum(r.get("score", 0.0) for r in self.results.values())
